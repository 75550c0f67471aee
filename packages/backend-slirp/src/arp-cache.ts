import type { Ipv4Address } from '@netbe/wire';

/**
 * The guest side's neighbours: IPv4 → MAC, learned from ARP (requests, replies, gratuitous) and
 * from DHCP. Bounded; the least recently learned entry goes first. Entries do not expire on a
 * timer: the link is virtual and a guest that changes MAC announces it (gratuitous ARP, DHCP).
 */
export class ArpCache {
  private readonly entries = new Map<Ipv4Address, Uint8Array>();

  constructor(private readonly capacity = 64) {}

  lookup(ip: Ipv4Address): Uint8Array | undefined {
    return this.entries.get(ip);
  }

  /** Records `ip` at `mac` (copied); returns true when the entry is new or changed. */
  learn(ip: Ipv4Address, mac: Uint8Array): boolean {
    const old = this.entries.get(ip);
    if (old && old.every((b, i) => b === mac[i])) return false;
    this.entries.delete(ip);
    if (this.entries.size >= this.capacity) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(ip, mac.slice(0, 6));
    return true;
  }

  forget(ip: Ipv4Address): void {
    this.entries.delete(ip);
  }

  get size(): number {
    return this.entries.size;
  }

  /** [ip, mac] pairs, for `neighbours()` dumps. */
  list(): Array<[Ipv4Address, Uint8Array]> {
    return [...this.entries];
  }
}
