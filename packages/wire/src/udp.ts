import { get16, put16 } from './bytes';
import { checksumAdd, foldChecksum, pseudoHeaderSum } from './checksum';
import { WireError, need } from './errors';
import { IP_PROTO_UDP } from './ipv4';
import type { Ipv4Address } from './address';

export const UDP_HEADER_LEN = 8;

/**
 * A view over a UDP datagram (RFC 768). The checked constructor requires the length field to be
 * at least 8 and no more than the bytes present; bytes after it (padding) are ignored.
 */
export class UdpPacket {
  private constructor(
    readonly bytes: Uint8Array,
    readonly length: number,
  ) {}

  static wrap(bytes: Uint8Array): UdpPacket {
    need(bytes, 0, UDP_HEADER_LEN, 'udp header');
    const length = get16(bytes, 4);
    if (length < UDP_HEADER_LEN) throw new WireError('bad-total-length', `udp length ${length} < 8`);
    if (length > bytes.length) throw new WireError('truncated', `udp length ${length} > ${bytes.length} bytes present`);
    return new UdpPacket(bytes, length);
  }

  get srcPort(): number {
    return get16(this.bytes, 0);
  }
  get dstPort(): number {
    return get16(this.bytes, 2);
  }
  get checksum(): number {
    return get16(this.bytes, 6);
  }
  /** RFC 768: a zero checksum means none was computed; otherwise the pseudo-header sum must fold to 0. */
  checksumValid(src: Ipv4Address, dst: Ipv4Address): boolean {
    if (this.checksum === 0) return true;
    return foldChecksum(checksumAdd(this.bytes, 0, this.length, pseudoHeaderSum(src, dst, IP_PROTO_UDP, this.length))) === 0;
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(UDP_HEADER_LEN, this.length);
  }
}

export interface UdpRepr {
  srcPort: number;
  dstPort: number;
}

/**
 * Writes the 8-byte header at `buf[offset..]` for a payload already placed at `buf[offset+8..]`
 * of `payloadLen` bytes, and fills the checksum over the pseudo-header (0 is sent as 0xffff).
 */
export function emitUdpHeader(repr: UdpRepr, src: Ipv4Address, dst: Ipv4Address, payloadLen: number, buf: Uint8Array, offset = 0): number {
  const len = UDP_HEADER_LEN + payloadLen;
  if (len > 0xffff) throw new WireError('too-big', `udp length ${len} > 65535`);
  if (buf.length < offset + len) throw new WireError('too-big', `udp needs ${len} bytes`);
  put16(buf, offset, repr.srcPort);
  put16(buf, offset + 2, repr.dstPort);
  put16(buf, offset + 4, len);
  put16(buf, offset + 6, 0);
  const c = foldChecksum(checksumAdd(buf, offset, offset + len, pseudoHeaderSum(src, dst, IP_PROTO_UDP, len)));
  put16(buf, offset + 6, c === 0 ? 0xffff : c);
  return offset + len;
}

/** Copies `payload` after the header and emits the header. */
export function emitUdp(repr: UdpRepr, src: Ipv4Address, dst: Ipv4Address, payload: Uint8Array, buf: Uint8Array, offset = 0): number {
  if (buf.length < offset + UDP_HEADER_LEN + payload.length) throw new WireError('too-big', 'udp does not fit');
  buf.set(payload, offset + UDP_HEADER_LEN);
  return emitUdpHeader(repr, src, dst, payload.length, buf, offset);
}
