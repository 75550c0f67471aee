/**
 * Scatter-gather helpers over `(iov, count)`: only `iov[0..count)` counts, as in the netbe
 * contract (`Iov` of @netbe/core). Short buffers are reported through return values, never
 * thrown. Nothing here allocates except {@link iovTrimFront}, which makes one view when the cut
 * falls inside a segment.
 */

/** Total bytes of `iov[0..count)` (bhyve count_iov). */
export function iovLength(iov: readonly Uint8Array[], count: number): number {
  let total = 0;
  for (let i = 0; i < count; i++) total += iov[i]!.byteLength;
  return total;
}

/**
 * Removes the first `n` bytes (a header) from `iov[0..count)` and writes the remaining segments
 * to `out[0..)` (which may be `iov` itself: in place). Returns the new count, or -1 when the
 * iov holds fewer than `n` bytes (then `out` is untouched). Unlike bhyve iov_trim_hdr, the
 * header may span several segments; empty segments left at the front are dropped.
 */
export function iovTrimFront(iov: readonly Uint8Array[], count: number, n: number, out: Uint8Array[]): number {
  let skip = n;
  let first = 0;
  while (first < count && skip >= iov[first]!.byteLength) {
    skip -= iov[first]!.byteLength;
    first++;
  }
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
    if (seg.byteLength <= dst.length) {
      dst.set(seg);
      return seg.byteLength;
    }
  }
  return copyFromSegments(iov, count, offset, dst);
}

function copyFromSegments(iov: readonly Uint8Array[], count: number, offset: number, dst: Uint8Array): number {
  let copied = 0;
  const want = dst.length;
  let skip = offset;
  for (let i = 0; i < count && copied < want; i++) {
    const seg = iov[i]!;
    const segLen = seg.byteLength;
    if (skip >= segLen) {
      skip -= segLen;
      continue;
    }
    const n = Math.min(segLen - skip, want - copied);
    dst.set(skip === 0 && n === segLen ? seg : seg.subarray(skip, skip + n), copied);
    copied += n;
    skip = 0;
  }
  return copied;
}

/**
 * Copies `src` into `iov[0..count)`, starting `offset` bytes into it (a scatter). Returns the
 * bytes copied: less than `src.length` when the iov is short.
 */
export function iovCopyTo(iov: readonly Uint8Array[], count: number, offset: number, src: Uint8Array): number {
  let copied = 0;
  const want = src.length;
  let skip = offset;
  for (let i = 0; i < count && copied < want; i++) {
    const seg = iov[i]!;
    const segLen = seg.byteLength;
    if (skip >= segLen) {
      skip -= segLen;
      continue;
    }
    const n = Math.min(segLen - skip, want - copied);
    if (skip === 0 && copied === 0 && n === want) seg.set(src);
    else if (skip === 0) seg.set(src.subarray(copied, copied + n));
    else seg.set(src.subarray(copied, copied + n), skip);
    copied += n;
    skip = 0;
  }
  return copied;
}
