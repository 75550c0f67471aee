import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { withTimeout, sleep } from '@netbe/test-utils';
import { sys } from '../src/index';
import { throwsType } from './helpers';

/** Lets the loop turn a few times (setImmediate runs after the poll phase). */
async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

test('readable fires while data waits (level-triggered), stops when drained', async () => {
  const [a, b] = sys.socketpair();
  let calls = 0;
  const w = sys.watcherCreate(b, (err, events) => {
    assert.is(err, null);
    assert.ok(events & sys.READABLE);
    calls++;
  });
  sys.watcherStart(w, sys.READABLE);
  await turns(3);
  assert.is(calls, 0);
  sys.write(a, new Uint8Array([1]));
  await withTimeout(2000, async () => { while (calls < 3) await turns(1); }, 'three readiness calls without draining');
  sys.read(b, new Uint8Array(4));
  await turns(2);
  const settled = calls;
  await turns(5);
  assert.is(calls, settled);
  sys.watcherClose(w);
  sys.close(a);
  sys.close(b);
});

test('stop: no callback until start again; writable reports', async () => {
  const [a, b] = sys.socketpair();
  let reads = 0;
  let writes = 0;
  const w = sys.watcherCreate(b, (_err, events) => {
    if (events & sys.READABLE) reads++;
    if (events & sys.WRITABLE) writes++;
  });
  sys.write(a, new Uint8Array([1]));
  sys.watcherStart(w, sys.READABLE);
  sys.watcherStop(w);
  await turns(5);
  assert.is(reads, 0);
  sys.watcherStart(w, sys.WRITABLE);
  await withTimeout(2000, async () => { while (writes === 0) await turns(1); }, 'writable');
  assert.is(reads, 0);
  sys.watcherStart(w, sys.READABLE);
  await withTimeout(2000, async () => { while (reads === 0) await turns(1); }, 'readable');
  sys.watcherClose(w);
  sys.watcherClose(w); // idempotent
  sys.watcherStop(w); // harmless after close
  assert.throws(() => sys.watcherStart(w, sys.READABLE), /EBADF|closed/);
  sys.close(a);
  sys.close(b);
});

test('stopping from inside the callback holds', async () => {
  const [a, b] = sys.socketpair();
  let calls = 0;
  const w = sys.watcherCreate(b, () => {
    calls++;
    sys.watcherStop(w);
  });
  sys.write(a, new Uint8Array([1]));
  sys.watcherStart(w, sys.READABLE);
  await withTimeout(2000, async () => { while (calls === 0) await turns(1); }, 'callback');
  await turns(5);
  await sleep(5);
  assert.is(calls, 1);
  sys.watcherClose(w);
  sys.close(a);
  sys.close(b);
});

test('microtasks queued by the callback run right after it', async () => {
  const [a, b] = sys.socketpair();
  const order: string[] = [];
  const w = sys.watcherCreate(b, () => {
    sys.watcherStop(w);
    order.push('callback');
    void Promise.resolve().then(() => order.push('microtask'));
  });
  setImmediate(() => order.push('immediate'));
  sys.write(a, new Uint8Array([1]));
  sys.watcherStart(w, sys.READABLE);
  await withTimeout(2000, async () => { while (order.length < 3) await turns(1); }, 'callbacks');
  assert.equal(order.slice(order.indexOf('callback'), order.indexOf('callback') + 2), ['callback', 'microtask']);
  sys.watcherClose(w);
  sys.close(a);
  sys.close(b);
});

test('starting a watcher whose fd was closed throws EBADF instead of aborting in libuv', () => {
  const [a, b] = sys.socketpair();
  const w = sys.watcherCreate(b, () => {});
  sys.close(b);
  assert.throws(() => sys.watcherStart(w, sys.READABLE), (e: Error & { code?: string }) => e.code === 'EBADF');
  sys.watcherClose(w);
  sys.close(a);
});

test('argument validation', () => {
  throwsType(() => sys.watcherCreate(0, 'x' as never), /callback/);
  throwsType(() => sys.watcherCreate(-1, () => {}), /fd/);
  throwsType(() => sys.watcherStart({} as never, 1), /watcherCreate/);
  throwsType(() => sys.watcherStop(null as never), /watcherCreate/);
  const [a, b] = sys.socketpair();
  const w = sys.watcherCreate(a, () => {});
  throwsType(() => sys.watcherStart(w, 0), /events/);
  throwsType(() => sys.watcherStart(w, 8), /events/);
  sys.watcherClose(w);
  sys.close(a);
  sys.close(b);
});

test.run();
