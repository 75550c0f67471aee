import type { Iov } from '@netbe/core';
import { CaptureWriter, type ByteSink, type Direction, type WriterOptions } from '@netbe/pcap';
import { splitMillis, type Clock } from './clock';

export interface RecorderOptions extends WriterOptions {
  /** Flush at least this often (default 1000 ms): a crash loses at most one interval. */
  flushIntervalMs?: number;
  clock: Clock;
}

/**
 * A capture file being written while frames flow: timestamps from the clock, a flush timer, and
 * counted drops when the disk falls behind. Shared by the pcap backend's `out` and the capture
 * wrapper.
 */
export class FrameRecorder {
  readonly writer: CaptureWriter;
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private cancelTimer: (() => void) | undefined;
  private closed = false;
  private readonly meta = { seconds: 0, nanos: 0, interfaceId: 0, direction: 0 as Direction };

  constructor(sink: ByteSink, options: RecorderOptions) {
    this.writer = new CaptureWriter(sink, options);
    this.clock = options.clock;
    this.intervalMs = options.flushIntervalMs ?? 1000;
    this.arm();
  }

  /** The first sink error, if writing stopped. */
  get error(): unknown {
    return this.writer.error;
  }

  /** Records one frame: the first `length` bytes of the iov minus a `skip`-byte header. */
  record(iov: Iov, iovcnt: number, skip: number, direction: Direction, length = Infinity): boolean {
    splitMillis(this.clock.now(), this.meta);
    this.meta.direction = direction;
    return this.writer.writeIov(iov, iovcnt, skip, this.meta, length);
  }

  /** Hands everything recorded so far to the sink. */
  flush(): Promise<void> {
    return this.writer.flush();
  }

  /** Flushes, closes the sink and stops the timer. Idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    await this.writer.close();
  }

  private arm(): void {
    if (this.closed) return;
    this.cancelTimer = this.clock.setTimeout(() => {
      this.cancelTimer = undefined;
      // A sink error is kept by the writer (later records are counted drops); the timer stops.
      this.writer.flush().then(
        () => this.arm(),
        () => {},
      );
    }, this.intervalMs);
  }
}
