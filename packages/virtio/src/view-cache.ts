import type { GuestMemory } from './guest-memory';

const EMPTY = new Uint8Array(0);

/**
 * Views of guest buffers, reused while the guest reuses a buffer (drivers recycle a bounded set of
 * buffers), so popping a chain usually allocates nothing. Direct-mapped, keyed by the exact
 * guest-physical address and length; every entry was checked against the same GuestMemory when it
 * was made, and memory regions never change, so a hit is exactly as safe as a fresh check.
 * {@link clear} when the memory changes.
 */
export class ViewCache {
  // Read directly by SplitQueue.pop's fast path (with slot()): a hit there costs no call.
  /** @internal guest-physical address of each entry (-1: empty). */
  readonly addrs: Float64Array;
  /** @internal length of each entry. */
  readonly lens: Uint32Array;
  /** @internal the cached views. */
  readonly views: Uint8Array[];
  private readonly shift: number;

  /** `entries` is rounded up to a power of two (at least 16). */
  constructor(entries: number) {
    let size = 16;
    while (size < entries) size <<= 1;
    this.shift = 32 - Math.log2(size);
    this.addrs = new Float64Array(size).fill(-1);
    this.lens = new Uint32Array(size);
    this.views = new Array<Uint8Array>(size).fill(EMPTY);
  }

  /** The entry index for [addr, addr+len). */
  slot(addr: number, len: number): number {
    return this.slotOfLow(addr >>> 0, len);
  }

  /** The entry index from the low 32 bits of the address (as a descriptor holds them) and the length. */
  slotOfLow(addrLow: number, len: number): number {
    // Fibonacci hashing of the low 32 address bits (exact for integers below 2^53) and the length.
    return Math.imul(addrLow ^ Math.imul(len, 0x85ebca6b), 0x9e3779b1) >>> this.shift;
  }

  /** The cached view of [addr, addr+len), or null. */
  lookup(addr: number, len: number): Uint8Array | null {
    const i = this.slot(addr, len);
    return this.addrs[i] === addr && this.lens[i] === len ? this.views[i]! : null;
  }

  /**
   * The view of [addr, addr+len), which the caller has located in `memory` (region `region`,
   * offset `offset`): cached, or made and cached.
   */
  view(memory: GuestMemory, region: number, offset: number, addr: number, len: number): Uint8Array {
    return this.lookup(addr, len) ?? this.insert(memory, region, offset, addr, len);
  }

  /** Makes the view of [addr, addr+len) (located by the caller) and caches it. */
  insert(memory: GuestMemory, region: number, offset: number, addr: number, len: number): Uint8Array {
    const i = this.slot(addr, len);
    const v = memory.regionSlice(region, offset, len);
    this.addrs[i] = addr;
    this.lens[i] = len;
    this.views[i] = v;
    return v;
  }

  clear(): void {
    this.addrs.fill(-1);
    this.views.fill(EMPTY);
  }
}
