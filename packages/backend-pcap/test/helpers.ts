import { CaptureWriter, MemorySink, type ByteSource, type CaptureFormat, type PacketMeta } from '@netbe/pcap';
import type { Clock } from '@netbe/backend-pcap';

/** A clock that moves only when told to; timers fire in due order. */
export class ManualClock implements Clock {
  private timers: Array<{ at: number; fn: () => void; id: number }> = [];
  private nextId = 0;

  constructor(public t = 1_700_000_000_000) {}

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  }

  get pending(): number {
    return this.timers.length;
  }

  /** Moves time forward by `ms`, firing timers as their time comes. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at || a.id - b.id);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

/** An Ethernet frame whose bytes say which one it is. */
export function ethFrame(index: number, length = 60): Uint8Array {
  const f = new Uint8Array(length);
  f.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x88, 0xb5]);
  f[14] = index & 0xff;
  f[15] = (index >> 8) & 0xff;
  for (let i = 16; i < length; i++) f[i] = (index + i) & 0xff;
  return f;
}

/** A capture file in memory. */
export function captureFile(format: CaptureFormat, frames: Array<{ data: Uint8Array; meta: PacketMeta }>, linkType = 1): Uint8Array {
  const sink = new MemorySink();
  const w = new CaptureWriter(sink, { format, interfaces: [{ linkType }], nanosecond: true });
  for (const f of frames) w.write(f.data, f.meta);
  void w.flush();
  return sink.bytes();
}

/**
 * A source fed while it is read (a growing file): `read` waits for bytes; `end()` is end of
 * file; `close()` ends a waiting read with 0.
 */
export class LiveSource implements ByteSource {
  private chunks: Uint8Array[] = [];
  private waiting: (() => void) | undefined;
  private ended = false;

  push(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.wake();
  }

  end(): void {
    this.ended = true;
    this.wake();
  }

  close(): void {
    this.end();
  }

  async read(into: Uint8Array): Promise<number> {
    while (this.chunks.length === 0 && !this.ended) await new Promise<void>((resolve) => (this.waiting = resolve));
    const head = this.chunks[0];
    if (!head) return 0;
    const n = Math.min(head.length, into.length);
    into.set(head.subarray(0, n));
    if (n === head.length) this.chunks.shift();
    else this.chunks[0] = head.subarray(n);
    return n;
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }
}
