import { seqDiff, seqLe, seqLt } from './tcp-seq';

/**
 * The sender's SACK scoreboard (RFC 6675 §3, RFC 2018): which ranges above SND.UNA the guest has
 * reported holding. Ranges are sorted, merged and bounded; blocks outside (SND.UNA, SND.NXT] are
 * ignored (RFC 2018 §5: a lying receiver must not make us skip data it does not hold for long —
 * after two timeouts in a row the connection clears the board, RFC 2018 §8 reneging).
 */
export class TcpSackScoreboard {
  private readonly lefts: number[] = [];
  private readonly rights: number[] = [];
  /** Bytes covered. */
  sacked = 0;

  constructor(private readonly maxRanges = 32) {}

  get empty(): boolean {
    return this.lefts.length === 0;
  }

  /** The highest sequence the guest reported (right edge of the last range); `fallback` if none. */
  highest(fallback: number): number {
    return this.lefts.length === 0 ? fallback : this.rights[this.rights.length - 1]!;
  }

  /** Adds one reported block; returns true when it covered something new. */
  add(left: number, right: number, sndUna: number, sndNxt: number): boolean {
    if (!seqLt(left, right) || !seqLt(sndUna, right) || seqLt(sndNxt, right)) return false;
    if (seqLt(left, sndUna)) left = sndUna;
    let i = 0;
    while (i < this.lefts.length && seqLt(this.rights[i]!, left)) i++;
    // Merge with every range that overlaps or touches [left, right).
    let j = i;
    let l = left;
    let r = right;
    let covered = 0;
    while (j < this.lefts.length && seqLe(this.lefts[j]!, r)) {
      if (seqLt(this.lefts[j]!, l)) l = this.lefts[j]!;
      if (seqLt(r, this.rights[j]!)) r = this.rights[j]!;
      covered += seqDiff(this.rights[j]!, this.lefts[j]!);
      j++;
    }
    const grown = seqDiff(r, l) - covered;
    if (grown <= 0) return false;
    if (j === i && this.lefts.length >= this.maxRanges) return false; // bounded: ignore new islands
    this.lefts.splice(i, j - i, l);
    this.rights.splice(i, j - i, r);
    this.sacked += grown;
    return true;
  }

  /** SND.UNA advanced: forget what lies below it. */
  ackTo(sndUna: number): void {
    while (this.lefts.length > 0 && seqLt(this.lefts[0]!, sndUna)) {
      if (seqLe(this.rights[0]!, sndUna)) {
        this.sacked -= seqDiff(this.rights[0]!, this.lefts[0]!);
        this.lefts.shift();
        this.rights.shift();
      } else {
        this.sacked -= seqDiff(sndUna, this.lefts[0]!);
        this.lefts[0] = sndUna;
      }
    }
  }

  /** If `seq` lies inside a reported range, the end of that range; otherwise `seq`. */
  skipSacked(seq: number): number {
    for (let i = 0; i < this.lefts.length; i++) {
      if (seqLt(seq, this.lefts[i]!)) return seq;
      if (seqLt(seq, this.rights[i]!)) return this.rights[i]!;
    }
    return seq;
  }

  /** Length of the un-reported run starting at `seq` (up to the next range), or 0 when `seq` is at/after the highest range. */
  holeLength(seq: number): number {
    for (let i = 0; i < this.lefts.length; i++) {
      if (seqLt(seq, this.lefts[i]!)) return seqDiff(this.lefts[i]!, seq);
    }
    return 0;
  }

  /** Reported bytes at or above `seq`. */
  sackedFrom(seq: number): number {
    let n = 0;
    for (let i = this.lefts.length - 1; i >= 0; i--) {
      if (seqLe(this.rights[i]!, seq)) break;
      n += seqDiff(this.rights[i]!, seqLt(this.lefts[i]!, seq) ? seq : this.lefts[i]!);
    }
    return n;
  }

  clear(): void {
    this.lefts.length = 0;
    this.rights.length = 0;
    this.sacked = 0;
  }
}
