import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { expectConfigError } from './helpers';
import { BackendConfig, ConfigError } from '../src/index';


test('bhyve forms from bhyve.8 and bhyve_config.5', () => {
  const tap = BackendConfig.parse('tap0');
  assert.is(tap.name, 'tap0');
  assert.is(tap.type, 'tap0');
  assert.equal(tap.keys(), []);

  const mac = BackendConfig.parse('tap0,mac=00:be:fa:76:45:00');
  assert.is(mac.get('mac'), '00:be:fa:76:45:00');

  assert.is(BackendConfig.parse('vmnet0,mtu=9000').int('mtu', 1500, 46, 65535), 9000);

  const ng = BackendConfig.parse('netgraph,path=vmbridge:,peerhook=link0,socket=vm1,hook=vmlink');
  assert.equal(ng.keys(), ['path', 'peerhook', 'socket', 'hook']);
  assert.is(ng.get('path'), 'vmbridge:', 'a colon inside a value is kept');

  const fwd = BackendConfig.parse('slirp,hostfwd=tcp::2222-:22');
  assert.is(fwd.get('hostfwd'), 'tcp::2222-:22');

  const open = BackendConfig.parse('slirp,open');
  assert.is(open.get('open'), 'on', 'a bare word is a flag');
  assert.is(open.bool('open', false), true);

  assert.is(BackendConfig.parse('netmap:ix0').name, 'netmap:ix0');
  assert.is(BackendConfig.parse('vale0:1').name, 'vale0:1');
});

test('type= overrides the name for the prefix match (bhyve D35143)', () => {
  const c = BackendConfig.parse('bsdvm0,type=tap');
  assert.is(c.name, 'bsdvm0');
  assert.is(c.type, 'tap');
});

test('repeated keys are kept in order; get returns the last one', () => {
  const c = BackendConfig.parse('slirp,hostfwd=tcp::2222-:22,hostfwd=udp::53-:53,mtu=1500,mtu=9000');
  assert.equal(c.getAll('hostfwd'), ['tcp::2222-:22', 'udp::53-:53']);
  assert.is(c.get('mtu'), '9000');
  assert.equal(c.getAll('nothing'), []);
  assert.is(c.get('nothing'), undefined);
  assert.is(c.has('hostfwd'), true);
  // getAll returns a copy
  c.getAll('hostfwd').push('x');
  assert.is(c.getAll('hostfwd').length, 2);
});

test('values keep everything after the first "="; spaces around elements are trimmed', () => {
  const c = BackendConfig.parse(' pcap , in=a=b.pcap , out= ');
  assert.is(c.name, 'pcap');
  assert.is(c.get('in'), 'a=b.pcap');
  assert.is(c.get('out'), '');
});

test('malformed strings are ConfigErrors on "backend" naming the position', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /no backend name/],
    ['   ', /no backend name/],
    [',mtu=9000', /no backend name/],
    ['tap0,', /empty option at position 1/],
    ['tap0,,mtu=9000', /empty option at position 1/],
    ['tap0,mtu=9000,=x', /option without a name at position 2/],
  ];
  for (const [spec, reason] of cases) {
    const e = expectConfigError(() => BackendConfig.parse(spec));
    assert.is(e.option, 'backend', spec);
    assert.match(e.message, reason, spec);
    assert.is(e.code, 'ERR_CONFIG');
  }
  expectConfigError(() => BackendConfig.parse(42 as unknown as string));
  expectConfigError(() => new BackendConfig(''));
});

test('the object form: numbers, booleans, arrays; a bad value names its key', () => {
  const c = BackendConfig.fromObject({ backend: 'slirp', mtu: 9000, open: true, restrict: false, hostfwd: ['a', 'b'], skipped: undefined });
  assert.is(c.get('mtu'), '9000');
  assert.is(c.get('open'), 'on');
  assert.is(c.get('restrict'), 'off');
  assert.equal(c.getAll('hostfwd'), ['a', 'b']);
  assert.is(c.has('skipped'), false);
  assert.is(expectConfigError(() => BackendConfig.fromObject({ mtu: 9000 })).option, 'backend');
  assert.is(expectConfigError(() => BackendConfig.fromObject({ backend: 'tap0', mac: { a: 1 } })).option, 'mac');
  assert.is(expectConfigError(() => BackendConfig.fromObject({ backend: 'tap0', x: [1, null] })).option, 'x');
});

test('from() accepts all three forms', () => {
  const c = BackendConfig.parse('tap0');
  assert.is(BackendConfig.from(c), c);
  assert.is(BackendConfig.from('tap0,mtu=1').get('mtu'), '1');
  assert.is(BackendConfig.from({ backend: 'tap0', mtu: 1 }).get('mtu'), '1');
});

test('typed getters: errors name the option and the reason', () => {
  const c = BackendConfig.parse('x,flag=maybe,n=12a,big=70000,neg=-5,word=blue,empty=');
  let e = expectConfigError(() => c.bool('flag', false));
  assert.is(e.option, 'flag');
  assert.match(e.reason, /expected on or off, got "maybe"/);
  e = expectConfigError(() => c.int('n', 0, 0, 10));
  assert.is(e.option, 'n');
  assert.match(e.reason, /expected an integer/);
  e = expectConfigError(() => c.int('big', 0, 0, 65535));
  assert.match(e.reason, /70000 is outside 0\.\.65535/);
  assert.is(c.int('neg', 0, -10, 10), -5);
  e = expectConfigError(() => c.choice('word', 'red', ['red', 'green'] as const));
  assert.match(e.reason, /expected one of red, green, got "blue"/);
  assert.is(expectConfigError(() => c.require('missing')).option, 'missing');
  assert.is(expectConfigError(() => c.require('empty')).option, 'empty');
  // Fallbacks when absent.
  assert.is(c.bool('absent', true), true);
  assert.is(c.int('absent', 7, 0, 10), 7);
  assert.is(c.choice('absent', 'red', ['red'] as const), 'red');
  for (const on of ['on', 'YES', 'true', '1']) assert.is(BackendConfig.parse(`x,f=${on}`).bool('f', false), true);
  for (const off of ['off', 'No', 'FALSE', '0']) assert.is(BackendConfig.parse(`x,f=${off}`).bool('f', true), false);
});

test('property: toString round-trips through parse', () => {
  const word = fc.stringMatching(/^[a-z][a-z0-9:_-]{0,8}$/);
  const value = fc.stringMatching(/^[a-zA-Z0-9:._=/-]{0,10}$/);
  fc.assert(
    fc.property(word, fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z0-9_]{0,6}$/), value), { maxLength: 6 }), (name, options) => {
      const c = new BackendConfig(name, options);
      const back = BackendConfig.parse(c.toString());
      assert.is(back.name, c.name);
      assert.equal(back.keys(), c.keys());
      for (const k of c.keys()) assert.equal(back.getAll(k), c.getAll(k));
    }),
  );
});

test('property: parse never throws anything but ConfigError', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 40 }), (spec) => {
      try {
        BackendConfig.parse(spec);
      } catch (e) {
        assert.instance(e, ConfigError);
      }
    }),
    { numRuns: 500 },
  );
});

test.run();
