import { seqAdd, seqDiff } from './tcp-seq';

/**
 * Out-of-order receive queue (RFC 9293 §3.10.7.4 "segment text", RFC 5681 §4.2): segments from
 * the guest that arrive beyond RCV.NXT are kept (copied, non-overlapping, sorted) until the hole
 * before them is filled. Bounded by a block count per connection; the caller bounds the bytes by
 * storing only what lies inside the receive window, and a shared budget bounds all connections.
 * It also produces the SACK blocks (RFC 2018 §4) the receiver reports.
 */
export class TcpReorderQueue {
  private readonly starts: number[] = [];
  private readonly datas: Uint8Array[] = [];
  /** Bytes held. */
  bytes = 0;
  /** The block the most recent segment went to (its sequence; RFC 2018 §4: reported first). */
  private lastSeq = -1;

  constructor(private readonly maxBlocks: number) {}

  get blockCount(): number {
    return this.starts.length;
  }

  /**
   * Stores the parts of `data` (at `seq`, entirely after `rcvNxt`) not yet held. Returns the number
   * of new bytes stored, or -1 when the block limit refused it (nothing stored).
   */
  insert(seq: number, data: Uint8Array, rcvNxt: number): number {
    const a = seqDiff(seq, rcvNxt);
    const b = a + data.length;
    if (a <= 0 || data.length === 0) return 0;
    let cursor = a;
    let stored = 0;
    let i = 0;
    for (; i < this.starts.length && cursor < b; i++) {
      const bs = seqDiff(this.starts[i]!, rcvNxt);
      const be = bs + this.datas[i]!.length;
      if (be <= cursor) continue;
      if (bs >= b) break;
      if (bs > cursor) {
        if (this.starts.length >= this.maxBlocks) return stored > 0 ? stored : -1;
        this.place(i, seqAdd(rcvNxt, cursor), data.slice(cursor - a, bs - a));
        stored += bs - cursor;
        i++;
      }
      cursor = Math.max(cursor, be);
    }
    if (cursor < b) {
      if (this.starts.length >= this.maxBlocks) return stored > 0 ? stored : -1;
      this.place(i, seqAdd(rcvNxt, cursor), data.slice(cursor - a, b - a));
      stored += b - cursor;
    }
    this.lastSeq = seq;
    return stored;
  }

  /**
   * Removes and returns the next block that starts at or before `rcvNxt`, trimmed to start exactly
   * at `rcvNxt` (blocks wholly before it are discarded). Undefined when the hole remains.
   */
  takeInOrder(rcvNxt: number): Uint8Array | undefined {
    while (this.starts.length > 0) {
      const off = seqDiff(rcvNxt, this.starts[0]!);
      if (off < 0) return undefined;
      const d = this.datas[0]!;
      this.starts.shift();
      this.datas.shift();
      this.bytes -= d.length;
      if (off < d.length) return d.subarray(off);
    }
    return undefined;
  }

  /**
   * Fills `out` with up to `max` SACK blocks [left, right): adjacent blocks merged, the one holding
   * the most recent segment first (RFC 2018 §4), then the rest in sequence order. Returns the count.
   */
  sackBlocks(out: Array<[number, number]>, max: number): number {
    let n = 0;
    let first = -1;
    // Merged runs, in order; remember which one holds lastSeq.
    for (let i = 0; i < this.starts.length; ) {
      const left = this.starts[i]!;
      let right = seqAdd(left, this.datas[i]!.length);
      let j = i + 1;
      while (j < this.starts.length && this.starts[j] === right) right = seqAdd(right, this.datas[j++]!.length);
      const holdsLast = this.lastSeq >= 0 && seqDiff(this.lastSeq, left) >= 0 && seqDiff(this.lastSeq, right) < 0;
      if (holdsLast) first = n;
      if (n < out.length) {
        out[n]![0] = left;
        out[n]![1] = right;
      } else out.push([left, right]);
      n++;
      i = j;
    }
    if (first > 0) {
      const [l, r] = out[first]!;
      for (let k = first; k > 0; k--) {
        out[k]![0] = out[k - 1]![0];
        out[k]![1] = out[k - 1]![1];
      }
      out[0]![0] = l;
      out[0]![1] = r;
    }
    return Math.min(n, max);
  }

  clear(): void {
    this.starts.length = 0;
    this.datas.length = 0;
    this.bytes = 0;
    this.lastSeq = -1;
  }

  private place(i: number, seq: number, d: Uint8Array): void {
    this.starts.splice(i, 0, seq);
    this.datas.splice(i, 0, d);
    this.bytes += d.length;
  }
}
