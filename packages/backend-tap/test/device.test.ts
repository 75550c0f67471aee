// @timeout 240
// The acceptance scenario with a guest behind the device: a GuestHost drives MockDriver rings of
// a real @netbe/virtio-net device whose backend is a tap moved into a namespace made here.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4 } from '@netbe/core';
import { hasCommand, hasDevice, isRoot, prerequisite, testWhen, withTimeout } from '@netbe/test-utils';
import { createNetns, pingArgv, uniqueIfname, type Netns } from '../../../tools/netns';
import '../src/index';
import type { TapBackend } from '../src/index';
import { BackendPort } from './backend-port';
import { DevicePort } from './device-port';
import { GuestHost, TcpConnection, ipv4, macBytes } from './guest-host';
import { exited, sha256, sourceByte, startSink, startSource } from './ns-peer';

const pre = prerequisite(
  [isRoot(), 'needs root (CAP_NET_ADMIN, namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
  [hasCommand('busybox'), 'needs busybox (ping)'],
);

const GUEST_MAC = '02:00:00:4e:42:d2';
let subnet = 10;

interface Rig {
  ns: Netns;
  backend: TapBackend;
  port: DevicePort;
  host: GuestHost;
  nsIp: string;
  guestIp: string;
  done(): Promise<void>;
}

async function rig(vnetHdr: boolean): Promise<Rig> {
  const ifname = uniqueIfname('nbdev');
  const net = subnet++;
  const nsIp = `10.84.${net}.1`;
  const guestIp = `10.84.${net}.2`;
  const backend = (await createBackend(`tap,ifname=${ifname},vnet_hdr=${vnetHdr ? 'on' : 'off'}`)) as TapBackend;
  const ns = createNetns('dev');
  ns.adopt(ifname);
  ns.configure(ifname, `${nsIp}/24`);
  const port = new DevicePort(backend, GUEST_MAC);
  const host = new GuestHost(macBytes(GUEST_MAC), ipv4(guestIp), port);
  port.host = host;
  return {
    ns, backend, port, host, nsIp, guestIp,
    async done() {
      port.close();
      await port.guest.device.reset();
      await backend.close();
      ns.destroy();
    },
  };
}

for (const vnetHdr of [false, true]) {
  testWhen(test, pre, `device, vnet_hdr=${vnetHdr ? 'on' : 'off'}: ARP answered, ICMP echo both ways`, async () => {
    const r = await rig(vnetHdr);
    try {
      assert.is(r.backend.vnetHdrLen, vnetHdr ? 12 : 0);
      const ping = r.ns.spawn(pingArgv(r.guestIp, 3, 5));
      assert.is(await withTimeout(20000, exited(ping), 'ping from the namespace'), 0);
      assert.ok(r.host.counters.arpRequestsAnswered >= 1);
      assert.ok(r.host.counters.echoRequestsAnswered >= 3);
      for (let seq = 1; seq <= 3; seq++) await r.host.ping(ipv4(r.nsIp), seq);
      assert.is(r.host.counters.checksumErrors, 0);
    } finally {
      await r.done();
    }
  });
}

const STREAM = 300_000;
const streamData = Uint8Array.from({ length: STREAM }, (_, i) => (i * 29 + (i >>> 9)) & 255);

for (const vnetHdr of [false, true]) {
  testWhen(test, pre, `device, vnet_hdr=${vnetHdr ? 'on: TSO frames from the guest' : 'off: MSS segments'}: TCP stream to a namespace socket`, async () => {
    const r = await rig(vnetHdr);
    try {
      if (vnetHdr) assert.ok(r.backend.negotiatedFeatures & VIRTIO_NET_F_HOST_TSO4, 'the guest negotiated HOST_TSO4');
      const sink = await startSink(r.ns, r.nsIp, 5001);
      const conn = await r.host.connect(ipv4(r.nsIp), 5001);
      const frames = await conn.write(streamData, vnetHdr ? { tso: true } : {});
      await conn.close();
      const report = JSON.parse(await withTimeout(10000, sink.next(), 'sink report')) as { bytes: number; sha256: string };
      assert.is(report.bytes, STREAM);
      assert.is(report.sha256, sha256(streamData));
      if (vnetHdr) assert.ok(frames < STREAM / 1460 / 4, `TSO sent ${frames} frames`);
      assert.is(r.host.counters.checksumErrors, 0);
      assert.is(r.backend.stats.txDrops, 0);
    } finally {
      await r.done();
    }
  });

  testWhen(test, pre, `device, vnet_hdr=${vnetHdr ? 'on: GUEST_TSO, large frames merged into RX buffers' : 'off'}: TCP stream from a namespace socket`, async () => {
    const r = await rig(vnetHdr);
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
      if (vnetHdr) {
        assert.ok(r.backend.negotiatedFeatures & VIRTIO_NET_F_GUEST_TSO4, 'the guest negotiated GUEST_TSO4');
        assert.ok(r.host.counters.gsoFramesIn > 0, 'no GSO frame reached the guest');
      } else {
        assert.ok(r.host.counters.largestFrameIn <= 1514);
      }
      assert.is(r.backend.stats.rxDrops, 0);
    } finally {
      await r.done();
    }
  });
}

testWhen(test, pre, 'device: a 64 KiB TSO frame from the guest leaves the namespace as correct MSS segments', async () => {
  const guestIf = uniqueIfname('nbdg');
  const sinkIf = uniqueIfname('nbds');
  const guestTap = (await createBackend(`tap,ifname=${guestIf}`)) as TapBackend;
  const sinkTap = (await createBackend(`tap,ifname=${sinkIf},vnet_hdr=off`)) as TapBackend;
  const ns = createNetns('dseg');
  const port = new DevicePort(guestTap, GUEST_MAC);
  try {
    ns.adopt(guestIf);
    ns.adopt(sinkIf);
    ns.configure(guestIf, '10.85.1.1/24');
    ns.configure(sinkIf, '10.85.2.1/24');
    ns.sysctl('net.ipv4.ip_forward', 1);
    ns.ip('neigh', 'add', '10.85.2.2', 'lladdr', '02:00:00:4e:42:99', 'dev', sinkIf, 'nud', 'permanent');
    const guest = new GuestHost(macBytes(GUEST_MAC), ipv4('10.85.1.2'), port);
    port.host = guest;
    sinkTap.setCap(0n, 0);
    const sinkPort = new BackendPort(sinkTap);
    const sink = new GuestHost(macBytes('02:00:00:4e:42:99'), ipv4('10.85.2.2'), sinkPort);
    sinkPort.host = sink;
    const segments: Uint8Array[] = [];
    sink.onFrame = (f) => {
      if (f[12] === 8 && f[13] === 0 && f[23] === 6) segments.push(f.slice());
    };
    sinkTap.rxEnable();
    const conn = new TcpConnection(guest, await guest.resolve(ipv4('10.85.1.1')), ipv4('10.85.2.2'), 7777, 40124);
    conn.assumePeerMss(1460);
    const payload = Uint8Array.from({ length: 65536 - 54 }, (_, i) => (i * 17 + 3) & 255);
    conn.sendSegment(0x18, payload, 'tso');
    const expected = Math.ceil(payload.length / 1460);
    await guest.waitFor(() => segments.length >= expected, 10000, `${expected} segments`);
    assert.is(segments.length, expected);
    const got = segments.map((s) => s.subarray(14 + 20 + 20, 14 + ((s[16]! << 8) | s[17]!)));
    assert.ok(got.every((g) => g.length <= 1460));
    const joined = new Uint8Array(got.reduce((n, g) => n + g.length, 0));
    let off = 0;
    for (const g of got) {
      joined.set(g, off);
      off += g.length;
    }
    assert.equal(joined, payload);
    assert.is(sink.counters.checksumErrors, 0);
    assert.ok(sink.counters.checksumsVerified >= 2 * expected);
  } finally {
    port.close();
    await guestTap.close();
    await sinkTap.close();
    ns.destroy();
  }
});

test.run();
