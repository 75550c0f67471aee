import { get16, get32, put16, put32 } from './bytes';
import { checksumAdd, foldChecksum, pseudoHeaderSum } from './checksum';
import { WireError, need } from './errors';
import { IP_PROTO_TCP } from './ipv4';
import type { Ipv4Address } from './address';

export const TCP_HEADER_LEN = 20;

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
export const TCP_URG = 0x20;
export const TCP_ECE = 0x40;
export const TCP_CWR = 0x80;

/** The TCP options this library understands (RFC 9293 §3.2, RFC 7323, RFC 2018). */
export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  /** SACK blocks as [left, right) sequence pairs, at most 4. */
  sack?: Array<[number, number]>;
  timestamp?: { value: number; echo: number };
}

const FIXED_OPTION_LEN: Record<number, number> = { 2: 4, 3: 3, 4: 2, 8: 10 };

/** Parses (and validates) the option bytes; throws `bad-option` for one that lies about its length. */
export function parseTcpOptions(bytes: Uint8Array, start: number, end: number): TcpOptions {
  const out: TcpOptions = {};
  let i = start;
  while (i < end) {
    const kind = bytes[i]!;
    if (kind === 0) break;
    if (kind === 1) {
      i++;
      continue;
    }
    if (i + 1 >= end) throw new WireError('bad-option', `tcp option ${kind} has no length byte`);
    const len = bytes[i + 1]!;
    if (len < 2 || i + len > end) throw new WireError('bad-option', `tcp option ${kind} length ${len} does not fit`);
    const fixed = FIXED_OPTION_LEN[kind];
    if (fixed !== undefined && len !== fixed) throw new WireError('bad-option', `tcp option ${kind} must be ${fixed} bytes, is ${len}`);
    switch (kind) {
      case 2:
        out.mss = get16(bytes, i + 2);
        break;
      case 3:
        out.windowScale = Math.min(bytes[i + 2]!, 14); // RFC 7323 §2.3: values above 14 are treated as 14
        break;
      case 4:
        out.sackPermitted = true;
        break;
      case 5: {
        if ((len - 2) % 8 !== 0 || len === 2) throw new WireError('bad-option', `tcp SACK option length ${len}`);
        const blocks: Array<[number, number]> = [];
        for (let j = i + 2; j < i + len; j += 8) blocks.push([get32(bytes, j), get32(bytes, j + 4)]);
        out.sack = blocks;
        break;
      }
      case 8:
        out.timestamp = { value: get32(bytes, i + 2), echo: get32(bytes, i + 6) };
        break;
      default:
        break; // unknown options are skipped by their length
    }
    i += len;
  }
  return out;
}

/** A view over a TCP segment. The checked constructor validates the data offset and the options. */
export class TcpPacket {
  private constructor(
    readonly bytes: Uint8Array,
    readonly headerLen: number,
  ) {}

  static wrap(bytes: Uint8Array): TcpPacket {
    need(bytes, 0, TCP_HEADER_LEN, 'tcp header');
    const headerLen = (bytes[12]! >>> 4) * 4;
    if (headerLen < TCP_HEADER_LEN) throw new WireError('bad-header-length', `tcp data offset ${headerLen / 4} < 5`);
    if (headerLen > bytes.length) throw new WireError('bad-header-length', `tcp data offset ${headerLen} > segment ${bytes.length}`);
    if (headerLen > TCP_HEADER_LEN) parseTcpOptions(bytes, TCP_HEADER_LEN, headerLen);
    return new TcpPacket(bytes, headerLen);
  }

  get srcPort(): number {
    return get16(this.bytes, 0);
  }
  get dstPort(): number {
    return get16(this.bytes, 2);
  }
  get seq(): number {
    return get32(this.bytes, 4);
  }
  get ack(): number {
    return get32(this.bytes, 8);
  }
  get flags(): number {
    return this.bytes[13]!;
  }
  get window(): number {
    return get16(this.bytes, 14);
  }
  get checksum(): number {
    return get16(this.bytes, 16);
  }
  get urgentPointer(): number {
    return get16(this.bytes, 18);
  }
  get options(): TcpOptions {
    return parseTcpOptions(this.bytes, TCP_HEADER_LEN, this.headerLen);
  }
  checksumValid(src: Ipv4Address, dst: Ipv4Address): boolean {
    return foldChecksum(checksumAdd(this.bytes, 0, this.bytes.length, pseudoHeaderSum(src, dst, IP_PROTO_TCP, this.bytes.length))) === 0;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLen);
  }
}

export interface TcpRepr {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  urgentPointer?: number;
  options?: TcpOptions;
}

export function parseTcp(p: TcpPacket): TcpRepr {
  return { srcPort: p.srcPort, dstPort: p.dstPort, seq: p.seq, ack: p.ack, flags: p.flags, window: p.window, urgentPointer: p.urgentPointer, options: p.options };
}

function optionsLen(o: TcpOptions | undefined): number {
  if (!o) return 0;
  let n = 0;
  if (o.mss !== undefined) n += 4;
  if (o.windowScale !== undefined) n += 4; // NOP + window scale, as Linux aligns it
  if (o.sackPermitted) n += 2;
  if (o.timestamp) n += 10;
  if (o.sack && o.sack.length > 0) n += 2 + 8 * Math.min(o.sack.length, 4);
  return (n + 3) & ~3;
}

export function tcpHeaderLen(repr: TcpRepr): number {
  return TCP_HEADER_LEN + optionsLen(repr.options);
}

/**
 * Writes the header at `buf[offset..]` for a payload of `payloadLen` bytes already at
 * `buf[offset + tcpHeaderLen(repr)..]`, and fills the checksum. Returns the offset after the payload.
 */
export function emitTcp(repr: TcpRepr, src: Ipv4Address, dst: Ipv4Address, payloadLen: number, buf: Uint8Array, offset = 0): number {
  const hl = tcpHeaderLen(repr);
  if (hl > 60) throw new WireError('too-big', 'tcp options longer than 40 bytes');
  const len = hl + payloadLen;
  if (buf.length < offset + len) throw new WireError('too-big', `tcp needs ${len} bytes`);
  put16(buf, offset, repr.srcPort);
  put16(buf, offset + 2, repr.dstPort);
  put32(buf, offset + 4, repr.seq >>> 0);
  put32(buf, offset + 8, repr.ack >>> 0);
  buf[offset + 12] = (hl / 4) << 4;
  buf[offset + 13] = repr.flags;
  put16(buf, offset + 14, repr.window);
  put16(buf, offset + 16, 0);
  put16(buf, offset + 18, repr.urgentPointer ?? 0);
  let i = offset + TCP_HEADER_LEN;
  const o = repr.options;
  if (o) {
    if (o.mss !== undefined) {
      buf[i] = 2;
      buf[i + 1] = 4;
      put16(buf, i + 2, o.mss);
      i += 4;
    }
    if (o.sackPermitted) {
      buf[i] = 4;
      buf[i + 1] = 2;
      i += 2;
    }
    if (o.timestamp) {
      buf[i] = 8;
      buf[i + 1] = 10;
      put32(buf, i + 2, o.timestamp.value >>> 0);
      put32(buf, i + 6, o.timestamp.echo >>> 0);
      i += 10;
    }
    if (o.windowScale !== undefined) {
      buf[i] = 1;
      buf[i + 1] = 3;
      buf[i + 2] = 3;
      buf[i + 3] = o.windowScale;
      i += 4;
    }
    if (o.sack && o.sack.length > 0) {
      const blocks = o.sack.slice(0, 4);
      buf[i] = 5;
      buf[i + 1] = 2 + 8 * blocks.length;
      i += 2;
      for (const [l, r] of blocks) {
        put32(buf, i, l >>> 0);
        put32(buf, i + 4, r >>> 0);
        i += 8;
      }
    }
  }
  while (i < offset + hl) buf[i++] = 1; // NOP padding (RFC 9293 §3.2)
  if (i > offset + hl) throw new WireError('too-big', 'tcp options overflow');
  put16(buf, offset + 16, foldChecksum(checksumAdd(buf, offset, offset + len, pseudoHeaderSum(src, dst, IP_PROTO_TCP, len))));
  return offset + len;
}
