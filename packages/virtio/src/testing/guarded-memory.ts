import { GuestMemory } from '../guest-memory';

/** One region to build: its guest-physical address and size. */
export interface GuardedRegionSpec {
  guestPhysAddr: number;
  size: number;
}

export interface GuardedMemory {
  readonly memory: GuestMemory;
  /** True while every guard byte still holds its pattern (nothing wrote outside a region). */
  guardsIntact(): boolean;
}

/**
 * Guest memory whose regions sit between guard bytes in one backing buffer: a write outside a
 * region changes a guard byte, and any DataView/typed-array access beyond a region throws a
 * RangeError (each region's views are bounded), so fuzz tests can prove that nothing outside
 * guest memory was touched.
 */
export function guardedMemory(regions: readonly GuardedRegionSpec[], guardBytes = 64): GuardedMemory {
  const total = regions.reduce((sum, r) => sum + r.size + guardBytes, guardBytes);
  const backing = new Uint8Array(total);
  const guards: Array<[number, number]> = [];
  const built = [];
  let at = 0;
  for (const r of regions) {
    guards.push([at, at + guardBytes]);
    at += guardBytes;
    built.push({ guestPhysAddr: r.guestPhysAddr, bytes: backing.subarray(at, at + r.size) });
    at += r.size;
  }
  guards.push([at, at + guardBytes]);
  const pattern = (i: number): number => (i * 31 + 0xa5) & 0xff;
  for (const [from, to] of guards) for (let i = from; i < to; i++) backing[i] = pattern(i);
  return {
    memory: new GuestMemory(built),
    guardsIntact(): boolean {
      for (const [from, to] of guards) for (let i = from; i < to; i++) if (backing[i] !== pattern(i)) return false;
      return true;
    },
  };
}
