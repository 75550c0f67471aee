// @timeout 180
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasCommand, isRoot, prerequisite, testWhen } from '@netbe/test-utils';
import { GATEWAY, GUEST, ip } from './helpers/guest';

// Echo forwarding without root: each case runs a child (SlirpBackend + a guest speaking frames
// through the NetBackend contract) in a network namespace this test creates, with that
// namespace's net.ipv4.ping_group_range set for the case, as root or as nobody/nogroup (setpriv).
// The guest pings the gateway, which loopback=on maps to 127.0.0.1 of that namespace.
const child = fileURLToPath(new URL('./fixtures/icmp-dgram-child.ts', import.meta.url));
const needs = prerequisite([isRoot(), 'needs root (ip netns, setpriv)'], [hasCommand('ip'), 'needs iproute2'], [hasCommand('setpriv'), 'needs setpriv (util-linux)']);
const namespaces: string[] = [];
const NOGROUP = 65534;

interface ChildResult {
  uid: number;
  held: number;
  mode: 'dgram' | 'raw' | null;
  available: boolean;
  forwarded: number;
  replies: Array<{ src: number; ident: number; seq: number; data: string }>;
  logs: string[];
  thrown?: string;
}

function sh(cmd: string, ...args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function netns(pingGroups: string): string {
  const name = `netbe-icmpd-${process.pid}-${namespaces.length}`;
  sh('ip', 'netns', 'add', name);
  namespaces.push(name);
  sh('ip', '-n', name, 'link', 'set', 'lo', 'up');
  sh('ip', 'netns', 'exec', name, 'sysctl', '-qw', `net.ipv4.ping_group_range=${pingGroups}`);
  return name;
}

function run(ns: string, asNobody: boolean, ...args: string[]): ChildResult {
  const drop = asNobody ? ['setpriv', '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups', 'env', 'HOME=/tmp'] : [];
  const r = spawnSync('ip', ['netns', 'exec', ns, ...drop, process.execPath, '-C', '@netbe/source', '--import', 'tsx', child, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
  const res = JSON.parse(r.stdout.trim().split('\n').pop()!) as ChildResult;
  assert.is(res.thrown, undefined, res.thrown);
  return res;
}

const expectedReplies = [
  { src: GATEWAY, ident: 0x88, seq: 5, data: 'ping 5' },
  { src: GATEWAY, ident: 0x88, seq: 6, data: 'ping 6' },
  { src: GATEWAY, ident: 0x4242, seq: 1, data: 'ping 1' },
];

test.after(() => {
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
});

testWhen(test, needs, 'as nobody, with ping sockets allowed for nogroup: the guest pings 127.0.0.1 through them', () => {
  const r = run(netns(`${NOGROUP} ${NOGROUP}`), true);
  assert.is(r.uid, NOGROUP);
  assert.is(r.mode, 'dgram');
  assert.is(r.forwarded, 3, 'forwarded to the host, not answered locally');
  assert.equal(r.replies, expectedReplies, 'the guest sees its own identifiers and sequence numbers');
  assert.ok(!r.logs.some((l) => l.startsWith('warn')), r.logs.join('\n'));
});

testWhen(test, needs, 'the stack identifiers are held by another socket: the kernel picks others, replies are mapped back', () => {
  const r = run(netns(`${NOGROUP} ${NOGROUP}`), true, 'taken');
  assert.is(r.held, 2);
  assert.is(r.mode, 'dgram');
  assert.ok(r.logs.some((l) => l.includes('id 32768')), `the stack used the held identifier: ${r.logs.join('\n')}`);
  assert.equal(r.replies, expectedReplies);
});

testWhen(test, needs, 'root where ping sockets are refused: falls back to the raw socket', () => {
  const r = run(netns('1 0'), false);
  assert.is(r.uid, 0);
  assert.is(r.mode, 'raw');
  assert.is(r.forwarded, 3);
  assert.equal(r.replies, expectedReplies);
});

testWhen(test, needs, 'nobody where ping sockets are refused: only the gateway answers locally, the reason logged once', () => {
  const r = run(netns('1 0'), true);
  assert.is(r.mode, null);
  assert.is(r.available, false);
  assert.is(r.forwarded, 0, 'answered by the stack itself');
  assert.equal(r.replies, expectedReplies);
  const warnings = r.logs.filter((l) => l.startsWith('warn'));
  assert.is(warnings.length, 1, warnings.join('\n'));
  assert.match(warnings[0]!, /ping_group_range/);
  assert.match(warnings[0]!, /raw ICMP socket/);
});

testWhen(test, needs, 'as nobody: a network unreachable from a router namespace reaches the guest, quoting its own echo', () => {
  // a (the child, 10.199.N.1, default route via b) --veth-- b (10.199.N.2, forwarding, no route
  // to 10.200/16): b answers the host's echo with Destination Unreachable, which arrives on the
  // ping socket's error queue and must reach the guest about the echo it sent.
  const a = netns(`${NOGROUP} ${NOGROUP}`);
  const b = netns('1 0');
  const n = process.pid % 250;
  const va = `nbda${process.pid % 100000}`;
  const vb = `nbdb${process.pid % 100000}`;
  sh('ip', 'link', 'add', va, 'type', 'veth', 'peer', 'name', vb);
  sh('ip', 'link', 'set', va, 'netns', a);
  sh('ip', 'link', 'set', vb, 'netns', b);
  sh('ip', '-n', a, 'addr', 'add', `10.199.${n}.1/24`, 'dev', va);
  sh('ip', '-n', a, 'link', 'set', va, 'up');
  sh('ip', '-n', a, 'route', 'add', 'default', 'via', `10.199.${n}.2`);
  sh('ip', '-n', b, 'addr', 'add', `10.199.${n}.2/24`, 'dev', vb);
  sh('ip', '-n', b, 'link', 'set', vb, 'up');
  sh('ip', 'netns', 'exec', b, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  const target = `10.200.${n}.1`;
  const r = run(a, true, 'unreachable', target) as unknown as {
    mode: string;
    error: { src: number; dst: number; type: number; code: number };
    quote: { src: number; dst: number; type: number; ident: number; seq: number };
  };
  assert.is(r.mode, 'dgram');
  assert.equal(r.error, { src: ip(`10.199.${n}.2`), dst: GUEST, type: 3, code: 0 }, 'net unreachable from the router');
  assert.equal(r.quote, { src: GUEST, dst: ip(target), type: 8, ident: 0x99, seq: 3 }, 'the quote is what the guest sent');
});

test.run();
