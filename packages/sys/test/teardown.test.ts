import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasDevice, isRoot, prerequisite, testWhen } from '@netbe/test-utils';

const child = fileURLToPath(new URL('./fixtures/lifecycle-child.ts', import.meta.url));

interface Counts {
  before: number;
  during: number;
  after?: number;
  mappedBefore?: number;
  mappedAfter?: number;
}

function run(step: string, ...extra: string[]): Counts {
  const flags = step === 'drop-handles' ? ['--expose-gc'] : [];
  const r = spawnSync(process.execPath, [...flags, '-C', '@netbe/source', '--import', 'tsx', child, step, ...extra], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.signal, null, `child killed by ${r.signal}: ${r.stderr}`);
  assert.is(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Counts;
}

test('close everything: /proc/self/fd is back to where it started', () => {
  const c = run('close-all');
  assert.ok(c.during > c.before);
  assert.is(c.after, c.before);
});

testWhen(test, prerequisite([isRoot(), 'needs root'], [hasDevice('/dev/net/tun'), 'needs /dev/net/tun']),
  'close everything with a tap open too', () => {
    const c = run('close-all', '--tap', `nbt${process.pid % 100000}`);
    assert.is(c.after, c.before);
  });

test('exit with watchers started and memory mapped: exit code 0, no crash', () => {
  const c = run('exit-open');
  assert.ok(c.during > c.before);
});

test('handles dropped without closing: finalizers stop the watchers and unmap the memory', () => {
  const c = run('drop-handles');
  assert.is(c.after, c.before);
  assert.is(c.mappedBefore, 1); // the 1 MiB memfd mapping, still referenced
  assert.is(c.mappedAfter, 0); // unmapped by the ArrayBuffer's finalizer after GC
});

test('a worker thread ending with a started watcher and a mapping', () => {
  const c = run('worker');
  assert.is(c.after, c.before);
});

test.run();
