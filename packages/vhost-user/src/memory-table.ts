/**
 * The front-end's memory as the back-end sees it: each region's fd mapped (shared) and wrapped in
 * a {@link GuestMemory} for guest-physical accesses, plus the table that translates front-end
 * virtual ("user") addresses, which SET_VRING_ADDR uses, to guest-physical ones (vhost-user.rst,
 * "Memory region description"). A table is immutable: SET_MEM_TABLE builds a new one; ADD_MEM_REG
 * and REM_MEM_REG derive one that shares the other regions' mappings.
 */
import { GuestMemory } from '@netbe/virtio';
import { VhostUserError } from './errors';
import type { MemoryRegionDesc } from './messages';
import type { MappedMemory, VhostUserPlatform } from './platform';

/** One mapped region: its description, the mapping, and the region's bytes inside it. */
export interface MappedRegion {
  readonly desc: MemoryRegionDesc;
  readonly map: MappedMemory;
  readonly bytes: Uint8Array;
}

export class MemoryTable {
  readonly memory: GuestMemory;
  readonly regions: readonly MemoryRegionDesc[];
  private readonly mapped: readonly MappedRegion[];
  private released = false;

  private constructor(mapped: readonly MappedRegion[]) {
    this.mapped = mapped;
    this.regions = mapped.map((m) => m.desc);
    this.memory = new GuestMemory(mapped.map((m) => ({ guestPhysAddr: m.desc.guestPhysAddr, bytes: m.bytes })));
  }

  /**
   * Maps one region: `size` bytes of `fd` from `mmapOffset` (the mapping starts at the page
   * boundary below the offset, which mmap requires). Refuses a region that extends past the end
   * of its file: touching such a mapping would kill the process with SIGBUS. Does not close `fd`.
   */
  static mapRegion(platform: VhostUserPlatform, r: MemoryRegionDesc, fd: number, what: string): MappedRegion {
    const end = r.mmapOffset + r.size;
    const mapOffset = r.mmapOffset - (r.mmapOffset % platform.pageSize);
    let fileSize: number;
    try {
      fileSize = platform.fileSize(fd);
    } catch (e) {
      throw new VhostUserError('ERR_MEMORY', `${what}: fstat failed: ${(e as Error).message}`, { cause: e });
    }
    if (fileSize < end) {
      throw new VhostUserError('ERR_MEMORY', `${what} needs ${end} bytes of its file (offset 0x${r.mmapOffset.toString(16)} + size 0x${r.size.toString(16)}), the file has ${fileSize}`);
    }
    let map: MappedMemory;
    try {
      map = platform.mapShared(fd, mapOffset, end - mapOffset);
    } catch (e) {
      throw new VhostUserError('ERR_MEMORY', `${what}: mmap of ${end - mapOffset} bytes failed: ${(e as Error).message}`, { cause: e });
    }
    const skip = r.mmapOffset - mapOffset;
    return { desc: r, map, bytes: map.bytes.subarray(skip, skip + r.size) };
  }

  /** SET_MEM_TABLE: maps every region and closes every fd, mapped or not. On error nothing stays mapped. */
  static map(platform: VhostUserPlatform, regions: readonly MemoryRegionDesc[], fds: readonly number[]): MemoryTable {
    const mapped: MappedRegion[] = [];
    try {
      regions.forEach((r, i) => mapped.push(MemoryTable.mapRegion(platform, r, fds[i]!, `SET_MEM_TABLE: region ${i}`)));
      return new MemoryTable(mapped);
    } catch (e) {
      for (const m of mapped) m.map.unmap();
      throw e;
    } finally {
      for (const fd of fds) closeQuietly(platform, fd);
    }
  }

  /** An empty table (before the first ADD_MEM_REG). */
  static empty(): MemoryTable {
    return new MemoryTable([]);
  }

  /** This table plus `region` (sharing the existing mappings). */
  withRegion(region: MappedRegion): MemoryTable {
    return new MemoryTable([...this.mapped, region]);
  }

  /** The region described exactly like `r` (guest address, size, user address), or -1 (REM_MEM_REG). */
  indexOf(r: MemoryRegionDesc): number {
    return this.mapped.findIndex((m) => m.desc.guestPhysAddr === r.guestPhysAddr && m.desc.size === r.size && m.desc.userAddr === r.userAddr);
  }

  /** This table without region `index` (sharing the other mappings). */
  withoutRegion(index: number): MemoryTable {
    return new MemoryTable(this.mapped.filter((_, i) => i !== index));
  }

  /**
   * The guest-physical address of front-end virtual address `userAddr`, when [userAddr,
   * userAddr+len) lies inside one region; otherwise -1.
   */
  userToGuest(userAddr: number, len: number): number {
    for (const r of this.regions) {
      if (userAddr >= r.userAddr && userAddr + len <= r.userAddr + r.size) return r.guestPhysAddr + (userAddr - r.userAddr);
    }
    return -1;
  }

  /**
   * Unmaps every region that `successor` (a table derived from this one) does not use. Without a
   * successor, unmaps everything. Idempotent. Nothing may touch the released regions afterwards.
   */
  release(successor?: MemoryTable): void {
    if (this.released) return;
    this.released = true;
    const kept = new Set(successor?.mapped.map((m) => m.map));
    for (const m of this.mapped) if (!kept.has(m.map)) m.map.unmap();
  }
}

function closeQuietly(platform: VhostUserPlatform, fd: number): void {
  try {
    platform.close(fd);
  } catch {
    // already closed: nothing to release
  }
}
