#!/usr/bin/env node
// Runs every uvu test file in its own process (so an open handle or a crash in one file cannot
// hang or hide the others), sums uvu's totals and prints the closing line `N passed, N failed`.
//
//   node tools/run-tests.mjs [filter ...]     run the files whose path contains any filter
//   NETBE_TEST_JOBS=1 node tools/run-tests.mjs  run one file at a time
//
// Under CI (CI=true) a skipped test counts as a failure: CI must prove everything.
import { spawn } from 'node:child_process';
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const filters = process.argv.slice(2);
const jobs = Math.max(1, Number(process.env.NETBE_TEST_JOBS ?? 2));
const ci = process.env.CI === 'true' || process.env.CI === '1';

function findTests(dir, out) {
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const files = ['packages', 'tools', 'docs', 'benchmarks']
  .flatMap((d) => findTests(join(root, d), []))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();

// A file may ask for a longer limit with a comment line `// @timeout SECONDS`.
function timeoutOf(file) {
  const m = /@timeout\s+(\d+)/.exec(readFileSync(join(root, file), 'utf8').slice(0, 2000));
  return (m ? Number(m[1]) : 300) * 1000;
}

function runFile(file) {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(process.execPath, ['-C', '@netbe/source', '--import', 'tsx', file], {
      cwd: root,
      env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    const limit = timeoutOf(file);
    const timer = setTimeout(() => {
      output += `\n[run-tests] ${file}: killed after ${limit / 1000} s\n`;
      child.kill('SIGKILL');
    }, limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const num = (label) => {
        const m = new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'm').exec(output);
        return m ? Number(m[1]) : null;
      };
      const total = num('Total');
      const passed = num('Passed') ?? 0;
      const skipped = num('Skipped') ?? 0;
      let failed = total === null ? 1 : total - passed - skipped;
      if (failed === 0 && (code !== 0 || signal)) failed = 1; // crashed after its totals
      if (total === 0) failed = Math.max(failed, 1); // a file that ran no test proves nothing
      if (ci && skipped > 0) failed += skipped;
      done({ file, passed, failed, skipped, output, ms: Date.now() - started, code, signal });
    });
  });
}

const results = [];
let next = 0;
async function worker() {
  while (next < files.length) {
    const file = files[next++];
    const r = await runFile(file);
    results.push(r);
    const mark = r.failed > 0 ? 'FAIL' : 'ok  ';
    const skip = r.skipped ? `, ${r.skipped} skipped` : '';
    process.stdout.write(`${mark} ${file}  (${r.passed} passed, ${r.failed} failed${skip}; ${(r.ms / 1000).toFixed(1)} s)\n`);
    if (r.failed > 0 || process.env.NETBE_TEST_VERBOSE) process.stdout.write(indent(r.output));
  }
}
function indent(text) {
  return text.split('\n').map((l) => `    | ${l}`).join('\n') + '\n';
}

if (files.length === 0) {
  console.log('no test files matched');
  console.log('0 passed, 1 failed');
  process.exit(1);
}
await Promise.all(Array.from({ length: Math.min(jobs, files.length) }, worker));
const passed = results.reduce((a, r) => a + r.passed, 0);
const failed = results.reduce((a, r) => a + r.failed, 0);
const skipped = results.reduce((a, r) => a + r.skipped, 0);
if (ci && skipped > 0) console.log(`CI: ${skipped} skipped test(s) counted as failures`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
