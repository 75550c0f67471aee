import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { NetmapBackend } from '../src/index';
import { FakeNetmap } from '../src/testing/index';
import { openPair, pattern, ringCases, split } from './ring-cases';

// The ring logic on the in-process double, with small buffers so frames span many slots.
let n = 0;
const fake = new FakeNetmap({ slots: 128, bufSize: 64 });
ringCases(test, { system: fake, switchName: () => `vale${n++}` });

test('a stuck TX side fills the ring: further sends are counted drops, never queued', async () => {
  const stuck = new FakeNetmap({ slots: 16, bufSize: 2048, peer: 'stalled' });
  const nic = stuck.addNic('eth0');
  const be = NetmapBackend.open('netmap:eth0', stuck);
  try {
    for (let i = 0; i < 15; i++) assert.is(be.send([pattern(100, i)], 1), 100, `frame ${i} fits`);
    assert.is(be.send([pattern(100, 99)], 1), 0);
    assert.is(be.stats.txDrops, 1);
    assert.is(be.netmap.txRingFull, 1);
    assert.is(nic.wire.length, 15);
    nic.wire.forEach((w, i) => assert.equal(w.bytes, pattern(100, i)));
  } finally {
    await be.close();
  }
});

test('ring selectors: netmap:eth0-2 uses ring pair 2 only; netmap:eth0 reads every ring; ^ is the host pair', async () => {
  const sys = new FakeNetmap({ slots: 32, bufSize: 2048 });
  const nic = sys.addNic('eth0', 4);
  const two = NetmapBackend.open('netmap:eth0-2', sys);
  const all = NetmapBackend.open('netmap:eth0', sys);
  const host = NetmapBackend.open('netmap:eth0^', sys);
  try {
    assert.is(two.send([pattern(70, 1)], 1), 70);
    assert.equal(nic.wire.map((w) => [w.ring, w.host]), [[2, false]]);
    assert.is(host.send([pattern(70, 2)], 1), 70);
    assert.equal(nic.wire[1]!.host, true);
    nic.inject(pattern(80, 0), 0);
    nic.inject(pattern(81, 2), 2);
    nic.inject(pattern(82, 3), 3);
    assert.is(two.peekRecvLen(), 81, 'eth0-2 sees ring 2 only');
    const lens: number[] = [];
    for (let len = all.peekRecvLen(); len > 0; len = all.peekRecvLen()) {
      lens.push(len);
      all.rxDiscard();
    }
    assert.equal(lens.sort(), [80, 81, 82], 'netmap:eth0 reads all NIC rings');
    assert.is(host.peekRecvLen(), 0);
    assert.is(two.getCap(), 0n, 'a NIC takes no header: no offloads');
    two.setCap(0n, 12);
    assert.is(two.vnetHdrLen, 0, 'the device adapts');
  } finally {
    await Promise.all([two.close(), all.close(), host.close()]);
  }
  assert.throws(() => NetmapBackend.open('netmap:eth0-4', sys), (e: Error & { code?: string; errno?: string }) => e.code === 'ERR_IO' && e.errno === 'EINVAL' && e.message.startsWith('netmap:eth0-4: '));
});

test('property: through a peer that returns slots out of turn, every frame is delivered intact and in order, or counted', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 1 << 30 }),
      fc.array(fc.record({ len: fc.integer({ min: 1, max: 64 * 32 }), cuts: fc.array(fc.nat(), { maxLength: 4 }), drain: fc.boolean() }), { minLength: 1, maxLength: 60 }),
      async (seed, frames) => {
        const sys = new FakeNetmap({ slots: 96, bufSize: 32, peer: 'out-of-turn', seed });
        const a = NetmapBackend.open('vale0:a', sys);
        const b = NetmapBackend.open('vale0:b', sys);
        const sent: Uint8Array[] = [];
        const got: Uint8Array[] = [];
        const drain = (): void => {
          for (let len = b.peekRecvLen(), guard = 0; len > 0 && guard < 1000; len = b.peekRecvLen(), guard++) {
            const buf = new Uint8Array(len);
            assert.is(b.recv([buf], 1), len);
            got.push(buf);
          }
        };
        frames.forEach(({ len, cuts, drain: now }, seq) => {
          const frame = pattern(len, seq);
          const segs = split(frame, cuts);
          const r = a.send(segs, segs.length);
          assert.ok(r === len || r === 0);
          if (r === len) sent.push(frame);
          if (now) drain();
        });
        // The out-of-turn peer publishes RX slots in random parts; a fair peer lets it all arrive.
        sys.peer = 'in-order';
        drain();
        drain();
        const switchDrops = sys.switches.get('vale0')!.ports.get('vale0:b')!.drops;
        assert.is(a.stats.txFrames + a.stats.txDrops, frames.length, 'each send is a frame or a counted drop');
        assert.is(got.length + switchDrops, sent.length, 'each sent frame arrives or the switch counted it');
        // got is an in-order subsequence of sent
        let j = 0;
        for (const g of got) {
          while (j < sent.length && (sent[j]!.length !== g.length || !sent[j]!.every((v, k) => v === g[k]))) j++;
          assert.ok(j < sent.length, 'a received frame matches a sent one, in order');
          j++;
        }
        assert.is(b.netmap.rxMalformed + b.netmap.ringErrors, 0);
        await Promise.all([a.close(), b.close()]);
      },
    ),
    { numRuns: Number(process.env.NETMAP_PROPERTY_RUNS ?? 60) },
  );
});

test('open/close: ports come and go; a closed backend answers 0 to every verb', async () => {
  const { a, b, close } = openPair({ system: fake, switchName: () => 'valeZ' });
  await close();
  assert.is(a.send([new Uint8Array(60)], 1), 0);
  assert.is(b.peekRecvLen(), 0);
  assert.is(b.recv([new Uint8Array(60)], 1), 0);
  assert.is(b.rxDiscard(), 0);
  assert.is(a.getCap(), 0n);
  assert.is(fake.switches.get('valeZ')!.ports.size, 0, 'the VALE ports went away with their last fd');
  const again = openPair({ system: fake, switchName: () => 'valeZ' });
  await again.close();
});

test('txsync=batch: one NIOCTXSYNC per synchronous run of sends; frame mode syncs each frame; close flushes', async () => {
  const sys = new FakeNetmap({ slots: 64, bufSize: 2048 });
  const nic = sys.addNic('eth0');
  const batch = NetmapBackend.open('netmap:eth0', sys, { txsync: 'batch' });
  const port = [...sys.open][0]!;
  for (let i = 0; i < 10; i++) assert.is(batch.send([pattern(60, i)], 1), 60);
  assert.is(port.txSyncs, 0, 'nothing handed over yet');
  await Promise.resolve();
  assert.is(port.txSyncs, 1, 'one sync for the run');
  assert.is(nic.wire.length, 10);
  // A run longer than the ring: it syncs early when the ring fills, and drops nothing.
  for (let i = 0; i < 100; i++) assert.is(batch.send([pattern(60, i)], 1), 60);
  await Promise.resolve();
  assert.is(nic.wire.length, 110);
  assert.is(batch.stats.txDrops, 0);
  batch.send([pattern(60, 7)], 1);
  await batch.close();
  assert.is(nic.wire.length, 111, 'close hands over what send accepted');

  const frame = NetmapBackend.open('netmap:eth0', sys);
  const framePort = [...sys.open].at(-1)!;
  for (let i = 0; i < 10; i++) frame.send([pattern(60, i)], 1);
  assert.is(framePort.txSyncs, 10, 'bhyve mode: a sync per frame');
  await frame.close();
});

test('txsync is a validated option of both prefixes', async () => {
  const { defaultRegistry, ConfigError } = await import('@netbe/core');
  const error = await defaultRegistry.create('vale0:x,txsync=sometimes').then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.instance(error, ConfigError);
  assert.is((error as InstanceType<typeof ConfigError>).option, 'txsync');
});

test.run();
