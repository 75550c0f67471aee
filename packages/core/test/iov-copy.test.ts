import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { COPY_PIECE, gatherIov, scatterIov } from '../src/index';

/** What scatterIov must produce: src[start..end) laid over the segments in order. */
function expectedScatter(src: Uint8Array, start: number, end: number, sizes: number[]): Uint8Array[] {
  const out = sizes.map((n) => new Uint8Array(n).fill(0xee));
  let at = start;
  for (const seg of out) {
    const n = Math.min(seg.length, end - at);
    for (let k = 0; k < n; k++) seg[k] = src[at + k]!;
    at += n;
  }
  return out;
}

test('scatterIov: the same sources scattered again and again, with the same or new cuts and changed contents, always copy the current bytes', () => {
  // Few sources and few layouts, so remembered slice views are hit, missed and replaced.
  const sources = [new Uint8Array(9000), new Uint8Array(9000).subarray(100, 5000), new Uint8Array(300)];
  const layouts = [[4096, 4096, 4096], [100, 4096, 65, 64, 4096], [8192, 1000], [70, 70, 70, 70, 70, 9000], [2000]];
  fc.assert(
    fc.property(
      fc.array(fc.record({ source: fc.nat(2), layout: fc.nat(4), a: fc.nat(9000), b: fc.nat(9000), seed: fc.nat(255) }), { minLength: 1, maxLength: 30 }),
      (steps) => {
        for (const { source, layout, a, b, seed } of steps) {
          const src = sources[source]!;
          for (let k = 0; k < src.length; k++) src[k] = (k * 13 + seed) & 0xff;
          const start = Math.min(a, b) % (src.length + 1);
          const end = Math.min(src.length, start + Math.abs(a - b));
          const sizes = layouts[layout]!;
          const iov = sizes.map((n) => new Uint8Array(n).fill(0xee));
          const room = sizes.reduce((s, n) => s + n, 0);
          const n = scatterIov(src, start, end, iov, iov.length);
          if (room < end - start) {
            assert.is(n, -1);
            assert.ok(iov.every((seg) => seg.every((v) => v === 0xee)), 'nothing copied when too small');
            continue;
          }
          assert.is(n, end - start);
          assert.equal(iov, expectedScatter(src, start, end, sizes));
        }
      },
    ),
  );
});

test('scatterIov: only iov[0..iovcnt) is written; gatherIov brings the frame back', () => {
  const src = Uint8Array.from({ length: 10000 }, (_, i) => i & 0xff);
  for (let round = 0; round < 3; round++) {
    const iov = [new Uint8Array(4096), new Uint8Array(4096), new Uint8Array(4096), new Uint8Array(16).fill(0xee)];
    assert.is(scatterIov(src, 12, 10000, iov, 3), 9988);
    assert.ok(iov[3]!.every((v) => v === 0xee));
    const back = new Uint8Array(3 * 4096);
    assert.is(gatherIov(iov, 3, back, 0), 3 * 4096);
    assert.equal(back.subarray(0, 9988), src.subarray(12));
  }
});

test('gatherIov: segments of any length, longer than a copy piece or not, gathered repeatedly from the same and new views, land in order', () => {
  const backing = new Uint8Array(40000);
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat(30000), len: fc.integer({ min: 0, max: 3 * COPY_PIECE + 7 }) }), { minLength: 1, maxLength: 12 }),
      fc.nat(255),
      fc.nat(64),
      fc.boolean(),
      (segs, seed, dstAt, again) => {
        for (let k = 0; k < backing.length; k++) backing[k] = (k * 7 + seed) & 0xff;
        const iov = segs.map(({ at, len }) => backing.subarray(at, Math.min(backing.length, at + len)));
        const total = iov.reduce((n, v) => n + v.length, 0);
        const expected = new Uint8Array(dstAt + total + 3).fill(0xee);
        let o = dstAt;
        for (const v of iov) for (const b of v) expected[o++] = b;
        for (let round = 0; round < (again ? 2 : 1); round++) {
          if (round === 1) for (let k = 0; k < backing.length; k++) backing[k] ^= 0x5a;
          if (round === 1) {
            o = dstAt;
            for (const v of iov) for (const b of v) expected[o++] = b;
          }
          const dst = new Uint8Array(dstAt + total + 3).fill(0xee);
          assert.is(gatherIov(iov, iov.length, dst, dstAt), total);
          assert.equal(dst, expected);
        }
      },
    ),
  );
});

test('scatterIov: a frame cut into more pieces than are remembered, and one long first segment, copy every byte each time', () => {
  // 40 segments of 3000 bytes: 80 pieces, more than the per-source memory holds.
  const src = Uint8Array.from({ length: 120000 }, (_, i) => (i * 31) & 0xff);
  for (let round = 0; round < 3; round++) {
    src[round] ^= 0xff;
    const iov = Array.from({ length: 40 }, () => new Uint8Array(3000));
    assert.is(scatterIov(src, 5, 120000, iov, iov.length), 119995);
    const back = new Uint8Array(120000);
    gatherIov(iov, iov.length, back, 0);
    assert.equal(back.subarray(0, 119995), src.subarray(5));
    const one = [new Uint8Array(70000).fill(0xee)];
    assert.is(scatterIov(src, 100, 65636, one, 1), 65536);
    assert.equal(one[0]!.subarray(0, 65536), src.subarray(100, 65636));
    assert.ok(one[0]!.subarray(65536).every((v) => v === 0xee), 'nothing past the copied bytes');
  }
});

test.run();
