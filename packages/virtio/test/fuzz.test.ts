// @timeout 600
/**
 * Fuzz: random guest memory layouts, descriptor tables, indirect tables and ring indices,
 * with the driver scribbling over its rings between device steps. The device must never throw,
 * never touch bytes outside guest memory (guard bytes around every region; every iov view must
 * lie inside a region) and must agree with the reference model on every decision.
 * Runs: NETBE_FUZZ_RUNS (default 2000).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { DescriptorChain, SplitQueue, availRingBytes, descTableBytes, usedRingBytes } from '@netbe/virtio';
import { guardedMemory } from '@netbe/virtio/testing';
import { ModelQueue } from './reference-model';

const runs = Number(process.env.NETBE_FUZZ_RUNS ?? 2000);

/** xorshift32: reproducible from the fast-check seed. */
function prng(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function runCase(seed: number): void {
  const rnd = prng(seed);
  const below = (n: number): number => (n <= 0 ? 0 : rnd() % n);
  const chance = (p: number): boolean => rnd() / 4294967296 < p;

  // Memory: the ring region at 0, then 0..2 more regions with gaps.
  const specs = [{ guestPhysAddr: 0, size: 0x10000 }];
  let at = 0x10000;
  for (let i = below(3); i > 0; i--) {
    at += below(3) * 0x1000;
    const size = below(0x4000);
    specs.push({ guestPhysAddr: at, size });
    at += size;
  }
  const g = guardedMemory(specs, 32);
  const memory = g.memory;
  // The model works on its own copy; the driver writes both. After every step the two copies
  // must be identical byte for byte: the device wrote exactly what the model wrote.
  const mirror = guardedMemory(specs, 32).memory;
  const drv = {
    u16(gpa: number, v: number): void {
      memory.writeU16(gpa, v);
      mirror.writeU16(gpa, v);
    },
    u32(gpa: number, v: number): void {
      memory.writeU32(gpa, v);
      mirror.writeU32(gpa, v);
    },
  };
  const regionRanges = memory.regions.map((r) => [r.bytes.byteOffset, r.bytes.byteOffset + r.bytes.byteLength] as const);
  const backing = memory.regions[0]!.bytes.buffer;

  const size = 1 << below(9); // 1..256
  const descAddr = 0;
  const availAddr = descTableBytes(size);
  const usedAddr = (availAddr + availRingBytes(size) + 3) & ~3;
  const ringEnd = usedAddr + usedRingBytes(size);
  const eventIdx = chance(0.5);
  const indirect = chance(0.7);
  const notifyOnEmpty = chance(0.3);
  const policy = chance(0.5) ? 'break' : 'drop';
  const maxSegments = 1 + below(64);

  // A plausible-or-not guest address and length.
  const anyAddr = (): number => {
    const k = below(6);
    if (k === 0) return rnd(); // any u32
    if (k === 1) return rnd() * 4294967296 + rnd(); // any u64 (inexact above 2^53 on purpose)
    const r = specs[below(specs.length)]!;
    if (k === 2) return r.guestPhysAddr + r.size - below(32); // near the end of a region
    return r.guestPhysAddr + below(r.size + 1);
  };
  const anyLen = (): number => {
    const k = below(5);
    if (k === 0) return rnd();
    if (k === 1) return 16 * below(5);
    return below(96);
  };
  const writeDesc = (gpa: number): void => {
    if (!memory.contains(gpa, 16)) return;
    const addr = anyAddr();
    drv.u32(gpa, addr % 4294967296);
    drv.u32(gpa + 4, Math.floor(addr / 4294967296) % 4294967296);
    drv.u32(gpa + 8, anyLen() >>> 0);
    drv.u16(gpa + 12, chance(0.9) ? below(8) : rnd() & 0xffff);
    drv.u16(gpa + 14, chance(0.8) ? below(size + 2) : rnd() & 0xffff);
  };
  // The descriptor table, and some would-be indirect tables anywhere in memory.
  for (let i = 0; i < size; i++) writeDesc(descAddr + 16 * i);
  for (let t = below(8); t > 0; t--) {
    const base = anyAddr() & ~(chance(0.8) ? 15 : 0);
    for (let i = below(8); i >= 0; i--) writeDesc(base + 16 * i);
  }
  // The avail ring.
  for (let i = 0; i < size; i++) drv.u16(availAddr + 4 + 2 * i, chance(0.9) ? below(size) : rnd() & 0xffff);
  drv.u16(availAddr, below(2));
  drv.u16(availAddr + 4 + 2 * size, rnd() & 0xffff);
  drv.u16(availAddr + 2, chance(0.9) ? below(size + 1) : rnd() & 0xffff);

  const queue = new SplitQueue({ maxSize: 256, malformedChains: policy });
  queue.size = size;
  queue.descAddr = descAddr;
  queue.availAddr = availAddr;
  queue.usedAddr = usedAddr;
  queue.eventIdx = eventIdx;
  queue.indirect = indirect;
  queue.notifyOnEmpty = notifyOnEmpty;
  assert.ok(queue.activate(memory));
  const sameBytes = (gpa: number, len: number, what: string): void => {
    const a = memory.translateOrThrow(gpa, len);
    const b = mirror.translateOrThrow(gpa, len);
    for (let i = 0; i < len; i++) if (a[i] !== b[i]) assert.unreachable(`${what}: byte at 0x${(gpa + i).toString(16)} is ${a[i]}, the model wrote ${b[i]}`);
  };
  const model = new ModelQueue(mirror, { size, descAddr, availAddr, usedAddr, eventIdx, indirect, notifyOnEmpty, maxSegments, policy }, true);
  const chain = new DescriptorChain(maxSegments);
  const popped: number[] = [];

  const runIov: Uint8Array[] = new Array<Uint8Array>(size).fill(new Uint8Array(0));
  const runHeads = new Uint16Array(size);
  const runLens = new Uint32Array(size);

  for (let step = 0; step < 40; step++) {
    const k = below(12);
    if (k <= 3) {
      const expected = model.pop();
      const got = queue.pop(chain);
      if (expected.kind === 'chain') {
        assert.ok(got, `seed ${seed} step ${step}: model popped ${expected.head}`);
        assert.is(chain.head, expected.head);
        assert.is(chain.count, expected.segments.length);
        for (let s = 0; s < chain.count; s++) {
          const e = expected.segments[s]!;
          assert.is(chain.addrs[s], e.addr);
          assert.is(chain.lens[s], e.len);
          assert.is(s >= chain.readable, e.writable);
          const v = chain.iov[s]!;
          assert.is(v.length, e.len);
          assert.ok(v.buffer === backing, 'a view of guest memory');
          assert.ok(regionRanges.some(([from, to]) => v.byteOffset >= from && v.byteOffset + v.length <= to), 'inside one region');
        }
        popped.push(chain.head);
      } else {
        assert.not.ok(got, `seed ${seed} step ${step}: model says ${expected.kind} ${expected.kind === 'error' ? expected.code : ''}`);
      }
    } else if (k >= 10) {
      // The mergeable-RX run: one-buffer writable chains only; anything else stays for pop.
      const max = below(size + 1);
      const minLen = below(40);
      const want = 1 + below(k === 10 ? 200 : 0x10000);
      const expected = model.popRun(max, minLen, want);
      const n = queue.popWritableRun(runIov, 0, runHeads, runLens, 0, max, minLen, want);
      assert.is(n, expected.length, `seed ${seed} step ${step}: chains in the run`);
      for (let s = 0; s < n; s++) {
        const e = expected[s]!;
        assert.is(runHeads[s], e.head);
        assert.is(runLens[s], e.len);
        const v = runIov[s]!;
        assert.is(v.length, e.len);
        assert.ok(v.buffer === backing, 'a view of guest memory');
        assert.ok(regionRanges.some(([from, to]) => v.byteOffset >= from && v.byteOffset + v.length <= to), 'inside one region');
        assert.is(v.byteOffset, memory.translate(e.addr, e.len)!.byteOffset, 'the view of the buffer');
        popped.push(e.head);
      }
    } else if (k === 4 && popped.length > 0) {
      const [head] = popped.splice(below(popped.length), 1);
      const len = rnd();
      queue.addUsed(head!, len);
      model.addUsed(head!, len);
    } else if (k === 5) {
      queue.publish();
      model.publish();
      const empty = chance(0.5);
      assert.is(queue.needsInterrupt(empty), model.needsInterrupt(empty), `seed ${seed} step ${step}: interrupt`);
    } else if (k === 6) {
      // The driver scribbles over its own structures.
      const what = below(4);
      if (what === 0) writeDesc(descAddr + 16 * below(size));
      else if (what === 1) drv.u16(availAddr + 4 + 2 * below(size), chance(0.8) ? below(size) : rnd() & 0xffff);
      else if (what === 2) drv.u16(availAddr + 2, (memory.readU16(availAddr + 2) + (chance(0.9) ? below(4) : rnd())) & 0xffff);
      else drv.u16(availAddr + 4 + 2 * size, rnd() & 0xffff);
    } else if (k === 7) {
      const n = Math.min(popped.length, below(3));
      const outstanding = (queue.lastAvailIdx - queue.usedIdx) & 0xffff;
      if (n > 0 && n <= outstanding && queue.error === null) {
        popped.splice(popped.length - n, n);
        queue.retChains(n);
        model.retChains(n);
      }
    } else if (k === 8) {
      queue.disableNotifications();
      model.disableNotifications();
    } else {
      assert.is(queue.enableNotifications(), model.enableNotifications(), `seed ${seed} step ${step}: enable`);
    }
    sameBytes(usedAddr, ringEnd - usedAddr, `seed ${seed} step ${step}: used ring`);
    assert.is(queue.error?.code ?? null, model.broken, `seed ${seed} step ${step}: broken state`);
    assert.is(queue.stats.droppedChains, model.dropped);
  }
  for (const r of memory.regions) sameBytes(r.guestPhysAddr, r.bytes.length, `seed ${seed}: end`);
  assert.ok(g.guardsIntact(), `seed ${seed}: guard bytes changed`);
}

test(`fuzz: ${runs} random rings, tables and indices`, () => {
  fc.assert(fc.property(fc.integer({ min: 1, max: 0x7fffffff }), (seed) => runCase(seed)), { numRuns: runs });
});

test('fuzz: hostile ring placement never throws and never starts a queue outside memory', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 8 }), fc.nat(), fc.nat(), fc.nat(), fc.boolean(), (sizeLog, d, a, u, big) => {
      const g = guardedMemory([{ guestPhysAddr: 0x1000, size: 0x8000 }], 16);
      const q = new SplitQueue({ maxSize: 256 });
      q.size = 1 << sizeLog;
      const scale = big ? 2 ** 40 : 1;
      q.descAddr = (d % 0xa000) * scale;
      q.availAddr = a % 0xa000;
      q.usedAddr = u % 0xa000;
      const ok = q.activate(g.memory);
      const inside = g.memory.contains(q.descAddr, 16 * q.size) && g.memory.contains(q.availAddr, 6 + 2 * q.size) && g.memory.contains(q.usedAddr, 6 + 8 * q.size);
      const aligned = q.descAddr % 16 === 0 && q.availAddr % 2 === 0 && q.usedAddr % 4 === 0;
      assert.is(ok, inside && aligned);
      const chain = new DescriptorChain(8);
      for (let i = 0; i < 4; i++) q.pop(chain);
      q.publish();
      q.needsInterrupt(true);
      q.enableNotifications();
      assert.ok(g.guardsIntact());
    }),
    { numRuns: Math.max(200, runs / 4) },
  );
});

test.run();
