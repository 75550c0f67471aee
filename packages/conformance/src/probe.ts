import type { BackendListener, NetBackend } from '@netbe/core';

/**
 * The listener the kit attaches: counts rxReady calls, runs a per-test hook inside each, and
 * records contract violations (a call while RX is disabled, or from inside a verb the kit is
 * running) so the test can fail with a precise message.
 */
export class RxProbe implements BackendListener {
  calls = 0;
  readonly links: boolean[] = [];
  readonly violations: string[] = [];
  /** Runs inside each rxReady. */
  onReady: (() => void) | undefined;
  private enabled = false;
  private inVerb: string | undefined;

  constructor(private readonly backend: NetBackend) {
    backend.attach(this);
  }

  rxReady(): void {
    this.calls++;
    if (this.inVerb !== undefined) this.violations.push(`rxReady was called synchronously from inside ${this.inVerb}`);
    if (!this.enabled) this.violations.push('rxReady was called while RX was disabled');
    this.onReady?.();
  }

  linkChange(up: boolean): void {
    this.links.push(up);
  }

  /** rxEnable through the probe (tracks the gate and checks the call is not synchronous). */
  enable(): void {
    this.enabled = true;
    this.verb('rxEnable', () => this.backend.rxEnable());
  }

  disable(): void {
    this.backend.rxDisable();
    this.enabled = false;
  }

  /** Runs a verb, flagging any rxReady that happens inside it. */
  verb<T>(name: string, fn: () => T): T {
    const outer = this.inVerb;
    this.inVerb = name;
    try {
      return fn();
    } finally {
      this.inVerb = outer;
    }
  }
}
