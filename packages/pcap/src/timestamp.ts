/**
 * pcapng timestamps (§4.3): a 64-bit count of units since 1970, split in two 32-bit halves; the
 * unit is 10^-n or 2^-n seconds (if_tsresol, §4.2.1), default 10^-6. Converted to whole seconds
 * plus nanoseconds without losing precision, numbers on the common path and BigInt otherwise.
 */
export interface TimestampResolution {
  /** True for 2^-exponent, false for 10^-exponent (if_tsresol bit 7). */
  binary: boolean;
  exponent: number;
  /** 10^exponent when decimal and exponent <= 9 (the fast path), else 0. */
  unitsPerSecond: number;
}

export const MICROSECOND_RESOLUTION: TimestampResolution = { binary: false, exponent: 6, unitsPerSecond: 1e6 };
export const NANOSECOND_RESOLUTION: TimestampResolution = { binary: false, exponent: 9, unitsPerSecond: 1e9 };

/** Decodes the if_tsresol byte. */
export function resolutionFromByte(value: number): TimestampResolution {
  const binary = (value & 0x80) !== 0;
  const exponent = value & 0x7f;
  return { binary, exponent, unitsPerSecond: !binary && exponent <= 9 ? 10 ** exponent : 0 };
}

/** The if_tsresol byte for a resolution. */
export function resolutionToByte(r: TimestampResolution): number {
  return (r.binary ? 0x80 : 0) | r.exponent;
}

/** Where {@link unitsToTime} puts its result (reused; no allocation per packet). */
export interface TimeOut {
  seconds: number;
  nanos: number;
}

const TWO16 = 65536;
const TWO32 = 4294967296;

/** Converts units = high·2^32 + low at resolution `r` to seconds + nanoseconds (truncated). */
export function unitsToTime(high: number, low: number, r: TimestampResolution, out: TimeOut): void {
  const d = r.unitsPerSecond;
  if (d > 0) {
    // Long division in base 2^16 keeps every intermediate below 2^53 for d <= 1e9.
    const qh = Math.floor(high / d);
    const rh = high - qh * d;
    const t1 = rh * TWO16 + (low >>> 16);
    const q1 = Math.floor(t1 / d);
    const r1 = t1 - q1 * d;
    const t2 = r1 * TWO16 + (low & 0xffff);
    const q2 = Math.floor(t2 / d);
    const r2 = t2 - q2 * d;
    out.seconds = qh * TWO32 + q1 * TWO16 + q2;
    out.nanos = r2 * (1e9 / d);
    return;
  }
  const units = (BigInt(high) << 32n) | BigInt(low);
  const perSecond = r.binary ? 1n << BigInt(r.exponent) : 10n ** BigInt(r.exponent);
  out.seconds = Number(units / perSecond);
  out.nanos = Number(((units % perSecond) * 1_000_000_000n) / perSecond);
}

/**
 * The inverse for writing: seconds + nanoseconds to units at a decimal resolution of at most
 * 10^-9, as the two 32-bit halves.
 */
export function timeToUnits(seconds: number, nanos: number, unitsPerSecond: number, out: { high: number; low: number }): void {
  const frac = Math.floor(nanos / (1e9 / unitsPerSecond));
  // seconds * unitsPerSecond may exceed 2^53: multiply in 16-bit pieces.
  const sHigh = Math.floor(seconds / TWO16);
  const sLow = seconds - sHigh * TWO16;
  const a = sLow * unitsPerSecond + frac; // < 2^16 * 1e9 + 1e9 < 2^53
  const aHigh = Math.floor(a / TWO32);
  const aLow = a - aHigh * TWO32;
  const b = sHigh * unitsPerSecond; // units of 2^16; sHigh < 2^16 for dates before 2106
  const bHigh = Math.floor(b / TWO16);
  const bLow = b - bHigh * TWO16;
  let low = aLow + bLow * TWO16;
  let high = aHigh + bHigh;
  if (low >= TWO32) {
    high += Math.floor(low / TWO32);
    low = low % TWO32;
  }
  out.high = high >>> 0;
  out.low = low >>> 0;
}
