import type { Iov } from './backend';

/** Below this many bytes a segment is copied byte by byte: no subarray view is looked up or made. */
const SMALL_COPY = 64;
/** Segments per source whose slice views are remembered (a 64 KiB frame in 4 KiB buffers needs 17). */
const SLICES_PER_SOURCE = 64;
const EMPTY = new Uint8Array(0);
/**
 * `Uint8Array.prototype.set`, called as `copyBytes.call(target, source, offset)`: V8 does not
 * fold the `target.set` property load (it stays an inline-cache call, about a third of a
 * 64-byte copy); a call through the captured builtin skips it.
 */
const copyBytes = Uint8Array.prototype.set;

/**
 * The views `src.subarray(at, at + n)` last used for the segment at each position of a scatter
 * from one source. A backend that scatters from the same buffer into the same layout (a frame
 * template, a bounce buffer, a ring slot, into guest buffers of a fixed size) finds them here
 * instead of allocating one view per segment per frame.
 */
class SourceSlices {
  readonly at = new Float64Array(SLICES_PER_SOURCE).fill(-1);
  readonly len = new Float64Array(SLICES_PER_SOURCE);
  readonly views: Uint8Array[] = new Array<Uint8Array>(SLICES_PER_SOURCE).fill(EMPTY);
}

/**
 * Keyed weakly by the source array: the remembered views live no longer than the source itself,
 * so a closed backend's buffers are not kept alive by this cache.
 */
const slicesBySource = new WeakMap<Uint8Array, SourceSlices>();

/**
 * Copies `iov[0..iovcnt)` into `dst` starting at `dstOffset`. The caller has checked that the
 * bytes fit (see `iovLength`). Returns the bytes copied. Allocates nothing.
 */
export function gatherIov(iov: Iov, iovcnt: number, dst: Uint8Array, dstOffset: number): number {
  let at = dstOffset;
  for (let i = 0; i < iovcnt; i++) {
    const seg = iov[i]!;
    copyBytes.call(dst, seg, at);
    at += seg.length;
  }
  return at - dstOffset;
}

/**
 * Copies `src[start..end)` into `iov[0..iovcnt)`, segment after segment. Returns the bytes
 * copied (`end - start`), or -1 with nothing copied when the iov is too small. Allocates nothing
 * when `src` is exactly the bytes to copy and the first segment holds them (pass a prepared
 * view), for small copies, and in the steady state of a source scattered repeatedly with the
 * same cuts (the slice views are remembered per source and segment position).
 */
export function scatterIov(src: Uint8Array, start: number, end: number, iov: Iov, iovcnt: number): number {
  const len = end - start;
  if (iovcnt > 0 && iov[0]!.length >= len) {
    if ((start === 0 && len === src.length) || len <= SMALL_COPY) copyInto(iov[0]!, src, start, len);
    else copyBytes.call(iov[0]!, sliceOf(slicesFor(src), 0, src, start, len), 0);
    return len;
  }
  let room = 0;
  for (let i = 0; i < iovcnt; i++) room += iov[i]!.length;
  if (room < len) return -1;
  let slices: SourceSlices | null = null;
  let at = start;
  for (let i = 0; i < iovcnt && at < end; i++) {
    const seg = iov[i]!;
    // Math.min, not a conditional: V8 then knows the cut is a small integer (as `end - at` is)
    // instead of carrying it as a double checked at every use.
    const n = Math.min(seg.length, end - at);
    if (n <= SMALL_COPY || (at === 0 && n === src.length)) copyInto(seg, src, at, n);
    else copyBytes.call(seg, sliceOf((slices ??= slicesFor(src)), i, src, at, n), 0);
    at += n;
  }
  return len;
}

function slicesFor(src: Uint8Array): SourceSlices {
  let slices = slicesBySource.get(src);
  if (slices === undefined) {
    slices = new SourceSlices();
    slicesBySource.set(src, slices);
  }
  return slices;
}

/** `src.subarray(at, at + n)`, remembered for segment position `i`. */
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

/** dst[0..n) = src[at..at+n) for a whole source or a small copy, without allocating a view. */
function copyInto(dst: Uint8Array, src: Uint8Array, at: number, n: number): void {
  if (at === 0 && n === src.length) copyBytes.call(dst, src, 0);
  else for (let k = 0; k < n; k++) dst[k] = src[at + k]!;
}
