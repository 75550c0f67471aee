/**
 * Hostile input against the guest-facing TCP: each libslirp TCP CVE class from
 * /work/shared/reference/slirp-notes.md §1.5 has a test named after it, plus the RFC 5961
 * injection cases, lying headers, SYN floods and a property test. Expected outcome everywhere:
 * a counted drop or a protocol answer, never an exception, memory bounded.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { IP_PROTO_TCP, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, TCP_URG, type TcpRepr } from '@netbe/wire';
import { makeStack } from './helpers/stack';
import { TCP_RCV_BUF } from '../src/tcp-connection';
import { GATEWAY, GUEST, arpRequest, bytes, ip, ipFrame, tcpFrame } from './helpers/guest';

const REMOTE = ip('192.0.2.10');
const seg = (o: Partial<TcpRepr>): TcpRepr => ({ srcPort: 40000, dstPort: 80, seq: 0, ack: 0, flags: TCP_ACK, window: 65535, ...o });

/** An established connection whose guest offered SACK and timestamps (so the full option path runs). */
function established(dstPort = 80) {
  const t = makeStack();
  t.stack.input(arpRequest(GUEST, GATEWAY), 0);
  t.out();
  t.stack.input(tcpFrame(GUEST, REMOTE, seg({ dstPort, seq: 1000, flags: TCP_SYN, options: { mss: 1460, windowScale: 7, sackPermitted: true, timestamp: { value: 5, echo: 0 } } })), 0);
  const [c] = t.host.take('tcpConnect');
  t.stack.hostTcpConnected(c!.handle, 1);
  const sa = t.out()[0]!.tcp!;
  assert.ok(sa.options.sackPermitted && sa.options.timestamp, 'SACK-permitted and timestamps negotiated');
  const ts = (v: number) => ({ timestamp: { value: v, echo: sa.options.timestamp!.value } });
  t.stack.input(tcpFrame(GUEST, REMOTE, seg({ dstPort, seq: 1001, ack: sa.seq + 1, window: 1000, options: ts(6) })), 2);
  const conn = t.stack.tcp.connection(c!.handle)!;
  assert.is(conn.state, 'ESTABLISHED');
  return { ...t, handle: c!.handle, iss: sa.seq, conn, ts, dstPort };
}

test('CVE-2019-6778 class (tcp_emu ident overflow): port 113 payloads are relayed verbatim, never parsed or rewritten', () => {
  const { stack, host, iss, ts } = established(113);
  const hostile = bytes(`${'9'.repeat(1200)} , ${'1'.repeat(200)}\r\n`);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ dstPort: 113, seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_PSH, options: ts(7) }), hostile), 3);
  const [w] = host.take('tcpWrite');
  assert.equal([...w!.data], [...hostile]);
});

test('CVE-2019-9824 / CVE-2020-8608 class (tcp_emu sscanf / snprintf): FTP-style PORT commands pass through unchanged, nothing is formatted', () => {
  const { stack, host, out, handle, iss, ts } = established(21);
  out();
  // From the host side: a reply with absurd numbers is copied to the guest byte for byte.
  const reply = bytes('227 Entering Passive Mode (999,999,999,999,999,999)\r\n');
  stack.hostTcpData(handle, reply, 3);
  assert.equal([...out()[0]!.tcp!.payload], [...reply]);
  const cmd = bytes('PORT 10,0,2,15,4294967295,99999999999999999999\r\n');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ dstPort: 21, seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_PSH, options: ts(7) }), cmd), 3);
  assert.equal([...host.take('tcpWrite')[0]!.data], [...cmd]);
});

test('CVE-2020-7039 class (tcp_emu IRC DCC heap overflow): a huge DCC line toward port 6667 is data, not parsed', () => {
  const { stack, host, iss, ts } = established(6667);
  const dcc = bytes(`\x01DCC SEND ${'A'.repeat(1300)} 3232235777 65536 99999999999\x01\r\n`);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ dstPort: 6667, seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_PSH, options: ts(7) }), dcc), 3);
  assert.equal([...host.take('tcpWrite')[0]!.data], [...dcc]);
});

test('CVE-2026-9539 class (sosendoob urgent-pointer underflow): URG with pointers past, at and before the data is plain data, no out-of-bounds read', () => {
  const { stack, host, iss, ts } = established();
  let seq = 1001;
  for (const up of [0, 1, 3, 0xffff, 60000]) {
    stack.input(tcpFrame(GUEST, REMOTE, seg({ seq, ack: iss + 1, flags: TCP_ACK | TCP_URG | TCP_PSH, urgentPointer: up, options: ts(7) }), bytes('abc')), 3);
    seq += 3;
  }
  const writes = host.take('tcpWrite');
  assert.is(writes.length, 5);
  for (const w of writes) assert.equal([...w.data], [...bytes('abc')]);
});

test('lying data offsets and option lengths are counted drops (tcp-malformed), the connection is untouched', () => {
  const { stack, conn, iss } = established();
  const good = tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1 }), bytes('xyz'));
  const l4 = good.slice(34, 34 + 23);
  const cases: Array<(b: Uint8Array) => void> = [
    (b) => { b[12] = 0x40; }, // data offset 4 < 5
    (b) => { b[12] = 0xf0; }, // data offset 15: 60 bytes > 23
    (b) => { b[12] = 0x60; b[20] = 2; b[21] = 40; }, // MSS option claiming 40 bytes in a 4-byte option area
    (b) => { b[12] = 0x60; b[20] = 5; b[21] = 3; }, // SACK option of length 3
    (b) => { b[12] = 0x60; b[20] = 8; b[21] = 1; }, // length < 2
    (b) => { b[12] = 0x60; b[20] = 1; b[21] = 1; b[22] = 3; }, // window scale without its length byte at the end
  ];
  for (const mutate of cases) {
    const b = l4.slice();
    mutate(b);
    stack.input(ipFrame(GUEST, REMOTE, IP_PROTO_TCP, b), 3);
  }
  assert.is(stack.counters.drops['tcp-malformed'], cases.length);
  assert.is(conn.state, 'ESTABLISHED');
  assert.is(conn.rcvNxt, 1001);
});

test('RST injection: out of window → counted drop; in window but not at RCV.NXT → challenge ACK (RFC 5961 §3.2); exact → reset', () => {
  const { stack, host, out, conn, ts } = established();
  out();
  for (let i = 0; i < 50; i++) stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: (1001 + 10_000_000 + i * 7919) >>> 0, flags: TCP_RST })), 3);
  assert.is(stack.counters.drops['tcp-out-of-window'], 50);
  assert.is(out().length, 0, 'no answer to blind RSTs outside the window');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001 + 100, flags: TCP_RST })), 4);
  const [ch] = out();
  assert.is(ch!.tcp!.flags, TCP_ACK);
  assert.is(ch!.tcp!.ack, 1001);
  assert.is(stack.counters.drops['tcp-challenge-ack'], 1);
  assert.is(conn.state, 'ESTABLISHED');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, flags: TCP_RST, options: ts(8) })), 5);
  assert.is(conn.state, 'CLOSED');
  assert.equal(host.take('tcpClose').pop()?.reset, true);
});

test('challenge ACKs are rate limited (RFC 5961 §7): 1000 in-window RSTs in one second get 100 answers, all counted', () => {
  const { stack, out, conn } = established();
  out();
  for (let i = 0; i < 1000; i++) stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1002 + i, flags: TCP_RST })), 3 + i / 10);
  assert.is(out().length, 100);
  assert.is(stack.counters.drops['tcp-challenge-ack'], 1000);
  assert.is(conn.state, 'ESTABLISHED');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1500, flags: TCP_RST })), 2000);
  assert.is(out().length, 1, 'a new second, a new allowance');
});

test('SYN in a synchronized state → challenge ACK (RFC 5961 §4), never a reset of the host socket', () => {
  const { stack, host, out, conn } = established();
  out();
  for (const seq of [1001, 1500, 5_000_000]) stack.input(tcpFrame(GUEST, REMOTE, seg({ seq, flags: TCP_SYN })), 3);
  assert.is(conn.state, 'ESTABLISHED');
  assert.is(host.take('tcpClose').length, 0);
  assert.ok(out().every((d) => d.tcp!.flags === TCP_ACK));
});

test('ACK injection: acknowledging unsent data or far-old data → counted drop and challenge ACK (RFC 5961 §5.2)', () => {
  const { stack, out, conn, iss, handle, ts } = established();
  stack.hostTcpData(handle, new Uint8Array(3000), 3);
  out();
  const una = conn.sndUna;
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: (iss + 1 + 1_000_000) >>> 0, options: ts(7) })), 4);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: (iss - 2_000_000_000) >>> 0, options: ts(7) })), 4);
  assert.is(stack.counters.drops['tcp-bad-ack'], 2);
  assert.is(conn.sndUna, una, 'SND.UNA did not move');
  assert.ok(out().length >= 2, 'answered with ACKs');
});

test('PAWS (RFC 7323 §5): a segment with an older timestamp is dropped and counted', () => {
  const { stack, host, conn, iss, ts } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, options: ts(1000) }), bytes('new')), 3);
  assert.is(host.take('tcpWrite').length, 1);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1004, ack: iss + 1, options: ts(10) }), bytes('old')), 4);
  assert.is(host.take('tcpWrite').length, 0);
  assert.is(stack.counters.drops['tcp-paws'], 1);
  assert.is(conn.rcvNxt, 1004);
});

test('out-of-order flood: the reorder queue holds only what fits the window, in bounded blocks, and SACK blocks report it', () => {
  const { stack, out, conn, iss, ts } = established();
  out();
  // Every other 100-byte segment across and beyond the window: only in-window ones are stored.
  for (let i = 1; i < 24_000; i += 2) stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001 + i * 100, ack: iss + 1, options: ts(7) }), new Uint8Array(100)), 3);
  assert.ok(conn.reorder.bytes <= TCP_RCV_BUF, `held ${conn.reorder.bytes}`);
  assert.ok(conn.reorder.blockCount <= 1024, `blocks ${conn.reorder.blockCount}`);
  assert.ok((stack.counters.drops['tcp-reorder-full'] ?? 0) > 0, 'the block limit was hit and counted');
  const last = out().pop()!.tcp!;
  assert.ok(last.options.sack && last.options.sack.length === 3, 'three SACK blocks next to the timestamp');
  // Filling the first hole delivers the contiguous data behind it.
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, options: ts(8) }), new Uint8Array(100)), 4);
  assert.is(conn.rcvNxt, 1001 + 200);
  assert.is(stack.tcp.reorderBytes, conn.reorder.bytes, 'the shared budget matches');
  // Closing releases the budget.
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: conn.rcvNxt, flags: TCP_RST })), 5);
  assert.is(stack.tcp.reorderBytes, 0);
});

test('a FIN beyond a hole is remembered and takes effect when the hole fills', () => {
  const { stack, host, conn, iss, ts } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1004, ack: iss + 1, flags: TCP_ACK | TCP_FIN, options: ts(7) }), bytes('def')), 3);
  assert.is(conn.state, 'ESTABLISHED');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, options: ts(8) }), bytes('abc')), 4);
  assert.equal(host.take('tcpWrite').map((w) => String.fromCharCode(...w.data)).join(''), 'abcdef');
  assert.is(conn.state, 'CLOSE_WAIT');
  assert.is(host.take('tcpShutdown').length, 1);
});

test('SYN flood: half-open connections capped at 256 with counted refusals; handshakes completing free the slots', () => {
  const { stack, host, out } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  for (let i = 0; i < 5000; i++) stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 1024 + i, seq: i * 77, flags: TCP_SYN })), 0);
  assert.is(stack.tcp.size, 256);
  assert.is(stack.counters.drops['tcp-syn-backlog-full'], 5000 - 256);
  out(); // the refusals' RSTs
  const connects = host.take('tcpConnect');
  for (const c of connects) stack.hostTcpConnected(c.handle, 1);
  const synAcks = out().filter((d) => d.tcp && d.tcp.flags === (TCP_SYN | TCP_ACK));
  for (const d of synAcks) stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: d.tcp!.dstPort, seq: (d.tcp!.ack) >>> 0, ack: d.tcp!.seq + 1 })), 2);
  assert.ok(stack.tcp.list().every((c) => c.state === 'ESTABLISHED'));
  stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 9999, seq: 1, flags: TCP_SYN })), 3);
  assert.is(host.take('tcpConnect').length, 1, 'room again once the handshakes completed');
  // Unanswered half-open connections time out (host connect 75 s) and are gone.
  stack.poll(100_000);
  assert.is(stack.tcp.list().filter((c) => c.halfOpen).length, 0);
});

test('property: random segments into an established connection never throw, and state stays bounded', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          seqOff: fc.integer({ min: -70000, max: 400000 }),
          ackOff: fc.integer({ min: -70000, max: 70000 }),
          flags: fc.integer({ min: 0, max: 0xff }),
          window: fc.integer({ min: 0, max: 0xffff }),
          len: fc.integer({ min: 0, max: 1400 }),
          sack: fc.array(fc.tuple(fc.integer({ min: -5000, max: 5000 }), fc.integer({ min: -5000, max: 5000 })), { maxLength: 3 }),
          ts: fc.integer({ min: 0, max: 0xffffffff }),
          host: fc.integer({ min: 0, max: 3000 }),
        }),
        { maxLength: 60 },
      ),
      (segs) => {
        const { stack, out, conn, iss, handle } = established();
        let now = 3;
        for (const s of segs) {
          if (s.host > 0 && conn.state !== 'CLOSED') stack.hostTcpData(handle, new Uint8Array(s.host), now);
          const una = conn.sndUna;
          const sack = s.sack.map(([l, r]) => [(una + l) >>> 0, (una + r) >>> 0] as [number, number]);
          stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: (1001 + s.seqOff) >>> 0, ack: (iss + 1 + s.ackOff) >>> 0, flags: s.flags & (TCP_ACK | TCP_FIN | TCP_PSH | TCP_RST | TCP_SYN | TCP_URG), window: s.window, options: { timestamp: { value: s.ts, echo: 0 }, sack: sack.length ? sack : undefined } }), new Uint8Array(s.len)), now);
          now += 7;
          stack.poll(now);
          out();
          assert.ok(conn.reorder.bytes <= 256 * 1024);
          assert.ok(conn.sendQueue.length <= 600 * 1024);
          assert.ok(stack.tcp.reorderBytes >= 0);
        }
      },
    ),
    { numRuns: 150, seed: 7 },
  );
});

test.run();
