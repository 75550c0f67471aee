import { backendConformance, peerHarness, type Harness } from '@netbe/conformance';
import { NetmapBackend, type NetmapBackendOptions } from '../src/index';
import { FakeNetmap, type FakeNetmapOptions } from '../src/testing/index';

// The conformance kit on the in-process double of netmap's kernel side. The same kit runs on a
// real /dev/netmap in kernel.test.ts.

let run = 0;
const ALL = { send: true, receive: true, vnetHeader: true, reopen: true } as const;

/** Two ports of a fresh VALE switch on a fresh double: the backend under test and its peer. */
function valePair(sw: string, fakeOptions: FakeNetmapOptions, options: NetmapBackendOptions = {}): () => Harness {
  return () => {
    const fake = new FakeNetmap({ ...fakeOptions, seed: run + 7 });
    const id = run++;
    return peerHarness(NetmapBackend.open(`${sw}:kit${id}a`, fake, options), NetmapBackend.open(`${sw}:kit${id}b`, fake));
  };
}

backendConformance({ name: 'netmap double: two VALE ports on one switch', supports: ALL, maxFrameLength: 9000, create: valePair('vale0', { slots: 256, bufSize: 2048 }) }).run();
backendConformance({
  name: 'netmap double: VALE ports, small buffers, a peer that returns slots out of turn',
  supports: ALL,
  maxFrameLength: 4000,
  create: valePair('valeX', { slots: 512, bufSize: 128, peer: 'out-of-turn' }),
}).run();
backendConformance({ name: 'netmap double: VALE ports with txsync=batch', supports: ALL, create: valePair('valeB', { slots: 256, bufSize: 2048 }, { txsync: 'batch' }) }).run();

backendConformance({
  name: 'netmap double: a NIC (netmap:eth0), ring pair 1 of 4',
  supports: { send: true, receive: true, vnetHeader: { notApplicable: 'a NIC port takes no virtio-net header (the device adapts)' }, reopen: true },
  create: () => {
    const fake = new FakeNetmap({ slots: 128, bufSize: 2048 });
    const nic = fake.addNic('eth0', 4);
    const backend = NetmapBackend.open('netmap:eth0-1', fake);
    return {
      backend,
      deliverToBackend: (frame: Uint8Array) => {
        if (!nic.inject(frame, 1)) throw new Error('the double NIC had no room');
      },
      collectFromBackend: () => nic.wire.splice(0).map((w) => w.bytes),
    };
  },
}).run();
