import { DNS_FLAG_QR, WireError, parseDns, put16, type Ipv4Address } from '@netbe/wire';
import type { DropReason } from './counters';
import type { Resolver } from './options';

interface Pending {
  upstreamId: number;
  guestIp: Ipv4Address;
  guestPort: number;
  guestId: number;
  resolver: Resolver;
  /** The question, to check the answer matches (name lower-cased, type, class). */
  question: string;
  deadline: number;
  /** The query as sent upstream, kept to retry the next resolver on timeout. */
  query: Uint8Array;
  tries: number;
}

/** A query to send again, to another resolver, after a timeout. */
export interface DnsRetry {
  send: Uint8Array;
  resolver: Resolver;
}

export type DnsQueryResult = { send: Uint8Array; resolver: Resolver } | { drop: DropReason };
export type DnsAnswerResult = { deliver: Uint8Array; guestIp: Ipv4Address; guestPort: number } | { drop: DropReason };

const questionKey = (q: { name: string; type: number; class: number } | undefined): string =>
  q ? `${q.name.toLowerCase()}/${q.type}/${q.class}` : '';

/**
 * UDP DNS forwarding from the virtual DNS address to the host's resolvers (libslirp re-addresses
 * the packets; we also rewrite the query id so answers cannot be matched by a guest-chosen id,
 * and we check the answer's question). Queries are parsed in full before forwarding and answers
 * before delivery: a malformed message (compression loop, lying counts) is a counted drop. The
 * pending table is bounded and entries expire after `timeoutMs`.
 */
export class DnsForwarder {
  private readonly pending = new Map<number, Pending>();
  private nextResolver = 0;

  constructor(
    private readonly resolvers: readonly Resolver[],
    private readonly timeoutMs: number,
    private readonly maxPending: number,
    private readonly random: () => number,
  ) {}

  get size(): number {
    return this.pending.size;
  }

  /** A guest query; returns the bytes to send upstream (a copy with the id rewritten). */
  query(guestIp: Ipv4Address, guestPort: number, msg: Uint8Array, now: number): DnsQueryResult {
    if (this.resolvers.length === 0) return { drop: 'dns-no-resolver' };
    let question: string;
    try {
      const repr = parseDns(msg);
      if ((repr.flags & DNS_FLAG_QR) !== 0 || repr.questions.length !== 1) return { drop: 'dns-malformed-query' };
      question = questionKey(repr.questions[0]);
    } catch (e) {
      if (e instanceof WireError) return { drop: 'dns-malformed-query' };
      throw e;
    }
    if (this.pending.size >= this.maxPending) {
      this.expire(now);
      if (this.pending.size >= this.maxPending) return { drop: 'dns-table-full' };
    }
    let upstreamId = 0;
    for (let tries = 0; tries < 64; tries++) {
      upstreamId = Math.floor(this.random() * 0x10000) & 0xffff;
      if (!this.pending.has(upstreamId)) break;
    }
    if (this.pending.has(upstreamId)) return { drop: 'dns-table-full' };
    const resolver = this.resolvers[this.nextResolver++ % this.resolvers.length]!;
    const out = msg.slice();
    put16(out, 0, upstreamId);
    this.pending.set(upstreamId, { upstreamId, guestIp, guestPort, guestId: (msg[0]! << 8) | msg[1]!, resolver, question, deadline: now + this.timeoutMs, query: out, tries: 1 });
    return { send: out, resolver };
  }

  /** An upstream answer; returns the bytes for the guest (id restored) and where they go. */
  answer(fromAddr: Ipv4Address, fromPort: number, msg: Uint8Array): DnsAnswerResult {
    let question: string;
    try {
      const repr = parseDns(msg);
      if ((repr.flags & DNS_FLAG_QR) === 0) return { drop: 'dns-malformed-answer' };
      question = questionKey(repr.questions[0]);
    } catch (e) {
      if (e instanceof WireError) return { drop: 'dns-malformed-answer' };
      throw e;
    }
    const id = (msg[0]! << 8) | msg[1]!;
    const p = this.pending.get(id);
    if (!p || p.resolver.addr !== fromAddr || p.resolver.port !== fromPort || p.question !== question) return { drop: 'dns-unmatched-answer' };
    this.pending.delete(id);
    const out = msg.slice();
    put16(out, 0, p.guestId);
    return { deliver: out, guestIp: p.guestIp, guestPort: p.guestPort };
  }

  /**
   * Handles timeouts: a query that has not tried every resolver yet goes to the next one (same
   * upstream id, a fresh deadline; returned in `retries`); the others are forgotten (counted by
   * the caller as `dns-timeout`). Returns how many were forgotten.
   */
  expire(now: number, retries: DnsRetry[] = []): number {
    let n = 0;
    for (const [id, p] of this.pending) {
      if (p.deadline > now) continue;
      this.pending.delete(id);
      if (p.tries < this.resolvers.length) {
        const i = this.resolvers.indexOf(p.resolver);
        p.resolver = this.resolvers[(i + 1) % this.resolvers.length]!;
        p.tries++;
        p.deadline = now + this.timeoutMs;
        this.pending.set(id, p); // re-inserted last: the map stays in deadline order
        retries.push({ send: p.query, resolver: p.resolver });
      } else n++;
    }
    return n;
  }

  nextDeadline(): number {
    // Entries are kept in non-decreasing deadline order, so the first is the earliest.
    for (const p of this.pending.values()) return p.deadline;
    return Infinity;
  }
}
