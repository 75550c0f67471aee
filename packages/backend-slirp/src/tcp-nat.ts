import {
  ICMP_DEST_UNREACHABLE, IP_PROTO_ICMP, IP_PROTO_TCP, emitIcmpv4, emitIpv4, put16, put32, TCP_ACK, TCP_RST, TCP_SYN, emitTcp, formatIpv4,
  type Ipv4Address, type TcpOptions, type TcpPacket, type TcpRepr,
} from '@netbe/wire';
import type { DropReason, SlirpCounters } from './counters';
import type { GuestLink } from './guest-link';
import type { SlirpHost } from './host';
import type { HostForward } from './options';
import { TcpConnection, type TcpEnv, type TcpStats } from './tcp-connection';

/** Half-open connections (handshake not complete) at most: a SYN flood cannot fill the table. */
export const TCP_MAX_HALF_OPEN = 256;
/** Bytes all connections' out-of-order queues may hold together. */
export const TCP_REORDER_BUDGET = 16 * 1024 * 1024;
/** Host bytes all connections' send queues may hold together (toward the guest, until acknowledged). */
export const TCP_SEND_BUDGET = 32 * 1024 * 1024;
/** Receive credit all connections may hold together: windows offered to the guest plus host sockets' backlogs. */
export const TCP_RECEIVE_BUDGET = 32 * 1024 * 1024;

/**
 * The TCP connection table: guest SYNs become host connects, hostfwd listeners' accepted
 * sockets become SYNs toward the guest, everything else without a connection gets a RST
 * (RFC 9293 §3.10.7.1). Bounded by `maxConnections` (a SYN beyond it is refused with RST).
 */
export class TcpNat implements TcpEnv {
  private readonly byKey = new Map<string, TcpConnection>();
  private readonly byHandle = new Map<number, TcpConnection>();
  private readonly listeners = new Map<number, HostForward>();
  private readonly usedVirtualPorts = new Set<number>();
  /** hostfwd connections: handle → the virtual port they hold. */
  private readonly virtualPortOf = new Map<number, number>();
  private nextVirtualPort = 49152;
  /** Connections waiting for room in the guest queue. */
  private readonly blocked = new Set<TcpConnection>();
  private readonly scratch: TcpRepr = { srcPort: 0, dstPort: 0, seq: 0, ack: 0, flags: 0, window: 0 };
  readonly stats: TcpStats = { timeouts: 0, fastRetransmits: 0, recoveryRetransmits: 0, outOfOrderSegments: 0, challengeAcks: 0, sackBlocksReceived: 0 };
  /** Bytes held in all reorder queues. */
  reorderBytes = 0;
  /** Bytes held in all send queues. */
  sendQueueBytes = 0;
  /** Receive credit held by all connections. */
  receiveCredit = 0;
  /** Connections told by `budgetFreed` when the send budget or the receive credit has room again. */
  private readonly sendBudgetWaiters = new Set<TcpConnection>();
  private readonly receiveCreditWaiters = new Set<TcpConnection>();
  /**
   * Connections created by a SYN (either way) that may still be in the handshake: the half-open
   * count without a walk over the whole table. Pruned only when it reaches the limit, so a SYN
   * costs at most {@link TCP_MAX_HALF_OPEN} checks, whatever the table size.
   */
  private readonly handshaking = new Set<TcpConnection>();
  /**
   * Connections that armed a deadline since they were last seen without one: the timer walks
   * these, not the whole table (an idle connection has no deadline).
   */
  private readonly timed = new Set<TcpConnection>();
  /**
   * The connection last called into: its {@link arm} calls are recorded against it. Set before
   * every call into a connection (only connections arm deadlines, and only while called).
   */
  private current: TcpConnection | undefined;
  /** A deadline armed outside any call into a connection: the next timer walk rescans the table. */
  private armedUnknown = false;
  /** A connection is being constructed: the deadline it arms is recorded by {@link add}. */
  private constructing = false;

  constructor(
    readonly host: SlirpHost,
    private readonly link: GuestLink,
    private readonly counters: SlirpCounters,
    private readonly allocHandle: () => number,
    private readonly gateway: Ipv4Address,
    private readonly mtu: number,
    private readonly maxConnections: number,
    private readonly random: () => number,
    private readonly armStack: (deadline: number) => void,
    private readonly clock: () => number,
  ) {}

  get size(): number {
    return this.byKey.size;
  }

  owns(handle: number): boolean {
    return this.byHandle.has(handle) || this.listeners.has(handle);
  }

  connection(handle: number): TcpConnection | undefined {
    return this.byHandle.get(handle);
  }

  /** Every connection (for dumps and tests). */
  list(): TcpConnection[] {
    return [...this.byKey.values()];
  }

  listen(rule: HostForward): number {
    const handle = this.allocHandle();
    this.listeners.set(handle, rule);
    this.host.tcpListen(handle, rule.hostAddr, rule.hostPort);
    return handle;
  }

  /**
   * A guest segment. `realDst` is where a new connection goes on the host (undefined: refuse
   * new connections to this destination, with `refuse` naming the reason).
   */
  input(srcIp: Ipv4Address, dstIp: Ipv4Address, seg: TcpPacket, realDst: { addr: Ipv4Address; port: number } | string, now: number): void {
    const key = `${srcIp}/${seg.srcPort}/${dstIp}/${seg.dstPort}`;
    const conn = this.byKey.get(key);
    if (conn && conn.state === 'TIME_WAIT' && (seg.flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN && ((seg.seq - conn.rcvNxt) | 0) > 0) {
      this.current = conn;
      conn.forget('a new SYN reused the port in TIME-WAIT (RFC 9293 §3.10.7.4)'); // then open the new connection below
    } else if (conn) {
      this.current = conn;
      conn.input(seg, now);
      return;
    }
    const flags = seg.flags;
    if (flags & TCP_RST) return;
    if ((flags & (TCP_SYN | TCP_ACK)) !== TCP_SYN) {
      this.counters.drop('tcp-no-connection');
      this.refuse(srcIp, dstIp, seg);
      return;
    }
    if (typeof realDst === 'string') {
      this.counters.drop(realDst as 'restricted');
      this.refuse(srcIp, dstIp, seg);
      return;
    }
    if (this.halfOpenCount() >= TCP_MAX_HALF_OPEN) {
      this.counters.drop('tcp-syn-backlog-full');
      this.refuse(srcIp, dstIp, seg);
      return;
    }
    if (this.byKey.size >= this.maxConnections && !this.evictTimeWait()) {
      this.counters.drop('tcp-table-full');
      this.refuse(srcIp, dstIp, seg);
      return;
    }
    const handle = this.allocHandle();
    const c = this.construct(handle, srcIp, seg.srcPort, dstIp, seg.dstPort, 'HOST_CONNECTING', now);
    this.add(c);
    this.current = c;
    c.acceptSyn(seg);
    this.host.log('debug', `tcp ${handle}: ${formatIpv4(srcIp)}:${seg.srcPort} -> ${formatIpv4(dstIp)}:${seg.dstPort} via ${formatIpv4(realDst.addr)}:${realDst.port}`);
    this.host.tcpConnect(handle, realDst.addr, realDst.port);
  }

  hostConnected(handle: number, now: number): void {
    const c = this.byHandle.get(handle);
    if (!c) return;
    this.current = c;
    c.hostConnected(now);
  }

  hostAccepted(listener: number, handle: number, peerAddr: Ipv4Address, peerPort: number, now: number): void {
    const rule = this.listeners.get(listener);
    if (!rule || (this.byKey.size >= this.maxConnections && !this.evictTimeWait())) {
      if (rule) this.counters.drop('tcp-table-full');
      this.host.tcpClose(handle, true);
      return;
    }
    const vport = this.allocVirtualPort();
    this.host.tcpPause(handle, true); // until the guest completes the handshake
    this.virtualPortOf.set(handle, vport);
    const c = this.construct(handle, rule.guestAddr, rule.guestPort, this.gateway, vport, 'SYN_SENT', now);
    this.add(c);
    this.host.log('debug', `tcp ${handle}: hostfwd ${formatIpv4(peerAddr)}:${peerPort} -> ${formatIpv4(rule.guestAddr)}:${rule.guestPort} as gateway:${vport}`);
  }

  hostData(handle: number, data: Uint8Array, now: number): void {
    const c = this.byHandle.get(handle);
    if (!c) return;
    this.current = c;
    c.hostData(data, now);
  }

  hostEnd(handle: number, now: number): void {
    const c = this.byHandle.get(handle);
    if (!c) return;
    this.current = c;
    c.hostEnd(now);
  }

  hostDrained(handle: number, buffered: number): void {
    const c = this.byHandle.get(handle);
    if (!c) return;
    this.current = c;
    c.hostDrained(buffered);
  }

  hostClosed(handle: number, error: string | undefined, now: number): void {
    if (this.listeners.has(handle)) {
      this.host.log('warn', `hostfwd tcp listener closed${error ? `: ${error}` : ''}`);
      this.listeners.delete(handle);
      return;
    }
    const c = this.byHandle.get(handle);
    if (!c) return;
    this.current = c;
    c.hostClosed(error, now);
  }

  listenerBound(handle: number, port: number): void {
    const rule = this.listeners.get(handle);
    if (rule) {
      rule.hostPort = port;
      this.host.log('info', `hostfwd tcp ${formatIpv4(rule.hostAddr)}:${port} -> ${formatIpv4(rule.guestAddr)}:${rule.guestPort}`);
    }
  }

  /** Runs expired timers (of the connections that armed one, not the whole table). */
  poll(now: number): void {
    if (this.armedUnknown) this.rescan();
    for (const c of [...this.timed]) {
      if (c.deadline > now && c.ackDeadline > now) continue;
      this.current = c;
      c.timeout(now);
    }
  }

  nextDeadline(): number {
    if (this.armedUnknown) this.rescan();
    let t = Infinity;
    for (const c of this.timed) {
      const d = Math.min(c.deadline, c.ackDeadline);
      if (d === Infinity || this.byHandle.get(c.handle) !== c) this.timed.delete(c); // re-added when it arms again
      else if (d < t) t = d;
    }
    return t;
  }

  close(): void {
    for (const c of [...this.byKey.values()]) {
      this.current = c;
      c.reset('backend closed');
    }
    for (const h of this.listeners.keys()) this.host.tcpClose(h, true);
    this.listeners.clear();
  }

  /** The guest took frames: connections that stopped for lack of room carry on. */
  linkDrained(now: number): void {
    if (this.blocked.size === 0) return;
    const waiting = [...this.blocked];
    this.blocked.clear();
    for (const c of waiting) {
      if (this.link.congested) {
        this.blocked.add(c);
        continue;
      }
      this.current = c;
      c.resume(now);
    }
  }

  // ---- TcpEnv ----

  arm(deadline: number): void {
    if (this.current !== undefined) this.timed.add(this.current);
    else if (!this.constructing) this.armedUnknown = true;
    this.armStack(deadline);
  }

  mayEmitData(c: TcpConnection): boolean {
    if (!this.link.congested) return true;
    this.blocked.add(c);
    return false;
  }

  emit(c: TcpConnection, flags: number, seq: number, ack: number, window: number, payloadOffset: number, payloadLen: number, options?: TcpOptions): void {
    const repr = this.scratch;
    repr.srcPort = c.virtualPort;
    repr.dstPort = c.guestPort;
    repr.seq = seq;
    repr.ack = ack;
    repr.flags = flags;
    repr.window = window;
    repr.options = options;
    this.link.sendTcp(c.virtualIp, c.guestIp, repr, c.sendQueue, payloadOffset, payloadLen, c.segmentSize, this.clock());
  }

  segmentLimit(): number {
    return this.link.tcpSegmentLimit;
  }

  drop(reason: DropReason): void {
    this.counters.drop(reason);
  }

  reserveReorder(bytes: number): boolean {
    if (this.reorderBytes + bytes > TCP_REORDER_BUDGET) return false;
    this.reorderBytes += bytes;
    return true;
  }

  releaseReorder(bytes: number): void {
    this.reorderBytes -= bytes;
  }

  sendQueued(delta: number): void {
    this.sendQueueBytes += delta;
    // Hysteresis: readers resume once a quarter of the budget is free again.
    if (delta < 0 && this.sendBudgetWaiters.size > 0 && this.sendQueueBytes <= (TCP_SEND_BUDGET * 3) >> 2) this.wake(this.sendBudgetWaiters);
  }

  sendBudgetFull(c: TcpConnection): boolean {
    if (this.sendQueueBytes < TCP_SEND_BUDGET) return false;
    if (!this.sendBudgetWaiters.has(c)) {
      this.counters.tcpSendBudgetWaits++;
      this.sendBudgetWaiters.add(c);
    }
    return true;
  }

  receiveCreditHeld(delta: number): void {
    this.receiveCredit += delta;
    if (delta < 0 && this.receiveCreditWaiters.size > 0 && this.receiveCredit <= (TCP_RECEIVE_BUDGET * 3) >> 2) this.wake(this.receiveCreditWaiters);
  }

  receiveCreditFree(c: TcpConnection): number {
    const free = Math.max(0, TCP_RECEIVE_BUDGET - this.receiveCredit);
    if (free < TCP_RECEIVE_BUDGET >> 2 && !this.receiveCreditWaiters.has(c)) {
      this.counters.tcpReceiveCreditWaits++;
      this.receiveCreditWaiters.add(c);
    }
    return free;
  }

  receiveCreditShare(): number {
    return Math.max(64 * 1024, Math.floor(TCP_RECEIVE_BUDGET / Math.max(1, this.byKey.size)));
  }

  /** Calls `budgetFreed` on each waiting connection (recording deadlines they arm against them). */
  private wake(waiters: Set<TcpConnection>): void {
    const list = [...waiters];
    waiters.clear();
    const caller = this.current;
    for (const c of list) {
      this.current = c;
      c.budgetFreed();
    }
    this.current = caller;
  }

  unreachable(c: TcpConnection, code: number): void {
    // RFC 792: the quote is the guest's SYN as it was sent — its IP header and the first 8 TCP bytes (ports, sequence).
    const quote = new Uint8Array(28);
    emitIpv4({ src: c.guestIp, dst: c.virtualIp, protocol: IP_PROTO_TCP, payloadLen: 20, ttl: 64 }, quote, 0);
    put16(quote, 20, c.guestPort);
    put16(quote, 22, c.virtualPort);
    put32(quote, 24, c.irs);
    this.counters.icmpErrorsRelayed++;
    this.link.sendIpv4(c.virtualIp, c.guestIp, IP_PROTO_ICMP, 8 + quote.length, (buf, off) => {
      emitIcmpv4({ type: ICMP_DEST_UNREACHABLE, code, rest: 0, data: quote }, buf, off);
    }, this.clock());
  }

  closed(c: TcpConnection, reason: string): void {
    this.blocked.delete(c);
    this.sendBudgetWaiters.delete(c);
    this.receiveCreditWaiters.delete(c);
    this.handshaking.delete(c);
    this.timed.delete(c);
    if (this.current === c) this.current = undefined;
    this.byKey.delete(c.key);
    this.byHandle.delete(c.handle);
    const vport = this.virtualPortOf.get(c.handle);
    if (vport !== undefined) {
      this.virtualPortOf.delete(c.handle);
      this.usedVirtualPorts.delete(vport);
    }
    this.counters.tcpConnectionsClosed++;
    this.counters.activeTcpConnections = this.byKey.size;
    this.host.log('debug', `tcp ${c.handle}: closed (${reason})`);
  }

  // ----

  private add(c: TcpConnection): void {
    this.byKey.set(c.key, c);
    this.byHandle.set(c.handle, c);
    if (c.halfOpen) this.handshaking.add(c);
    this.timed.add(c); // its constructor armed the handshake timer
    this.counters.tcpConnectionsOpened++;
    this.counters.activeTcpConnections = this.byKey.size;
  }

  /** RST for a segment with no connection (RFC 9293 §3.10.7.1). */
  private refuse(srcIp: Ipv4Address, dstIp: Ipv4Address, seg: TcpPacket): void {
    const flags = seg.flags;
    const segLen = seg.payload.length + (flags & TCP_SYN ? 1 : 0) + (flags & 1 ? 1 : 0);
    const repr: TcpRepr = flags & TCP_ACK
      ? { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: seg.ack, ack: 0, flags: TCP_RST, window: 0 }
      : { srcPort: seg.dstPort, dstPort: seg.srcPort, seq: 0, ack: (seg.seq + segLen) >>> 0, flags: TCP_RST | TCP_ACK, window: 0 };
    this.link.sendIpv4(dstIp, srcIp, IP_PROTO_TCP, 20, (buf, off, s, d) => emitTcp(repr, s, d, 0, buf, off), this.clock());
  }

  /** Connections still in the handshake (exact whenever it reaches the limit). */
  private halfOpenCount(): number {
    if (this.handshaking.size >= TCP_MAX_HALF_OPEN) for (const c of this.handshaking) if (!c.halfOpen) this.handshaking.delete(c);
    return this.handshaking.size;
  }

  private construct(handle: number, guestIp: Ipv4Address, guestPort: number, virtualIp: Ipv4Address, virtualPort: number, initial: 'HOST_CONNECTING' | 'SYN_SENT', now: number): TcpConnection {
    this.constructing = true;
    try {
      return new TcpConnection(this, handle, guestIp, guestPort, virtualIp, virtualPort, this.mtu, this.iss(), initial, now);
    } finally {
      this.constructing = false;
    }
  }

  /** Rebuilds {@link timed} from the whole table (after a deadline armed from an unknown caller). */
  private rescan(): void {
    this.armedUnknown = false;
    for (const c of this.byKey.values()) if (c.deadline !== Infinity || c.ackDeadline !== Infinity) this.timed.add(c);
  }

  /** Frees the table slot of the oldest TIME-WAIT connection (RFC 6191 spirit: TIME-WAIT yields to new work). */
  private evictTimeWait(): boolean {
    for (const c of this.byKey.values()) {
      if (c.state === 'TIME_WAIT') {
        this.current = c;
        c.forget('evicted from TIME-WAIT: table full');
        return true;
      }
    }
    return false;
  }

  private iss(): number {
    return Math.floor(this.random() * 0x100000000) >>> 0;
  }

  private allocVirtualPort(): number {
    for (let i = 0; i < 16384; i++) {
      const p = this.nextVirtualPort;
      this.nextVirtualPort = p >= 65535 ? 49152 : p + 1;
      if (!this.usedVirtualPorts.has(p)) {
        this.usedVirtualPorts.add(p);
        return p;
      }
    }
    return 49152;
  }
}
