/**
 * The in-process benchmark suites still run and report what they promise: every suite ends with
 * exit code 0 and prints, with --json, one well-formed result per case (a positive value, a
 * reference measured in the same run). Rounds are cut to a few milliseconds: this checks that
 * the benchmarks work, never how fast anything is (benchmarks are not tests).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Line {
  bench: string;
  value?: number;
  unit?: string;
  ref?: { name: string; value: number; unit: string };
  ratio?: number;
  note?: string;
}

function runSuite(suite: string, env: Record<string, string> = {}): Line[] {
  const r = spawnSync(process.execPath, ['-C', '@netbe/source', '--import', 'tsx', 'benchmarks/run.ts', suite, '--json'], {
    cwd: root,
    env: { ...process.env, NETBE_BENCH_MS: '5', NETBE_BENCH_ROUNDS: '1', ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.is(r.status, 0, `${suite} exited with ${r.status}: ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l.startsWith('{'));
  return lines.map((l) => JSON.parse(l) as Line);
}

/** The results (not the notes) of a suite, by case name, each checked for shape. */
function results(suite: string, lines: Line[]): Map<string, Line> {
  const out = new Map<string, Line>();
  for (const l of lines) {
    if (l.note !== undefined) continue;
    assert.ok(l.bench.startsWith(`${suite}/`), l.bench);
    assert.ok(typeof l.value === 'number' && l.value > 0, `${l.bench}: value ${l.value}`);
    assert.ok(l.unit === 'Mpps' || l.unit === 'Gbit/s', `${l.bench}: unit ${l.unit}`);
    assert.ok(l.ref !== undefined && l.ref.value > 0 && l.ref.name.length > 0, `${l.bench}: reference`);
    assert.ok(typeof l.ratio === 'number' && l.ratio > 0, `${l.bench}: ratio`);
    out.set(l.bench.slice(suite.length + 1), l);
  }
  return out;
}

test('virtio-net: every case of the issue (TX and RX at 64 B, 1500 B, 64 KiB) in Mpps and Gbit/s, and the scatter-memcpy ceiling', () => {
  const lines = runSuite('virtio-net');
  const r = results('virtio-net', lines);
  for (const dir of ['tx', 'rx']) {
    for (const size of [64, 1500, 65536]) {
      for (const unit of ['pps', 'bps']) assert.ok(r.has(`${dir}-${size}/${unit}`), `${dir}-${size}/${unit} missing`);
    }
  }
  assert.is(r.get('rx-65536-vs-scatter-memcpy/pps')?.ref?.name, 'scatter-memcpy');
  assert.ok(lines.some((l) => l.note?.includes('scatter-memcpy alone runs at')), 'the ceiling note');
});

test('virtio-net: NETBE_BENCH_CASES runs only the named cases', () => {
  const r = results('virtio-net', runSuite('virtio-net', { NETBE_BENCH_CASES: 'tx-64,rx-1500' }));
  assert.equal([...r.keys()].sort(), ['rx-1500/bps', 'rx-1500/pps', 'tx-64/bps', 'tx-64/pps']);
});

test('iov-copy, virtio-ring, memory and the harness self-check run to the end with well-formed results', () => {
  const iov = results('iov-copy', runSuite('iov-copy'));
  for (const d of [0, 8, 16, 48]) assert.is(iov.get(`scatter-65536-4k-d${d}/pps`)?.ref?.name, 'one-set-per-buffer');
  for (const suite of ['virtio-ring', 'memory', 'harness-selfcheck']) assert.ok(results(suite, runSuite(suite)).size > 0, `${suite}: no results`);
});

test.run();
