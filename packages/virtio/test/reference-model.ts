/**
 * A small, obviously-correct reference model of the device side of a split virtqueue, written
 * straight from virtio 1.2 §2.7 with plain reads through GuestMemory's checked accessors. The
 * property and fuzz tests run it beside SplitQueue and compare every decision.
 */
import { GuestMemory, vringNeedEvent } from '@netbe/virtio';

export interface ModelSegment {
  addr: number;
  len: number;
  writable: boolean;
}

/** One chain of a run (see {@link ModelQueue.popRun}): a single writable buffer. */
export interface ModelRunChain {
  head: number;
  addr: number;
  len: number;
}

export type ModelPop = { kind: 'empty' } | { kind: 'chain'; head: number; segments: ModelSegment[] } | { kind: 'error'; code: string };

export interface ModelConfig {
  size: number;
  descAddr: number;
  availAddr: number;
  usedAddr: number;
  eventIdx: boolean;
  indirect: boolean;
  notifyOnEmpty: boolean;
  maxSegments: number;
  policy: 'break' | 'drop';
}

function readDesc(memory: GuestMemory, at: number): { addr: number; len: number; flags: number; next: number } | null {
  if (!memory.contains(at, 16)) return null;
  return {
    addr: memory.readU32(at) + memory.readU32(at + 4) * 4294967296,
    len: memory.readU32(at + 8),
    flags: memory.readU16(at + 12),
    next: memory.readU16(at + 14),
  };
}

/** Walks one chain; returns its segments or the error code, in the order the spec's rules apply. */
export function modelWalk(memory: GuestMemory, c: ModelConfig, head: number): ModelSegment[] | string {
  if (head >= c.size) return 'ERR_DESC_INDEX';
  const segments: ModelSegment[] = [];
  let tableAddr = c.descAddr;
  let tableLen = c.size;
  let inIndirect = false;
  let index = head;
  let hops = 0;
  let sawWritable = false;
  for (;;) {
    if (hops >= tableLen) return 'ERR_DESC_LOOP';
    const d = readDesc(memory, tableAddr + 16 * index)!;
    hops++;
    if (d.flags & 4) {
      if (inIndirect) return 'ERR_INDIRECT_NESTED';
      if (!c.indirect) return 'ERR_INDIRECT_NOT_NEGOTIATED';
      if (d.flags & 1) return 'ERR_INDIRECT_WITH_NEXT';
      if (d.len === 0 || d.len % 16 !== 0) return 'ERR_INDIRECT_LENGTH';
      if (!memory.contains(d.addr, d.len)) return 'ERR_INDIRECT_ADDRESS';
      tableAddr = d.addr;
      tableLen = d.len / 16;
      inIndirect = true;
      index = 0;
      hops = 0;
      continue;
    }
    const writable = (d.flags & 2) !== 0;
    if (!writable && sawWritable) return 'ERR_DESC_ORDER';
    if (writable) sawWritable = true;
    const hasNext = (d.flags & 1) !== 0;
    if (hasNext && d.next >= tableLen) return 'ERR_DESC_INDEX';
    if (segments.length === c.maxSegments) return 'ERR_CHAIN_TOO_LONG';
    if (!memory.contains(d.addr, d.len)) return 'ERR_DESC_ADDRESS';
    segments.push({ addr: d.addr, len: d.len, writable });
    if (!hasNext) return segments;
    index = d.next;
  }
}

export class ModelQueue {
  lastAvail = 0;
  usedIdx = 0;
  published = 0;
  signalled = 0;
  notificationsEnabled = true;
  broken: string | null = null;
  dropped = 0;
  /** What the device should have written (the model only reads guest memory). */
  availEvent: number | null = null;
  usedFlags: number | null = null;
  readonly usedRing: Array<[number, number] | null>;

  /**
   * With `writeMemory` the model also performs the device's writes on `memory` (give it its own
   * copy of guest memory); without, it only records what the device should have written.
   */
  constructor(
    readonly memory: GuestMemory,
    readonly c: ModelConfig,
    readonly writeMemory = false,
  ) {
    this.usedRing = new Array<[number, number] | null>(c.size).fill(null);
    this.writeNotificationState(); // as activation does
  }

  private setAvailEvent(v: number): void {
    this.availEvent = v;
    if (this.writeMemory) this.memory.writeU16(this.c.usedAddr + 4 + 8 * this.c.size, v);
  }

  private setUsedFlags(v: number): void {
    this.usedFlags = v;
    if (this.writeMemory) this.memory.writeU16(this.c.usedAddr, v);
  }

  private writeNotificationState(): void {
    if (this.c.eventIdx) {
      if (this.notificationsEnabled) this.setAvailEvent(this.lastAvail);
      this.setUsedFlags(0);
    } else {
      this.setUsedFlags(this.notificationsEnabled ? 0 : 1);
    }
  }

  disableNotifications(): void {
    this.notificationsEnabled = false;
    this.writeNotificationState();
  }

  /** Returns whether chains are available after re-enabling (breaking on a bad avail->idx). */
  enableNotifications(): boolean {
    this.notificationsEnabled = true;
    if (this.broken !== null) return false;
    this.writeNotificationState();
    const idx = this.availIdx();
    const n = (idx - this.lastAvail) & 0xffff;
    if (n > this.c.size) {
      this.broken = 'ERR_AVAIL_IDX';
      return false;
    }
    this.shadow = idx;
    return n !== 0;
  }

  private availIdx(): number {
    return this.memory.readU16(this.c.availAddr + 2);
  }

  /** avail->idx as the device last read it: re-read only when the chains it announced are used up. */
  shadow = 0;

  /**
   * Chains announced and not popped: from the shadow while some remain, else from a fresh read of
   * avail->idx; -1 (and the queue broken) when it is more than a queue ahead.
   */
  private announced(): number {
    let n = (this.shadow - this.lastAvail) & 0xffff;
    if (n === 0 || n > this.c.size) {
      const idx = this.availIdx();
      n = (idx - this.lastAvail) & 0xffff;
      if (n > this.c.size) {
        this.broken = 'ERR_AVAIL_IDX';
        return -1;
      }
      this.shadow = idx;
    }
    return n;
  }

  pop(): ModelPop {
    for (;;) {
      if (this.broken !== null) return { kind: 'empty' };
      const n = this.announced();
      if (n < 0) return { kind: 'error', code: 'ERR_AVAIL_IDX' };
      if (n === 0) return { kind: 'empty' };
      const head = this.memory.readU16(this.c.availAddr + 4 + 2 * (this.lastAvail % this.c.size));
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      if (this.c.eventIdx && this.notificationsEnabled) this.setAvailEvent(this.lastAvail);
      const r = modelWalk(this.memory, this.c, head);
      if (typeof r !== 'string') return { kind: 'chain', head, segments: r };
      if (this.c.policy === 'break') {
        this.broken = r;
        return { kind: 'error', code: r };
      }
      this.dropped++;
      if (head < this.c.size) this.addUsed(head, 0);
    }
  }

  /**
   * SplitQueue.popWritableRun: from the chains announced (avail->idx read as pop reads it), takes
   * those that are one direct device-writable descriptor of at least `minLen` bytes inside guest
   * memory, in ring order, up to `maxChains` or until they hold `wantBytes`; stops before any other.
   */
  popRun(maxChains: number, minLen: number, wantBytes: number): ModelRunChain[] {
    const run: ModelRunChain[] = [];
    if (this.broken !== null || maxChains <= 0) return run;
    const n = this.announced();
    let bytes = 0;
    while (run.length < Math.min(n, maxChains) && bytes < wantBytes) {
      const head = this.memory.readU16(this.c.availAddr + 4 + 2 * ((this.lastAvail + run.length) % this.c.size));
      if (head >= this.c.size) break;
      const d = readDesc(this.memory, this.c.descAddr + 16 * head)!;
      if ((d.flags & 7) !== 2 || d.len < minLen || !this.memory.contains(d.addr, d.len)) break;
      run.push({ head, addr: d.addr, len: d.len });
      bytes += d.len;
    }
    if (run.length === 0) return run;
    this.lastAvail = (this.lastAvail + run.length) & 0xffff;
    if (this.c.eventIdx && this.notificationsEnabled) this.setAvailEvent(this.lastAvail);
    return run;
  }

  addUsed(head: number, len: number): void {
    this.usedRing[this.usedIdx % this.c.size] = [head, len >>> 0];
    if (this.writeMemory) {
      const at = this.c.usedAddr + 4 + 8 * (this.usedIdx % this.c.size);
      this.memory.writeU32(at, head);
      this.memory.writeU32(at + 4, len >>> 0);
    }
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
  }

  publish(): void {
    if (this.writeMemory && this.published !== this.usedIdx) this.memory.writeU16(this.c.usedAddr + 2, this.usedIdx);
    this.published = this.usedIdx;
  }

  needsInterrupt(usedAllAvail: boolean): boolean {
    const old = this.signalled;
    const now = this.published;
    this.signalled = now;
    if (usedAllAvail && this.c.notifyOnEmpty) return true;
    if (this.c.eventIdx) return vringNeedEvent(this.memory.readU16(this.c.availAddr + 4 + 2 * this.c.size), now, old);
    return now !== old && (this.memory.readU16(this.c.availAddr) & 1) === 0;
  }

  /** Differences between what the device wrote and what the model expects (empty = agree). */
  compareDeviceWrites(): string[] {
    const diffs: string[] = [];
    const m = this.memory;
    const usedIdx = m.readU16(this.c.usedAddr + 2);
    if (usedIdx !== this.published) diffs.push(`used->idx ${usedIdx}, expected ${this.published}`);
    for (let i = 0; i < this.c.size; i++) {
      const e = this.usedRing[i];
      if (e === null || e === undefined) continue;
      const at = this.c.usedAddr + 4 + 8 * i;
      const id = m.readU32(at);
      const len = m.readU32(at + 4);
      if (id !== e[0] || len !== e[1]) diffs.push(`used ring slot ${i}: {${id}, ${len}}, expected {${e[0]}, ${e[1]}}`);
    }
    if (this.usedFlags !== null && m.readU16(this.c.usedAddr) !== this.usedFlags) diffs.push(`used->flags ${m.readU16(this.c.usedAddr)}, expected ${this.usedFlags}`);
    if (this.availEvent !== null) {
      const ae = m.readU16(this.c.usedAddr + 4 + 8 * this.c.size);
      if (ae !== this.availEvent) diffs.push(`avail_event ${ae}, expected ${this.availEvent}`);
    }
    return diffs;
  }

  retChains(n: number): void {
    this.lastAvail = (this.lastAvail - n) & 0xffff;
    if (this.c.eventIdx && this.notificationsEnabled && this.broken === null) this.setAvailEvent(this.shadow);
  }
}
