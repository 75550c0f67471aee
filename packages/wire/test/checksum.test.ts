import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import { checksumAdd, checksumUpdate16, checksumUpdate32, foldChecksum, internetChecksum, put16, put32, verifyChecksum } from '../src/index';
import { hex } from './fixtures';

test('RFC 1071 §3 example: words 0001 f203 f4f5 f6f7 sum to ddf2', () => {
  const b = hex('0001f203f4f5f6f7');
  assert.is(checksumAdd(b, 0, b.length) % 0xffff, 0xddf2 % 0xffff);
  assert.is(internetChecksum(b), ~0xddf2 & 0xffff);
});

test('the well-known IPv4 header sums to b861', () => {
  const h = hex('450000730000400040110000c0a80001c0a800c7');
  assert.is(internetChecksum(h), 0xb861);
  put16(h, 10, 0xb861);
  assert.ok(verifyChecksum(h, 0, h.length));
});

test('odd length pads the last byte with zero', () => {
  assert.is(internetChecksum(hex('01')), ~0x0100 & 0xffff);
});

test('a long buffer (> 64 KiB of words) does not lose carries', () => {
  const b = new Uint8Array(300_000).fill(0xff);
  // all-ones words sum to 0xffff in one's complement, so the checksum is 0
  assert.is(internetChecksum(b), 0);
});

test('incremental update (RFC 1624) equals recomputation', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 20, maxLength: 64 }), fc.nat(15), fc.integer({ min: 0, max: 0xffffffff }), (bytes, wordIdx, value) => {
      const b = bytes.slice(0, bytes.length & ~1);
      const at = (wordIdx * 2) % (b.length - 4);
      const before = internetChecksum(b);
      const old32 = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
      put32(b, at, value);
      const full = internetChecksum(b);
      const inc = checksumUpdate32(before, old32, value);
      // 0x0000 and 0xffff are the same value in one's complement
      assert.is(inc % 0xffff, full % 0xffff);
    }),
  );
  assert.is(checksumUpdate16(0x1234, 0x0001, 0x0001), 0x1234);
  assert.is(foldChecksum(0x1ffff), 0xfffe);
});

test.run();
