import { DESC_SIZE, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from './constants';
import { VirtioError, type VirtioErrorCode } from './errors';
import type { GuestMemory } from './guest-memory';

// Module-local copies: imported bindings can compile to getter calls under some loaders.
const DESC_BYTES = DESC_SIZE;
const F_NEXT = VIRTQ_DESC_F_NEXT;
const F_WRITE = VIRTQ_DESC_F_WRITE;
const F_INDIRECT = VIRTQ_DESC_F_INDIRECT;
const TWO_32 = 4294967296;
const EMPTY_VIEW = new DataView(new ArrayBuffer(0));

/** The descriptor-table geometry a walker needs; {@link SplitQueue} implements it. */
export interface DescriptorTableSource {
  /** Entries of the descriptor table, as validated when the queue was activated. */
  readonly ringSize: number;
  readonly indirect: boolean;
  readonly memory: GuestMemory | null;
  /** @internal region view and offset of the descriptor table, set when the queue is activated. */
  readonly descView: DataView;
  readonly descOffset: number;
}

/**
 * Walks one descriptor chain lazily, one descriptor per {@link next} call, allocating nothing.
 * Every descriptor is read from guest memory at the moment it is needed and checked then
 * (virtio 1.2 §2.7.5, §2.7.5.3):
 *
 * - `next` indices must be inside the table being walked (the queue's, or an indirect table);
 * - at most `size` hops in the queue's table and at most `len/16` in an indirect table (a chain
 *   longer than that is a loop);
 * - INDIRECT only when negotiated, never inside an indirect table, never with NEXT, with a
 *   length that is a non-zero multiple of 16 and a table that lies inside guest memory; the
 *   WRITE flag of the descriptor that points at the table is ignored (§2.7.5.3.2);
 * - no device-readable descriptor after a device-writable one (§2.7.4.2).
 *
 * Buffer addresses are not translated here (the consumer checks them when it uses them, see
 * {@link SplitQueue.pop}). After `next()` returns false, `error` says whether the chain ended
 * normally (null) or was malformed.
 */
export class DescriptorWalker {
  /** The current descriptor: guest-physical address (may be >= 2^53 for a hostile value). */
  addr = 0;
  len = 0;
  flags = 0;
  /** True when the current descriptor is device-writable. */
  writable = false;
  /** Set when the chain is malformed; `next()` then returns false. */
  error: VirtioError | null = null;
  /** Index of the current descriptor in its table (queue or indirect). */
  index = 0;
  /** True while walking an indirect table. */
  inIndirect = false;

  private source: DescriptorTableSource | null = null;
  private view: DataView = EMPTY_VIEW;
  private base = 0;
  private tableSize = 0;
  private nextIndex = 0;
  private hops = 0;
  private done = true;
  private sawWritable = false;

  /** Starts walking the chain whose head is `head`. Returns false (with `error`) for a bad head. */
  start(source: DescriptorTableSource, head: number): boolean {
    this.source = source;
    this.view = source.descView;
    this.base = source.descOffset;
    this.tableSize = source.ringSize;
    this.nextIndex = head;
    this.hops = 0;
    this.inIndirect = false;
    this.sawWritable = false;
    this.error = null;
    this.done = false;
    if (!(head >= 0 && head < source.ringSize) || source.memory === null) {
      this.fail('ERR_DESC_INDEX', `head descriptor ${head} is outside the table of ${source.ringSize}`);
      return false;
    }
    return true;
  }

  /** Advances to the next buffer descriptor. False at the end of the chain or on error. */
  next(): boolean {
    if (this.done) return false;
    for (;;) {
      if (this.hops >= this.tableSize) return this.failLoop();
      const i = this.nextIndex;
      const off = this.base + i * DESC_BYTES;
      const view = this.view;
      const lo = view.getUint32(off, true);
      const hi = view.getUint32(off + 4, true);
      const len = view.getUint32(off + 8, true);
      const flags = view.getUint16(off + 12, true);
      const next = view.getUint16(off + 14, true);
      this.hops++;
      // Exact below 2^53; larger values stay >= 2^53 and fail every translation.
      const addr = hi * TWO_32 + lo;
      if ((flags & F_INDIRECT) !== 0) {
        if (!this.enterIndirect(addr, len, flags)) return false;
        continue;
      }
      const writable = (flags & F_WRITE) !== 0;
      if (writable) this.sawWritable = true;
      else if (this.sawWritable) return this.failOrder(i);
      if ((flags & F_NEXT) !== 0) {
        if (next >= this.tableSize) return this.failNext(i, next);
        this.nextIndex = next;
      } else {
        this.done = true;
      }
      this.index = i;
      this.addr = addr;
      this.len = len;
      this.flags = flags;
      this.writable = writable;
      return true;
    }
  }

  /** virtio 1.2 §2.7.5.3: switch to the indirect table described by one descriptor. */
  private enterIndirect(addr: number, len: number, flags: number): boolean {
    const source = this.source!;
    if (this.inIndirect) return this.fail('ERR_INDIRECT_NESTED', 'an indirect table entry is itself INDIRECT');
    if (!source.indirect) return this.fail('ERR_INDIRECT_NOT_NEGOTIATED', 'INDIRECT descriptor without VIRTIO_F_INDIRECT_DESC');
    if ((flags & F_NEXT) !== 0) return this.fail('ERR_INDIRECT_WITH_NEXT', 'INDIRECT descriptor also has NEXT');
    if (len === 0 || len % DESC_BYTES !== 0) return this.fail('ERR_INDIRECT_LENGTH', `indirect table length ${len} is not a non-zero multiple of 16`);
    const memory = source.memory!;
    const region = memory.locate(addr, len);
    if (region < 0) return this.fail('ERR_INDIRECT_ADDRESS', `indirect table at 0x${addr.toString(16)}+${len} is outside guest memory`);
    this.view = memory.regionView(region);
    this.base = memory.offset;
    this.tableSize = len / DESC_BYTES;
    this.nextIndex = 0;
    this.hops = 0;
    this.inIndirect = true;
    return true;
  }

  // Error paths live out of line so that next() stays small enough to inline.
  private failLoop(): false {
    return this.fail('ERR_DESC_LOOP', `chain has more than ${this.tableSize} descriptors${this.inIndirect ? ' in its indirect table' : ''}: a loop`);
  }

  private failOrder(i: number): false {
    return this.fail('ERR_DESC_ORDER', `descriptor ${i} is device-readable after a device-writable one`);
  }

  private failNext(i: number, next: number): false {
    return this.fail('ERR_DESC_INDEX', `descriptor ${i} links to ${next}, outside the table of ${this.tableSize}`);
  }

  private fail(code: VirtioErrorCode, message: string): false {
    this.error = new VirtioError(code, message);
    this.done = true;
    return false;
  }
}
