// @timeout 120
/**
 * The slirp backend with a virtio-net header: a guest's 64 KiB TSO segment with a partial
 * checksum (NEEDS_CSUM) reaches a host socket as one; frames toward the guest carry DATA_VALID;
 * GSO headers for segments beyond the MTU; hostile header offsets are counted drops.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, VIRTIO_NET_HDR_GSO_UDP, decodeVnetHeader, emptyVnetHeader,
  encodeVnetHeader, type VnetHeader,
} from '@netbe/core';
import { IP_PROTO_TCP, TCP_ACK, TCP_PSH, TCP_SYN, TcpPacket, Ipv4Packet, EthernetFrame, pseudoHeaderSum } from '@netbe/wire';
import { waitFor, withTimeout } from '@netbe/test-utils';
import { SlirpBackend, SLIRP_CAPS } from '../src/backend';
import { checkGuestOffload, guestRxHeader } from '../src/offload';
import { GATEWAY, GUEST, completePartialChecksum, tcpFrame } from './helpers/guest';
import { HostServer } from './helpers/host-server';

/** Replaces the TCP checksum of an IPv4/TCP frame by the pseudo-header sum, as a guest with CSUM offload leaves it. */
function partial(frame: Uint8Array): Uint8Array {
  const f = frame.slice();
  const ihl = (f[14]! & 0x0f) * 4;
  const total = (f[16]! << 8) | f[17]!;
  const l4 = 14 + ihl;
  const src = ((f[26]! << 24) | (f[27]! << 16) | (f[28]! << 8) | f[29]!) >>> 0;
  const dst = ((f[30]! << 24) | (f[31]! << 16) | (f[32]! << 8) | f[33]!) >>> 0;
  let s = pseudoHeaderSum(src, dst, IP_PROTO_TCP, total - ihl);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  f[l4 + 16] = s >>> 8;
  f[l4 + 17] = s & 0xff;
  return f;
}

function header(h: Partial<VnetHeader>): Uint8Array {
  const b = new Uint8Array(12);
  encodeVnetHeader({ ...emptyVnetHeader(), ...h }, b, 0, 12);
  return b;
}

const needsCsum = (gso = 0, gsoSize = 0): Uint8Array =>
  header({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, gsoType: gso, gsoSize, hdrLen: 54, csumStart: 34, csumOffset: 16 });

test('checkGuestOffload refuses hostile offsets and unsupported GSO types', () => {
  const f = tcpFrame(GUEST, GATEWAY, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_ACK, window: 1 }, new Uint8Array(10));
  const hdr = emptyVnetHeader();
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff }), (csumStart, csumOffset) => {
      decodeVnetHeader(header({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart, csumOffset }), 0, 12, hdr);
      const r = checkGuestOffload(hdr, f);
      const inRange = csumStart >= 14 && csumStart + csumOffset + 2 <= f.length;
      assert.is(r === undefined, inRange);
    }),
    { numRuns: 500 },
  );
  decodeVnetHeader(header({ gsoType: VIRTIO_NET_HDR_GSO_UDP }), 0, 12, hdr);
  assert.is(checkGuestOffload(hdr, f), 'gso-unsupported');
});

test('guestRxHeader: DATA_VALID with GUEST_CSUM; GSO only beyond the MTU with GUEST_TSO4', () => {
  const out = emptyVnetHeader();
  const big = tcpFrame(GATEWAY, GUEST, { srcPort: 80, dstPort: 40000, seq: 1, ack: 1, flags: TCP_ACK, window: 1000 }, new Uint8Array(20_000));
  guestRxHeader(big, 1500, true, true, out);
  assert.equal([out.flags, out.gsoType, out.gsoSize, out.hdrLen], [VIRTIO_NET_HDR_F_DATA_VALID, VIRTIO_NET_HDR_GSO_TCPV4, 1460, 54]);
  guestRxHeader(big, 65520, true, true, out);
  assert.equal([out.flags, out.gsoType], [VIRTIO_NET_HDR_F_DATA_VALID, 0], 'within the MTU: no GSO');
  guestRxHeader(big, 1500, true, false, out);
  assert.is(out.gsoType, 0, 'no GUEST_TSO4: no GSO');
  guestRxHeader(big, 1500, false, false, out);
  assert.is(out.flags, 0, 'no GUEST_CSUM: no DATA_VALID');
  // Hostile/odd frames never throw: truncated, non-IP, lying lengths.
  fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
    guestRxHeader(b, 576, true, true, out);
  }));
});

const host = new HostServer();
const sockets = host.sockets;
test.after.each(() => host.close());

test('a 64 KiB TSO segment with a partial checksum reaches a host socket as one; data toward the guest carries partial checksums, MTU 65520', async () => {
  let received = 0;
  const port = await host.listen((d) => {
    received += d.length;
  });
  const backend = (host.backend = await SlirpBackend.create('slirp,loopback=on,mtu=65520,icmp=off,resolver=127.0.0.1'));
  assert.is(backend.getCap(), SLIRP_CAPS);
  backend.setCap(SLIRP_CAPS, 12);
  const got: Array<{ hdr: VnetHeader; tcp?: TcpPacket; ipLen: number; csumOk?: boolean }> = [];
  const buf = new Uint8Array(70_000);
  const be = backend;
  be.attach({
    rxReady: () => {
      for (let n = be.recv([buf], 1); n > 0; n = be.recv([buf], 1)) {
        const hdr = emptyVnetHeader();
        decodeVnetHeader(buf, 0, 12, hdr);
        const eth = EthernetFrame.wrap(buf.slice(12, n));
        if (eth.ethertype !== 0x0800) {
          got.push({ hdr, ipLen: 0 });
          continue;
        }
        if (hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) completePartialChecksum(eth.bytes, hdr.csumStart, hdr.csumOffset);
        const ip = Ipv4Packet.wrap(eth.payload);
        const tcp = ip.protocol === IP_PROTO_TCP ? TcpPacket.wrap(ip.payload) : undefined;
        got.push({ hdr, tcp, ipLen: ip.totalLen, csumOk: tcp?.checksumValid(ip.src, ip.dst) });
      }
    },
  });
  be.rxEnable();
  const send = (h: Uint8Array, f: Uint8Array): number => be.send([h, f], 2);
  const iss = 1000;
  send(header({}), tcpFrame(GUEST, GATEWAY, { srcPort: 40001, dstPort: port, seq: iss, ack: 0, flags: TCP_SYN, window: 65535, options: { mss: 65480, windowScale: 7 } }));
  await waitFor(() => got.some((g) => g.tcp && (g.tcp.flags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK)), 5000, 'SYN-ACK');
  const synAck = got.find((g) => g.tcp && (g.tcp.flags & TCP_SYN) !== 0)!;
  assert.is(synAck.hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID, 'control segments to the guest carry DATA_VALID');
  assert.is(synAck.tcp!.options.mss, 65480, 'MSS from MTU 65520');
  const peerSeq = synAck.tcp!.seq + 1;
  send(header({}), tcpFrame(GUEST, GATEWAY, { srcPort: 40001, dstPort: port, seq: iss + 1, ack: peerSeq, flags: TCP_ACK, window: 65535 }));
  // One TSO segment: 60000 bytes with a partial checksum, GSO_TCPV4 at gso_size 1448.
  const payload = new Uint8Array(60_000).map((_, i) => i & 0xff);
  const seg = partial(tcpFrame(GUEST, GATEWAY, { srcPort: 40001, dstPort: port, seq: iss + 1, ack: peerSeq, flags: TCP_ACK | TCP_PSH, window: 65535 }, payload));
  const before = be.stats.txDrops;
  assert.is(send(needsCsum(VIRTIO_NET_HDR_GSO_TCPV4, 1448), seg), 12 + seg.length);
  assert.is(be.checksumsOffloaded, 1);
  await waitFor(() => received === 60_000, 5000, 'the host socket to receive the whole segment');
  await waitFor(() => got.some((g) => g.tcp && g.tcp.ack === iss + 1 + 60_000), 5000, 'the stack to ACK the whole segment at once');
  assert.is(be.stats.txDrops, before);
  // Host → guest: 200 KB arrive in segments far beyond 1500 bytes; data segments carry a partial
  // checksum (NEEDS_CSUM from the TCP header), the rest DATA_VALID; no GSO within the MTU.
  sockets[0]!.write(new Uint8Array(200_000));
  await waitFor(() => got.some((g) => g.tcp && g.ipLen > 1500), 5000, 'large segments toward the guest');
  assert.ok(got.every((g) => g.hdr.gsoType === 0), 'no GSO within the MTU');
  for (const g of got) {
    if (g.tcp && g.tcp.payload.length > 0) {
      assert.equal([g.hdr.flags, g.hdr.csumStart, g.hdr.csumOffset], [VIRTIO_NET_HDR_F_NEEDS_CSUM, 34, 16]);
      assert.ok(g.csumOk, 'the partial checksum completes to a valid one');
    } else assert.is(g.hdr.flags, VIRTIO_NET_HDR_F_DATA_VALID);
  }
  // Hostile header: the checksum field beyond the frame → counted drop, nothing thrown.
  assert.is(send(header({ flags: VIRTIO_NET_HDR_F_NEEDS_CSUM, csumStart: 34, csumOffset: 65_000 }), seg), 0);
  assert.is(be.offloadRefused, 1);
  assert.is(be.stats.txDrops, before + 1);
});

test('offloads need a header: setCap with length 0 and offloads is refused; plain frames stay plain', async () => {
  const backend = (host.backend = await SlirpBackend.create('slirp,icmp=off,resolver=127.0.0.1'));
  assert.throws(() => backend.setCap(SLIRP_CAPS, 0), /offloads need a virtio-net header/);
  backend.setCap(0n, 0);
  assert.is(backend.vnetHdrLen, 0);
  await withTimeout(1000, SlirpBackend.create('slirp,mtu=65521').then(() => assert.unreachable('accepted'), (e: Error) => assert.match(e.message, /65521 is above 65520/)), 'mtu check');
});

test.run();
