import {
  AVAIL_ALIGN,
  DESC_ALIGN,
  DESC_SIZE,
  USED_ALIGN,
  USED_ELEM_SIZE,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTIO_F_NOTIFY_ON_EMPTY,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_MAX_SIZE,
  VIRTQ_USED_F_NO_NOTIFY,
  availRingBytes,
  descTableBytes,
  usedRingBytes,
  vringNeedEvent,
} from './constants';
import type { DescriptorChain } from './descriptor-chain';
import { DescriptorWalker, type DescriptorTableSource } from './descriptor-walker';
import { VirtioError, isVirtioErrorCode, type VirtioErrorCode } from './errors';
import { fullFence } from './fence';
import type { GuestMemory } from './guest-memory';
import { ViewCache } from './view-cache';

const EMPTY_VIEW = new DataView(new ArrayBuffer(0));
const TWO_32 = 4294967296;
const NO_CELL = new Uint16Array(1);
const NO_WORDS = new Uint32Array(0);
/** Atomics use the host's byte order; the rings are little-endian (virtio 1.2 §2.7). */
const HOST_LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
// Module-local copies for the hot path: imported bindings can compile to getter calls.
const USED_ELEM = USED_ELEM_SIZE;
const DESC_BYTES = DESC_SIZE;
const F_NEXT = VIRTQ_DESC_F_NEXT;
const F_WRITE = VIRTQ_DESC_F_WRITE;
const F_INDIRECT = VIRTQ_DESC_F_INDIRECT;
const NO_INTERRUPT = VIRTQ_AVAIL_F_NO_INTERRUPT;
const NO_NOTIFY = VIRTQ_USED_F_NO_NOTIFY;
const needEvent = vringNeedEvent;

/** What the queue does with a malformed chain (bad index, address, loop, indirect table...). */
export type MalformedChainPolicy =
  /** The queue breaks: no more pops until reset; `onError` fires (the device sets NEEDS_RESET). QEMU's choice. */
  | 'break'
  /** The chain is counted in `stats.droppedChains`, given back with used length 0 when its head is valid, and skipped. */
  | 'drop';

export interface SplitQueueOptions {
  /** The largest size the device offers (QUEUE_NUM_MAX); default 256, at most 32768. */
  maxSize?: number;
  /** Default {@link MalformedChainPolicy}: 'break'. Ring-level errors always break. */
  malformedChains?: MalformedChainPolicy;
  /** Called once when the queue breaks (guest-caused). The device usually sets NEEDS_RESET. */
  onError?: (error: VirtioError, queue: SplitQueue) => void;
}

/**
 * Everything needed to recreate a queue, as plain JSON (snapshot; vhost-user GET/SET_VRING_BASE
 * uses `lastAvailIdx`). Ring contents live in guest memory and are not part of it.
 */
export interface SplitQueueState {
  size: number;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  ready: boolean;
  /** Next avail ring slot the device will consume (bhyve vq_last_avail). */
  lastAvailIdx: number;
  /** Next used ring slot the device will fill (bhyve vq_next_used). */
  usedIdx: number;
  /** Used index last published to the guest. */
  publishedUsedIdx: number;
  /** Used index at the last interrupt decision (bhyve vq_save_used). */
  signalledUsedIdx: number;
  /** Negotiated ring features. */
  eventIdx: boolean;
  indirect: boolean;
  notifyOnEmpty: boolean;
  /** False while the device suppresses kicks (used->flags NO_NOTIFY / stale avail_event). */
  notificationsEnabled: boolean;
  /** The error code when the queue is broken, else null. */
  broken: VirtioErrorCode | null;
}

export interface SplitQueueStats {
  /** Chains popped (well-formed). */
  chains: number;
  /** Malformed chains dropped under the 'drop' policy. */
  droppedChains: number;
}

const isU16 = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xffff;
const isAddr = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/**
 * A split virtqueue, device side (virtio 1.2 §2.7). A plain state object (public fields: set
 * `size` and the three addresses, then {@link activate}) plus the operations a device needs:
 *
 * - {@link pop}: the next available chain into a reusable {@link DescriptorChain} (no allocation);
 * - {@link popWritableRun}: a run of one-buffer device-writable chains (mergeable RX buffers)
 *   straight into an iov and head/length arrays; {@link addUsedRun} gives them back;
 * - {@link retChains}: give back the most recent unconsumed chains (bhyve vq_retchains);
 * - {@link addUsed} then {@link publish}: batch used elements and publish used->idx once
 *   (bhyve vq_relchain_prepare / vq_relchain_publish);
 * - {@link needsInterrupt}: NOTIFY_ON_EMPTY, EVENT_IDX used_event, NO_INTERRUPT (bhyve vq_endchains);
 * - {@link disableNotifications} / {@link enableNotifications}: kick suppression both ways
 *   (used->flags NO_NOTIFY, or with EVENT_IDX the avail_event field, §2.7.10);
 * - {@link saveState} / {@link restoreState}: plain JSON.
 *
 * Guest-caused errors never throw from the data path: the queue breaks (`error` is set,
 * `onError` fires, pops return false) or, under the 'drop' policy, the chain is counted and
 * skipped. Device programming errors (a used head out of range...) throw RangeError.
 */
export class SplitQueue implements DescriptorTableSource {
  /** Device maximum (QUEUE_NUM_MAX). */
  readonly maxSize: number;
  /** Queue size set by the driver (power of two, 1..maxSize); takes effect at {@link activate}. */
  size: number;
  /**
   * The size the rings were validated for at {@link activate} (0 when not ready). The data path
   * uses only this, so a later write to `size` (a guest rewriting the register) cannot make the
   * queue read past the rings it checked.
   */
  ringSize = 0;
  descAddr = 0;
  availAddr = 0;
  usedAddr = 0;
  /** True once {@link activate} succeeded and until reset. */
  ready = false;
  lastAvailIdx = 0;
  usedIdx = 0;
  publishedUsedIdx = 0;
  signalledUsedIdx = 0;
  eventIdx = false;
  indirect = false;
  notifyOnEmpty = false;
  notificationsEnabled = true;
  /** Set when the queue broke; cleared by {@link reset}. */
  error: VirtioError | null = null;
  readonly stats: SplitQueueStats = { chains: 0, droppedChains: 0 };
  /** Bytes in the chains the last {@link popWritableRun} took. */
  runBytes = 0;
  /** The iov entries the last {@link popWritableRun} wrote (adjacent buffers share one). */
  runSegments = 0;
  malformedChains: MalformedChainPolicy;
  onError: ((error: VirtioError, queue: SplitQueue) => void) | undefined;

  /** The memory the rings were validated against. @internal */
  memory: GuestMemory | null = null;
  /** @internal */
  descView: DataView = EMPTY_VIEW;
  /** @internal */
  descOffset = 0;
  private availView: DataView = EMPTY_VIEW;
  private availOffset = 0;
  private usedView: DataView = EMPTY_VIEW;
  private usedOffset = 0;
  private mask = 0;
  /**
   * avail->idx and used->idx as one-element Uint16Arrays, so they can be read with acquire and
   * written with release semantics (Atomics); only when 2-aligned in their buffer on a
   * little-endian host, else `atomicIdx` is false and DataView accesses are used.
   */
  private availIdxCell: Uint16Array = NO_CELL;
  private usedIdxCell: Uint16Array = NO_CELL;
  private atomicIdx = false;
  /**
   * The three rings as typed arrays indexed from their start (little-endian host and aligned
   * rings only, else `typedRings` is false): the hot paths index them with small integers
   * instead of DataView byte offsets, which may be beyond the small-integer range. Descriptor i
   * is `descWords[4i..4i+3]` (addr lo, addr hi, len, flags | next << 16); the avail ring is
   * `availHalves` (flags, idx, ring[size], used_event); the used ring is `usedWords` (flags |
   * idx << 16, then id, len per element) and `usedHalves` (for avail_event).
   */
  private descWords: Uint32Array = NO_WORDS;
  private availHalves: Uint16Array = NO_CELL;
  private usedWords: Uint32Array = NO_WORDS;
  private usedHalves: Uint16Array = NO_CELL;
  private typedRings = false;
  /** avail->idx as last read (see nextAvailable). */
  private availShadow = 0;
  private readonly walker = new DescriptorWalker();
  /** Views of guest buffers, keyed by address and length; valid for `memory`. */
  private readonly views: ViewCache;
  /**
   * The view the fast pop paths last made for each descriptor index, with the descriptor words
   * it was made for (`headKeys[4i..4i+2]`: address low, address high, length): a driver that
   * reposts the same buffer in the same descriptor finds it here, in ring order (the hash-ordered
   * {@link views} are scattered, and a large ring's entries fall out of cache between uses), with
   * integer compares of the descriptor words. Every view was checked against `memory` when made;
   * an empty entry holds null (its key, an address above 2^53, is never in guest memory, and a
   * descriptor that matches it gets null: the full check). Cleared with the view cache.
   */
  private readonly headKeys: Uint32Array;
  private readonly headViews: Array<Uint8Array | null>;
  /**
   * The same for {@link popWritableRun}'s joined ranges, indexed by the range's first descriptor:
   * the view of a run of adjacent buffers with its key (address low, high, total length).
   */
  private readonly joinKeys: Uint32Array;
  private readonly joinViews: Array<Uint8Array | null>;
  constructor(options: SplitQueueOptions = {}) {
    const maxSize = options.maxSize ?? 256;
    if (!isPowerOfTwo(maxSize) || maxSize > VIRTQ_MAX_SIZE) throw new RangeError(`maxSize ${maxSize} must be a power of two up to ${VIRTQ_MAX_SIZE}`);
    this.maxSize = maxSize;
    this.size = maxSize;
    this.malformedChains = options.malformedChains ?? 'break';
    this.onError = options.onError;
    this.views = new ViewCache(Math.min(8192, Math.max(1024, 4 * maxSize)));
    this.headKeys = new Uint32Array(4 * maxSize);
    this.headViews = new Array<Uint8Array | null>(maxSize).fill(null);
    this.joinKeys = new Uint32Array(4 * maxSize);
    this.joinViews = new Array<Uint8Array | null>(maxSize).fill(null);
    this.clearHeadViews();
  }

  /** Applies the negotiated ring features (INDIRECT_DESC, EVENT_IDX, NOTIFY_ON_EMPTY). */
  setFeatures(negotiated: bigint): void {
    this.indirect = ((negotiated >> BigInt(VIRTIO_F_INDIRECT_DESC)) & 1n) === 1n;
    this.eventIdx = ((negotiated >> BigInt(VIRTIO_F_EVENT_IDX)) & 1n) === 1n;
    this.notifyOnEmpty = ((negotiated >> BigInt(VIRTIO_F_NOTIFY_ON_EMPTY)) & 1n) === 1n;
  }

  /**
   * Validates size, alignment and placement of the three rings against `memory`
   * (§2.7 "Virtqueue Part Alignment"), then makes the queue ready. Returns false, with
   * `error` set and `onError` called, when the driver's configuration is unusable.
   * Also used to rebind the queue to new guest memory (the indices are kept).
   */
  activate(memory: GuestMemory): boolean {
    this.ready = false;
    this.ringSize = 0;
    this.atomicIdx = false;
    this.typedRings = false;
    this.memory = memory;
    this.dropViewCache();
    const size = this.size;
    if (!isPowerOfTwo(size) || size > this.maxSize) return this.breakQueue('ERR_QUEUE_SIZE', `queue size ${size} is not a power of two in 1..${this.maxSize}`);
    if (this.descAddr % DESC_ALIGN !== 0 || this.availAddr % AVAIL_ALIGN !== 0 || this.usedAddr % USED_ALIGN !== 0) {
      return this.breakQueue('ERR_RING_ALIGNMENT', `rings misaligned: desc 0x${this.descAddr.toString(16)} (16), avail 0x${this.availAddr.toString(16)} (2), used 0x${this.usedAddr.toString(16)} (4)`);
    }
    let r = memory.locate(this.descAddr, descTableBytes(size));
    if (r < 0) return this.breakQueue('ERR_RING_ADDRESS', `descriptor table 0x${this.descAddr.toString(16)}+${descTableBytes(size)} is outside guest memory`);
    this.descView = memory.regionView(r);
    this.descOffset = memory.offset;
    const descRegion = r;
    r = memory.locate(this.availAddr, availRingBytes(size));
    if (r < 0) return this.breakQueue('ERR_RING_ADDRESS', `avail ring 0x${this.availAddr.toString(16)}+${availRingBytes(size)} is outside guest memory`);
    this.availView = memory.regionView(r);
    this.availOffset = memory.offset;
    const availRegion = r;
    r = memory.locate(this.usedAddr, usedRingBytes(size));
    if (r < 0) return this.breakQueue('ERR_RING_ADDRESS', `used ring 0x${this.usedAddr.toString(16)}+${usedRingBytes(size)} is outside guest memory`);
    this.usedView = memory.regionView(r);
    this.usedOffset = memory.offset;
    const usedRegion = r;
    this.usedIdxCell = idxCell(memory, usedRegion, this.usedOffset + 2);
    this.availIdxCell = idxCell(memory, availRegion, this.availOffset + 2);
    this.atomicIdx = this.usedIdxCell !== NO_CELL && this.availIdxCell !== NO_CELL;
    this.makeTypedRings(memory, descRegion, availRegion, usedRegion, size);
    this.mask = size - 1;
    this.ringSize = size;
    this.availShadow = this.lastAvailIdx; // the first pop reads avail->idx
    this.ready = true;
    this.writeNotificationState();
    return true;
  }

  /** Back to the state after construction (size = maxSize, indices 0, not ready, not broken). */
  reset(): void {
    this.size = this.maxSize;
    this.descAddr = this.availAddr = this.usedAddr = 0;
    this.ready = false;
    this.ringSize = 0;
    this.lastAvailIdx = this.usedIdx = this.publishedUsedIdx = this.signalledUsedIdx = 0;
    this.eventIdx = this.indirect = this.notifyOnEmpty = false;
    this.notificationsEnabled = true;
    this.error = null;
    this.memory = null;
    this.dropViewCache();
    this.descView = this.availView = this.usedView = EMPTY_VIEW;
    this.descOffset = this.availOffset = this.usedOffset = 0;
    this.availIdxCell = this.usedIdxCell = NO_CELL;
    this.atomicIdx = false;
    this.typedRings = false;
    this.descWords = this.usedWords = NO_WORDS;
    this.availHalves = this.usedHalves = NO_CELL;
    this.stats.chains = this.stats.droppedChains = 0;
  }

  /** True when the queue is ready and not broken. */
  get usable(): boolean {
    return this.ready && this.error === null;
  }

  /** avail->idx as the guest wrote it (0 when not usable). */
  availIdx(): number {
    return this.usable ? this.readAvailIdx() : 0;
  }

  /**
   * Chains the driver has made available and the device has not popped. Breaks the queue
   * (`ERR_AVAIL_IDX`) when avail->idx moved by more than the queue size: the ring cannot hold more
   * (§2.7.13), and the driver never decrements idx (§2.7.6.1).
   */
  available(): number {
    return this.usable ? this.refreshAvail() : 0;
  }

  /**
   * Chains to pop: from the avail->idx read last time while some remain, else from a fresh
   * read (vhost's avail_idx shadow): the index is read with acquire semantics once per batch,
   * not once per chain. A rewind by the driver is noticed at the next read.
   */
  private nextAvailable(): number {
    const n = (this.availShadow - this.lastAvailIdx) & 0xffff;
    return n !== 0 && n <= this.ringSize ? n : this.refreshAvail();
  }

  /** Reads avail->idx; breaks the queue when it is more than a queue ahead (§2.7.6.1, §2.7.13). */
  private refreshAvail(): number {
    const idx = this.readAvailIdx();
    const n = (idx - this.lastAvailIdx) & 0xffff;
    if (n > this.ringSize) return this.availJumped(n);
    this.availShadow = idx;
    return n;
  }

  /** True when at least one chain can be popped (bhyve vq_has_descs). */
  hasAvailable(): boolean {
    return this.available() !== 0;
  }

  /**
   * Pops the next available chain into `chain` (bhyve vq_getchain). Returns false when none is
   * available, the queue is not usable, or it just broke. The avail entry is consumed even when
   * the chain is malformed (as bhyve and QEMU do). Allocates nothing except a view for a buffer
   * that is not in the queue's view cache.
   */
  pop(chain: DescriptorChain): boolean {
    // Fast path: a chain of one direct descriptor (no NEXT, no INDIRECT), whose buffer is checked
    // here (or was, in this same memory, when its cached view was made), read through the typed
    // ring views. Anything else, every error, and rings without typed views take the general
    // walk below. Written out by hand (no helper calls on a view-cache hit) so that it compiles
    // to straight-line code.
    if (this.typedRings === true && this.error === null) {
      const last = this.lastAvailIdx;
      let available = (this.availShadow - last) & 0xffff;
      if (available === 0 || available > this.ringSize) available = this.refreshAvail();
      if (available === 0) return false;
      const head = this.availHalves[2 + (last & this.mask)]!;
      if (head < this.ringSize) {
        const desc = this.descWords;
        const d = 4 * head;
        const flags = desc[d + 3]! & 0xffff;
        if ((flags & (F_NEXT | F_INDIRECT)) === 0) {
          const addrLow = desc[d]!;
          const addrHigh = desc[d + 1]!;
          const len = desc[d + 2]!;
          const keys = this.headKeys;
          const k = 4 * head;
          const view = keys[k] === addrLow && keys[k + 1] === addrHigh && keys[k + 2] === len ? this.headViews[head]! : this.headView(head, addrLow, addrHigh, len);
          if (view !== null) {
            const addr = addrHigh * TWO_32 + addrLow;
            const next = (last + 1) & 0xffff;
            this.lastAvailIdx = next;
            // virtio 1.2 §2.7.10: with EVENT_IDX, ask to be kicked when the driver goes past this one.
            if (this.eventIdx === true && this.notificationsEnabled === true) this.usedHalves[2 + 4 * this.ringSize] = next;
            chain.head = head;
            chain.iov[0] = view;
            chain.addrs[0] = addr;
            chain.lens[0] = len;
            if ((flags & F_WRITE) === 0) {
              chain.readable = 1;
              chain.readableBytes = len;
              chain.writable = chain.writableBytes = 0;
            } else {
              chain.writable = 1;
              chain.writableBytes = len;
              chain.readable = chain.readableBytes = 0;
            }
            this.stats.chains++;
            return true;
          }
        }
      }
    }
    return this.popWalking(chain);
  }

  /**
   * Pops a run of chains that are each one direct device-writable buffer of at least `minLen`
   * bytes, as a driver posts mergeable receive buffers (Linux virtio-net with MRG_RXBUF), without
   * a {@link DescriptorChain} per buffer. Chain k of the run goes to `heads[chainAt + k]` and
   * `lens[chainAt + k]`; the buffers go to `iov[iovAt..]`, one entry per buffer except that
   * buffers which follow each other in guest memory (Linux carves them from one page fragment)
   * share one entry covering all of them: the same bytes, one view instead of several. Stops
   * after `maxChains` chains, once the run holds `wantBytes` bytes, or before the first chain
   * that is anything else (several descriptors, indirect, device-readable, shorter than
   * `minLen`, outside guest memory, a head out of range): that one is left in the ring for
   * {@link pop}, which handles it as always. Returns the chains taken (0 when none is available
   * or the queue is unusable or lacks typed rings); their total length is then in
   * {@link runBytes} and the iov entries written in {@link runSegments}. Each buffer is checked
   * against guest memory as {@link pop} checks it, a joined range as a whole once more; avail->idx
   * is read and validated as {@link pop} reads it.
   */
  popWritableRun(iov: Uint8Array[], iovAt: number, heads: Uint16Array, lens: Uint32Array, chainAt: number, maxChains: number, minLen: number, wantBytes: number): number {
    this.runBytes = 0;
    this.runSegments = 0;
    if (this.typedRings !== true || this.error !== null || maxChains <= 0) return 0;
    const start = this.lastAvailIdx;
    let available = (this.availShadow - start) & 0xffff;
    if (available === 0 || available > this.ringSize) available = this.refreshAvail();
    if (available > maxChains) available = maxChains;
    const ring = this.availHalves;
    const desc = this.descWords;
    const keys = this.headKeys;
    const headViews = this.headViews;
    const mask = this.mask;
    const ringSize = this.ringSize;
    const least = minLen > 0 ? minLen : 0;
    let bytes = 0;
    let k = 0;
    // The iov entry being built: the run index of its first chain, its guest address (low and
    // high words) and its length so far. A buffer that starts where it ends joins it; until the
    // entry is settled its buffers' own views sit at iov[seg..].
    let seg = iovAt;
    let segFirst = 0;
    let segLow = 0;
    let segHigh = 0;
    let segLen = 0;
    // A chain whose view was looked up outside the inner loop, with the words it was checked for:
    // the inner loop takes it first, without reading its ring slot or descriptor again.
    let pending: Uint8Array | null = null;
    let pendingHead = 0;
    let pendingLow = 0;
    let pendingHigh = 0;
    let pendingLen = 0;
    for (;;) {
      // A descriptor whose remembered view does not match stops the inner loop with its head here:
      // the view is looked up or made below, outside it, so that the inner loop makes no call
      // (its array and map checks stay hoisted).
      let missed = -1;
      while (k < available && bytes < wantBytes) {
        let head: number;
        let view: Uint8Array | null;
        let low: number;
        let high: number;
        let len: number;
        if (pending !== null) {
          head = pendingHead;
          view = pending;
          low = pendingLow;
          high = pendingHigh;
          len = pendingLen;
          pending = null;
        } else {
          head = ring[2 + ((start + k) & mask)]!;
          if (head >= ringSize) break;
          const d = 4 * head;
          // One direct device-writable buffer: WRITE set, NEXT and INDIRECT clear (literal bits:
          // imported constants are loads in optimized code).
          if ((desc[d + 3]! & 7) !== 2 /* F_WRITE of F_NEXT | F_WRITE | F_INDIRECT */) break;
          len = desc[d + 2]!;
          if (len < least) break;
          low = desc[d]!;
          high = desc[d + 1]!;
          // The buffer was checked against this memory when the view remembered for these exact
          // descriptor words was made (`headKeys` is indexed like the descriptor table).
          view = headViews[head]!;
          if (keys[d] !== low || keys[d + 1] !== high || keys[d + 2] !== len || view === null) {
            missed = head;
            pendingLow = low;
            pendingHigh = high;
            pendingLen = len;
            break;
          }
        }
        if (k !== segFirst && low === segLow + segLen && high === segHigh) {
          segLen += len;
        } else {
          if (k !== segFirst) seg = this.closeSegment(iov, seg, heads[chainAt + segFirst]!, segLow, segHigh, segLen, k - segFirst);
          segFirst = k;
          segLow = low;
          segHigh = high;
          segLen = len;
        }
        iov[seg + k - segFirst] = view;
        heads[chainAt + k] = head;
        lens[chainAt + k] = len;
        bytes += len;
        k++;
      }
      if (missed < 0) break;
      // The buffer is checked now (a hashed-cache hit was checked in this memory when made).
      pending = this.headView(missed, pendingLow, pendingHigh, pendingLen);
      if (pending === null) break;
      pendingHead = missed;
    }
    if (k === 0) return 0;
    seg = this.closeSegment(iov, seg, heads[chainAt + segFirst]!, segLow, segHigh, segLen, k - segFirst);
    const next = (start + k) & 0xffff;
    this.lastAvailIdx = next;
    // virtio 1.2 §2.7.10: with EVENT_IDX, ask to be kicked when the driver goes past the last one.
    if (this.eventIdx === true && this.notificationsEnabled === true) this.usedHalves[2 + 4 * ringSize] = next;
    this.stats.chains += k;
    this.runBytes = bytes;
    this.runSegments = seg - iovAt;
    return k;
  }

  /**
   * Settles the iov entry at `seg` holding `count` adjacent buffers (their own views at
   * `iov[seg..seg+count)`, first descriptor `head`, guest range low/high/len): one buffer stays
   * as it is; several become one view of the whole range (remembered for `head`, else from the
   * view cache, else made after a check that the range lies in one region), or stay separate
   * entries when it does not. Returns the index after the entry or entries.
   */
  private closeSegment(iov: Uint8Array[], seg: number, head: number, low: number, high: number, len: number, count: number): number {
    if (count === 1) return seg + 1;
    const d = 4 * head;
    const keys = this.joinKeys;
    const remembered = this.joinViews[head]!;
    const view = keys[d] === low && keys[d + 1] === high && keys[d + 2] === len && remembered !== null ? remembered : this.cachedView(keys, this.joinViews, head, low, high, len);
    // Adjacent guest-physical addresses in two regions give no view: the buffers stay separate.
    if (view === null) return seg + count;
    iov[seg] = view;
    return seg + 1;
  }

  /**
   * Adds used elements `{heads[i], lens[i]}` for i in [0, n), as {@link addUsed} n times; a head
   * out of range throws RangeError and none of them is added.
   */
  addUsedRun(heads: Uint16Array, lens: Uint32Array, n: number): void {
    if (this.ready !== true) return;
    const ringSize = this.ringSize;
    const words = this.usedWords;
    if (this.typedRings !== true || words.length !== 1 + 2 * ringSize) {
      for (let i = 0; i < n; i++) if (!(heads[i]! < ringSize)) throw usedHeadOutside(heads[i]!, ringSize);
      for (let i = 0; i < n; i++) this.addUsed(heads[i]!, lens[i]!);
      return;
    }
    const mask = this.mask;
    let idx = this.usedIdx;
    for (let i = 0; i < n; i++) {
      const head = heads[i]!;
      // Elements written before a bad head stay beyond usedIdx: never published, overwritten later.
      if (!(head < ringSize)) throw usedHeadOutside(head, ringSize);
      const w = 1 + 2 * (idx & mask);
      words[w] = head;
      words[w + 1] = lens[i]!;
      idx = (idx + 1) & 0xffff;
    }
    this.usedIdx = idx;
  }

  /**
   * The view of a one-descriptor chain's buffer for descriptor `head` when the per-head entry
   * does not match: from the view cache, else made, cached and remembered for `head`. Null when
   * the buffer is outside guest memory.
   */
  private headView(head: number, addrLow: number, addrHigh: number, len: number): Uint8Array | null {
    return this.cachedView(this.headKeys, this.headViews, head, addrLow, addrHigh, len);
  }

  /**
   * The view of [addr, addr+len) from the view cache, else made, cached and remembered in
   * `keys`/`views` for `head` (a per-descriptor table). Null when outside guest memory.
   */
  private cachedView(keys: Uint32Array, views: Array<Uint8Array | null>, head: number, addrLow: number, addrHigh: number, len: number): Uint8Array | null {
    const addr = addrHigh * TWO_32 + addrLow;
    const cache = this.views;
    const slot = cache.slotOfLow(addrLow, len);
    // A hit in the hashed cache leaves the per-head entry alone: a driver that rotates a pool of
    // buffers through the descriptors (Linux page fragments) would rewrite it at every pop.
    if (cache.addrs[slot] === addr && cache.lens[slot] === len) return cache.views[slot]!;
    const view = this.newBufferView(addr, len);
    if (view !== null) {
      keys[4 * head] = addrLow;
      keys[4 * head + 1] = addrHigh;
      keys[4 * head + 2] = len;
      views[head] = view;
    }
    return view;
  }

  /** A new view of a one-descriptor chain's buffer (cached), or null when it is outside guest memory. */
  private newBufferView(addr: number, len: number): Uint8Array | null {
    const memory = this.memory!;
    const region = memory.locate(addr, len);
    return region < 0 ? null : this.views.insert(memory, region, memory.offset, addr, len);
  }

  /** The general pop: walks the chain with the {@link DescriptorWalker}. */
  private popWalking(chain: DescriptorChain): boolean {
    for (;;) {
      if (!this.usable || this.nextAvailable() === 0) return false;
      const head = this.availView.getUint16(this.availOffset + 4 + 2 * (this.lastAvailIdx & this.mask), true);
      this.lastAvailIdx = (this.lastAvailIdx + 1) & 0xffff;
      // virtio 1.2 §2.7.10: with EVENT_IDX, ask to be kicked when the driver goes past this one.
      if (this.eventIdx && this.notificationsEnabled) this.writeAvailEvent();
      const error = this.fill(chain, head);
      if (error === null) {
        this.stats.chains++;
        return true;
      }
      if (!this.handleMalformed(head, error)) return false;
    }
  }

  /**
   * Reports a chain that the device cannot use although the ring rules allow it (for example
   * `ERR_DESC_DIRECTION`: a writable buffer on a transmit queue, or `ERR_CHAIN_TOO_SHORT`).
   * Follows the queue's {@link MalformedChainPolicy}: breaks the queue, or counts the drop and
   * gives the chain back with used length 0 (the caller still publishes).
   */
  rejectChain(chain: DescriptorChain, code: VirtioErrorCode, message: string): void {
    this.handleMalformed(chain.head, new VirtioError(code, message));
    chain.clear();
  }

  /**
   * Gives back the `n` most recently popped chains, which will be popped again (bhyve
   * vq_retchains). Only chains not yet added to the used ring can be given back.
   */
  retChains(n: number): void {
    const outstanding = (this.lastAvailIdx - this.usedIdx) & 0xffff;
    if (!Number.isInteger(n) || n < 0 || n > outstanding) throw new RangeError(`cannot return ${n} chains: ${outstanding} are outstanding`);
    this.lastAvailIdx = (this.lastAvailIdx - n) & 0xffff;
    // virtio 1.2 §2.7.10: avail_event must not move back behind what the driver has already
    // published, or the driver's next buffers never kick (a device that gave chains back is
    // waiting for more of them). Ask for a kick past the avail->idx the device has seen, as vhost
    // does.
    if (this.eventIdx && this.notificationsEnabled && this.usable) this.writeAvailEvent(this.availShadow);
  }

  /**
   * Writes a used element {id: head, len} without making it visible (bhyve
   * vq_relchain_prepare). `len` is the number of bytes the device wrote into the chain.
   */
  addUsed(head: number, len: number): void {
    if (this.ready !== true) return;
    if (!(head >= 0 && head < this.ringSize)) throw usedHeadOutside(head, this.ringSize);
    const words = this.usedWords;
    const w = 1 + 2 * (this.usedIdx & this.mask);
    // A typed-array store past the end (a detached buffer has length 0) is silently dropped;
    // the DataView path throws, as an access to unmapped guest memory must.
    if (this.typedRings === true && w + 1 < words.length) {
      words[w] = head;
      words[w + 1] = len;
    } else {
      const off = this.usedOffset + 4 + USED_ELEM * (this.usedIdx & this.mask);
      this.usedView.setUint32(off, head, true);
      this.usedView.setUint32(off + 4, len >>> 0, true);
    }
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
  }

  /** Makes every added used element visible: one used->idx store (bhyve vq_relchain_publish). */
  publish(): void {
    if (!this.ready || this.publishedUsedIdx === this.usedIdx) return;
    // virtio 1.2 §2.7.8.2: the elements (id, len) before used->idx: a release store.
    if (this.atomicIdx) {
      Atomics.store(this.usedIdxCell, 0, this.usedIdx);
    } else {
      fullFence();
      this.usedView.setUint16(this.usedOffset + 2, this.usedIdx, true);
    }
    this.publishedUsedIdx = this.usedIdx;
  }

  /** {@link addUsed} then {@link publish} (bhyve vq_relchain). */
  putUsed(head: number, len: number): void {
    this.addUsed(head, len);
    this.publish();
  }

  /**
   * Should the device interrupt the driver now (bhyve vq_endchains)? Call after
   * {@link publish}; it remembers the published index for the next decision.
   * - NOTIFY_ON_EMPTY negotiated and `usedAllAvail`: yes (virtio 1.2 §6.3, legacy);
   * - EVENT_IDX negotiated: vring_need_event(used_event, new, old) (§2.7.7.2);
   * - else: something new was used and avail->flags lacks NO_INTERRUPT (§2.7.7.2).
   */
  needsInterrupt(usedAllAvail = false): boolean {
    if (!this.ready) return false;
    const oldIdx = this.signalledUsedIdx;
    const newIdx = this.publishedUsedIdx;
    this.signalledUsedIdx = newIdx;
    // The used->idx store must be visible before we read the driver's suppression fields.
    fullFence();
    if (usedAllAvail && this.notifyOnEmpty) return true;
    if (this.eventIdx) {
      const usedEvent = this.availView.getUint16(this.availOffset + 4 + 2 * this.ringSize, true);
      return needEvent(usedEvent, newIdx, oldIdx);
    }
    return newIdx !== oldIdx && (this.availView.getUint16(this.availOffset, true) & NO_INTERRUPT) === 0;
  }

  /** Asks the driver not to kick (bhyve vq_kick_disable). With EVENT_IDX nothing is written (§2.7.10). */
  disableNotifications(): void {
    this.notificationsEnabled = false;
    if (this.ready) this.writeNotificationState();
  }

  /**
   * Asks the driver to kick again (bhyve vq_kick_enable), then re-reads avail->idx after a full
   * fence. Returns true when chains arrived meanwhile: the caller must process them, since no
   * kick will announce them (the lost-wakeup race).
   */
  enableNotifications(): boolean {
    this.notificationsEnabled = true;
    if (!this.usable) return false;
    this.writeNotificationState();
    fullFence();
    return this.hasAvailable();
  }

  /** Re-reads used->idx from guest memory (vhost-user: the front-end owns the ring on start). */
  syncUsedIdxFromRing(): void {
    if (!this.ready) return;
    this.usedIdx = this.publishedUsedIdx = this.signalledUsedIdx = this.usedView.getUint16(this.usedOffset + 2, true);
  }

  /** The queue state as plain JSON. */
  saveState(): SplitQueueState {
    return {
      size: this.ready ? this.ringSize : this.size,
      descAddr: this.descAddr,
      availAddr: this.availAddr,
      usedAddr: this.usedAddr,
      ready: this.ready,
      lastAvailIdx: this.lastAvailIdx,
      usedIdx: this.usedIdx,
      publishedUsedIdx: this.publishedUsedIdx,
      signalledUsedIdx: this.signalledUsedIdx,
      eventIdx: this.eventIdx,
      indirect: this.indirect,
      notifyOnEmpty: this.notifyOnEmpty,
      notificationsEnabled: this.notificationsEnabled,
      broken: this.error === null ? null : this.error.code,
    };
  }

  /**
   * Restores a state from {@link saveState} (parsed JSON is fine). A ready queue is re-activated
   * against `memory`. Throws `ERR_STATE` for a state that is malformed or does not fit this
   * queue; returns the result of activation otherwise (true when not ready).
   */
  restoreState(state: SplitQueueState, memory: GuestMemory | null): boolean {
    const s = state as unknown as Record<string, unknown>;
    if (typeof s !== 'object' || s === null) throw new VirtioError('ERR_STATE', 'queue state is not an object');
    if (!isPowerOfTwo(s.size) || (s.size as number) > this.maxSize) throw new VirtioError('ERR_STATE', `size ${String(s.size)} is not a power of two up to ${this.maxSize}`);
    for (const k of ['descAddr', 'availAddr', 'usedAddr'] as const) if (!isAddr(s[k])) throw new VirtioError('ERR_STATE', `${k} is not an address`);
    for (const k of ['lastAvailIdx', 'usedIdx', 'publishedUsedIdx', 'signalledUsedIdx'] as const) if (!isU16(s[k])) throw new VirtioError('ERR_STATE', `${k} is not a 16-bit index`);
    for (const k of ['ready', 'eventIdx', 'indirect', 'notifyOnEmpty', 'notificationsEnabled'] as const) if (typeof s[k] !== 'boolean') throw new VirtioError('ERR_STATE', `${k} is not a boolean`);
    if (s.broken !== null && !isVirtioErrorCode(s.broken)) throw new VirtioError('ERR_STATE', 'broken is not an error code or null');
    if (state.ready && memory === null) throw new VirtioError('ERR_STATE', 'a ready queue needs guest memory to restore');
    this.reset();
    this.size = state.size;
    this.descAddr = state.descAddr;
    this.availAddr = state.availAddr;
    this.usedAddr = state.usedAddr;
    this.lastAvailIdx = state.lastAvailIdx;
    this.usedIdx = state.usedIdx;
    this.publishedUsedIdx = state.publishedUsedIdx;
    this.signalledUsedIdx = state.signalledUsedIdx;
    this.eventIdx = state.eventIdx;
    this.indirect = state.indirect;
    this.notifyOnEmpty = state.notifyOnEmpty;
    this.notificationsEnabled = state.notificationsEnabled;
    if (state.broken !== null) this.error = new VirtioError(state.broken, 'queue was broken when its state was saved');
    if (!state.ready) return true;
    return this.activate(memory!);
  }

  /** Fills `chain` from the descriptors of `head`; returns the error of a malformed chain. */
  private fill(chain: DescriptorChain, head: number): VirtioError | null {
    const walker = this.walker;
    const memory = this.memory!;
    chain.head = head;
    chain.readable = chain.writable = chain.readableBytes = chain.writableBytes = 0;
    if (!walker.start(this, head)) return walker.error;
    const max = chain.maxSegments;
    const iov = chain.iov;
    const addrs = chain.addrs;
    const lens = chain.lens;
    const views = this.views;
    let count = 0;
    while (walker.next()) {
      if (count === max) return chainTooLong(head, max);
      const addr = walker.addr;
      const len = walker.len;
      // Every buffer is checked when it is used (here), never trusted from an earlier pop; a
      // cached view is reused only for the same address and length in the same memory.
      const region = memory.locate(addr, len);
      if (region < 0) return bufferOutside(walker.index, addr, len);
      iov[count] = views.view(memory, region, memory.offset, addr, len);
      addrs[count] = addr;
      lens[count] = len;
      if (walker.writable) {
        chain.writable++;
        chain.writableBytes += len;
      } else {
        chain.readable++;
        chain.readableBytes += len;
      }
      count++;
    }
    return walker.error;
  }

  private availJumped(n: number): 0 {
    this.breakQueue('ERR_AVAIL_IDX', `avail->idx is ${n} entries ahead of the device, more than the queue size ${this.ringSize}`);
    return 0;
  }

  /** Applies the policy to a malformed chain. Returns true when popping may continue. */
  private handleMalformed(head: number, error: VirtioError): boolean {
    if (this.malformedChains === 'drop') {
      this.stats.droppedChains++;
      if (head >= 0 && head < this.ringSize) this.addUsed(head, 0);
      return true;
    }
    this.breakWith(error);
    return false;
  }

  private breakQueue(code: VirtioErrorCode, message: string): false {
    this.breakWith(new VirtioError(code, message));
    return false;
  }

  private breakWith(error: VirtioError): void {
    if (this.error !== null) return;
    this.error = error;
    this.onError?.(error, this);
  }

  /**
   * avail->idx with acquire semantics (virtio 1.2 §2.7.13.3.1: the driver's ring and descriptor
   * writes are visible once the index is): later reads of the ring cannot move before it.
   */
  private readAvailIdx(): number {
    return this.atomicIdx ? Atomics.load(this.availIdxCell, 0) : this.availView.getUint16(this.availOffset + 2, true);
  }

  /** Sets up the typed ring views (see `descWords`) when host order and alignment allow. */
  private makeTypedRings(memory: GuestMemory, descRegion: number, availRegion: number, usedRegion: number, size: number): void {
    const desc = ringArray(memory, descRegion, this.descOffset, 4 * size, 4, (b, o, n) => new Uint32Array(b, o, n));
    const avail = ringArray(memory, availRegion, this.availOffset, availRingBytes(size) / 2, 2, (b, o, n) => new Uint16Array(b, o, n));
    const usedWords = ringArray(memory, usedRegion, this.usedOffset, (usedRingBytes(size) - 2) / 4, 4, (b, o, n) => new Uint32Array(b, o, n));
    const usedHalves = ringArray(memory, usedRegion, this.usedOffset, usedRingBytes(size) / 2, 2, (b, o, n) => new Uint16Array(b, o, n));
    if (desc === null || avail === null || usedWords === null || usedHalves === null) return;
    this.descWords = desc;
    this.availHalves = avail;
    this.usedWords = usedWords;
    this.usedHalves = usedHalves;
    this.typedRings = true;
  }

  private dropViewCache(): void {
    this.views.clear();
    this.clearHeadViews();
  }

  /** Empties every per-descriptor entry: key address 0xffffffff_00000000 (above 2^53), view null. */
  private clearHeadViews(): void {
    for (const keys of [this.headKeys, this.joinKeys]) {
      for (let k = 0; k < keys.length; k += 4) {
        keys[k] = 0;
        keys[k + 1] = 0xffffffff;
        keys[k + 2] = 0;
      }
    }
    this.headViews.fill(null);
    this.joinViews.fill(null);
  }


  private writeAvailEvent(index = this.lastAvailIdx): void {
    this.usedView.setUint16(this.usedOffset + 4 + USED_ELEM * this.ringSize, index, true);
  }

  /** used->flags and avail_event as the current suppression state says (§2.7.10). */
  private writeNotificationState(): void {
    if (this.eventIdx) {
      if (this.notificationsEnabled) this.writeAvailEvent();
      this.usedView.setUint16(this.usedOffset, 0, true);
    } else {
      this.usedView.setUint16(this.usedOffset, this.notificationsEnabled ? 0 : NO_NOTIFY, true);
    }
  }
}

/**
 * A typed array of `length` elements of `bytesPer` bytes over [offset, ...) of region `region`,
 * or null when the host is big-endian or the start is not aligned in its buffer.
 */
function ringArray<T>(memory: GuestMemory, region: number, offset: number, length: number, bytesPer: number, make: (buffer: ArrayBufferLike, byteOffset: number, length: number) => T): T | null {
  const at = memory.regionSlice(region, offset, length * bytesPer);
  return HOST_LITTLE_ENDIAN && at.byteOffset % bytesPer === 0 ? make(at.buffer, at.byteOffset, length) : null;
}

/** A one-element Uint16Array on a ring index, or NO_CELL when Atomics cannot be used there. */
function idxCell(memory: GuestMemory, region: number, offset: number): Uint16Array {
  const at = memory.regionSlice(region, offset, 2);
  return HOST_LITTLE_ENDIAN && at.byteOffset % 2 === 0 ? new Uint16Array(at.buffer, at.byteOffset, 1) : NO_CELL;
}

function usedHeadOutside(head: number, size: number): RangeError {
  return new RangeError(`used head ${head} is outside the queue of ${size}`);
}

function chainTooLong(head: number, max: number): VirtioError {
  return new VirtioError('ERR_CHAIN_TOO_LONG', `chain ${head} has more than ${max} segments`);
}

function bufferOutside(index: number, addr: number, len: number): VirtioError {
  return new VirtioError('ERR_DESC_ADDRESS', `descriptor ${index} buffer 0x${addr.toString(16)}+${len} is outside guest memory`);
}

function isPowerOfTwo(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1 && (v as number) <= VIRTQ_MAX_SIZE && ((v as number) & ((v as number) - 1)) === 0;
}

