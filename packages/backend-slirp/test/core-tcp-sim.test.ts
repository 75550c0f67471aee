/**
 * Deterministic TCP transfers through the sans-I/O stack with a seeded lossy, reordering link
 * (smoltcp's netsim idea): a scripted guest TCP on one side, the fake host on the other, virtual
 * time driven by the stack's deadlines. Every byte must arrive once, in order, whatever is lost.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TCP_ACK, TCP_FIN, TCP_SYN } from '@netbe/wire';
import { makeStack } from './helpers/stack';
import { TCP_WSCALE } from '../src/tcp-connection';
import { GATEWAY, GUEST, arpRequest, ip, tcpFrame, type Decoded } from './helpers/guest';

const REMOTE = ip('192.0.2.10');

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 0x100000000;
  };
}

function payloadOf(n: number, seed: number): Uint8Array {
  const r = rng(seed);
  return Uint8Array.from({ length: n }, () => (r() * 256) | 0);
}

function connect(t: ReturnType<typeof makeStack>, guestPort: number) {
  t.stack.input(arpRequest(GUEST, GATEWAY), 0);
  t.out();
  t.stack.input(tcpFrame(GUEST, REMOTE, { srcPort: guestPort, dstPort: 80, seq: 1000, ack: 0, flags: TCP_SYN, window: 65535, options: { mss: 1460, windowScale: 4 } }), 0);
  const [c] = t.host.take('tcpConnect');
  t.stack.hostTcpConnected(c!.handle, 0);
  const synAck = t.out()[0]!.tcp!;
  t.stack.input(tcpFrame(GUEST, REMOTE, { srcPort: guestPort, dstPort: 80, seq: 1001, ack: synAck.seq + 1, flags: TCP_ACK, window: 4096 }), 0);
  return { handle: c!.handle, iss: synAck.seq };
}

for (const [loss, seed] of [[0, 1], [0.05, 2], [0.2, 3]] as const) {
  test(`host → guest, 400 KiB, ${loss * 100}% loss both ways with reordering (seed ${seed})`, () => {
    const t = makeStack();
    const { handle, iss } = connect(t, 5000 + seed);
    const r = rng(seed * 7919);
    const data = payloadOf(400 * 1024, seed);
    const got: number[] = [];
    let rcvNxt = (iss + 1) >>> 0;
    let now = 0;
    let fed = 0;
    let paused = false;
    const win = 64 * 1024 >> 4; // guest window 64 KiB at scale 4
    const held: Decoded[] = [];
    for (let step = 0; step < 200_000 && got.length < data.length; step++) {
      for (const c of t.host.take('tcpPause')) paused = c.paused;
      if (!paused && fed < data.length) {
        const n = Math.min(16384, data.length - fed);
        t.stack.hostTcpData(handle, data.subarray(fed, fed + n), now);
        fed += n;
      }
      const frames = [...held.splice(0), ...t.out()];
      if (frames.length === 0) {
        now = Math.max(now + 1, t.stack.poll(now)); // nothing in flight: jump to the next deadline
        t.stack.poll(now);
        continue;
      }
      // Reorder: occasionally swap neighbours; hold one frame back for the next round.
      if (loss > 0 && frames.length > 1 && r() < 0.3) frames.reverse();
      if (loss > 0 && frames.length > 1 && r() < 0.2) held.push(frames.pop()!);
      for (const d of frames) {
        if (!d.tcp || r() < loss) continue;
        const off = (d.tcp.seq - rcvNxt) | 0;
        const p = d.tcp.payload;
        if (off <= 0 && off + p.length > 0) {
          for (let i = -off; i < p.length; i++) got.push(p[i]!);
          rcvNxt = (rcvNxt + p.length + off) >>> 0;
        }
        if (r() >= loss) t.stack.input(tcpFrame(GUEST, REMOTE, { srcPort: 5000 + seed, dstPort: 80, seq: 1001, ack: rcvNxt, flags: TCP_ACK, window: win }), now);
      }
      now += 1;
    }
    assert.is(got.length, data.length, 'every byte arrived');
    assert.ok(got.every((b, i) => b === data[i]), 'in order, unchanged');
    const conn = t.stack.tcp.connection(handle)!;
    assert.is(conn.state, 'ESTABLISHED');
  });

  test(`guest → host, 300 KiB, ${loss * 100}% loss both ways with reordering (seed ${seed})`, () => {
    const t = makeStack();
    const port = 6000 + seed;
    const { iss } = connect(t, port);
    const r = rng(seed * 104729);
    const data = payloadOf(300 * 1024, seed + 100);
    let una = 0; // guest send state, as offsets into data (guest ISN 1001)
    let nxt = 0;
    let wnd = 4096;
    let now = 0;
    let rto = now + 200;
    const written: Uint8Array[] = [];
    let total = 0;
    for (let step = 0; step < 200_000 && una < data.length; step++) {
      // The guest sends what its window allows (MSS 1460), unless a segment is lost on the way.
      const segs: Uint8Array[] = [];
      while (nxt < data.length && nxt - una < wnd) {
        const n = Math.min(1460, data.length - nxt, wnd - (nxt - una));
        segs.push(tcpFrame(GUEST, REMOTE, { srcPort: port, dstPort: 80, seq: (1001 + nxt) >>> 0, ack: iss + 1, flags: TCP_ACK, window: 65535 }, data.subarray(nxt, nxt + n)));
        nxt += n;
      }
      if (loss > 0 && segs.length > 1 && r() < 0.3) segs.reverse();
      for (const s of segs) if (r() >= loss) t.stack.input(s, now);
      for (const w of t.host.take('tcpWrite')) {
        written.push(w.data);
        total += w.data.length;
      }
      for (const d of t.out()) {
        if (!d.tcp || r() < loss) continue; // lost ACK
        const acked = ((d.tcp.ack - 1001) >>> 0);
        if (acked > una && acked <= nxt) {
          una = acked;
          rto = now + 200;
        }
        wnd = d.tcp.window << TCP_WSCALE; // our window scale toward the guest
      }
      now += 5;
      if (now >= rto && una < nxt) {
        nxt = una; // guest retransmission timeout: go back
        rto = now + 200;
      }
      t.stack.poll(now);
    }
    assert.is(una, data.length, 'the stack acknowledged everything');
    assert.is(total, data.length, 'every byte written to the host once');
    const joined = new Uint8Array(total);
    let at = 0;
    for (const w of written) {
      joined.set(w, at);
      at += w.length;
    }
    assert.ok(joined.every((b, i) => b === data[i]), 'in order, unchanged');
    // The guest closes; the stack half-closes the host side.
    t.stack.input(tcpFrame(GUEST, REMOTE, { srcPort: port, dstPort: 80, seq: (1001 + data.length) >>> 0, ack: iss + 1, flags: TCP_ACK | TCP_FIN, window: 65535 }), now);
    assert.is(t.host.take('tcpShutdown').length, 1);
  });
}

test.run();
