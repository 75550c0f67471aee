import type { Iov } from './backend';

/** Below this many bytes a segment is copied byte by byte: no subarray view is looked up or made. */
const SMALL_COPY = 64;
/** Pieces per source whose views are remembered (a 64 KiB frame in 4 KiB buffers needs 34). */
const SLICES_PER_SOURCE = 64;
const EMPTY = new Uint8Array(0);
/**
 * `Uint8Array.prototype.set`, called as `copyBytes.call(target, source, offset)`: V8 does not
 * fold the `target.set` property load (it stays an inline-cache call, about a third of a
 * 64-byte copy); a call through the captured builtin skips it.
 */
const copyBytes = Uint8Array.prototype.set;

/**
 * The views `src.subarray(at, at + n)` last used for the piece at each position of a scatter
 * from one source. A backend that scatters from the same buffer into the same layout (a frame
 * template, a bounce buffer, a ring slot, into guest buffers of a fixed size) finds them here
 * instead of allocating one view per segment per frame.
 */
class SourceSlices {
  readonly at = new Float64Array(SLICES_PER_SOURCE).fill(-1);
  readonly len = new Float64Array(SLICES_PER_SOURCE);
  readonly views: Uint8Array[] = new Array<Uint8Array>(SLICES_PER_SOURCE).fill(EMPTY);
  /**
   * The source's byte offset in its buffer, read once: V8 does not inline the `byteOffset`
   * getter (about 10 ns a read here), and a view's offset never changes.
   */
  constructor(readonly byteOffset: number) {}
}

/**
 * Keyed weakly by the source array: the remembered views live no longer than the source itself,
 * so a closed backend's buffers are not kept alive by this cache.
 */
const slicesBySource = new WeakMap<Uint8Array, SourceSlices>();

/**
 * Longest piece one `Uint8Array.prototype.set` copies when the copy's source and destination are
 * not aligned alike. Above about 2 KiB glibc's memmove switches to `rep movsb` (from 2112 bytes
 * on CPUs with FSRM), which on AMD Zen runs about ten times slower when the destination lies 1–15
 * bytes past the source modulo 4 KiB; below that size it takes a vector loop that copes with any
 * distance. ArrayBuffer memory starts 16-byte aligned (malloc, mmap, WebAssembly memory), so when
 * the two byte offsets agree modulo 16 that distance is impossible and the copy goes in one call,
 * the fastest way for a long copy (`rep movsb` into memory that is not in cache); otherwise in
 * pieces of at most this size. Figures: benchmarks/README.md, "Copies and alignment".
 */
export const COPY_PIECE = 2048;

/**
 * Copies `iov[0..iovcnt)` into `dst` starting at `dstOffset`. The caller has checked that the
 * bytes fit (see `iovLength`). Returns the bytes copied. Allocates nothing in the steady state
 * (a segment longer than {@link COPY_PIECE} that goes in pieces is copied through remembered
 * piece views).
 */
export function gatherIov(iov: Iov, iovcnt: number, dst: Uint8Array, dstOffset: number): number {
  let at = dstOffset;
  // dst.byteOffset, read at the first long segment (the getter is not inlined: about 10 ns).
  let dstBase = -1;
  for (let i = 0; i < iovcnt; i++) {
    const seg = iov[i]!;
    const n = seg.length;
    if (n > COPY_PIECE && dstBase < 0) dstBase = dst.byteOffset;
    // A whole segment needs no view of its own: one call when aligned alike (see COPY_PIECE).
    if (n <= COPY_PIECE || ((dstBase + at - seg.byteOffset) & 15) === 0) copyBytes.call(dst, seg, at);
    else copyRange(dst, at, slicesFor(seg), 0, seg, 0, n);
    at += n;
  }
  return at - dstOffset;
}

/**
 * Copies `src[start..end)` into `iov[0..iovcnt)`, segment after segment. Returns the bytes
 * copied (`end - start`), or -1 with nothing copied when the iov is too small. Allocates nothing
 * when `src` is exactly the bytes to copy and fits one piece, for small copies, and in the steady
 * state of a source scattered repeatedly with the same cuts (the piece views are remembered per
 * source and piece position).
 */
export function scatterIov(src: Uint8Array, start: number, end: number, iov: Iov, iovcnt: number): number {
  const len = end - start;
  if (iovcnt > 0 && iov[0]!.length >= len) {
    if (start === 0 && len === src.length && len <= COPY_PIECE) copyBytes.call(iov[0]!, src, 0);
    else if (len <= SMALL_COPY) copySmall(iov[0]!, src, start, len);
    else copyRange(iov[0]!, 0, slicesFor(src), 0, src, start, len);
    return len;
  }
  let room = 0;
  for (let i = 0; i < iovcnt; i++) room += iov[i]!.length;
  if (room < len) return -1;
  let slices: SourceSlices | null = null;
  let piece = 0;
  let at = start;
  for (let i = 0; i < iovcnt && at < end; i++) {
    const seg = iov[i]!;
    // Math.min, not a conditional: V8 then knows the cut is a small integer (as `end - at` is)
    // instead of carrying it as a double checked at every use.
    const n = Math.min(seg.length, end - at);
    if (at === 0 && n === src.length && n <= COPY_PIECE) copyBytes.call(seg, src, 0);
    else if (n <= SMALL_COPY) copySmall(seg, src, at, n);
    else piece = copyRange(seg, 0, (slices ??= slicesFor(src)), piece, src, at, n);
    at += n;
  }
  return len;
}

/**
 * dst[dstAt..dstAt+n) = src[at..at+n): in one call when both ends are aligned alike modulo 16,
 * else in pieces of at most {@link COPY_PIECE} bytes; the views are remembered from position
 * `piece` on. Returns the position after the last one used.
 */
function copyRange(dst: Uint8Array, dstAt: number, slices: SourceSlices, piece: number, src: Uint8Array, at: number, n: number): number {
  // The byte offsets may pass 2^31 (a large guest memory): `&` keeps their low bits, all we need.
  if (((dst.byteOffset + dstAt - (slices.byteOffset + at)) & 15) === 0) {
    copyBytes.call(dst, at === 0 && n === src.length ? src : sliceOf(slices, piece, src, at, n), dstAt);
    return piece + 1;
  }
  let done = 0;
  while (n - done > COPY_PIECE) {
    copyBytes.call(dst, sliceOf(slices, piece++, src, at + done, COPY_PIECE), dstAt + done);
    done += COPY_PIECE;
  }
  copyBytes.call(dst, sliceOf(slices, piece++, src, at + done, n - done), dstAt + done);
  return piece;
}

function slicesFor(src: Uint8Array): SourceSlices {
  let slices = slicesBySource.get(src);
  if (slices === undefined) {
    slices = new SourceSlices(src.byteOffset);
    slicesBySource.set(src, slices);
  }
  return slices;
}

/** `src.subarray(at, at + n)`, remembered for piece position `i`. */
function sliceOf(slices: SourceSlices, i: number, src: Uint8Array, at: number, n: number): Uint8Array {
  if (i >= SLICES_PER_SOURCE) return src.subarray(at, at + n);
  // The length check also catches a source whose buffer was detached or shrunk meanwhile.
  if (slices.at[i] === at && slices.len[i] === n && slices.views[i]!.length === n) return slices.views[i]!;
  const view = src.subarray(at, at + n);
  slices.at[i] = at;
  slices.len[i] = n;
  slices.views[i] = view;
  return view;
}

/** dst[0..n) = src[at..at+n) for a copy of at most SMALL_COPY bytes, without a view. */
function copySmall(dst: Uint8Array, src: Uint8Array, at: number, n: number): void {
  for (let k = 0; k < n; k++) dst[k] = src[at + k]!;
}
