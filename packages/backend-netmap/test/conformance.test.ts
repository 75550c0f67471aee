import { backendConformance, peerHarness } from '@netbe/conformance';
import { NetmapBackend } from '../src/index';
import { FakeNetmap } from '../src/testing/index';

// The conformance kit on the in-process double of netmap's kernel side. The same kit runs on a
// real /dev/netmap in kernel.test.ts.

let run = 0;

backendConformance({
  name: 'netmap double: two VALE ports on one switch',
  supports: { send: true, receive: true, vnetHeader: true, reopen: true },
  maxFrameLength: 9000,
  create: () => {
    const fake = new FakeNetmap({ slots: 256, bufSize: 2048 });
    const id = run++;
    return peerHarness(NetmapBackend.open(`vale0:kit${id}a`, fake), NetmapBackend.open(`vale0:kit${id}b`, fake));
  },
}).run();

backendConformance({
  name: 'netmap double: VALE ports, small buffers, a peer that returns slots out of turn',
  supports: { send: true, receive: true, vnetHeader: true, reopen: true },
  maxFrameLength: 4000,
  create: () => {
    const fake = new FakeNetmap({ slots: 512, bufSize: 128, peer: 'out-of-turn', seed: run + 7 });
    const id = run++;
    return peerHarness(NetmapBackend.open(`valeX:kit${id}a`, fake), NetmapBackend.open(`valeX:kit${id}b`, fake));
  },
}).run();

backendConformance({
  name: 'netmap double: VALE ports with txsync=batch',
  supports: { send: true, receive: true, vnetHeader: true, reopen: true },
  create: () => {
    const fake = new FakeNetmap({ slots: 256, bufSize: 2048 });
    const id = run++;
    return peerHarness(NetmapBackend.open(`valeB:kit${id}a`, fake, { txsync: 'batch' }), NetmapBackend.open(`valeB:kit${id}b`, fake));
  },
}).run();

backendConformance({
  name: 'netmap double: a NIC (netmap:eth0), ring pair 1 of 4',
  supports: { send: true, receive: true, vnetHeader: { notApplicable: 'a NIC port takes no virtio-net header (the device adapts)' }, reopen: true },
  create: () => {
    const fake = new FakeNetmap({ slots: 128, bufSize: 2048 });
    const nic = fake.addNic('eth0', 4);
    const backend = NetmapBackend.open('netmap:eth0-1', fake);
    let seen = 0;
    return {
      backend,
      deliverToBackend: (frame: Uint8Array) => {
        if (!nic.inject(frame, 1)) throw new Error('the double NIC had no room');
      },
      collectFromBackend: () => nic.wire.splice(seen).map((w) => w.bytes),
    };
  },
}).run();
