import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EthernetFrame, IP_PROTO_ICMP, Ipv4Packet, WireError, emitIpv4, formatIpv4, parseIpv4, parseIpv4Address, prefixToMask, inSubnet } from '../src/index';
import { icmpEcho, ipOptions, toHex, reasonOf } from './fixtures';

const reason = reasonOf;
const ipOf = (frame: Uint8Array): Uint8Array => EthernetFrame.wrap(frame).payload.slice();

test('parses the fixture header and re-emits the same 20 bytes', () => {
  const bytes = ipOf(icmpEcho);
  const p = Ipv4Packet.wrap(bytes);
  assert.ok(p.checksumValid);
  assert.is(p.headerLen, 20);
  assert.is(p.protocol, IP_PROTO_ICMP);
  assert.is(formatIpv4(p.src), '10.0.2.15');
  assert.is(formatIpv4(p.dst), '10.0.2.2');
  assert.ok(p.dontFragment);
  assert.not.ok(p.isFragment);
  const repr = parseIpv4(p);
  const out = new Uint8Array(20);
  assert.is(emitIpv4(repr, out), 20);
  assert.is(toHex(out), toHex(bytes.subarray(0, 20)));
});

test('parses and re-emits a header with a Record Route option', () => {
  const bytes = ipOf(ipOptions);
  const p = Ipv4Packet.wrap(bytes);
  assert.is(p.headerLen, 28);
  assert.ok(p.checksumValid);
  const repr = parseIpv4(p);
  assert.is(repr.options!.length, 8);
  const out = new Uint8Array(28);
  emitIpv4(repr, out);
  assert.is(toHex(out), toHex(bytes.subarray(0, 28)));
});

test('ignores Ethernet padding after the total length', () => {
  const bytes = new Uint8Array(100);
  bytes.set(ipOf(icmpEcho));
  const p = Ipv4Packet.wrap(bytes);
  assert.is(p.payload.length, 16);
});

test('rejects truncated, lying and malformed headers', () => {
  const good = ipOf(icmpEcho);
  assert.is(reason(() => Ipv4Packet.wrap(good.subarray(0, 19))), 'truncated');
  const v6 = good.slice();
  v6[0] = 0x65;
  assert.is(reason(() => Ipv4Packet.wrap(v6)), 'bad-version');
  const ihl4 = good.slice();
  ihl4[0] = 0x44;
  assert.is(reason(() => Ipv4Packet.wrap(ihl4)), 'bad-header-length');
  const ihl15 = good.slice();
  ihl15[0] = 0x4f; // 60-byte header in a 36-byte packet
  assert.is(reason(() => Ipv4Packet.wrap(ihl15)), 'truncated');
  const longer = good.slice();
  longer[3] = 200;
  assert.is(reason(() => Ipv4Packet.wrap(longer)), 'truncated');
  const shorter = good.slice();
  shorter[3] = 10;
  assert.is(reason(() => Ipv4Packet.wrap(shorter)), 'bad-total-length');
  const badSum = good.slice();
  badSum[10] ^= 0xff;
  assert.not.ok(Ipv4Packet.wrap(badSum).checksumValid);
});

test('rejects options that lie about their length', () => {
  const base = ipOf(ipOptions);
  const cases: Array<[string, number[]]> = [
    ['length past the header', [1, 7, 9, 4, 0, 0, 0, 0]],
    ['length 1', [0x44, 1, 0, 0, 0, 0, 0, 0]],
    ['length 0', [0x82, 0, 0, 0, 0, 0, 0, 0]],
    ['no length byte at the end', [1, 1, 1, 1, 1, 1, 1, 0x83]],
    ['pointer below minimum', [1, 7, 7, 2, 0, 0, 0, 0]],
    ['pointer past the option', [1, 7, 7, 12, 0, 0, 0, 0]],
  ];
  for (const [what, opts] of cases) {
    const b = base.slice();
    b.set(opts, 20);
    assert.is(reason(() => Ipv4Packet.wrap(b)), 'bad-option', what);
  }
});

test('emit refuses what cannot be represented', () => {
  assert.is(reason(() => emitIpv4({ src: 1, dst: 2, protocol: 17, payloadLen: 70000, ttl: 64 }, new Uint8Array(100))), 'too-big');
  assert.is(reason(() => emitIpv4({ src: 1, dst: 2, protocol: 17, payloadLen: 0, ttl: 64 }, new Uint8Array(10))), 'too-big');
  assert.is(reason(() => emitIpv4({ src: 1, dst: 2, protocol: 17, payloadLen: 0, ttl: 64, fragmentOffset: 3 }, new Uint8Array(20))), 'bad-field');
});

test('address helpers', () => {
  assert.is(parseIpv4Address('10.0.2.15'), 0x0a00020f);
  assert.is(parseIpv4Address('256.0.0.1'), undefined);
  assert.is(parseIpv4Address('1.2.3'), undefined);
  assert.is(formatIpv4(0xffffffff), '255.255.255.255');
  assert.is(prefixToMask(24), 0xffffff00);
  assert.is(prefixToMask(0), 0);
  assert.ok(inSubnet(0x0a00020f, 0x0a000200, 0xffffff00));
  assert.not.ok(inSubnet(0x0a00030f, 0x0a000200, 0xffffff00));
});

test.run();
