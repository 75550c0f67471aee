import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  BOOTP_REPLY, DHCPDISCOVER, DHCPOFFER, DhcpPacket, EthernetFrame, Ipv4Packet, UdpPacket, WireError,
  decodeDomainSearch, dhcpLen, emitDhcp, encodeDomainSearch, parseDhcp,
} from '../src/index';
import { dhcpDiscover, hex, toHex, reasonOf } from './fixtures';

const reason = reasonOf;
const bootp = (): Uint8Array => UdpPacket.wrap(Ipv4Packet.wrap(EthernetFrame.wrap(dhcpDiscover).payload).payload).payload.slice();

test('parses a DISCOVER with parameter request list and hostname', () => {
  const repr = parseDhcp(DhcpPacket.wrap(bootp()));
  assert.is(repr.messageType, DHCPDISCOVER);
  assert.is(repr.xid, 0xdeadbeef);
  assert.is(repr.flags, 0x8000);
  assert.is(toHex(repr.chaddr), '525400123456');
  assert.equal(repr.parameterRequestList, [1, 3, 6, 15]);
  assert.is(repr.hostname, 'guest');
});

test('emits an OFFER that parses back with the same fields, padded to 300 bytes', () => {
  const offer = {
    op: BOOTP_REPLY, xid: 0xdeadbeef, flags: 0x8000, yiaddr: 0x0a00020f, siaddr: 0x0a000202, chaddr: hex('525400123456'),
    messageType: DHCPOFFER, serverId: 0x0a000202, leaseTime: 86400, subnetMask: 0xffffff00, router: [0x0a000202], dns: [0x0a000203],
    domainName: 'example.test', domainSearch: ['example.test', 'corp.example.test'], mtu: 1500, hostname: 'vm1',
  };
  const buf = new Uint8Array(dhcpLen(offer));
  assert.ok(buf.length >= 300);
  emitDhcp(offer, buf);
  const back = parseDhcp(DhcpPacket.wrap(buf));
  assert.equal(back, { ...offer, secs: 0, ciaddr: 0, giaddr: 0 });
});

test('a search list longer than 255 bytes is split and rejoined (RFC 3396)', () => {
  const names = Array.from({ length: 12 }, (_, i) => `domain-number-${i}.example.internal`);
  const repr = { op: BOOTP_REPLY, xid: 1, chaddr: hex('525400123456'), domainSearch: names };
  const buf = new Uint8Array(dhcpLen(repr));
  emitDhcp(repr, buf);
  assert.equal(parseDhcp(DhcpPacket.wrap(buf)).domainSearch, names);
});

test('RFC 3397 §4 example with compression decodes', () => {
  // eng.apple.com, marketing.apple.com (second uses a pointer to "apple.com")
  const v = hex('03656e67056170706c6503636f6d00096d61726b6574696e67c004');
  assert.equal(decodeDomainSearch(v), ['eng.apple.com', 'marketing.apple.com']);
  assert.is(toHex(encodeDomainSearch(['eng.apple.com'])), '03656e67056170706c6503636f6d00');
});

test('options that overrun the packet, a missing END, bad cookie and short packets are rejected', () => {
  const good = bootp();
  const optStart = 240;
  const overrun = good.slice(0, optStart + 3);
  overrun.set([12, 200, 0x41], optStart);
  assert.is(reason(() => DhcpPacket.wrap(overrun)), 'bad-option');
  const noLen = good.slice(0, optStart + 1);
  noLen[optStart] = 12;
  assert.is(reason(() => DhcpPacket.wrap(noLen)), 'bad-option');
  const noEnd = good.slice(0, optStart + 3);
  noEnd.set([53, 1, 1], optStart);
  assert.is(reason(() => DhcpPacket.wrap(noEnd)), 'bad-option');
  const cookie = good.slice();
  cookie[236] = 0;
  assert.is(reason(() => DhcpPacket.wrap(cookie)), 'bad-field');
  assert.is(reason(() => DhcpPacket.wrap(good.subarray(0, 239))), 'truncated');
  const hlen = good.slice();
  hlen[2] = 17;
  assert.is(reason(() => DhcpPacket.wrap(hlen)), 'bad-field');
  const badType = good.slice();
  badType.set([53, 2, 1, 1, 255], optStart);
  assert.is(reason(() => parseDhcp(DhcpPacket.wrap(badType))), 'bad-option');
  const badRouter = good.slice();
  badRouter.set([3, 3, 1, 2, 3, 255], optStart);
  assert.is(reason(() => parseDhcp(DhcpPacket.wrap(badRouter))), 'bad-option');
  const loopSearch = good.slice();
  loopSearch.set([119, 2, 0xc0, 0x00, 255], optStart);
  assert.is(reason(() => parseDhcp(DhcpPacket.wrap(loopSearch))), 'bad-name');
});

test.run();
