// @timeout 240
// The tap backend against a real kernel: the tap moves into a namespace made here, the guest is
// a small IPv4 host in this process talking through the NetBackend contract.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createBackend,
  NET_OFFLOAD_FEATURES,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_HOST_TSO4,
  VNET_HDR_LEN,
} from '@netbe/core';
import { hasCommand, hasDevice, isRoot, prerequisite, testWhen, withTimeout } from '@netbe/test-utils';
import { createNetns, pingArgv, uniqueIfname, type Netns } from '../../../tools/netns';
import { TapBackend } from '../src/index';
import { BackendPort } from './backend-port';
import { GuestHost, ipv4, macBytes } from './guest-host';
import { exited, sha256, sourceByte, startSink, startSource } from './ns-peer';

const pre = prerequisite(
  [isRoot(), 'needs root (CAP_NET_ADMIN, namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
  [hasCommand('busybox'), 'needs busybox (ping)'],
);

let subnet = 10;

interface Rig {
  ns: Netns;
  backend: TapBackend;
  port: BackendPort;
  host: GuestHost;
  nsIp: string;
  guestIp: string;
  done(): Promise<void>;
}

async function rig(vnetHdr: boolean, features: bigint, usePeek = false): Promise<Rig> {
  const ifname = uniqueIfname('nbtap');
  const net = subnet++;
  const nsIp = `10.77.${net}.1`;
  const guestIp = `10.77.${net}.2`;
  const backend = (await createBackend(`tap,ifname=${ifname},vnet_hdr=${vnetHdr ? 'on' : 'off'}`)) as TapBackend;
  const ns = createNetns('tap');
  try {
    ns.adopt(ifname);
    ns.configure(ifname, `${nsIp}/24`);
    backend.setCap(features, vnetHdr ? VNET_HDR_LEN : 0);
    const port = new BackendPort(backend, usePeek);
    const host = new GuestHost(macBytes('02:00:00:4e:42:02'), ipv4(guestIp), port);
    port.host = host;
    backend.rxEnable();
    return {
      ns, backend, port, host, nsIp, guestIp,
      async done() {
        await backend.close();
        ns.destroy();
      },
    };
  } catch (e) {
    await backend.close();
    ns.destroy();
    throw e;
  }
}

for (const vnetHdr of [false, true]) {
  const mode = vnetHdr ? 'vnet_hdr=on' : 'vnet_hdr=off';

  testWhen(test, pre, `${mode}: the namespace pings the guest (ARP answered) and the guest pings the namespace`, async () => {
    const r = await rig(vnetHdr, 0n, vnetHdr);
    try {
      const ping = r.ns.spawn(pingArgv(r.guestIp, 3, 5));
      assert.is(await withTimeout(20000, exited(ping), 'ping from the namespace'), 0);
      assert.ok(r.host.counters.arpRequestsAnswered >= 1);
      assert.ok(r.host.counters.echoRequestsAnswered >= 3);
      for (let seq = 1; seq <= 3; seq++) await r.host.ping(ipv4(r.nsIp), seq);
      assert.is(r.host.counters.checksumErrors, 0);
      assert.ok(r.host.counters.checksumsVerified > 6);
      assert.is(r.backend.stats.txDrops, 0);
      assert.is(r.backend.stats.rxDrops, 0);
      assert.ok(r.backend.stats.rxFrames >= 5 && r.backend.stats.txFrames >= 5);
    } finally {
      await r.done();
    }
  });
}

const STREAM = 300_000;
const streamData = Uint8Array.from({ length: STREAM }, (_, i) => (i * 13 + (i >>> 8)) & 255);

const guestToNs: Array<[string, boolean, bigint, { tso?: boolean; csumOffload?: boolean }]> = [
  ['vnet_hdr=off, full checksums', false, 0n, {}],
  ['vnet_hdr=on, checksum offload (partial checksums finished by the kernel)', true, VIRTIO_NET_F_CSUM, { csumOffload: true }],
  ['vnet_hdr=on, TSO (one frame per window, segmented by the kernel)', true, VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4, { tso: true }],
];

for (const [label, vnetHdr, features, mode] of guestToNs) {
  testWhen(test, pre, `TCP guest → namespace socket, ${label}`, async () => {
    const r = await rig(vnetHdr, features);
    try {
      const sink = await startSink(r.ns, r.nsIp, 5001);
      const conn = await r.host.connect(ipv4(r.nsIp), 5001);
      const frames = await conn.write(streamData, mode);
      await conn.close();
      const report = JSON.parse(await withTimeout(10000, sink.next(), 'sink report')) as { bytes: number; sha256: string };
      assert.is(report.bytes, STREAM);
      assert.is(report.sha256, sha256(streamData));
      if (mode.tso) assert.ok(frames < STREAM / 1460 / 4, `TSO sent ${frames} frames`);
      assert.is(r.host.counters.checksumErrors, 0);
      assert.is(r.backend.stats.txDrops, 0);
    } finally {
      await r.done();
    }
  });
}

const nsToGuest: Array<[string, boolean, bigint]> = [
  ['vnet_hdr=off (the kernel segments and checksums)', false, 0n],
  ['vnet_hdr=on, no guest offloads', true, 0n],
  ['vnet_hdr=on, GUEST_CSUM + GUEST_TSO4 (large frames reach the guest unsegmented)', true, VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_GUEST_TSO4],
];

for (const [label, vnetHdr, features] of nsToGuest) {
  testWhen(test, pre, `TCP namespace → guest, ${label}`, async () => {
    const r = await rig(vnetHdr, features, true);
    try {
      const total = 400_000;
      const source = await startSource(r.ns, r.nsIp, 5002, total);
      const conn = await r.host.connect(ipv4(r.nsIp), 5002);
      await conn.waitEnd(30000);
      await conn.close();
      assert.is(await withTimeout(10000, exited(source.child), 'source exit'), 0);
      assert.is(conn.receivedBytes, total);
      let i = 0;
      for (const chunk of conn.received) for (const b of chunk) assert.is(b, sourceByte(i++));
      assert.is(r.host.counters.checksumErrors, 0);
      if (features & VIRTIO_NET_F_GUEST_TSO4) assert.ok(r.host.counters.gsoFramesIn > 0, 'no GSO frame reached the guest');
      else assert.ok(r.host.counters.largestFrameIn <= 1514, `frame of ${r.host.counters.largestFrameIn} bytes without GUEST_TSO`);
      assert.is(r.backend.stats.rxDrops, 0);
    } finally {
      await r.done();
    }
  });
}

testWhen(test, pre, 'all offloads negotiated: setCap accepts every cap, rejects lengths and bits it cannot do', async () => {
  const r = await rig(true, 0n);
  try {
    r.backend.setCap(r.backend.getCap(), 12);
    r.backend.setCap(r.backend.getCap(), 10);
    assert.is(r.backend.vnetHdrLen, 10);
    assert.throws(() => r.backend.setCap(0n, 8), /header length 8/);
    assert.throws(() => r.backend.setCap(NET_OFFLOAD_FEATURES | (1n << 22n), 12), /outside getCap/);
    assert.throws(() => r.backend.setCap(VIRTIO_NET_F_CSUM, 0), /need a virtio-net header/);
    r.backend.setCap(0n, 0); // no header for the device: the backend hides the kernel's
    assert.is(r.backend.vnetHdrLen, 0);
    for (let seq = 1; seq <= 2; seq++) await r.host.ping(ipv4(r.nsIp), seq);
  } finally {
    await r.done();
  }
});

test.run();
