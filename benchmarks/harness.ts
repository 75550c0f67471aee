/**
 * The benchmark harness. A suite is a module `benchmarks/<suite>.ts` whose default export is
 * `async (h: Harness) => void`; it measures each case and its reference in the same run and
 * calls `h.report`. Timings on shared 2-core machines are noisy, so every figure is the median of
 * several rounds, and what counts is the ratio to the reference.
 */
/** Rates (higher is better) and latency in microseconds (`us`, lower is better: the ratio reads inverted). */
export type Unit = 'Mpps' | 'Gbit/s' | 'conn/s' | 'us';

export interface Measurement {
  /** Operations (frames, chains…) per second, median over the rounds. */
  opsPerSec: number;
  /** Bytes per second, median over the rounds (0 when bytes were not counted). */
  bytesPerSec: number;
}

export interface Reference {
  name: string;
  value: number;
  unit: Unit;
}

export interface Result {
  bench: string;
  value: number;
  unit: Unit;
  ref: Reference;
  ratio: number;
}

export interface MeasureOptions {
  /** Bytes moved by one operation (to derive Gbit/s). */
  bytesPerOp?: number;
  /** Wall time per round in milliseconds (default 300, or NETBE_BENCH_MS). */
  roundMs?: number;
  /** Rounds; the median is reported (default 5, or NETBE_BENCH_ROUNDS). */
  rounds?: number;
}

const envNumber = (name: string, fallback: number): number => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

/** Round length and count: the options, else NETBE_BENCH_MS / NETBE_BENCH_ROUNDS, else 300 ms × 5. */
function roundSettings(options: MeasureOptions): { roundMs: number; rounds: number } {
  return { roundMs: options.roundMs ?? envNumber('NETBE_BENCH_MS', 300), rounds: options.rounds ?? envNumber('NETBE_BENCH_ROUNDS', 5) };
}

/** The median rate of the rounds, in operations and bytes per second. */
function toMeasurement(rates: number[], options: MeasureOptions): Measurement {
  const opsPerSec = median(rates);
  return { opsPerSec, bytesPerSec: opsPerSec * (options.bytesPerOp ?? 0) };
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export class Harness {
  readonly results: Result[] = [];

  constructor(
    readonly suite: string,
    private readonly json: boolean,
  ) {}

  /**
   * Runs `batch` (which performs `opsPerBatch` operations and returns nothing) repeatedly for a
   * round's wall time, several rounds, and returns the median rates. A warm-up round runs first
   * so the JIT has compiled the hot path.
   */
  measure(batch: () => void, opsPerBatch: number, options: MeasureOptions = {}): Measurement {
    const { roundMs, rounds } = roundSettings(options);
    const rates: number[] = [];
    for (let r = -1; r < rounds; r++) {
      let ops = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        batch();
        ops += opsPerBatch;
        elapsed = performance.now() - start;
      } while (elapsed < roundMs);
      if (r >= 0) rates.push((ops * 1000) / elapsed);
    }
    return toMeasurement(rates, options);
  }

  /**
   * The same as {@link measure} for asynchronous work (sockets, child processes, timers). Kept a
   * separate loop so the synchronous one never pays for an await.
   */
  async measureAsync(batch: () => Promise<void>, opsPerBatch: number, options: MeasureOptions = {}): Promise<Measurement> {
    const { roundMs, rounds } = roundSettings(options);
    const rates: number[] = [];
    for (let r = -1; r < rounds; r++) {
      let ops = 0;
      const start = performance.now();
      let elapsed = 0;
      do {
        await batch();
        ops += opsPerBatch;
        elapsed = performance.now() - start;
      } while (elapsed < roundMs);
      if (r >= 0) rates.push((ops * 1000) / elapsed);
    }
    return toMeasurement(rates, options);
  }

  /**
   * The usual reference: copying `bytes` bytes with `Uint8Array.set` (a memcpy) from one buffer to
   * another, measured now, in this run.
   */
  memcpy(bytes: number): Measurement {
    const src = new Uint8Array(bytes).fill(0x5a);
    const dst = new Uint8Array(bytes);
    const perBatch = Math.max(1, Math.floor((1 << 20) / Math.max(bytes, 1)));
    return this.measure(() => {
      for (let i = 0; i < perBatch; i++) dst.set(src);
    }, perBatch, { bytesPerOp: bytes });
  }

  /** Records one result; prints a JSON line (`--json`) or a table row. */
  report(caseName: string, value: number, unit: Unit, ref: Reference): Result {
    const result: Result = { bench: `${this.suite}/${caseName}`, value: round(value), unit, ref: { ...ref, value: round(ref.value) }, ratio: round(ref.value > 0 ? value / ref.value : 0) };
    this.results.push(result);
    if (this.json) console.log(JSON.stringify(result));
    else console.log(`${result.bench.padEnd(42)} ${fmt(result.value)} ${unit.padEnd(6)}  ref ${ref.name}: ${fmt(result.ref.value)} ${ref.unit.padEnd(6)}  ratio ${result.ratio.toFixed(3)}`);
    return result;
  }

  /** Reports both figures of a measurement: Mpps and Gbit/s, each against the same reference. */
  reportBoth(caseName: string, m: Measurement, refName: string, ref: Measurement): void {
    this.report(`${caseName}/pps`, m.opsPerSec / 1e6, 'Mpps', { name: refName, value: ref.opsPerSec / 1e6, unit: 'Mpps' });
    if (m.bytesPerSec > 0) this.report(`${caseName}/bps`, (m.bytesPerSec * 8) / 1e9, 'Gbit/s', { name: refName, value: (ref.bytesPerSec * 8) / 1e9, unit: 'Gbit/s' });
  }

  /** A note that is not a result (setup facts, skipped cases with their reason). */
  note(text: string): void {
    if (this.json) console.log(JSON.stringify({ bench: this.suite, note: text }));
    else console.log(`# ${text}`);
  }
}

const round = (v: number): number => Math.round(v * 1000) / 1000;
const fmt = (v: number): string => v.toFixed(3).padStart(10);
