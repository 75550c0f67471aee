// @timeout 120
// A 64 KiB TSO frame from the guest is segmented by the kernel, not by us: the namespace routes
// it out of a second tap that has no offloads, so the kernel must cut it into MSS-sized segments
// with full checksums; the test reads those segments back and checks every one.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, VIRTIO_NET_F_CSUM, VIRTIO_NET_F_HOST_TSO4, VNET_HDR_LEN } from '@netbe/core';
import { hasCommand, hasDevice, isRoot, prerequisite, testWhen } from '@netbe/test-utils';
import { createNetns, uniqueIfname } from '../../../tools/netns';
import '../src/index'; // registers the tap prefix
import type { TapBackend } from '../src/index';
import { BackendPort } from './backend-port';
import { GuestHost, TcpConnection, ipv4, macBytes } from './guest-host';

const pre = prerequisite(
  [isRoot(), 'needs root (CAP_NET_ADMIN, namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
);

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

testWhen(test, pre, 'a 64 KiB TSO frame leaves the namespace as correct MSS-sized segments', async () => {
  const guestIf = uniqueIfname('nbtg');
  const sinkIf = uniqueIfname('nbts');
  const guestTap = (await createBackend(`tap,ifname=${guestIf},vnet_hdr=on`)) as TapBackend;
  const sinkTap = (await createBackend(`tap,ifname=${sinkIf},vnet_hdr=off`)) as TapBackend;
  const ns = createNetns('seg');
  try {
    ns.adopt(guestIf);
    ns.adopt(sinkIf);
    ns.configure(guestIf, '10.78.1.1/24');
    ns.configure(sinkIf, '10.78.2.1/24');
    ns.sysctl('net.ipv4.ip_forward', 1);
    const sinkMac = '02:00:00:4e:42:99';
    ns.ip('neigh', 'add', '10.78.2.2', 'lladdr', sinkMac, 'dev', sinkIf, 'nud', 'permanent');

    guestTap.setCap(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4, VNET_HDR_LEN);
    sinkTap.setCap(0n, 0);
    const guestPort = new BackendPort(guestTap);
    const guest = new GuestHost(macBytes('02:00:00:4e:42:02'), ipv4('10.78.1.2'), guestPort);
    guestPort.host = guest;
    const sinkPort = new BackendPort(sinkTap);
    const sink = new GuestHost(macBytes(sinkMac), ipv4('10.78.2.2'), sinkPort);
    sinkPort.host = sink;
    const segments: Uint8Array[] = [];
    sink.onFrame = (frame) => {
      if (get16(frame, 12) === 0x0800 && frame[14 + 9] === 6) segments.push(frame.slice());
    };
    guestTap.rxEnable();
    sinkTap.rxEnable();

    const gatewayMac = await guest.resolve(ipv4('10.78.1.1'));
    const conn = new TcpConnection(guest, gatewayMac, ipv4('10.78.2.2'), 7777, 40123);
    conn.assumePeerMss(1460);
    const payload = Uint8Array.from({ length: 65536 - 54 }, (_, i) => (i * 31 + 7) & 255);
    const seq0 = 0x10000000;
    (conn as unknown as { sndNxt: number }).sndNxt = seq0;
    const { txFrames, txBytes } = guestTap.stats;
    conn.sendSegment(0x18, payload, 'tso'); // ACK|PSH, one frame of 65536 bytes
    assert.is(guestTap.stats.txFrames, txFrames + 1);
    assert.is(guestTap.stats.txBytes, txBytes + 12 + 65536);

    const expected = Math.ceil(payload.length / 1460);
    await guest.waitFor(() => segments.length >= expected, 10000, `${expected} segments`);
    assert.is(segments.length, expected);
    const rebuilt = new Uint8Array(payload.length);
    let nextSeq = seq0;
    for (const seg of segments) {
      assert.ok(seg.length <= 1514, `segment of ${seg.length} bytes`);
      const l4 = 14 + (seg[14]! & 15) * 4;
      const seq = get32(seg, l4 + 4);
      const data = seg.subarray(l4 + (seg[l4 + 12]! >>> 4) * 4, 14 + get16(seg, 16));
      assert.ok(data.length <= 1460);
      assert.is(seq, nextSeq);
      rebuilt.set(data, seq - seq0);
      nextSeq = (seq + data.length) >>> 0;
    }
    assert.is(nextSeq - seq0, payload.length);
    assert.equal(rebuilt, payload);
    // The sink host verified each segment's IPv4 and TCP checksum in full.
    assert.is(sink.counters.checksumErrors, 0);
    assert.ok(sink.counters.checksumsVerified >= 2 * expected);
    assert.is(guestTap.stats.txDrops, 0);
  } finally {
    await guestTap.close();
    await sinkTap.close();
    ns.destroy();
  }
});

test.run();
