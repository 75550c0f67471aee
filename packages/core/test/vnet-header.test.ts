import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  decodeVnetHeader,
  emptyVnetHeader,
  encodeVnetHeader,
  isValidVnetHdrLen,
  VIRTIO_NET_HDR_F_NEEDS_CSUM,
  VIRTIO_NET_HDR_GSO_ECN,
  VIRTIO_NET_HDR_GSO_TCPV4,
  VNET_HDR_LEN,
  VNET_HDR_LEN_LEGACY,
  type VnetHeader,
} from '../src/index';

// A TCPv4 TSO header as Linux virtio_net emits it: NEEDS_CSUM, gso TCPV4, hdr_len 66, gso_size
// 1448, csum_start 34, csum_offset 16, num_buffers 1 (virtio 1.2 §5.1.6, little-endian).
const TSO_BYTES = Uint8Array.of(0x01, 0x01, 0x42, 0x00, 0xa8, 0x05, 0x22, 0x00, 0x10, 0x00, 0x01, 0x00);
const TSO: VnetHeader = { flags: 1, gsoType: 1, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16, numBuffers: 1 };

test('lengths: 10 (legacy without MRG_RXBUF) and 12; valid lengths are 0, 10, 12', () => {
  assert.is(VNET_HDR_LEN_LEGACY, 10);
  assert.is(VNET_HDR_LEN, 12);
  for (const n of [0, 10, 12]) assert.ok(isValidVnetHdrLen(n));
  for (const n of [-1, 1, 8, 11, 13, 20, 10.5, NaN]) assert.not.ok(isValidVnetHdrLen(n));
});

test('decode a literal 12-byte header (little-endian fields)', () => {
  const h = emptyVnetHeader();
  assert.ok(decodeVnetHeader(TSO_BYTES, 0, 12, h));
  assert.equal(h, TSO);
  assert.is(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
  assert.is(h.gsoType, VIRTIO_NET_HDR_GSO_TCPV4);
});

test('decode the 10-byte form: num_buffers reads as 0', () => {
  const h = emptyVnetHeader();
  h.numBuffers = 7;
  assert.ok(decodeVnetHeader(TSO_BYTES, 0, 10, h));
  assert.equal(h, { ...TSO, numBuffers: 0 });
});

test('encode gives the literal bytes; the 10-byte form leaves what follows alone', () => {
  const out = new Uint8Array(12);
  assert.ok(encodeVnetHeader(TSO, out, 0, 12));
  assert.equal(out, TSO_BYTES);
  const short = new Uint8Array(12).fill(0xee);
  assert.ok(encodeVnetHeader(TSO, short, 0, 10));
  assert.equal(short.subarray(0, 10), TSO_BYTES.subarray(0, 10));
  assert.equal(short.subarray(10), Uint8Array.of(0xee, 0xee));
});

test('bounds: wrong length, short buffer, negative or too-large offset → false, nothing touched', () => {
  const h = emptyVnetHeader();
  const buf = new Uint8Array(16).fill(0xaa);
  for (const len of [0, 8, 11, 20]) {
    assert.not.ok(decodeVnetHeader(buf, 0, len, h));
    assert.not.ok(encodeVnetHeader(TSO, buf, 0, len));
  }
  assert.not.ok(decodeVnetHeader(buf, 5, 12, h));
  assert.not.ok(decodeVnetHeader(buf, -1, 10, h));
  assert.not.ok(encodeVnetHeader(TSO, buf, 7, 10));
  assert.not.ok(encodeVnetHeader(TSO, buf, -2, 10));
  assert.ok(buf.every((b) => b === 0xaa));
  assert.equal(h, emptyVnetHeader(), 'out untouched on failure');
  assert.ok(decodeVnetHeader(buf, 4, 12, h), 'exactly fits at the end');
  assert.ok(encodeVnetHeader(TSO, buf, 6, 10));
});

test('the GSO ECN bit travels in gso_type', () => {
  const out = new Uint8Array(10);
  encodeVnetHeader({ ...TSO, gsoType: VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN }, out, 0, 10);
  const h = emptyVnetHeader();
  decodeVnetHeader(out, 0, 10, h);
  assert.is(h.gsoType, 0x81);
});

const header = fc.record({
  flags: fc.integer({ min: 0, max: 0xff }),
  gsoType: fc.integer({ min: 0, max: 0xff }),
  hdrLen: fc.integer({ min: 0, max: 0xffff }),
  gsoSize: fc.integer({ min: 0, max: 0xffff }),
  csumStart: fc.integer({ min: 0, max: 0xffff }),
  csumOffset: fc.integer({ min: 0, max: 0xffff }),
  numBuffers: fc.integer({ min: 0, max: 0xffff }),
});

test('property: encode then decode round-trips at any offset, and writes only its bytes', () => {
  fc.assert(
    fc.property(header, fc.constantFrom(10, 12), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 20 }), (h, len, offset, tail) => {
      const buf = new Uint8Array(offset + len + tail).fill(0x5a);
      assert.ok(encodeVnetHeader(h, buf, offset, len));
      assert.ok(buf.subarray(0, offset).every((b) => b === 0x5a), 'before untouched');
      assert.ok(buf.subarray(offset + len).every((b) => b === 0x5a), 'after untouched');
      const back = emptyVnetHeader();
      assert.ok(decodeVnetHeader(buf, offset, len, back));
      assert.equal(back, len === 12 ? { ...h } : { ...h, numBuffers: 0 });
    }),
    { numRuns: 500 },
  );
});

test('property: decode then encode reproduces the bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.constantFrom(10, 12), (bytes, len) => {
      const h = emptyVnetHeader();
      assert.ok(decodeVnetHeader(bytes, 0, len, h));
      const out = new Uint8Array(len);
      assert.ok(encodeVnetHeader(h, out, 0, len));
      assert.equal(out, bytes.subarray(0, len));
    }),
    { numRuns: 500 },
  );
});

test('out-of-range field values are truncated to their width, never written past the header', () => {
  const buf = new Uint8Array(14);
  assert.ok(encodeVnetHeader({ flags: 0x1ff, gsoType: -1, hdrLen: 0x12345, gsoSize: -1, csumStart: 0, csumOffset: 0, numBuffers: 0x10001 }, buf, 1, 12));
  assert.is(buf[0], 0);
  assert.is(buf[13], 0);
  const h = emptyVnetHeader();
  decodeVnetHeader(buf, 1, 12, h);
  assert.equal(h, { flags: 0xff, gsoType: 0xff, hdrLen: 0x2345, gsoSize: 0xffff, csumStart: 0, csumOffset: 0, numBuffers: 1 });
});

test.run();
