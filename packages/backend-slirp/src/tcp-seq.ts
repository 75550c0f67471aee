/** 32-bit sequence arithmetic (RFC 9293 §3.4): comparisons modulo 2^32. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
export const seqDiff = (a: number, b: number): number => (a - b) | 0;
export const seqAdd = (a: number, n: number): number => (a + n) >>> 0;

export function seqInWindow(seq: number, start: number, size: number): boolean {
  const d = seqDiff(seq, start);
  return d >= 0 && d < size;
}
