import { get16, get32, put16, put32 } from './bytes';
import { WireError, need } from './errors';
import type { Ipv4Address } from './address';

export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;
export const ARP_LEN = 28; // Ethernet/IPv4 ARP (RFC 826)

/** The parsed form of an Ethernet/IPv4 ARP packet (RFC 826). */
export interface ArpRepr {
  operation: number;
  senderMac: Uint8Array;
  senderIp: Ipv4Address;
  targetMac: Uint8Array;
  targetIp: Ipv4Address;
}

/**
 * A view over an ARP packet. The checked constructor accepts only htype 1 (Ethernet), ptype
 * 0x0800, hlen 6, plen 4 — other combinations are rejected rather than trusted (CVE-2020-29130
 * read past a short ARP packet).
 */
export class ArpPacket {
  private constructor(readonly bytes: Uint8Array) {}

  static wrap(bytes: Uint8Array): ArpPacket {
    need(bytes, 0, 8, 'arp header');
    if (get16(bytes, 0) !== 1 || get16(bytes, 2) !== 0x0800) throw new WireError('bad-field', 'arp: not Ethernet/IPv4');
    if (bytes[4] !== 6 || bytes[5] !== 4) throw new WireError('bad-field', `arp: hlen ${bytes[4]} plen ${bytes[5]}`);
    need(bytes, 0, ARP_LEN, 'arp packet');
    return new ArpPacket(bytes);
  }

  get operation(): number {
    return get16(this.bytes, 6);
  }
  get senderMac(): Uint8Array {
    return this.bytes.subarray(8, 14);
  }
  get senderIp(): Ipv4Address {
    return get32(this.bytes, 14);
  }
  get targetMac(): Uint8Array {
    return this.bytes.subarray(18, 24);
  }
  get targetIp(): Ipv4Address {
    return get32(this.bytes, 24);
  }
}

export function parseArp(p: ArpPacket): ArpRepr {
  return { operation: p.operation, senderMac: p.senderMac.slice(), senderIp: p.senderIp, targetMac: p.targetMac.slice(), targetIp: p.targetIp };
}

/** Writes 28 bytes at `buf[offset..]`; returns the offset after them. */
export function emitArp(repr: ArpRepr, buf: Uint8Array, offset = 0): number {
  if (buf.length < offset + ARP_LEN) throw new WireError('too-big', 'arp needs 28 bytes');
  put16(buf, offset, 1);
  put16(buf, offset + 2, 0x0800);
  buf[offset + 4] = 6;
  buf[offset + 5] = 4;
  put16(buf, offset + 6, repr.operation);
  buf.set(repr.senderMac.subarray(0, 6), offset + 8);
  put32(buf, offset + 14, repr.senderIp);
  buf.set(repr.targetMac.subarray(0, 6), offset + 18);
  put32(buf, offset + 24, repr.targetIp);
  return offset + ARP_LEN;
}
