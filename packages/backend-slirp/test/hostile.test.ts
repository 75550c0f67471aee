import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { ICMP_ECHO_REPLY, IP_PROTO_ICMP, IP_PROTO_TCP, IP_PROTO_UDP, TCP_SYN, emitDns, put16 } from '@netbe/wire';
import type { DropReason } from '../src/core';
import { makeStack } from './helpers/stack';
import { DNS, GATEWAY, GUEST, arpRequest, bytes, discover, echoFrame, ip, ipFrame, request, tcpFrame, udpFrame } from './helpers/guest';

const REMOTE = ip('192.0.2.10');
type Stack = ReturnType<typeof makeStack>;

/** After any abuse the stack must still answer a ping to its DNS address. */
function stillServes(t: Stack): void {
  t.stack.input(arpRequest(GUEST, GATEWAY), 1e9); // (re)announce the guest: the fuzz may have churned the ARP cache
  t.out();
  t.stack.input(echoFrame(GUEST, DNS, 9, 9, bytes('alive?')), 1e9); // DNS: always answered locally
  const replies = t.out().filter((d) => d.icmp?.type === ICMP_ECHO_REPLY && d.icmp.echoIdent === 9);
  assert.is(replies.length, 1, 'the stack still answers pings');
}

/** Recomputes the IPv4 header checksum of a frame (for mutations that must pass it). */
function fixIpChecksum(f: Uint8Array): Uint8Array {
  const hl = (f[14]! & 0xf) * 4;
  put16(f, 24, 0);
  let s = 0;
  for (let i = 14; i < 14 + hl; i += 2) s += (f[i]! << 8) | f[i + 1]!;
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  put16(f, 24, ~s & 0xffff);
  return f;
}

const goodUdp = (): Uint8Array => udpFrame(GUEST, REMOTE, 4000, 9000, bytes('payload!'));
const cases: Array<[string, DropReason, () => Uint8Array]> = [
  ['ethernet header cut short', 'eth-truncated', () => goodUdp().subarray(0, 10)],
  ['IPv4 header cut short', 'ip-malformed', () => goodUdp().subarray(0, 14 + 12)],
  ['IHL larger than the packet', 'ip-malformed', () => fixIpChecksum(Object.assign(goodUdp().slice(0, 40), { 14: 0x4f }))],
  ['IHL below 5', 'ip-malformed', () => fixIpChecksum(Object.assign(goodUdp(), { 14: 0x43 }))],
  ['total length past the frame', 'ip-malformed', () => fixIpChecksum(Object.assign(goodUdp(), { 16: 0x10 }))],
  ['bad IPv4 checksum', 'ip-bad-checksum', () => Object.assign(goodUdp(), { 24: 0 , 25: 1 })],
  ['IP option that lies about its length', 'ip-bad-option', () => {
    const l4 = goodUdp().subarray(34, 50);
    const f = new Uint8Array(14 + 24 + l4.length);
    f.set(goodUdp().subarray(0, 34));
    f.set([0x46], 14);
    put16(f, 16, 24 + l4.length);
    f.set([0x83, 40, 4, 0], 34); // LSRR of 40 bytes in a 4-byte option area
    f.set(l4, 38);
    return fixIpChecksum(f);
  }],
  ['UDP header cut short', 'udp-malformed', () => ipFrame(GUEST, REMOTE, IP_PROTO_UDP, new Uint8Array(5))],
  ['UDP length past the datagram', 'udp-malformed', () => { const u = goodUdp().slice(34, 50); put16(u, 4, 200); return ipFrame(GUEST, REMOTE, IP_PROTO_UDP, u); }],
  ['bad UDP checksum', 'udp-bad-checksum', () => Object.assign(goodUdp(), { 41: 0x12 })],
  ['ICMP cut short', 'icmp-malformed', () => ipFrame(GUEST, GATEWAY, IP_PROTO_ICMP, new Uint8Array([8, 0, 0]))],
  ['bad ICMP checksum', 'icmp-bad-checksum', () => Object.assign(echoFrame(GUEST, GATEWAY, 1, 1, bytes('x')), { 36: 0 })],
  ['TCP data offset past the segment', 'tcp-malformed', () => { const t = tcpFrame(GUEST, REMOTE, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_SYN, window: 1 }).slice(34, 54); t[12] = 0xf0; return ipFrame(GUEST, REMOTE, IP_PROTO_TCP, t); }],
  ['TCP option that lies about its length', 'tcp-malformed', () => { const f = tcpFrame(GUEST, REMOTE, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_SYN, window: 1, options: { mss: 1460 } }); f[34 + 21] = 9; return f; }],
  ['bad TCP checksum', 'tcp-bad-checksum', () => Object.assign(tcpFrame(GUEST, REMOTE, { srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: TCP_SYN, window: 1 }), { 50: 0 , 51: 0 })],
  ['ARP with hlen 16', 'arp-malformed', () => Object.assign(arpRequest(GUEST, GATEWAY), { 18: 16 })],
  ['DHCP option overrunning the packet', 'dhcp-malformed', () => {
    const f = discover();
    const opts = 14 + 20 + 8 + 240;
    f[opts] = 12; // hostname, claiming 255 bytes in a frame that ends sooner
    f[opts + 1] = 255;
    return recomputeUdp(f);
  }],
  ['DNS query with a compression loop', 'dns-malformed-query', () => udpFrame(GUEST, DNS, 5000, 53, Uint8Array.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1]))],
  ['a frame for another MAC', 'eth-not-for-us', () => Object.assign(goodUdp(), { 0: 0x02 })],
  ['guest spoofing an outside source', 'ip-martian', () => udpFrame(REMOTE, ip('192.0.2.11'), 1, 2, bytes('x'))],
  ['guest sending to loopback', 'ip-martian', () => udpFrame(GUEST, ip('127.0.0.1'), 1, 2, bytes('x'))],
];

/** Recomputes the UDP checksum of a frame without IP options (for DHCP mutations). */
function recomputeUdp(f: Uint8Array): Uint8Array {
  put16(f, 40, 0);
  return f; // 0 = no checksum (RFC 768), so the mutation reaches the DHCP parser
}

for (const [what, reason, make] of cases) {
  test(`bad input: ${what} → counted drop '${reason}', stack keeps serving`, () => {
    const t = makeStack();
    t.stack.input(arpRequest(GUEST, GATEWAY), 0);
    t.stack.input(make(), 0);
    assert.is(t.stack.counters.drops[reason], 1, JSON.stringify(t.stack.counters.drops));
    assert.is(t.host.calls.filter((c) => c.op !== 'udpOpen').length, 0, 'nothing reached the host');
    stillServes(t);
  });
}

test('bad input: upstream DNS answer with a compression loop is dropped', () => {
  const t = makeStack();
  t.stack.input(udpFrame(GUEST, DNS, 5000, 53, emitDns({ id: 1, flags: 0x100, questions: [{ name: 'a.test', type: 1, class: 1 }], answers: [], authorities: [], additionals: [] })), 0);
  const [open] = t.host.take('udpOpen');
  t.stack.hostUdpOpened(open!.handle, 1, 0);
  const [q] = t.host.take('udpSend');
  const evil = Uint8Array.from([q!.data[0]!, q!.data[1]!, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1, 0xc0, 18, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
  t.stack.hostUdpReceived(open!.handle, ip('192.0.2.53'), 53, evil, 1);
  assert.is(t.stack.counters.drops['dns-malformed-answer'], 1);
  assert.is(t.out().length, 0);
  stillServes(t);
});

test('flood: 5000 new UDP flows keep the table at its bound, evicting the oldest', () => {
  const t = makeStack('slirp,maxflows=64');
  t.stack.input(arpRequest(GUEST, GATEWAY), 0);
  for (let i = 0; i < 5000; i++) t.stack.input(udpFrame(GUEST, REMOTE, 1024 + i, 9, bytes('x')), i);
  assert.is(t.stack.udp.size, 64);
  assert.is(t.stack.counters.drops['udp-flow-evicted'], 5000 - 64);
  assert.is(t.host.take('udpClose').length, 5000 - 64);
  stillServes(t);
});

test('flood: endless overlapping and never-completing fragments stay within the reassembly limits', () => {
  const t = makeStack();
  for (let i = 0; i < 3000; i++) {
    const l4 = new Uint8Array(1024);
    t.stack.input(ipFrame(GUEST, REMOTE, IP_PROTO_UDP, l4, { ident: i % 10, fragmentOffset: (i % 7) * 512, moreFragments: true }), i);
  }
  assert.ok(t.stack.reassembler.bytesHeld <= 1 << 20);
  assert.ok(t.stack.reassembler.active <= 32);
  assert.ok((t.stack.counters.drops['frag-overlap'] ?? 0) > 0);
  t.stack.poll(3000 + 30_000);
  assert.is(t.stack.reassembler.active, 0);
  stillServes(t);
});

test('fuzz: mutated valid frames and host events never throw, memory stays bounded, the stack keeps serving', () => {
  const corpus: Uint8Array[] = [
    discover(), request(GUEST, GATEWAY), arpRequest(GUEST, GATEWAY), echoFrame(GUEST, GATEWAY, 1, 1, bytes('abcdefgh')),
    echoFrame(GUEST, REMOTE, 1, 1, bytes('abcdefgh')), goodUdp(), udpFrame(GUEST, DNS, 5000, 53, emitDns({ id: 1, flags: 0x100, questions: [{ name: 'a.test', type: 1, class: 1 }], answers: [], authorities: [], additionals: [] })),
    tcpFrame(GUEST, REMOTE, { srcPort: 1000, dstPort: 80, seq: 1, ack: 0, flags: TCP_SYN, window: 1000, options: { mss: 1400, windowScale: 2 } }),
    tcpFrame(GUEST, REMOTE, { srcPort: 1000, dstPort: 80, seq: 2, ack: 1, flags: 0x18, window: 1000 }, bytes('hello')),
    ipFrame(GUEST, REMOTE, IP_PROTO_UDP, new Uint8Array(64), { ident: 5, fragmentOffset: 0, moreFragments: true }),
    ipFrame(GUEST, REMOTE, IP_PROTO_UDP, new Uint8Array(64), { ident: 5, fragmentOffset: 64, moreFragments: false }),
  ];
  const t = makeStack('slirp,loopback=on,hostfwd=udp::5000-:7,hostfwd=tcp::5001-:22');
  let now = 0;
  fc.assert(
    fc.property(
      fc.nat(corpus.length - 1),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.option(fc.nat(), { freq: 4 }),
      fc.boolean(),
      (which, edits, cut, fix) => {
        const f = corpus[which]!.slice();
        for (const [at, v] of edits) f[at % f.length] = v;
        if (fix && f.length >= 34 && (f[14]! >> 4) === 4 && (f[14]! & 0xf) * 4 + 14 <= f.length) fixIpChecksum(f);
        const frame = cut === null ? f : f.subarray(0, cut % (f.length + 1));
        now += 7;
        t.stack.input(frame, now);
        // Play back plausible host events for whatever the stack asked.
        for (const c of t.host.calls.splice(0)) {
          if (c.op === 'udpOpen') t.stack.hostUdpOpened(c.handle, 40000 + (c.handle % 1000), now);
          else if (c.op === 'udpSend') t.stack.hostUdpReceived(c.handle, c.addr, c.port, c.data.slice().reverse(), now);
          else if (c.op === 'tcpConnect') (now % 3 ? t.stack.hostTcpConnected(c.handle, now) : t.stack.hostTcpClosed(c.handle, 'ECONNREFUSED', now));
          else if (c.op === 'tcpWrite') t.stack.hostTcpData(c.handle, c.data, now);
          else if (c.op === 'icmpSend') t.stack.hostIcmpReceived(c.addr, Object.assign(c.data.slice(), { 0: 0 }), now);
        }
        if (now % 50 === 0) t.stack.poll(now);
        t.out();
      },
    ),
    { numRuns: 6000 },
  );
  const s = t.stack;
  assert.ok(s.udp.size <= s.options.maxUdpFlows);
  assert.ok(s.tcp.size <= s.options.maxTcpConnections);
  assert.ok(s.reassembler.bytesHeld <= s.options.reassembly.maxBytes);
  assert.ok(s.dns.size <= s.options.maxDnsPending);
  assert.ok(s.pendingFrames <= s.options.maxGuestQueue);
  assert.ok(s.counters.totalDrops > 0);
  stillServes(t);
});

test.run();
