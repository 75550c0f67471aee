import { BackendConfig, ConfigError, parseMtu, type BackendOption } from '@netbe/core';
import { formatIpv4, inSubnet, parseIpv4Address, prefixToMask, type Ipv4Address } from '@netbe/wire';

/** One host → guest forwarding rule (QEMU `hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`). */
export interface HostForward {
  protocol: 'tcp' | 'udp';
  /** The host address to bind; 127.0.0.1 unless the rule names one (QEMU binds to any). */
  hostAddr: Ipv4Address;
  /** 0 asks the host for an ephemeral port (reported by the backend once bound). */
  hostPort: number;
  guestAddr: Ipv4Address;
  guestPort: number;
}

/** An upstream DNS server. */
export interface Resolver {
  addr: Ipv4Address;
  port: number;
}

/** Every knob of the stack, with libslirp's defaults (see {@link SLIRP_DEFAULTS}). */
export interface SlirpOptions {
  network: Ipv4Address;
  netmask: number;
  /** The virtual host / gateway (QEMU `host`). */
  gateway: Ipv4Address;
  /** The virtual DNS server (QEMU `dns`). */
  dns: Ipv4Address;
  /** First DHCP address (QEMU `dhcpstart`); {@link dhcpPoolSize} addresses from there. */
  dhcpStart: Ipv4Address;
  dhcpPoolSize: number;
  /** Sent to the guest in DHCP option 12 (QEMU `hostname`). */
  hostname?: string;
  /** DHCP option 15 (QEMU `domainname`). */
  domainName?: string;
  /** DHCP option 119 (QEMU `dnssearch`, repeatable). */
  dnsSearch: string[];
  /** No outbound traffic: only DHCP, the local gateway/DNS answers and hostfwd (QEMU `restrict`). */
  restrict: boolean;
  /** The gateway address reaches the host's 127.0.0.1 (off by default, unlike libslirp). */
  hostLoopback: boolean;
  /** IP MTU toward the guest (DHCP option 26, TCP MSS). */
  mtu: number;
  hostForwards: HostForward[];
  /** Upstream resolvers; empty = read the host's /etc/resolv.conf (the Node adapter does). */
  resolvers: Resolver[];
  /** DHCP lease time in seconds. */
  leaseTime: number;
  /** Limits (bounded memory whatever the guest sends). */
  maxUdpFlows: number;
  udpIdleMs: number;
  dnsTimeoutMs: number;
  maxDnsPending: number;
  maxIcmpPending: number;
  maxTcpConnections: number;
  /** Frames waiting for the guest to take them; more are dropped (counted). */
  maxGuestQueue: number;
  /** IPv4 reassembly limits. */
  reassembly: ReassemblyLimits;
}

export interface ReassemblyLimits {
  /** Datagrams being reassembled at once. */
  maxDatagrams: number;
  /** Fragments per datagram. */
  maxFragments: number;
  /** Bytes held across all reassemblies. */
  maxBytes: number;
  /** How long an incomplete datagram is kept (RFC 791 suggests 15 s; Linux uses 30 s). */
  timeoutMs: number;
}

const ip = (s: string): Ipv4Address => parseIpv4Address(s)!;

export const SLIRP_DEFAULTS: SlirpOptions = {
  network: ip('10.0.2.0'),
  netmask: prefixToMask(24),
  gateway: ip('10.0.2.2'),
  dns: ip('10.0.2.3'),
  dhcpStart: ip('10.0.2.15'),
  dhcpPoolSize: 16, // libslirp NB_BOOTP_CLIENTS
  dnsSearch: [],
  restrict: false,
  hostLoopback: false,
  mtu: 1500,
  hostForwards: [],
  resolvers: [],
  leaseTime: 86400,
  maxUdpFlows: 512,
  udpIdleMs: 240_000, // libslirp SO_EXPIRE
  dnsTimeoutMs: 5_000,
  maxDnsPending: 1024,
  maxIcmpPending: 256,
  maxTcpConnections: 1024,
  maxGuestQueue: 1024,
  reassembly: { maxDatagrams: 32, maxFragments: 64, maxBytes: 1 << 20, timeoutMs: 30_000 },
};

/** Largest IP MTU toward the guest: passt's default, 65535 rounded down for the 14-byte Ethernet header. */
export const SLIRP_MTU_MAX = 65520;

/** The options the `slirp` prefix accepts: QEMU `-netdev user` names and bhyve's. */
export const SLIRP_OPTIONS: readonly BackendOption[] = [
  { name: 'net', description: 'the virtual network, ADDR[/PREFIX] or ADDR/MASK (default 10.0.2.0/24)' },
  { name: 'host', description: 'the gateway / virtual host address (default network + 2)' },
  { name: 'dhcpstart', description: 'the first address handed out by DHCP (default network + 15)' },
  { name: 'dns', description: 'the virtual DNS server address (default network + 3)' },
  { name: 'hostname', description: 'host name sent to the guest by DHCP (option 12)' },
  { name: 'domainname', description: 'domain name sent by DHCP (option 15)' },
  { name: 'dnssearch', description: 'a DNS search domain sent by DHCP (option 119); repeat for more', repeatable: true },
  { name: 'restrict', description: 'on: isolate the guest (no outbound traffic; hostfwd still works)' },
  { name: 'open', description: 'bhyve: on allows outbound traffic (the opposite of restrict)' },
  { name: 'hostfwd', description: '[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport; hostaddr defaults to 127.0.0.1', repeatable: true },
  { name: 'loopback', description: 'on: the gateway address reaches the host loopback 127.0.0.1 (default off)' },
  { name: 'resolver', description: 'upstream DNS server ADDR[:PORT]; repeat for more (default: /etc/resolv.conf)', repeatable: true },
  { name: 'maxflows', description: 'UDP NAT flow table size (default 512)' },
  { name: 'ipv4', description: 'QEMU compatibility: on (IPv4 is always on)' },
  { name: 'ipv6', description: 'QEMU compatibility: off (IPv6 is not implemented)' },
];

function ipOption(config: BackendConfig, key: string, fallback: Ipv4Address): Ipv4Address {
  const v = config.get(key);
  if (v === undefined) return fallback;
  const a = parseIpv4Address(v);
  if (a === undefined) throw new ConfigError(key, `"${v}" is not an IPv4 address`);
  return a;
}

function parseNet(text: string): { network: Ipv4Address; netmask: number } {
  const [addrText, maskText] = text.split('/');
  const addr = parseIpv4Address(addrText ?? '');
  if (addr === undefined) throw new ConfigError('net', `"${text}" is not ADDR[/PREFIX]`);
  let netmask: number;
  if (maskText === undefined) netmask = prefixToMask(24);
  else if (/^\d{1,2}$/.test(maskText) && Number(maskText) <= 32) netmask = prefixToMask(Number(maskText));
  else {
    const m = parseIpv4Address(maskText);
    if (m === undefined || ((~m >>> 0) & ((~m >>> 0) + 1)) !== 0) throw new ConfigError('net', `"${maskText}" is not a prefix length or a contiguous netmask`);
    netmask = m;
  }
  if (netmask === 0 || (~netmask >>> 0) < 4) throw new ConfigError('net', 'the network must have room for the gateway, DNS and DHCP addresses (prefix 1..29)');
  return { network: (addr & netmask) >>> 0, netmask };
}

/** Parses one `hostfwd` rule. */
export function parseHostForward(text: string, defaultGuest: Ipv4Address): HostForward {
  const m = /^(tcp|udp)?:([^:]*):(\d+)-([^:]*):(\d+)$/.exec(text);
  if (!m) throw new ConfigError('hostfwd', `"${text}" is not [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport`);
  const port = (s: string, min: number): number => {
    const n = Number(s);
    if (n < min || n > 65535) throw new ConfigError('hostfwd', `port ${s} in "${text}" is outside ${min}..65535`);
    return n;
  };
  const addr = (s: string, fallback: Ipv4Address): Ipv4Address => {
    if (s === '') return fallback;
    const a = parseIpv4Address(s);
    if (a === undefined) throw new ConfigError('hostfwd', `"${s}" in "${text}" is not an IPv4 address`);
    return a;
  };
  return {
    protocol: (m[1] as 'tcp' | 'udp' | undefined) ?? 'tcp',
    hostAddr: addr(m[2]!, ip('127.0.0.1')),
    hostPort: port(m[3]!, 0),
    guestAddr: addr(m[4]!, defaultGuest),
    guestPort: port(m[5]!, 1),
  };
}

export function parseResolver(text: string): Resolver {
  const m = /^([\d.]+)(?::(\d+))?$/.exec(text);
  const addr = m ? parseIpv4Address(m[1]!) : undefined;
  const port = m?.[2] !== undefined ? Number(m[2]) : 53;
  if (addr === undefined || port < 1 || port > 65535) throw new ConfigError('resolver', `"${text}" is not ADDR[:PORT]`);
  return { addr, port };
}

/** Builds {@link SlirpOptions} from a config string (`slirp,net=10.1.0.0/24,hostfwd=udp::5555-:7`). */
export function parseSlirpConfig(spec: string | BackendConfig | Record<string, unknown>): SlirpOptions {
  const config = BackendConfig.from(spec);
  if (!config.bool('ipv4', true)) throw new ConfigError('ipv4', 'IPv4 cannot be turned off: it is the only protocol this stack speaks');
  if (config.bool('ipv6', false)) throw new ConfigError('ipv6', 'IPv6 is not implemented yet (use ipv6=off or leave it out)');
  const o: SlirpOptions = { ...SLIRP_DEFAULTS, dnsSearch: [], hostForwards: [], resolvers: [], reassembly: { ...SLIRP_DEFAULTS.reassembly } };
  if (config.has('net')) Object.assign(o, parseNet(config.get('net')!));
  const inNet = (key: string, a: Ipv4Address): Ipv4Address => {
    if (!inSubnet(a, o.network, o.netmask)) throw new ConfigError(key, `${formatIpv4(a)} is not inside ${formatIpv4(o.network)}`);
    if (a === o.network || a === (o.network | ~o.netmask) >>> 0) throw new ConfigError(key, `${formatIpv4(a)} is the network or broadcast address`);
    return a;
  };
  o.gateway = inNet('host', ipOption(config, 'host', (o.network + 2) >>> 0));
  o.dns = inNet('dns', ipOption(config, 'dns', (o.network + 3) >>> 0));
  o.dhcpStart = inNet('dhcpstart', ipOption(config, 'dhcpstart', (o.network + 15) >>> 0));
  const broadcast = (o.network | ~o.netmask) >>> 0;
  o.dhcpPoolSize = Math.max(0, Math.min(SLIRP_DEFAULTS.dhcpPoolSize, broadcast - o.dhcpStart));
  if (o.gateway === o.dns) throw new ConfigError('dns', 'the DNS address must differ from the gateway');
  const text = (key: string): string | undefined => {
    const v = config.get(key);
    if (v !== undefined && !/^[\x21-\x7e]{1,255}$/.test(v)) throw new ConfigError(key, `"${v}" must be 1..255 printable ASCII characters`);
    return v;
  };
  o.hostname = text('hostname');
  o.domainName = text('domainname');
  o.dnsSearch = config.getAll('dnssearch');
  for (const d of o.dnsSearch) if (!/^[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*\.?$/.test(d) || d.length > 253) throw new ConfigError('dnssearch', `"${d}" is not a domain name`);
  const restrict = config.bool('restrict', false);
  const open = config.has('open') ? config.bool('open', true) : undefined;
  if (open === true && restrict) throw new ConfigError('open', 'contradicts restrict=on');
  o.restrict = restrict || open === false;
  o.hostLoopback = config.bool('loopback', false);
  if (config.has('mtu')) {
    o.mtu = parseMtu(config.get('mtu')!);
    if (o.mtu < 576) throw new ConfigError('mtu', `${o.mtu} is below the IPv4 minimum of 576 the stack needs`);
    if (o.mtu > SLIRP_MTU_MAX) throw new ConfigError('mtu', `${o.mtu} is above ${SLIRP_MTU_MAX} (passt's default: the largest IPv4 datagram that still leaves room for the Ethernet header in a 64 KiB frame)`);
  }
  o.hostForwards = config.getAll('hostfwd').map((h) => parseHostForward(h, o.dhcpStart));
  for (const f of o.hostForwards) inNet('hostfwd', f.guestAddr);
  o.resolvers = config.getAll('resolver').map(parseResolver);
  o.maxUdpFlows = config.int('maxflows', o.maxUdpFlows, 1, 16384);
  return o;
}
