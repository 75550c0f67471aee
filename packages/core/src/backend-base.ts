import type { BackendListener, BackendStats, Iov, NetBackend } from './backend';
import { checkSetCap } from './check-set-cap';
import { iovLength, newBackendStats } from './iov-util';
import { RxSignal } from './rx-signal';

/**
 * The generic half of a backend: the public verbs check the closed state and the arguments
 * once, keep the counters, gate `rxReady` through an {@link RxSignal} and call small protected
 * hooks for the part that is the backend's own. After {@link close} every verb is a no-op
 * returning 0 and no hook is called again (close calls {@link release} once).
 *
 * A subclass implements `transmit`, `pendingLength`, `receive`, `discard`, `applyCap`, and
 * overrides `caps`, `startRx`/`stopRx`, `release`, `rxPending`/`rxMore` as it needs. When a
 * frame arrives outside a verb it calls `this.rx.notify()` (or `this.rx.readyNow()` from a
 * poll callback).
 */
export abstract class BackendBase implements NetBackend {
  readonly name: string;
  protected readonly counters: BackendStats = newBackendStats();
  protected readonly rx: RxSignal;
  private hdrLen = 0;
  private negotiated = 0n;
  private isClosed = false;

  constructor(name: string) {
    this.name = name;
    this.rx = new RxSignal(
      () => !this.isClosed && this.rxPending(),
      () => !this.isClosed && this.rxMore(),
    );
  }

  /**
   * Takes one frame of `length` bytes (header included) from `iov[0..iovcnt)`, `iovcnt` already
   * clamped to the array; false drops it (counted). Frames no longer than the header are
   * dropped before this is called.
   */
  protected abstract transmit(iov: Iov, iovcnt: number, length: number): boolean;
  /** Length of the next frame as {@link peekRecvLen} reports it (header included), 0 when none. */
  protected abstract pendingLength(): number;
  /** Scatters the next frame with a {@link vnetHdrLen} header: its length, 0 when none, -1 when it did not fit (frame dropped). */
  protected abstract receive(iov: Iov, iovcnt: number): number;
  /** Drops the next frame: its length as peekRecvLen would have said, 0 when none. */
  protected abstract discard(): number;
  /**
   * Applies a setCap whose arguments passed the generic checks; returns the header length the
   * backend will use (0 or `vnetHdrLen`). May throw NetbeError ERR_UNSUPPORTED.
   */
  protected abstract applyCap(features: bigint, vnetHdrLen: number): number;
  /** The offloads this backend can carry (getCap before close). */
  protected caps(): bigint {
    return 0n;
  }
  /** RX was enabled (e.g. start an fd watcher). */
  protected startRx(): void {}
  /** RX was disabled. */
  protected stopRx(): void {}
  /** Releases fds, timers and peers; called once, by the first close. */
  protected release(): void | Promise<void> {}
  /** Whether a scheduled rxReady should happen: a frame waits (default: pendingLength() > 0). */
  protected rxPending(): boolean {
    return this.pendingLength() > 0;
  }
  /** Whether to schedule another rxReady after one (default rxPending; override when that costs a system call). */
  protected rxMore(): boolean {
    return this.rxPending();
  }

  get stats(): Readonly<BackendStats> {
    return this.counters;
  }

  get vnetHdrLen(): number {
    return this.hdrLen;
  }

  /** The features the last setCap recorded. */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  attach(listener: BackendListener): void {
    this.rx.attach(listener);
  }

  send(iov: Iov, iovcnt: number): number {
    if (this.isClosed) return 0;
    const count = Math.min(iovcnt, iov.length);
    const length = iovLength(iov, count);
    if (length <= this.hdrLen || !this.transmit(iov, count, length)) {
      this.counters.txDrops++;
      return 0;
    }
    this.counters.txFrames++;
    this.counters.txBytes += length;
    return length;
  }

  peekRecvLen(): number {
    return this.isClosed ? 0 : this.pendingLength();
  }

  recv(iov: Iov, iovcnt: number): number {
    if (this.isClosed) return 0;
    const n = this.receive(iov, Math.min(iovcnt, iov.length));
    if (n < 0) {
      this.counters.rxDrops++;
      return -1;
    }
    if (n > 0) {
      this.counters.rxFrames++;
      this.counters.rxBytes += n;
    }
    return n;
  }

  rxDiscard(): number {
    if (this.isClosed) return 0;
    const len = this.discard();
    if (len > 0) this.counters.rxDrops++;
    return len;
  }

  rxEnable(): void {
    if (this.isClosed) return;
    this.startRx();
    this.rx.enable();
  }

  rxDisable(): void {
    this.rx.disable();
    if (!this.isClosed) this.stopRx();
  }

  getCap(): bigint {
    return this.isClosed ? 0n : this.caps();
  }

  setCap(features: bigint, vnetHdrLen: number): void {
    if (this.isClosed) return;
    checkSetCap(this.name, features, vnetHdrLen, this.caps());
    this.hdrLen = this.applyCap(features, vnetHdrLen);
    this.negotiated = features;
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    this.rx.close();
    await this.release();
  }
}
