/**
 * Acceptance for the guest-facing TCP under the deterministic simulator (test/helpers/tcp-sim.ts):
 * a model guest TCP over a seeded link with loss, reordering, duplication and 5 ms one-way delay;
 * virtual time only (no wall-clock assertions). Every transfer must deliver every byte in order
 * and close cleanly; the efficiency checks count virtual RTOs and timeouts, not seconds.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { concat, payloadOf, sameBytes, simulate, type GuestSpec } from './helpers/tcp-sim';

const MIB = 1 << 20;
const RTO_MIN = 200; // the stack's minimum RTO (ms, virtual)
const full: GuestSpec = { sack: true, timestamps: true, windowScale: 7 };
const plain: GuestSpec = { windowScale: 7 }; // no SACK, no timestamps: NewReno on the stack's side

function run(dir: 'to-guest' | 'to-host', loss: number, guest: GuestSpec, seed: number, size = MIB) {
  const data = payloadOf(size, seed);
  const res = simulate({
    seed,
    link: { loss, reorder: loss, duplicate: loss / 2, delay: 5 },
    guest,
    toGuest: dir === 'to-guest' ? data : undefined,
    toHost: dir === 'to-host' ? data : undefined,
  });
  const got = dir === 'to-guest' ? concat(res.guest.received) : res.hostWritten;
  return { ...res, data, got, stats: res.t.stack.tcp.stats, drops: res.t.stack.counters.drops };
}

for (const loss of [0, 0.01, 0.05]) {
  for (const dir of ['to-guest', 'to-host'] as const) {
    for (const [name, guest] of [['SACK+timestamps', full], ['plain', plain]] as const) {
      test(`${dir}, 1 MiB, ${loss * 100}% loss + reordering + duplication, ${name} guest: exact bytes, clean close`, () => {
        const r = run(dir, loss, guest, 17 + Math.round(loss * 1000));
        assert.is(r.got.length, r.data.length, 'every byte arrived');
        assert.ok(sameBytes(r.got, r.data), 'in order and unchanged');
        assert.not.ok(r.guest.rstReceived, 'no reset');
        assert.ok(r.guest.finReceived && r.guest.finAcked, 'FIN both ways');
        if (dir === 'to-host') assert.ok(r.shutdown, 'the host socket was half-closed after the data');
        const c = r.t.stack.tcp.connection(r.handle);
        assert.ok(!c || c.state === 'TIME_WAIT' || c.state === 'CLOSED', `closed (${c?.state})`);
        assert.ok(r.t.stack.tcp.reorderBytes === 0 || (c !== undefined && c.reorder.bytes === r.t.stack.tcp.reorderBytes), 'reorder budget accounted');
        if (loss === 0) {
          assert.is(r.stats.timeouts, 0);
          assert.is(r.stats.recoveryRetransmits, 0, 'nothing retransmitted on a clean link');
        }
      });
    }
  }
}

test('efficiency: with SACK + fast retransmit, 1 MiB at 1% loss toward the guest needs no timeout and under 5 virtual minimum RTOs of extra time', () => {
  const clean = run('to-guest', 0, full, 5);
  const sack = run('to-guest', 0.01, full, 5);
  const plainRun = run('to-guest', 0.01, plain, 5);
  assert.ok(sameBytes(sack.got, sack.data) && sameBytes(plainRun.got, plainRun.data));
  assert.ok(sack.stats.fastRetransmits >= 1, 'losses were repaired by fast retransmit');
  assert.ok(sack.stats.sackBlocksReceived > 0, 'the guest SACK blocks were used');
  assert.is(sack.stats.timeouts, 0, `no retransmission timeout (${JSON.stringify(sack.stats)})`);
  assert.ok(sack.now - clean.now < 5 * RTO_MIN, `loss cost ${sack.now - clean.now} ms of virtual time over the clean run (${clean.now} ms)`);
  assert.ok(sack.stats.timeouts <= plainRun.stats.timeouts, `SACK needs no more timeouts (${sack.stats.timeouts}) than NewReno alone (${plainRun.stats.timeouts})`);
});

test('efficiency: at 5% loss toward the guest, most losses are repaired by fast recovery, not timeouts', () => {
  const r = run('to-guest', 0.05, full, 9);
  assert.ok(sameBytes(r.got, r.data));
  // About 36 of ~725 segments are lost; a timeout is left for lost retransmissions and tail losses (no RACK-TLP).
  assert.ok(r.stats.fastRetransmits > 2 * r.stats.timeouts, JSON.stringify(r.stats));
  assert.ok(r.stats.timeouts <= 12, `timeouts ${r.stats.timeouts}`);
});

test('efficiency: guest → host at 5% loss, the reorder queue keeps what arrives past a hole (no go-back-N)', () => {
  const r = run('to-host', 0.05, full, 21);
  assert.ok(sameBytes(r.got, r.data));
  assert.ok(r.stats.outOfOrderSegments > 0);
  assert.is(r.drops['tcp-reorder-full'], undefined, 'the queue never overflowed');
  // The guest retransmits about as many segments as were lost, not whole windows.
  const segments = Math.ceil(MIB / 1448);
  assert.ok(r.guest.retransmits < segments * 0.1, `guest retransmission events ${r.guest.retransmits}`);
});

test('both directions at once at 1% loss, SACK guest', () => {
  const a = payloadOf(512 * 1024, 31);
  const b = payloadOf(512 * 1024, 32);
  const r = simulate({ seed: 33, link: { loss: 0.01, reorder: 0.01, duplicate: 0.005, delay: 5 }, guest: full, toGuest: a, toHost: b });
  assert.ok(sameBytes(concat(r.guest.received), a));
  assert.ok(sameBytes(r.hostWritten, b));
  assert.ok(r.guest.finReceived && r.guest.finAcked);
});

test('a slow guest window (8 KiB) bounds what is in flight and still delivers everything', () => {
  const data = payloadOf(256 * 1024, 41);
  const r = simulate({ seed: 41, link: { loss: 0.01, reorder: 0, duplicate: 0, delay: 5 }, guest: { ...full, window: 8192 }, toGuest: data });
  assert.ok(sameBytes(concat(r.guest.received), data));
});

test.run();
