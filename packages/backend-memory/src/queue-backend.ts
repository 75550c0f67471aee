import type { Iov } from '@netbe/core';
import { FrameRing } from './frame-ring';
import { MemoryBackend } from './memory-backend';
import type { ResolvedOptions } from './options';

/**
 * A backend with a bounded receive queue whose sends go to a target's queue: itself for a
 * loopback, the other end for a pair. Sending into a full queue, or with no target (a pair end
 * whose peer is not there), is a counted txDrop.
 */
export class QueueBackend extends MemoryBackend {
  readonly mode: 'loopback' | 'pair';
  private readonly queue: FrameRing;
  private target: QueueBackend | undefined;
  /** Called once on close (the pair directory forgets the end). */
  private onClosed: ((end: QueueBackend) => void) | undefined;

  constructor(mode: 'loopback' | 'pair', options: ResolvedOptions) {
    super(options);
    this.mode = mode;
    this.queue = new FrameRing(options.queue, options.maxFrame);
    if (mode === 'loopback') this.target = this;
  }

  /** The other end of a pair while it is connected (itself for a loopback). */
  get peer(): QueueBackend | undefined {
    return this.target;
  }

  /** Frames waiting in the receive queue. */
  get queued(): number {
    return this.queue.size;
  }

  /** Connects two pair ends (each sends into the other's queue) and raises both links. */
  static connect(a: QueueBackend, b: QueueBackend): void {
    a.target = b;
    b.target = a;
    a.rx.link(true);
    b.rx.link(true);
  }

  /** @internal Used by the pair directory. */
  whenClosed(fn: (end: QueueBackend) => void): void {
    this.onClosed = fn;
  }

  protected pendingFrameLength(): number {
    return this.queue.peekFrameLength();
  }

  protected transmit(iov: Iov, iovcnt: number): boolean {
    const target = this.target;
    if (target === undefined || target.closed) return false;
    if (!target.queue.push(iov, iovcnt, this.vnetHdrLen)) return false;
    target.rx.notify();
    return true;
  }

  protected receive(iov: Iov, iovcnt: number): number {
    return this.queue.shift(iov, iovcnt, this.vnetHdrLen);
  }

  protected dropFrame(): number {
    return this.queue.drop();
  }

  protected override release(): void {
    this.queue.clear();
    const peer = this.target;
    this.target = undefined;
    if (peer !== undefined && peer !== this) {
      peer.target = undefined;
      peer.rx.link(false);
    }
    const fn = this.onClosed;
    this.onClosed = undefined;
    fn?.(this);
  }
}
