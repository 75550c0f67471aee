import { gatherIov, iovLength, scatterIov, VNET_HDR_LEN, type Iov } from '@netbe/core';

/** Bytes reserved at the start of every slot for the virtio-net header, in its 12-byte form. */
const HDR = VNET_HDR_LEN;
const INITIAL_SLOT = 2048;

/**
 * A bounded FIFO of frames in preallocated slots (the receive queue of a pair end or a loopback).
 *
 * Every slot stores the frame's virtio-net header in canonical 12-byte form at [0, 12) (zeroed
 * when the sender had none; `num_buffers` zero when the sender used the 10-byte form) and the
 * Ethernet frame from byte 12. A receiver then gets the header in whatever length it uses, so
 * two ends with different header lengths stay consistent: the header is carried through when
 * both have one, zero-filled when only the receiver has one, and stripped when only the sender
 * has one (what the device does for a backend of header length 0).
 *
 * Slots grow (doubling) the first time a larger frame arrives and are then reused: no
 * allocation per frame once warm.
 */
export class FrameRing {
  private readonly slots: Uint8Array[];
  /** Ethernet frame length (header excluded) of each occupied slot. */
  private readonly lengths: Int32Array;
  private head = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    /** Largest Ethernet frame (header excluded) accepted. */
    readonly maxFrame: number,
  ) {
    this.slots = Array.from({ length: capacity }, () => new Uint8Array(Math.min(INITIAL_SLOT, HDR + maxFrame)));
    this.lengths = new Int32Array(capacity);
  }

  /** Frames waiting. */
  get size(): number {
    return this.count;
  }

  /**
   * Copies one frame in. `hdrLen` (0, 10 or 12) leading bytes of the iov are the sender's
   * virtio-net header. Returns false, copying nothing, when the ring is full, or the frame is
   * empty, shorter than its header or longer than {@link maxFrame}.
   */
  push(iov: Iov, iovcnt: number, hdrLen: number): boolean {
    if (this.count === this.capacity) return false;
    const total = iovLength(iov, iovcnt);
    const frameLen = total - hdrLen;
    if (frameLen <= 0 || frameLen > this.maxFrame) return false;
    const index = (this.head + this.count) % this.capacity;
    let slot = this.slots[index]!;
    if (slot.length < HDR + frameLen) {
      let size = slot.length;
      while (size < HDR + frameLen) size *= 2;
      slot = this.slots[index] = new Uint8Array(Math.min(size, HDR + this.maxFrame));
    }
    // The header lands in [HDR - hdrLen, HDR) and the frame at HDR; then the header is moved to
    // its canonical place at 0.
    gatherIov(iov, iovcnt, slot, HDR - hdrLen);
    if (hdrLen === 0) for (let k = 0; k < HDR; k++) slot[k] = 0;
    else if (hdrLen !== HDR) {
      slot.copyWithin(0, HDR - hdrLen, HDR);
      slot.fill(0, hdrLen, HDR);
    }
    this.lengths[index] = frameLen;
    this.count++;
    return true;
  }

  /** Ethernet length (header excluded) of the oldest frame, or 0 when empty. */
  peekFrameLength(): number {
    return this.count === 0 ? 0 : this.lengths[this.head]!;
  }

  /**
   * Removes the oldest frame and scatters it, preceded by a `hdrLen`-byte header (0, 10 or 12),
   * into the iov. Returns the bytes written, 0 when empty, or -1 when the iov is too small (the
   * frame is dropped all the same).
   */
  shift(iov: Iov, iovcnt: number, hdrLen: number): number {
    if (this.count === 0) return 0;
    const slot = this.slots[this.head]!;
    const end = HDR + this.lengths[this.head]!;
    if (hdrLen !== 0 && hdrLen !== HDR) {
      // Shorter header form: bring its bytes next to the frame so one copy does.
      slot.copyWithin(HDR - hdrLen, 0, hdrLen);
    }
    const n = scatterIov(slot, HDR - hdrLen, end, iov, iovcnt);
    this.advance();
    return n;
  }

  /** Drops the oldest frame; returns its Ethernet length, or 0 when empty. */
  drop(): number {
    if (this.count === 0) return 0;
    const len = this.lengths[this.head]!;
    this.advance();
    return len;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  private advance(): void {
    this.head = (this.head + 1) % this.capacity;
    this.count--;
  }
}
