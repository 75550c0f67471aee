import {
  ARP_REPLY, ARP_REQUEST, ArpPacket, DhcpPacket, ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetFrame, ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST, ICMP_TIME_EXCEEDED, ICMP_UNREACH_ADMIN_PROHIBITED, ICMP_UNREACH_PORT, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP,
  IPV4_BROADCAST, Icmpv4Packet, Ipv4Packet, TcpPacket, UDP_HEADER_LEN, UdpPacket, WireError, checksumUpdate16, dhcpLen, emitDhcp,
  emitIcmpv4, emitUdp, emitUdpHeader, formatIpv4, formatMacAddress, get16, inSubnet, isBroadcastMac, isIcmpError, isLoopback, isMulticast, macEquals,
  parseArp, parseDhcp, put16, put32, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DHCPDISCOVER, DHCPACK, DHCPOFFER, DHCPNAK,
  type Ipv4Address,
} from '@netbe/wire';
import { ArpCache } from './arp-cache';
import { SlirpCounters, type DropReason } from './counters';
import { DhcpServer } from './dhcp-server';
import { DnsForwarder, type DnsRetry } from './dns-forwarder';
import { GuestLink } from './guest-link';
import type { HostEvents, SlirpHost } from './host';
import { IcmpRelay } from './icmp-relay';
import type { HostForward, SlirpOptions } from './options';
import { Reassembler } from './reassembly';
import { TcpNat } from './tcp-nat';
import { UdpNat } from './udp-nat';

const LOOPBACK = 0x7f000001;
const DNS_PORT = 53;

/** What {@link SlirpStack.describe} returns. */
export interface SlirpDescription {
  leases: Array<{ addr: string; mac: string; state: string; expiresInMs: number }>;
  neighbours: Array<{ addr: string; mac: string }>;
  udp: Array<{ kind: 'nat' | 'fwd'; guest: string; remote: string; localPort?: number; virtualPort?: number; idleMs: number }>;
  tcp: Array<{ guest: string; remote: string; state: string; unacknowledged: number; hostBuffered: number }>;
  dnsPending: number;
  icmpEchoFlows: number;
  reassemblies: number;
  counters: Record<string, unknown>;
}

export interface SlirpStackDeps {
  host: SlirpHost;
  /** Random numbers in [0, 1) for DNS ids, ISNs and echo ids (injected for deterministic tests). */
  random?: () => number;
  /** The current time in ms, for work done outside a call that passes `now` (rare: TCP emits). */
  clock?: () => number;
}

/**
 * The user-mode network stack, sans I/O: the guest's Ethernet frames go in through
 * {@link input}, frames for the guest come out of {@link takeFrame}; the host's sockets are
 * reached only through the injected {@link SlirpHost}, and their events come back through the
 * `host*` methods. Every call takes `now` (ms) and returns the next deadline (ms, or Infinity)
 * at which {@link poll} must be called. Nothing here touches a clock, a timer or a socket.
 *
 * Addressing (libslirp's layout): the guest's subnet holds only the guest(s), the gateway and
 * the DNS address; both answer ARP with one MAC. Any address outside the subnet is reached
 * through host sockets; the gateway address reaches host loopback only with `hostLoopback`.
 */
export class SlirpStack implements HostEvents {
  readonly counters = new SlirpCounters();
  readonly options: SlirpOptions;
  readonly arp = new ArpCache();
  readonly link: GuestLink;
  readonly dhcp: DhcpServer;
  readonly dns: DnsForwarder;
  readonly udp: UdpNat;
  readonly tcp: TcpNat;
  readonly icmp: IcmpRelay;
  readonly reassembler: Reassembler;
  private readonly host: SlirpHost;
  private nextHandle = 1;
  private dnsHandle = 0;
  private earliest = Infinity;
  private lastNow = 0;
  private icmpWarned = false;
  private closed = false;
  /** The hostfwd rules with the handle of their listening socket (ports are filled in once bound). */
  readonly hostForwards: Array<{ rule: HostForward; handle: number }> = [];

  constructor(options: SlirpOptions, deps: SlirpStackDeps) {
    this.options = options;
    this.host = deps.host;
    const random = deps.random ?? Math.random;
    const clock = deps.clock ?? (() => this.lastNow);
    const g = options.gateway;
    const mac = new Uint8Array([0x52, 0x55, g >>> 24, (g >>> 16) & 0xff, (g >>> 8) & 0xff, g & 0xff]); // libslirp's 52:55:IP
    this.link = new GuestLink(mac, this.arp, this.counters, options.mtu, options.maxGuestQueue);
    this.link.arpSource = g;
    const log = (m: string): void => this.host.log('debug', m);
    this.dhcp = new DhcpServer(options, log);
    this.dns = new DnsForwarder(options.resolvers, options.dnsTimeoutMs, options.maxDnsPending, random);
    const alloc = (): number => this.nextHandle++;
    this.udp = new UdpNat(this.host, this.counters, alloc, (s, sp, d, dp, p) => this.sendUdp(s, sp, d, dp, p), g, options.maxUdpFlows, options.udpIdleMs);
    this.tcp = new TcpNat(this.host, this.link, this.counters, alloc, g, options.mtu, options.maxTcpConnections, random, (t) => this.arm(t), clock);
    this.link.onDrain = () => this.tcp.linkDrained(clock());
    this.icmp = new IcmpRelay(options.maxIcmpPending, random);
    this.reassembler = new Reassembler(options.reassembly, (r) => this.counters.drop(r));
    for (const rule of options.hostForwards) {
      this.hostForwards.push({ rule, handle: rule.protocol === 'udp' ? this.udp.listen(rule) : this.tcp.listen(rule) });
    }
  }

  /** The MAC the gateway and DNS addresses answer with. */
  get mac(): Uint8Array {
    return this.link.mac;
  }

  /** Frames waiting for the guest. */
  get pendingFrames(): number {
    return this.link.pending;
  }
  peekFrame(): Uint8Array | undefined {
    return this.link.peek();
  }
  takeFrame(): Uint8Array | undefined {
    return this.link.shift();
  }
  /**
   * How the next frame's TCP checksum stands: FRAME_COMPLETE (-1), FRAME_PARTIAL (0: the pseudo-
   * header sum only, virtio NEEDS_CSUM) or a GSO segment size (partial, and cut into segments of
   * that many payload bytes by the guest). Only -1 until {@link setGuestOffloads} allows more.
   */
  get frameOffload(): number {
    return this.link.frameOffload;
  }
  /** A frame from {@link takeFrame} whose bytes have been copied out: its buffer is reused. */
  releaseFrame(frame: Uint8Array): void {
    this.link.release(frame);
  }
  /** What the guest accepts on frames toward it (virtio GUEST_CSUM, GUEST_TSO4). */
  setGuestOffloads(partialChecksums: boolean, tso4: boolean): void {
    this.link.setGuestOffloads(partialChecksums, tso4);
  }
  /** Called whenever a frame is queued for the guest. */
  set onOutput(fn: () => void) {
    this.link.onOutput = fn;
  }

  // ------------------------------------------------------------------ guest → stack

  /** One Ethernet frame from the guest (the bytes are only read during the call). */
  /**
   * Set by a driver for the duration of one {@link input} whose TCP/UDP checksum the guest left to
   * the device (virtio NEEDS_CSUM): the transport checksum is not verified (there is none yet).
   */
  l4ChecksumOffloaded = false;

  input(frame: Uint8Array, now: number): number {
    this.lastNow = now;
    if (this.closed) return Infinity;
    this.counters.framesIn++;
    try {
      this.ethernetInput(frame, now);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.counters.drop('ip-malformed'); // a layer that did not map its own reason
    }
    return this.earliest;
  }

  private ethernetInput(frame: Uint8Array, now: number): void {
    let eth: EthernetFrame;
    try {
      eth = EthernetFrame.wrap(frame);
    } catch (e) {
      return this.dropWire(e, 'eth-truncated');
    }
    if (!macEquals(frame, 0, this.link.mac) && !isBroadcastMac(frame, 0)) return this.counters.drop('eth-not-for-us');
    if (eth.hasVlan) return this.counters.drop('vlan');
    const type = eth.ethertype;
    if (type === ETHERTYPE_ARP) return this.arpInput(eth);
    if (type === ETHERTYPE_IPV4) return this.ipInput(eth, eth.payload, now);
    this.counters.drop('eth-unsupported');
  }

  private arpInput(eth: EthernetFrame): void {
    let repr;
    try {
      repr = parseArp(ArpPacket.wrap(eth.payload));
    } catch (e) {
      return this.dropWire(e, 'arp-malformed');
    }
    const o = this.options;
    const ours = (a: Ipv4Address): boolean => a === o.gateway || a === o.dns;
    if (ours(repr.senderIp)) return this.counters.drop('arp-conflict');
    // Learn the sender (requests, replies and gratuitous ARP alike: RFC 826 "merge" rule, RFC 5227 announcements).
    if (repr.senderIp !== 0 && inSubnet(repr.senderIp, o.network, o.netmask) && !isBroadcastMac(repr.senderMac) && (repr.senderMac[0]! & 1) === 0) {
      this.arp.learn(repr.senderIp, repr.senderMac);
      this.link.resolved(repr.senderIp, repr.senderMac);
    }
    if (repr.operation === ARP_REQUEST && ours(repr.targetIp) && repr.senderIp !== repr.targetIp) {
      this.counters.arpReplies++;
      this.link.sendArp(ARP_REPLY, repr.targetIp, repr.senderMac, repr.senderIp, repr.senderMac);
    }
  }

  private ipInput(eth: EthernetFrame, bytes: Uint8Array, now: number): void {
    let ip: Ipv4Packet;
    try {
      ip = Ipv4Packet.wrap(bytes);
    } catch (e) {
      return this.dropWire(e, 'ip-malformed');
    }
    if (!ip.checksumValid) return this.counters.drop('ip-bad-checksum');
    const o = this.options;
    const src = ip.src;
    const dst = ip.dst;
    const fromSubnet = inSubnet(src, o.network, o.netmask);
    if (src !== 0 && (!fromSubnet || src === o.gateway || src === o.dns)) return this.counters.drop('ip-martian');
    if (src !== 0) this.learnFromIp(src, eth.src);
    if (ip.isFragment) {
      const r = this.reassembler.input(ip, now);
      this.counters.activeReassemblies = this.reassembler.active;
      this.arm(this.reassembler.nextDeadline());
      if ('drop' in r) return this.counters.drop(r.drop);
      if ('pending' in r) return;
      this.counters.fragmentsReassembled++;
      return this.ipInput(eth, r.complete, now);
    }
    const broadcast = dst === IPV4_BROADCAST || dst === ((o.network | ~o.netmask) >>> 0);
    if (src === 0 && !(broadcast && ip.protocol === IP_PROTO_UDP)) return this.counters.drop('ip-martian');
    if (isLoopback(dst) || isMulticast(dst) || dst === 0 || (broadcast && ip.protocol !== IP_PROTO_UDP)) return this.counters.drop('ip-martian');
    const local = dst === o.gateway || dst === o.dns || broadcast;
    if (!local && inSubnet(dst, o.network, o.netmask)) return this.counters.drop('ip-no-route');
    if (!local && ip.ttl <= 1) {
      this.counters.drop('ip-ttl');
      return this.sendIcmpError(ICMP_TIME_EXCEEDED, 0, o.gateway, ip.bytes.subarray(0, ip.totalLen), now);
    }
    switch (ip.protocol) {
      case IP_PROTO_UDP:
        return this.udpInput(ip, broadcast, now);
      case IP_PROTO_TCP:
        return this.tcpInput(ip, now);
      case IP_PROTO_ICMP:
        return this.icmpInput(ip, now);
      default:
        this.counters.drop('ip-unsupported-protocol');
    }
  }

  private learnFromIp(src: Ipv4Address, mac: Uint8Array): void {
    if (this.arp.lookup(src) === undefined) {
      this.arp.learn(src, mac);
      this.link.resolved(src, mac);
    }
  }

  // ------------------------------------------------------------------ UDP

  private udpInput(ip: Ipv4Packet, broadcast: boolean, now: number): void {
    let udp: UdpPacket;
    try {
      udp = UdpPacket.wrap(ip.payload);
    } catch (e) {
      return this.dropWire(e, 'udp-malformed');
    }
    if (!this.l4ChecksumOffloaded && !udp.checksumValid(ip.src, ip.dst)) return this.counters.drop('udp-bad-checksum');
    const o = this.options;
    const dst = ip.dst;
    if (udp.dstPort === DHCP_SERVER_PORT && (broadcast || dst === o.gateway)) return this.dhcpInput(udp, now);
    if (broadcast || ip.src === 0) return this.counters.drop('ip-martian');
    if (dst === o.dns) {
      if (udp.dstPort !== DNS_PORT) return this.portUnreachable(ip, now);
      if (o.restrict) return this.counters.drop('restricted');
      return this.dnsQuery(ip.src, udp.srcPort, udp.payload, now);
    }
    if (dst === o.gateway && this.udp.replyToForward(ip.src, udp.srcPort, udp.dstPort, udp.payload, now)) {
      return this.arm(this.udp.nextDeadline());
    }
    if (o.restrict) return this.counters.drop('restricted');
    const real = this.translateOut(dst);
    if (real === undefined) return this.prohibited(ip, now);
    this.udp.send(ip.src, udp.srcPort, real, udp.dstPort, udp.payload, now);
    this.arm(this.udp.nextDeadline());
  }

  /** Sends a UDP datagram to the guest. */
  private sendUdp(src: Ipv4Address, srcPort: number, dst: Ipv4Address, dstPort: number, payload: Uint8Array): void {
    this.link.sendIpv4(src, dst, IP_PROTO_UDP, UDP_HEADER_LEN + payload.length, (buf, off, s, d) => {
      emitUdp({ srcPort, dstPort }, s, d, payload, buf, off);
    }, this.lastNow);
  }

  /** Where a guest destination really goes on the host, or undefined when policy forbids it. */
  private translateOut(dst: Ipv4Address): Ipv4Address | undefined {
    if (dst === this.options.gateway) return this.options.hostLoopback ? LOOPBACK : undefined;
    return dst;
  }

  /** What the guest sees as the source of a host-side address. */
  private translateIn(src: Ipv4Address): Ipv4Address | undefined {
    if (isLoopback(src)) return this.options.hostLoopback ? this.options.gateway : undefined;
    if (inSubnet(src, this.options.network, this.options.netmask)) return undefined;
    return src;
  }

  // ------------------------------------------------------------------ DHCP

  private dhcpInput(udp: UdpPacket, now: number): void {
    let req;
    try {
      req = parseDhcp(DhcpPacket.wrap(udp.payload));
    } catch (e) {
      return this.dropWire(e, 'dhcp-malformed');
    }
    const reply = this.dhcp.handle(req, now);
    if (!reply) {
      this.counters.drop(req.messageType === DHCPDISCOVER ? 'dhcp-pool-exhausted' : 'dhcp-ignored');
      return;
    }
    const t = reply.repr.messageType;
    if (t === DHCPOFFER) this.counters.dhcpOffers++;
    else if (t === DHCPACK) this.counters.dhcpAcks++;
    else if (t === DHCPNAK) this.counters.dhcpNaks++;
    if (t === DHCPACK && reply.repr.yiaddr) {
      this.arp.learn(reply.repr.yiaddr, req.chaddr);
      this.link.resolved(reply.repr.yiaddr, req.chaddr);
    }
    const len = dhcpLen(reply.repr);
    this.link.sendIpv4(this.options.gateway, reply.dstIp, IP_PROTO_UDP, UDP_HEADER_LEN + len, (buf, off, s, d) => {
      emitDhcp(reply.repr, buf, off + UDP_HEADER_LEN);
      emitUdpHeader({ srcPort: DHCP_SERVER_PORT, dstPort: DHCP_CLIENT_PORT }, s, d, len, buf, off);
    }, now, reply.dstMac);
  }

  // ------------------------------------------------------------------ DNS

  private dnsQuery(guestIp: Ipv4Address, guestPort: number, msg: Uint8Array, now: number): void {
    const r = this.dns.query(guestIp, guestPort, msg, now);
    if ('drop' in r) return this.counters.drop(r.drop);
    if (this.dnsHandle === 0) {
      this.dnsHandle = this.nextHandle++;
      this.host.udpOpen(this.dnsHandle, 0, 0);
    }
    this.counters.dnsQueries++;
    this.host.udpSend(this.dnsHandle, r.resolver.addr, r.resolver.port, r.send);
    this.arm(this.dns.nextDeadline());
  }

  // ------------------------------------------------------------------ TCP

  private tcpInput(ip: Ipv4Packet, now: number): void {
    let seg: TcpPacket;
    try {
      seg = TcpPacket.wrap(ip.payload);
    } catch (e) {
      return this.dropWire(e, 'tcp-malformed');
    }
    if (!this.l4ChecksumOffloaded && !seg.checksumValid(ip.src, ip.dst)) return this.counters.drop('tcp-bad-checksum');
    this.tcp.input(ip.src, ip.dst, seg, this.tcpDestination(ip.dst, seg.dstPort), now);
  }

  /** Where a new guest connection goes, or the drop reason for refusing it. */
  private tcpDestination(dst: Ipv4Address, port: number): { addr: Ipv4Address; port: number } | DropReason {
    const o = this.options;
    if (o.restrict) return 'restricted';
    if (dst === o.dns) {
      const r = o.resolvers[0];
      if (port !== DNS_PORT || !r) return r ? 'ip-no-route' : 'dns-no-resolver';
      return { addr: r.addr, port: r.port };
    }
    const real = this.translateOut(dst);
    if (real === undefined) return 'host-loopback-disabled';
    return { addr: real, port };
  }

  // ------------------------------------------------------------------ ICMP

  private icmpInput(ip: Ipv4Packet, now: number): void {
    let icmp: Icmpv4Packet;
    try {
      icmp = Icmpv4Packet.wrap(ip.payload);
    } catch (e) {
      return this.dropWire(e, 'icmp-malformed');
    }
    if (!icmp.checksumValid) return this.counters.drop('icmp-bad-checksum');
    if (icmp.type !== ICMP_ECHO_REQUEST || icmp.code !== 0) return this.counters.drop('icmp-unsupported');
    const o = this.options;
    const dst = ip.dst;
    if (dst === o.dns || (dst === o.gateway && !o.hostLoopback)) return this.echoLocally(ip, icmp, now);
    if (o.restrict) return this.counters.drop('restricted');
    const real = this.translateOut(dst);
    if (real === undefined) return this.counters.drop('host-loopback-disabled');
    if (!this.host.icmpAvailable) {
      if (!this.icmpWarned) {
        this.icmpWarned = true;
        this.host.log('warn', `icmp: cannot forward echo requests (${this.host.icmpUnavailableReason ?? 'no ICMP socket'}); only ${formatIpv4(o.gateway)} and ${formatIpv4(o.dns)} answer pings`);
      }
      if (dst === o.gateway) return this.echoLocally(ip, icmp, now);
      return this.counters.drop('icmp-unavailable');
    }
    const known = this.icmp.size;
    const m = this.icmp.map(ip.src, icmp.echoIdent, dst, real, now);
    if (!m) return this.counters.drop('icmp-table-full');
    if (this.icmp.size > known) this.host.log('debug', `icmp echo flow: ${formatIpv4(ip.src)} id ${icmp.echoIdent} -> ${formatIpv4(dst)} (host ${formatIpv4(real)}, id ${m.hostId})`);
    const msg = icmp.bytes.slice();
    put16(msg, 4, m.hostId);
    put16(msg, 2, checksumUpdate16(get16(msg, 2), icmp.echoIdent, m.hostId)); // RFC 1624
    this.icmp.sent(m, icmp.echoSeq);
    this.counters.icmpEchoForwarded++;
    this.host.icmpSend(real, msg);
    this.arm(this.icmp.nextDeadline());
  }

  private echoLocally(ip: Ipv4Packet, icmp: Icmpv4Packet, now: number): void {
    this.counters.icmpEchoLocal++;
    const data = icmp.data;
    this.link.sendIpv4(ip.dst, ip.src, IP_PROTO_ICMP, 8 + data.length, (buf, off) => {
      emitIcmpv4({ type: ICMP_ECHO_REPLY, code: 0, rest: icmp.rest, data }, buf, off);
    }, now);
  }

  /** An ICMP error to the guest about a datagram it sent (`original`: its IP header and more). */
  private sendIcmpError(type: number, code: number, from: Ipv4Address, original: Uint8Array, now: number): void {
    const ihl = (original[0]! & 0xf) * 4;
    const quote = original.subarray(0, Math.min(original.length, ihl + 8)); // RFC 792: header + 64 bits
    const to = get16(original, 12) * 65536 + get16(original, 14);
    this.link.sendIpv4(from, to >>> 0, IP_PROTO_ICMP, 8 + quote.length, (buf, off) => {
      emitIcmpv4({ type, code, rest: 0, data: quote }, buf, off);
    }, now);
  }

  private portUnreachable(ip: Ipv4Packet, now: number): void {
    this.counters.drop('ip-no-route');
    this.sendIcmpError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_PORT, ip.dst, ip.bytes.subarray(0, ip.totalLen), now);
  }

  private prohibited(ip: Ipv4Packet, now: number): void {
    this.counters.drop('host-loopback-disabled');
    this.sendIcmpError(ICMP_DEST_UNREACHABLE, ICMP_UNREACH_ADMIN_PROHIBITED, ip.dst, ip.bytes.subarray(0, ip.totalLen), now);
  }

  // ------------------------------------------------------------------ host events

  hostUdpOpened(handle: number, localPort: number, now: number): number {
    this.lastNow = now;
    if (handle !== this.dnsHandle) this.udp.opened(handle, localPort);
    return this.earliest;
  }

  hostUdpReceived(handle: number, srcAddr: Ipv4Address, srcPort: number, payload: Uint8Array, now: number): number {
    this.lastNow = now;
    if (this.closed) return Infinity;
    if (handle === this.dnsHandle) {
      const r = this.dns.answer(srcAddr, srcPort, payload);
      if ('drop' in r) this.counters.drop(r.drop);
      else {
        this.counters.dnsAnswers++;
        this.sendUdp(this.options.dns, DNS_PORT, r.guestIp, r.guestPort, r.deliver);
      }
      return this.earliest;
    }
    this.udp.received(handle, srcAddr, srcPort, payload, now, (a) => this.translateIn(a));
    this.arm(this.udp.nextDeadline());
    return this.earliest;
  }

  hostUdpError(handle: number, reason: string, now: number): number {
    this.lastNow = now;
    if (handle === this.dnsHandle) {
      this.host.log('warn', `dns: upstream socket failed: ${reason}`);
      this.dnsHandle = 0;
    } else this.udp.failed(handle, reason);
    return this.earliest;
  }

  hostTcpConnected(handle: number, now: number): number {
    this.lastNow = now;
    this.tcp.hostConnected(handle, now);
    return this.earliest;
  }

  hostTcpAccepted(listener: number, handle: number, peerAddr: Ipv4Address, peerPort: number, now: number): number {
    this.lastNow = now;
    if (this.closed) {
      this.host.tcpClose(handle, true);
      return Infinity;
    }
    this.tcp.hostAccepted(listener, handle, peerAddr, peerPort, now);
    return this.earliest;
  }

  /** A fresh handle for the adapter to name an accepted socket. */
  allocHandle(): number {
    return this.nextHandle++;
  }

  /** The adapter bound a hostfwd TCP listener (its port may have been ephemeral). */
  hostTcpListening(handle: number, port: number): void {
    this.tcp.listenerBound(handle, port);
  }

  hostTcpData(handle: number, data: Uint8Array, now: number): number {
    this.lastNow = now;
    this.tcp.hostData(handle, data, now);
    return this.earliest;
  }

  hostTcpEnd(handle: number, now: number): number {
    this.lastNow = now;
    this.tcp.hostEnd(handle, now);
    return this.earliest;
  }

  hostTcpDrained(handle: number, buffered: number, now: number): number {
    this.lastNow = now;
    this.tcp.hostDrained(handle, buffered);
    return this.earliest;
  }

  hostTcpClosed(handle: number, error: string | undefined, now: number): number {
    this.lastNow = now;
    this.tcp.hostClosed(handle, error, now);
    return this.earliest;
  }

  hostIcmpReceived(srcAddr: Ipv4Address, message: Uint8Array, now: number): number {
    this.lastNow = now;
    if (this.closed) return Infinity;
    let icmp: Icmpv4Packet;
    try {
      icmp = Icmpv4Packet.wrap(message);
    } catch {
      this.counters.drop('icmp-malformed');
      return this.earliest;
    }
    if (icmp.type === ICMP_ECHO_REPLY) {
      const m = this.icmp.matchReply(icmp.echoIdent, srcAddr, icmp.echoSeq);
      if (!m) return this.earliest; // someone else's ping (or a duplicate): not ours to count
      const data = icmp.data;
      this.link.sendIpv4(m.virtualDst, m.guestIp, IP_PROTO_ICMP, 8 + data.length, (buf, off) => {
        emitIcmpv4({ type: ICMP_ECHO_REPLY, code: 0, rest: ((m.guestId << 16) | icmp.echoSeq) >>> 0, data }, buf, off);
      }, now);
      return this.earliest;
    }
    if (isIcmpError(icmp.type)) this.relayIcmpError(srcAddr, icmp, now);
    return this.earliest;
  }

  /**
   * An ICMP error reached the host about something we sent: find the guest flow it is about from
   * the quoted header (our echo id or our UDP socket's port), rebuild the quote as the guest sent
   * it, and pass the error on (libslirp ≥ 4.4 does the same).
   */
  private relayIcmpError(srcAddr: Ipv4Address, icmp: Icmpv4Packet, now: number): void {
    const q = icmp.data;
    if (q.length < 28 || q[0]! >>> 4 !== 4) return this.counters.drop('icmp-malformed');
    const ihl = (q[0]! & 0xf) * 4;
    if (ihl < 20 || q.length < ihl + 8) return this.counters.drop('icmp-malformed');
    const proto = q[9]!;
    const realDst = get16(q, 16) * 65536 + get16(q, 18);
    let guestIp: Ipv4Address;
    let virtualDst: Ipv4Address | undefined;
    const l4 = new Uint8Array(8);
    l4.set(q.subarray(ihl, ihl + 8));
    if (proto === IP_PROTO_ICMP && q[ihl] === ICMP_ECHO_REQUEST) {
      const m = this.icmp.lookup(get16(q, ihl + 4));
      if (!m || m.realDst !== realDst) return this.counters.drop('icmp-unmatched');
      guestIp = m.guestIp;
      virtualDst = m.virtualDst;
      put16(l4, 4, m.guestId);
      put16(l4, 2, checksumUpdate16(get16(l4, 2), m.hostId, m.guestId));
    } else if (proto === IP_PROTO_UDP) {
      const flow = this.udp.flowByLocalPort(get16(q, ihl));
      if (!flow) return this.counters.drop('icmp-unmatched');
      guestIp = flow.guestIp;
      virtualDst = realDst === LOOPBACK ? (this.options.hostLoopback ? this.options.gateway : undefined) : realDst;
      put16(l4, 0, flow.guestPort);
      put16(l4, 6, 0); // the quoted checksum would be wrong after rewriting; 0 = none (RFC 768)
    } else {
      return this.counters.drop('icmp-unmatched');
    }
    const from = srcAddr === LOOPBACK || srcAddr === realDst ? virtualDst : this.translateIn(srcAddr);
    if (virtualDst === undefined || from === undefined) return this.counters.drop('icmp-unmatched');
    // The quote: an IPv4 header as the guest sent it, then the first 8 bytes of its L4 header.
    const quote = new Uint8Array(28);
    quote.set(q.subarray(0, 20));
    quote[0] = 0x45;
    put16(quote, 2, Math.max(28, get16(q, 2) - (ihl - 20)));
    put32(quote, 12, guestIp);
    put32(quote, 16, virtualDst);
    put16(quote, 10, 0);
    quote.set(l4, 20);
    this.counters.icmpErrorsRelayed++;
    this.link.sendIpv4(from, guestIp, IP_PROTO_ICMP, 8 + quote.length, (buf, off) => {
      emitIcmpv4({ type: icmp.type, code: icmp.code, rest: icmp.rest, data: quote }, buf, off);
    }, now);
  }

  // ------------------------------------------------------------------ introspection

  /**
   * A plain-JSON picture of the stack at `now` (libslirp's connection_info / neighbor_info):
   * DHCP leases, the guest's neighbours, UDP flows, TCP connections, and the counters.
   */
  describe(now: number): SlirpDescription {
    const tcp = this.tcp.list().map((c) => ({
      guest: `${formatIpv4(c.guestIp)}:${c.guestPort}`,
      remote: `${formatIpv4(c.virtualIp)}:${c.virtualPort}`,
      state: c.state,
      unacknowledged: c.sendQueue.length,
      hostBuffered: c.hostBuffered,
    }));
    return {
      leases: this.dhcp.list().map((l) => ({ addr: formatIpv4(l.addr), mac: l.mac, state: l.state, expiresInMs: Math.max(0, l.expires - now) })),
      neighbours: this.arp.list().map(([a, mac]) => ({ addr: formatIpv4(a), mac: formatMacAddress(mac) })),
      udp: this.udp.list(now),
      tcp,
      dnsPending: this.dns.size,
      icmpEchoFlows: this.icmp.size,
      reassemblies: this.reassembler.active,
      counters: this.counters.snapshot(),
    };
  }

  // ------------------------------------------------------------------ time

  /** Runs every expired timer; returns the next deadline. */
  poll(now: number): number {
    this.lastNow = now;
    if (this.closed) return Infinity;
    this.reassembler.expire(now);
    this.counters.activeReassemblies = this.reassembler.active;
    const retries: DnsRetry[] = [];
    const stale = this.dns.expire(now, retries);
    for (let i = 0; i < stale; i++) this.counters.drop('dns-timeout');
    for (const r of retries) {
      this.host.log('debug', `dns: no answer in ${this.options.dnsTimeoutMs} ms, asking ${formatIpv4(r.resolver.addr)}:${r.resolver.port}`);
      this.host.udpSend(this.dnsHandle, r.resolver.addr, r.resolver.port, r.send);
    }
    this.icmp.expire(now);
    this.udp.expire(now);
    this.tcp.poll(now);
    this.link.expire(now);
    this.earliest = Math.min(
      this.reassembler.nextDeadline(),
      this.dns.nextDeadline(),
      this.icmp.nextDeadline(),
      this.udp.nextDeadline(),
      this.tcp.nextDeadline(),
      this.link.nextDeadline(),
    );
    return this.earliest;
  }

  /** The next deadline without running anything. */
  get nextDeadline(): number {
    return this.earliest;
  }

  /** Closes every host socket; the stack ignores everything afterwards. */
  close(): void {
    if (this.closed) return;
    this.tcp.close();
    this.udp.close();
    if (this.dnsHandle !== 0) this.host.udpClose(this.dnsHandle);
    this.closed = true;
  }

  private arm(t: number): void {
    if (t < this.earliest) this.earliest = t;
  }

  private dropWire(e: unknown, fallback: DropReason): void {
    if (!(e instanceof WireError)) throw e;
    if (e.reason === 'bad-option' && fallback === 'ip-malformed') this.counters.drop('ip-bad-option');
    else this.counters.drop(fallback);
  }
}
