/**
 * Hand-built pcap and pcapng bytes for tests, written field by field from the drafts (not with
 * the package's encoder), so reader and writer are checked against an independent source.
 */
export class Bytes {
  private readonly parts: number[] = [];

  constructor(readonly littleEndian = true) {}

  u8(v: number): this {
    this.parts.push(v & 0xff);
    return this;
  }

  u16(v: number): this {
    if (this.littleEndian) this.parts.push(v & 0xff, (v >>> 8) & 0xff);
    else this.parts.push((v >>> 8) & 0xff, v & 0xff);
    return this;
  }

  u32(v: number): this {
    const b = [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
    this.parts.push(...(this.littleEndian ? b : b.reverse()));
    return this;
  }

  raw(bytes: ArrayLike<number>): this {
    for (let i = 0; i < bytes.length; i++) this.parts.push(bytes[i]! & 0xff);
    return this;
  }

  pad4(): this {
    while (this.parts.length % 4) this.parts.push(0);
    return this;
  }

  get length(): number {
    return this.parts.length;
  }

  build(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

export function frame(length: number, seed: number): Uint8Array {
  const f = new Uint8Array(length);
  for (let i = 0; i < length; i++) f[i] = (seed * 31 + i * 7) & 0xff;
  return f;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function pcapHeader(opts: { le?: boolean; nano?: boolean; snap?: number; link?: number; major?: number } = {}): Uint8Array {
  const b = new Bytes(opts.le ?? true);
  b.u32(opts.nano ? 0xa1b23c4d : 0xa1b2c3d4).u16(opts.major ?? 2).u16(4).u32(0).u32(0).u32(opts.snap ?? 65535).u32(opts.link ?? 1);
  return b.build();
}

export function pcapRecord(data: Uint8Array, sec: number, frac: number, opts: { le?: boolean; orig?: number; caplen?: number } = {}): Uint8Array {
  const b = new Bytes(opts.le ?? true);
  b.u32(sec).u32(frac).u32(opts.caplen ?? data.length).u32(opts.orig ?? data.length).raw(data);
  return b.build();
}

type Option = [number, Uint8Array];

function options(b: Bytes, opts: Option[]): void {
  if (opts.length === 0) return;
  for (const [code, value] of opts) b.u16(code).u16(value.length).raw(value).pad4();
  b.u16(0).u16(0);
}

/** A generic block: type, length, body (padded), options, length. */
export function block(type: number, body: (b: Bytes) => void, opts: Option[] = [], le = true): Uint8Array {
  const inner = new Bytes(le);
  body(inner);
  inner.pad4();
  options(inner, opts);
  const total = inner.length + 12;
  return new Bytes(le).u32(type).u32(total).raw(inner.build()).u32(total).build();
}

export function shb(le = true, opts: Option[] = []): Uint8Array {
  return block(0x0a0d0d0a, (b) => b.u32(0x1a2b3c4d).u16(1).u16(0).u32(0xffffffff).u32(0xffffffff), opts, le);
}

export function idb(link: number, snap: number, opts: Option[] = [], le = true): Uint8Array {
  return block(1, (b) => b.u16(link).u16(0).u32(snap), opts, le);
}

export function epb(ifid: number, high: number, low: number, data: Uint8Array, opts: Option[] = [], le = true, orig = data.length): Uint8Array {
  return block(6, (b) => b.u32(ifid).u32(high).u32(low).u32(data.length).u32(orig).raw(data), opts, le);
}

export function spb(orig: number, data: Uint8Array, le = true): Uint8Array {
  return block(3, (b) => b.u32(orig).raw(data), [], le);
}

export function opb(ifid: number, high: number, low: number, data: Uint8Array, opts: Option[] = [], le = true): Uint8Array {
  return block(2, (b) => b.u16(ifid).u16(0).u32(high).u32(low).u32(data.length).u32(data.length).raw(data), opts, le);
}

export const u8opt = (code: number, v: number): Option => [code, Uint8Array.of(v)];
export const u32opt = (code: number, v: number, le = true): Option => [code, new Bytes(le).u32(v).build()];
export const textopt = (code: number, s: string): Option => [code, new TextEncoder().encode(s)];

/** 64-bit units as the two halves. */
export function split64(units: bigint): [number, number] {
  return [Number(units >> 32n), Number(units & 0xffffffffn)];
}
