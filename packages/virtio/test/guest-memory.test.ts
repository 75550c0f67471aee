import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { GuestMemory, VirtioError } from '@netbe/virtio';

const twoRegions = (): GuestMemory =>
  new GuestMemory([
    { guestPhysAddr: 0x10000, bytes: new Uint8Array(0x1000) },
    { guestPhysAddr: 0x0, bytes: new Uint8Array(0x1000) }, // out of order on purpose
  ]);

function throwsCode(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, VirtioError);
    assert.is((e as VirtioError).code, code);
    return;
  }
  assert.unreachable(`expected ${code}`);
}

test('regions are sorted and translate returns views without copying', () => {
  const m = twoRegions();
  assert.is(m.regions[0]!.guestPhysAddr, 0);
  assert.is(m.totalBytes, 0x2000);
  const v = m.translate(0x10010, 4)!;
  v.set([1, 2, 3, 4]);
  assert.equal([...m.regions[1]!.bytes.subarray(0x10, 0x14)], [1, 2, 3, 4]);
  assert.is(m.translate(0xfff, 1)!.length, 1);
  assert.is(m.translate(0x1000, 0)!.length, 0, 'an empty range at the end of a region');
});

test('a range that leaves its region, falls in a gap or wraps is refused', () => {
  const m = twoRegions();
  assert.is(m.translate(0xffe, 4), null, 'crosses the end of region 0');
  assert.is(m.translate(0x2000, 1), null, 'in the gap');
  assert.is(m.translate(0x10ffc, 8), null, 'crosses the end of region 1');
  assert.is(m.translate(-1, 1), null);
  assert.is(m.translate(0.5, 1), null);
  assert.is(m.translate(Number.MAX_SAFE_INTEGER, 2), null, 'would pass 2^53');
  assert.is(m.translate(2 ** 64 - 1, 2), null, 'a u64 address that wraps');
  assert.is(m.translate(NaN, 1), null);
  assert.is(m.translate(0, Infinity), null);
  throwsCode(() => m.translateOrThrow(0x2000, 1), 'ERR_ADDRESS');
  throwsCode(() => m.readU32(0xffe), 'ERR_ADDRESS');
  throwsCode(() => m.writeU16(0x10fff, 1), 'ERR_ADDRESS');
});

test('adjacent regions still do not join: a range must lie in one region', () => {
  const m = new GuestMemory([
    { guestPhysAddr: 0, bytes: new Uint8Array(16) },
    { guestPhysAddr: 16, bytes: new Uint8Array(16) },
  ]);
  assert.ok(m.contains(0, 16));
  assert.ok(m.contains(16, 16));
  assert.not.ok(m.contains(8, 16));
});

test('overlapping or invalid regions are refused', () => {
  assert.throws(() => new GuestMemory([{ guestPhysAddr: 0, bytes: new Uint8Array(32) }, { guestPhysAddr: 16, bytes: new Uint8Array(32) }]), RangeError);
  assert.throws(() => new GuestMemory([{ guestPhysAddr: -4, bytes: new Uint8Array(1) }]), RangeError);
  assert.throws(() => new GuestMemory([{ guestPhysAddr: 2 ** 53 - 4, bytes: new Uint8Array(8) }]), RangeError);
});

test('little-endian u16/u32/u64 accessors, also unaligned and in views with an odd byteOffset', () => {
  const backing = new Uint8Array(64);
  const m = new GuestMemory([{ guestPhysAddr: 0x1000, bytes: backing.subarray(3, 35) }]);
  m.writeU16(0x1001, 0xbeef);
  assert.equal([...backing.subarray(4, 6)], [0xef, 0xbe]);
  assert.is(m.readU16(0x1001), 0xbeef);
  m.writeU32(0x1003, 0xdeadbeef);
  assert.is(m.readU32(0x1003), 0xdeadbeef);
  m.writeU64(0x1007, 2 ** 53 - 1);
  assert.is(m.readU64(0x1007), 2 ** 53 - 1);
  m.writeU64Big(0x1010, 0xffffffffffffffffn);
  assert.is(m.readU64Big(0x1010), 0xffffffffffffffffn);
  throwsCode(() => m.readU64(0x1010), 'ERR_ADDRESS');
  m.writeU8(0x101f, 7);
  assert.is(m.readU8(0x101f), 7);
  const dst = new Uint8Array(2);
  m.read(0x1001, dst);
  assert.equal([...dst], [0xef, 0xbe]);
  m.write(0x1000, Uint8Array.of(9));
  assert.is(backing[3], 9);
  m.fill(0x1000, 32, 0);
  assert.is(backing[3], 0);
  assert.is(backing[35], 0);
});

test('property: translate agrees with a plain interval check', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ gap: fc.integer({ min: 0, max: 64 }), size: fc.integer({ min: 0, max: 64 }) }), { minLength: 1, maxLength: 4 }),
      fc.integer({ min: -8, max: 400 }),
      fc.integer({ min: 0, max: 80 }),
      (shape, gpa, len) => {
        let at = 0;
        const regions = shape.map(({ gap, size }) => {
          at += gap;
          const r = { guestPhysAddr: at, bytes: new Uint8Array(size) };
          at += size;
          return r;
        });
        const m = new GuestMemory(regions);
        const expected = regions.some((r) => gpa >= r.guestPhysAddr && gpa + len <= r.guestPhysAddr + r.bytes.length);
        const view = m.translate(gpa, len);
        assert.is(view !== null, expected);
        if (view !== null) assert.is(view.length, len);
      },
    ),
    { numRuns: 500 },
  );
});

test.run();
