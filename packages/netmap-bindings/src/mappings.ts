/**
 * The shared regions this process has mapped, one per netmap memory allocator (nr_mem_id): the
 * first port of an allocator maps it, later ports reuse the mapping, the last one to close
 * unmaps it. Reference-counted; independent of the system calls so it can be tested alone.
 */
export class MappingCache {
  private readonly entries = new Map<number, { memory: ArrayBuffer; size: number; refs: number }>();

  /** The mapping of allocator `memId` (of `size` bytes), made with `map` if there is none yet. */
  acquire(memId: number, size: number, map: () => ArrayBuffer): ArrayBuffer {
    let entry = this.entries.get(memId);
    if (!entry || entry.size !== size) {
      // A new mapping; one of another size (the allocator was rebuilt) lives on with its users.
      entry = { memory: map(), size, refs: 0 };
      this.entries.set(memId, entry);
    }
    entry.refs++;
    return entry.memory;
  }

  /** One user of `memory` is done; `unmap` runs when it was the last. */
  release(memId: number, memory: ArrayBuffer, unmap: (memory: ArrayBuffer) => void): void {
    const entry = this.entries.get(memId);
    if (entry && entry.memory === memory) {
      if (--entry.refs === 0) {
        this.entries.delete(memId);
        unmap(memory);
      }
      return;
    }
    // A superseded mapping: nothing shares it any more.
    unmap(memory);
  }

  /** Allocators currently mapped. */
  get size(): number {
    return this.entries.size;
  }
}
