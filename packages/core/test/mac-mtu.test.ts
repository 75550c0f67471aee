import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { expectConfigError } from './helpers';
import { ConfigError, defaultMac, formatMac, MTU_DEFAULT, MTU_MAX, MTU_MIN, parseMac, parseMtu } from '../src/index';


test('parseMac: ethers(5) forms, ":" or "-", one or two digits, any case', () => {
  assert.equal(parseMac('00:a0:98:12:34:56'), Uint8Array.of(0, 0xa0, 0x98, 0x12, 0x34, 0x56));
  assert.equal(parseMac('00-A0-98-12-34-56'), Uint8Array.of(0, 0xa0, 0x98, 0x12, 0x34, 0x56));
  assert.equal(parseMac('2:0:0:0:0:1'), Uint8Array.of(2, 0, 0, 0, 0, 1));
  assert.equal(parseMac('00:be:fa:76:45:00'), Uint8Array.of(0, 0xbe, 0xfa, 0x76, 0x45, 0));
});

test('parseMac refuses garbage, multicast and zero, naming the option', () => {
  const bad: Array<[string, RegExp]> = [
    ['', /not a MAC address/],
    ['00:a0:98:12:34', /not a MAC address/],
    ['00:a0:98:12:34:56:78', /not a MAC address/],
    ['00:a0-98:12:34:56', /not a MAC address/],
    ['000:a0:98:12:34:56', /not a MAC address/],
    ['00:a0:98:12:34:5g', /not a MAC address/],
    [' 00:a0:98:12:34:56', /not a MAC address/],
    ['01:00:5e:00:00:01', /multicast/],
    ['ff:ff:ff:ff:ff:ff', /multicast/],
    ['33:33:00:00:00:01', /multicast/],
    ['00:00:00:00:00:00', /all-zero/],
    ['0:0:0:0:0:0', /all-zero/],
  ];
  for (const [text, why] of bad) {
    const e = expectConfigError(() => parseMac(text));
    assert.is(e.option, 'mac', text);
    assert.match(e.message, why, text);
  }
  assert.is(expectConfigError(() => parseMac('x', 'peer-mac')).option, 'peer-mac');
});

test('property: formatMac and parseMac round-trip every unicast non-zero address', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (mac) => {
      const multicast = (mac[0]! & 1) === 1;
      const zero = mac.every((b) => b === 0);
      const text = formatMac(mac);
      assert.match(text, /^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
      if (multicast || zero) expectConfigError(() => parseMac(text));
      else assert.equal(parseMac(text), mac);
    }),
    { numRuns: 500 },
  );
});

test('formatMac uses the first six bytes', () => {
  assert.is(formatMac(Uint8Array.of(2, 0, 0, 0, 0, 1, 99)), '02:00:00:00:00:01');
});

test('property: defaultMac is locally administered, unicast, stable per name, and parseable', () => {
  fc.assert(
    fc.property(fc.string({ maxLength: 30 }), (name) => {
      const mac = defaultMac(name);
      assert.is(mac.length, 6);
      assert.is(mac[0]! & 1, 0, 'unicast');
      assert.is(mac[0]! & 2, 2, 'locally administered');
      assert.equal(defaultMac(name), mac, 'stable');
      parseMac(formatMac(mac)); // never multicast, never zero
    }),
    { numRuns: 500 },
  );
});

test('defaultMac differs between names (no collisions among 5000 VM-like names)', () => {
  const seen = new Set<string>();
  for (let i = 0; i < 5000; i++) seen.add(formatMac(defaultMac(`vm${i}-tap${i % 4}`)));
  assert.is(seen.size, 5000);
  assert.is.not(formatMac(defaultMac('ab')), formatMac(defaultMac('ba')));
});

test('parseMtu: 46..65535 (ETHERMIN..), else an error naming the option', () => {
  assert.is(parseMtu('46'), MTU_MIN);
  assert.is(parseMtu('1500'), MTU_DEFAULT);
  assert.is(parseMtu('9000'), 9000);
  assert.is(parseMtu('65535'), MTU_MAX);
  for (const [text, why] of [
    ['45', /45 is outside 46\.\.65535/],
    ['65536', /outside/],
    ['0', /outside/],
    ['-1', /not a number/],
    ['', /not a number/],
    ['1500 ', /not a number/],
    ['9k', /not a number/],
    ['1e3', /not a number/],
  ] as const) {
    const e = expectConfigError(() => parseMtu(text));
    assert.is(e.option, 'mtu', text);
    assert.match(e.message, why, text);
  }
  assert.is(expectConfigError(() => parseMtu('1', 'slirp-mtu')).option, 'slirp-mtu');
});

test('property: every integer in range parses, every one outside fails', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 200000 }), (n) => {
      if (n >= MTU_MIN && n <= MTU_MAX) assert.is(parseMtu(String(n)), n);
      else expectConfigError(() => parseMtu(String(n)));
    }),
    { numRuns: 1000 },
  );
});

test.run();
