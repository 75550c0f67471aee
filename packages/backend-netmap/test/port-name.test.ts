import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ConfigError, createBackend } from '@netbe/core';
import { NR_REG_ALL_NIC, NR_REG_NIC_SW, NR_REG_ONE_NIC, NR_REG_ONE_SW, NR_REG_SW } from '@netbe/netmap-bindings';
import { parseNetmapName } from '../src/index';

test('bhyve names parse into the register request', () => {
  assert.equal(parseNetmapName('netmap:eth0'), { kind: 'netmap', requestName: 'eth0', mode: NR_REG_ALL_NIC, ringId: 0 });
  assert.equal(parseNetmapName('netmap:em0-3'), { kind: 'netmap', requestName: 'em0', mode: NR_REG_ONE_NIC, ringId: 3 });
  assert.equal(parseNetmapName('netmap:eth0*'), { kind: 'netmap', requestName: 'eth0', mode: NR_REG_NIC_SW, ringId: 0 });
  assert.equal(parseNetmapName('netmap:eth0^'), { kind: 'netmap', requestName: 'eth0', mode: NR_REG_SW, ringId: 0 });
  assert.equal(parseNetmapName('netmap:eth0^1'), { kind: 'netmap', requestName: 'eth0', mode: NR_REG_ONE_SW, ringId: 1 });
  assert.equal(parseNetmapName('vale0:vm1'), { kind: 'vale', requestName: 'vale0:vm1', mode: NR_REG_ALL_NIC, ringId: 0 });
  assert.equal(parseNetmapName('vale:x_1'), { kind: 'vale', requestName: 'vale:x_1', mode: NR_REG_ALL_NIC, ringId: 0 });
  assert.equal(parseNetmapName('netmap:br.100').requestName, 'br.100');
});

test('names that are not netmap syntax are ConfigErrors saying why', () => {
  const cases: Array<[string, RegExp]> = [
    ['netmap:', /interface name is empty/],
    ['netmap:-1', /interface name is empty/],
    ['netmap:eth0-', /not a ring selector/],
    ['netmap:eth0-x', /not a ring selector/],
    ['netmap:eth0-4095', /out of range/],
    ['netmap:eth0{1', /pipes/],
    ['netmap:eth0/R', /flags/],
    ['netmap:eth0@2', /memory ids/],
    ['netmap:eth0^^', /not a ring selector/],
    ['netmap:averyveryverylongname', /longer than 15/],
    ['netmap:et h0', /character/],
    ['vale0', /missing ":"/],
    ['vale0:', /port name is empty/],
    ['vale-0:a', /switch name/],
    ['vale0:a-1', /ring selectors/],
    ['vale0:a b', /may only hold/],
    ['vale0:' + 'x'.repeat(60), /longer than 63/],
    ['tap0', /expected netmap:IFNAME or valeSWITCH:PORT/],
  ];
  for (const [name, why] of cases) {
    assert.throws(
      () => parseNetmapName(name),
      (e: Error) => e instanceof ConfigError && e.option === 'backend' && why.test(e.message),
      name,
    );
  }
});

test('property: any string either parses into a bounded request or is a ConfigError', () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string().map((s) => `netmap:${s}`), fc.string().map((s) => `vale${s}`)), (name) => {
      try {
        const p = parseNetmapName(name);
        assert.ok(p.requestName.length >= 1 && p.requestName.length <= 63);
        assert.ok(p.ringId >= 0 && p.ringId < 0xfff);
      } catch (e) {
        assert.instance(e, ConfigError);
      }
    }),
    { numRuns: 2000 },
  );
});

test('createBackend with a bad netmap name rejects with the ConfigError; the prefixes are registered', async () => {
  await import('../src/index');
  const error = await createBackend('netmap:eth0{2').then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, ConfigError);
  const { defaultRegistry } = await import('@netbe/core');
  assert.ok(defaultRegistry.match('netmap:eth0')?.prefix === 'netmap:');
  assert.ok(defaultRegistry.match('vale0:1')?.prefix === 'vale');
});

test.run();
