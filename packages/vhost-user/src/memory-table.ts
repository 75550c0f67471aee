/**
 * The front-end's memory as the back-end sees it after SET_MEM_TABLE: each region's fd mapped
 * (shared) and wrapped in a {@link GuestMemory} for guest-physical accesses, plus the table that
 * translates front-end virtual ("user") addresses, which SET_VRING_ADDR uses, to guest-physical
 * ones (vhost-user.rst, "Memory region description").
 */
import { GuestMemory } from '@netbe/virtio';
import { VhostUserError } from './errors';
import type { MemoryRegionDesc } from './messages';
import type { MappedMemory, VhostUserPlatform } from './platform';

export class MemoryTable {
  readonly memory: GuestMemory;
  readonly regions: readonly MemoryRegionDesc[];
  private readonly maps: MappedMemory[];
  private released = false;

  private constructor(regions: MemoryRegionDesc[], maps: MappedMemory[], memory: GuestMemory) {
    this.regions = regions;
    this.maps = maps;
    this.memory = memory;
  }

  /**
   * Maps every region: `size` bytes of its fd from `mmapOffset` (the mapping starts at the page
   * boundary below the offset, which mmap requires). Refuses a region that extends past the end of its file: touching
   * such a mapping would kill the process with SIGBUS. Closes every fd, mapped or not. On error
   * nothing stays mapped.
   */
  static map(platform: VhostUserPlatform, regions: MemoryRegionDesc[], fds: readonly number[]): MemoryTable {
    const maps: MappedMemory[] = [];
    try {
      regions.forEach((r, i) => {
        const fd = fds[i]!;
        const end = r.mmapOffset + r.size;
        const mapOffset = r.mmapOffset - (r.mmapOffset % platform.pageSize);
        const length = end - mapOffset;
        let fileSize: number;
        try {
          fileSize = platform.fileSize(fd);
        } catch (e) {
          throw new VhostUserError('ERR_MEMORY', `SET_MEM_TABLE: region ${i}: fstat failed: ${(e as Error).message}`, { cause: e });
        }
        if (fileSize < end) {
          throw new VhostUserError('ERR_MEMORY', `SET_MEM_TABLE: region ${i} needs ${end} bytes of its file (offset 0x${r.mmapOffset.toString(16)} + size 0x${r.size.toString(16)}), the file has ${fileSize}`);
        }
        try {
          maps.push(platform.mapShared(fd, mapOffset, length));
        } catch (e) {
          throw new VhostUserError('ERR_MEMORY', `SET_MEM_TABLE: region ${i}: mmap of ${length} bytes failed: ${(e as Error).message}`, { cause: e });
        }
      });
      const memory = new GuestMemory(
        regions.map((r, i) => {
          const skip = r.mmapOffset % platform.pageSize;
          return { guestPhysAddr: r.guestPhysAddr, bytes: maps[i]!.bytes.subarray(skip, skip + r.size) };
        }),
      );
      return new MemoryTable(regions, maps, memory);
    } catch (e) {
      for (const m of maps) m.unmap();
      throw e;
    } finally {
      for (const fd of fds) {
        try {
          platform.close(fd);
        } catch {
          // already closed: nothing to release
        }
      }
    }
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

  /** Unmaps every region. Idempotent. Nothing may touch {@link memory} afterwards. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const m of this.maps) m.unmap();
  }
}
