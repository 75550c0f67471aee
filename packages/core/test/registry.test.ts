import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BackendConfig,
  BackendRegistry,
  ConfigError,
  createBackend,
  defaultRegistry,
  DEVICE_OPTIONS,
  NetbeError,
  newBackendStats,
  registerBackend,
  type BackendFactory,
  type NetBackend,
} from '../src/index';

/** A minimal backend that remembers the config it was made from. */
function fakeBackend(config: BackendConfig): NetBackend & { config: BackendConfig } {
  return {
    config,
    name: config.toString(),
    vnetHdrLen: 0,
    stats: newBackendStats(),
    attach() {},
    send: () => 0,
    peekRecvLen: () => 0,
    recv: () => 0,
    rxDiscard: () => 0,
    rxEnable() {},
    rxDisable() {},
    getCap: () => 0n,
    setCap() {},
    close: async () => {},
  };
}

function factory(prefix: string, extra: Partial<BackendFactory> = {}): BackendFactory {
  return { prefix, description: `${prefix} test backend`, options: [{ name: 'opt', description: 'an option' }], create: fakeBackend, ...extra };
}

async function rejection(p: Promise<unknown>): Promise<NetbeError> {
  try {
    await p;
  } catch (e) {
    assert.instance(e, NetbeError);
    return e as NetbeError;
  }
  throw new Error('expected a rejection');
}

test('prefix match as bhyve NET_BACKEND_SET: tap0 → tap, netmap:em0 → netmap, vale0:1 → vale', async () => {
  const r = new BackendRegistry();
  for (const p of ['tap', 'netmap', 'vale', 'slirp']) r.register(factory(p));
  assert.is(r.match('tap0')?.prefix, 'tap');
  assert.is(r.match('netmap:em0')?.prefix, 'netmap');
  assert.is(r.match('vale0:1')?.prefix, 'vale');
  assert.is(r.match('slirp')?.prefix, 'slirp');
  assert.is(r.match('tun0'), undefined);
  assert.is(r.match('xtap0'), undefined, 'a prefix matches at the start only');
  const be = (await r.create('tap0,opt=1')) as ReturnType<typeof fakeBackend>;
  assert.is(be.config.get('opt'), '1');
});

test('the longest registered prefix wins, whatever the registration order', () => {
  for (const order of [['ve', 'vale', 'valex'], ['valex', 've', 'vale'], ['vale', 'valex', 've']]) {
    const r = new BackendRegistry();
    for (const p of order) r.register(factory(p));
    assert.is(r.match('valex0')?.prefix, 'valex');
    assert.is(r.match('vale0:1')?.prefix, 'vale');
    assert.is(r.match('veth0')?.prefix, 've');
  }
});

test('type= selects the backend when the name does not start with its prefix', async () => {
  const r = new BackendRegistry();
  r.register(factory('tap'));
  const be = (await r.create('bsdvm0,type=tap')) as ReturnType<typeof fakeBackend>;
  assert.is(be.config.name, 'bsdvm0');
  const e = await rejection(r.create('bsdvm0'));
  assert.is(e.code, 'ERR_UNKNOWN_BACKEND');
});

test('unknown prefix: ERR_UNKNOWN_BACKEND listing the known prefixes', async () => {
  const r = new BackendRegistry();
  let e = await rejection(r.create('tap0'));
  assert.is(e.code, 'ERR_UNKNOWN_BACKEND');
  assert.match(e.message, /none registered/);
  r.register(factory('tap'));
  r.register(factory('slirp'));
  e = await rejection(r.create('foo0'));
  assert.match(e.message, /no backend matches "foo0" \(known prefixes: slirp, tap\)/);
});

test('options are validated: unknown and repeated ones are ConfigErrors naming the option', async () => {
  const r = new BackendRegistry();
  r.register(factory('slirp', { options: [{ name: 'hostfwd', description: 'rule', repeatable: true }, { name: 'open', description: 'flag' }] }));
  let e = (await rejection(r.create('slirp,colour=red'))) as ConfigError;
  assert.instance(e, ConfigError);
  assert.is(e.option, 'colour');
  assert.match(e.message, /unknown option for the slirp backend \(accepted: mac, mtu, type, hostfwd, open\)/);
  e = (await rejection(r.create('slirp,open,open=off'))) as ConfigError;
  assert.is(e.option, 'open');
  assert.match(e.message, /more than once/);
  await r.create('slirp,hostfwd=a,hostfwd=b,open');
});

test('device options (mac, mtu, type) are accepted by every backend and their values checked', async () => {
  assert.equal(DEVICE_OPTIONS.map((o) => o.name), ['mac', 'mtu', 'type']);
  const r = new BackendRegistry();
  r.register(factory('tap'));
  await r.create('tap0,mac=00:a0:98:12:34:56,mtu=9000');
  let e = (await rejection(r.create('tap0,mac=01:00:5e:00:00:01'))) as ConfigError;
  assert.is(e.option, 'mac');
  assert.match(e.message, /multicast/);
  e = (await rejection(r.create('tap0,mtu=10'))) as ConfigError;
  assert.is(e.option, 'mtu');
  e = (await rejection(r.create('tap0,mtu=9000,mtu=1500'))) as ConfigError;
  assert.is(e.option, 'mtu');
});

test('the object form goes through the same checks', async () => {
  const r = new BackendRegistry();
  r.register(factory('tap'));
  const be = (await r.create({ backend: 'tap0', mtu: 9000, opt: 'x' })) as ReturnType<typeof fakeBackend>;
  assert.is(be.config.get('mtu'), '9000');
  const e = (await rejection(r.create({ backend: 'tap0', nope: 1 }))) as ConfigError;
  assert.is(e.option, 'nope');
});

test('register: a bad or duplicate prefix is a ConfigError on "prefix"; unregister; list is sorted', () => {
  const r = new BackendRegistry();
  for (const bad of ['', '0tap', 'ta p', 'tap,', 'a:b', ':']) {
    try {
      r.register(factory(bad));
      assert.unreachable(`prefix "${bad}" was accepted`);
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.is((e as ConfigError).option, 'prefix');
    }
  }
  r.register(factory('vale'));
  r.register(factory('netmap:'));
  r.register(factory('my_backend-2'));
  try {
    r.register(factory('vale'));
    assert.unreachable('duplicate accepted');
  } catch (e) {
    assert.match((e as Error).message, /already registered/);
  }
  assert.equal(r.list().map((f) => f.prefix), ['my_backend-2', 'netmap:', 'vale']);
  assert.is(r.unregister('vale'), true);
  assert.is(r.unregister('vale'), false);
  assert.is(r.match('vale0'), undefined);
});

test('a factory that throws or rejects: the error reaches the caller unchanged', async () => {
  const r = new BackendRegistry();
  r.register(factory('sync', { create: () => { throw new NetbeError('ERR_UNAVAILABLE', 'no /dev/thing'); } }));
  r.register(factory('async', { create: async () => { throw new ConfigError('opt', 'bad'); } }));
  assert.is((await rejection(r.create('sync0'))).code, 'ERR_UNAVAILABLE');
  assert.is(((await rejection(r.create('async0,opt=1'))) as ConfigError).option, 'opt');
});

test('registerBackend / createBackend use the process-wide registry', async () => {
  registerBackend(factory('coretestdefault'));
  try {
    const be = await createBackend('coretestdefault0');
    assert.is(be.name, 'coretestdefault0');
    assert.is(defaultRegistry.match('coretestdefault0')?.prefix, 'coretestdefault');
  } finally {
    defaultRegistry.unregister('coretestdefault');
  }
});

test('registerOnce adds a prefix once; a second call is a no-op; a bad prefix still throws', () => {
  const r = new BackendRegistry();
  assert.is(r.registerOnce(factory('once')), true);
  assert.is(r.registerOnce(factory('once')), false);
  assert.equal(r.list().map((f) => f.prefix), ['once']);
  assert.throws(() => r.registerOnce(factory('9bad')), /not a valid backend prefix/);
});

test.run();
