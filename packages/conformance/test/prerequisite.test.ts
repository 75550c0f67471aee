import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const fixture = fileURLToPath(new URL('./fixtures/missing-prerequisite.ts', import.meta.url));

function runFixture(ci: boolean): { status: number | null; out: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' };
  delete env.CI;
  if (ci) env.CI = 'true';
  const r = spawnSync(process.execPath, ['-C', '@netbe/source', '--import', 'tsx', fixture], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('off CI, a missing prerequisite skips every applicable test and says why', () => {
  const { status, out } = runFixture(false);
  assert.match(out, /skip: needs a device: \/dev\/fake is missing/);
  assert.match(out, /Passed:\s+0/);
  assert.not.match(out, /Skipped:\s+0\b/);
  assert.is(status, 0, out);
});

test('under CI, a missing prerequisite fails every applicable test with the reason', () => {
  const { status, out } = runFixture(true);
  assert.match(out, /prerequisite missing under CI: \/dev\/fake is missing/);
  assert.match(out, /Skipped:\s+0\b/);
  assert.is.not(status, 0);
});

test.run();
