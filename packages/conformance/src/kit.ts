import * as assert from 'uvu/assert';
import type { NetBackend } from '@netbe/core';
import { describeDifference, FrameMaker } from './frames';
import { RxProbe } from './probe';
import type { ConformanceOptions, Harness } from './types';
import { sleep, turns, until, withTimeout } from './wait';

/** What one kit test gets: a fresh harness, its backend, and a probe attached on demand. */
export interface TestContext {
  harness: Harness;
  backend: NetBackend;
  /** Attaches the kit's listener (once) and returns it. */
  probe(): RxProbe;
}

export type Hook = 'deliverToBackend' | 'collectFromBackend';

/**
 * Shared machinery of the groups: harness lifecycle with timeouts, and the waits that let the
 * same tests run against backends whose frames arrive in the same turn (memory) or later
 * (a kernel interface, a helper process).
 */
export class Kit {
  readonly frames = new FrameMaker();
  readonly maxFrame: number;
  readonly timeoutMs: number;
  readonly quietMs: number;
  private seq = 0;

  constructor(readonly options: ConformanceOptions) {
    this.maxFrame = options.maxFrameLength ?? 1514;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.quietMs = options.quietMs ?? 30;
    if (this.maxFrame < 60) throw new RangeError('maxFrameLength must be at least 60');
  }

  /** A new kit frame of `length` bytes (a fresh sequence number each time). */
  frame(length = 60): Uint8Array {
    return this.frames.make(this.seq++, length);
  }

  /** Runs `fn` on a fresh harness, then closes backend and harness whatever happened. */
  async run(needs: readonly Hook[], fn: (t: TestContext) => Promise<void> | void): Promise<void> {
    const body = async (): Promise<void> => {
      const harness = await this.open(needs);
      let probe: RxProbe | undefined;
      const t: TestContext = {
        harness,
        backend: harness.backend,
        probe: () => (probe ??= new RxProbe(harness.backend)),
      };
      try {
        await fn(t);
        if (probe && probe.violations.length > 0) assert.unreachable(probe.violations.join('; '));
      } finally {
        await this.dispose(harness);
      }
    };
    await withTimeout(this.timeoutMs, body(), 'the test');
  }

  /** Runs a test that creates its own harnesses, under the same time limit. */
  async runRaw(fn: (kit: Kit) => Promise<void>): Promise<void> {
    await withTimeout(this.timeoutMs, fn(this), 'the test');
  }

  /** Creates a harness and checks it has the hooks the group needs. */
  async open(needs: readonly Hook[] = []): Promise<Harness> {
    const harness = await this.options.create();
    if (!harness || typeof harness.backend !== 'object' || harness.backend === null) {
      throw new Error('create() must return a harness { backend, deliverToBackend?, collectFromBackend?, close? }');
    }
    for (const hook of needs) {
      if (typeof harness[hook] !== 'function') {
        await this.dispose(harness);
        throw new Error(`the group applies but the harness has no ${hook}() (see supports)`);
      }
    }
    return harness;
  }

  async dispose(harness: Harness): Promise<void> {
    try {
      await harness.backend.close();
    } finally {
      await harness.close?.();
    }
  }

  /** Makes a frame arrive on the backend's receive side; returns the bytes it will receive. */
  async deliver(t: TestContext, frame: Uint8Array): Promise<Uint8Array> {
    const answer = await t.harness.deliverToBackend!(frame);
    return answer instanceof Uint8Array ? answer : frame;
  }

  /** Waits until the backend has a frame to receive (polling peekRecvLen). */
  async arrived(backend: NetBackend, what = 'a delivered frame to arrive (peekRecvLen > 0)'): Promise<number> {
    let len = 0;
    await until(() => (len = backend.peekRecvLen()) > 0, this.timeoutMs, what);
    return len;
  }

  /** Receives the next frame into a buffer of exactly peekRecvLen bytes (waiting for it). */
  async receiveOne(backend: NetBackend): Promise<Uint8Array> {
    const len = await this.arrived(backend);
    const buf = new Uint8Array(len);
    const n = backend.recv([buf], 1);
    assert.is(n, len, `recv returned ${n} but peekRecvLen said ${len}`);
    return buf;
  }

  /** Collects `count` of the kit's frames from the far side, in the order they came out. */
  async collect(t: TestContext, count: number): Promise<Uint8Array[]> {
    const got: Uint8Array[] = [];
    await until(
      async () => {
        for (const f of await t.harness.collectFromBackend!()) if (this.frames.isOurs(f)) got.push(f);
        return got.length >= count;
      },
      this.timeoutMs,
      `${count} sent frame(s) to come out on the far side (got ${got.length})`,
    );
    return got;
  }

  /** Lets a callback that must not come have its chance, then checks it did not. */
  async quiet(probe: RxProbe, callsBefore: number, what: string): Promise<void> {
    await this.settle();
    assert.is(probe.calls, callsBefore, what);
  }

  /** A few event-loop turns and {@link quietMs}: time for anything due to happen. */
  async settle(): Promise<void> {
    await turns();
    await sleep(this.quietMs);
    await turns();
  }

  /** Waits for the probe's call count to pass `calls`. */
  async called(probe: RxProbe, calls: number, what: string): Promise<void> {
    await until(() => probe.calls > calls, this.timeoutMs, what);
  }
}

export function assertBytes(actual: Uint8Array, expected: Uint8Array, what: string): void {
  const diff = describeDifference(actual, expected);
  if (diff !== undefined) assert.unreachable(`${what}: ${diff}`);
}

/** Asserts `fn` throws a NetbeError with `code`. */
export function assertThrowsCode(fn: () => unknown, code: string, what: string): void {
  let error: unknown;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  if (error === undefined) assert.unreachable(`${what}: expected a NetbeError ${code}, nothing was thrown`);
  const got = (error as { code?: unknown }).code;
  if (got !== code) assert.unreachable(`${what}: expected code ${code}, got ${String(got)} (${String((error as Error).message ?? error)})`);
}
