import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  ArpPacket, DhcpPacket, EthernetFrame, Icmpv4Packet, Ipv4Packet, TcpPacket, UdpPacket, WireError,
  parseArp, parseDhcp, parseDns, parseIcmpv4, parseIpv4, parseTcp,
} from '../src/index';
import { arpRequest, dhcpDiscover, icmpEcho, ipOptions, tcpSyn, udpDns, vlanIcmp } from './fixtures';

/** Every parser on one input: only WireError may escape, and nothing may hang. */
function parseAll(bytes: Uint8Array): void {
  const attempts: Array<() => unknown> = [
    () => EthernetFrame.wrap(bytes),
    () => parseArp(ArpPacket.wrap(bytes)),
    () => parseIpv4(Ipv4Packet.wrap(bytes)),
    () => parseIcmpv4(Icmpv4Packet.wrap(bytes)),
    () => UdpPacket.wrap(bytes).payload,
    () => parseTcp(TcpPacket.wrap(bytes)),
    () => parseDhcp(DhcpPacket.wrap(bytes)),
    () => parseDns(bytes),
  ];
  for (const a of attempts) {
    try {
      a();
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
    }
  }
}

/** The frame's layers, peeled off as far as they parse, so mutations reach every parser. */
function layers(frame: Uint8Array): Uint8Array[] {
  const out = [frame];
  try {
    const ip = EthernetFrame.wrap(frame).payload;
    out.push(ip);
    const l4 = Ipv4Packet.wrap(ip).payload;
    out.push(l4, l4.subarray(8));
  } catch {
    /* keep what parsed */
  }
  return out;
}

const corpus = [arpRequest, icmpEcho, udpDns, tcpSyn, dhcpDiscover, vlanIcmp, ipOptions];

test('random bytes: parsers throw only WireError', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (b) => parseAll(b)), { numRuns: 3000 });
});

test('mutated valid frames: parsers throw only WireError', () => {
  const mutation = fc.record({
    which: fc.nat(corpus.length - 1),
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat()),
  });
  fc.assert(
    fc.property(mutation, ({ which, edits, cut }) => {
      const b = corpus[which]!.slice();
      for (const [at, v] of edits) b[at % b.length] = v;
      const cutAt = cut === null ? b.length : cut % (b.length + 1);
      for (const layer of layers(b.subarray(0, cutAt))) parseAll(layer);
    }),
    { numRuns: 5000 },
  );
  assert.ok(true);
});

test.run();
