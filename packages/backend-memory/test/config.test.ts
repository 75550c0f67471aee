import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BackendConfig,
  BackendRegistry,
  ConfigError,
  createBackend,
  defaultRegistry,
  NET_OFFLOAD_FEATURES,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  type NetBackend,
} from '@netbe/core';
import { assertRejects } from '@netbe/test-utils';
import { memoryBackendFactory, parseCaps, registerMemoryBackend, type MemoryBackend, type QueueBackend } from '../src/index';

const open: NetBackend[] = [];
test.after.each(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});
async function make(spec: string): Promise<MemoryBackend> {
  const be = (await createBackend(spec)) as MemoryBackend;
  open.push(be);
  return be;
}
async function configError(spec: string): Promise<ConfigError> {
  return (await assertRejects(createBackend(spec), ConfigError)) as ConfigError;
}

test('importing the package registers the memory prefix once', () => {
  assert.is(defaultRegistry.match('memory')?.prefix, 'memory');
  registerMemoryBackend(); // again: no-op, no throw
  const own = new BackendRegistry();
  registerMemoryBackend(own);
  assert.is(own.list().length, 1);
});

test('modes from config strings', async () => {
  assert.is((await make('memory')).mode, 'loopback');
  assert.is((await make('memory,mode=loopback')).mode, 'loopback');
  assert.is((await make('memory,mode=sink')).mode, 'sink');
  assert.is((await make('memory,mode=source,size=64')).mode, 'source');
  assert.is((await make('memory,mode=pair,peer=cfg-a')).mode, 'pair');
  assert.is((await make('mem0,type=memory,mode=sink')).mode, 'sink');
  const fromObject = await createBackend({ backend: 'memory', mode: 'loopback', queue: 8, mtu: 9000 });
  open.push(fromObject);
  assert.is(fromObject.name, 'memory,mode=loopback,queue=8,mtu=9000');
});

test('queue= bounds the receive queue', async () => {
  const lo = (await make('memory,mode=loopback,queue=2')) as QueueBackend;
  for (let i = 0; i < 3; i++) lo.send([new Uint8Array(60)], 1);
  assert.is(lo.queued, 2);
  assert.is(lo.stats.txDrops, 1);
});

test('caps= and vnethdr=', async () => {
  assert.is((await make('memory')).getCap(), NET_OFFLOAD_FEATURES);
  assert.is((await make('memory,caps=none')).getCap(), 0n);
  assert.is((await make('memory,caps=csum+host_tso4')).getCap(), VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
  assert.is((await make('memory,caps=0x801')).getCap(), VIRTIO_NET_F_CSUM | VIRTIO_NET_F_HOST_TSO4);
  assert.is((await make('memory,vnethdr=off')).getCap(), 0n);
  assert.is(parseCaps('VIRTIO_NET_F_CSUM'), VIRTIO_NET_F_CSUM);
  assert.is(parseCaps('all'), NET_OFFLOAD_FEATURES);
});

test('errors name the option and the reason', async () => {
  const cases: Array<[string, string, RegExp]> = [
    ['memory,mode=bogus', 'mode', /one of loopback, pair, sink, source/],
    ['memory,mode=pair', 'peer', /required/],
    ['memory,peer=x', 'peer', /mode=pair/],
    ['memory,mode=sink,size=64', 'size', /mode=source/],
    ['memory,mode=sink,queue=4', 'queue', /mode=loopback or mode=pair/],
    ['memory,queue=0', 'queue', /outside 1\.\.65536/],
    ['memory,queue=many', 'queue', /integer/],
    ['memory,maxframe=10', 'maxframe', /outside/],
    ['memory,mode=source,size=13', 'size', /outside 14/],
    ['memory,mode=source,count=-1', 'count', /outside/],
    ['memory,caps=bogus', 'caps', /not a virtio-net feature/],
    ['memory,caps=MQ', 'caps', /only offload bits/],
    ['memory,vnethdr=off,caps=csum', 'caps', /need the virtio-net header/],
    ['memory,vnethdr=maybe', 'vnethdr', /on or off/],
    ['memory,colour=blue', 'colour', /unknown option for the memory backend/],
    ['memory,mode=sink,mode=loopback', 'mode', /more than once/],
  ];
  for (const [spec, option, reason] of cases) {
    const e = await configError(spec);
    assert.is(e.option, option, spec);
    assert.match(e.message, reason, spec);
    assert.is(e.code, 'ERR_CONFIG');
  }
});

test('the factory lists every option it reads', () => {
  const names = memoryBackendFactory.options.map((o) => o.name).sort();
  assert.equal(names, ['caps', 'count', 'maxframe', 'mode', 'peer', 'queue', 'size', 'vnethdr']);
  for (const example of memoryBackendFactory.examples ?? []) BackendConfig.parse(example);
});

test.run();
