// @timeout 120
/**
 * GsoCoalescer: back-to-back segments of one flow become one GSO_TCPV4 frame with NEEDS_CSUM that
 * a guest (here: our own segmentation, as the virtio spec describes it) turns back into exactly
 * the segments' bytes; anything else (other flows, gaps, FIN/SYN/RST, options changing) is left
 * alone. Then through the backend: MTU 1500, a GUEST_TSO4 guest gets 200 KB from a host socket
 * in GSO frames.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, decodeVnetHeader, emptyVnetHeader, type VnetHeader,
} from '@netbe/core';
import { EthernetFrame, Ipv4Packet, TCP_ACK, TCP_FIN, TCP_PSH, TCP_SYN, TcpPacket, checksumAdd, foldChecksum } from '@netbe/wire';
import { waitFor } from '@netbe/test-utils';
import { GsoCoalescer } from '../src/gso-coalescer';
import { SlirpBackend, SLIRP_CAPS } from '../src/backend';
import { GATEWAY, GUEST, tcpFrame } from './helpers/guest';
import { HostServer } from './helpers/host-server';

const seg = (seq: number, payload: Uint8Array, flags = TCP_ACK, srcPort = 80, ack = 7): Uint8Array =>
  tcpFrame(GATEWAY, GUEST, { srcPort, dstPort: 40000, seq, ack, flags, window: 500 }, payload);

function queue(frames: Uint8Array[]): { peek: () => Uint8Array | undefined; take: () => Uint8Array | undefined; left: () => number } {
  let i = 0;
  return { peek: () => frames[i], take: () => frames[i++], left: () => frames.length - i };
}

/** What a guest does with a NEEDS_CSUM frame: sum from csum_start, store at csum_start + csum_offset. */
function completeChecksum(frame: Uint8Array, hdr: VnetHeader): void {
  const at = hdr.csumStart + hdr.csumOffset;
  const sum = foldChecksum(checksumAdd(frame, hdr.csumStart, frame.length));
  frame[at] = sum >>> 8;
  frame[at + 1] = sum & 0xff;
}

test('segments of a payload, cut at any MSS, merge back into one valid GSO frame holding exactly that payload', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20_000 }), fc.integer({ min: 100, max: 1460 }), fc.integer({ min: 0, max: 0xffffffff }), (lenRaw, mss, seq0) => {
      const len = 1 + ((lenRaw - 1) % (mss * 128)); // at most 128 segments (the coalescer's limit)
      const payload = new Uint8Array(len).map((_, i) => (i * 31 + 7) & 0xff);
      const frames: Uint8Array[] = [];
      for (let at = 0; at < len; at += mss) frames.push(seg((seq0 + at) >>> 0, payload.subarray(at, Math.min(len, at + mss)), at + mss >= len ? TCP_ACK | TCP_PSH : TCP_ACK));
      const q = queue(frames);
      const c = new GsoCoalescer();
      const expected = 14 + 20 + 20 + len;
      assert.is(c.extend(q.peek, q.take), frames.length === 1 ? frames[0]!.length : expected);
      assert.is(q.left(), 0);
      const out = new Uint8Array(70_000);
      const hdr = emptyVnetHeader();
      const { frame, single } = c.emit(out, hdr);
      assert.is(single, frames.length === 1);
      const f = frame.slice();
      if (!single) {
        assert.equal([hdr.flags, hdr.gsoType, hdr.gsoSize, hdr.hdrLen, hdr.csumStart, hdr.csumOffset], [VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, mss, 54, 34, 16]);
        completeChecksum(f, hdr);
      }
      const ip = Ipv4Packet.wrap(EthernetFrame.wrap(f).payload);
      assert.ok(ip.checksumValid);
      const tcp = TcpPacket.wrap(ip.payload);
      assert.ok(tcp.checksumValid(ip.src, ip.dst), 'checksum valid once completed');
      assert.is(tcp.seq, seq0 >>> 0);
      assert.is(tcp.flags, TCP_ACK | TCP_PSH);
      assert.equal(tcp.payload, payload);
      assert.is(c.held, 0);
    }),
    { numRuns: 150 },
  );
});

test('merging stops at a gap, another flow, FIN/SYN, a longer segment, and 64 KiB of IP', () => {
  const p = new Uint8Array(1000).fill(1);
  const out = new Uint8Array(70_000);
  const hdr = emptyVnetHeader();
  const cases: Array<[string, Uint8Array[], number]> = [
    ['gap in sequence', [seg(0, p), seg(1000, p), seg(3000, p)], 2],
    ['other flow', [seg(0, p), seg(1000, p, TCP_ACK, 81)], 1],
    ['FIN', [seg(0, p), seg(1000, p, TCP_ACK | TCP_FIN)], 1],
    ['SYN first', [seg(0, p, TCP_SYN | TCP_ACK), seg(1000, p)], 0],
    ['short then more', [seg(0, p), seg(1000, p.subarray(0, 10)), seg(1010, p)], 2],
    ['longer than the first', [seg(0, p.subarray(0, 500)), seg(500, p)], 1],
    ['pure ACK', [seg(0, new Uint8Array(0))], 0],
  ];
  for (const [what, frames, held] of cases) {
    const q = queue(frames);
    const c = new GsoCoalescer();
    c.extend(q.peek, q.take);
    assert.is(c.held, held, what);
    assert.is(q.left(), frames.length - held, what);
    c.emit(out, hdr);
  }
  // 64 KiB of IP: 1460-byte segments stop at 44 (20 + 20 + 44 * 1460 = 64280; one more exceeds 65535).
  const big = new Uint8Array(1460);
  const frames = Array.from({ length: 60 }, (_, i) => seg(i * 1460, big));
  const q = queue(frames);
  const c = new GsoCoalescer();
  assert.is(c.extend(q.peek, q.take), 14 + 40 + 44 * 1460);
  assert.is(c.held, 44);
  assert.is(c.emit(out, hdr).frame.length, 14 + 40 + 44 * 1460);
  assert.is(c.extend(q.peek, q.take), 14 + 40 + 16 * 1460, 'the rest forms the next frame');
  assert.is(c.clear(), 16);
});

test('hostile or odd frames in the queue never throw and pass through untouched', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 8 }), (frames) => {
      const q = queue(frames);
      const c = new GsoCoalescer();
      c.extend(q.peek, q.take);
      assert.ok(c.held <= 1 || frames.length > 1);
      c.emit(new Uint8Array(70_000), emptyVnetHeader());
    }),
    { numRuns: 300 },
  );
});

const host = new HostServer();
const sockets = host.sockets;
test.after.each(() => host.close());

test('MTU 1500, GUEST_TSO4: 200 KB from a host socket reach the guest as GSO frames built by the TCP sender, every byte in order', async () => {
  const port = await host.listen();
  const be = (host.backend = await SlirpBackend.create('slirp,loopback=on,icmp=off,resolver=127.0.0.1'));
  be.setCap(SLIRP_CAPS, 12);
  const data: Uint8Array[] = [];
  let gsoFrames = 0;
  let nextSeq = -1;
  let synAck: TcpPacket | undefined;
  const buf = new Uint8Array(70_000);
  be.attach({
    rxReady: () => {
      for (let n = be.recv([buf], 1); n > 0; n = be.recv([buf], 1)) {
        const hdr = emptyVnetHeader();
        decodeVnetHeader(buf, 0, 12, hdr);
        const f = buf.slice(12, n);
        if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) completeChecksum(f, hdr);
        else assert.is(hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
        const eth = EthernetFrame.wrap(f);
        if (eth.ethertype !== 0x0800) continue;
        const ip = Ipv4Packet.wrap(eth.payload);
        const tcp = TcpPacket.wrap(ip.payload);
        assert.ok(tcp.checksumValid(ip.src, ip.dst));
        if (tcp.flags & TCP_SYN) synAck = tcp;
        if (hdr.gsoType === VIRTIO_NET_HDR_GSO_TCPV4) {
          gsoFrames++;
          assert.is(hdr.gsoSize, 1460);
          assert.ok(ip.totalLen > 1500);
        } else assert.ok(ip.totalLen <= 1500);
        if (tcp.payload.length > 0) {
          assert.is(tcp.seq, nextSeq, 'in order');
          nextSeq = (nextSeq + tcp.payload.length) >>> 0;
          data.push(tcp.payload.slice());
        }
      }
    },
  });
  be.rxEnable();
  const send = (f: Uint8Array): number => be.send([new Uint8Array(12), f], 2);
  send(tcpFrame(GUEST, GATEWAY, { srcPort: 40000, dstPort: port, seq: 100, ack: 0, flags: TCP_SYN, window: 65535, options: { mss: 1460, windowScale: 7 } }));
  await waitFor(() => synAck !== undefined, 5000, 'SYN-ACK');
  nextSeq = (synAck!.seq + 1) >>> 0;
  send(tcpFrame(GUEST, GATEWAY, { srcPort: 40000, dstPort: port, seq: 101, ack: nextSeq, flags: TCP_ACK, window: 65535 }));
  await waitFor(() => sockets.length === 1, 5000, 'accept');
  const sent = new Uint8Array(200_000).map((_, i) => (i * 5) & 0xff);
  sockets[0]!.write(sent);
  let acked = -1;
  await waitFor(() => {
    const total = data.reduce((s, d) => s + d.length, 0);
    if (nextSeq !== acked) {
      acked = nextSeq;
      send(tcpFrame(GUEST, GATEWAY, { srcPort: 40000, dstPort: port, seq: 101, ack: nextSeq, flags: TCP_ACK, window: 65535 }));
    }
    return total >= sent.length;
  }, 10_000, 'all 200 KB');
  const got = new Uint8Array(sent.length);
  let at = 0;
  for (const d of data) {
    got.set(d, at);
    at += d.length;
  }
  assert.equal(got, sent);
  assert.ok(gsoFrames > 0, 'GSO frames were used');
  assert.is(be.gsoFramesToGuest, gsoFrames);
  assert.is(be.coalescer.merged, 0, 'the TCP sender built the GSO frames itself (nothing left to merge)');
});

test('offloads withdrawn while partial and GSO frames wait: partial ones leave completed, GSO ones are dropped (TCP resends them), nothing NEEDS_CSUM reaches the guest', async () => {
  const port = await host.listen();
  const be = (host.backend = await SlirpBackend.create('slirp,loopback=on,icmp=off,resolver=127.0.0.1'));
  be.setCap(SLIRP_CAPS, 12);
  const buf = new Uint8Array(70_000);
  let draining = true;
  let synAck: { seq: number } | undefined;
  const after: Array<{ hdr: VnetHeader; ok: boolean; len: number }> = [];
  const drain = (): void => {
    for (let n = be.recv([buf], 1); n > 0; n = be.recv([buf], 1)) {
      const hdr = emptyVnetHeader();
      decodeVnetHeader(buf, 0, 12, hdr);
      const eth = EthernetFrame.wrap(buf.slice(12, n));
      if (eth.ethertype !== 0x0800) continue;
      const ip = Ipv4Packet.wrap(eth.payload);
      const tcp = TcpPacket.wrap(ip.payload);
      if (tcp.flags & TCP_SYN) synAck = { seq: tcp.seq };
      else after.push({ hdr, ok: tcp.checksumValid(ip.src, ip.dst), len: tcp.payload.length });
    }
  };
  be.attach({ rxReady: () => draining && drain() });
  be.rxEnable();
  const send = (f: Uint8Array): number => be.send([new Uint8Array(12), f], 2);
  send(tcpFrame(GUEST, GATEWAY, { srcPort: 40002, dstPort: port, seq: 100, ack: 0, flags: TCP_SYN, window: 65535, options: { mss: 1460, windowScale: 7 } }));
  await waitFor(() => synAck !== undefined, 5000, 'SYN-ACK');
  send(tcpFrame(GUEST, GATEWAY, { srcPort: 40002, dstPort: port, seq: 101, ack: (synAck!.seq + 1) >>> 0, flags: TCP_ACK, window: 65535 }));
  await waitFor(() => sockets.length === 1, 5000, 'accept');
  draining = false; // the guest stops taking frames: they wait in the stack's queue
  sockets[0]!.write(new Uint8Array(300_000).fill(7));
  await waitFor(() => be.stack.pendingFrames >= 2, 5000, 'frames waiting for the guest');
  be.setCap(0n, 12); // the guest renegotiated without GUEST_CSUM / GUEST_TSO4
  draining = true;
  drain();
  assert.ok(after.length > 0 || be.gsoFramesDropped > 0);
  assert.ok(be.gsoFramesDropped > 0, 'the waiting GSO frames were dropped');
  for (const f of after) {
    assert.is(f.hdr.flags, 0, 'no NEEDS_CSUM / DATA_VALID without GUEST_CSUM');
    assert.is(f.hdr.gsoType, 0);
    assert.ok(f.ok, 'checksums complete');
    assert.ok(f.len <= 1460);
  }
});

test.run();
