import { IPV4_HEADER_LEN, put16, checksumAdd, foldChecksum, type Ipv4Packet } from '@netbe/wire';
import type { DropReason } from './counters';
import type { ReassemblyLimits } from './options';

interface Fragment {
  offset: number;
  data: Uint8Array;
}

interface Datagram {
  key: string;
  /** Header of the offset-0 fragment (with its options), once seen. */
  header?: Uint8Array;
  fragments: Fragment[];
  /** Payload length, known once the last fragment (MF=0) arrives. */
  totalLen: number;
  bytes: number;
  deadline: number;
}

export type ReassemblyResult = { complete: Uint8Array } | { pending: true } | { drop: DropReason };

/**
 * IPv4 reassembly (RFC 791 §3.2, RFC 815) with strict limits — the code behind several libslirp
 * CVEs (CVE-2019-14378, CVE-2019-15890, CVE-2020-1983). The rules:
 *
 * - at most `maxDatagrams` in progress, `maxFragments` per datagram, `maxBytes` held in total
 *   (the oldest datagram is evicted to make room); incomplete datagrams expire after `timeoutMs`;
 * - offset + length beyond 65535 − 20, or a non-final fragment whose length is not a multiple of
 *   8, drops the datagram;
 * - an exact duplicate is ignored; any other overlap drops the whole datagram (RFC 5722's rule
 *   for IPv6, applied to IPv4 too: overlaps are only ever an attack or a bug);
 * - fragments are copied (the frame buffer belongs to the guest), and the result is a fresh buffer
 *   sized from the fragments actually held, never from a header field.
 */
export class Reassembler {
  private readonly datagrams = new Map<string, Datagram>();
  private heldBytes = 0;

  constructor(
    private readonly limits: ReassemblyLimits,
    /** Counts datagrams dropped without a fragment to blame (eviction, timeout). */
    private readonly count: (reason: DropReason) => void = () => undefined,
  ) {}

  get active(): number {
    return this.datagrams.size;
  }
  get bytesHeld(): number {
    return this.heldBytes;
  }

  /** Feeds one fragment; returns the complete datagram (header + payload) when it is whole. */
  input(p: Ipv4Packet, now: number): ReassemblyResult {
    const key = `${p.src}/${p.dst}/${p.protocol}/${p.ident}`;
    const offset = p.fragmentOffset;
    const payload = p.payload;
    const more = p.moreFragments;
    if (offset + payload.length > 0xffff - IPV4_HEADER_LEN) return this.fail(key, 'frag-too-big');
    if (more && (payload.length === 0 || payload.length % 8 !== 0)) return this.fail(key, 'frag-bad-length');
    let d = this.datagrams.get(key);
    if (!d) {
      if (this.datagrams.size >= this.limits.maxDatagrams) this.evictOldest();
      d = { key, fragments: [], totalLen: -1, bytes: 0, deadline: now + this.limits.timeoutMs };
      this.datagrams.set(key, d);
    }
    const end = offset + payload.length;
    if (!more) {
      if (d.totalLen >= 0 && d.totalLen !== end) return this.fail(key, 'frag-overlap');
      for (const f of d.fragments) if (f.offset + f.data.length > end) return this.fail(key, 'frag-overlap');
      d.totalLen = end;
    } else if (d.totalLen >= 0 && end > d.totalLen) {
      return this.fail(key, 'frag-overlap');
    }
    for (const f of d.fragments) {
      const fEnd = f.offset + f.data.length;
      if (f.offset === offset && fEnd === end) return { pending: true }; // exact duplicate
      if (offset < fEnd && f.offset < end) return this.fail(key, 'frag-overlap');
    }
    if (d.fragments.length >= this.limits.maxFragments) return this.fail(key, 'frag-too-many');
    while (this.heldBytes + payload.length > this.limits.maxBytes && this.datagrams.size > 1) {
      if (!this.evictOldest(key)) break;
    }
    if (this.heldBytes + payload.length > this.limits.maxBytes) return this.fail(key, 'frag-evicted');
    d.fragments.push({ offset, data: payload.slice() });
    d.bytes += payload.length;
    this.heldBytes += payload.length;
    if (offset === 0) d.header = p.bytes.slice(0, p.headerLen);
    return this.tryComplete(d) ?? { pending: true };
  }

  /** Drops datagrams whose time is up; returns how many. */
  expire(now: number): number {
    let n = 0;
    for (const d of this.datagrams.values()) {
      if (d.deadline <= now) {
        this.remove(d);
        this.count('frag-timeout');
        n++;
      }
    }
    return n;
  }

  /** The earliest expiry, or Infinity. */
  nextDeadline(): number {
    let t = Infinity;
    for (const d of this.datagrams.values()) if (d.deadline < t) t = d.deadline;
    return t;
  }

  private tryComplete(d: Datagram): ReassemblyResult | undefined {
    if (d.totalLen < 0 || !d.header || d.bytes !== d.totalLen) return undefined;
    // No overlaps are ever stored, so bytes === totalLen means the fragments tile [0, totalLen).
    const hl = d.header.length;
    const out = new Uint8Array(hl + d.totalLen);
    out.set(d.header, 0);
    for (const f of d.fragments) out.set(f.data, hl + f.offset);
    put16(out, 2, hl + d.totalLen);
    put16(out, 6, 0); // clear MF and the offset (DF cannot be set on a fragmented datagram)
    put16(out, 10, 0);
    put16(out, 10, foldChecksum(checksumAdd(out, 0, hl)));
    this.remove(d);
    return { complete: out };
  }

  private fail(key: string, reason: DropReason): ReassemblyResult {
    const d = this.datagrams.get(key);
    if (d) this.remove(d);
    return { drop: reason };
  }

  private evictOldest(except?: string): boolean {
    for (const d of this.datagrams.values()) {
      if (d.key === except) continue;
      this.remove(d);
      this.count('frag-evicted');
      return true;
    }
    return false;
  }

  private remove(d: Datagram): void {
    this.heldBytes -= d.bytes;
    this.datagrams.delete(d.key);
  }
}
