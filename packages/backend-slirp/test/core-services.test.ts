import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ARP_REPLY, ArpPacket, DHCPACK, DHCPINFORM, DHCPNAK, DHCPOFFER, DHCPRELEASE, DNS_FLAG_QR, ICMP_DEST_UNREACHABLE, ICMP_ECHO_REPLY,
  ICMP_UNREACH_ADMIN_PROHIBITED, ICMP_UNREACH_PORT, DnsHeader, emitDns, formatIpv4, parseArp, parseDns,
} from '@netbe/wire';
import { makeStack } from './helpers/stack';
import { DNS, GATEWAY, GUEST, GUEST_MAC, SLIRP_MAC, arpRequest, bytes, dhcpFrame, discover, echoFrame, ip, request, text, udpFrame } from './helpers/guest';

const dnsQuery = (id: number, name: string): Uint8Array =>
  emitDns({ id, flags: 0x0100, questions: [{ name, type: 1, class: 1 }], answers: [], authorities: [], additionals: [] });
const dnsAnswer = (id: number, name: string, addr: number): Uint8Array =>
  emitDns({ id, flags: 0x8180, questions: [{ name, type: 1, class: 1 }], answers: [{ name, type: 1, class: 1, ttl: 60, rdata: new Uint8Array(0), address: addr }], authorities: [], additionals: [] });

test('ARP: answers for the gateway and DNS addresses with 52:55:0a:00:02:02, learns the guest', () => {
  const { stack, out } = makeStack();
  for (const target of [GATEWAY, DNS]) {
    stack.input(arpRequest(GUEST, target), 0);
    const [reply] = out();
    const arp = parseArp(ArpPacket.wrap(reply!.eth.payload));
    assert.is(arp.operation, ARP_REPLY);
    assert.is(arp.senderIp, target);
    assert.equal(arp.senderMac, SLIRP_MAC);
    assert.equal(arp.targetMac, GUEST_MAC);
    assert.equal(reply!.eth.dst, GUEST_MAC);
  }
  assert.equal(stack.arp.lookup(GUEST), GUEST_MAC);
  // Not for others in the subnet, nor for a conflicting claim of our address.
  stack.input(arpRequest(GUEST, ip('10.0.2.77')), 0);
  assert.is(out().length, 0);
  stack.input(arpRequest(GATEWAY, GATEWAY, new Uint8Array([2, 0, 0, 0, 0, 9])), 0);
  assert.is(stack.counters.drops['arp-conflict'], 1);
});

test('ARP: gratuitous announcement updates the cache', () => {
  const { stack, out } = makeStack();
  const newMac = new Uint8Array([0x52, 0x54, 0, 0, 0, 0x99]);
  stack.input(arpRequest(GUEST, GUEST, newMac), 0);
  assert.is(out().length, 0);
  assert.equal(stack.arp.lookup(GUEST), newMac);
});

test('DHCP: DISCOVER → OFFER, REQUEST → ACK with router, DNS, mask, lease, MTU, domain, search, hostname', () => {
  const { stack, out } = makeStack('slirp,resolver=192.0.2.53,hostname=vm1,domainname=example.test,dnssearch=example.test,dnssearch=corp.test,mtu=1400');
  stack.input(discover(), 0);
  const [offer] = out();
  assert.is(offer!.dhcp!.messageType, DHCPOFFER);
  assert.is(formatIpv4(offer!.dhcp!.yiaddr!), '10.0.2.15');
  assert.is(offer!.ip!.dst, 0xffffffff); // broadcast flag set
  stack.input(request(GUEST, GATEWAY), 1);
  const [ack] = out();
  const a = ack!.dhcp!;
  assert.is(a.messageType, DHCPACK);
  assert.is(a.yiaddr, GUEST);
  assert.equal(a.router, [GATEWAY]);
  assert.equal(a.dns, [DNS]);
  assert.is(a.subnetMask, 0xffffff00);
  assert.is(a.leaseTime, 86400);
  assert.is(a.mtu, 1400);
  assert.is(a.domainName, 'example.test');
  assert.equal(a.domainSearch, ['example.test', 'corp.test']);
  assert.is(a.hostname, 'vm1');
  assert.is(a.serverId, GATEWAY);
  assert.is(stack.dhcp.list()[0]!.state, 'bound');
});

test('DHCP: NAK for a foreign address, second client gets .16, RELEASE frees, INFORM answers without a lease', () => {
  const { stack, out } = makeStack();
  stack.input(request(ip('10.0.2.200'), undefined), 0);
  const [nak] = out();
  assert.is(nak!.dhcp!.messageType, DHCPNAK);
  assert.is(nak!.ip!.dst, 0xffffffff);
  stack.input(discover(), 0);
  stack.input(request(GUEST, GATEWAY), 0);
  out();
  const other = new Uint8Array([0x52, 0x54, 0, 0, 0, 2]);
  stack.input(dhcpFrame({ messageType: 1, chaddr: other }), 0);
  assert.is(formatIpv4(out()[0]!.dhcp!.yiaddr!), '10.0.2.16');
  stack.input(dhcpFrame({ messageType: 3, chaddr: other, requestedIp: GUEST, serverId: GATEWAY }), 0);
  assert.is(out()[0]!.dhcp!.messageType, DHCPNAK); // .15 is bound to the first client
  stack.input(dhcpFrame({ messageType: DHCPRELEASE, ciaddr: GUEST, flags: 0 }, GUEST, GATEWAY), 0);
  assert.not.ok(stack.dhcp.list().some((l) => l.addr === GUEST));
  stack.input(dhcpFrame({ messageType: DHCPINFORM, ciaddr: GUEST, flags: 0 }, GUEST, GATEWAY), 0);
  const [inform] = out();
  assert.is(inform!.dhcp!.messageType, DHCPACK);
  assert.is(inform!.dhcp!.yiaddr, 0);
  assert.is(inform!.dhcp!.leaseTime, undefined);
  assert.is(inform!.ip!.dst, GUEST);
});

test('DHCP: restrict omits router and DNS; the pool runs out after 16 clients', () => {
  const { stack, out } = makeStack('slirp,restrict=on');
  stack.input(discover(), 0);
  const [offer] = out();
  assert.is(offer!.dhcp!.router, undefined);
  assert.is(offer!.dhcp!.dns, undefined);
  for (let i = 0; i < 17; i++) stack.input(dhcpFrame({ messageType: 1, chaddr: new Uint8Array([2, 0, 0, 0, 1, i]) }), 0);
  assert.is(out().length, 15); // 16 slots, one already offered above
  assert.is(stack.counters.drops['dhcp-pool-exhausted'], 2);
});

test('ICMP: pings to the gateway and DNS are answered locally', () => {
  const { stack, out, host } = makeStack();
  for (const dst of [GATEWAY, DNS]) {
    stack.input(echoFrame(GUEST, dst, 7, 1, bytes('hello')), 0);
    const [r] = out();
    assert.is(r!.icmp!.type, ICMP_ECHO_REPLY);
    assert.is(r!.icmp!.echoIdent, 7);
    assert.is(r!.ip!.src, dst);
    assert.is(text(r!.icmp!.data), 'hello');
  }
  assert.is(host.calls.length, 0);
});

test('ICMP: echo to an outside address goes through the host with a fresh id, and the reply comes back', () => {
  const { stack, out, host } = makeStack('slirp,resolver=192.0.2.53,loopback=on');
  stack.input(echoFrame(GUEST, GATEWAY, 7, 3, bytes('ping')), 0);
  const [sent] = host.take('icmpSend');
  assert.is(formatIpv4(sent!.addr), '127.0.0.1');
  const hostId = (sent!.data[4]! << 8) | sent!.data[5]!;
  // The kernel's reply (type 0, same id/seq/data).
  const reply = sent!.data.slice();
  reply[0] = 0;
  const stranger = reply.slice();
  stranger[7] ^= 1; // same id, a sequence number we never sent: another process's ping
  stack.hostIcmpReceived(ip('127.0.0.1'), stranger, 1);
  assert.is(out().length, 0);
  stack.hostIcmpReceived(ip('127.0.0.1'), reply, 1);
  const [r] = out();
  assert.is(r!.icmp!.type, ICMP_ECHO_REPLY);
  assert.is(r!.icmp!.echoIdent, 7);
  assert.is(r!.icmp!.echoSeq, 3);
  assert.is(r!.ip!.src, GATEWAY);
  assert.ok(hostId >= 0);
  stack.hostIcmpReceived(ip('127.0.0.1'), reply, 2); // a duplicate is not delivered twice
  assert.is(out().length, 0);
});

test('ICMP: without a host ICMP socket, the reason is logged once and the gateway still answers', () => {
  const { stack, out, host } = makeStack('slirp,loopback=on');
  host.icmpAvailable = false;
  stack.input(echoFrame(GUEST, ip('192.0.2.1'), 1, 1, bytes('x')), 0);
  stack.input(echoFrame(GUEST, ip('192.0.2.1'), 1, 2, bytes('x')), 0);
  assert.is(stack.counters.drops['icmp-unavailable'], 2);
  assert.is(host.logs.filter((l) => l.includes('cannot forward echo')).length, 1);
  stack.input(echoFrame(GUEST, GATEWAY, 1, 3, bytes('x')), 0);
  assert.is(out()[0]!.icmp!.type, ICMP_ECHO_REPLY);
});

test('DNS: UDP query is forwarded with a new id, the answer comes back with the guest id', () => {
  const { stack, out, host } = makeStack();
  stack.input(udpFrame(GUEST, DNS, 5353, 53, dnsQuery(0xabcd, 'example.com')), 0);
  const [open] = host.take('udpOpen');
  stack.hostUdpOpened(open!.handle, 40000, 0);
  const [q] = host.take('udpSend');
  assert.is(formatIpv4(q!.addr), '192.0.2.53');
  assert.is(q!.port, 53);
  const upstreamId = DnsHeader.wrap(q!.data).id;
  // A spoofed answer from the wrong source, one with the wrong question, then the real one.
  stack.hostUdpReceived(open!.handle, ip('192.0.2.99'), 53, dnsAnswer(upstreamId, 'example.com', 1), 1);
  stack.hostUdpReceived(open!.handle, ip('192.0.2.53'), 53, dnsAnswer(upstreamId, 'evil.com', 1), 1);
  assert.is(stack.counters.drops['dns-unmatched-answer'], 2);
  stack.hostUdpReceived(open!.handle, ip('192.0.2.53'), 53, dnsAnswer(upstreamId, 'example.com', ip('93.184.216.34')), 1);
  const [a] = out();
  assert.is(a!.ip!.src, DNS);
  assert.is(a!.udp!.srcPort, 53);
  assert.is(a!.udp!.dstPort, 5353);
  const repr = parseDns(a!.udp!.payload);
  assert.is(repr.id, 0xabcd);
  assert.ok(repr.flags & DNS_FLAG_QR);
  assert.is(repr.answers[0]!.address, ip('93.184.216.34'));
});

test('DNS: stale queries expire (counted) and the table is bounded', () => {
  const { stack, host } = makeStack();
  stack.input(udpFrame(GUEST, DNS, 5353, 53, dnsQuery(1, 'a.test')), 0);
  const deadline = stack.nextDeadline;
  assert.is(deadline, 5000);
  stack.poll(5000);
  assert.is(stack.counters.drops['dns-timeout'], 1);
  assert.is(stack.dns.size, 0);
  void host;
});

test('DNS: a resolver that does not answer in time is replaced by the next one', () => {
  const { stack, out, host } = makeStack('slirp,resolver=192.0.2.53,resolver=192.0.2.54:5353');
  stack.input(udpFrame(GUEST, DNS, 5353, 53, dnsQuery(0x4444, 'slow.test')), 0);
  const [open] = host.take('udpOpen');
  const [first] = host.take('udpSend');
  assert.is(formatIpv4(first!.addr), '192.0.2.53');
  stack.poll(5000);
  const [second] = host.take('udpSend');
  assert.is(formatIpv4(second!.addr), '192.0.2.54');
  assert.is(second!.port, 5353);
  assert.equal(second!.data, first!.data);
  assert.is(stack.counters.drops['dns-timeout'], undefined);
  stack.hostUdpReceived(open!.handle, ip('192.0.2.54'), 5353, dnsAnswer(DnsHeader.wrap(second!.data).id, 'slow.test', 1), 6000);
  assert.is(parseDns(out()[0]!.udp!.payload).id, 0x4444);
  // With both tried, the next timeout forgets the query.
  stack.input(udpFrame(GUEST, DNS, 5353, 53, dnsQuery(0x5555, 'dead.test')), 7000);
  stack.poll(12000);
  stack.poll(17000);
  assert.is(stack.counters.drops['dns-timeout'], 1);
  assert.is(stack.dns.size, 0);
});

test('UDP: NAT to the host, replies only from contacted peers, idle expiry', () => {
  const { stack, out, host } = makeStack();
  const dst = ip('192.0.2.10');
  stack.input(udpFrame(GUEST, dst, 4000, 9999, bytes('out')), 0);
  const [open] = host.take('udpOpen');
  stack.hostUdpOpened(open!.handle, 50000, 0);
  const [sent] = host.take('udpSend');
  assert.is(sent!.addr, dst);
  assert.is(sent!.port, 9999);
  assert.is(text(sent!.data), 'out');
  stack.hostUdpReceived(open!.handle, dst, 9999, bytes('back'), 1);
  stack.hostUdpReceived(open!.handle, ip('192.0.2.11'), 9999, bytes('stranger'), 1);
  const frames = out();
  assert.is(frames.length, 1);
  assert.is(text(frames[0]!.udp!.payload), 'back');
  assert.is(frames[0]!.ip!.src, dst);
  assert.is(frames[0]!.udp!.dstPort, 4000);
  assert.is(stack.counters.drops['udp-unsolicited'], 1);
  assert.is(stack.poll(2), 240_001);
  stack.poll(240_001);
  assert.equal(host.take('udpClose').map((c) => c.handle), [open!.handle]);
  assert.is(stack.counters.udpFlowsExpired, 1);
});

test('UDP: the gateway is refused (admin prohibited) unless loopback=on; DNS address other ports are unreachable', () => {
  const { stack, out, host } = makeStack();
  stack.input(udpFrame(GUEST, GATEWAY, 4000, 7777, bytes('x')), 0);
  const [err] = out();
  assert.is(err!.icmp!.type, ICMP_DEST_UNREACHABLE);
  assert.is(err!.icmp!.code, ICMP_UNREACH_ADMIN_PROHIBITED);
  assert.is(stack.counters.drops['host-loopback-disabled'], 1);
  stack.input(udpFrame(GUEST, DNS, 4000, 54, bytes('x')), 0);
  assert.is(out()[0]!.icmp!.code, ICMP_UNREACH_PORT);
  assert.is(host.calls.length, 0);
  const lo = makeStack('slirp,loopback=on');
  lo.stack.input(udpFrame(GUEST, GATEWAY, 4000, 7777, bytes('x')), 0);
  assert.is(lo.host.take('udpOpen').length, 1);
});

test('UDP hostfwd: a host peer reaches the guest port from gateway:vport and the reply goes back', () => {
  const { stack, out, host } = makeStack('slirp,hostfwd=udp::5555-:7');
  const [listen] = host.take('udpOpen');
  assert.is(formatIpv4(listen!.addr), '127.0.0.1');
  assert.is(listen!.port, 5555);
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.hostUdpReceived(listen!.handle, ip('127.0.0.1'), 33333, bytes('hi guest'), 1);
  const [d] = out();
  assert.is(d!.ip!.src, GATEWAY);
  assert.is(d!.ip!.dst, GUEST);
  assert.is(d!.udp!.dstPort, 7);
  const vport = d!.udp!.srcPort;
  stack.input(udpFrame(GUEST, GATEWAY, 7, vport, bytes('hi host')), 2);
  const [back] = host.take('udpSend');
  assert.is(back!.handle, listen!.handle);
  assert.is(formatIpv4(back!.addr), '127.0.0.1');
  assert.is(back!.port, 33333);
  assert.is(text(back!.data), 'hi host');
});

test('restrict: no outbound UDP, ICMP or DNS; the gateway still answers pings', () => {
  const { stack, out, host } = makeStack('slirp,restrict=on,resolver=192.0.2.53');
  stack.input(udpFrame(GUEST, ip('192.0.2.10'), 4000, 9999, bytes('x')), 0);
  stack.input(udpFrame(GUEST, DNS, 4000, 53, dnsQuery(1, 'a.test')), 0);
  stack.input(echoFrame(GUEST, ip('192.0.2.10'), 1, 1, bytes('x')), 0);
  assert.is(stack.counters.drops.restricted, 3);
  assert.is(host.calls.length, 0);
  stack.input(echoFrame(GUEST, GATEWAY, 1, 1, bytes('x')), 0);
  assert.is(out().length, 1);
});

test('ICMP errors from the host are relayed to the guest with the original quote', () => {
  const { stack, out, host } = makeStack('slirp,loopback=on');
  stack.input(udpFrame(GUEST, GATEWAY, 4000, 9, bytes('to closed port')), 0);
  const [open] = host.take('udpOpen');
  stack.hostUdpOpened(open!.handle, 50001, 0);
  host.take('udpSend');
  // The kernel's port unreachable: quotes 127.0.0.1:50001 -> 127.0.0.1:9.
  const quoted = new Uint8Array(28);
  quoted.set([0x45, 0, 0, 42, 0, 1, 0x40, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1]);
  quoted.set([0xc3, 0x51, 0, 9, 0, 22, 0, 0], 20);
  const icmp = new Uint8Array(36);
  icmp.set([3, 3, 0, 0, 0, 0, 0, 0]);
  icmp.set(quoted, 8);
  stack.hostIcmpReceived(ip('127.0.0.1'), icmp, 1);
  const [e] = out();
  assert.is(e!.icmp!.type, 3);
  assert.is(e!.icmp!.code, 3);
  assert.is(e!.ip!.src, GATEWAY);
  const q = e!.icmp!.data;
  assert.is(formatIpv4((q[12]! << 24 | q[13]! << 16 | q[14]! << 8 | q[15]!) >>> 0), '10.0.2.15');
  assert.is((q[20]! << 8) | q[21]!, 4000);
  assert.is(stack.counters.icmpErrorsRelayed, 1);
});

test('TTL 1 toward the outside: ICMP time exceeded from the gateway, nothing sent', () => {
  const { stack, out, host } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  stack.input(udpFrame(GUEST, ip('192.0.2.10'), 33434, 33435, bytes('traceroute'), { ttl: 1 }), 0);
  const [e] = out();
  assert.is(e!.icmp!.type, 11);
  assert.is(e!.ip!.src, GATEWAY);
  assert.is(stack.counters.drops['ip-ttl'], 1);
  assert.is(host.calls.length, 0);
});

test('an ICMP error about a forwarded ping reaches the guest with its own echo id', () => {
  const { stack, out, host } = makeStack();
  stack.input(arpRequest(GUEST, GATEWAY), 0);
  out();
  const far = ip('192.0.2.77');
  stack.input(echoFrame(GUEST, far, 0x1234, 9, bytes('probe')), 0);
  const [sent] = host.take('icmpSend');
  // A router says "host unreachable", quoting our request (with the host-side id).
  const quote = new Uint8Array(28);
  quote.set([0x45, 0, 0, 33, 0, 0, 0x40, 0, 64, 1, 0, 0, 10, 1, 1, 1, 192, 0, 2, 77]);
  quote.set(sent!.data.subarray(0, 8), 20);
  const err = new Uint8Array(36);
  err.set([3, 1, 0, 0, 0, 0, 0, 0]);
  err.set(quote, 8);
  stack.hostIcmpReceived(ip('198.51.100.1'), err, 1);
  const [e] = out();
  assert.is(e!.icmp!.type, 3);
  assert.is(e!.icmp!.code, 1);
  assert.is(e!.ip!.src, ip('198.51.100.1'));
  const q = e!.icmp!.data;
  assert.is((q[24]! << 8) | q[25]!, 0x1234, 'the quoted echo carries the guest id again');
  assert.is(stack.counters.icmpErrorsRelayed, 1);
  // An error that quotes nothing of ours is dropped.
  quote[24] ^= 0xff;
  err.set(quote, 8);
  stack.hostIcmpReceived(ip('198.51.100.1'), err, 1);
  assert.is(stack.counters.drops['icmp-unmatched'], 1);
});

test.run();
