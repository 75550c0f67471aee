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

// A guest that negotiated GUEST_CSUM + GUEST_TSO4: the stack sends segments of up to 64 KiB with
// partial checksums; the simulated NIC cuts them at gso_size (losses then hit single segments, so
// holes open inside a TSO segment and retransmissions may be TSO segments too).
for (const loss of [0, 0.01, 0.05]) {
  for (const [name, guest, mss] of [['SACK+timestamps', full, 1448], ['plain', plain, 1460]] as const) {
    test(`to-guest with TSO, 1 MiB, ${loss * 100}% loss + reordering + duplication, ${name} guest: exact bytes, GSO fields right`, () => {
      const data = payloadOf(MIB, 61 + Math.round(loss * 1000));
      const r = simulate({ seed: 61, link: { loss, reorder: loss, duplicate: loss / 2, delay: 5 }, guest, toGuest: data, tso: true });
      const got = concat(r.guest.received);
      assert.is(got.length, data.length, 'every byte arrived');
      assert.ok(sameBytes(got, data), 'in order and unchanged');
      assert.ok(r.guest.finReceived && r.guest.finAcked, 'FIN both ways');
      assert.equal(r.tso.errors, [], 'every offloaded frame well formed');
      assert.ok(r.tso.gsoFrames > 0, 'GSO frames were sent');
      assert.equal([...r.tso.gsoSizes], [mss], 'gso_size is the MSS less the options each segment carries');
      assert.ok(r.tso.maxSegmentIpLen <= 1500, 'no segment over the MTU once cut');
      assert.ok(r.tso.maxGsoPayload <= 65535 - 20 - 32 && r.tso.maxGsoPayload % mss === 0, `largest GSO payload ${r.tso.maxGsoPayload} is whole segments`);
      if (loss === 0) {
        const stats = r.t.stack.tcp.stats;
        assert.is(stats.timeouts + stats.recoveryRetransmits, 0, 'nothing retransmitted on a clean link');
        assert.ok(r.tso.gsoSegments >= Math.floor(MIB / mss) - r.tso.partialFrames, 'the data went in GSO frames');
        // The model guest ACKs every segment, so the ACK clock frees a segment or two at a time: TSO
        // deferral waits for a third of the window rather than sending each sliver as its own frame.
        assert.ok(r.tso.gsoFrames * 16 < r.tso.gsoSegments, `${r.tso.gsoFrames} frames for ${r.tso.gsoSegments} segments: many per frame`);
      }
    });
  }
}

test('to-guest with TSO and a slow guest window (8 KiB): segments shrink to the window, everything arrives', () => {
  const data = payloadOf(256 * 1024, 71);
  const r = simulate({ seed: 71, link: { loss: 0.01, reorder: 0, duplicate: 0, delay: 5 }, guest: { ...full, window: 8192 }, toGuest: data, tso: true });
  assert.ok(sameBytes(concat(r.guest.received), data));
  assert.equal(r.tso.errors, []);
  assert.ok(r.tso.maxGsoPayload <= 8192, `largest GSO payload ${r.tso.maxGsoPayload}`);
});

test.run();
