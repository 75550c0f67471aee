/**
 * RFC 9293 state-machine cases beyond the basics in core-tcp.test.ts: half-close both ways,
 * simultaneous close, zero-window flow control coupled to the host socket, host-side errors
 * becoming RST or ICMP toward the guest.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ICMP_DEST_UNREACHABLE, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, get16, type TcpRepr } from '@netbe/wire';
import { makeStack } from './helpers/stack';
import { TCP_RCV_BUF, TCP_WSCALE } from '../src/tcp-connection';
import { GATEWAY, GUEST, arpRequest, bytes, ip, tcpFrame, text } from './helpers/guest';

const REMOTE = ip('192.0.2.10');
const seg = (o: Partial<TcpRepr>): TcpRepr => ({ srcPort: 40000, dstPort: 80, seq: 0, ack: 0, flags: TCP_ACK, window: 65535, ...o });

function established() {
  const t = makeStack();
  t.stack.input(arpRequest(GUEST, GATEWAY), 0);
  t.out();
  t.stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1000, flags: TCP_SYN, options: { mss: 1460, windowScale: 2 } })), 0);
  const [c] = t.host.take('tcpConnect');
  t.stack.hostTcpConnected(c!.handle, 1);
  const sa = t.out()[0]!.tcp!;
  t.stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: sa.seq + 1, window: 16384 })), 2);
  const conn = t.stack.tcp.connection(c!.handle)!;
  return { ...t, handle: c!.handle, iss: sa.seq, conn };
}

test('half-close by the guest: CLOSE-WAIT, the host keeps sending, the guest keeps acknowledging', () => {
  const { stack, host, out, handle, iss, conn } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_FIN })), 3);
  assert.is(conn.state, 'CLOSE_WAIT');
  assert.is(host.take('tcpShutdown').length, 1, 'the host socket is half-closed (shutdown), not closed');
  assert.is(host.take('tcpClose').length, 0);
  out();
  for (let i = 0; i < 5; i++) {
    stack.hostTcpData(handle, bytes(`chunk${i}`), 4 + i);
    const [d] = out();
    assert.is(text(d!.tcp!.payload), `chunk${i}`);
    stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1002, ack: (d!.tcp!.seq + 6) >>> 0 })), 4 + i);
  }
  assert.is(conn.state, 'CLOSE_WAIT');
  stack.hostTcpEnd(handle, 20);
  assert.is(conn.state, 'LAST_ACK');
  const fin = out()[0]!.tcp!;
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1002, ack: (fin.seq + 1) >>> 0 })), 21);
  assert.is(conn.state, 'CLOSED');
});

test('half-close by the host: FIN-WAIT-2, the guest keeps sending and its data reaches the host', () => {
  const { stack, host, out, handle, iss, conn } = established();
  stack.hostTcpEnd(handle, 3);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 2 })), 4);
  assert.is(conn.state, 'FIN_WAIT_2');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 2, flags: TCP_ACK | TCP_PSH }), bytes('still talking')), 5);
  assert.is(text(host.take('tcpWrite')[0]!.data), 'still talking');
  assert.is(out()[0]!.tcp!.ack, 1001 + 13);
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1014, ack: iss + 2, flags: TCP_ACK | TCP_FIN })), 6);
  assert.is(conn.state, 'TIME_WAIT');
  stack.poll(6 + 10_000);
  assert.is(conn.state, 'CLOSED');
});

test('simultaneous close: FINs cross → CLOSING → TIME-WAIT (RFC 9293 §3.6 figure 13)', () => {
  const { stack, out, handle, iss, conn } = established();
  stack.hostTcpEnd(handle, 3);
  const ourFin = out()[0]!.tcp!;
  assert.ok(ourFin.flags & TCP_FIN);
  assert.is(conn.state, 'FIN_WAIT_1');
  // The guest's FIN, sent before it saw ours (it acknowledges only our SYN).
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_FIN })), 4);
  assert.is(conn.state, 'CLOSING');
  assert.is(out()[0]!.tcp!.ack, 1002, 'its FIN acknowledged');
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1002, ack: iss + 2 })), 5);
  assert.is(conn.state, 'TIME_WAIT');
  // A retransmitted FIN in TIME-WAIT is acknowledged again.
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 2, flags: TCP_ACK | TCP_FIN })), 6);
  assert.is(out().pop()!.tcp!.ack, 1002);
  stack.poll(5 + 10_000);
  assert.is(conn.state, 'CLOSED');
});

test('a lost FIN is retransmitted on the RTO', () => {
  const { stack, out, handle, conn } = established();
  stack.hostTcpEnd(handle, 3);
  const fin = out()[0]!.tcp!;
  stack.poll(stack.poll(3));
  const again = out()[0]!.tcp!;
  assert.ok(again.flags & TCP_FIN);
  assert.is(again.seq, fin.seq);
  assert.is(conn.state, 'FIN_WAIT_1');
});

test('zero window: probes keep the connection alive, the host socket pauses, and resumes when the window opens', () => {
  const { stack, host, out, handle, iss, conn } = established();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, window: 0 })), 3);
  out();
  stack.hostTcpData(handle, new Uint8Array(100 * 1024), 4);
  assert.is(out().length, 0, 'nothing into a closed window');
  assert.equal(host.take('tcpPause').map((p) => p.paused), [true], 'host reads paused while the guest window is closed');
  let now = 4;
  for (let i = 0; i < 20; i++) {
    now = stack.poll(now); // the next deadline: the persist timer
    stack.poll(now);
    const probes = out();
    assert.is(probes.length, 1);
    assert.is(probes[0]!.tcp!.payload.length, 1, 'a one-byte probe');
    stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, window: 0 })), now);
  }
  assert.is(conn.state, 'ESTABLISHED', 'probing does not count as retransmission failure');
  // The guest opens its window and takes everything.
  let acked = (iss + 1) >>> 0;
  for (let guard = 0; guard < 1000 && conn.sendQueue.length > 0; guard++) {
    stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: acked, window: 16384 })), ++now);
    for (const d of out()) acked = Math.max(acked, (d.tcp!.seq + d.tcp!.payload.length) >>> 0);
  }
  assert.is(conn.sendQueue.length, 0);
  assert.equal(host.take('tcpPause').map((p) => p.paused), [false], 'host reads resumed');
});

test('the advertised window shrinks while the host socket is slow and reopens when it drains', () => {
  const { stack, host, out, iss, handle } = established();
  host.buffered = TCP_RCV_BUF - 1024;
  stack.input(tcpFrame(GUEST, REMOTE, seg({ seq: 1001, ack: iss + 1, flags: TCP_ACK | TCP_PSH }), new Uint8Array(1000)), 3);
  const w = out()[0]!.tcp!.window << TCP_WSCALE;
  assert.ok(w <= 1024 + (1 << TCP_WSCALE), `window ${w} reflects the host backlog`);
  stack.hostTcpDrained(handle, 0, 4);
  assert.ok((out()[0]!.tcp!.window << TCP_WSCALE) >= TCP_RCV_BUF - 6 * 1024, 'a window update when the host drained (SWS avoidance: from below 2 MSS)');
});

test('host connect refused → RST; host unreachable → ICMP destination unreachable quoting the SYN', () => {
  const { stack, host, out } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 41000, seq: 5, flags: TCP_SYN })), 0);
  stack.hostTcpClosed(host.take('tcpConnect')[0]!.handle, 'ECONNREFUSED', 1);
  assert.is(out()[0]!.tcp!.flags, TCP_RST | TCP_ACK);
  for (const [err, code] of [['EHOSTUNREACH', 1], ['ENETUNREACH', 0]] as const) {
    stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 41001 + code, seq: 77, flags: TCP_SYN })), 2);
    stack.hostTcpClosed(host.take('tcpConnect')[0]!.handle, err, 3);
    const [d] = out();
    assert.ok(d!.icmp, `${err}: ICMP, not RST`);
    assert.is(d!.icmp!.type, ICMP_DEST_UNREACHABLE);
    assert.is(d!.icmp!.code, code);
    assert.is(d!.ip!.src, REMOTE);
    const q = d!.icmp!.data;
    assert.is(get16(q, 20), 41001 + code, 'quoted source port');
    assert.is(get16(q, 22), 80);
  }
  assert.is(stack.tcp.size, 0);
});

test.run();
