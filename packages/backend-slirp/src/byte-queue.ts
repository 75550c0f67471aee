/**
 * A FIFO of byte chunks addressed by offset from its head: the TCP send buffer (bytes from
 * SND.UNA on). Chunks are kept as given (no copy on push); `consume` drops acknowledged bytes.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset into chunks[0]
  private total = 0;

  /** Called with each chunk once every byte of it is consumed (or the queue cleared). */
  constructor(private readonly chunkDone?: (chunk: Uint8Array) => void) {}

  get length(): number {
    return this.total;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  /** Copies `len` bytes starting `offset` bytes after the head into `dst[dstOffset..]`. */
  copyOut(offset: number, len: number, dst: Uint8Array, dstOffset: number): void {
    let skip = this.head + offset;
    let i = 0;
    while (i < this.chunks.length && skip >= this.chunks[i]!.length) skip -= this.chunks[i++]!.length;
    let at = dstOffset;
    let left = len;
    for (; left > 0 && i < this.chunks.length; i++) {
      const c = this.chunks[i]!;
      const n = Math.min(left, c.length - skip);
      dst.set(c.subarray(skip, skip + n), at);
      at += n;
      left -= n;
      skip = 0;
    }
  }

  /** Drops `n` bytes from the head. */
  consume(n: number): void {
    let left = Math.min(n, this.total);
    this.total -= left;
    while (left > 0) {
      const c = this.chunks[0]!;
      const avail = c.length - this.head;
      if (left >= avail) {
        this.chunks.shift();
        this.chunkDone?.(c);
        this.head = 0;
        left -= avail;
      } else {
        this.head += left;
        left = 0;
      }
    }
  }

  clear(): void {
    if (this.chunkDone) for (const c of this.chunks) this.chunkDone(c);
    this.chunks = [];
    this.head = 0;
    this.total = 0;
  }
}
