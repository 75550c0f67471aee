import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ARP_REQUEST, ArpPacket, ETHERTYPE_ARP, ETHERTYPE_IPV4, EthernetFrame, WireError, emitArp, emitEthernet, formatIpv4, formatMacAddress, parseArp, parseEthernet } from '../src/index';
import { arpRequest, hex, icmpEcho, toHex, vlanIcmp, reasonOf } from './fixtures';

const reason = reasonOf;

test('ethernet: parses an untagged frame', () => {
  const f = EthernetFrame.wrap(icmpEcho);
  assert.is(f.headerLen, 14);
  assert.is(f.ethertype, ETHERTYPE_IPV4);
  assert.is(formatMacAddress(f.dst), '52:55:0a:00:02:02');
  assert.is(formatMacAddress(f.src), '52:54:00:12:34:56');
  assert.is(f.payload.length, icmpEcho.length - 14);
});

test('ethernet: parses an 802.1Q tag (PCP 5, VID 100) and emits it back', () => {
  const f = EthernetFrame.wrap(vlanIcmp);
  assert.is(f.headerLen, 18);
  assert.is(f.ethertype, ETHERTYPE_IPV4);
  const repr = parseEthernet(f);
  assert.equal(repr.vlan, { pcp: 5, dei: false, vid: 100 });
  const out = new Uint8Array(18);
  assert.is(emitEthernet(repr, out), 18);
  assert.is(toHex(out), toHex(vlanIcmp.subarray(0, 18)));
});

test('ethernet: truncated headers and stacked tags are rejected', () => {
  assert.is(reason(() => EthernetFrame.wrap(new Uint8Array(13))), 'truncated');
  assert.is(reason(() => EthernetFrame.wrap(vlanIcmp.subarray(0, 17))), 'truncated');
  const qinq = vlanIcmp.slice();
  qinq[16] = 0x81;
  qinq[17] = 0x00;
  assert.is(reason(() => EthernetFrame.wrap(qinq)), 'bad-field');
});

test('arp: parses a request (padded to 60 bytes) and re-emits identical bytes', () => {
  const f = EthernetFrame.wrap(arpRequest);
  assert.is(f.ethertype, ETHERTYPE_ARP);
  const p = ArpPacket.wrap(f.payload);
  const repr = parseArp(p);
  assert.is(repr.operation, ARP_REQUEST);
  assert.is(formatIpv4(repr.senderIp), '10.0.2.15');
  assert.is(formatIpv4(repr.targetIp), '10.0.2.2');
  const out = new Uint8Array(28);
  emitArp(repr, out);
  assert.is(toHex(out), toHex(f.payload.subarray(0, 28)));
});

test('arp: odd hlen/plen and short packets are rejected (CVE-2020-29130 class)', () => {
  const p = EthernetFrame.wrap(arpRequest).payload.slice(0, 28);
  assert.is(reason(() => ArpPacket.wrap(p.subarray(0, 27))), 'truncated');
  assert.is(reason(() => ArpPacket.wrap(p.subarray(0, 7))), 'truncated');
  const bad = p.slice();
  bad[4] = 16;
  assert.is(reason(() => ArpPacket.wrap(bad)), 'bad-field');
  const ipv6ish = p.slice();
  ipv6ish[2] = 0x86;
  assert.is(reason(() => ArpPacket.wrap(ipv6ish)), 'bad-field');
  assert.is(reason(() => ArpPacket.wrap(hex(''))), 'truncated');
});

test.run();
