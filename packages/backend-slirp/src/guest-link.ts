import {
  ARP_REQUEST, ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPV4_BROADCAST, IPV4_HEADER_LEN, MAC_BROADCAST, MAC_ZERO,
  emitArp, emitEthernet, emitIpv4, type Ipv4Address,
} from '@netbe/wire';
import type { ArpCache } from './arp-cache';
import type { SlirpCounters } from './counters';

/** Writes the layer-4 bytes (header + payload) of `len` bytes at `buf[offset..]`. */
export type L4Writer = (buf: Uint8Array, offset: number, src: Ipv4Address, dst: Ipv4Address) => void;

interface Unresolved {
  ip: Ipv4Address;
  frames: Uint8Array[];
  deadline: number;
}

const ARP_WAIT_MS = 1000;
const MAX_UNRESOLVED_FRAMES = 64;

/**
 * The stack's side of the Ethernet link to the guest: builds frames (Ethernet + IPv4, fragmented
 * to the MTU when needed, padded to 60 bytes), resolves the guest's MAC through the ARP cache
 * (holding a few frames for up to a second while an ARP request is out), and queues frames for
 * the backend to hand to the device. The queue is bounded: overflow is a counted drop.
 */
export class GuestLink {
  private readonly queue: Uint8Array[] = [];
  private queueHead = 0;
  private readonly unresolved = new Map<Ipv4Address, Unresolved>();
  private unresolvedFrames = 0;
  private ident = 1;
  /** Called when a frame is queued (the backend signals rxReady). */
  onOutput: () => void = () => undefined;
  /** Called when the queue has drained below a quarter after being {@link congested}. */
  onDrain: () => void = () => undefined;
  private wasCongested = false;

  constructor(
    readonly mac: Uint8Array,
    private readonly arp: ArpCache,
    private readonly counters: SlirpCounters,
    private readonly mtu: number,
    private readonly maxQueue: number,
  ) {}

  get pending(): number {
    return this.queue.length - this.queueHead;
  }

  peek(): Uint8Array | undefined {
    return this.queueHead < this.queue.length ? this.queue[this.queueHead] : undefined;
  }

  shift(): Uint8Array | undefined {
    if (this.queueHead >= this.queue.length) return undefined;
    const f = this.queue[this.queueHead]!;
    this.queue[this.queueHead++] = undefined as unknown as Uint8Array;
    if (this.wasCongested && this.pending <= this.maxQueue >> 2) {
      this.wasCongested = false;
      this.onDrain();
    }
    if (this.queueHead > 256 && this.queueHead * 2 > this.queue.length) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return f;
  }

  /** True when the queue is three quarters full: bulk senders (TCP) should wait for {@link onDrain}. */
  get congested(): boolean {
    if (this.pending < (this.maxQueue * 3) >> 2) return false;
    this.wasCongested = true;
    return true;
  }

  /** Queues a complete frame. */
  enqueue(frame: Uint8Array): void {
    if (this.pending >= this.maxQueue) {
      this.counters.drop('guest-queue-full');
      return;
    }
    this.queue.push(frame);
    this.counters.framesOut++;
    this.onOutput();
  }

  /** Sends an ARP packet (reply or request). */
  sendArp(operation: number, senderIp: Ipv4Address, targetMac: Uint8Array, targetIp: Ipv4Address, dstMac: Uint8Array): void {
    const f = new Uint8Array(ETHERNET_MIN_FRAME);
    const off = emitEthernet({ dst: dstMac, src: this.mac, ethertype: ETHERTYPE_ARP }, f);
    emitArp({ operation, senderMac: this.mac, senderIp, targetMac, targetIp }, f, off);
    this.enqueue(f);
  }

  /**
   * Sends an IPv4 datagram of `l4Len` bytes written by `write`, from `src` to `dst`. `dstMac`
   * overrides the ARP lookup (DHCP replies go to chaddr or broadcast).
   */
  sendIpv4(src: Ipv4Address, dst: Ipv4Address, protocol: number, l4Len: number, write: L4Writer, now: number, dstMac?: Uint8Array, ttl = 64): void {
    const total = IPV4_HEADER_LEN + l4Len;
    const mac = dstMac ?? (dst === IPV4_BROADCAST ? MAC_BROADCAST : this.arp.lookup(dst));
    if (total <= this.mtu) {
      // An atomic datagram: DF set and identification 0 (RFC 6864 §4.1), so frames are reproducible.
      const f = new Uint8Array(Math.max(ETHERNET_MIN_FRAME, ETHERNET_HEADER_LEN + total));
      const ipOff = emitEthernet({ dst: mac ?? MAC_ZERO, src: this.mac, ethertype: ETHERTYPE_IPV4 }, f);
      write(f, ipOff + IPV4_HEADER_LEN, src, dst);
      emitIpv4({ src, dst, protocol, payloadLen: l4Len, ttl, ident: 0, dontFragment: true }, f, ipOff);
      this.deliver(f, dst, mac, now);
      return;
    }
    // Fragment (RFC 791 §3.2): write the whole L4 once, then cut it in multiples of 8 bytes.
    const ident = this.ident;
    this.ident = this.ident === 0xffff ? 1 : this.ident + 1;
    const whole = new Uint8Array(l4Len);
    write(whole, 0, src, dst);
    const chunk = (this.mtu - IPV4_HEADER_LEN) & ~7;
    for (let at = 0; at < l4Len; at += chunk) {
      const n = Math.min(chunk, l4Len - at);
      const f = new Uint8Array(Math.max(ETHERNET_MIN_FRAME, ETHERNET_HEADER_LEN + IPV4_HEADER_LEN + n));
      const ipOff = emitEthernet({ dst: mac ?? MAC_ZERO, src: this.mac, ethertype: ETHERTYPE_IPV4 }, f);
      f.set(whole.subarray(at, at + n), ipOff + IPV4_HEADER_LEN);
      emitIpv4({ src, dst, protocol, payloadLen: n, ttl, ident, fragmentOffset: at, moreFragments: at + n < l4Len }, f, ipOff);
      this.deliver(f, dst, mac, now);
    }
  }

  /** The guest answered ARP for `ip`: send what was waiting. */
  resolved(ip: Ipv4Address, mac: Uint8Array): void {
    const u = this.unresolved.get(ip);
    if (!u) return;
    this.unresolved.delete(ip);
    this.unresolvedFrames -= u.frames.length;
    for (const f of u.frames) {
      f.set(mac.subarray(0, 6), 0);
      this.enqueue(f);
    }
  }

  /** Drops frames whose ARP request went unanswered. */
  expire(now: number): void {
    for (const [ip, u] of this.unresolved) {
      if (u.deadline > now) continue;
      for (let i = 0; i < u.frames.length; i++) this.counters.drop('arp-unresolved');
      this.unresolvedFrames -= u.frames.length;
      this.unresolved.delete(ip);
    }
  }

  nextDeadline(): number {
    for (const u of this.unresolved.values()) return u.deadline;
    return Infinity;
  }

  /** The ARP requester's address (the gateway), set by the stack. */
  arpSource: Ipv4Address = 0;

  private deliver(frame: Uint8Array, dst: Ipv4Address, mac: Uint8Array | undefined, now: number): void {
    if (mac) {
      this.enqueue(frame);
      return;
    }
    let u = this.unresolved.get(dst);
    if (!u) {
      u = { ip: dst, frames: [], deadline: now + ARP_WAIT_MS };
      this.unresolved.set(dst, u);
      this.sendArp(ARP_REQUEST, this.arpSource, MAC_ZERO, dst, MAC_BROADCAST);
    }
    if (this.unresolvedFrames >= MAX_UNRESOLVED_FRAMES) {
      this.counters.drop('arp-unresolved');
      return;
    }
    u.frames.push(frame);
    this.unresolvedFrames++;
  }
}
