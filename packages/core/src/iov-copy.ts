import type { Iov } from './backend';

/** Below this many bytes a segment is copied byte by byte: no subarray view is allocated. */
const SMALL_COPY = 64;

/**
 * Copies `iov[0..iovcnt)` into `dst` starting at `dstOffset`. The caller has checked that the
 * bytes fit (see `iovLength`). Returns the bytes copied. Allocates nothing.
 */
export function gatherIov(iov: Iov, iovcnt: number, dst: Uint8Array, dstOffset: number): number {
  let at = dstOffset;
  for (let i = 0; i < iovcnt; i++) {
    const seg = iov[i]!;
    dst.set(seg, at);
    at += seg.length;
  }
  return at - dstOffset;
}

/**
 * Copies `src[start..end)` into `iov[0..iovcnt)`, segment after segment. Returns the bytes
 * copied (`end - start`), or -1 with nothing copied when the iov is too small. Allocates nothing
 * when `src` is exactly the bytes to copy and the first segment holds them (pass a prepared
 * view), or for small copies.
 */
export function scatterIov(src: Uint8Array, start: number, end: number, iov: Iov, iovcnt: number): number {
  const len = end - start;
  if (iovcnt > 0 && iov[0]!.length >= len) {
    copyInto(iov[0]!, src, start, len);
    return len;
  }
  let room = 0;
  for (let i = 0; i < iovcnt; i++) room += iov[i]!.length;
  if (room < len) return -1;
  let at = start;
  for (let i = 0; i < iovcnt && at < end; i++) {
    const seg = iov[i]!;
    const n = Math.min(seg.length, end - at);
    copyInto(seg, src, at, n);
    at += n;
  }
  return len;
}

/** dst[0..n) = src[at..at+n), without allocating a view when it can. */
function copyInto(dst: Uint8Array, src: Uint8Array, at: number, n: number): void {
  if (at === 0 && n === src.length) dst.set(src, 0);
  else if (n <= SMALL_COPY) for (let k = 0; k < n; k++) dst[k] = src[at + k]!;
  else dst.set(src.subarray(at, at + n), 0);
}
