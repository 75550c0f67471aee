import { get16, put16 } from './bytes';
import { WireError, need } from './errors';

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q tag
export const ETHERTYPE_IPV6 = 0x86dd;

export const ETHERNET_HEADER_LEN = 14;
/** The shortest frame on the wire without FCS (IEEE 802.3: 64 bytes with the 4-byte FCS). */
export const ETHERNET_MIN_FRAME = 60;

/**
 * A view over an Ethernet II frame, optionally with one 802.1Q tag. `wrap` checks the length once;
 * accessors then read without further checks.
 */
export class EthernetFrame {
  private constructor(
    readonly bytes: Uint8Array,
    /** 14, or 18 with an 802.1Q tag. */
    readonly headerLen: number,
  ) {}

  /** The checked constructor: throws {@link WireError} `truncated` when the header is not all there. */
  static wrap(bytes: Uint8Array): EthernetFrame {
    need(bytes, 0, ETHERNET_HEADER_LEN, 'ethernet header');
    if (get16(bytes, 12) === ETHERTYPE_VLAN) {
      need(bytes, 0, ETHERNET_HEADER_LEN + 4, 'ethernet 802.1Q header');
      if (get16(bytes, 16) === ETHERTYPE_VLAN) throw new WireError('bad-field', 'stacked 802.1Q tags (QinQ) are not supported');
      return new EthernetFrame(bytes, ETHERNET_HEADER_LEN + 4);
    }
    return new EthernetFrame(bytes, ETHERNET_HEADER_LEN);
  }

  get dst(): Uint8Array {
    return this.bytes.subarray(0, 6);
  }
  get src(): Uint8Array {
    return this.bytes.subarray(6, 12);
  }
  get hasVlan(): boolean {
    return this.headerLen !== ETHERNET_HEADER_LEN;
  }
  /** The 802.1Q tag control information (PCP:3, DEI:1, VID:12), or -1 without a tag. */
  get vlanTci(): number {
    return this.hasVlan ? get16(this.bytes, 14) : -1;
  }
  get ethertype(): number {
    return get16(this.bytes, this.headerLen - 2);
  }
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLen);
  }
}

export interface VlanTag {
  pcp: number;
  dei: boolean;
  vid: number;
}

/** The parsed form of an Ethernet header. */
export interface EthernetRepr {
  dst: Uint8Array;
  src: Uint8Array;
  ethertype: number;
  vlan?: VlanTag;
}

export function parseEthernet(frame: EthernetFrame): EthernetRepr {
  const repr: EthernetRepr = { dst: frame.dst.slice(), src: frame.src.slice(), ethertype: frame.ethertype };
  if (frame.hasVlan) {
    const tci = frame.vlanTci;
    repr.vlan = { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0xfff };
  }
  return repr;
}

export function ethernetHeaderLen(repr: EthernetRepr): number {
  return repr.vlan ? ETHERNET_HEADER_LEN + 4 : ETHERNET_HEADER_LEN;
}

/** Writes the header at `buf[0..]`; returns its length (where the payload starts). */
export function emitEthernet(repr: EthernetRepr, buf: Uint8Array): number {
  const len = ethernetHeaderLen(repr);
  if (buf.length < len) throw new WireError('too-big', `ethernet header needs ${len} bytes`);
  buf.set(repr.dst.subarray(0, 6), 0);
  buf.set(repr.src.subarray(0, 6), 6);
  if (repr.vlan) {
    put16(buf, 12, ETHERTYPE_VLAN);
    put16(buf, 14, ((repr.vlan.pcp & 7) << 13) | (repr.vlan.dei ? 0x1000 : 0) | (repr.vlan.vid & 0xfff));
    put16(buf, 16, repr.ethertype);
  } else {
    put16(buf, 12, repr.ethertype);
  }
  return len;
}
