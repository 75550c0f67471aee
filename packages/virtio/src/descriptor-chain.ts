const EMPTY = new Uint8Array(0);

/**
 * One popped descriptor chain, filled by {@link SplitQueue.pop} without allocation: create one
 * per queue (or per worker) and reuse it for every chain.
 *
 * The device-readable segments come first (`iov[0..readable)`), then the device-writable ones
 * (`iov[readable..readable+writable)`); the ring rules guarantee that order (virtio 1.2 §2.7.4.2).
 * Each `iov` entry is a view into guest memory, valid until the next pop into this chain or a
 * change of guest memory. The queue hands out the same view object while the guest reuses a
 * buffer (same address and length).
 */
export class DescriptorChain {
  /** Head descriptor index: the `id` to give back in the used ring. -1 before the first pop. */
  head = -1;
  /** Number of device-readable segments (they come first in `iov`). */
  readable = 0;
  /** Number of device-writable segments (after the readable ones). */
  writable = 0;
  /** Total bytes of the readable segments. */
  readableBytes = 0;
  /** Total bytes of the writable segments. */
  writableBytes = 0;
  /** Guest-physical address of each segment. */
  readonly addrs: Float64Array;
  /** Length of each segment. */
  readonly lens: Uint32Array;
  /**
   * Views into guest memory, `count` of them valid. Length = `maxSegments`. The caller may
   * rewrite entries (e.g. trim a header in place); the next pop fills them again.
   */
  readonly iov: Uint8Array[];

  constructor(readonly maxSegments = 256) {
    if (!Number.isInteger(maxSegments) || maxSegments < 1 || maxSegments > 65536) throw new RangeError(`maxSegments ${maxSegments} must be 1..65536`);
    this.addrs = new Float64Array(maxSegments);
    this.lens = new Uint32Array(maxSegments);
    this.iov = new Array<Uint8Array>(maxSegments).fill(EMPTY);
  }

  /** Readable + writable segments. */
  get count(): number {
    return this.readable + this.writable;
  }

  /** Forgets the chain (the cached views stay for reuse). */
  clear(): void {
    this.head = -1;
    this.readable = 0;
    this.writable = 0;
    this.readableBytes = 0;
    this.writableBytes = 0;
  }
}
