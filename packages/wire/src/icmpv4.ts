import { get16, get32, put16, put32 } from './bytes';
import { checksumAdd, foldChecksum } from './checksum';
import { WireError, need } from './errors';

export const ICMP_ECHO_REPLY = 0;
export const ICMP_DEST_UNREACHABLE = 3;
export const ICMP_ECHO_REQUEST = 8;
export const ICMP_TIME_EXCEEDED = 11;
export const ICMP_PARAMETER_PROBLEM = 12;

/** Destination-unreachable codes (RFC 792, RFC 1812 §5.2.7.1). */
export const ICMP_UNREACH_NET = 0;
export const ICMP_UNREACH_HOST = 1;
export const ICMP_UNREACH_PROTOCOL = 2;
export const ICMP_UNREACH_PORT = 3;
export const ICMP_UNREACH_NEEDFRAG = 4;
export const ICMP_UNREACH_ADMIN_PROHIBITED = 13;

export const ICMP_HEADER_LEN = 8;

/** True for the error types whose body quotes the offending IP header + 8 bytes (RFC 792). */
export function isIcmpError(type: number): boolean {
  return type === ICMP_DEST_UNREACHABLE || type === ICMP_TIME_EXCEEDED || type === ICMP_PARAMETER_PROBLEM || type === 4 || type === 5;
}

/** A view over an ICMPv4 message: 8 header bytes (type, code, checksum, 4 type-specific), then data. */
export class Icmpv4Packet {
  private constructor(readonly bytes: Uint8Array) {}

  static wrap(bytes: Uint8Array): Icmpv4Packet {
    need(bytes, 0, ICMP_HEADER_LEN, 'icmp header');
    return new Icmpv4Packet(bytes);
  }

  get type(): number {
    return this.bytes[0]!;
  }
  get code(): number {
    return this.bytes[1]!;
  }
  get checksum(): number {
    return get16(this.bytes, 2);
  }
  get checksumValid(): boolean {
    return foldChecksum(checksumAdd(this.bytes, 0, this.bytes.length)) === 0;
  }
  /** Bytes 4..8: identifier and sequence for echo, next-hop MTU for "fragmentation needed". */
  get rest(): number {
    return get32(this.bytes, 4);
  }
  get echoIdent(): number {
    return get16(this.bytes, 4);
  }
  get echoSeq(): number {
    return get16(this.bytes, 6);
  }
  get data(): Uint8Array {
    return this.bytes.subarray(ICMP_HEADER_LEN);
  }
}

/** The parsed form. For echo, `rest` = ident << 16 | seq; for errors, `data` quotes the datagram. */
export interface Icmpv4Repr {
  type: number;
  code: number;
  rest: number;
  data: Uint8Array;
}

export function parseIcmpv4(p: Icmpv4Packet): Icmpv4Repr {
  return { type: p.type, code: p.code, rest: p.rest, data: p.data.slice() };
}

export function echoRepr(type: typeof ICMP_ECHO_REQUEST | typeof ICMP_ECHO_REPLY, ident: number, seq: number, data: Uint8Array): Icmpv4Repr {
  return { type, code: 0, rest: (((ident & 0xffff) << 16) | (seq & 0xffff)) >>> 0, data };
}

export function icmpv4Len(repr: Icmpv4Repr): number {
  return ICMP_HEADER_LEN + repr.data.length;
}

/** Writes the message (with its checksum) at `buf[offset..]`; returns the offset after it. */
export function emitIcmpv4(repr: Icmpv4Repr, buf: Uint8Array, offset = 0): number {
  const len = icmpv4Len(repr);
  if (buf.length < offset + len) throw new WireError('too-big', `icmp needs ${len} bytes`);
  buf[offset] = repr.type;
  buf[offset + 1] = repr.code;
  put16(buf, offset + 2, 0);
  put32(buf, offset + 4, repr.rest);
  buf.set(repr.data, offset + ICMP_HEADER_LEN);
  put16(buf, offset + 2, foldChecksum(checksumAdd(buf, offset, offset + len)));
  return offset + len;
}
