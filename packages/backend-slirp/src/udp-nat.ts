import { formatIpv4, type Ipv4Address } from '@netbe/wire';
import type { SlirpCounters } from './counters';
import type { SlirpHost } from './host';
import type { HostForward } from './options';

/** Delivers a datagram to the guest (the stack builds the frame). */
export type UdpToGuest = (srcIp: Ipv4Address, srcPort: number, dstIp: Ipv4Address, dstPort: number, payload: Uint8Array) => void;

interface OutboundFlow {
  kind: 'nat';
  handle: number;
  guestIp: Ipv4Address;
  guestPort: number;
  /** The host port, once bound (0 before). */
  localPort: number;
  /** Real peers the guest has sent to: only they may answer (address- and port-dependent filtering, RFC 4787). */
  peers: Set<number>;
  lastUse: number;
}

interface InboundFlow {
  kind: 'fwd';
  listener: number;
  remoteAddr: Ipv4Address;
  remotePort: number;
  guestIp: Ipv4Address;
  guestPort: number;
  /** The port on the gateway address the guest sees the remote as. */
  virtualPort: number;
  lastUse: number;
}

const MAX_PEERS = 64;
const peerKey = (addr: Ipv4Address, port: number): number => addr * 65536 + port;
const VPORT_BASE = 49152;

/**
 * UDP NAT. Outbound: one host socket per guest source (address, port) — endpoint-independent
 * mapping like libslirp — with replies accepted only from peers the guest contacted. Inbound
 * (hostfwd): a listening socket per rule; each remote peer gets a virtual port on the gateway
 * address so the guest's replies find their way back. Both tables share one bound
 * (`maxFlows`, least-recently-used evicted, counted) and an idle timeout.
 */
export class UdpNat {
  /** Keyed by guest address × 65536 + port (a number: no string per packet). */
  private readonly outbound = new Map<number, OutboundFlow>();
  private readonly byHandle = new Map<number, OutboundFlow>();
  private readonly inbound = new Map<string, InboundFlow>();
  private readonly byVirtualPort = new Map<number, InboundFlow>();
  private readonly listeners = new Map<number, HostForward>();
  private nextVirtualPort = VPORT_BASE;

  constructor(
    private readonly host: SlirpHost,
    private readonly counters: SlirpCounters,
    private readonly allocHandle: () => number,
    private readonly toGuest: UdpToGuest,
    private readonly gateway: Ipv4Address,
    private readonly maxFlows: number,
    private readonly idleMs: number,
  ) {}

  get size(): number {
    return this.outbound.size + this.inbound.size;
  }

  /** The flow table, for dumps: outbound flows and hostfwd peers. */
  list(now: number): Array<{ kind: 'nat' | 'fwd'; guest: string; remote: string; localPort?: number; virtualPort?: number; idleMs: number }> {
    const out: Array<{ kind: 'nat' | 'fwd'; guest: string; remote: string; localPort?: number; virtualPort?: number; idleMs: number }> = [];
    for (const f of this.outbound.values()) {
      out.push({ kind: 'nat', guest: `${formatIpv4(f.guestIp)}:${f.guestPort}`, remote: `${f.peers.size} peer(s)`, localPort: f.localPort, idleMs: now - f.lastUse });
    }
    for (const f of this.inbound.values()) {
      out.push({ kind: 'fwd', guest: `${formatIpv4(f.guestIp)}:${f.guestPort}`, remote: `${formatIpv4(f.remoteAddr)}:${f.remotePort}`, virtualPort: f.virtualPort, idleMs: now - f.lastUse });
    }
    return out;
  }

  owns(handle: number): boolean {
    return this.byHandle.has(handle) || this.listeners.has(handle);
  }

  /** Opens the listening socket of a UDP hostfwd rule. */
  listen(rule: HostForward): number {
    const handle = this.allocHandle();
    this.listeners.set(handle, rule);
    this.host.udpOpen(handle, rule.hostAddr, rule.hostPort);
    return handle;
  }

  /** A guest datagram to gateway:`virtualPort` that answers a hostfwd peer; false when none matches. */
  replyToForward(guestIp: Ipv4Address, guestPort: number, virtualPort: number, payload: Uint8Array, now: number): boolean {
    const fwd = this.byVirtualPort.get(virtualPort);
    if (!fwd || fwd.guestIp !== guestIp || fwd.guestPort !== guestPort) return false;
    this.touch(this.inbound, `${fwd.listener}/${fwd.remoteAddr}/${fwd.remotePort}`, fwd, now);
    this.host.udpSend(fwd.listener, fwd.remoteAddr, fwd.remotePort, payload.slice());
    this.counters.udpDatagramsOut++;
    return true;
  }

  /** A guest datagram whose real destination is `dstAddr` (already translated). */
  send(guestIp: Ipv4Address, guestPort: number, dstAddr: Ipv4Address, dstPort: number, payload: Uint8Array, now: number): void {
    const key = guestIp * 65536 + guestPort;
    let flow = this.outbound.get(key);
    if (!flow) {
      this.makeRoom();
      flow = { kind: 'nat', handle: this.allocHandle(), guestIp, guestPort, localPort: 0, peers: new Set(), lastUse: now };
      this.outbound.set(key, flow);
      this.byHandle.set(flow.handle, flow);
      this.counters.udpFlowsOpened++;
      this.counters.activeUdpFlows = this.size;
      this.host.log('debug', `udp flow ${flow.handle}: ${formatIpv4(guestIp)}:${guestPort} opened (first to ${formatIpv4(dstAddr)}:${dstPort})`);
      this.host.udpOpen(flow.handle, 0, 0);
    } else {
      this.touch(this.outbound, key, flow, now);
    }
    if (flow.peers.size < MAX_PEERS) flow.peers.add(peerKey(dstAddr, dstPort));
    this.counters.udpDatagramsOut++;
    this.host.udpSend(flow.handle, dstAddr, dstPort, payload.slice()); // the host queues until bound
  }

  opened(handle: number, localPort: number): void {
    const flow = this.byHandle.get(handle);
    if (!flow) {
      const rule = this.listeners.get(handle);
      if (rule) {
        rule.hostPort = localPort; // an ephemeral port becomes known
        this.host.log('info', `hostfwd udp ${formatIpv4(rule.hostAddr)}:${localPort} -> ${formatIpv4(rule.guestAddr)}:${rule.guestPort}`);
      }
      return;
    }
    flow.localPort = localPort;
  }

  /**
   * A datagram from the host side; `translateSrc` maps a real source to what the guest sees
   * (127.0.0.1 → gateway), or undefined to drop it.
   */
  received(handle: number, srcAddr: Ipv4Address, srcPort: number, payload: Uint8Array, now: number, translateSrc: (a: Ipv4Address) => Ipv4Address | undefined): void {
    const flow = this.byHandle.get(handle);
    if (flow) {
      if (!flow.peers.has(peerKey(srcAddr, srcPort))) {
        this.counters.drop('udp-unsolicited');
        return;
      }
      const src = translateSrc(srcAddr);
      if (src === undefined) {
        this.counters.drop('udp-unsolicited');
        return;
      }
      this.touch(this.outbound, flow.guestIp * 65536 + flow.guestPort, flow, now);
      this.counters.udpDatagramsIn++;
      this.toGuest(src, srcPort, flow.guestIp, flow.guestPort, payload);
      return;
    }
    const rule = this.listeners.get(handle);
    if (!rule) return;
    const key = `${handle}/${srcAddr}/${srcPort}`;
    let fwd = this.inbound.get(key);
    if (!fwd) {
      this.makeRoom();
      const virtualPort = this.allocVirtualPort();
      fwd = { kind: 'fwd', listener: handle, remoteAddr: srcAddr, remotePort: srcPort, guestIp: rule.guestAddr, guestPort: rule.guestPort, virtualPort, lastUse: now };
      this.inbound.set(key, fwd);
      this.byVirtualPort.set(virtualPort, fwd);
      this.counters.udpFlowsOpened++;
      this.counters.activeUdpFlows = this.size;
      this.host.log('debug', `udp hostfwd flow: ${formatIpv4(srcAddr)}:${srcPort} -> ${formatIpv4(rule.guestAddr)}:${rule.guestPort} as gateway:${virtualPort}`);
    } else {
      this.touch(this.inbound, key, fwd, now);
    }
    this.counters.udpDatagramsIn++;
    this.toGuest(this.gateway, fwd.virtualPort, fwd.guestIp, fwd.guestPort, payload);
  }

  /** The socket failed: the flow is closed (the guest's next datagram opens a new one). */
  failed(handle: number, reason: string): void {
    const flow = this.byHandle.get(handle);
    if (flow) {
      this.host.log('debug', `udp flow ${handle}: socket error ${reason}`);
      this.counters.drop('udp-socket-error');
      this.closeOutbound(flow);
    } else if (this.listeners.has(handle)) {
      this.host.log('warn', `hostfwd udp listener failed: ${reason}`);
    }
  }

  /** The outbound flow owning host `localPort` (for ICMP errors quoting our datagrams). */
  flowByLocalPort(localPort: number): { guestIp: Ipv4Address; guestPort: number } | undefined {
    for (const f of this.outbound.values()) if (f.localPort === localPort && localPort !== 0) return f;
    return undefined;
  }

  expire(now: number): void {
    for (const f of this.outbound.values()) {
      if (f.lastUse + this.idleMs > now) break; // LRU order: the rest are younger
      this.counters.udpFlowsExpired++;
      this.host.log('debug', `udp flow ${f.handle}: idle, closed`);
      this.closeOutbound(f);
    }
    for (const [key, f] of this.inbound) {
      if (f.lastUse + this.idleMs > now) break;
      this.counters.udpFlowsExpired++;
      this.inbound.delete(key);
      this.byVirtualPort.delete(f.virtualPort);
    }
    this.counters.activeUdpFlows = this.size;
  }

  nextDeadline(): number {
    let t = Infinity;
    for (const f of this.outbound.values()) {
      t = f.lastUse + this.idleMs;
      break;
    }
    for (const f of this.inbound.values()) {
      t = Math.min(t, f.lastUse + this.idleMs);
      break;
    }
    return t;
  }

  close(): void {
    for (const f of [...this.outbound.values()]) this.closeOutbound(f);
    for (const h of this.listeners.keys()) this.host.udpClose(h);
    this.listeners.clear();
    this.inbound.clear();
    this.byVirtualPort.clear();
  }

  private touch<K, T extends { lastUse: number }>(map: Map<K, T>, key: K, flow: T, now: number): void {
    flow.lastUse = now;
    map.delete(key); // re-insert: Map order is the LRU order
    map.set(key, flow);
  }

  private makeRoom(): void {
    while (this.size >= this.maxFlows) {
      this.counters.drop('udp-flow-evicted');
      const o = this.outbound.values().next().value as OutboundFlow | undefined;
      const i = this.inbound.values().next().value as InboundFlow | undefined;
      if (o && (!i || o.lastUse <= i.lastUse)) this.closeOutbound(o);
      else if (i) {
        this.inbound.delete(`${i.listener}/${i.remoteAddr}/${i.remotePort}`);
        this.byVirtualPort.delete(i.virtualPort);
      } else break;
    }
  }

  private closeOutbound(f: OutboundFlow): void {
    this.outbound.delete(f.guestIp * 65536 + f.guestPort);
    this.byHandle.delete(f.handle);
    this.host.udpClose(f.handle);
    this.counters.activeUdpFlows = this.size;
  }

  private allocVirtualPort(): number {
    for (let i = 0; i < 65536 - VPORT_BASE; i++) {
      const p = this.nextVirtualPort;
      this.nextVirtualPort = p >= 65535 ? VPORT_BASE : p + 1;
      if (!this.byVirtualPort.has(p)) return p;
    }
    return VPORT_BASE; // unreachable while maxFlows < 16384
  }
}
