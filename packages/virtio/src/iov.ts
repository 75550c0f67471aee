/**
 * Scatter-gather helpers over `(iov, count)`: only `iov[0..count)` counts, as in the netbe
 * contract (`Iov` of @netbe/core). Short buffers are reported through return values, never
 * thrown. Nothing here allocates except {@link iovTrimFront}, which makes one view when the cut
 * falls inside a segment.
 */

/**
 * `Uint8Array.prototype.set`, called as `copyBytes.call(target, source, offset)`: V8 does not
 * fold the `target.set` property load (it stays an inline-cache call, about a third of a
 * 64-byte copy); a call through the captured builtin skips it.
 */
const copyBytes = Uint8Array.prototype.set;

/** Total bytes of `iov[0..count)` (bhyve count_iov). */
export function iovLength(iov: readonly Uint8Array[], count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += iov[i]!.length;
  return total;
}

/**
 * Removes the first `n` bytes (a header) from `iov[0..count)` and writes the remaining segments
 * to `out[0..)` (which may be `iov` itself: in place). Returns the new count, or -1 when the
 * iov holds fewer than `n` bytes (then `out` is untouched). Unlike bhyve iov_trim_hdr, the
 * header may span several segments; empty segments left at the front are dropped.
 */
export function iovTrimFront(iov: readonly Uint8Array[], count: number, n: number, out: Uint8Array[]): number {
  seek(iov, count, n);
  const first = seekIndex;
  const skip = seekSkip;
  if (first === count && skip > 0) return -1;
  let outCount = 0;
  for (let i = first; i < count; i++) {
    const seg = iov[i]!;
    out[outCount++] = i === first && skip > 0 ? seg.subarray(skip) : seg;
  }
  return outCount;
}

/**
 * Copies bytes out of `iov[0..count)`, starting `offset` bytes into it, into `dst` (a gather).
 * Returns the bytes copied: less than `dst.length` when the iov is short.
 */
export function iovCopyFrom(iov: readonly Uint8Array[], count: number, offset: number, dst: Uint8Array): number {
  // The common case (a one-segment frame) stays small enough to inline.
  if (offset === 0 && count === 1) {
    const seg = iov[0]!;
    if (seg.length <= dst.length) {
      copyBytes.call(dst, seg, 0);
      return seg.length;
    }
  }
  if (!(offset >= 0)) return 0; // a negative or NaN offset copies nothing
  return copyFromSegments(iov, count, offset, dst);
}

/** Where {@link seek} landed: the segment holding byte `offset`, and the offset inside it. */
let seekIndex = 0;
let seekSkip = 0;

function seek(iov: readonly Uint8Array[], count: number, offset: number): void {
  let i = 0;
  let skip = offset;
  while (i < count && skip >= iov[i]!.length) skip -= iov[i++]!.length;
  seekIndex = i;
  seekSkip = skip;
}

function copyFromSegments(iov: readonly Uint8Array[], count: number, offset: number, dst: Uint8Array): number {
  seek(iov, count, offset);
  const want = dst.length;
  let copied = 0;
  for (let i = seekIndex, skip = seekSkip; i < count && copied < want; i++, skip = 0) {
    const seg = iov[i]!;
    const n = Math.min(seg.length - skip, want - copied);
    copyBytes.call(dst, skip === 0 && n === seg.length ? seg : seg.subarray(skip, skip + n), copied);
    copied += n;
  }
  return copied;
}

/**
 * Copies `src` into `iov[0..count)`, starting `offset` bytes into it (a scatter). Returns the
 * bytes copied: less than `src.length` when the iov is short.
 */
export function iovCopyTo(iov: readonly Uint8Array[], count: number, offset: number, src: Uint8Array): number {
  if (!(offset >= 0)) return 0; // a negative or NaN offset copies nothing
  // The common case (the frame fits the first segment) stays small enough to inline.
  if (count >= 1) {
    const seg = iov[0]!;
    if (offset + src.length <= seg.length) {
      copyBytes.call(seg, src, offset);
      return src.length;
    }
  }
  return copyToSegments(iov, count, offset, src);
}

function copyToSegments(iov: readonly Uint8Array[], count: number, offset: number, src: Uint8Array): number {
  seek(iov, count, offset);
  const want = src.length;
  let copied = 0;
  for (let i = seekIndex, skip = seekSkip; i < count && copied < want; i++, skip = 0) {
    const seg = iov[i]!;
    const n = Math.min(seg.length - skip, want - copied);
    copyBytes.call(seg, copied === 0 && n === want ? src : src.subarray(copied, copied + n), skip);
    copied += n;
  }
  return copied;
}
