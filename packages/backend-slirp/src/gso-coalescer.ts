/**
 * Receive-side coalescing toward a guest that negotiated GUEST_TSO4 (virtio 1.2 §5.1.6.4.1): back
 * to back TCP/IPv4 segments of one flow waiting in the stack's queue (in sequence, ACK or ACK|PSH,
 * all but the last of the same size, identical options) are handed to the guest as ONE frame with
 * a GSO_TCPV4 header and a partial checksum (NEEDS_CSUM), the way a tap hands a guest a GRO'd
 * segment. The guest's stack then sees what the wire would carry, at the cost of one frame.
 *
 * Pure bytes (no Node API). Holds at most one merged frame's worth of segments (64 KiB of IP).
 */
import {
  VIRTIO_NET_HDR_F_NEEDS_CSUM, VIRTIO_NET_HDR_GSO_TCPV4, type VnetHeader,
} from '@netbe/core';
import { checksumAdd, foldChecksum, pseudoHeaderSum } from '@netbe/wire';

const ETH = 14;
const IP_MAX = 65535;
const TCP_FIN = 0x01;
const TCP_SYN = 0x02;
const TCP_RST = 0x04;
const TCP_PSH = 0x08;
const TCP_ACK = 0x10;
const TCP_URG = 0x20;
/** Most segments merged into one frame (at MSS 536, 64 KiB needs 123). */
const MAX_SEGMENTS = 128;

const get16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const get32 = (b: Uint8Array, o: number): number => ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
const put16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
};

/** Where the TCP segment of an Ethernet frame lies, or undefined if it is not a mergeable one. */
interface SegmentView {
  ihl: number;
  tcpOff: number;
  tcpHl: number;
  payloadOff: number;
  payloadLen: number;
  seq: number;
}

function viewSegment(f: Uint8Array, out: SegmentView): boolean {
  if (f.length < ETH + 40 || get16(f, 12) !== 0x0800) return false;
  const vihl = f[ETH]!;
  if (vihl !== 0x45 || f[ETH + 9] !== 6) return false; // IPv4 without options, TCP
  if ((get16(f, ETH + 6) & 0x3fff) !== 0) return false; // a fragment
  const total = get16(f, ETH + 2);
  if (total < 40 || ETH + total > f.length) return false;
  const tcpOff = ETH + 20;
  const tcpHl = (f[tcpOff + 12]! >>> 4) * 4;
  if (tcpHl < 20 || 20 + tcpHl > total) return false;
  const flags = f[tcpOff + 13]!;
  if ((flags & (TCP_SYN | TCP_FIN | TCP_RST | TCP_URG)) !== 0 || (flags & TCP_ACK) === 0) return false;
  out.ihl = 20;
  out.tcpOff = tcpOff;
  out.tcpHl = tcpHl;
  out.payloadOff = tcpOff + tcpHl;
  out.payloadLen = total - 20 - tcpHl;
  out.seq = get32(f, tcpOff + 4);
  return out.payloadLen > 0;
}

/** Same flow, same header shape and options; only seq/ack/window/flags/checksum may differ. */
function sameFlow(a: Uint8Array, b: Uint8Array, tcpHl: number): boolean {
  for (let i = 0; i < 12; i++) if (a[i] !== b[i]) return false; // MACs
  for (let i = ETH + 12; i < ETH + 20; i++) if (a[i] !== b[i]) return false; // addresses
  const t = ETH + 20;
  for (let i = 0; i < 4; i++) if (a[t + i] !== b[t + i]) return false; // ports
  if (a[t + 12] !== b[t + 12]) return false; // data offset
  for (let i = 20; i < tcpHl; i++) if (a[t + i] !== b[t + i]) return false; // options
  return true;
}

export class GsoCoalescer {
  private readonly segments: Uint8Array[] = [];
  private readonly first: SegmentView = { ihl: 0, tcpOff: 0, tcpHl: 0, payloadOff: 0, payloadLen: 0, seq: 0 };
  private readonly next: SegmentView = { ihl: 0, tcpOff: 0, tcpHl: 0, payloadOff: 0, payloadLen: 0, seq: 0 };
  private payloadTotal = 0;
  private lastPayloadLen = 0;
  private nextSeq = 0;
  /** Frames sent as one merged GSO frame, and the segments they held. */
  merged = 0;
  segmentsMerged = 0;

  /**
   * Pulls segments from the head of the queue (`peek`/`take`) while they extend the run, and
   * returns the length of the frame {@link emit} will produce (0: the head is not mergeable, or
   * the run holds a single segment; use the head frame as it is). Extending only happens here,
   * so the length returned stays valid for the next {@link emit}.
   */
  extend(peek: () => Uint8Array | undefined, take: () => Uint8Array | undefined): number {
    for (;;) {
      const f = peek();
      if (!f) break;
      if (this.segments.length === 0) {
        if (!viewSegment(f, this.first)) break;
        this.segments.push(f);
        take();
        this.payloadTotal = this.first.payloadLen;
        this.lastPayloadLen = this.first.payloadLen;
        this.nextSeq = (this.first.seq + this.first.payloadLen) >>> 0;
        continue;
      }
      if (this.segments.length >= MAX_SEGMENTS || this.lastPayloadLen !== this.first.payloadLen) break; // only the last may be short
      if (!viewSegment(f, this.next) || this.next.tcpHl !== this.first.tcpHl || this.next.seq !== this.nextSeq) break;
      if (this.next.payloadLen > this.first.payloadLen) break;
      if (20 + this.first.tcpHl + this.payloadTotal + this.next.payloadLen > IP_MAX) break;
      if (!sameFlow(this.segments[0]!, f, this.first.tcpHl)) break;
      this.segments.push(f);
      take();
      this.payloadTotal += this.next.payloadLen;
      this.lastPayloadLen = this.next.payloadLen;
      this.nextSeq = (this.nextSeq + this.next.payloadLen) >>> 0;
    }
    return this.pendingLength;
  }

  /** Segments held (taken from the queue, not yet emitted). */
  get held(): number {
    return this.segments.length;
  }

  /** Length of the frame the held segments make (without virtio-net header); 0 when none. */
  get pendingLength(): number {
    if (this.segments.length === 0) return 0;
    if (this.segments.length === 1) return this.segments[0]!.length;
    return ETH + 20 + this.first.tcpHl + this.payloadTotal;
  }

  /**
   * Returns the held segments as one frame and forgets them: one segment is returned as it is
   * (no copy; `hdr` untouched, the caller's policy applies); several are written into `out` as one
   * GSO_TCPV4 frame with NEEDS_CSUM, described in `hdr`. Empty when nothing is held.
   */
  emit(out: Uint8Array, hdr: VnetHeader): { frame: Uint8Array; single: boolean } {
    const n = this.segments.length;
    if (n === 0) return { frame: out.subarray(0, 0), single: true };
    if (n === 1) return { frame: this.segments.pop()!, single: true };
    const first = this.segments[0]!;
    const last = this.segments[n - 1]!;
    const headers = ETH + 20 + this.first.tcpHl;
    out.set(first.subarray(0, headers), 0);
    let at = headers;
    let flags = 0;
    for (const s of this.segments) {
      const tcpHl = this.first.tcpHl;
      const total = get16(s, ETH + 2);
      out.set(s.subarray(ETH + 20 + tcpHl, ETH + total), at);
      at += total - 20 - tcpHl;
      flags |= s[ETH + 20 + 13]!;
    }
    const ipTotal = at - ETH;
    // IP: new total length and header checksum.
    put16(out, ETH + 2, ipTotal);
    put16(out, ETH + 10, 0);
    put16(out, ETH + 10, foldChecksum(checksumAdd(out, ETH, ETH + 20)));
    // TCP: the last segment's ack and window, PSH if any had it; the checksum field holds the
    // pseudo-header sum (NEEDS_CSUM, virtio 1.2 §5.1.6.2): the guest (or its NIC model) finishes it.
    const t = ETH + 20;
    out.set(last.subarray(t + 8, t + 12), t + 8); // ack
    out.set(last.subarray(t + 14, t + 16), t + 14); // window
    out[t + 13] = (flags & TCP_PSH) | TCP_ACK;
    const src = get32(out, ETH + 12);
    const dst = get32(out, ETH + 16);
    let sum = pseudoHeaderSum(src, dst, 6, ipTotal - 20);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    put16(out, t + 16, sum);
    hdr.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
    hdr.gsoType = VIRTIO_NET_HDR_GSO_TCPV4;
    hdr.hdrLen = headers;
    hdr.gsoSize = this.first.payloadLen;
    hdr.csumStart = t;
    hdr.csumOffset = 16;
    hdr.numBuffers = 0;
    this.merged++;
    this.segmentsMerged += n;
    this.segments.length = 0;
    return { frame: out.subarray(0, at), single: false };
  }

  /** Drops what is held (close, or the frame could not be delivered). Returns how many segments. */
  clear(): number {
    const n = this.segments.length;
    this.segments.length = 0;
    return n;
  }
}
