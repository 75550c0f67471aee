const EMPTY = new Uint8Array(0);

/** Entries of the trimmed-view cache (direct-mapped by the chain's head descriptor index). */
const TRIM_CACHE_SIZE = 1024;

/**
 * Skips the first `skip` bytes of a scatter-gather list into a reusable output list: the header
 * adaptation of bhyve's iov_trim_hdr, for when the guest uses a virtio-net header and the backend
 * does not (strip on TX, make room for a zeroed header on RX).
 *
 * Allocation-free in the steady state: whole segments are passed by reference; when the header
 * ends inside a segment, the shortened view is cached, direct-mapped by the chain's head index
 * (a ring of up to 1024 entries never collides), and reused while the same source view object
 * (SplitQueue hands out one view per guest buffer) comes back with the same cut.
 */
export class IovTrimmer {
  /** The trimmed list; `count` entries are valid. */
  readonly out: Uint8Array[];
  count = 0;
  /** Bytes in `out[0..count)`. */
  bytes = 0;
  private readonly cachedSource: Uint8Array[] = new Array<Uint8Array>(TRIM_CACHE_SIZE).fill(EMPTY);
  private readonly cachedSkip = new Int32Array(TRIM_CACHE_SIZE).fill(-1);
  private readonly cachedView: Uint8Array[] = new Array<Uint8Array>(TRIM_CACHE_SIZE).fill(EMPTY);

  constructor(capacity: number) {
    this.out = new Array<Uint8Array>(capacity).fill(EMPTY);
  }

  /**
   * Fills {@link out} with `src[start..start+n)` minus its first `skip` bytes; `key` (the chain's
   * head index) picks the cache entry. Returns false when the list holds fewer than `skip` bytes,
   * or exactly `skip` and `allowEmpty` is false.
   */
  trim(src: readonly Uint8Array[], key: number, start: number, n: number, skip: number, allowEmpty = false): boolean {
    let i = start;
    const end = start + n;
    let left = skip;
    while (i < end && left > 0 && src[i]!.length <= left) {
      left -= src[i]!.length;
      i++;
    }
    if (left > 0 && i === end) return false;
    let count = 0;
    let bytes = 0;
    if (left > 0) {
      const seg = src[i]!;
      const slot = key & (TRIM_CACHE_SIZE - 1);
      let view = this.cachedView[slot]!;
      if (this.cachedSource[slot] !== seg || this.cachedSkip[slot] !== left) {
        view = seg.subarray(left);
        this.cachedSource[slot] = seg;
        this.cachedSkip[slot] = left;
        this.cachedView[slot] = view;
      }
      this.out[count++] = view;
      bytes += view.length;
      i++;
    }
    for (; i < end; i++) {
      const seg = src[i]!;
      this.out[count++] = seg;
      bytes += seg.length;
    }
    this.count = count;
    this.bytes = bytes;
    return allowEmpty || bytes > 0;
  }

  /** Drops the cached views (after guest memory changes). */
  forget(): void {
    this.cachedSource.fill(EMPTY);
    this.cachedSkip.fill(-1);
    this.cachedView.fill(EMPTY);
  }
}

/** Writes zeros over the first `len` bytes of `iov[start..start+n)`. Returns false if shorter. */
export function zeroPrefix(iov: readonly Uint8Array[], start: number, n: number, len: number): boolean {
  const first = iov[start];
  if (n > 0 && first!.length >= len) {
    // The usual case: the header lies in the first segment; a byte loop beats fill() for 10-12 bytes.
    for (let i = 0; i < len; i++) first![i] = 0;
    return true;
  }
  let left = len;
  for (let i = start; i < start + n && left > 0; i++) {
    const seg = iov[i]!;
    const k = seg.length < left ? seg.length : left;
    seg.fill(0, 0, k);
    left -= k;
  }
  return left === 0;
}

/** Writes one byte at logical `offset` of `iov[start..start+n)`. Returns false past the end. */
export function putByteAt(iov: readonly Uint8Array[], start: number, n: number, offset: number, value: number): boolean {
  let at = offset;
  for (let i = start; i < start + n; i++) {
    const seg = iov[i]!;
    if (at < seg.length) {
      seg[at] = value;
      return true;
    }
    at -= seg.length;
  }
  return false;
}

/** Writes a little-endian u16 at logical `offset` of `iov[start..start+n)` (may straddle segments). */
export function putU16At(iov: readonly Uint8Array[], start: number, n: number, offset: number, value: number): boolean {
  const first = iov[start];
  if (n > 0 && first!.length >= offset + 2) {
    first![offset] = value & 0xff;
    first![offset + 1] = (value >>> 8) & 0xff;
    return true;
  }
  return putByteAt(iov, start, n, offset, value & 0xff) && putByteAt(iov, start, n, offset + 1, (value >>> 8) & 0xff);
}
