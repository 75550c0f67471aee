import { BackendWrapper, type Iov, type NetBackend } from '@netbe/core';
import { DIRECTION_INBOUND, DIRECTION_OUTBOUND, type ByteSink } from '@netbe/pcap';
import { systemClock, type Clock } from './clock';
import { FrameRecorder } from './frame-recorder';

export interface CaptureOptions {
  sink: ByteSink;
  /** Default pcapng: the only format with a place for the direction. */
  format?: 'pcap' | 'pcapng';
  /** Default true. */
  nanosecond?: boolean;
  /** Default 1000 ms. */
  flushIntervalMs?: number;
  clock?: Clock;
}

/**
 * A tee: every frame the guest sends (that the backend accepts) and every frame the guest
 * receives is written to a capture file, with the direction of the guest's NIC in epb_flags
 * (sent: outbound, received: inbound). The virtio-net header, when the backend carries one, is
 * not written. Everything else is the wrapped backend's behaviour, unchanged.
 */
export class CaptureBackend extends BackendWrapper {
  private readonly recorder: FrameRecorder;
  private closed = false;

  constructor(inner: NetBackend, options: CaptureOptions) {
    super(inner);
    this.recorder = new FrameRecorder(options.sink, {
      format: options.format ?? 'pcapng',
      nanosecond: options.nanosecond ?? true,
      flushIntervalMs: options.flushIntervalMs,
      interfaces: [{ name: inner.name }],
      application: 'netbe capture',
      clock: options.clock ?? systemClock,
    });
  }

  /** Frames the capture could not keep (disk behind or failed); the traffic itself is unaffected. */
  get captureDrops(): number {
    return this.recorder.writer.dropped;
  }

  /** Frames written to the capture. */
  get capturedFrames(): number {
    return this.recorder.writer.records;
  }

  override send(iov: Iov, iovcnt: number): number {
    const n = this.inner.send(iov, iovcnt);
    if (n > 0 && !this.closed) this.recorder.record(iov, Math.min(iovcnt, iov.length), this.inner.vnetHdrLen, DIRECTION_OUTBOUND, n);
    return n;
  }

  override recv(iov: Iov, iovcnt: number): number {
    // Read the header length first: it describes the frame being received.
    const hdr = this.inner.vnetHdrLen;
    const n = this.inner.recv(iov, iovcnt);
    if (n > 0 && !this.closed) this.recorder.record(iov, Math.min(iovcnt, iov.length), hdr, DIRECTION_INBOUND, n);
    return n;
  }

  /** Hands what was captured so far to the sink. */
  flush(): Promise<void> {
    return this.recorder.flush();
  }

  /** Closes the wrapped backend, then flushes and closes the capture. Idempotent. */
  override async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.inner.close();
    } finally {
      await this.recorder.close();
    }
  }
}

/** Wraps `inner` so both directions are written to `options.sink`. */
export function captureBackend(inner: NetBackend, options: CaptureOptions): CaptureBackend {
  return new CaptureBackend(inner, options);
}
