import {
  DESC_SIZE,
  STATUS_ACKNOWLEDGE,
  STATUS_DRIVER,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
  USED_ELEM_SIZE,
  VIRTIO_F_EVENT_IDX,
  VIRTIO_F_INDIRECT_DESC,
  VIRTQ_AVAIL_F_NO_INTERRUPT,
  VIRTQ_DESC_F_INDIRECT,
  VIRTQ_DESC_F_NEXT,
  VIRTQ_DESC_F_WRITE,
  VIRTQ_USED_F_NO_NOTIFY,
  availRingBytes,
  descTableBytes,
  usedRingBytes,
  vringNeedEvent,
} from '../constants';
import type { DeviceStatus } from '../device-status';
import type { GuestMemory } from '../guest-memory';
import type { SplitQueue } from '../split-queue';
import { guardedMemory } from './guarded-memory';
import { RangeAllocator } from './range-allocator';

export interface MockDriverOptions {
  /** Guest memory to use; default: one guarded region of `memorySize` bytes at `memoryBase`. */
  memory?: GuestMemory;
  /** Default 4 MiB. */
  memorySize?: number;
  /** Default 0. */
  memoryBase?: number;
  /** Queue size (power of two), default 256. */
  queueSize?: number;
  /**
   * Where the rings go (16-aligned); default: the start of the first region. Layout as legacy
   * virtio-PCI (bhyve vi_vq_init): descriptors, the avail ring right after, the used ring at the
   * next 4096 boundary. Buffers are allocated from all memory not used by the rings.
   */
  ringAddr?: number;
}

/** A chain to post: device-readable buffers (their bytes), then device-writable ones (lengths). */
export interface ChainSpec {
  readable?: readonly Uint8Array[];
  writable?: readonly number[];
  /** Split every buffer into descriptors of at most this many bytes (many small buffers). */
  segmentSize?: number;
  /** Put all descriptors in one indirect table (virtio 1.2 §2.7.5.3). */
  indirect?: boolean;
}

/** A raw descriptor, for hand-built (hostile) tables. */
export interface RawDescriptor {
  addr: number;
  len: number;
  flags: number;
  next: number;
}

/** One used element read back by the driver. */
export interface UsedElement {
  id: number;
  len: number;
  /** The first `len` bytes of the chain's writable buffers, concatenated (copied). */
  written: Uint8Array;
  /** False when `id` is not a chain this driver posted (and has not yet seen returned). */
  known: boolean;
}

interface PostedChain {
  descriptors: number[];
  /** Buffers and indirect tables to free: [gpa, len]. */
  ranges: Array<[number, number]>;
  writable: Array<[number, number]>;
}

const TWO_32 = 4294967296;

/**
 * Ready-made malformed chains ({@link MockDriver.postHostile}), each with the error code a device
 * built on SplitQueue reports for it.
 */
export const HOSTILE_CHAINS = {
  'head-out-of-range': 'ERR_DESC_INDEX',
  'next-out-of-range': 'ERR_DESC_INDEX',
  'loop': 'ERR_DESC_LOOP',
  'self-loop': 'ERR_DESC_LOOP',
  'buffer-outside-memory': 'ERR_DESC_ADDRESS',
  'buffer-crossing-region-end': 'ERR_DESC_ADDRESS',
  'buffer-wrapping': 'ERR_DESC_ADDRESS',
  'readable-after-writable': 'ERR_DESC_ORDER',
  'indirect-nested': 'ERR_INDIRECT_NESTED',
  'indirect-with-next': 'ERR_INDIRECT_WITH_NEXT',
  'indirect-length-not-multiple-of-16': 'ERR_INDIRECT_LENGTH',
  'indirect-zero-length': 'ERR_INDIRECT_LENGTH',
  'indirect-outside-memory': 'ERR_INDIRECT_ADDRESS',
  'indirect-loop': 'ERR_DESC_LOOP',
  'indirect-next-out-of-table': 'ERR_DESC_INDEX',
} as const;

export type HostileChain = keyof typeof HOSTILE_CHAINS;

/**
 * The driver side of a split virtqueue (virtio 1.2 §2.7), in process: it lays the rings out in
 * guest memory, negotiates features with a {@link DeviceStatus}, posts chains (direct, indirect,
 * split over many small buffers, readable and writable parts), publishes the avail index, kicks
 * when the device's suppression allows it (used->flags NO_NOTIFY, or avail_event with
 * EVENT_IDX, §2.7.10), reads the used ring and sets used_event / NO_INTERRUPT like a guest.
 *
 * For hostile tests it writes raw descriptors, avail entries and indices, and indirect tables.
 */
export class MockDriver {
  readonly memory: GuestMemory;
  readonly size: number;
  readonly descAddr: number;
  readonly availAddr: number;
  readonly usedAddr: number;
  /** The negotiated features (set by {@link negotiate} or {@link setFeatures}). */
  features = 0n;
  eventIdx = false;
  indirect = false;
  /** Called when the driver kicks (notifies) the device. */
  onKick: (() => void) | undefined;
  /** Called when the device interrupts the driver ({@link interrupt}). */
  onInterrupt: (() => void) | undefined;
  kicks = 0;
  interrupts = 0;
  /** Next avail index the driver will write (its shadow). */
  availIdx = 0;
  /** Next used index the driver will read. */
  lastUsedIdx = 0;
  /** True when the driver wants interrupts (NO_INTERRUPT clear / used_event kept current). */
  interruptsEnabled = true;
  /** Checks whether the last guarded memory is intact (always true for caller-given memory). */
  readonly guardsIntact: () => boolean;

  private kickedAvailIdx = 0;
  private readonly freeDescriptors: number[] = [];
  private readonly posted = new Map<number, PostedChain>();
  private readonly allocators: RangeAllocator[] = [];

  constructor(options: MockDriverOptions = {}) {
    const size = options.queueSize ?? 256;
    if (!Number.isInteger(size) || size < 1 || size > 32768 || (size & (size - 1)) !== 0) throw new RangeError(`queue size ${size} is not a power of two up to 32768`);
    this.size = size;
    if (options.memory !== undefined) {
      this.memory = options.memory;
      this.guardsIntact = () => true;
    } else {
      const g = guardedMemory([{ guestPhysAddr: options.memoryBase ?? 0, size: options.memorySize ?? 4 << 20 }]);
      this.memory = g.memory;
      this.guardsIntact = g.guardsIntact;
    }
    const first = this.memory.regions[0];
    if (first === undefined) throw new RangeError('guest memory has no region');
    const ringAddr = options.ringAddr ?? Math.ceil(first.guestPhysAddr / 4096) * 4096;
    this.descAddr = ringAddr;
    this.availAddr = ringAddr + descTableBytes(size);
    this.usedAddr = Math.ceil((this.availAddr + availRingBytes(size)) / 4096) * 4096;
    const ringEnd = Math.ceil((this.usedAddr + usedRingBytes(size)) / 4096) * 4096;
    if (!this.memory.contains(ringAddr, ringEnd - ringAddr)) throw new RangeError('the rings do not fit in guest memory');
    for (const r of this.memory.regions) {
      const start = r.guestPhysAddr;
      const end = start + r.bytes.byteLength;
      if (ringAddr >= start && ringAddr < end) {
        this.allocators.push(new RangeAllocator(start, ringAddr));
        this.allocators.push(new RangeAllocator(ringEnd, end));
      } else {
        this.allocators.push(new RangeAllocator(start, end));
      }
    }
    this.memory.fill(ringAddr, ringEnd - ringAddr, 0);
    for (let i = size - 1; i >= 0; i--) this.freeDescriptors.push(i);
  }

  // ---- set-up ------------------------------------------------------------------------------

  /** Writes the queue registers (size and addresses) and activates it, as a driver would. */
  attach(queue: SplitQueue): boolean {
    queue.size = this.size;
    queue.descAddr = this.descAddr;
    queue.availAddr = this.availAddr;
    queue.usedAddr = this.usedAddr;
    return queue.activate(this.memory);
  }

  /**
   * The driver half of §3.1.1 up to FEATURES_OK: ACKNOWLEDGE, DRIVER, read the device features,
   * accept `wanted & offered`, FEATURES_OK (not on legacy) and check it stuck. Returns the
   * accepted features; throws when the device refused them.
   */
  negotiate(device: DeviceStatus, wanted: bigint): bigint {
    device.writeStatus(STATUS_ACKNOWLEDGE);
    device.writeStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    const offered = BigInt(device.readDeviceFeatures(0)) | (BigInt(device.readDeviceFeatures(1)) << 32n);
    const accepted = offered & wanted;
    device.writeDriverFeaturesWord(0, Number(accepted & 0xffffffffn));
    device.writeDriverFeaturesWord(1, Number(accepted >> 32n));
    if (!device.legacy) {
      device.writeStatus(STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
      if ((device.status & STATUS_FEATURES_OK) === 0) throw new Error(`device refused features 0x${accepted.toString(16)}: ${device.lastError?.message ?? ''}`);
    }
    this.setFeatures(accepted);
    return accepted;
  }

  /** Sets DRIVER_OK (after the queues are attached). */
  driverOk(device: DeviceStatus): void {
    device.writeStatus(device.status | STATUS_DRIVER_OK);
  }

  /** Uses `features` as negotiated (EVENT_IDX and INDIRECT_DESC change the driver's behaviour). */
  setFeatures(features: bigint): void {
    this.features = features;
    this.eventIdx = ((features >> BigInt(VIRTIO_F_EVENT_IDX)) & 1n) === 1n;
    this.indirect = ((features >> BigInt(VIRTIO_F_INDIRECT_DESC)) & 1n) === 1n;
  }

  // ---- posting -----------------------------------------------------------------------------

  /** Free descriptors in the queue's table. */
  get freeDescriptorCount(): number {
    return this.freeDescriptors.length;
  }

  /** Chains posted and not yet returned through the used ring. */
  get outstanding(): number {
    return this.posted.size;
  }

  /**
   * Posts one chain: writes buffers and descriptors, the avail ring entry, and (unless
   * `publish` is false) avail->idx. Returns the head index, or -1 when descriptors or buffer
   * memory ran out (nothing is posted then).
   */
  post(spec: ChainSpec, publish = true): number {
    const pieces: Array<{ data: Uint8Array | null; len: number; writable: boolean }> = [];
    const seg = spec.segmentSize ?? Infinity;
    for (const buf of spec.readable ?? []) {
      if (buf.length === 0) pieces.push({ data: buf, len: 0, writable: false });
      for (let at = 0; at < buf.length; at += seg) {
        const part = buf.subarray(at, Math.min(buf.length, at + seg));
        pieces.push({ data: part, len: part.length, writable: false });
      }
    }
    for (const len of spec.writable ?? []) {
      if (len === 0) pieces.push({ data: null, len: 0, writable: true });
      for (let at = 0; at < len; at += seg) pieces.push({ data: null, len: Math.min(seg, len - at), writable: true });
    }
    if (pieces.length === 0) throw new RangeError('a chain needs at least one buffer');
    const indirect = spec.indirect === true;
    const ringDescs = indirect ? 1 : pieces.length;
    if (this.freeDescriptors.length < ringDescs) return -1;
    const chain: PostedChain = { descriptors: [], ranges: [], writable: [] };
    const entries: RawDescriptor[] = [];
    for (const p of pieces) {
      const gpa = this.allocBuffer(p.len);
      if (gpa < 0) {
        this.freeRanges(chain.ranges);
        return -1;
      }
      chain.ranges.push([gpa, p.len]);
      if (p.data !== null) this.memory.write(gpa, p.data);
      else this.memory.fill(gpa, p.len, 0);
      if (p.writable) chain.writable.push([gpa, p.len]);
      entries.push({ addr: gpa, len: p.len, flags: p.writable ? VIRTQ_DESC_F_WRITE : 0, next: 0 });
    }
    let head: number;
    if (indirect) {
      for (let i = 0; i < entries.length; i++) {
        if (i + 1 < entries.length) {
          entries[i]!.flags |= VIRTQ_DESC_F_NEXT;
          entries[i]!.next = i + 1;
        }
      }
      const table = this.writeIndirectTable(entries);
      if (table < 0) {
        this.freeRanges(chain.ranges);
        return -1;
      }
      chain.ranges.push([table, entries.length * DESC_SIZE]);
      head = this.freeDescriptors.pop()!;
      chain.descriptors.push(head);
      this.writeDescriptor(head, { addr: table, len: entries.length * DESC_SIZE, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
    } else {
      const ids = entries.map(() => this.freeDescriptors.pop()!);
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (i + 1 < entries.length) {
          e.flags |= VIRTQ_DESC_F_NEXT;
          e.next = ids[i + 1]!;
        }
        this.writeDescriptor(ids[i]!, e);
      }
      chain.descriptors = ids;
      head = ids[0]!;
    }
    this.posted.set(head, chain);
    this.pushHead(head, publish);
    return head;
  }

  /** Writes avail->idx from the driver's shadow (after posts with `publish` false). */
  publish(): void {
    this.memory.writeU16(this.availAddr + 2, this.availIdx);
  }

  /**
   * Notifies the device if its suppression allows it: with EVENT_IDX when avail_event lies in
   * (last kick, avail->idx] (vring_need_event), else when used->flags lacks NO_NOTIFY. Returns
   * whether it kicked. `force` kicks regardless (a misbehaving or polling driver).
   */
  kick(force = false): boolean {
    const newIdx = this.memory.readU16(this.availAddr + 2);
    const oldIdx = this.kickedAvailIdx;
    this.kickedAvailIdx = newIdx;
    const need = force || (this.eventIdx ? vringNeedEvent(this.availEvent(), newIdx, oldIdx) : (this.usedFlags() & VIRTQ_USED_F_NO_NOTIFY) === 0);
    if (!need) return false;
    this.kicks++;
    this.onKick?.();
    return true;
  }

  /** Posts and publishes, then kicks (if allowed). Returns the head or -1. */
  postAndKick(spec: ChainSpec): number {
    const head = this.post(spec);
    if (head >= 0) this.kick();
    return head;
  }

  // ---- used ring and interrupts ------------------------------------------------------------

  /** The device calls this (through its interrupt wiring) to interrupt the driver. */
  interrupt(): void {
    this.interrupts++;
    this.onInterrupt?.();
  }

  /** Used elements published and not yet read. */
  pendingUsed(): number {
    return (this.usedRingIdx() - this.lastUsedIdx) & 0xffff;
  }

  /** Reads the next used element (and frees its descriptors and buffers), or null. */
  takeUsed(): UsedElement | null {
    if (this.pendingUsed() === 0) return null;
    const slot = this.usedAddr + 4 + USED_ELEM_SIZE * (this.lastUsedIdx & (this.size - 1));
    const id = this.memory.readU32(slot);
    const len = this.memory.readU32(slot + 4);
    this.lastUsedIdx = (this.lastUsedIdx + 1) & 0xffff;
    if (this.eventIdx && this.interruptsEnabled) this.setUsedEvent(this.lastUsedIdx);
    const chain = this.posted.get(id);
    if (chain === undefined) return { id, len, written: new Uint8Array(0), known: false };
    this.posted.delete(id);
    const capacity = chain.writable.reduce((s, [, l]) => s + l, 0);
    const written = new Uint8Array(Math.min(len, capacity));
    let at = 0;
    for (const [gpa, l] of chain.writable) {
      if (at >= written.length) break;
      const n = Math.min(l, written.length - at);
      this.memory.read(gpa, written.subarray(at, at + n));
      at += n;
    }
    for (const d of chain.descriptors) this.freeDescriptors.push(d);
    this.freeRanges(chain.ranges);
    return { id, len, written, known: true };
  }

  /** Reads every pending used element. */
  takeAllUsed(): UsedElement[] {
    const out: UsedElement[] = [];
    for (let e = this.takeUsed(); e !== null; e = this.takeUsed()) out.push(e);
    return out;
  }

  /** Asks for no interrupts: avail->flags NO_INTERRUPT; with EVENT_IDX also moves used_event far away. */
  disableInterrupts(): void {
    this.interruptsEnabled = false;
    this.setAvailFlags(VIRTQ_AVAIL_F_NO_INTERRUPT);
    if (this.eventIdx) this.setUsedEvent((this.lastUsedIdx + 0x8000) & 0xffff);
  }

  /** Asks for an interrupt on the next used element (used_event = last seen with EVENT_IDX). */
  enableInterrupts(): void {
    this.interruptsEnabled = true;
    this.setAvailFlags(0);
    if (this.eventIdx) this.setUsedEvent(this.lastUsedIdx);
  }

  // ---- raw access (hostile layouts) --------------------------------------------------------

  /**
   * Posts one malformed chain of the given kind (see {@link HOSTILE_CHAINS}) and publishes it.
   * It uses free descriptors and buffers of this driver; they are not reclaimed (the device is
   * expected to break the queue or drop the chain). Returns the head written to the avail ring.
   */
  postHostile(kind: HostileChain): number {
    const take = (): number => {
      const d = this.freeDescriptors.pop();
      if (d === undefined) throw new RangeError('no free descriptor for a hostile chain');
      return d;
    };
    const buffer = (len = 64): number => {
      const gpa = this.allocBuffer(len);
      if (gpa < 0) throw new RangeError('no memory for a hostile chain');
      return gpa;
    };
    const outside = this.outsideAddress();
    const last = this.memory.regions[this.memory.regions.length - 1]!;
    const lastEnd = last.guestPhysAddr + last.bytes.byteLength;
    const NEXT = VIRTQ_DESC_F_NEXT;
    const WRITE = VIRTQ_DESC_F_WRITE;
    const INDIRECT = VIRTQ_DESC_F_INDIRECT;
    const indirectTo = (entries: RawDescriptor[], len = entries.length * DESC_SIZE, flags = INDIRECT): number => {
      const table = this.writeIndirectTable(entries);
      if (table < 0) throw new RangeError('no memory for a hostile indirect table');
      const head = take();
      this.writeDescriptor(head, { addr: table, len, flags, next: 0 });
      return head;
    };
    let head: number;
    switch (kind) {
      case 'head-out-of-range':
        head = this.size;
        break;
      case 'next-out-of-range':
        head = take();
        this.writeDescriptor(head, { addr: buffer(), len: 64, flags: NEXT, next: this.size + 1 });
        break;
      case 'loop': {
        head = take();
        const second = take();
        const a = buffer();
        this.writeDescriptor(head, { addr: a, len: 64, flags: NEXT, next: second });
        this.writeDescriptor(second, { addr: a, len: 64, flags: NEXT, next: head });
        break;
      }
      case 'self-loop':
        head = take();
        this.writeDescriptor(head, { addr: buffer(), len: 64, flags: NEXT, next: head });
        break;
      case 'buffer-outside-memory':
        head = take();
        this.writeDescriptor(head, { addr: outside, len: 64, flags: 0, next: 0 });
        break;
      case 'buffer-crossing-region-end':
        head = take();
        this.writeDescriptor(head, { addr: lastEnd - 8, len: 64, flags: 0, next: 0 });
        break;
      case 'buffer-wrapping':
        head = take();
        this.writeDescriptor(head, { addr: 0, len: 64, flags: 0, next: 0 });
        this.memory.writeU64Big(this.descAddr + DESC_SIZE * head, 0xffffffffffffffc0n);
        break;
      case 'readable-after-writable': {
        head = take();
        const second = take();
        this.writeDescriptor(head, { addr: buffer(), len: 64, flags: WRITE | NEXT, next: second });
        this.writeDescriptor(second, { addr: buffer(), len: 64, flags: 0, next: 0 });
        break;
      }
      case 'indirect-nested': {
        const inner = this.writeIndirectTable([{ addr: buffer(), len: 64, flags: 0, next: 0 }]);
        head = indirectTo([{ addr: inner, len: DESC_SIZE, flags: INDIRECT, next: 0 }]);
        break;
      }
      case 'indirect-with-next': {
        const tail = take();
        this.writeDescriptor(tail, { addr: buffer(), len: 64, flags: 0, next: 0 });
        head = indirectTo([{ addr: buffer(), len: 64, flags: 0, next: 0 }], DESC_SIZE, INDIRECT | NEXT);
        this.writeDescriptor(head, { ...this.readDescriptor(head), next: tail });
        break;
      }
      case 'indirect-length-not-multiple-of-16':
        head = indirectTo([{ addr: buffer(), len: 64, flags: 0, next: 0 }, { addr: buffer(), len: 64, flags: 0, next: 0 }], 24);
        break;
      case 'indirect-zero-length':
        head = indirectTo([{ addr: buffer(), len: 64, flags: 0, next: 0 }], 0);
        break;
      case 'indirect-outside-memory':
        head = take();
        this.writeDescriptor(head, { addr: outside, len: 4 * DESC_SIZE, flags: INDIRECT, next: 0 });
        break;
      case 'indirect-loop': {
        const a = buffer();
        head = indirectTo([
          { addr: a, len: 64, flags: NEXT, next: 1 },
          { addr: a, len: 64, flags: NEXT, next: 0 },
        ]);
        break;
      }
      case 'indirect-next-out-of-table':
        head = indirectTo([{ addr: buffer(), len: 64, flags: NEXT, next: 5 }]);
        break;
    }
    this.pushHead(head);
    return head;
  }

  /** A guest-physical address in no region (just past the highest one). */
  outsideAddress(): number {
    const last = this.memory.regions[this.memory.regions.length - 1]!;
    return Math.ceil((last.guestPhysAddr + last.bytes.byteLength + 4096) / 4096) * 4096;
  }

  /** Moves avail->idx more than a queue ahead of what the device has seen (§2.7.6.1). */
  jumpAvailIdx(): void {
    this.setAvailIdx(this.availIdx + this.size + 1);
  }

  /** Writes descriptor `index` of the queue's table. */
  writeDescriptor(index: number, d: RawDescriptor): void {
    writeDesc(this.memory, this.descAddr + DESC_SIZE * index, d);
  }

  readDescriptor(index: number): RawDescriptor {
    const at = this.descAddr + DESC_SIZE * index;
    return {
      addr: this.memory.readU32(at) + this.memory.readU32(at + 4) * TWO_32,
      len: this.memory.readU32(at + 8),
      flags: this.memory.readU16(at + 12),
      next: this.memory.readU16(at + 14),
    };
  }

  /** Allocates an indirect table in guest memory and writes `entries`; returns its address or -1. */
  writeIndirectTable(entries: readonly RawDescriptor[]): number {
    const gpa = this.allocBuffer(Math.max(1, entries.length) * DESC_SIZE);
    if (gpa < 0) return -1;
    entries.forEach((e, i) => writeDesc(this.memory, gpa + DESC_SIZE * i, e));
    return gpa;
  }

  /** Writes a raw descriptor at any guest address (a hand-made indirect table). */
  writeDescriptorAt(gpa: number, d: RawDescriptor): void {
    writeDesc(this.memory, gpa, d);
  }

  /** Puts `head` in the next avail slot; publishes unless told not to. */
  pushHead(head: number, publish = true): void {
    this.memory.writeU16(this.availAddr + 4 + 2 * (this.availIdx & (this.size - 1)), head & 0xffff);
    this.availIdx = (this.availIdx + 1) & 0xffff;
    if (publish) this.publish();
  }

  /** Writes avail->idx directly (e.g. jump by more than the queue size). */
  setAvailIdx(idx: number): void {
    this.availIdx = idx & 0xffff;
    this.publish();
  }

  /** Writes avail ring slot `slot` directly. */
  writeAvailSlot(slot: number, head: number): void {
    this.memory.writeU16(this.availAddr + 4 + 2 * (slot & (this.size - 1)), head & 0xffff);
  }

  setAvailFlags(flags: number): void {
    this.memory.writeU16(this.availAddr, flags);
  }

  /** used_event: the driver's "interrupt me when used->idx passes this" (§2.7.10). */
  setUsedEvent(idx: number): void {
    this.memory.writeU16(this.availAddr + 4 + 2 * this.size, idx & 0xffff);
  }

  usedEvent(): number {
    return this.memory.readU16(this.availAddr + 4 + 2 * this.size);
  }

  /** used->flags as the device wrote it. */
  usedFlags(): number {
    return this.memory.readU16(this.usedAddr);
  }

  /** used->idx as the device published it. */
  usedRingIdx(): number {
    return this.memory.readU16(this.usedAddr + 2);
  }

  /** avail_event as the device wrote it (§2.7.10). */
  availEvent(): number {
    return this.memory.readU16(this.usedAddr + 4 + USED_ELEM_SIZE * this.size);
  }

  /** A guest buffer of `len` bytes from the free memory, or -1. Freed with {@link freeBuffer}. */
  allocBuffer(len: number, align = 16): number {
    for (const a of this.allocators) {
      const gpa = a.alloc(len, align);
      if (gpa >= 0) return gpa;
    }
    return -1;
  }

  freeBuffer(gpa: number, len: number): void {
    this.freeRanges([[gpa, len]]);
  }

  private freeRanges(ranges: ReadonlyArray<[number, number]>): void {
    for (const [gpa, len] of ranges) this.allocators.find((a) => a.owns(gpa))?.release(gpa, len);
  }
}

function writeDesc(memory: GuestMemory, at: number, d: RawDescriptor): void {
  memory.writeU32(at, d.addr % TWO_32);
  memory.writeU32(at + 4, Math.floor(d.addr / TWO_32) % TWO_32);
  memory.writeU32(at + 8, d.len >>> 0);
  memory.writeU16(at + 12, d.flags & 0xffff);
  memory.writeU16(at + 14, d.next & 0xffff);
}
