import { readFileSync } from 'node:fs';

/** How long the event loop keeps polling after the cable last moved a frame (µs), by default. */
export const DEFAULT_BUSY_POLL_US = 300;
/** While spinning, the run-queue wait is checked this often (ms). */
const CONTENTION_CHECK_MS = 1;
/** Waiting for a CPU more than this share of the time means other work wants the CPU. */
const CONTENDED_SHARE = 0.25;
/** After contention is seen, no spinning for this long (ms), doubled each time it is seen again… */
const BACKOFF_MIN_MS = 50;
/** …up to this; a window that ends without contention resets it. */
const BACKOFF_MAX_MS = 3200;

export interface BusyPollOptions {
  /** The window after each {@link BusyPoll.kick}, in µs; 0 turns busy polling off. */
  windowUs: number;
  /** Milliseconds on a monotonic clock (default performance.now). */
  now?: () => number;
  /** Runs `fn` on the next event-loop turn without sleeping in between (default setImmediate). */
  later?: (fn: () => void) => void;
  /**
   * This thread's cumulative time spent runnable but waiting for a CPU, in ms (default: from
   * /proc/thread-self/schedstat); undefined when unknown (no contention check then).
   */
  runDelayMs?: () => number | undefined;
}

/** Counters of a {@link BusyPoll}. */
export interface BusyPollStats {
  /** Spins started (a kick while not spinning). */
  spins: number;
  /** Times contention stopped a spin (and paused spinning, {@link BACKOFF_MIN_MS} doubling up to {@link BACKOFF_MAX_MS}). */
  backoffs: number;
}

/** run_delay (ns, field 2) of /proc/thread-self/schedstat, in ms; undefined when unreadable. */
export function schedRunDelayMs(): number | undefined {
  try {
    const field = readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[1];
    const ns = Number(field);
    return Number.isFinite(ns) ? ns / 1e6 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Busy polling after activity, the user-space counterpart of Linux's net.core.busy_poll: for
 * `windowUs` after the last frame, the event loop keeps polling its descriptors (a pending
 * immediate makes libuv poll with a zero timeout) instead of sleeping in epoll_wait. The next
 * frame of a request/response exchange is then seen within microseconds, and the peers that
 * send it do not pay for waking a sleeping thread on an idle CPU (an inter-processor interrupt,
 * costly in a VM). The price is CPU time during the window, so:
 *
 * - traffic that stops costs one window, once;
 * - while spinning, the thread's run-queue wait is checked every {@link CONTENTION_CHECK_MS};
 *   when it waited for a CPU more than {@link CONTENDED_SHARE} of the time, other work needs
 *   the CPU and spinning stops for a while (spinning would only slow that work down): 50 ms,
 *   doubling while contention persists, up to 3.2 s.
 */
export class BusyPoll {
  readonly stats: BusyPollStats = { spins: 0, backoffs: 0 };
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly later: (fn: () => void) => void;
  private readonly runDelayMs: () => number | undefined;
  private until = 0;
  private spinning = false;
  private stopped = false;
  private backoffUntil = 0;
  private backoffMs = BACKOFF_MIN_MS;
  /** A contention check passed during the current spin. */
  private verified = false;
  private checkAt = 0;
  private checkDelay: number | undefined;

  constructor(options: BusyPollOptions) {
    this.windowMs = Math.max(0, options.windowUs) / 1000;
    this.now = options.now ?? (() => performance.now());
    this.later = options.later ?? ((fn) => void setImmediate(fn));
    this.runDelayMs = options.runDelayMs ?? schedRunDelayMs;
  }

  /** True while the loop is kept polling. */
  get active(): boolean {
    return this.spinning;
  }

  /** Frames moved: keep polling for the window from now (unless off or backing off). */
  kick(): void {
    if (this.windowMs === 0 || this.stopped) return;
    const t = this.now();
    if (t < this.backoffUntil) return;
    this.until = t + this.windowMs;
    if (this.spinning) return;
    this.spinning = true;
    this.stats.spins++;
    this.checkAt = t + CONTENTION_CHECK_MS;
    this.checkDelay = this.runDelayMs();
    this.verified = false;
    this.later(this.tick);
  }

  /** No spinning after this (the scheduled turn finds it stopped). */
  stop(): void {
    this.stopped = true;
  }

  private readonly tick = (): void => {
    const t = this.now();
    if (this.stopped || t >= this.until) {
      this.spinning = false;
      if (this.verified) this.backoffMs = BACKOFF_MIN_MS; // it spun uncontended
      return;
    }
    if (t >= this.checkAt) {
      const d = this.runDelayMs();
      if (d !== undefined && this.checkDelay !== undefined && d - this.checkDelay > CONTENDED_SHARE * (t - this.checkAt + CONTENTION_CHECK_MS)) {
        this.stats.backoffs++;
        this.backoffUntil = t + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
        this.spinning = false;
        return;
      }
      this.checkAt = t + CONTENTION_CHECK_MS;
      this.checkDelay = d;
      this.verified = d !== undefined;
    }
    this.later(this.tick);
  };
}
