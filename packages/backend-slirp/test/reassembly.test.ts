import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { IP_PROTO_UDP, Ipv4Packet, emitIpv4 } from '@netbe/wire';
import { Reassembler, SLIRP_DEFAULTS, type DropReason } from '../src/core';
import { makeStack } from './helpers/stack';
import { GATEWAY, GUEST, arpRequest, ip, ipFrame, udpBytes } from './helpers/guest';

const REMOTE = ip('192.0.2.10');

/** One IPv4 fragment (header + `payload` at byte `offset`). */
function frag(ident: number, offset: number, payload: Uint8Array, more: boolean, src = GUEST): Ipv4Packet {
  const b = new Uint8Array(20 + payload.length);
  emitIpv4({ src, dst: REMOTE, protocol: IP_PROTO_UDP, payloadLen: payload.length, ttl: 64, ident, fragmentOffset: offset, moreFragments: more }, b);
  b.set(payload, 20);
  return Ipv4Packet.wrap(b);
}

const limits = { maxDatagrams: 4, maxFragments: 8, maxBytes: 4096, timeoutMs: 1000 };

test('reassembles out-of-order fragments into a fresh datagram', () => {
  const r = new Reassembler(limits);
  const data = Uint8Array.from({ length: 40 }, (_, i) => i);
  assert.equal(r.input(frag(1, 16, data.subarray(16, 32), true), 0), { pending: true });
  assert.equal(r.input(frag(1, 32, data.subarray(32), false), 0), { pending: true });
  const res = r.input(frag(1, 0, data.subarray(0, 16), true), 0);
  assert.ok('complete' in res);
  const p = Ipv4Packet.wrap((res as { complete: Uint8Array }).complete);
  assert.ok(p.checksumValid);
  assert.not.ok(p.isFragment);
  assert.equal(Array.from(p.payload), Array.from(data));
  assert.is(r.active, 0);
  assert.is(r.bytesHeld, 0);
});

test('exact duplicates are ignored; any other overlap drops the datagram', () => {
  const r = new Reassembler(limits);
  const d = new Uint8Array(16);
  r.input(frag(2, 0, d, true), 0);
  assert.equal(r.input(frag(2, 0, d, true), 0), { pending: true });
  assert.equal(r.input(frag(2, 8, d, true), 0), { drop: 'frag-overlap' });
  assert.is(r.active, 0);
  // A final fragment that ends before data already held, or a second, different end.
  r.input(frag(3, 16, d, true), 0);
  assert.equal(r.input(frag(3, 8, new Uint8Array(8), false), 0), { drop: 'frag-overlap' });
  r.input(frag(4, 16, d, false), 0);
  assert.equal(r.input(frag(4, 32, d, false), 0), { drop: 'frag-overlap' });
});

test('bad lengths, too many fragments, too big, timeouts, and the memory cap', () => {
  const counted: DropReason[] = [];
  const r = new Reassembler(limits, (x) => counted.push(x));
  assert.equal(r.input(frag(5, 0, new Uint8Array(12), true), 0), { drop: 'frag-bad-length' });
  assert.equal(r.input(frag(6, 65528, new Uint8Array(16), false), 0), { drop: 'frag-too-big' });
  for (let i = 0; i < 8; i++) r.input(frag(7, i * 8, new Uint8Array(8), true), 0);
  assert.equal(r.input(frag(7, 64, new Uint8Array(8), true), 0), { drop: 'frag-too-many' });
  r.input(frag(8, 8, new Uint8Array(8), true), 0);
  assert.is(r.nextDeadline(), 1000);
  r.expire(1000);
  assert.is(r.active, 0);
  assert.equal(counted, ['frag-timeout']);
  // Endless fragments of many datagrams: memory never exceeds the cap, the oldest are evicted.
  for (let id = 100; id < 200; id++) for (let k = 0; k < 4; k++) r.input(frag(id, k * 256, new Uint8Array(256), true), 0);
  assert.ok(r.bytesHeld <= limits.maxBytes);
  assert.ok(r.active <= limits.maxDatagrams);
  assert.ok(counted.filter((x) => x === 'frag-evicted').length > 90);
});

test('through the stack: a fragmented UDP datagram is reassembled and forwarded; the defaults are the documented ones', () => {
  const { stack, host } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  const payload = Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff);
  const l4 = udpBytes(GUEST, REMOTE, 4000, 9000, payload);
  for (let off = 0; off < l4.length; off += 1480) {
    const piece = l4.subarray(off, Math.min(l4.length, off + 1480));
    stack.input(ipFrame(GUEST, REMOTE, IP_PROTO_UDP, piece, { ident: 77, fragmentOffset: off, moreFragments: off + 1480 < l4.length }), 0);
  }
  const [open] = host.take('udpOpen');
  stack.hostUdpOpened(open!.handle, 1, 0);
  const [sent] = host.take('udpSend');
  assert.is(sent!.data.length, 3000);
  assert.equal(Array.from(sent!.data.subarray(0, 5)), [0, 1, 2, 3, 4]);
  assert.is(stack.counters.fragmentsReassembled, 1);
  assert.equal(SLIRP_DEFAULTS.reassembly, { maxDatagrams: 32, maxFragments: 64, maxBytes: 1 << 20, timeoutMs: 30_000 });
});

test.run();
