import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, formatIpv4, type TcpRepr } from '@netbe/wire';
import { makeStack } from './helpers/stack';
import { TCP_WSCALE } from '../src/tcp-connection';
import { DNS, GATEWAY, GUEST, arpRequest, bytes, decode, ip, tcpFrame, text, type Decoded } from './helpers/guest';

const REMOTE = ip('192.0.2.10');
const seg = (o: Partial<TcpRepr>): TcpRepr => ({ srcPort: 40000, dstPort: 80, seq: 0, ack: 0, flags: TCP_ACK, window: 65535, ...o });

/** A stack with one established guest → REMOTE:80 connection. */
function established(spec?: string) {
  const t = makeStack(spec);
  const { stack, host, out } = t;
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1000, flags: TCP_SYN, options: { mss: 1460, windowScale: 7 } })), 0);
  const [connect] = host.take('tcpConnect');
  assert.is(connect!.addr, REMOTE);
  assert.is(connect!.port, 80);
  assert.is(out().length, 0, 'no SYN-ACK before the host connects');
  stack.hostTcpConnected(connect!.handle, 1);
  const [synAck] = out();
  const sa = synAck!.tcp!;
  assert.is(sa.flags, TCP_SYN | TCP_ACK);
  assert.is(sa.ack, 1001);
  assert.is(sa.options.mss, 1460);
  assert.is(sa.options.windowScale, TCP_WSCALE);
  const iss = sa.seq;
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, window: 1000 })), 2);
  const conn = stack.tcp.connection(connect!.handle)!;
  assert.is(conn.state, 'ESTABLISHED');
  return { ...t, handle: connect!.handle, iss, conn };
}

test('handshake waits for the host connect, then data flows both ways', () => {
  const { stack, host, out, handle, iss } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_PSH, window: 1000 }), bytes('GET /')), 3);
  const [w] = host.take('tcpWrite');
  assert.is(text(w!.data), 'GET /');
  const [ack] = out();
  assert.is(ack!.tcp!.ack, 1006);
  stack.hostTcpData(handle, bytes('HTTP/1.0 200'), 4);
  const [d] = out();
  assert.is(d!.tcp!.seq, iss + 1);
  assert.ok(d!.tcp!.flags & TCP_PSH);
  assert.is(text(d!.tcp!.payload), 'HTTP/1.0 200');
  assert.is(d!.ip!.src, REMOTE);
});

test('delayed ACK: every second segment, at once for PSH, else within 10 ms (RFC 1122 §4.2.3.2)', () => {
  const { stack, out, iss } = established();
  out();
  const data = (seq: number, flags = TCP_ACK) => tcpFrame(GUEST, REMOTE, seg({ seq, ack: iss + 1, flags, window: 1000 }), new Uint8Array(100));
  stack.input(data(1001), 10);
  assert.is(out().length, 0, 'the first segment waits');
  stack.input(data(1101), 11);
  const [a] = out();
  assert.is(a!.tcp!.ack, 1201, 'the second is acknowledged with the first');
  stack.input(data(1201), 12);
  assert.is(out().length, 0);
  assert.is(stack.poll(12), 22, 'the delayed-ACK timer is armed');
  stack.poll(22);
  assert.is(out()[0]!.tcp!.ack, 1301);
  stack.input(data(1301, TCP_ACK | TCP_PSH), 30);
  assert.is(out()[0]!.tcp!.ack, 1401, 'PSH is acknowledged at once');
  stack.input(data(1601), 31);
  assert.is(out()[0]!.tcp!.ack, 1401, 'out of order: a duplicate ACK at once');
});

test('host closes first: FIN to the guest, guest ACK + FIN, TIME-WAIT, closed', () => {
  const { stack, host, out, handle, iss, conn } = established();
  stack.hostTcpEnd(handle, 5);
  const [fin] = out();
  assert.is(fin!.tcp!.flags, TCP_FIN | TCP_ACK);
  assert.is(conn.state, 'FIN_WAIT_1');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 2, flags: TCP_ACK | TCP_FIN })), 6);
  assert.is(conn.state, 'TIME_WAIT');
  assert.equal(host.take('tcpShutdown').length, 1);
  assert.is(out()[0]!.tcp!.ack, 1002);
  stack.poll(6 + 10_000);
  assert.is(conn.state, 'CLOSED');
  assert.is(stack.tcp.size, 0);
});

test('a new SYN on the same ports during TIME-WAIT opens a new connection', () => {
  const { stack, host, out, handle, iss, conn } = established();
  stack.hostTcpEnd(handle, 5);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 2, flags: TCP_ACK | TCP_FIN })), 6);
  assert.is(conn.state, 'TIME_WAIT');
  host.take('tcpConnect');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 900000, flags: TCP_SYN })), 7);
  assert.is(conn.state, 'CLOSED');
  assert.is(host.take('tcpConnect').length, 1);
  assert.is(stack.tcp.size, 1);
});

test('guest closes first: CLOSE-WAIT, host end, LAST-ACK, closed', () => {
  const { stack, host, out, handle, iss, conn } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_FIN })), 3);
  assert.is(conn.state, 'CLOSE_WAIT');
  assert.is(host.take('tcpShutdown').length, 1);
  out();
  stack.hostTcpData(handle, bytes('bye'), 4);
  stack.hostTcpEnd(handle, 4);
  const frames = out();
  assert.is(text(frames[0]!.tcp!.payload), 'bye');
  assert.ok(frames[1]!.tcp!.flags & TCP_FIN);
  assert.is(conn.state, 'LAST_ACK');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1002, ack: iss + 5 })), 5);
  assert.is(conn.state, 'CLOSED');
});

test('a refused host connect becomes a RST to the guest', () => {
  const { stack, host, out } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 5, flags: TCP_SYN })), 0);
  const [c] = host.take('tcpConnect');
  stack.hostTcpClosed(c!.handle, 'ECONNREFUSED', 1);
  const [rst] = out();
  assert.is(rst!.tcp!.flags, TCP_RST | TCP_ACK);
  assert.is(rst!.tcp!.ack, 6);
  assert.is(stack.tcp.size, 0);
});

test('unacknowledged data is retransmitted at the RTO, with backoff', () => {
  const { stack, out, handle, iss } = established();
  stack.hostTcpData(handle, bytes('data'), 10);
  out();
  const t1 = stack.poll(10); // poll returns the exact next deadline (nextDeadline may be an earlier, stale one)
  assert.ok(t1 > 10 && t1 < 10 + 2000, `RTO armed (${t1})`);
  const t2 = stack.poll(t1);
  const [r] = out();
  assert.is(r!.tcp!.seq, iss + 1);
  assert.is(text(r!.tcp!.payload), 'data');
  assert.ok(t2 - t1 >= 2 * (t1 - 10) - 1, 'backoff doubles');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 5 })), t1 + 1);
  stack.poll(t2);
  assert.is(out().length, 0);
});

test('out-of-order data is not written and gets a duplicate ACK; the guest window is honoured', () => {
  const { stack, host, out, handle, iss } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1101, ack: iss + 1 }), bytes('later')), 3);
  assert.is(host.take('tcpWrite').length, 0);
  assert.is(out()[0]!.tcp!.ack, 1001);
  // The guest advertised 1000 bytes (scale 7 applies after the SYN: 1000 << 7): shrink it to 10 bytes.
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, window: 0 })), 4);
  stack.hostTcpData(handle, new Uint8Array(100), 5);
  assert.is(out().length, 0, 'nothing sent into a zero window');
  stack.poll(stack.poll(5));
  const [probe] = out();
  assert.is(probe!.tcp!.payload.length, 1, 'one-byte zero-window probe');
});

test('RST: exact sequence resets the host socket; otherwise a challenge ACK (RFC 5961)', () => {
  const { stack, host, out, handle, iss } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1500, ack: iss + 1, flags: TCP_RST })), 3);
  assert.is(out()[0]!.tcp!.flags, TCP_ACK);
  assert.is(host.take('tcpClose').length, 0);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, flags: TCP_RST })), 3);
  assert.equal(host.take('tcpClose')[0], { op: 'tcpClose', handle, reset: true });
  assert.is(stack.tcp.size, 0);
});

test('segments without a connection get a RST; SYN floods stop at the table limit', () => {
  const { stack, out, host } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1, ack: 77, flags: TCP_ACK })), 0);
  const [rst] = out();
  assert.is(rst!.tcp!.flags, TCP_RST);
  assert.is(rst!.tcp!.seq, 77);
  assert.is(stack.counters.drops['tcp-no-connection'], 1);
  // A SYN flood: at most 256 half-open connections; the rest are refused and counted.
  for (let i = 0; i < 1100; i++) stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 10000 + i, seq: i, flags: TCP_SYN })), 0);
  assert.is(stack.tcp.size, 256);
  assert.is(stack.counters.drops['tcp-syn-backlog-full'], 1100 - 256);
  assert.is(host.take('tcpConnect').length, 256);
  // Connection exhaustion: complete handshakes until the table (1024) is full; then SYNs are refused.
  let port = 20000;
  const openOne = (): boolean => {
    const p = port++;
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: p, seq: 7, flags: TCP_SYN })), 1);
    const [c] = host.take('tcpConnect');
    if (!c) return false;
    stack.hostTcpConnected(c.handle, 1);
    const sa = out().pop()!.tcp!;
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: p, seq: 8, ack: sa.seq + 1 })), 1);
    return true;
  };
  for (const c of stack.tcp.list()) stack.hostTcpClosed(c.handle, 'ECONNREFUSED', 1); // the flood's half-open ones go
  out();
  let opened = 0;
  while (opened < 2000 && openOne()) opened++;
  assert.is(opened, 1024);
  assert.is(stack.tcp.size, 1024);
  assert.is(stack.counters.drops['tcp-table-full'], 1);
  assert.ok(stack.tcp.list().every((c) => c.state === 'ESTABLISHED'));
});

test('timers with many connections: deadlines armed from any event fire (only armed connections are walked); half-open slots free as handshakes complete', () => {
  const { stack, host, out } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  const conns: Array<{ handle: number; iss: number; port: number }> = [];
  // 600 handshakes, more than the half-open limit in total: each completes before the next SYN.
  for (let i = 0; i < 600; i++) {
    const port = 50000 + i;
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: port, seq: 7, flags: TCP_SYN })), 1);
    const [c] = host.take('tcpConnect');
    assert.ok(c, `SYN ${i} admitted`);
    stack.hostTcpConnected(c!.handle, 1);
    const sa = out().pop()!.tcp!;
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: port, seq: 8, ack: sa.seq + 1 })), 1);
    conns.push({ handle: c!.handle, iss: sa.seq, port });
  }
  assert.is(stack.counters.drops['tcp-syn-backlog-full'], undefined);
  // 256 more handshakes left half-open fill the backlog again; the next SYN is refused.
  for (let i = 0; i < 257; i++) stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 60000 + i, seq: 7, flags: TCP_SYN })), 2);
  assert.is(host.take('tcpConnect').length, 256);
  assert.is(stack.counters.drops['tcp-syn-backlog-full'], 1);
  assert.is(out()[0]!.tcp!.flags, TCP_RST | TCP_ACK, 'the refused SYN gets a RST');
  // The idle established connections arm nothing; data from the host arms an RTO on one of them,
  // a guest segment arms a delayed ACK on another: both fire at their deadlines.
  const a = conns[123]!;
  const b = conns[456]!;
  stack.hostTcpData(a.handle, bytes('late'), 10);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: b.port, seq: 8, ack: b.iss + 1, window: 1000 }), new Uint8Array(100)), 10);
  const first = out();
  assert.is(first.length, 1, 'the data segment; the guest segment waits for its delayed ACK');
  assert.is(text(first[0]!.tcp!.payload), 'late');
  let t = stack.poll(10);
  const seen: Decoded[] = [];
  for (let i = 0; i < 4 && t < 10_000; i++) {
    t = stack.poll(t);
    seen.push(...out());
  }
  assert.ok(seen.some((d) => d.tcp!.dstPort === b.port && d.tcp!.ack === 108 && d.tcp!.payload.length === 0), 'the delayed ACK fired');
  assert.ok(seen.some((d) => d.tcp!.dstPort === a.port && text(d.tcp!.payload) === 'late'), 'the RTO retransmitted');
});

test('TIME-WAIT is bounded: a full table evicts the oldest TIME-WAIT connection for a new SYN', () => {
  const { stack, host, out } = makeStack('slirp,resolver=192.0.2.53');
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  const open = (p: number) => {
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: p, seq: 7, flags: TCP_SYN })), 1);
    const [c] = host.take('tcpConnect');
    stack.hostTcpConnected(c!.handle, 1);
    const sa = out().pop()!.tcp!;
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: p, seq: 8, ack: sa.seq + 1 })), 1);
    return { handle: c!.handle, iss: sa.seq };
  };
  const first = open(30000);
  for (let i = 1; i < 1024; i++) open(30000 + i);
  // The first connection closes (host first): FIN, guest FIN+ACK → TIME-WAIT.
  stack.hostTcpEnd(first.handle, 2);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 30000, seq: 8, ack: first.iss + 2, flags: TCP_ACK | TCP_FIN })), 3);
  assert.is(stack.tcp.list()[0]!.state, 'TIME_WAIT');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 40000, seq: 7, flags: TCP_SYN })), 4);
  assert.is(host.take('tcpConnect').length, 1, 'the new SYN got the slot');
  assert.is(stack.tcp.size, 1024);
  assert.is(stack.counters.drops['tcp-table-full'], undefined);
});

test('hostfwd tcp: an accepted host socket becomes a SYN from the gateway; the handshake resumes reading', () => {
  const { stack, out, host } = makeStack('slirp,hostfwd=tcp::2222-:22');
  const [listen] = host.take('tcpListen');
  assert.is(formatIpv4(listen!.addr), '127.0.0.1');
  assert.is(listen!.port, 2222);
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  const h = stack.allocHandle();
  stack.hostTcpAccepted(listen!.handle, h, ip('127.0.0.1'), 45678, 1);
  assert.equal(host.take('tcpPause'), [{ op: 'tcpPause', handle: h, paused: true }]);
  const [syn] = out();
  const s: Decoded['tcp'] = syn!.tcp;
  assert.is(s!.flags, TCP_SYN);
  assert.is(s!.dstPort, 22);
  assert.is(syn!.ip!.src, GATEWAY);
  stack.input(tcpFrame(GUEST, GATEWAY, { srcPort: 22, dstPort: s!.srcPort, seq: 9000, ack: s!.seq + 1, flags: TCP_SYN | TCP_ACK, window: 64000, options: { mss: 1460 } }), 2);
  const [ack] = out();
  assert.is(ack!.tcp!.flags, TCP_ACK);
  assert.is(ack!.tcp!.ack, 9001);
  assert.equal(host.take('tcpPause'), [{ op: 'tcpPause', handle: h, paused: false }]);
  stack.hostTcpData(h, bytes('SSH-2.0'), 3);
  assert.is(text(out()[0]!.tcp!.payload), 'SSH-2.0');
});

test('DNS over TCP: a connection to the DNS address goes to the upstream resolver', () => {
  const { stack, host } = makeStack('slirp,resolver=127.0.0.1:5300');
  stack.input(tcpFrame(GUEST, DNS, seg({ dstPort: 53, seq: 1, flags: TCP_SYN })), 0);
  const [c] = host.take('tcpConnect');
  assert.is(formatIpv4(c!.addr), '127.0.0.1');
  assert.is(c!.port, 5300);
});

test('the gateway refuses TCP unless loopback=on; restrict refuses everything', () => {
  for (const [spec, reason] of [['slirp', 'host-loopback-disabled'], ['slirp,restrict=on,loopback=on', 'restricted']] as const) {
    const { stack, out, host } = makeStack(spec);
    stack.input(arpRequest(GUEST, GATEWAY), 0);
    out();
    stack.input(tcpFrame(GUEST, GATEWAY, seg({ seq: 1, flags: TCP_SYN })), 0);
    assert.is(out()[0]!.tcp!.flags, TCP_RST | TCP_ACK);
    assert.is(stack.counters.drops[reason], 1);
    assert.is(host.take('tcpConnect').length, 0);
  }
  const lo = makeStack('slirp,loopback=on');
  lo.stack.input(tcpFrame(GUEST, GATEWAY, seg({ seq: 1, flags: TCP_SYN })), 0);
  assert.is(formatIpv4(lo.host.take('tcpConnect')[0]!.addr), '127.0.0.1');
});

test('hostile TCP: urgent pointer past the data, SYN with data, a RST storm, bogus ACKs — counted or ignored, never fatal', () => {
  const { stack, host, out, handle, iss, conn } = established();
  // URG with a pointer far past the segment: the data is delivered as ordinary data (urgent mode is not supported).
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, flags: TCP_ACK | 0x20, urgentPointer: 60000 }), bytes('abc')), 3);
  assert.is(text(host.take('tcpWrite')[0]!.data), 'abc');
  // A SYN inside the connection gets a challenge ACK, not a reset.
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1004, flags: TCP_SYN }), bytes('syn-data')), 4);
  assert.is(out().pop()!.tcp!.flags, TCP_ACK);
  assert.is(conn.state, 'ESTABLISHED');
  // RSTs with wrong sequence numbers: challenge ACKs only.
  for (let i = 0; i < 100; i++) stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 5000 + i * 1000, flags: TCP_RST })), 5);
  assert.is(conn.state, 'ESTABLISHED');
  // ACK of data never sent: an ACK back, state unchanged.
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1004, ack: iss + 100000 })), 6);
  assert.is(conn.state, 'ESTABLISHED');
  assert.is(host.take('tcpClose').length, 0);
  void handle;
});

test('a new SYN carrying data: the data waits for the handshake (not delivered early)', () => {
  const { stack, host, out } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 50, flags: TCP_SYN })), 0, );
  stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 40001, seq: 70, flags: TCP_SYN }), bytes('early')), 0);
  assert.is(host.take('tcpConnect').length, 2);
  assert.is(host.take('tcpWrite').length, 0);
});

test('backpressure from the guest queue: TCP stops at three quarters full and resumes when the guest takes frames', () => {
  const { stack, handle, iss } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, window: 65535 })), 3); // 65535 << 7: an 8 MiB window
  stack.hostTcpData(handle, new Uint8Array(4 << 20), 4);
  // The guest takes frames one by one and acknowledges each (slow start opens the congestion
  // window until the device queue, not the window, is what stops the sender).
  let bytes = 0;
  let most = 0;
  let now = 5;
  for (let f = stack.takeFrame(); f; f = stack.takeFrame()) {
    const d = decode(f);
    bytes += d.tcp!.payload.length;
    most = Math.max(most, stack.pendingFrames);
    stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: (d.tcp!.seq + d.tcp!.payload.length) >>> 0, window: 65535 })), now++);
  }
  assert.is(bytes, 4 << 20, 'all 4 MiB went out');
  assert.ok(most >= 700 && most <= 1024 * 0.75, `the queue filled to three quarters and no further (${most})`);
  assert.is(stack.counters.drops['guest-queue-full'], undefined, 'nothing dropped');
  assert.is(stack.tcp.stats.timeouts, 0, 'no retransmission timeout');
});

test.run();
