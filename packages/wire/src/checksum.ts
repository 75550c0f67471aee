import { get16 } from './bytes';

/**
 * The Internet checksum (RFC 1071): the one's-complement sum of 16-bit words. `sum` returns the
 * 32-bit accumulator (not folded) so pieces — a pseudo-header, a header, a payload — can be
 * added before {@link foldChecksum} finishes it.
 */
export function checksumAdd(bytes: Uint8Array, start: number, end: number, acc = 0): number {
  let sum = acc;
  let i = start;
  // Sum 16-bit words; fold every 2^15 words so the accumulator never loses bits.
  while (i + 1 < end) {
    const stop = Math.min(end - 1, i + 65536);
    for (; i < stop; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  if (i < end) sum += bytes[i]! << 8; // odd trailing byte, padded with zero
  return sum;
}

/** Folds the accumulator to 16 bits and complements it: the value to store in a header. */
export function foldChecksum(acc: number): number {
  let s = acc;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** The checksum of `bytes[start, end)` alone. */
export function internetChecksum(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return foldChecksum(checksumAdd(bytes, start, end));
}

/** The IPv4 pseudo-header sum for TCP/UDP (RFC 793 §3.1, RFC 768): src, dst, zero+proto, length. */
export function pseudoHeaderSum(src: number, dst: number, protocol: number, length: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol + length;
}

/**
 * RFC 1624 eqn. 3 incremental update: the new checksum after one 16-bit word of the covered
 * data changed from `oldWord` to `newWord`: HC' = ~(~HC + ~m + m').
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  let s = (~checksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff);
  s = (s & 0xffff) + (s >>> 16);
  s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** {@link checksumUpdate16} for a 32-bit field (an IPv4 address in the covered data). */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  return checksumUpdate16(checksumUpdate16(checksum, oldValue >>> 16, newValue >>> 16), oldValue & 0xffff, newValue & 0xffff);
}

/** True when the bytes (with their checksum field in place) sum to 0xffff (RFC 1071 §1). */
export function verifyChecksum(bytes: Uint8Array, start: number, end: number, acc = 0): boolean {
  return foldChecksum(checksumAdd(bytes, start, end, acc)) === 0;
}

/** Reads the checksum field at `offset` (for logs). */
export const checksumAt = (bytes: Uint8Array, offset: number): number => get16(bytes, offset);
