import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { createMemoryPair } from '../src/index';
import { concat } from './helpers';

const hdrLen = fc.constantFrom(0, 10, 12);
/** An iov over `bytes`: cut at sorted random points (empty segments allowed). */
const cuts = (len: number) => fc.array(fc.integer({ min: 0, max: len }), { maxLength: 6 }).map((c) => [...c].sort((x, y) => x - y));
function iovOf(bytes: Uint8Array, at: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const c of [...at, bytes.length]) {
    out.push(bytes.subarray(prev, c));
    prev = c;
  }
  return out;
}

test('any frame, header pairing and segmentation arrives byte for byte, in order', () => {
  fc.assert(
    fc.property(
      hdrLen,
      hdrLen,
      fc.array(
        fc.uint8Array({ minLength: 1, maxLength: 5000 }).chain((f) => fc.tuple(fc.constant(f), cuts(f.length + 12), cuts(f.length + 12))),
        { minLength: 1, maxLength: 20 },
      ),
      (sendHdr, recvHdr, frames) => {
        const [a, b] = createMemoryPair({ queue: 8 });
        a.setCap(0n, sendHdr);
        b.setCap(0n, recvHdr);
        const expected: Uint8Array[] = [];
        const header = Uint8Array.of(1, 4, 66, 0, 0x10, 0x05, 34, 0, 16, 0, 1, 0);
        for (const [f, sendCuts, recvCuts] of frames) {
          const sent = concat(header.subarray(0, sendHdr), f);
          const ok = a.send(iovOf(sent, sendCuts.filter((c) => c <= sent.length)), 7) > 0;
          if (ok) {
            const got = recvHdr === 0 ? new Uint8Array(0) : sendHdr === 0 ? new Uint8Array(recvHdr) : concat(header.subarray(0, Math.min(sendHdr, recvHdr)), new Uint8Array(Math.max(0, recvHdr - sendHdr)));
            expected.push(concat(got, f));
          }
          // Drain sometimes, so the ring wraps and slots are reused with other sizes.
          if (f[0]! % 3 === 0) {
            const want = expected.shift();
            if (want) {
              assert.is(b.peekRecvLen(), want.length);
              const out = new Uint8Array(want.length + 3);
              assert.is(b.recv(iovOf(out, recvCuts.filter((c) => c <= out.length)), 7), want.length);
              assert.equal(out.subarray(0, want.length), want);
            }
          }
        }
        assert.is(a.stats.txFrames + a.stats.txDrops, frames.length);
        for (const want of expected) {
          const out = new Uint8Array(want.length);
          assert.is(b.recv([out], 1), want.length);
          assert.equal(out, want);
        }
        assert.is(b.peekRecvLen(), 0);
        void a.close();
        void b.close();
      },
    ),
    { numRuns: 200 },
  );
});

test('hostile iovs never throw: odd iovcnt, empty segments, too-small receive buffers', () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.integer({ min: -2, max: 12 }),
      fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 5 }),
      (segs, iovcnt, recvSizes) => {
        const [a, b] = createMemoryPair({ queue: 2, maxFrame: 600 });
        const sent = a.send(segs, iovcnt);
        assert.ok(sent >= 0);
        assert.is(a.stats.txFrames + a.stats.txDrops, 1);
        const bufs = recvSizes.map((n) => new Uint8Array(n));
        const got = b.recv(bufs, recvSizes.length);
        const room = recvSizes.reduce((x, y) => x + y, 0);
        if (sent === 0) assert.is(got, 0);
        else assert.is(got, sent <= room ? sent : -1);
        assert.is(b.peekRecvLen(), 0);
        void a.close();
        void b.close();
      },
    ),
    { numRuns: 300 },
  );
});

test.run();
