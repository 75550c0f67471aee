import {
  BOOTP_FLAG_BROADCAST, BOOTP_REPLY, BOOTP_REQUEST, DHCPACK, DHCPDECLINE, DHCPDISCOVER, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPRELEASE, DHCPREQUEST,
  IPV4_BROADCAST, MAC_BROADCAST, formatIpv4, formatMacAddress, type DhcpRepr, type Ipv4Address,
} from '@netbe/wire';
import type { SlirpOptions } from './options';

export interface Lease {
  addr: Ipv4Address;
  mac: string;
  /** Offered but not yet requested, or bound. */
  state: 'offered' | 'bound' | 'declined';
  expires: number;
}

/** Where the reply goes (RFC 2131 §4.1) and what it says. */
export interface DhcpReply {
  repr: DhcpRepr;
  dstIp: Ipv4Address;
  dstMac: Uint8Array;
}

const OFFER_HOLD_MS = 60_000;

/**
 * A DHCPv4 server (RFC 2131/2132) over a fixed pool of `dhcpPoolSize` addresses from
 * `dhcpStart` (libslirp: 16). Leases are keyed by the client hardware address. Handles DISCOVER,
 * REQUEST (selecting, init-reboot, renewing, rebinding), DECLINE, RELEASE and INFORM; BOOTP
 * clients (no message type) are answered like a REQUEST, as libslirp does.
 */
export class DhcpServer {
  private readonly leases = new Map<Ipv4Address, Lease>();

  constructor(
    private readonly o: SlirpOptions,
    private readonly log: (msg: string) => void = () => undefined,
  ) {}

  /** The current leases (for dumps and tests). */
  list(): Lease[] {
    return [...this.leases.values()];
  }

  handle(req: DhcpRepr, now: number): DhcpReply | undefined {
    if (req.op !== BOOTP_REQUEST) return undefined;
    const mac = formatMacAddress(req.chaddr);
    const type = req.messageType ?? DHCPREQUEST;
    switch (type) {
      case DHCPDISCOVER: {
        const addr = this.pick(mac, req.requestedIp, now);
        if (addr === undefined) return undefined;
        this.leases.set(addr, { addr, mac, state: 'offered', expires: now + OFFER_HOLD_MS });
        this.log(`dhcp: offer ${formatIpv4(addr)} to ${mac}`);
        return this.reply(req, DHCPOFFER, addr);
      }
      case DHCPREQUEST:
        return this.request(req, mac, now);
      case DHCPDECLINE: {
        const l = req.requestedIp !== undefined ? this.leases.get(req.requestedIp) : undefined;
        if (l && l.mac === mac) {
          l.state = 'declined';
          l.expires = now + this.o.leaseTime * 1000;
          this.log(`dhcp: ${mac} declined ${formatIpv4(l.addr)}`);
        }
        return undefined;
      }
      case DHCPRELEASE: {
        const l = this.leases.get(req.ciaddr ?? 0);
        if (l && l.mac === mac) {
          this.leases.delete(l.addr);
          this.log(`dhcp: ${mac} released ${formatIpv4(l.addr)}`);
        }
        return undefined;
      }
      case DHCPINFORM: {
        // RFC 2131 §3.4: no yiaddr, no lease time, sent to ciaddr.
        const r = this.reply(req, DHCPACK, 0);
        delete r.repr.leaseTime;
        return r;
      }
      default:
        return undefined;
    }
  }

  private request(req: DhcpRepr, mac: string, now: number): DhcpReply | undefined {
    const ours = this.o.gateway;
    if (req.serverId !== undefined && req.serverId !== ours) {
      // The client chose another server (RFC 2131 §4.3.2): forget our offer.
      for (const l of this.leases.values()) if (l.mac === mac && l.state === 'offered') this.leases.delete(l.addr);
      return undefined;
    }
    const wanted = req.requestedIp ?? (req.ciaddr || undefined);
    if (wanted === undefined) return this.nak(req, 'no address requested');
    if (!this.inPool(wanted)) return this.nak(req, `${formatIpv4(wanted)} is not in the pool`);
    const l = this.leases.get(wanted);
    if (l && l.mac !== mac && l.expires > now && l.state !== 'offered') return this.nak(req, `${formatIpv4(wanted)} is leased to another client`);
    if (l && l.mac !== mac && l.state === 'offered' && l.expires > now) return this.nak(req, `${formatIpv4(wanted)} is offered to another client`);
    // One address per client: drop any other lease this MAC holds.
    for (const other of this.leases.values()) if (other.mac === mac && other.addr !== wanted) this.leases.delete(other.addr);
    this.leases.set(wanted, { addr: wanted, mac, state: 'bound', expires: now + this.o.leaseTime * 1000 });
    this.log(`dhcp: ack ${formatIpv4(wanted)} to ${mac}`);
    return this.reply(req, DHCPACK, wanted);
  }

  private nak(req: DhcpRepr, why: string): DhcpReply {
    this.log(`dhcp: nak to ${formatMacAddress(req.chaddr)}: ${why}`);
    // RFC 2131 §4.3.2: a NAK is broadcast (libslirp once asserted on NAK to 0.0.0.0).
    return {
      repr: { op: BOOTP_REPLY, xid: req.xid, flags: BOOTP_FLAG_BROADCAST, chaddr: req.chaddr, messageType: DHCPNAK, serverId: this.o.gateway, message: why },
      dstIp: IPV4_BROADCAST,
      dstMac: MAC_BROADCAST,
    };
  }

  private inPool(a: Ipv4Address): boolean {
    return a >= this.o.dhcpStart && a < this.o.dhcpStart + this.o.dhcpPoolSize;
  }

  /** The client's address if it has one, else the requested one if free, else the first free slot. */
  private pick(mac: string, requested: Ipv4Address | undefined, now: number): Ipv4Address | undefined {
    for (const l of this.leases.values()) if (l.mac === mac && l.state !== 'declined') return l.addr;
    const free = (a: Ipv4Address): boolean => {
      const l = this.leases.get(a);
      return !l || l.expires <= now;
    };
    if (requested !== undefined && this.inPool(requested) && free(requested)) return requested;
    for (let i = 0; i < this.o.dhcpPoolSize; i++) {
      const a = (this.o.dhcpStart + i) >>> 0;
      if (free(a)) return a;
    }
    this.log(`dhcp: pool exhausted, no offer for ${mac}`);
    return undefined;
  }

  private reply(req: DhcpRepr, type: number, yiaddr: Ipv4Address): DhcpReply {
    const o = this.o;
    const repr: DhcpRepr = {
      op: BOOTP_REPLY,
      xid: req.xid,
      flags: req.flags ?? 0,
      ciaddr: req.ciaddr ?? 0,
      yiaddr,
      siaddr: o.gateway,
      giaddr: req.giaddr ?? 0,
      chaddr: req.chaddr,
      messageType: type,
      serverId: o.gateway,
      leaseTime: o.leaseTime,
      subnetMask: o.netmask,
      broadcast: (o.network | ~o.netmask) >>> 0,
      mtu: o.mtu,
    };
    if (!o.restrict) {
      // libslirp: no router or DNS for a restricted guest.
      repr.router = [o.gateway];
      repr.dns = [o.dns];
    }
    if (o.hostname !== undefined) repr.hostname = o.hostname;
    if (o.domainName !== undefined) repr.domainName = o.domainName;
    if (o.dnsSearch.length > 0) repr.domainSearch = o.dnsSearch;
    // RFC 2131 §4.1 delivery: ciaddr if set, else broadcast if asked, else unicast to yiaddr/chaddr.
    const ciaddr = req.ciaddr ?? 0;
    if (ciaddr !== 0) return { repr, dstIp: ciaddr, dstMac: req.chaddr };
    if (((req.flags ?? 0) & BOOTP_FLAG_BROADCAST) !== 0 || yiaddr === 0) return { repr, dstIp: IPV4_BROADCAST, dstMac: MAC_BROADCAST };
    return { repr, dstIp: yiaddr, dstMac: req.chaddr };
  }
}
