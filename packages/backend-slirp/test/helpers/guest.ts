/**
 * A scripted guest: builds Ethernet frames with @netbe/wire and parses what the stack sends
 * back. Used by the core tests (with a fake host) and the Node tests (with real sockets).
 */
import {
  ARP_REQUEST, BOOTP_FLAG_BROADCAST, BOOTP_REQUEST, DHCPDISCOVER, DHCPREQUEST, DhcpPacket, ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetFrame,
  IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, Icmpv4Packet, Ipv4Packet, MAC_BROADCAST, MAC_ZERO, TcpPacket, UDP_HEADER_LEN, UdpPacket,
  dhcpLen, echoRepr, emitArp, emitDhcp, emitEthernet, emitIcmpv4, emitIpv4, emitTcp, emitUdp, emitUdpHeader, parseDhcp, parseIpv4Address,
  tcpHeaderLen, checksumAdd, foldChecksum, ICMP_ECHO_REQUEST, type DhcpRepr, type Ipv4Address, type TcpRepr,
} from '@netbe/wire';

export const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
export const SLIRP_MAC = new Uint8Array([0x52, 0x55, 10, 0, 2, 2]);
export const ip = (s: string): Ipv4Address => parseIpv4Address(s)!;
export const GATEWAY = ip('10.0.2.2');
export const DNS = ip('10.0.2.3');
export const GUEST = ip('10.0.2.15');

export interface IpOpts {
  ttl?: number;
  ident?: number;
  dstMac?: Uint8Array;
  srcMac?: Uint8Array;
  moreFragments?: boolean;
  fragmentOffset?: number;
  dontFragment?: boolean;
}

export function ipFrame(src: Ipv4Address, dst: Ipv4Address, protocol: number, l4: Uint8Array, o: IpOpts = {}): Uint8Array {
  const f = new Uint8Array(Math.max(60, 34 + l4.length));
  emitEthernet({ dst: o.dstMac ?? SLIRP_MAC, src: o.srcMac ?? GUEST_MAC, ethertype: ETHERTYPE_IPV4 }, f);
  emitIpv4({ src, dst, protocol, payloadLen: l4.length, ttl: o.ttl ?? 64, ident: o.ident ?? 1, moreFragments: o.moreFragments, fragmentOffset: o.fragmentOffset, dontFragment: o.dontFragment }, f, 14);
  f.set(l4, 34);
  return f;
}

export function udpBytes(src: Ipv4Address, dst: Ipv4Address, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + payload.length);
  emitUdp({ srcPort, dstPort }, src, dst, payload, b);
  return b;
}

export function udpFrame(src: Ipv4Address, dst: Ipv4Address, srcPort: number, dstPort: number, payload: Uint8Array, o: IpOpts = {}): Uint8Array {
  return ipFrame(src, dst, IP_PROTO_UDP, udpBytes(src, dst, srcPort, dstPort, payload), o);
}

export function echoFrame(src: Ipv4Address, dst: Ipv4Address, ident: number, seq: number, data: Uint8Array): Uint8Array {
  const repr = echoRepr(ICMP_ECHO_REQUEST, ident, seq, data);
  const b = new Uint8Array(8 + data.length);
  emitIcmpv4(repr, b);
  return ipFrame(src, dst, IP_PROTO_ICMP, b);
}

export function tcpFrame(src: Ipv4Address, dst: Ipv4Address, repr: TcpRepr, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const hl = tcpHeaderLen(repr);
  const b = new Uint8Array(hl + payload.length);
  b.set(payload, hl);
  emitTcp(repr, src, dst, payload.length, b);
  return ipFrame(src, dst, IP_PROTO_TCP, b);
}

export function arpRequest(senderIp: Ipv4Address, targetIp: Ipv4Address, senderMac = GUEST_MAC): Uint8Array {
  const f = new Uint8Array(60);
  emitEthernet({ dst: MAC_BROADCAST, src: senderMac, ethertype: ETHERTYPE_ARP }, f);
  emitArp({ operation: ARP_REQUEST, senderMac, senderIp, targetMac: MAC_ZERO, targetIp }, f, 14);
  return f;
}

export function dhcpFrame(repr: Partial<DhcpRepr> & { messageType: number }, src: Ipv4Address = 0, dst: Ipv4Address = 0xffffffff): Uint8Array {
  const full: DhcpRepr = { op: BOOTP_REQUEST, xid: 0x1234, flags: BOOTP_FLAG_BROADCAST, chaddr: GUEST_MAC, ...repr };
  const len = dhcpLen(full);
  const b = new Uint8Array(UDP_HEADER_LEN + len);
  emitDhcp(full, b, UDP_HEADER_LEN);
  emitUdpHeader({ srcPort: 68, dstPort: 67 }, src, dst, len, b);
  return ipFrame(src, dst, IP_PROTO_UDP, b, { dstMac: MAC_BROADCAST });
}

export const discover = (xid = 0x1234): Uint8Array => dhcpFrame({ xid, messageType: DHCPDISCOVER, parameterRequestList: [1, 3, 6, 15, 26, 119] });
export const request = (requestedIp: Ipv4Address, serverId: Ipv4Address | undefined, xid = 0x1234): Uint8Array =>
  dhcpFrame({ xid, messageType: DHCPREQUEST, requestedIp, ...(serverId !== undefined ? { serverId } : {}) });

/** What the stack sent, decoded as far as it goes. */
export interface Decoded {
  frame: Uint8Array;
  eth: EthernetFrame;
  ip?: Ipv4Packet;
  udp?: UdpPacket;
  icmp?: Icmpv4Packet;
  tcp?: TcpPacket;
  dhcp?: DhcpRepr;
}

export function decode(frame: Uint8Array): Decoded {
  const eth = EthernetFrame.wrap(frame);
  const d: Decoded = { frame, eth };
  if (eth.ethertype !== ETHERTYPE_IPV4) return d;
  const ipp = Ipv4Packet.wrap(eth.payload);
  if (!ipp.checksumValid) throw new Error('stack sent a bad IP checksum');
  d.ip = ipp;
  if (ipp.isFragment) return d;
  if (ipp.protocol === IP_PROTO_UDP) {
    d.udp = UdpPacket.wrap(ipp.payload);
    if (!d.udp.checksumValid(ipp.src, ipp.dst)) throw new Error('stack sent a bad UDP checksum');
    if (d.udp.srcPort === 67) d.dhcp = parseDhcp(DhcpPacket.wrap(d.udp.payload));
  } else if (ipp.protocol === IP_PROTO_ICMP) {
    d.icmp = Icmpv4Packet.wrap(ipp.payload);
    if (!d.icmp.checksumValid) throw new Error('stack sent a bad ICMP checksum');
  } else if (ipp.protocol === IP_PROTO_TCP) {
    d.tcp = TcpPacket.wrap(ipp.payload);
    if (!d.tcp.checksumValid(ipp.src, ipp.dst)) throw new Error('stack sent a bad TCP checksum');
  }
  return d;
}

export const bytes = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
export const text = (b: Uint8Array): string => String.fromCharCode(...b);

/**
 * What a guest does with a NEEDS_CSUM frame (virtio 1.2 §5.1.6.4): sums from csum_start to the end
 * of the IP datagram and stores the result at csum_start + csum_offset.
 */
export function completePartialChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void {
  const end = frame.length >= 18 && frame[12] === 0x08 && frame[13] === 0 ? Math.min(frame.length, 14 + ((frame[16]! << 8) | frame[17]!)) : frame.length;
  const at = csumStart + csumOffset;
  const sum = foldChecksum(checksumAdd(frame, csumStart, end));
  frame[at] = sum >>> 8;
  frame[at + 1] = sum & 0xff;
}
