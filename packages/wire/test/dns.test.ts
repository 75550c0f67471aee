import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  DNS_CLASS_IN, DNS_FLAG_QR, DNS_FLAG_RD, DNS_TYPE_A, DNS_TYPE_CNAME, DnsHeader, EthernetFrame, Ipv4Packet, UdpPacket, WireError,
  decodeDnsName, emitDns, encodeDnsName, parseDns,
} from '../src/index';
import { hex, toHex, udpDns, reasonOf } from './fixtures';

const reason = reasonOf;
const query = (): Uint8Array => UdpPacket.wrap(Ipv4Packet.wrap(EthernetFrame.wrap(udpDns).payload).payload).payload.slice();

test('parses the query fixture and re-emits identical bytes', () => {
  const q = query();
  const h = DnsHeader.wrap(q);
  assert.is(h.id, 0xbeef);
  assert.not.ok(h.isResponse);
  const repr = parseDns(q);
  assert.equal(repr.questions, [{ name: 'example.com', type: DNS_TYPE_A, class: DNS_CLASS_IN }]);
  assert.is(toHex(emitDns(repr)), toHex(q));
});

// A response: example.com CNAME www.example.com (compressed), www.example.com A 93.184.216.34
const answer = hex(
  [
    'beef 8180 0001 0002 0000 0000',
    '07 6578616d706c65 03 636f6d 00 0001 0001', // question at offset 12
    'c00c 0005 0001 00000e10 0006 03 777777 c00c', // CNAME -> www.<ptr 12>
    'c029 0001 0001 00000e10 0004 5db8d822', // A for the name at offset 41 (www.example.com)
  ].join(''),
);

test('parses a response with compression pointers', () => {
  const repr = parseDns(answer);
  assert.ok(repr.flags & DNS_FLAG_QR);
  assert.ok(repr.flags & DNS_FLAG_RD);
  assert.is(repr.answers.length, 2);
  assert.is(repr.answers[0]!.type, DNS_TYPE_CNAME);
  assert.is(repr.answers[0]!.target, 'www.example.com');
  assert.is(repr.answers[1]!.name, 'www.example.com');
  assert.is(repr.answers[1]!.address, 0x5db8d822);
  const again = parseDns(emitDns(repr));
  assert.equal(again.answers.map((a) => [a.name, a.target, a.address]), repr.answers.map((a) => [a.name, a.target, a.address]));
});

test('compression loops and forward pointers are rejected', () => {
  const self = hex('beef 8180 0001 0000 0000 0000 c00c 0001 0001');
  assert.is(reason(() => parseDns(self)), 'bad-name');
  const pingPong = hex('beef 8180 0001 0000 0000 0000 01 61 c0 0e 0001 0001');
  // label "a" then a pointer to offset 14 — itself: not strictly backwards
  assert.is(reason(() => parseDns(pingPong)), 'bad-name');
  const twoStep = hex('beef 8180 0002 0000 0000 0000 c0 0e c0 0c 0001 0001');
  assert.is(reason(() => parseDns(twoStep)), 'bad-name');
  const forward = hex('beef 8180 0001 0000 0000 0000 c0 20 0001 0001');
  assert.is(reason(() => parseDns(forward)), 'bad-name');
});

test('over-long names, bad label types and lying counts are rejected', () => {
  const labels = Array.from({ length: 5 }, () => '3f' + '61'.repeat(63)).join('');
  assert.is(reason(() => parseDns(hex('0001 0100 0001 0000 0000 0000' + labels + '00 0001 0001'))), 'bad-name');
  assert.is(reason(() => parseDns(hex('0001 0100 0001 0000 0000 0000 41 00 0001 0001'))), 'bad-name');
  assert.is(reason(() => parseDns(hex('0001 0100 ffff 0000 0000 0000 00 0001 0001'))), 'truncated');
  assert.is(reason(() => parseDns(hex('0001 0100 0000 0001 0000 0000 00 0001 0001 00000000 0010 0102'))), 'truncated');
  assert.is(reason(() => parseDns(hex('0001 0100 0000 0001 0000 0000 00 0001 0001 00000000 0003 010203'))), 'bad-field');
  assert.is(reason(() => DnsHeader.wrap(hex('0001'))), 'truncated');
});

test('name encoding checks label and name lengths', () => {
  const buf = new Uint8Array(300);
  assert.is(encodeDnsName('a.b', buf, 0), 5);
  assert.equal(decodeDnsName(buf, 0), { name: 'a.b', next: 5 });
  assert.is(encodeDnsName('', buf, 0), 1);
  assert.is(reason(() => encodeDnsName('x'.repeat(64), buf, 0)), 'bad-name');
  assert.is(reason(() => encodeDnsName('a..b', buf, 0)), 'bad-name');
  assert.is(reason(() => encodeDnsName(Array(130).fill('ab').join('.'), buf, 0)), 'bad-name');
});

test.run();
