import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/** How long the event loop keeps polling after the cable last moved a frame (µs), by default. */
export const DEFAULT_BUSY_POLL_US = 300;
/** While spinning, the CPUs' run queues are sampled this often (ms)… */
const CONTENTION_CHECK_MS = 1;
/** …and when this many of the last {@link CONTENTION_SAMPLES} samples found more runnable tasks than CPUs, spinning stops. */
const CONTENDED_SAMPLES = 2;
const CONTENTION_SAMPLES = 4;
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
   * Whether more tasks are runnable than there are CPUs right now, i.e. something waits for a CPU
   * (default: the running-task count of /proc/loadavg against the CPU count); undefined when
   * unknown (no contention check then).
   */
  contended?: () => boolean | undefined;
}

/** Counters of a {@link BusyPoll}. */
export interface BusyPollStats {
  /** Spins started (a kick while not spinning). */
  spins: number;
  /** Times contention stopped a spin (and paused spinning, {@link BACKOFF_MIN_MS} doubling up to {@link BACKOFF_MAX_MS}). */
  backoffs: number;
}

const CPUS = availableParallelism();

/**
 * True when more tasks are runnable than there are CPUs (the fourth field of /proc/loadavg,
 * "running/total", counts this thread too); undefined when unreadable.
 */
export function cpusContended(): boolean | undefined {
  try {
    const running = Number(/ (\d+)\//.exec(readFileSync('/proc/loadavg', 'latin1'))?.[1]);
    return Number.isFinite(running) ? running > CPUS : undefined;
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
 * - while spinning, the run queues are sampled every {@link CONTENTION_CHECK_MS}: when 2 of the
 *   last 4 samples found more runnable tasks than CPUs, other work is waiting for a CPU and
 *   spinning stops for a while (it would only slow that work down): 50 ms, doubling while
 *   contention persists, up to 3.2 s.
 */
export class BusyPoll {
  readonly stats: BusyPollStats = { spins: 0, backoffs: 0 };
  private readonly windowMs: number;
  private readonly now: () => number;
  private readonly later: (fn: () => void) => void;
  private readonly contended: () => boolean | undefined;
  private until = 0;
  private spinning = false;
  private stopped = false;
  private backoffUntil = 0;
  private backoffMs = BACKOFF_MIN_MS;
  /** A contention check passed during the current spin. */
  private verified = false;
  private checkAt = 0;
  /** The last samples, one bit each (1: contended), newest lowest. */
  private samples = 0;

  constructor(options: BusyPollOptions) {
    this.windowMs = Math.max(0, options.windowUs) / 1000;
    this.now = options.now ?? (() => performance.now());
    this.later = options.later ?? ((fn) => void setImmediate(fn));
    this.contended = options.contended ?? cpusContended;
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
    this.samples = 0;
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
      this.checkAt = t + CONTENTION_CHECK_MS;
      const c = this.contended();
      this.samples = ((this.samples << 1) | (c ? 1 : 0)) & ((1 << CONTENTION_SAMPLES) - 1);
      if (popcount(this.samples) >= CONTENDED_SAMPLES) {
        this.stats.backoffs++;
        this.backoffUntil = t + this.backoffMs;
        this.backoffMs = Math.min(this.backoffMs * 2, BACKOFF_MAX_MS);
        this.spinning = false;
        return;
      }
      if (c === false) this.verified = true;
    }
    this.later(this.tick);
  };
}

function popcount(bits: number): number {
  let n = 0;
  for (let b = bits; b !== 0; b &= b - 1) n++;
  return n;
}
