/** Why the stack dropped something. Stable strings: tests and `netbe stats` read them. */
export type DropReason =
  // link / parsing
  | 'eth-truncated' | 'eth-not-for-us' | 'eth-unsupported' | 'vlan'
  | 'arp-malformed' | 'arp-conflict' | 'arp-unresolved'
  | 'ip-malformed' | 'ip-bad-checksum' | 'ip-bad-option' | 'ip-ttl' | 'ip-martian' | 'ip-unsupported-protocol' | 'ip-no-route'
  // reassembly
  | 'frag-overlap' | 'frag-too-many' | 'frag-too-big' | 'frag-bad-length' | 'frag-timeout' | 'frag-evicted' | 'frag-table-full'
  // transport
  | 'icmp-malformed' | 'icmp-bad-checksum' | 'icmp-unsupported' | 'icmp-unavailable' | 'icmp-table-full' | 'icmp-unmatched'
  | 'udp-malformed' | 'udp-bad-checksum' | 'udp-flow-evicted' | 'udp-socket-error' | 'udp-unsolicited'
  | 'tcp-malformed' | 'tcp-bad-checksum' | 'tcp-table-full' | 'tcp-no-connection' | 'tcp-out-of-window'
  | 'tcp-bad-ack' | 'tcp-challenge-ack' | 'tcp-paws' | 'tcp-reorder-full' | 'tcp-syn-backlog-full'
  // services
  | 'dhcp-malformed' | 'dhcp-ignored' | 'dhcp-pool-exhausted'
  | 'dns-malformed-query' | 'dns-malformed-answer' | 'dns-unmatched-answer' | 'dns-timeout' | 'dns-table-full' | 'dns-no-resolver'
  // policy
  | 'restricted' | 'host-loopback-disabled'
  // toward the guest
  | 'guest-queue-full';

/** Counters the stack keeps; all monotonic except the `active*` gauges. */
export class SlirpCounters {
  framesIn = 0;
  framesOut = 0;
  arpReplies = 0;
  dhcpOffers = 0;
  dhcpAcks = 0;
  dhcpNaks = 0;
  dnsQueries = 0;
  dnsAnswers = 0;
  icmpEchoLocal = 0;
  icmpEchoForwarded = 0;
  icmpErrorsRelayed = 0;
  udpFlowsOpened = 0;
  udpFlowsExpired = 0;
  udpDatagramsOut = 0;
  udpDatagramsIn = 0;
  tcpConnectionsOpened = 0;
  tcpConnectionsClosed = 0;
  /** Connections whose host reads paused because all send queues together reached TCP_SEND_BUDGET. */
  tcpSendBudgetWaits = 0;
  /** Connections whose window was held small because the shared receive credit ran short. */
  tcpReceiveCreditWaits = 0;
  fragmentsReassembled = 0;
  activeUdpFlows = 0;
  activeTcpConnections = 0;
  activeReassemblies = 0;
  readonly drops: Partial<Record<DropReason, number>> = {};

  drop(reason: DropReason): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
  }

  get totalDrops(): number {
    let n = 0;
    for (const v of Object.values(this.drops)) n += v ?? 0;
    return n;
  }

  snapshot(): Record<string, unknown> {
    return { ...this, drops: { ...this.drops } } as unknown as Record<string, unknown>;
  }
}
