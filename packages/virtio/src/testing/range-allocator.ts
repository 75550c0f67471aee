/**
 * First-fit allocator of guest-physical ranges for the mock driver's buffers and indirect
 * tables. Small and obvious, not fast.
 */
export class RangeAllocator {
  /** Free ranges [start, end), sorted and coalesced. */
  private free: Array<[number, number]>;

  constructor(
    readonly start: number,
    readonly end: number,
  ) {
    this.free = end > start ? [[start, end]] : [];
  }

  /** True when `gpa` lies in the range this allocator manages. */
  owns(gpa: number): boolean {
    return gpa >= this.start && gpa < this.end;
  }

  /** A range of `len` bytes aligned to `align`, or -1 when none is free. */
  alloc(len: number, align = 16): number {
    const size = Math.max(len, 1);
    for (let i = 0; i < this.free.length; i++) {
      const [start, end] = this.free[i]!;
      const at = Math.ceil(start / align) * align;
      if (at + size > end) continue;
      const pieces: Array<[number, number]> = [];
      if (at > start) pieces.push([start, at]);
      if (at + size < end) pieces.push([at + size, end]);
      this.free.splice(i, 1, ...pieces);
      return at;
    }
    return -1;
  }

  release(at: number, len: number): void {
    const size = Math.max(len, 1);
    this.free.push([at, at + size]);
    this.free.sort((a, b) => a[0] - b[0]);
    const merged: Array<[number, number]> = [];
    for (const r of this.free) {
      const last = merged[merged.length - 1];
      if (last !== undefined && last[1] >= r[0]) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.free = merged;
  }

  /** Bytes still free. */
  get freeBytes(): number {
    return this.free.reduce((sum, [s, e]) => sum + e - s, 0);
  }
}
