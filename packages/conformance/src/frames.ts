/** EtherType of the kit's frames (IEEE 802 Local Experimental Ethertype 1). */
export const KIT_ETHERTYPE = 0x88b5;
/** Destination and source MACs of the kit's frames: locally administered, unicast. */
export const KIT_DST_MAC = Uint8Array.of(0x02, 0x6e, 0x62, 0x6b, 0x00, 0x02);
export const KIT_SRC_MAC = Uint8Array.of(0x02, 0x6e, 0x62, 0x6b, 0x00, 0x01);
const MAGIC = [0x4e, 0x42, 0x4b, 0x54]; // "NBKT"
/** Ethernet header, magic, nonce, sequence. */
export const KIT_FRAME_MIN = 26;

/**
 * Builds the kit's test frames: Ethernet to {@link KIT_DST_MAC}, EtherType 0x88b5, then "NBKT",
 * a per-run nonce, a sequence number, and a fill that depends on the sequence, so a frame that
 * was truncated, reordered or mixed with another is noticed.
 */
export class FrameMaker {
  readonly nonce: number;

  constructor(nonce = (Math.random() * 0x100000000) >>> 0) {
    this.nonce = nonce >>> 0;
  }

  make(seq: number, length: number): Uint8Array {
    if (length < KIT_FRAME_MIN) throw new RangeError(`a kit frame needs at least ${KIT_FRAME_MIN} bytes`);
    const f = new Uint8Array(length);
    f.set(KIT_DST_MAC, 0);
    f.set(KIT_SRC_MAC, 6);
    const v = new DataView(f.buffer);
    v.setUint16(12, KIT_ETHERTYPE);
    f.set(MAGIC, 14);
    v.setUint32(18, this.nonce);
    v.setUint32(22, seq >>> 0);
    for (let i = KIT_FRAME_MIN; i < length; i++) f[i] = (seq * 7 + i) & 0xff;
    return f;
  }

  /** True for a frame this maker built (same nonce). */
  isOurs(frame: Uint8Array): boolean {
    if (frame.length < KIT_FRAME_MIN) return false;
    if (frame[12] !== KIT_ETHERTYPE >> 8 || frame[13] !== (KIT_ETHERTYPE & 0xff)) return false;
    for (let i = 0; i < 4; i++) if (frame[14 + i] !== MAGIC[i]) return false;
    const v = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    return v.getUint32(18) === this.nonce;
  }

  seqOf(frame: Uint8Array): number {
    return new DataView(frame.buffer, frame.byteOffset, frame.byteLength).getUint32(22);
  }
}

/** Splits `bytes` into an iov of views at the given offsets (sorted, clamped). */
export function splitAt(bytes: Uint8Array, ...cuts: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts.map((x) => Math.max(0, Math.min(bytes.length, x))).sort((a, b) => a - b), bytes.length]) {
    out.push(bytes.subarray(at, Math.max(at, c)));
    at = Math.max(at, c);
  }
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Short description of how two byte strings differ, for assertion messages. */
export function describeDifference(actual: Uint8Array, expected: Uint8Array): string | undefined {
  if (actual.length !== expected.length) return `length ${actual.length}, expected ${expected.length}`;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) return `byte ${i} is 0x${actual[i]!.toString(16)}, expected 0x${expected[i]!.toString(16)}`;
  }
  return undefined;
}
