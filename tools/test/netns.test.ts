import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { hasCommand, isRoot, prerequisite, testWhen } from '@netbe/test-utils';
import { createNetns, createVeth, ip, pingArgv, uniqueIfname, withNetns } from '../netns';

const pre = prerequisite([isRoot(), 'needs root'], [hasCommand('ip'), 'needs iproute2'], [hasCommand('busybox'), 'needs busybox (ping)']);

test('uniqueIfname stays within 15 bytes and differs per call', () => {
  const a = uniqueIfname('averylongtagname');
  const b = uniqueIfname('averylongtagname');
  assert.ok(a.length <= 15 && b.length <= 15);
  assert.is.not(a, b);
});

testWhen(test, pre, 'two namespaces joined by a veth ping each other; destroy removes them', async () => {
  const veth = createVeth();
  const left = createNetns('left');
  const right = createNetns('right');
  try {
    left.adopt(veth.a);
    right.adopt(veth.b);
    left.configure(veth.a, '10.231.0.1/24');
    right.configure(veth.b, '10.231.0.2/24');
    const out = left.exec(pingArgv('10.231.0.2'));
    assert.match(out, /1 packets received/);
  } finally {
    left.destroy();
    right.destroy();
  }
  assert.not.ok(existsSync(`/run/netns/${left.name}`));
  assert.not.match(ip('link', 'show'), new RegExp(veth.a));
});

testWhen(test, pre, 'withNetns cleans up when the body throws, and kills spawned children', async () => {
  let name = '';
  let pid = 0;
  try {
    await withNetns('fail', (ns) => {
      name = ns.name;
      pid = ns.spawn(['sleep', '60']).pid!;
      throw new Error('boom');
    });
  } catch (e) {
    assert.is((e as Error).message, 'boom');
  }
  assert.not.ok(existsSync(`/run/netns/${name}`));
  await new Promise((r) => setTimeout(r, 50));
  assert.is(spawnSync('kill', ['-0', String(pid)]).status, 1);
});

testWhen(test, pre, 'a process that dies leaves nothing: its namespaces go at exit', () => {
  const code = `import { createNetns } from ${JSON.stringify(new URL('../netns.ts', import.meta.url).pathname)};
    const ns = createNetns('child'); console.log(ns.name); process.exitCode = 3;`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.is(r.status, 3, r.stderr);
  const name = r.stdout.trim();
  assert.match(name, /^netbe-\d+-\d+-child$/);
  assert.not.ok(existsSync(`/run/netns/${name}`));
});

test.run();
