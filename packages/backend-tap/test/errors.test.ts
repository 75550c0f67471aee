// @timeout 120
// Bad input and a hostile environment: a clear typed error, or a link-down event and counted
// drops — never a crash, and the other backends keep working.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BackendConfig, ConfigError, createBackend, NetbeError } from '@netbe/core';
import { assertRejects, hasCommand, hasDevice, isRoot, prerequisite, testWhen, waitFor, withTimeout } from '@netbe/test-utils';
import { createNetns, pingArgv, uniqueIfname } from '../../../tools/netns';
import { parseTapConfig, type TapBackend } from '../src/index';
import { BackendPort } from './backend-port';
import { GuestHost, ipv4, macBytes } from './guest-host';
import { exited } from './ns-peer';

const root = prerequisite([isRoot(), 'needs root (CAP_NET_ADMIN)'], [hasDevice('/dev/net/tun'), 'needs /dev/net/tun']);
const nsPre = prerequisite(
  [isRoot(), 'needs root (namespaces)'],
  [hasDevice('/dev/net/tun'), 'needs /dev/net/tun'],
  [hasCommand('ip'), 'needs iproute2'],
  [hasCommand('busybox'), 'needs busybox (ping)'],
);

test('config forms: bhyve names, tap:NAME, ifname=, type=tap', () => {
  const ifname = (spec: string): string => parseTapConfig(BackendConfig.parse(spec)).ifname;
  assert.is(ifname('tap0'), 'tap0');
  assert.is(ifname('tap:vm1-eth0'), 'vm1-eth0');
  assert.is(ifname('tap,ifname=tap7,vnet_hdr=off'), 'tap7');
  assert.is(ifname('tap'), 'tap%d');
  assert.is(ifname('vm1,type=tap'), 'vm1');
  assert.is(parseTapConfig(BackendConfig.parse('tap0')).vnetHdr, true);
  assert.is(parseTapConfig(BackendConfig.parse('tap0,vnet_hdr=off')).vnetHdr, false);
});

test('an interface name over 15 bytes is a ConfigError naming the option', async () => {
  const e1 = (await assertRejects(createBackend('tap:abcdefghijklmnop'), ConfigError)) as ConfigError;
  assert.is(e1.option, 'backend');
  assert.match(e1.message, /16 bytes; Linux allows at most 15/);
  const e2 = (await assertRejects(createBackend('tap,ifname=abcdefghijklmnop'), ConfigError)) as ConfigError;
  assert.is(e2.option, 'ifname');
  const e3 = (await assertRejects(createBackend('tap,ifname=ab/cd'), ConfigError)) as ConfigError;
  assert.match(e3.reason, /contains/);
  await assertRejects(createBackend('tap:'), /empty/);
  await assertRejects(createBackend('tap0,vnet_hdr=maybe'), ConfigError);
  await assertRejects(createBackend('tap0,queues=4'), /unknown option/);
  await assertRejects(createBackend('tap0,device='), /empty/);
});

test('a clone device that does not exist: ERR_UNAVAILABLE with errno ENOENT', async () => {
  const e = (await assertRejects(createBackend('tap0,device=/nonexistent/tun'), NetbeError)) as NetbeError;
  assert.is(e.code, 'ERR_UNAVAILABLE');
  assert.is(e.errno, 'ENOENT');
  assert.match(e.message, /does not exist \(load the tun module/);
});

const child = (code: string, wrapper: string[]): { status: number | null; stdout: string; stderr: string } => {
  const script = `import { createBackend } from '@netbe/core'; import ${JSON.stringify(fileURLToPath(new URL('../src/index.ts', import.meta.url)))};
    ${code}`;
  const r = spawnSync(wrapper[0]!, [...wrapper.slice(1), process.execPath, '-C', '@netbe/source', '--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 60000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const report = `try { await createBackend('tap:${'nbx'}' + process.pid); console.log('opened') } catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, message: e.message })) }`;

testWhen(test, prerequisite([isRoot(), 'needs root'], [hasCommand('unshare'), 'needs unshare']),
  'no /dev/net/tun at all (hidden in a private mount namespace): ERR_UNAVAILABLE, ENOENT', () => {
    const r = child(report, ['unshare', '-m', 'sh', '-c', 'mount -t tmpfs none /dev/net && exec "$@"', 'sh']);
    assert.is(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout.trim()) as { code: string; errno: string; message: string };
    assert.is(e.code, 'ERR_UNAVAILABLE');
    assert.is(e.errno, 'ENOENT');
  });

testWhen(test, prerequisite([isRoot(), 'needs root'], [hasCommand('setpriv'), 'needs setpriv']),
  'no permission (CAP_NET_ADMIN dropped): ERR_UNAVAILABLE, EPERM, says what is needed', () => {
    const r = child(report, ['setpriv', '--bounding-set', '-net_admin']);
    assert.is(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout.trim()) as { code: string; errno: string; message: string };
    assert.is(e.code, 'ERR_UNAVAILABLE');
    assert.is(e.errno, 'EPERM');
    assert.match(e.message, /CAP_NET_ADMIN/);
  });

testWhen(test, root, 'a name held by another open tap: ERR_IO EBUSY; the first keeps working', async () => {
  const name = uniqueIfname('nbbusy');
  const first = (await createBackend(`tap:${name}`)) as TapBackend;
  try {
    const e = (await assertRejects(createBackend(`tap:${name}`), NetbeError)) as NetbeError;
    assert.is(e.code, 'ERR_IO');
    assert.is(e.errno, 'EBUSY');
    assert.ok(first.send([new Uint8Array(60)], 1) === 60);
  } finally {
    await first.close();
  }
});

testWhen(test, nsPre, 'the interface deleted while traffic flows: linkChange(false), counted drops, the other tap untouched', async () => {
  const ifA = uniqueIfname('nbdela');
  const ifB = uniqueIfname('nbdelb');
  const a = (await createBackend(`tap:${ifA}`)) as TapBackend;
  const b = (await createBackend(`tap:${ifB}`)) as TapBackend;
  const ns = createNetns('del');
  let flowing: ReturnType<typeof setInterval> | undefined;
  try {
    ns.adopt(ifA);
    ns.adopt(ifB);
    ns.configure(ifA, '10.80.1.1/24');
    ns.configure(ifB, '10.80.2.1/24');
    const links: boolean[] = [];
    const portA = new BackendPort(a, false, (up) => links.push(up));
    const hostA = new GuestHost(macBytes('02:00:00:4e:42:0a'), ipv4('10.80.1.2'), portA);
    portA.host = hostA;
    const portB = new BackendPort(b);
    const hostB = new GuestHost(macBytes('02:00:00:4e:42:0b'), ipv4('10.80.2.2'), portB);
    portB.host = hostB;
    a.rxEnable();
    b.rxEnable();
    await hostA.ping(ipv4('10.80.1.1'), 1);
    const nsMac = await hostA.resolve(ipv4('10.80.1.1'));
    let seq = 100;
    flowing = setInterval(() => hostA.sendEchoRequest(ipv4('10.80.1.1'), nsMac, seq++), 2);
    await waitFor(() => hostA.counters.echoRepliesReceived > 10, 5000, 'traffic flowing');
    ns.ip('link', 'del', ifA);
    await waitFor(() => links.length > 0, 5000, 'linkChange');
    assert.equal(links, [false]);
    assert.is(a.linkUp, false);
    const drops = a.stats.txDrops;
    await waitFor(() => a.stats.txDrops > drops + 5, 5000, 'sends after deletion counted as drops');
    clearInterval(flowing);
    flowing = undefined;
    assert.is(a.peekRecvLen(), 0);
    assert.is(a.recv([new Uint8Array(2048)], 1), 0);
    // The other tap is untouched: the namespace still pings its guest.
    const ping = ns.spawn(pingArgv('10.80.2.2', 2, 5));
    assert.is(await withTimeout(15000, exited(ping), 'ping b'), 0);
    assert.ok(hostB.counters.echoRequestsAnswered >= 2);
    await a.close();
    assert.equal(links, [false]);
  } finally {
    if (flowing) clearInterval(flowing);
    await a.close();
    await b.close();
    ns.destroy();
  }
});

test.run();
