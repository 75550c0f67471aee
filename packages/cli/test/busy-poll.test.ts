/**
 * BusyPoll with an injected clock, turn scheduler and run-queue sampler: the window after each
 * kick, the contention back-off (doubling, reset by an uncontended spin), off at 0 and after
 * stop, and the real /proc reading.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BusyPoll, cpusContended } from '../src/index';

/** A fake event loop: `later` queues a turn; `drain` runs turns, advancing the clock by `stepMs` each. */
function fakeLoop(stepMs = 0.01) {
  let now = 0;
  let sampled = 0;
  const queue: Array<() => void> = [];
  const clock = {
    now: () => now,
    later: (fn: () => void) => void queue.push(fn),
    /** Every `1 / contention`-th sample finds the CPUs contended (0: never, 1: always). */
    contended: (): boolean => {
      sampled++;
      return clock.contention > 0 && sampled % Math.round(1 / clock.contention) === 0;
    },
    advance: (ms: number) => (now += ms),
    contention: 0,
    turns: 0,
    /** Runs turns until nothing is queued (at most `max`); returns how many ran. */
    drain(max = 1_000_000): number {
      let n = 0;
      while (queue.length > 0 && n < max) {
        const fn = queue.shift()!;
        now += stepMs;
        fn();
        n++;
      }
      clock.turns += n;
      return n;
    },
    get pending(): number {
      return queue.length;
    },
  };
  return clock;
}

test('spins for the window after the last kick, then sleeps', () => {
  const loop = fakeLoop(0.01);
  const bp = new BusyPoll({ windowUs: 300, now: loop.now, later: loop.later, contended: loop.contended });
  bp.kick();
  assert.ok(bp.active);
  assert.is(loop.pending, 1, 'one turn queued at a time');
  loop.drain(10); // 0.1 ms in
  bp.kick(); // more traffic: the window restarts
  assert.is(loop.pending, 1);
  const n = loop.drain();
  assert.ok(n >= 29 && n <= 31, `about 0.3 ms more of turns (${n})`);
  assert.not.ok(bp.active);
  assert.is(bp.stats.spins, 1);
  bp.kick();
  assert.is(bp.stats.spins, 2, 'a kick after the window starts a new spin');
});

test('contention (more runnable tasks than CPUs) stops spinning and backs off, doubling; an uncontended spin resets it', () => {
  const loop = fakeLoop(0.05);
  const bp = new BusyPoll({ windowUs: 10_000, now: loop.now, later: loop.later, contended: loop.contended });
  loop.contention = 1;
  bp.kick();
  loop.drain();
  assert.is(bp.stats.backoffs, 1, 'stopped at the second contended sample');
  assert.ok(loop.now() < 3, `within about two milliseconds (${loop.now()})`);
  bp.kick();
  assert.not.ok(bp.active, 'backing off: no spin');
  loop.advance(51);
  bp.kick();
  assert.ok(bp.active, 'after 50 ms it tries again');
  loop.drain();
  assert.is(bp.stats.backoffs, 2);
  loop.advance(51);
  bp.kick();
  assert.not.ok(bp.active, 'the second back-off is 100 ms');
  loop.advance(50);
  loop.contention = 0;
  bp.kick();
  assert.ok(bp.active);
  loop.drain();
  assert.is(bp.stats.backoffs, 2, 'no contention: the whole window spun');
  loop.contention = 1;
  bp.kick();
  loop.drain();
  assert.is(bp.stats.backoffs, 3);
  loop.advance(51);
  bp.kick();
  assert.ok(bp.active, 'the uncontended spin reset the back-off to 50 ms');
  bp.stop();
  loop.drain();
  assert.not.ok(bp.active);
});

test('light contention (one sample in four) does not stop it', () => {
  const loop = fakeLoop(0.05);
  const bp = new BusyPoll({ windowUs: 5000, now: loop.now, later: loop.later, contended: loop.contended });
  loop.contention = 0.25;
  bp.kick();
  loop.drain();
  assert.is(bp.stats.backoffs, 0);
  assert.ok(loop.now() >= 5, 'spun the whole window');
});

test('window 0 is off; stop ends a spin; an unknown run-queue state means no back-off', () => {
  const loop = fakeLoop();
  const off = new BusyPoll({ windowUs: 0, now: loop.now, later: loop.later, contended: loop.contended });
  off.kick();
  assert.is(loop.pending, 0);
  assert.is(off.stats.spins, 0);
  const bp = new BusyPoll({ windowUs: 1000, now: loop.now, later: loop.later, contended: () => undefined });
  bp.kick();
  loop.drain(5);
  bp.stop();
  loop.drain();
  assert.not.ok(bp.active);
  bp.kick();
  assert.is(loop.pending, 0, 'no spin after stop');
  assert.is(bp.stats.backoffs, 0);
});

test('cpusContended reads the runnable-task count from /proc/loadavg (Linux)', () => {
  const c = cpusContended();
  assert.ok(c === undefined || typeof c === 'boolean', String(c));
  if (process.platform === 'linux') assert.ok(c !== undefined, '/proc/loadavg is readable on Linux');
});

test('with the real event loop a kick keeps the loop turning for the window, then it stops', async () => {
  const bp = new BusyPoll({ windowUs: 2000 });
  let turns = 0;
  const count = (): void => {
    turns++;
    if (bp.active) setImmediate(count);
  };
  bp.kick();
  setImmediate(count);
  const t0 = performance.now();
  await new Promise<void>((r) => {
    const check = (): void => {
      if (bp.active) setImmediate(check);
      else r();
    };
    setImmediate(check);
  });
  const spent = performance.now() - t0;
  assert.ok(spent >= 1.5 || bp.stats.backoffs > 0, `polled for about the window (${spent.toFixed(2)} ms)`);
  assert.ok(turns > 0);
  bp.stop();
});

test.run();
