import type { Iov } from '@netbe/core';
import { NS_MOREFRAG } from '@netbe/netmap-bindings';
import type { NetmapCounters } from './counters';
import { ringSpace, type PortMemory, type RingView } from './port-memory';

/**
 * The user side of one TX ring: [head, tail) are free slots. A frame is gathered into
 * ceil(len / nr_buf_size) slots, NS_MOREFRAG on all but the last (netmap.h), then head and cur
 * move past it. Buffer indexes are read from the slots each time (the kernel may swap buffers,
 * e.g. pipes and out-of-turn completions) and checked before any byte is written.
 */
export class TxRing {
  constructor(
    private readonly m: PortMemory,
    readonly view: RingView,
    private readonly counters: NetmapCounters,
  ) {}

  /** Free slots, or -1 when head or tail is out of range. */
  space(): number {
    const v = this.view;
    const head = this.m.u32[v.headWord]!;
    const tail = this.m.u32[v.tailWord]!;
    if (head >= v.numSlots || tail >= v.numSlots) {
      this.counters.ringErrors++;
      return -1;
    }
    return ringSpace(head, tail, v.numSlots);
  }

  /** Slots a frame of `len` bytes needs. */
  slotsFor(len: number): number {
    return Math.ceil(len / this.view.bufSize);
  }

  /**
   * Writes one frame of `len` bytes gathered from iov[0..iovcnt) into the slots at head and
   * publishes it (head = cur = past it). The caller checked {@link space}. Returns false, with
   * nothing published, when a slot holds a buffer index outside the region.
   */
  put(iov: Iov, iovcnt: number, len: number): boolean {
    const v = this.view;
    const { u8, u16, u32 } = this.m;
    const n = v.numSlots;
    const bufSize = v.bufSize;
    const head = u32[v.headWord]!;
    const slots = Math.ceil(len / bufSize);
    if (head >= n) return false; // space() said otherwise a moment ago: counted there
    // Check every buffer index before writing a byte.
    let i = head;
    for (let s = 0; s < slots; s++) {
      const idx = u32[v.slotWord + 4 * i]!;
      if (idx < v.minBuf || idx >= v.maxBuf) {
        this.counters.txBadBuffer++;
        return false;
      }
      i = i + 1 === n ? 0 : i + 1;
    }
    let seg = 0;
    let segOff = 0;
    let left = len;
    i = head;
    for (let s = 0; s < slots; s++) {
      const w = v.slotWord + 4 * i;
      let dst = v.bufBase + u32[w]! * bufSize;
      const fill = left < bufSize ? left : bufSize;
      let need = fill;
      while (need > 0) {
        let src = iov[seg]!;
        while (segOff === src.length) {
          src = iov[++seg]!;
          segOff = 0;
        }
        const avail = src.length - segOff;
        if (segOff === 0 && avail <= need) {
          u8.set(src, dst); // the whole segment fits: no view needed
          dst += avail;
          need -= avail;
          segOff = avail;
        } else {
          const chunk = avail < need ? avail : need;
          u8.set(src.subarray(segOff, segOff + chunk), dst);
          dst += chunk;
          need -= chunk;
          segOff += chunk;
        }
      }
      left -= fill;
      u16[(w << 1) + 2] = fill;
      u16[(w << 1) + 3] = s + 1 < slots ? NS_MOREFRAG : 0;
      i = i + 1 === n ? 0 : i + 1;
    }
    u32[v.curWord] = i;
    u32[v.headWord] = i;
    return true;
  }
}

