import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { NetbeError } from '@netbe/core';
import { NR_REG_ALL_NIC, NS_MOREFRAG, RING_SLOTS, SLOT_SIZE } from '@netbe/netmap-bindings';
import { NetmapBackend, PortMemory } from '../src/index';
import { FakeNetmap, type FakeKring, type FakePort } from '../src/testing/index';
import { pattern } from './ring-cases';

// The other side of the rings is untrusted: a hostile or broken kernel (here, the double with
// its slots rewritten by the test). Expected: clear errors or counted drops, never a read
// outside the mapping, never a throw from a verb.

function nicBackend(options: { slots?: number; bufSize?: number } = {}): { sys: FakeNetmap; be: NetmapBackend; rx: FakeKring; tx: FakeKring; port: FakePort } {
  const sys = new FakeNetmap({ slots: options.slots ?? 16, bufSize: options.bufSize ?? 64 });
  sys.addNic('eth0');
  const be = NetmapBackend.open('netmap:eth0', sys);
  const port = [...sys.open][0]!;
  return { sys, be, port, rx: port.rxKrings[0]!, tx: port.txKrings[0]! };
}

/** Plays the kernel: writes slots from the RX ring's current tail and publishes them. */
function publish(rx: FakeKring, slots: Array<{ idx?: number; len: number; flags: number }>): void {
  let t = rx.tail;
  for (const s of slots) {
    if (s.idx !== undefined) rx.setBufIdx(t, s.idx);
    rx.setLen(t, s.len);
    rx.setFlags(t, s.flags);
    t = (t + 1) % rx.numSlots;
  }
  rx.tail = t;
  rx.hwtail = t;
}

test('a mapped region smaller than the rings claim: a clear ERR_IO at open, the port closed again', () => {
  const sys = new FakeNetmap({ slots: 64, bufSize: 2048 });
  const full = sys.openPort({ name: 'vale0:probe' });
  const size = full.memory.byteLength;
  const rxRing = full.rxKrings[0]!.base;
  full.close();
  // The mapping ends in the middle of the RX ring's slots.
  const short = new FakeNetmap({ slots: 64, bufSize: 2048, shortenRegionBy: size - (rxRing + RING_SLOTS + 10 * SLOT_SIZE) });
  assert.throws(
    () => NetmapBackend.open('vale0:a', short),
    (e: Error) => e instanceof NetbeError && e.code === 'ERR_IO' && /^vale0:a: bad netmap region \(\d+ bytes\): rx ring 0 claims 64 slots, which end at \d+, past the region$/.test(e.message),
  );
  assert.is(short.open.size, 0, 'the port was closed');
  // Cut into the buffer pool instead: the ring fits, but some buffers do not. Open succeeds; a
  // slot pointing at a cut buffer is a counted drop (the hostile-slot tests below).
  const cut = new FakeNetmap({ slots: 64, bufSize: 2048, shortenRegionBy: 2048 * 10 });
  const be = NetmapBackend.open('vale0:b', cut);
  void be.close();
});

test('property: a corrupted netmap_if or ring header is refused, or every located ring lies inside the region', () => {
  const sys = new FakeNetmap({ slots: 8, bufSize: 64 });
  sys.addNic('eth0', 2);
  const port = sys.openPort({ name: 'eth0' });
  const pristine = new Uint8Array(port.memory).slice();
  const headerBytes = port.txKrings[0]!.base + RING_SLOTS + 8 * SLOT_SIZE; // nifps and the first ring
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.nat(headerBytes + 4096), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 12 }), fc.nat(pristine.length), (writes, cut) => {
      const bytes = pristine.slice(0, Math.max(0, pristine.length - cut));
      for (const [at, v] of writes) if (at < bytes.length) bytes[at] = v;
      let mem: PortMemory;
      try {
        mem = PortMemory.open('netmap:eth0', bytes.buffer, port.nifpOffset, NR_REG_ALL_NIC, 0);
      } catch (e) {
        assert.instance(e, NetbeError);
        assert.is((e as NetbeError).code, 'ERR_IO');
        return;
      }
      for (const r of [...mem.tx, ...mem.rx]) {
        assert.ok(r.base >= 0 && r.base + RING_SLOTS + SLOT_SIZE * r.numSlots <= bytes.length);
        assert.ok(r.bufBase + r.minBuf * r.bufSize >= 0);
        assert.ok(r.bufBase + r.maxBuf * r.bufSize <= bytes.length);
      }
    }),
    { numRuns: 3000 },
  );
  port.close();
});

test('RX slots out of range (buffer index, length) are counted drops; the good frame after them arrives', async () => {
  const { be, rx } = nicBackend();
  const good = rx.bufIdx(3);
  publish(rx, [
    { idx: 0xffff_fff0, len: 60, flags: 0 }, // buffer index far outside the region
    { len: 65, flags: 0 }, // longer than nr_buf_size (64)
    { idx: 1_000_000, len: 10, flags: NS_MOREFRAG }, // bad index in the middle of a chain: its tail is dropped too
    { idx: good, len: 10, flags: 0 },
    { len: 0, flags: 0 }, // an empty frame
  ]);
  rx.buffer(5)!.set(pattern(64, 1));
  publish(rx, [{ len: 64, flags: 0 }]);
  assert.is(be.peekRecvLen(), 64);
  const buf = new Uint8Array(64);
  assert.is(be.recv([buf], 1), 64);
  assert.equal(buf, pattern(64, 1));
  assert.is(be.netmap.rxMalformed, 4);
  assert.is(be.peekRecvLen(), 0);
  await be.close();
});

test('head or tail outside the ring: counted, treated as empty/full, no throw', async () => {
  const { be, rx, tx } = nicBackend();
  rx.tail = 1000;
  assert.is(be.peekRecvLen(), 0);
  assert.is(be.recv([new Uint8Array(100)], 1), 0);
  assert.ok(be.netmap.ringErrors >= 1);
  tx.tail = 0xffffffff;
  tx.hwtail = 3; // the next txsync repairs the user-visible tail
  assert.is(be.send([pattern(60, 1)], 1), 60, 'one txsync later the ring is sane again');
  await be.close();
});

test('a chain that never ends (fills the ring) and a chain over 64 slots are dropped whole, even across syncs', async () => {
  const { be, rx } = nicBackend({ slots: 128, bufSize: 64 });
  // 70 MOREFRAG slots: over NETMAP_MAX_FRAGS; the last 6 arrive later, then a good frame.
  publish(rx, Array.from({ length: 66 }, () => ({ len: 64, flags: NS_MOREFRAG })));
  assert.is(be.peekRecvLen(), 0);
  publish(rx, [...Array.from({ length: 3 }, () => ({ len: 64, flags: NS_MOREFRAG })), { len: 64, flags: 0 }]);
  rx.buffer(rx.tail)!.set(pattern(30, 2));
  publish(rx, [{ len: 30, flags: 0 }]);
  assert.is(be.peekRecvLen(), 30);
  assert.is(be.netmap.rxMalformed, 1);
  be.rxDiscard();

  const small = nicBackend({ slots: 16, bufSize: 64 });
  publish(small.rx, Array.from({ length: 15 }, () => ({ len: 64, flags: NS_MOREFRAG })));
  assert.is(small.be.peekRecvLen(), 0, 'a ring full of one unfinished frame is dropped, not waited on forever');
  assert.is(small.be.netmap.rxMalformed, 1);
  await Promise.all([be.close(), small.be.close()]);
});

test('a TX slot whose buffer index the kernel corrupted: the frame is a counted drop, nothing written', async () => {
  const { be, tx, sys } = nicBackend();
  tx.setBufIdx(tx.head, 0x7fff_ffff);
  assert.is(be.send([pattern(60, 1)], 1), 0);
  assert.is(be.netmap.txBadBuffer, 1);
  assert.is(be.stats.txDrops, 1);
  assert.is(sys.nics.get('eth0')!.wire.length, 0);
  await be.close();
});

test('property: arbitrary RX ring contents never make a verb throw or return a frame outside the rules', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ idx: fc.oneof(fc.nat(40), fc.nat(), fc.constant(0xffffffff)), len: fc.nat(0xffff), flags: fc.nat(0xffff) }), { minLength: 16, maxLength: 16 }),
      fc.nat(40),
      fc.array(fc.oneof(fc.constant('peek'), fc.constant('recv'), fc.constant('discard'), fc.constant('small')), { maxLength: 40 }),
      async (slots, tail, ops) => {
        const { be, rx } = nicBackend({ slots: 16, bufSize: 64 });
        slots.forEach((s, i) => {
          rx.setBufIdx(i, s.idx);
          rx.setLen(i, s.len);
          rx.setFlags(i, s.flags);
        });
        rx.tail = tail;
        rx.hwtail = tail < 16 ? tail : 0;
        for (const op of ops) {
          const peek = be.peekRecvLen();
          assert.ok(peek >= 0 && peek <= 64 * 64);
          if (op === 'recv') {
            const buf = new Uint8Array(4096);
            const n = be.recv([buf], 1);
            assert.ok(n === peek || (peek === 0 && n === 0) || n === -1, `recv ${n} after peek ${peek}`);
          } else if (op === 'small') {
            const n = be.recv([new Uint8Array(1)], 1);
            assert.ok(n === -1 || n === 0 || (n === 1 && peek === 1));
          } else if (op === 'discard') {
            assert.ok(be.rxDiscard() === peek);
          }
          const head = rx.head;
          assert.ok(head < 16, 'head stays inside the ring');
        }
        await be.close();
      },
    ),
    { numRuns: 1500 },
  );
});

test.run();
