/**
 * iov-copy: `scatterIov` (@netbe/core), the copy every backend's `recv` makes into guest buffers,
 * against one `Uint8Array.prototype.set` per buffer, at chosen distances between source and
 * destination. `scatterIov` copies a segment in one call when source and destination offsets
 * agree modulo 16, else in pieces of at most `COPY_PIECE` bytes.
 *
 * A 64 KiB frame (after a 12-byte header, as the device lays it out) is scattered into 4 KiB
 * buffers, 17 per frame, cycling through 1024 of them (4 MiB, as `virtio-net` rx-65536). Source
 * and buffers live in one ArrayBuffer, so the distance between them modulo 4 KiB is known:
 * `d<N>` puts every destination N bytes past its source modulo 4 KiB. On CPUs where glibc's
 * memmove uses `rep movsb` above about 2 KiB (FSRM), N of 1 to 15 is the pathological case, which
 * `scatterIov` avoids by copying in pieces; at 0, 16 and 48 both make one call per buffer, and
 * the ratio is what `scatterIov`'s bookkeeping costs. Reference: the same copy with one `set` per
 * buffer and prepared views, measured in alternating rounds.
 */
import { COPY_PIECE, scatterIov } from '@netbe/core';
import type { Harness, Measurement } from './harness';

const FRAME = 65536;
const HDR = 12;
const BUF = 4096;
const RING = 1024;
const SOURCE_AT = 0;
/** Buffers start here (a multiple of 4 KiB) plus the distance. */
const BUFFERS_AT = 1 << 20;

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[(s.length >> 1) - 1]! + s[s.length >> 1]!) / 2;
};

function distanceCase(h: Harness, distance: number): void {
  const arena = new Uint8Array(BUFFERS_AT + RING * BUF + 2 * BUF);
  // The frame starts HDR bytes into its buffer, as the device writes the header first; so its
  // first segment and every later one share the same distance.
  const source = arena.subarray(SOURCE_AT + HDR, SOURCE_AT + HDR + FRAME).fill(0x5a);
  const buffers: Uint8Array[] = [];
  for (let i = 0; i < RING; i++) buffers.push(arena.subarray(BUFFERS_AT + distance + i * BUF, BUFFERS_AT + distance + (i + 1) * BUF));
  const perFrame = Math.ceil((FRAME + HDR) / BUF);
  const framesPerBatch = Math.floor(RING / perFrame);
  const iov: Uint8Array[] = new Array<Uint8Array>(perFrame);
  // One prepared iov per frame position, so neither variant pays for building it.
  const iovs: Uint8Array[][] = [];
  for (let f = 0; f < framesPerBatch; f++) {
    const v: Uint8Array[] = [];
    for (let k = 0; k < perFrame; k++) v.push(k === 0 ? buffers[f * perFrame]!.subarray(HDR) : buffers[f * perFrame + k]!);
    iovs.push(v);
  }
  // The single-`set` variant: the same cuts, one view per segment made once.
  const cuts: { dst: Uint8Array; src: Uint8Array }[][] = iovs.map((v) => {
    let at = 0;
    return v.map((dst) => {
      const n = Math.min(dst.length, FRAME - at);
      const cut = { dst, src: source.subarray(at, at + n) };
      at += n;
      return cut;
    });
  });
  const pieces = (): void => {
    for (let f = 0; f < framesPerBatch; f++) {
      const v = iovs[f]!;
      for (let k = 0; k < perFrame; k++) iov[k] = v[k]!;
      scatterIov(source, 0, FRAME, iov, perFrame);
    }
  };
  const single = (): void => {
    for (let f = 0; f < framesPerBatch; f++) {
      const c = cuts[f]!;
      for (let k = 0; k < c.length; k++) c[k]!.dst.set(c[k]!.src);
    }
  };
  pieces();
  if (buffers[1]![0] !== 0x5a) throw new Error('iov-copy: the scatter did not copy');
  const rounds = Math.max(3, Number(process.env.NETBE_BENCH_ROUNDS) || 5);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    a.push(h.measure(pieces, framesPerBatch, { rounds: 1 }).opsPerSec);
    b.push(h.measure(single, framesPerBatch, { rounds: 1 }).opsPerSec);
  }
  const m: Measurement = { opsPerSec: median(a), bytesPerSec: median(a) * FRAME };
  const ref: Measurement = { opsPerSec: median(b), bytesPerSec: median(b) * FRAME };
  h.reportBoth(`scatter-65536-4k-d${distance}`, m, 'one-set-per-buffer', ref);
}

export default async function (h: Harness): Promise<void> {
  h.note(`one call when aligned alike modulo 16, else pieces of at most ${COPY_PIECE} bytes; d<N>: destination N bytes past the source modulo 4 KiB`);
  for (const d of [0, 8, 16, 48]) distanceCase(h, d);
}
