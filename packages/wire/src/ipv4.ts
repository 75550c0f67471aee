import { get16, get32, put16, put32 } from './bytes';
import { checksumAdd, foldChecksum } from './checksum';
import { WireError, need } from './errors';
import type { Ipv4Address } from './address';

export const IP_PROTO_ICMP = 1;
export const IP_PROTO_TCP = 6;
export const IP_PROTO_UDP = 17;

export const IPV4_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;

/** IPv4 option types (RFC 791 §3.1) whose second byte after the length is a pointer. */
const OPT_EOL = 0;
const OPT_NOP = 1;
const POINTER_OPTIONS: Record<number, number> = { 7: 4, 68: 5, 131: 4, 137: 4 }; // RR, TS, LSRR, SSRR: minimum pointer

/**
 * Walks the option bytes and throws `bad-option` when one lies about its length (shorter than 2,
 * or past the end of the header), or a route/timestamp pointer is out of range.
 */
export function checkIpv4Options(bytes: Uint8Array, start: number, end: number): void {
  let i = start;
  while (i < end) {
    const type = bytes[i]!;
    if (type === OPT_EOL) return;
    if (type === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) throw new WireError('bad-option', `ipv4 option ${type} has no length byte`);
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > end) throw new WireError('bad-option', `ipv4 option ${type} length ${len} does not fit (${end - i} bytes left)`);
    const minPointer = POINTER_OPTIONS[type];
    if (minPointer !== undefined) {
      if (len < 3) throw new WireError('bad-option', `ipv4 option ${type} too short for its pointer`);
      const pointer = bytes[i + 2]!;
      if (pointer < minPointer || pointer > len + 1) throw new WireError('bad-option', `ipv4 option ${type} pointer ${pointer} out of range`);
    }
    i += len;
  }
}

/**
 * A view over an IPv4 packet. The checked constructor validates version, IHL, total length
 * against the bytes present (Ethernet padding after the total length is ignored), and the options'
 * lengths. The header checksum is checked separately ({@link checksumValid}) so the caller can
 * count it as its own drop reason.
 */
export class Ipv4Packet {
  private constructor(
    readonly bytes: Uint8Array,
    readonly headerLen: number,
    readonly totalLen: number,
  ) {}

  static wrap(bytes: Uint8Array): Ipv4Packet {
    need(bytes, 0, IPV4_HEADER_LEN, 'ipv4 header');
    const vihl = bytes[0]!;
    if (vihl >>> 4 !== 4) throw new WireError('bad-version', `ip version ${vihl >>> 4}`);
    const headerLen = (vihl & 0xf) * 4;
    if (headerLen < IPV4_HEADER_LEN) throw new WireError('bad-header-length', `ipv4 IHL ${headerLen / 4} < 5`);
    need(bytes, 0, headerLen, 'ipv4 header with options');
    const totalLen = get16(bytes, 2);
    if (totalLen < headerLen) throw new WireError('bad-total-length', `ipv4 total length ${totalLen} < header ${headerLen}`);
    if (totalLen > bytes.length) throw new WireError('truncated', `ipv4 total length ${totalLen} > ${bytes.length} bytes present`);
    if (headerLen > IPV4_HEADER_LEN) checkIpv4Options(bytes, IPV4_HEADER_LEN, headerLen);
    return new Ipv4Packet(bytes, headerLen, totalLen);
  }

  get checksumValid(): boolean {
    return foldChecksum(checksumAdd(this.bytes, 0, this.headerLen)) === 0;
  }
  get tos(): number {
    return this.bytes[1]!;
  }
  get ident(): number {
    return get16(this.bytes, 4);
  }
  get dontFragment(): boolean {
    return (this.bytes[6]! & 0x40) !== 0;
  }
  get moreFragments(): boolean {
    return (this.bytes[6]! & 0x20) !== 0;
  }
  /** The fragment offset in bytes. */
  get fragmentOffset(): number {
    return (get16(this.bytes, 6) & 0x1fff) * 8;
  }
  get isFragment(): boolean {
    return (get16(this.bytes, 6) & 0x3fff) !== 0;
  }
  get ttl(): number {
    return this.bytes[8]!;
  }
  get protocol(): number {
    return this.bytes[9]!;
  }
  get checksum(): number {
    return get16(this.bytes, 10);
  }
  get src(): Ipv4Address {
    return get32(this.bytes, 12);
  }
  get dst(): Ipv4Address {
    return get32(this.bytes, 16);
  }
  get options(): Uint8Array {
    return this.bytes.subarray(IPV4_HEADER_LEN, this.headerLen);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLen, this.totalLen);
  }
}

/** The parsed form of an IPv4 header. */
export interface Ipv4Repr {
  src: Ipv4Address;
  dst: Ipv4Address;
  protocol: number;
  payloadLen: number;
  ttl: number;
  tos?: number;
  ident?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In bytes; a multiple of 8. */
  fragmentOffset?: number;
  /** Raw option bytes, padded by emit to a multiple of 4. */
  options?: Uint8Array;
}

export function parseIpv4(p: Ipv4Packet): Ipv4Repr {
  const repr: Ipv4Repr = {
    src: p.src,
    dst: p.dst,
    protocol: p.protocol,
    payloadLen: p.totalLen - p.headerLen,
    ttl: p.ttl,
    tos: p.tos,
    ident: p.ident,
    dontFragment: p.dontFragment,
    moreFragments: p.moreFragments,
    fragmentOffset: p.fragmentOffset,
  };
  if (p.headerLen > IPV4_HEADER_LEN) repr.options = p.options.slice();
  return repr;
}

export function ipv4HeaderLen(repr: Ipv4Repr): number {
  return IPV4_HEADER_LEN + (repr.options ? (repr.options.length + 3) & ~3 : 0);
}

/** Writes the header (with its checksum) at `buf[offset..]`; returns where the payload starts. */
export function emitIpv4(repr: Ipv4Repr, buf: Uint8Array, offset = 0): number {
  const hl = ipv4HeaderLen(repr);
  if (hl > IPV4_MAX_HEADER_LEN) throw new WireError('too-big', 'ipv4 options longer than 40 bytes');
  if (buf.length < offset + hl) throw new WireError('too-big', `ipv4 header needs ${hl} bytes`);
  const total = hl + repr.payloadLen;
  if (total > 0xffff) throw new WireError('too-big', `ipv4 total length ${total} > 65535`);
  const fragOff = repr.fragmentOffset ?? 0;
  if (fragOff % 8 !== 0) throw new WireError('bad-field', 'fragment offset must be a multiple of 8');
  buf[offset] = 0x40 | (hl >>> 2);
  buf[offset + 1] = repr.tos ?? 0;
  put16(buf, offset + 2, total);
  put16(buf, offset + 4, repr.ident ?? 0);
  put16(buf, offset + 6, (repr.dontFragment ? 0x4000 : 0) | (repr.moreFragments ? 0x2000 : 0) | (fragOff >>> 3));
  buf[offset + 8] = repr.ttl;
  buf[offset + 9] = repr.protocol;
  put16(buf, offset + 10, 0);
  put32(buf, offset + 12, repr.src);
  put32(buf, offset + 16, repr.dst);
  if (repr.options) {
    buf.set(repr.options, offset + IPV4_HEADER_LEN);
    buf.fill(0, offset + IPV4_HEADER_LEN + repr.options.length, offset + hl);
  }
  put16(buf, offset + 10, foldChecksum(checksumAdd(buf, offset, offset + hl)));
  return offset + hl;
}
