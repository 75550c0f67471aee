import type { Iov } from '@netbe/core';
import { NETMAP_MAX_FRAGS, NS_MOREFRAG } from '@netbe/netmap-bindings';
import type { NetmapCounters } from './counters';
import { ringSpace, type PortMemory, type RingView } from './port-memory';

/**
 * The user side of one RX ring: [head, tail) holds received slots; a frame is a run of slots
 * with NS_MOREFRAG on all but the last (netmap.h). Everything the kernel side wrote (tail, buffer
 * indexes, lengths, flags) is checked where it is used; a malformed frame is released and counted,
 * never read out of bounds.
 */
export class RxRing {
  /** Slots of the frame {@link peek} found (valid until the ring moves). */
  private frameSlots = 0;
  /** Dropping the rest of a malformed frame whose end has not arrived yet. */
  private discarding = false;
  /** Slots released since the last rxsync (the kernel learns of them only then). */
  unsynced = 0;

  constructor(
    private readonly m: PortMemory,
    readonly view: RingView,
    private readonly counters: NetmapCounters,
  ) {}

  /** Moves head and cur past `slots` slots: they go back to the kernel at the next rxsync. */
  private release(head: number, slots: number): void {
    const n = this.view.numSlots;
    let h = head + slots;
    if (h >= n) h -= n;
    this.m.u32[this.view.headWord] = h;
    this.m.u32[this.view.curWord] = h;
    this.unsynced += slots;
  }

  /**
   * Length of the next complete frame (bytes, header included), or 0 when none is complete.
   * Malformed frames met on the way are released and counted; the walk is bounded by the ring.
   */
  peek(): number {
    const v = this.view;
    const { u16, u32 } = this.m;
    const n = v.numSlots;
    this.frameSlots = 0;
    for (let guard = 0; guard <= n; guard++) {
      const head = u32[v.headWord]!;
      const tail = u32[v.tailWord]!;
      if (head >= n || tail >= n) {
        this.counters.ringErrors++;
        return 0;
      }
      const avail = ringSpace(head, tail, n);
      if (avail === 0) return 0;
      let i = head;
      let count = 0;
      if (this.discarding) {
        while (count < avail) {
          const flags = u16[((v.slotWord + 4 * i) << 1) + 3]!;
          count++;
          i = i + 1 === n ? 0 : i + 1;
          if ((flags & NS_MOREFRAG) === 0) {
            this.discarding = false;
            break;
          }
        }
        this.release(head, count);
        if (this.discarding) return 0;
        continue;
      }
      let total = 0;
      let bad = false;
      for (;;) {
        if (count === avail) {
          // The frame's end has not arrived. If the ring is full it never can: drop what is here.
          if (avail < n - 1) return 0;
          this.discarding = true;
          bad = true;
          break;
        }
        const w = v.slotWord + 4 * i;
        const idx = u32[w]!;
        const len = u16[(w << 1) + 2]!;
        const flags = u16[(w << 1) + 3]!;
        count++;
        if (idx < v.minBuf || idx >= v.maxBuf || len > v.bufSize) {
          this.discarding = (flags & NS_MOREFRAG) !== 0;
          bad = true;
          break;
        }
        total += len;
        if ((flags & NS_MOREFRAG) === 0) {
          if (total === 0) bad = true;
          break;
        }
        if (count === NETMAP_MAX_FRAGS) {
          this.discarding = true;
          bad = true;
          break;
        }
        i = i + 1 === n ? 0 : i + 1;
      }
      if (bad) {
        this.counters.rxMalformed++;
        this.release(head, count);
        continue;
      }
      this.frameSlots = count;
      return total;
    }
    return 0;
  }

  /**
   * Copies the frame {@link peek} just found into `iov` and releases its slots. Returns the bytes
   * copied; -1 when the iov is too small (the frame is dropped), -2 when a slot changed under us
   * and is now out of range (dropped as malformed). Call only right after peek() > 0.
   */
  take(iov: Iov, iovcnt: number, frameLen: number): number {
    const v = this.view;
    const { u8, u16, u32 } = this.m;
    const n = v.numSlots;
    const head = u32[v.headWord]!;
    const slots = this.frameSlots;
    this.frameSlots = 0;
    if (head >= n || slots === 0) {
      this.counters.ringErrors++;
      return -2;
    }
    let room = 0;
    for (let k = 0; k < iovcnt; k++) room += iov[k]!.length;
    if (room < frameLen) {
      this.counters.rxTooBig++;
      this.release(head, slots);
      return -1;
    }
    let seg = 0;
    let segOff = 0;
    let copied = 0;
    let i = head;
    for (let s = 0; s < slots; s++) {
      const w = v.slotWord + 4 * i;
      const idx = u32[w]!;
      let len = u16[(w << 1) + 2]!;
      // Checked again at use: the other side may have rewritten the slot since peek().
      if (idx < v.minBuf || idx >= v.maxBuf || len > v.bufSize || copied + len > frameLen) {
        this.counters.rxMalformed++;
        this.release(head, slots);
        return -2;
      }
      let src = v.bufBase + idx * v.bufSize;
      while (len > 0) {
        let dst = iov[seg]!;
        while (segOff === dst.length) {
          dst = iov[++seg]!;
          segOff = 0;
        }
        const chunk = Math.min(len, dst.length - segOff);
        dst.set(u8.subarray(src, src + chunk), segOff);
        segOff += chunk;
        src += chunk;
        len -= chunk;
        copied += chunk;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    this.release(head, slots);
    return copied;
  }

  /** Drops the frame {@link peek} just found. */
  drop(): void {
    const head = this.m.u32[this.view.headWord]!;
    if (head < this.view.numSlots) this.release(head, this.frameSlots);
    this.frameSlots = 0;
  }
}
