import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasCommand, isRoot, prerequisite, testWhen } from '@netbe/test-utils';
import { sys } from '../src/index';
import { throwsType } from './helpers';

// ICMP datagram sockets are governed per network namespace (net.ipv4.ping_group_range), so each
// test runs a child in a namespace it creates and sets; traffic stays inside those namespaces.
const child = fileURLToPath(new URL('./fixtures/icmp-child.ts', import.meta.url));
const needs = prerequisite([isRoot(), 'needs root (ip netns)'], [hasCommand('ip'), 'needs iproute2']);
const namespaces: string[] = [];
let links = 0;

function ip(...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 20_000 });
  assert.is(r.status, 0, `ip ${args.join(' ')}: ${r.stderr}`);
}

function netns(pingGroups: string): string {
  const name = `netbe-icmp-${process.pid}-${namespaces.length}`;
  ip('netns', 'add', name);
  namespaces.push(name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  ip('netns', 'exec', name, 'sysctl', '-qw', `net.ipv4.ping_group_range=${pingGroups}`);
  return name;
}

function runIn(ns: string, ...args: string[]): Record<string, any> {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, '-C', '@netbe/source', '--import', 'tsx', child, ...args], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.is(r.status, 0, `child exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, any>;
}

const addr = (a: number, b: number, c: number, d: number): number => ((a << 24) >>> 0) + (b << 16) + (c << 8) + d;

test.after(() => {
  for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns]);
});

test('arguments are validated before any syscall (TypeError)', () => {
  throwsType(() => sys.icmpOpen({ ttl: 0 }), /ttl/);
  throwsType(() => sys.icmpOpen({ ttl: 256 }), /ttl/);
  throwsType(() => sys.icmpOpen({ ident: 65536 }), /ident/);
  throwsType(() => sys.icmpOpen({ recvErr: 1 as unknown as boolean }), /recvErr/);
  throwsType(() => sys.icmpSendTo(-1, 0, new Uint8Array(8)), /fd/);
  throwsType(() => sys.icmpSendTo(0, 2 ** 32, new Uint8Array(8)), /addr/);
  throwsType(() => sys.icmpSendTo(0, 1.5, new Uint8Array(8)), /addr/);
  throwsType(() => sys.icmpSendTo(0, 0, new Uint8Array(7)), /8\.\.65507/);
  throwsType(() => sys.icmpSendTo(0, 0, 'abcdefgh' as unknown as Uint8Array));
  throwsType(() => sys.icmpRecvFrom(0, null as unknown as Uint8Array));
  throwsType(() => sys.icmpRecvError('3' as unknown as number, new Uint8Array(8)), /fd/);
  throwsType(() => sys.icmpSetTtl(0, 0), /ttl/);
});

testWhen(test, needs, 'echo to 127.0.0.1: the reply carries the socket identifier, no IP header; empty queue is null', () => {
  const r = runIn(netns('0 2147483647'), 'ping');
  assert.is(r.sent, 23);
  assert.is(r.how, 'readable');
  assert.is(r.ident, 0, 'unbound before the first send');
  assert.ok(r.boundIdent > 0, 'sendto binds an identifier');
  assert.equal(r.r, { length: 23, address: addr(127, 0, 0, 1), truncated: false });
  assert.is(r.type, 0, 'echo reply');
  assert.is(r.id, r.boundIdent, 'the kernel rewrote 0x1234 to the socket identifier');
  assert.is(r.seq, 7);
  assert.is(r.payload, 'netbe icmp test');
  assert.is(r.again, null);
});

testWhen(test, needs, 'ping_group_range "1 0" refuses the socket with EACCES (even to root)', () => {
  const r = runIn(netns('1 0'), 'eacces');
  assert.equal(r, { opened: false, code: 'EACCES' });
});

testWhen(test, needs, 'error queue: TTL exceeded at a router namespace, with the offender and the quoted echo', () => {
  // a (10.199.N.1) --veth-- b (10.199.N.2, forwarding, routes 10.200/16 back to a): a TTL-1 echo
  // to 10.200.N.1 reaches b, which must forward it and answers Time Exceeded instead.
  const a = netns('0 2147483647');
  const b = netns('1 0');
  const n = (process.pid + links++) % 250;
  const va = `nbia${process.pid % 100000}`;
  const vb = `nbib${process.pid % 100000}`;
  ip('link', 'add', va, 'type', 'veth', 'peer', 'name', vb);
  ip('link', 'set', va, 'netns', a);
  ip('link', 'set', vb, 'netns', b);
  ip('-n', a, 'addr', 'add', `10.199.${n}.1/24`, 'dev', va);
  ip('-n', a, 'link', 'set', va, 'up');
  ip('-n', a, 'route', 'add', 'default', 'via', `10.199.${n}.2`);
  ip('-n', b, 'addr', 'add', `10.199.${n}.2/24`, 'dev', vb);
  ip('-n', b, 'link', 'set', vb, 'up');
  ip('netns', 'exec', b, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
  ip('-n', b, 'route', 'add', '10.200.0.0/16', 'via', `10.199.${n}.1`);
  const r = runIn(a, 'errqueue', String(addr(10, 200, n, 1)), '1');
  assert.is(r.sent, 23);
  // POLLERR: the watcher reports it as an error (and stops), the entry waits on the error queue.
  assert.match(r.how, /^error:/);
  assert.ok(r.e, 'an error-queue entry');
  assert.is(r.e.origin, sys.SO_EE_ORIGIN_ICMP);
  assert.is(r.e.type, 11, 'time exceeded');
  assert.is(r.e.code, 0);
  assert.is(r.e.errno, 113, 'EHOSTUNREACH');
  assert.is(r.e.address, addr(10, 200, n, 1), 'where the echo was going');
  assert.is(r.e.offender, addr(10, 199, n, 2), 'the router');
  assert.is(r.e.length, 23, 'the echo we sent comes back');
  assert.is(r.quotedType, 8);
  assert.is(r.quotedId, r.boundIdent);
  assert.is(r.quotedSeq, 7);
  assert.is(r.plain, null, 'nothing on the normal queue');
});

test.run();
