/** Test frames with a recognisable content, and byte comparison. Not a test file. */

/** A frame of `len` bytes whose content encodes `seq` (big-endian at offset 14) and a pattern. */
export function makeFrame(len: number, seq: number): Uint8Array {
  const f = new Uint8Array(len);
  f.fill(0xff, 0, 6); // broadcast destination
  f.set([0x02, 0, 0, 0, 0, 1], 6);
  f[12] = 0x88;
  f[13] = 0xb5;
  for (let i = 14; i < len; i++) f[i] = (i * 7 + seq) & 0xff;
  if (len >= 18) new DataView(f.buffer).setUint32(14, seq >>> 0);
  return f;
}

export function frameSeq(frame: Uint8Array): number {
  return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(14);
}

export const equalBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((v, i) => v === b[i]);
