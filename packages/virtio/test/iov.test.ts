import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { iovCopyFrom, iovCopyTo, iovLength, iovTrimFront } from '@netbe/virtio';

const flat = (iov: Uint8Array[], count: number): number[] => iov.slice(0, count).flatMap((s) => [...s]);
const segmentsArb = fc.array(fc.uint8Array({ maxLength: 24 }), { maxLength: 8 });

test('iovLength counts only the first `count` segments', () => {
  const iov = [new Uint8Array(3), new Uint8Array(0), new Uint8Array(5), new Uint8Array(100)];
  assert.is(iovLength(iov, 3), 8);
  assert.is(iovLength(iov, 0), 0);
});

test('iovTrimFront: a header inside the first segment, spanning segments, or longer than the iov', () => {
  const iov = [Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5), Uint8Array.of(6)];
  const out: Uint8Array[] = [];
  assert.is(iovTrimFront(iov, 3, 1, out), 3);
  assert.equal(flat(out, 3), [2, 3, 4, 5, 6]);
  assert.is(iovTrimFront(iov, 3, 4, out), 2);
  assert.equal(flat(out, 2), [5, 6]);
  assert.is(iovTrimFront(iov, 3, 5, out), 1, 'an exact segment boundary drops the emptied segments');
  assert.is(iovTrimFront(iov, 3, 6, out), 0);
  assert.is(iovTrimFront(iov, 3, 7, out), -1);
  const inPlace = [...iov];
  assert.is(iovTrimFront(inPlace, 3, 2, inPlace), 3);
  assert.equal(flat(inPlace, 3), [3, 4, 5, 6]);
  assert.equal([...iov[0]!], [1, 2, 3], 'the bytes are untouched');
});

test('a negative or NaN offset copies nothing', () => {
  const iov = [new Uint8Array(4)];
  assert.is(iovCopyFrom(iov, 1, -1, new Uint8Array(2)), 0);
  assert.is(iovCopyTo(iov, 1, -1, Uint8Array.of(1)), 0);
  assert.is(iovCopyTo(iov, 1, NaN, Uint8Array.of(1)), 0);
  assert.equal([...iov[0]!], [0, 0, 0, 0]);
});

test('property: copy out, copy in and trim agree with a flat reference; short buffers are reported', () => {
  fc.assert(
    fc.property(segmentsArb, fc.nat(200), fc.nat(200), fc.nat(40), (segments, offset, want, trim) => {
      const iov = segments.map((s) => Uint8Array.from(s));
      const count = iov.length;
      const bytes = flat(iov, count);
      // copy out
      const dst = new Uint8Array(want).fill(0xee);
      const got = iovCopyFrom(iov, count, offset, dst);
      const expected = bytes.slice(offset, offset + want);
      assert.is(got, expected.length);
      assert.equal([...dst.subarray(0, got)], expected);
      assert.ok(dst.subarray(got).every((b) => b === 0xee), 'nothing written past the copied bytes');
      // copy in
      const src = Uint8Array.from({ length: want }, (_, i) => (i * 13 + 1) & 0xff);
      const put = iovCopyTo(iov, count, offset, src);
      const room = Math.max(0, bytes.length - offset);
      assert.is(put, Math.min(want, room));
      const after = flat(iov, count);
      const model = [...bytes];
      for (let i = 0; i < put; i++) model[offset + i] = src[i]!;
      assert.equal(after, model);
      // trim
      const out: Uint8Array[] = [];
      const n = iovTrimFront(iov, count, trim, out);
      if (trim > after.length) assert.is(n, -1);
      else assert.equal(flat(out, n), after.slice(trim));
    }),
    { numRuns: 1000 },
  );
});

test.run();
