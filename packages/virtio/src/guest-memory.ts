import { VirtioError } from './errors';

/** One contiguous piece of guest-physical memory and the bytes that back it. */
export interface GuestMemoryRegion {
  /** Guest-physical address of `bytes[0]`: a non-negative integer below 2^53. */
  readonly guestPhysAddr: number;
  /** The backing bytes: a plain or shared ArrayBuffer, or an mmapped buffer from a native layer. */
  readonly bytes: Uint8Array;
}

const TWO_32 = 4294967296;

/**
 * Guest-physical memory: a fixed set of non-overlapping regions. Memory is passed to queues,
 * never owned by them; when the guest's memory map changes (vhost-user SET_MEM_TABLE) build a
 * new GuestMemory and hand it to the queues.
 *
 * Every access is bounds-checked: a range must lie inside a single region (a range that leaves
 * its region, even into an adjacent one, is an error), and addresses are integers below 2^53, so
 * nothing can wrap. `translate` returns a view (no copy) or null; the `*OrThrow` and the typed
 * accessors throw {@link VirtioError} `ERR_ADDRESS`.
 *
 * For zero-allocation hot paths, {@link locate} returns a region index and leaves the offset in
 * {@link offset}; {@link regionView} and {@link regionBytes} give the region's DataView and bytes.
 */
export class GuestMemory {
  /** The regions, sorted by guest-physical address. */
  readonly regions: readonly GuestMemoryRegion[];
  /** Sum of the region lengths. */
  readonly totalBytes: number;
  /** The offset inside the region found by the last successful {@link locate}. */
  offset = 0;

  private readonly starts: number[];
  private readonly ends: number[];
  private readonly views: DataView[];
  private readonly bytes: Uint8Array[];
  private readonly buffers: ArrayBufferLike[];
  private readonly byteOffsets: number[];
  private lastHit = 0;

  constructor(regions: readonly GuestMemoryRegion[]) {
    const sorted = [...regions].sort((a, b) => a.guestPhysAddr - b.guestPhysAddr);
    let total = 0;
    let previousEnd = -1;
    for (const r of sorted) {
      const start = r.guestPhysAddr;
      if (!Number.isSafeInteger(start) || start < 0) throw new RangeError(`region address ${start} is not a non-negative integer below 2^53`);
      if (!(r.bytes instanceof Uint8Array)) throw new TypeError('region bytes must be a Uint8Array');
      const end = start + r.bytes.byteLength;
      if (!Number.isSafeInteger(end)) throw new RangeError(`region at ${start} ends beyond 2^53`);
      if (start < previousEnd) throw new RangeError(`region at 0x${start.toString(16)} overlaps the previous region`);
      previousEnd = end;
      total += r.bytes.byteLength;
    }
    this.regions = sorted;
    this.totalBytes = total;
    this.starts = sorted.map((r) => r.guestPhysAddr);
    this.ends = sorted.map((r) => r.guestPhysAddr + r.bytes.byteLength);
    this.bytes = sorted.map((r) => r.bytes);
    this.buffers = sorted.map((r) => r.bytes.buffer);
    this.byteOffsets = sorted.map((r) => r.bytes.byteOffset);
    this.views = sorted.map((r) => new DataView(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength));
  }

  /** One region of `size` zeroed bytes at guest-physical `base` (tests, JS VMMs). */
  static allocate(size: number, base = 0): GuestMemory {
    return new GuestMemory([{ guestPhysAddr: base, bytes: new Uint8Array(size) }]);
  }

  /**
   * The index of the region holding all of [gpa, gpa+len), or -1. On success the offset inside
   * that region is left in {@link offset}. Allocates nothing.
   */
  locate(gpa: number, len: number): number {
    // Integers only, and gpa+len < 2^53, so the sum is exact and cannot wrap.
    if (!(gpa >= 0 && len >= 0) || Math.floor(gpa) !== gpa || Math.floor(len) !== len || gpa + len > Number.MAX_SAFE_INTEGER) return -1;
    const end = gpa + len;
    let i = this.lastHit;
    if (i < this.starts.length && gpa >= this.starts[i]! && end <= this.ends[i]!) {
      this.offset = gpa - this.starts[i]!;
      return i;
    }
    for (i = 0; i < this.starts.length; i++) {
      if (gpa >= this.starts[i]! && end <= this.ends[i]!) {
        this.lastHit = i;
        this.offset = gpa - this.starts[i]!;
        return i;
      }
    }
    return -1;
  }

  /** The DataView over region `index` (from {@link locate}). */
  regionView(index: number): DataView {
    return this.views[index]!;
  }

  /** The bytes of region `index` (from {@link locate}). */
  regionBytes(index: number): Uint8Array {
    return this.bytes[index]!;
  }

  /**
   * A new view of `len` bytes at `offset` in region `index` (from {@link locate}; the caller has
   * checked the range). Cheaper than `subarray`, which goes through the species constructor.
   */
  regionSlice(index: number, offset: number, len: number): Uint8Array {
    return new Uint8Array(this.buffers[index]!, this.byteOffsets[index]! + offset, len);
  }

  /** True when all of [gpa, gpa+len) is inside one region. */
  contains(gpa: number, len: number): boolean {
    return this.locate(gpa, len) >= 0;
  }

  /** A view (no copy) of [gpa, gpa+len), or null when the range is not inside one region. */
  translate(gpa: number, len: number): Uint8Array | null {
    const r = this.locate(gpa, len);
    if (r < 0) return null;
    return this.regionSlice(r, this.offset, len);
  }

  /** {@link translate}, throwing {@link VirtioError} `ERR_ADDRESS` instead of returning null. */
  translateOrThrow(gpa: number, len: number): Uint8Array {
    const v = this.translate(gpa, len);
    if (v === null) throw addressError(gpa, len);
    return v;
  }

  /** Copies [gpa, gpa+dst.length) into `dst`. Throws `ERR_ADDRESS`. */
  read(gpa: number, dst: Uint8Array): void {
    const r = this.mustLocate(gpa, dst.length);
    const off = this.offset;
    dst.set(this.bytes[r]!.subarray(off, off + dst.length));
  }

  /** Copies `src` to guest-physical `gpa`. Throws `ERR_ADDRESS`. */
  write(gpa: number, src: Uint8Array): void {
    const r = this.mustLocate(gpa, src.length);
    this.bytes[r]!.set(src, this.offset);
  }

  /** Fills [gpa, gpa+len) with `value`. Throws `ERR_ADDRESS`. */
  fill(gpa: number, len: number, value: number): void {
    const r = this.mustLocate(gpa, len);
    this.bytes[r]!.fill(value, this.offset, this.offset + len);
  }

  readU8(gpa: number): number {
    return this.views[this.mustLocate(gpa, 1)]!.getUint8(this.offset);
  }

  readU16(gpa: number): number {
    return this.views[this.mustLocate(gpa, 2)]!.getUint16(this.offset, true);
  }

  readU32(gpa: number): number {
    return this.views[this.mustLocate(gpa, 4)]!.getUint32(this.offset, true);
  }

  /**
   * A little-endian u64 as a number. Throws `ERR_ADDRESS` also when the value is not below 2^53
   * (it could not be an address or a length we can represent); use {@link readU64Big} for any value.
   */
  readU64(gpa: number): number {
    const view = this.views[this.mustLocate(gpa, 8)]!;
    const lo = view.getUint32(this.offset, true);
    const hi = view.getUint32(this.offset + 4, true);
    if (hi >= 0x200000) throw new VirtioError('ERR_ADDRESS', `u64 at 0x${gpa.toString(16)} is not below 2^53`);
    return hi * TWO_32 + lo;
  }

  readU64Big(gpa: number): bigint {
    return this.views[this.mustLocate(gpa, 8)]!.getBigUint64(this.offset, true);
  }

  writeU8(gpa: number, value: number): void {
    this.views[this.mustLocate(gpa, 1)]!.setUint8(this.offset, value);
  }

  writeU16(gpa: number, value: number): void {
    this.views[this.mustLocate(gpa, 2)]!.setUint16(this.offset, value, true);
  }

  writeU32(gpa: number, value: number): void {
    this.views[this.mustLocate(gpa, 4)]!.setUint32(this.offset, value, true);
  }

  /** Writes a number below 2^53 as a little-endian u64. */
  writeU64(gpa: number, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a non-negative integer below 2^53`);
    const view = this.views[this.mustLocate(gpa, 8)]!;
    view.setUint32(this.offset, value % TWO_32, true);
    view.setUint32(this.offset + 4, Math.floor(value / TWO_32), true);
  }

  writeU64Big(gpa: number, value: bigint): void {
    this.views[this.mustLocate(gpa, 8)]!.setBigUint64(this.offset, BigInt.asUintN(64, value), true);
  }

  private mustLocate(gpa: number, len: number): number {
    const r = this.locate(gpa, len);
    if (r < 0) throw addressError(gpa, len);
    return r;
  }
}

function addressError(gpa: number, len: number): VirtioError {
  const at = Number.isFinite(gpa) && gpa >= 0 ? `0x${gpa.toString(16)}` : String(gpa);
  return new VirtioError('ERR_ADDRESS', `guest range ${at}+${len} is not inside one memory region`);
}
