/**
 * The buffers all TCP connections hold together are bounded, whatever the guest or the host
 * servers do: send queues (host data the guest has not acknowledged) by TCP_SEND_BUDGET, receive
 * credit (windows offered to the guest plus host sockets' unwritten backlog) by
 * TCP_RECEIVE_BUDGET. Many connections each able to use its own full buffer would need far more.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_SYN, type TcpRepr } from '@netbe/wire';
import { makeStack } from './helpers/stack';
import { TCP_RCV_BUF } from '../src/tcp-connection';
import { TCP_RECEIVE_BUDGET, TCP_SEND_BUDGET } from '../src/tcp-nat';
import { GATEWAY, GUEST, arpRequest, ip, tcpFrame } from './helpers/guest';

const REMOTE = ip('192.0.2.10');
const CONNECTIONS = 64; // 64 × 1 MiB windows, 64 × 2 MiB send queues: twice each budget
const seg = (o: Partial<TcpRepr>): TcpRepr => ({ srcPort: 40000, dstPort: 80, seq: 0, ack: 0, flags: TCP_ACK, window: 65535, ...o });

/** `CONNECTIONS` established connections; each guest offers an 8 MiB window (wscale 7). */
function manyConnections() {
  const t = makeStack();
  // A host socket that never reads: every byte written stays in its backlog.
  const backlog = new Map<number, number>();
  t.host.tcpWrite = (handle: number, data: Uint8Array): number => {
    const b = (backlog.get(handle) ?? 0) + data.length;
    backlog.set(handle, b);
    return b;
  };
  t.stack.input(arpRequest(GUEST, GATEWAY), 0);
  t.out();
  for (let i = 0; i < CONNECTIONS; i++) {
    t.stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: 20000 + i, seq: 1000, flags: TCP_SYN, options: { mss: 1460, windowScale: 7 } })), 0);
  }
  for (const c of t.host.take('tcpConnect')) t.stack.hostTcpConnected(c.handle, 1);
  for (const d of t.out()) {
    if (d.tcp?.flags !== (TCP_SYN | TCP_ACK)) continue;
    t.stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: d.tcp.dstPort, seq: 1001, ack: d.tcp.seq + 1 })), 2);
  }
  const conns = t.stack.tcp.list();
  assert.is(conns.length, CONNECTIONS);
  assert.ok(conns.every((c) => c.state === 'ESTABLISHED'));
  t.out();
  return { ...t, conns, backlog };
}

test('guests sending into host sockets that never read hold no more than TCP_RECEIVE_BUDGET together, shared fairly; credit of closed connections goes to the others', () => {
  const { stack, out, conns, backlog, host } = manyConnections();
  assert.ok(CONNECTIONS * TCP_RCV_BUF > TCP_RECEIVE_BUDGET, 'the connections could hold more than the budget alone');
  const payload = new Uint8Array(1400);
  // A hostile guest: sends at RCV.NXT over and over, whatever window it was offered.
  for (const c of conns) {
    for (let k = 0; k < TCP_RCV_BUF / payload.length + 20; k++) {
      stack.input(tcpFrame(GUEST, REMOTE, seg({ srcPort: c.guestPort, seq: c.rcvNxt, ack: c.sndNxt }), payload), 3);
    }
  }
  out();
  const held = [...backlog.values()].reduce((a, b) => a + b, 0);
  assert.ok(held <= TCP_RECEIVE_BUDGET, `host backlogs ${held} within the budget ${TCP_RECEIVE_BUDGET}`);
  assert.ok(held >= TCP_RECEIVE_BUDGET - CONNECTIONS * payload.length, `and the budget is used (${held})`);
  assert.ok(stack.tcp.receiveCredit <= TCP_RECEIVE_BUDGET, `credit ${stack.tcp.receiveCredit}`);
  assert.ok((stack.counters.drops['tcp-out-of-window'] ?? 0) > 0, 'the rest was refused and counted');
  assert.ok(stack.counters.tcpReceiveCreditWaits > 0, 'connections waited for credit');
  // Shared fairly: no connection starves, none holds more than its share.
  const share = TCP_RECEIVE_BUDGET / CONNECTIONS;
  for (const c of conns) {
    const b = backlog.get(c.handle) ?? 0;
    assert.ok(b >= share / 2 && b <= share + payload.length, `connection ${c.guestPort} holds ${b} (share ${share})`);
  }
  // Half the connections close: their credit returns and the others are offered larger windows.
  const closing = conns.slice(0, CONNECTIONS / 2);
  const staying = conns.slice(CONNECTIONS / 2);
  for (const c of closing) stack.hostTcpClosed(c.handle, 'ECONNRESET', 4);
  const updates = out().filter((d) => d.tcp && d.tcp.flags === TCP_ACK && staying.some((c) => c.guestPort === d.tcp!.dstPort));
  assert.ok(updates.length >= staying.length / 2, `window updates to waiting connections (${updates.length})`);
  for (const d of updates) {
    const c = staying.find((x) => x.guestPort === d.tcp!.dstPort)!;
    assert.ok((d.tcp!.window << 5) > TCP_RCV_BUF - (backlog.get(c.handle) ?? 0) - share, 'a window larger than the share left them');
  }
  assert.ok(stack.tcp.receiveCredit <= TCP_RECEIVE_BUDGET, `credit ${stack.tcp.receiveCredit}`);
  // Closing every connection returns all credit.
  for (const c of conns) stack.hostTcpClosed(c.handle, 'ECONNRESET', 5);
  out();
  assert.is(stack.tcp.receiveCredit, 0, 'all credit returned');
  host.take('tcpWrite');
});

test('host servers streaming to guests that never acknowledge fill no more than TCP_SEND_BUDGET; released queues resume the paused readers', () => {
  const { stack, out, conns, host } = manyConnections();
  const chunk = new Uint8Array(256 * 1024);
  const paused = new Set<number>();
  // Each host socket delivers until the stack pauses it (as a real socket stops reading).
  for (let round = 0; round < 16; round++) {
    for (const c of conns) if (!paused.has(c.handle)) stack.hostTcpData(c.handle, chunk, 3);
    for (const p of host.take('tcpPause')) (p.paused ? paused.add(p.handle) : paused.delete(p.handle));
  }
  out();
  const queued = conns.reduce((a, c) => a + c.sendQueue.length, 0);
  assert.is(stack.tcp.sendQueueBytes, queued, 'the shared count matches the queues');
  assert.ok(queued <= TCP_SEND_BUDGET + CONNECTIONS * chunk.length, `send queues ${queued} within the budget plus one read each`);
  assert.ok(queued >= TCP_SEND_BUDGET, `and the budget is used (${queued})`);
  assert.is(paused.size, CONNECTIONS, 'every reader paused');
  assert.ok(stack.counters.tcpSendBudgetWaits > 0, 'readers waited for the shared budget');
  // Half the connections end: their queues are released, and the other readers resume.
  const staying = conns.slice(CONNECTIONS / 2);
  for (const c of conns.slice(0, CONNECTIONS / 2)) stack.hostTcpClosed(c.handle, 'ECONNRESET', 4);
  out();
  assert.ok(stack.tcp.sendQueueBytes < queued, 'released bytes left the count');
  const resumed = host.take('tcpPause').filter((p) => !p.paused);
  assert.ok(resumed.length > 0 && resumed.every((p) => staying.some((c) => c.handle === p.handle)), `paused readers resumed (${resumed.length})`);
  for (const c of conns) stack.hostTcpClosed(c.handle, 'ECONNRESET', 5);
  out();
  assert.is(stack.tcp.sendQueueBytes, 0, 'all queued bytes released');
});

test.run();
