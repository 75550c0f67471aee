/**
 * backend-memory hot paths: a pair (send on one end, recv on the other: two copies per frame),
 * the source (recv only: one copy from the template) and the sink (send only: no copy).
 * References, measured in the same run: one memcpy of the same bytes per copy the path makes.
 */
import type { Harness, Measurement } from './harness';
import { createMemoryPair, createMemorySink, createMemorySource } from '@netbe/backend-memory';

const BATCH = 64;

/** Two memcpys of `bytes` per operation (in and out of the ring). */
function memcpyTwice(h: Harness, bytes: number): Measurement {
  const src = new Uint8Array(bytes).fill(0x5a);
  const mid = new Uint8Array(bytes);
  const dst = new Uint8Array(bytes);
  return h.measure(() => {
    for (let i = 0; i < BATCH; i++) {
      mid.set(src);
      dst.set(mid);
    }
  }, BATCH, { bytesPerOp: bytes });
}

export default async function memory(h: Harness): Promise<void> {
  for (const size of [64, 1514]) {
    const ref = memcpyTwice(h, size);
    // Single-segment frames, no header.
    {
      const [a, b] = createMemoryPair();
      const frame = [new Uint8Array(size).fill(1)];
      const out = [new Uint8Array(2048)];
      const m = h.measure(() => {
        for (let i = 0; i < BATCH; i++) a.send(frame, 1);
        for (let i = 0; i < BATCH; i++) b.recv(out, 1);
      }, BATCH, { bytesPerOp: size });
      h.reportBoth(`pair-${size}`, m, 'memcpy x2', ref);
      if (b.stats.rxFrames === 0 || a.stats.txDrops !== 0) throw new Error('pair benchmark lost frames');
      await a.close();
      await b.close();
    }
    // 12-byte header in its own segment on both sides (the legacy virtio layout).
    {
      const [a, b] = createMemoryPair();
      a.setCap(0n, 12);
      b.setCap(0n, 12);
      const frame = [new Uint8Array(12), new Uint8Array(size).fill(1)];
      const out = [new Uint8Array(12), new Uint8Array(2048)];
      const m = h.measure(() => {
        for (let i = 0; i < BATCH; i++) a.send(frame, 2);
        for (let i = 0; i < BATCH; i++) b.recv(out, 2);
      }, BATCH, { bytesPerOp: size });
      h.reportBoth(`pair-hdr12-2seg-${size}`, m, 'memcpy x2', ref);
      await a.close();
      await b.close();
    }
  }
  {
    const size = 64;
    const ref = h.memcpy(size);
    const src = createMemorySource({ size });
    const out = [new Uint8Array(2048)];
    const m = h.measure(() => {
      for (let i = 0; i < BATCH; i++) src.recv(out, 1);
    }, BATCH, { bytesPerOp: size });
    h.reportBoth(`source-${size}`, m, 'memcpy', ref);
    await src.close();
  }
  {
    const size = 1514;
    const ref = h.memcpy(size);
    const sink = createMemorySink();
    const frame = [new Uint8Array(size)];
    const m = h.measure(() => {
      for (let i = 0; i < BATCH; i++) sink.send(frame, 1);
    }, BATCH, { bytesPerOp: size });
    h.reportBoth(`sink-${size}`, m, 'memcpy', ref);
    await sink.close();
  }
}
