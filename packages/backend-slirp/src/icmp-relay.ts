import type { Ipv4Address } from '@netbe/wire';

export interface EchoMapping {
  hostId: number;
  guestIp: Ipv4Address;
  guestId: number;
  /** What the guest pinged (e.g. the gateway) and where the request really went (127.0.0.1). */
  virtualDst: Ipv4Address;
  realDst: Ipv4Address;
  deadline: number;
  /** Sequence numbers sent and not yet answered (bounded): a reply must match one. */
  outstanding: Set<number>;
}

const MAX_OUTSTANDING = 64;

const ECHO_TIMEOUT_MS = 10_000;

/**
 * Echo identifiers for forwarded pings. Each guest (address, identifier, destination) gets its
 * own host identifier. A raw ICMP socket sees every echo reply reaching the host, so replies are
 * matched on (identifier, source, an outstanding sequence number). Ping sockets (SOCK_DGRAM,
 * IPPROTO_ICMP) only see their own, under an identifier the kernel chose: the Node host keeps one
 * per host identifier and writes the host identifier back before the reply reaches
 * {@link IcmpRelay.matchReply}, so the same matching serves both. Bounded; entries expire after
 * 10 s of silence.
 */
export class IcmpRelay {
  private readonly byHostId = new Map<number, EchoMapping>();
  private readonly byGuest = new Map<string, EchoMapping>();
  private nextId: number;

  constructor(
    private readonly capacity: number,
    random: () => number,
  ) {
    this.nextId = Math.floor(random() * 0x10000) & 0xffff;
  }

  get size(): number {
    return this.byHostId.size;
  }

  /** The mapping for a guest echo request, created if needed; undefined when the table is full. */
  map(guestIp: Ipv4Address, guestId: number, virtualDst: Ipv4Address, realDst: Ipv4Address, now: number): EchoMapping | undefined {
    const key = `${guestIp}/${guestId}/${virtualDst}`;
    let m = this.byGuest.get(key);
    if (!m) {
      if (this.byHostId.size >= this.capacity) {
        this.expire(now);
        if (this.byHostId.size >= this.capacity) return undefined;
      }
      let hostId = this.nextId;
      while (this.byHostId.has(hostId)) hostId = (hostId + 1) & 0xffff;
      this.nextId = (hostId + 1) & 0xffff;
      m = { hostId, guestIp, guestId, virtualDst, realDst, deadline: 0, outstanding: new Set() };
      this.byHostId.set(hostId, m);
    } else {
      this.byGuest.delete(key); // keep insertion order = deadline order
    }
    this.byGuest.set(key, m);
    m.deadline = now + ECHO_TIMEOUT_MS;
    return m;
  }

  /** Records an echo request sent with `seq`. */
  sent(m: EchoMapping, seq: number): void {
    if (m.outstanding.size >= MAX_OUTSTANDING) m.outstanding.delete(m.outstanding.values().next().value!);
    m.outstanding.add(seq);
  }

  lookup(hostId: number): EchoMapping | undefined {
    return this.byHostId.get(hostId);
  }

  /**
   * The mapping a reply belongs to: same host id, from the address we pinged, with a sequence
   * number we sent (another process's raw socket sees our replies and we see theirs: matching
   * the id alone could hand their reply to our guest). Consumes the sequence number.
   */
  matchReply(hostId: number, src: Ipv4Address, seq: number): EchoMapping | undefined {
    const m = this.byHostId.get(hostId);
    if (!m || m.realDst !== src || !m.outstanding.delete(seq)) return undefined;
    return m;
  }

  expire(now: number): void {
    for (const [key, m] of this.byGuest) {
      if (m.deadline > now) break;
      this.byGuest.delete(key);
      this.byHostId.delete(m.hostId);
    }
  }

  nextDeadline(): number {
    for (const m of this.byGuest.values()) return m.deadline;
    return Infinity;
  }
}
