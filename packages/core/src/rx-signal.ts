import type { BackendListener } from './backend';
import { scheduleSoon } from './schedule';

/**
 * Level-triggered receive readiness with enable/disable gating, as the contract asks
 * (bhyve's mevent read events: level-triggered, registered disabled):
 *
 * - `rxReady` is only ever called from a scheduled turn or from {@link readyNow} (an I/O
 *   callback's own turn), never synchronously from a verb;
 * - after {@link disable} returns, no call happens until {@link enable} (a call already
 *   scheduled re-checks the gate when it runs);
 * - {@link enable} with frames waiting schedules a call; so does {@link notify} (a frame arrived)
 *   while enabled;
 * - after a call, if RX is still enabled and frames remain, another call is scheduled.
 *
 * At most one call is scheduled at any time.
 */
export class RxSignal {
  private listener: BackendListener | undefined;
  private enabled = false;
  private closed = false;
  private cancel: (() => void) | undefined;

  /**
   * @param hasPending whether a frame is waiting; asked before a scheduled call.
   * @param hasMore asked after a call to decide on the next one (default `hasPending`); a
   *   backend whose full check costs a system call passes a cheaper one here.
   */
  constructor(
    private readonly hasPending: () => boolean,
    private readonly hasMore: () => boolean = hasPending,
  ) {}

  get isEnabled(): boolean {
    return this.enabled;
  }

  get listenerAttached(): BackendListener | undefined {
    return this.listener;
  }

  attach(listener: BackendListener): void {
    if (this.closed) return;
    this.listener = listener;
    if (this.enabled && this.hasPending()) this.schedule();
  }

  enable(): void {
    if (this.closed) return;
    this.enabled = true;
    if (this.hasPending()) this.schedule();
  }

  disable(): void {
    this.enabled = false;
  }

  /** A frame became available: call on a later turn if enabled. */
  notify(): void {
    if (this.enabled) this.schedule();
  }

  /**
   * The event source (a poll callback, on its own turn) says a frame is waiting: call
   * `rxReady` now if enabled, then stay level-triggered. Never call this from inside a verb.
   */
  readyNow(): void {
    if (!this.enabled || this.listener === undefined) return;
    this.listener.rxReady();
    if (this.enabled && this.hasMore()) this.schedule();
  }

  /** Tells the listener the link went up or down, on a later turn. */
  link(up: boolean): void {
    if (this.closed) return;
    scheduleSoon(() => {
      if (!this.closed) this.listener?.linkChange?.(up);
    });
  }

  /** No call after this, ever. */
  close(): void {
    this.closed = true;
    this.enabled = false;
    this.listener = undefined;
    this.cancel?.();
    this.cancel = undefined;
  }

  private schedule(): void {
    if (this.cancel !== undefined || this.closed) return;
    this.cancel = scheduleSoon(this.fire);
  }

  private readonly fire = (): void => {
    this.cancel = undefined;
    if (!this.enabled || this.listener === undefined || !this.hasPending()) return;
    this.listener.rxReady();
    if (this.enabled && this.hasMore()) this.schedule();
  };
}
