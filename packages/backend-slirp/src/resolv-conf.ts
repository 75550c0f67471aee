import { parseIpv4Address } from '@netbe/wire';
import type { Resolver } from './options';

/**
 * The IPv4 `nameserver` lines of a resolv.conf text (resolv.conf(5)), in order. IPv6 and
 * scoped entries are skipped (the forwarder speaks IPv4 upstream).
 */
export function parseResolvConf(text: string): Resolver[] {
  const out: Resolver[] = [];
  for (const line of text.split('\n')) {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    if (!m) continue;
    const addr = parseIpv4Address(m[1]!);
    if (addr !== undefined) out.push({ addr, port: 53 });
  }
  return out;
}
