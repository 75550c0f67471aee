// The sans-I/O core: no Node APIs below this entry point (`@netbe/backend-slirp/core`).
export { SlirpStack } from './stack';
export type { SlirpStackDeps, SlirpDescription } from './stack';
export type { SlirpHost, HostEvents } from './host';
export { SlirpCounters } from './counters';
export type { DropReason } from './counters';
export { SLIRP_DEFAULTS, SLIRP_OPTIONS, parseSlirpConfig, parseHostForward, parseResolver } from './options';
export type { SlirpOptions, HostForward, Resolver, ReassemblyLimits } from './options';
export { Reassembler } from './reassembly';
export type { ReassemblyResult } from './reassembly';
export { DhcpServer } from './dhcp-server';
export type { Lease, DhcpReply } from './dhcp-server';
export { DnsForwarder } from './dns-forwarder';
export { ArpCache } from './arp-cache';
export { TcpConnection, TCP_RCV_BUF } from './tcp-connection';
export type { TcpState } from './tcp-connection';
export { parseResolvConf } from './resolv-conf';
