import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  EthernetFrame, ICMP_ECHO_REQUEST, Icmpv4Packet, Ipv4Packet, TCP_SYN, TcpPacket, UdpPacket, WireError,
  echoRepr, emitIcmpv4, emitTcp, emitUdp, parseIcmpv4, parseTcp, tcpHeaderLen,
} from '../src/index';
import { icmpEcho, tcpSyn, toHex, udpDns, reasonOf } from './fixtures';

const reason = reasonOf;
const ipOf = (frame: Uint8Array): Ipv4Packet => Ipv4Packet.wrap(EthernetFrame.wrap(frame).payload.slice());

test('icmp: echo request parses and re-emits identically', () => {
  const ip = ipOf(icmpEcho);
  const p = Icmpv4Packet.wrap(ip.payload);
  assert.ok(p.checksumValid);
  assert.is(p.type, ICMP_ECHO_REQUEST);
  assert.is(p.echoIdent, 0x4242);
  assert.is(p.echoSeq, 1);
  const repr = parseIcmpv4(p);
  assert.equal(repr, echoRepr(ICMP_ECHO_REQUEST, 0x4242, 1, Uint8Array.from('abcdefgh', (c) => c.charCodeAt(0))));
  const out = new Uint8Array(16);
  emitIcmpv4(repr, out);
  assert.is(toHex(out), toHex(ip.payload));
  assert.is(reason(() => Icmpv4Packet.wrap(ip.payload.subarray(0, 7))), 'truncated');
  const bad = ip.payload.slice();
  bad[9] ^= 1;
  assert.not.ok(Icmpv4Packet.wrap(bad).checksumValid);
});

test('udp: DNS query datagram parses, checksum verifies, emit matches', () => {
  const ip = ipOf(udpDns);
  const u = UdpPacket.wrap(ip.payload);
  assert.is(u.srcPort, 40000);
  assert.is(u.dstPort, 53);
  assert.ok(u.checksumValid(ip.src, ip.dst));
  assert.not.ok(u.checksumValid(ip.src, ip.dst + 1));
  const out = new Uint8Array(u.length);
  emitUdp({ srcPort: 40000, dstPort: 53 }, ip.src, ip.dst, u.payload, out);
  assert.is(toHex(out), toHex(ip.payload));
});

test('udp: length field lies are rejected; zero checksum means none', () => {
  const ip = ipOf(udpDns);
  const b = ip.payload.slice();
  assert.is(reason(() => UdpPacket.wrap(b.subarray(0, 7))), 'truncated');
  const short = b.slice();
  short[4] = 0;
  short[5] = 7;
  assert.is(reason(() => UdpPacket.wrap(short)), 'bad-total-length');
  const long = b.slice();
  long[4] = 0x10;
  assert.is(reason(() => UdpPacket.wrap(long)), 'truncated');
  const none = b.slice();
  none[6] = 0;
  none[7] = 0;
  assert.ok(UdpPacket.wrap(none).checksumValid(1, 2));
});

test('tcp: SYN with MSS, SACK-permitted, timestamps, window scale', () => {
  const ip = ipOf(tcpSyn);
  const t = TcpPacket.wrap(ip.payload);
  assert.ok(t.checksumValid(ip.src, ip.dst));
  assert.is(t.headerLen, 40);
  const repr = parseTcp(t);
  assert.is(repr.flags, TCP_SYN);
  assert.is(repr.seq, 0x11223344);
  assert.is(repr.window, 64240);
  assert.equal(repr.options, { mss: 1460, sackPermitted: true, timestamp: { value: 0x01020304, echo: 0 }, windowScale: 7 });
  assert.is(tcpHeaderLen(repr), 40);
  const out = new Uint8Array(40);
  emitTcp(repr, ip.src, ip.dst, 0, out);
  assert.is(toHex(out), toHex(ip.payload));
});

test('tcp: bad data offsets and lying options are rejected', () => {
  const b = ipOf(tcpSyn).payload.slice();
  assert.is(reason(() => TcpPacket.wrap(b.subarray(0, 19))), 'truncated');
  const off4 = b.slice();
  off4[12] = 0x40;
  assert.is(reason(() => TcpPacket.wrap(off4)), 'bad-header-length');
  const off15 = b.slice();
  off15[12] = 0xf0;
  assert.is(reason(() => TcpPacket.wrap(off15)), 'bad-header-length');
  const mss3 = b.slice();
  mss3[21] = 3;
  assert.is(reason(() => TcpPacket.wrap(mss3)), 'bad-option');
  const past = b.slice();
  past[21] = 40;
  assert.is(reason(() => TcpPacket.wrap(past)), 'bad-option');
  const zero = b.slice();
  zero[21] = 0;
  assert.is(reason(() => TcpPacket.wrap(zero)), 'bad-option');
  const sack = b.slice();
  sack.set([5, 7, 0, 0, 0, 0, 0], 20);
  assert.is(reason(() => TcpPacket.wrap(sack)), 'bad-option');
});

test('tcp: SACK blocks round-trip', () => {
  const buf = new Uint8Array(60);
  const repr = { srcPort: 1, dstPort: 2, seq: 5, ack: 6, flags: 0x10, window: 100, options: { sack: [[10, 20], [30, 40]] as Array<[number, number]> } };
  const end = emitTcp(repr, 1, 2, 0, buf);
  const t = TcpPacket.wrap(buf.subarray(0, end));
  assert.equal(t.options.sack, [[10, 20], [30, 40]]);
  assert.ok(t.checksumValid(1, 2));
});

test.run();
