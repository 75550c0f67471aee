import type { BackendListener } from '@netbe/core';
import { scheduleSoon } from './schedule';

/**
 * Level-triggered receive readiness with enable/disable gating, as the contract asks
 * (bhyve's mevent read events: level-triggered, registered disabled):
 *
 * - `rxReady` is only ever called from a scheduled turn, never synchronously from a verb;
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

  constructor(private readonly hasPending: () => boolean) {}

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

  /** A frame became available. */
  notify(): void {
    if (this.enabled) this.schedule();
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
    if (this.enabled && this.hasPending()) this.schedule();
  };
}
