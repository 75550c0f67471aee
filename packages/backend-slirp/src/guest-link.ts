import {
  ARP_REQUEST, ETHERNET_HEADER_LEN, ETHERNET_MIN_FRAME, ETHERTYPE_ARP, ETHERTYPE_IPV4, IPV4_BROADCAST, IPV4_HEADER_LEN, IP_PROTO_TCP, MAC_BROADCAST,
  MAC_ZERO, emitArp, emitEthernet, emitIpv4, emitTcp, pseudoHeaderSum, tcpHeaderLen, type Ipv4Address, type TcpRepr,
} from '@netbe/wire';
import type { ArpCache } from './arp-cache';
import type { ByteQueue } from './byte-queue';
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
/** The largest IPv4 datagram, and so the largest TCP segment a GSO frame may carry (RFC 791). */
const IPV4_MAX_TOTAL = 65535;
/** Frame buffers recycled by {@link GuestLink.release}: two sizes (MTU-sized segments, 64 KiB GSO frames). */
const SMALL_FRAME = 2048;
const LARGE_FRAME = ETHERNET_HEADER_LEN + IPV4_MAX_TOTAL;
const SMALL_POOL = 512;
const LARGE_POOL = 64;

/**
 * How a queued frame's TCP checksum stands (see {@link GuestLink.frameOffload}):
 * {@link FRAME_COMPLETE} — every checksum is filled in; {@link FRAME_PARTIAL} — a TCP/IPv4 frame
 * whose TCP checksum field holds only the pseudo-header sum (virtio NEEDS_CSUM, 1.2 §5.1.6.4:
 * the guest finishes it); a positive value — partial and larger than one segment: the guest
 * takes it as GSO_TCPV4 with that gso_size (payload bytes per segment).
 */
export const FRAME_COMPLETE = -1;
export const FRAME_PARTIAL = 0;

/**
 * The stack's side of the Ethernet link to the guest: builds frames (Ethernet + IPv4, fragmented
 * to the MTU when needed, padded to 60 bytes), resolves the guest's MAC through the ARP cache
 * (holding a few frames for up to a second while an ARP request is out), and queues frames for
 * the backend to hand to the device. The queue is bounded: overflow is a counted drop.
 */
export class GuestLink {
  private readonly queue: Uint8Array[] = [];
  /** Per queued frame: FRAME_COMPLETE, FRAME_PARTIAL or the GSO segment size. */
  private readonly queueOffload: number[] = [];
  private queueHead = 0;
  /** The guest takes TCP frames with partial checksums (GUEST_CSUM) / larger than the MTU as GSO (GUEST_TSO4). */
  private partialChecksums = false;
  private tso4 = false;
  private readonly smallFrames: Uint8Array[] = [];
  private readonly largeFrames: Uint8Array[] = [];
  /** The segment {@link writeTcp} writes when a TCP frame takes the generic path (no closure per segment). */
  private pendingRepr: TcpRepr | undefined;
  private pendingPayload: ByteQueue | undefined;
  private pendingOffset = 0;
  private pendingLen = 0;
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

  /** How the head frame's checksum stands: FRAME_COMPLETE, FRAME_PARTIAL or a GSO segment size. */
  get frameOffload(): number {
    return this.queueHead < this.queue.length ? this.queueOffload[this.queueHead]! : FRAME_COMPLETE;
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
      this.queueOffload.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    return f;
  }

  /**
   * What the guest takes toward it (the driver's negotiated GUEST_CSUM / GUEST_TSO4): with
   * partial checksums TCP frames leave the payload unsummed, with TSO the TCP sender builds
   * segments of up to 64 KiB ({@link tcpSegmentLimit}). TSO needs partial checksums (virtio 1.2 §5.1.3.1).
   */
  setGuestOffloads(partialChecksums: boolean, tso4: boolean): void {
    this.partialChecksums = partialChecksums;
    this.tso4 = partialChecksums && tso4;
  }

  /** The most TCP bytes (header + payload) one segment toward the guest may carry. */
  get tcpSegmentLimit(): number {
    return this.tso4 ? IPV4_MAX_TOTAL - IPV4_HEADER_LEN : this.mtu - IPV4_HEADER_LEN;
  }

  /**
   * Gives back a frame taken with {@link shift} once its bytes are copied out: its buffer builds
   * a later frame. Only for frames the caller no longer references anywhere.
   */
  release(frame: Uint8Array): void {
    if (frame.byteOffset !== 0) return;
    const size = frame.buffer.byteLength;
    if (size === SMALL_FRAME && this.smallFrames.length < SMALL_POOL) this.smallFrames.push(new Uint8Array(frame.buffer, 0, SMALL_FRAME));
    else if (size === LARGE_FRAME && this.largeFrames.length < LARGE_POOL) this.largeFrames.push(new Uint8Array(frame.buffer, 0, LARGE_FRAME));
  }

  /** A frame of `len` bytes from the pool (contents undefined: the caller writes every byte). */
  private pooledFrame(len: number): Uint8Array {
    if (len <= SMALL_FRAME) return (this.smallFrames.pop() ?? new Uint8Array(SMALL_FRAME)).subarray(0, len);
    return (this.largeFrames.pop() ?? new Uint8Array(LARGE_FRAME)).subarray(0, len);
  }

  /** True when the queue is three quarters full: bulk senders (TCP) should wait for {@link onDrain}. */
  get congested(): boolean {
    if (this.pending < (this.maxQueue * 3) >> 2) return false;
    this.wasCongested = true;
    return true;
  }

  /** Queues a frame (complete checksums unless `offload` says otherwise). */
  enqueue(frame: Uint8Array, offload = FRAME_COMPLETE): void {
    if (this.pending >= this.maxQueue) {
      this.counters.drop('guest-queue-full');
      return;
    }
    this.queue.push(frame);
    this.queueOffload.push(offload);
    this.counters.framesOut++;
    this.onOutput();
  }

  /**
   * Sends a TCP segment: `repr`'s header and `payloadLen` bytes of `payload` from `payloadOffset`.
   * A data segment, when the guest takes partial checksums and its MAC is known, is built in a recycled buffer,
   * the payload copied once and not summed; a segment with more than `segmentSize` payload bytes
   * goes as one GSO frame (the guest negotiated TSO; {@link tcpSegmentLimit} bounds it). Otherwise
   * the segment is complete and fragmented to the MTU if it must be.
   */
  sendTcp(src: Ipv4Address, dst: Ipv4Address, repr: TcpRepr, payload: ByteQueue, payloadOffset: number, payloadLen: number, segmentSize: number, now: number): void {
    const hl = tcpHeaderLen(repr);
    const total = IPV4_HEADER_LEN + hl + payloadLen;
    const mac = this.arp.lookup(dst);
    if (!this.partialChecksums || payloadLen === 0 || !mac || total > IPV4_MAX_TOTAL || (total > this.mtu && !this.tso4) || hl > 60) {
      this.pendingRepr = repr;
      this.pendingPayload = payload;
      this.pendingOffset = payloadOffset;
      this.pendingLen = payloadLen;
      this.sendIpv4(src, dst, IP_PROTO_TCP, hl + payloadLen, this.writeTcp, now);
      this.pendingPayload = undefined;
      return;
    }
    const frameLen = ETHERNET_HEADER_LEN + total;
    const f = this.pooledFrame(Math.max(ETHERNET_MIN_FRAME, frameLen));
    if (frameLen < ETHERNET_MIN_FRAME) f.fill(0, frameLen);
    const ipOff = emitEthernet({ dst: mac, src: this.mac, ethertype: ETHERTYPE_IPV4 }, f);
    const tcpOff = ipOff + IPV4_HEADER_LEN;
    if (payloadLen > 0) payload.copyOut(payloadOffset, payloadLen, f, tcpOff + hl);
    emitTcp(repr, src, dst, 0, f, tcpOff); // the header alone (its checksum is replaced below)
    // NEEDS_CSUM (virtio 1.2 §5.1.6.2): the field holds the folded pseudo-header sum, not complemented.
    let sum = pseudoHeaderSum(src, dst, IP_PROTO_TCP, hl + payloadLen);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    f[tcpOff + 16] = sum >>> 8;
    f[tcpOff + 17] = sum & 0xff;
    emitIpv4({ src, dst, protocol: IP_PROTO_TCP, payloadLen: hl + payloadLen, ttl: 64, ident: 0, dontFragment: true }, f, ipOff);
    // Each GSO segment must fit the MTU whatever the sender asked for.
    const gsoSize = Math.max(1, Math.min(segmentSize > 0 ? segmentSize : Infinity, this.mtu - IPV4_HEADER_LEN - hl));
    this.enqueue(f, payloadLen > gsoSize ? gsoSize : FRAME_PARTIAL);
  }

  private readonly writeTcp = (buf: Uint8Array, off: number, src: Ipv4Address, dst: Ipv4Address): void => {
    const repr = this.pendingRepr!;
    if (this.pendingLen > 0) this.pendingPayload!.copyOut(this.pendingOffset, this.pendingLen, buf, off + tcpHeaderLen(repr));
    emitTcp(repr, src, dst, this.pendingLen, buf, off);
  };

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
