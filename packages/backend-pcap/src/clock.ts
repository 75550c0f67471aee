/**
 * Time for timestamps, pacing and flush timers, injected so tests run without waiting. `now` is
 * milliseconds since 1970 with a fraction (sub-millisecond where the runtime has it).
 */
export interface Clock {
  now(): number;
  /** Calls `fn` once after `ms` milliseconds; returns a function that cancels it. */
  setTimeout(fn: () => void, ms: number): () => void;
}

const host = globalThis as { performance?: { timeOrigin: number; now(): number } };

export const systemClock: Clock = {
  now: host.performance ? () => host.performance!.timeOrigin + host.performance!.now() : () => Date.now(),
  setTimeout(fn, ms) {
    const handle = setTimeout(fn, Math.max(0, ms)) as unknown as { unref?: () => void };
    // A timer alone does not keep the process alive: whoever uses the backend does.
    handle.unref?.();
    return () => clearTimeout(handle as unknown as ReturnType<typeof setTimeout>);
  },
};

/** Splits clock milliseconds into the seconds + nanoseconds a capture record holds. */
export function splitMillis(ms: number, out: { seconds: number; nanos: number }): void {
  const seconds = Math.floor(ms / 1000);
  let nanos = Math.round((ms - seconds * 1000) * 1e6);
  let s = seconds;
  if (nanos >= 1e9) {
    nanos -= 1e9;
    s++;
  }
  out.seconds = s;
  out.nanos = nanos;
}
