const EMPTY = new Uint8Array(0);

/**
 * Skips the first `skip` bytes of a scatter-gather list into a reusable output list: the header
 * adaptation of bhyve's iov_trim_hdr, for when the guest uses a virtio-net header and the backend
 * does not (strip on TX, make room for a zeroed header on RX).
 *
 * Allocation-free in the steady state: whole segments are passed by reference; when the header
 * ends inside a segment, the shortened view is cached and reused while the same source view
 * object and offset come back (a guest that reuses its buffers, which DescriptorChain maps to
 * the same view objects).
 */
export class IovTrimmer {
  /** The trimmed list; `count` entries are valid. */
  readonly out: Uint8Array[];
  count = 0;
  /** Bytes in `out[0..count)`. */
  bytes = 0;
  private cachedSource: Uint8Array = EMPTY;
  private cachedSkip = -1;
  private cachedView: Uint8Array = EMPTY;

  constructor(capacity: number) {
    this.out = new Array<Uint8Array>(capacity).fill(EMPTY);
  }

  /**
   * Fills {@link out} with `src[start..start+n)` minus its first `skip` bytes. Returns false when
   * the list holds `skip` bytes or fewer and `allowEmpty` is false, or fewer than `skip` bytes.
   */
  trim(src: readonly Uint8Array[], start: number, n: number, skip: number, allowEmpty = false): boolean {
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
      let view = this.cachedView;
      if (this.cachedSource !== seg || this.cachedSkip !== left) {
        view = seg.subarray(left);
        this.cachedSource = seg;
        this.cachedSkip = left;
        this.cachedView = view;
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

  /** Drops the cached view (after guest memory changes). */
  forget(): void {
    this.cachedSource = EMPTY;
    this.cachedSkip = -1;
    this.cachedView = EMPTY;
  }
}

/** Writes zeros over the first `len` bytes of `iov[start..start+n)`. Returns false if shorter. */
export function zeroPrefix(iov: readonly Uint8Array[], start: number, n: number, len: number): boolean {
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
  return putByteAt(iov, start, n, offset, value & 0xff) && putByteAt(iov, start, n, offset + 1, (value >>> 8) & 0xff);
}
