import type { NetBackend } from '@netbe/core';
import { withTimeout } from '@netbe/test-utils';
import { decode, type Decoded } from './guest';

/**
 * Drives a backend through the NetBackend contract as a device would: frames in with `send`,
 * frames out by draining `recv` on `rxReady`. `expect(pred)` waits for a matching frame.
 */
export class BackendGuest {
  private readonly received: Decoded[] = [];
  private waiters: Array<() => void> = [];
  private readonly buf = new Uint8Array(70000);

  constructor(readonly backend: NetBackend) {
    backend.attach({
      rxReady: () => {
        for (;;) {
          const n = backend.recv([this.buf], 1);
          if (n <= 0) break;
          this.received.push(decode(this.buf.slice(0, n)));
        }
        const w = this.waiters;
        this.waiters = [];
        for (const f of w) f();
      },
    });
    backend.rxEnable();
  }

  send(frame: Uint8Array): void {
    if (this.backend.send([frame], 1) !== frame.length) throw new Error('send refused the frame');
  }

  /** Waits (bounded) for a received frame matching `pred`, and removes it from the backlog. */
  async expect(pred: (d: Decoded) => boolean, what: string, ms = 5000): Promise<Decoded> {
    return withTimeout(ms, async () => {
      for (;;) {
        const i = this.received.findIndex(pred);
        if (i >= 0) return this.received.splice(i, 1)[0]!;
        await new Promise<void>((r) => this.waiters.push(r));
      }
    }, what);
  }

  /** Sends `frame` and waits for the answer matching `pred`. */
  async exchange(frame: Uint8Array, pred: (d: Decoded) => boolean, what: string): Promise<Decoded> {
    this.send(frame);
    return this.expect(pred, what);
  }
}
