import {
  IF_HOST_RX_RINGS,
  IF_HOST_TX_RINGS,
  IF_NAME,
  IF_NAME_SIZE,
  IF_RING_OFS,
  IF_RX_RINGS,
  IF_TX_RINGS,
  RING_BUF_OFS,
  RING_BUF_SIZE,
  RING_CUR,
  RING_DIR,
  RING_DIR_RX,
  RING_DIR_TX,
  RING_HEAD,
  RING_ID,
  RING_NUM_SLOTS,
  RING_SLOTS,
  RING_TAIL,
  SLOT_SIZE,
} from '@netbe/netmap-bindings';
import { LITTLE_ENDIAN } from '../port-memory';

/** Buffers 0 and 1 are reserved in netmap's allocator; the double keeps that. */
const FIRST_BUFFER = 2;
const align = (n: number, a: number): number => Math.ceil(n / a) * a;

/**
 * The kernel's half of one ring, as netmap keeps it in struct netmap_kring: hwcur (the first slot
 * the user has not handed over yet) and hwtail (the first slot the kernel still owns).
 */
export class FakeKring {
  hwcur = 0;
  hwtail: number;

  constructor(
    readonly region: FakeRegion,
    readonly dir: 'tx' | 'rx',
    readonly index: number,
    readonly base: number,
    readonly numSlots: number,
  ) {
    // netmap_ring init: TX starts with every slot but one free for the user, RX empty.
    this.hwtail = dir === 'tx' ? numSlots - 1 : 0;
    this.head = 0;
    this.cur = 0;
    this.tail = this.hwtail;
  }

  get head(): number {
    return this.region.u32[(this.base + RING_HEAD) >>> 2]!;
  }
  set head(v: number) {
    this.region.u32[(this.base + RING_HEAD) >>> 2] = v;
  }
  get cur(): number {
    return this.region.u32[(this.base + RING_CUR) >>> 2]!;
  }
  set cur(v: number) {
    this.region.u32[(this.base + RING_CUR) >>> 2] = v;
  }
  get tail(): number {
    return this.region.u32[(this.base + RING_TAIL) >>> 2]!;
  }
  set tail(v: number) {
    this.region.u32[(this.base + RING_TAIL) >>> 2] = v;
  }

  private word(slot: number): number {
    return (this.base + RING_SLOTS + SLOT_SIZE * slot) >>> 2;
  }
  bufIdx(slot: number): number {
    return this.region.u32[this.word(slot)]!;
  }
  setBufIdx(slot: number, idx: number): void {
    this.region.u32[this.word(slot)] = idx;
  }
  len(slot: number): number {
    return this.region.u16[(this.word(slot) << 1) + 2]!;
  }
  setLen(slot: number, len: number): void {
    this.region.u16[(this.word(slot) << 1) + 2] = len;
  }
  flags(slot: number): number {
    return this.region.u16[(this.word(slot) << 1) + 3]!;
  }
  setFlags(slot: number, flags: number): void {
    this.region.u16[(this.word(slot) << 1) + 3] = flags;
  }
  /** The bytes of the buffer a slot points to, or undefined when the index is out of the pool. */
  buffer(slot: number): Uint8Array | undefined {
    return this.region.buffer(this.bufIdx(slot));
  }
}

/**
 * One memory allocator of the double, laid out as netmap lays its own: netmap_if objects, then
 * rings, then the buffer pool, all in one ArrayBuffer (what mmap would return).
 */
export class FakeRegion {
  readonly memory: ArrayBuffer;
  readonly u8: Uint8Array;
  readonly u16: Uint16Array;
  readonly u32: Uint32Array;
  readonly dv: DataView;
  private nextIf = 0;
  private nextRing: number;
  private readonly ringPool: number;
  private readonly bufPool: number;
  private readonly freeBuffers: number[] = [];
  readonly bufCount: number;

  constructor(
    readonly memId: number,
    size: { ifBytes: number; ringBytes: number; buffers: number },
    readonly bufSize: number,
  ) {
    this.ringPool = align(size.ifBytes, 64);
    this.nextRing = this.ringPool;
    this.bufPool = align(this.ringPool + size.ringBytes, 4096);
    this.bufCount = size.buffers + FIRST_BUFFER;
    this.memory = new ArrayBuffer(this.bufPool + this.bufCount * bufSize);
    this.u8 = new Uint8Array(this.memory);
    this.u16 = new Uint16Array(this.memory, 0, this.memory.byteLength >>> 1);
    this.u32 = new Uint32Array(this.memory, 0, this.memory.byteLength >>> 2);
    this.dv = new DataView(this.memory);
    for (let i = this.bufCount - 1; i >= FIRST_BUFFER; i--) this.freeBuffers.push(i);
  }

  /** Bytes a ring of `slots` slots takes. */
  static ringBytes(slots: number): number {
    return align(RING_SLOTS + SLOT_SIZE * slots, 64);
  }
  static ifBytes(rings: number): number {
    return align(IF_RING_OFS + 8 * rings, 64);
  }

  /** Bump allocation in the if pool or the ring pool (netmap's order: ifs, rings, buffers). */
  private alloc(bytes: number, pool: 'if' | 'ring'): number {
    if (pool === 'if') {
      const at = this.nextIf;
      this.nextIf = align(at + bytes, 64);
      if (this.nextIf > this.ringPool) throw new Error('fake netmap: no room for another netmap_if');
      return at;
    }
    const at = this.nextRing;
    this.nextRing = align(at + bytes, 64);
    if (this.nextRing > this.bufPool) throw new Error('fake netmap: region too small for its rings');
    return at;
  }

  takeBuffer(): number {
    const idx = this.freeBuffers.pop();
    if (idx === undefined) throw new Error('fake netmap: out of buffers');
    return idx;
  }

  giveBuffer(idx: number): void {
    this.freeBuffers.push(idx);
  }

  /** Swaps a buffer index for a spare one (as pipes and zero-copy forwarding do). */
  swapBuffer(idx: number): number {
    if (this.freeBuffers.length === 0) return idx;
    const spare = this.freeBuffers.shift()!;
    this.freeBuffers.push(idx);
    return spare;
  }

  buffer(idx: number): Uint8Array | undefined {
    if (idx < FIRST_BUFFER || idx >= this.bufCount) return undefined;
    const at = this.bufPool + idx * this.bufSize;
    return this.u8.subarray(at, at + this.bufSize);
  }

  private setI64(at: number, v: number): void {
    const lo = v >>> 0;
    const hi = Math.floor(v / 0x1_0000_0000);
    this.dv.setUint32(at + (LITTLE_ENDIAN ? 0 : 4), lo, LITTLE_ENDIAN);
    this.dv.setInt32(at + (LITTLE_ENDIAN ? 4 : 0), hi, LITTLE_ENDIAN);
  }

  /** Lays out one netmap_ring with a fresh buffer in every slot. */
  newRing(dir: 'tx' | 'rx', index: number, slots: number): FakeKring {
    const base = this.alloc(FakeRegion.ringBytes(slots), 'ring');
    this.setI64(base + RING_BUF_OFS, this.bufPool - base);
    this.dv.setUint32(base + RING_NUM_SLOTS, slots, LITTLE_ENDIAN);
    this.dv.setUint32(base + RING_BUF_SIZE, this.bufSize, LITTLE_ENDIAN);
    this.dv.setUint16(base + RING_ID, index, LITTLE_ENDIAN);
    this.dv.setUint16(base + RING_DIR, dir === 'tx' ? RING_DIR_TX : RING_DIR_RX, LITTLE_ENDIAN);
    const kring = new FakeKring(this, dir, index, base, slots);
    for (let s = 0; s < slots; s++) kring.setBufIdx(s, this.takeBuffer());
    return kring;
  }

  /** Lays out one netmap_if naming `name`, pointing at the rings (tx, host tx, rx, host rx). */
  newIf(name: string, tx: FakeKring[], hostTx: FakeKring[], rx: FakeKring[], hostRx: FakeKring[]): number {
    const rings = [...tx, ...hostTx, ...rx, ...hostRx];
    const nifp = this.alloc(FakeRegion.ifBytes(rings.length), 'if');
    const bytes = new TextEncoder().encode(name).subarray(0, IF_NAME_SIZE - 1);
    this.u8.set(bytes, nifp + IF_NAME);
    this.dv.setUint32(nifp + IF_TX_RINGS, tx.length, LITTLE_ENDIAN);
    this.dv.setUint32(nifp + IF_RX_RINGS, rx.length, LITTLE_ENDIAN);
    this.dv.setUint32(nifp + IF_HOST_TX_RINGS, hostTx.length, LITTLE_ENDIAN);
    this.dv.setUint32(nifp + IF_HOST_RX_RINGS, hostRx.length, LITTLE_ENDIAN);
    rings.forEach((r, i) => this.setI64(nifp + IF_RING_OFS + 8 * i, r.base - nifp));
    return nifp;
  }
}
