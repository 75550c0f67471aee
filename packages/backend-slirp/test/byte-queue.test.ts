/**
 * ByteQueue (the TCP send buffer): bytes come out by offset exactly as pushed, and each chunk is
 * handed back exactly once, only after every byte of it is consumed (or the queue cleared) — the
 * Node adapter reuses those read buffers, so an early or repeated hand-back would corrupt data.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ByteQueue } from '../src/byte-queue';

test('random pushes, reads and consumes: contents by offset, each chunk done once and only when consumed', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.record({ push: fc.integer({ min: 0, max: 300 }) }), fc.record({ consume: fc.integer({ min: 0, max: 400 }) })), { maxLength: 60 }),
      fc.boolean(),
      (ops, clearAtEnd) => {
        const done: Uint8Array[] = [];
        const q = new ByteQueue((c) => done.push(c));
        const model: number[] = [];
        let head = 0; // bytes consumed so far
        let pushed = 0;
        const ends: Array<{ chunk: Uint8Array; end: number }> = [];
        for (const op of ops) {
          if ('push' in op) {
            const chunk = Uint8Array.from({ length: op.push }, (_, i) => (pushed + i) & 0xff);
            q.push(chunk);
            for (const b of chunk) model.push(b);
            pushed += chunk.length;
            if (chunk.length > 0) ends.push({ chunk, end: pushed });
          } else {
            const n = Math.min(op.consume, q.length);
            q.consume(op.consume);
            model.splice(0, n);
            head += n;
          }
          assert.is(q.length, model.length);
          // Done exactly for the chunks whose last byte is consumed, in order.
          const expected = ends.filter((e) => e.end <= head).map((e) => e.chunk);
          assert.is(done.length, expected.length);
          expected.forEach((c, i) => assert.ok(done[i] === c));
          if (model.length > 0) {
            const off = Math.floor(model.length / 3);
            const len = model.length - off;
            const out = new Uint8Array(len + 2);
            q.copyOut(off, len, out, 1);
            assert.equal([...out.subarray(1, 1 + len)], model.slice(off));
          }
        }
        if (clearAtEnd) {
          q.clear();
          assert.is(done.length, ends.length, 'clear hands back what was left');
          assert.is(new Set(done).size, done.length, 'never twice');
        }
      },
    ),
    { numRuns: 300 },
  );
});

test.run();
