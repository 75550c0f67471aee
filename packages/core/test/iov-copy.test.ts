import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { gatherIov, scatterIov } from '../src/index';

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

test.run();
