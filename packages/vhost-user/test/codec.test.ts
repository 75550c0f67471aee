/** The message codec and the stream reassembly, on literal bytes (vhost-user.rst layouts). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  MessageReader,
  Req,
  VhostUserError,
  decodeConfig,
  decodeMemRegion,
  decodeMemTable,
  decodeVringAddr,
  decodeVringFd,
  decodeVringState,
  encodeMemRegion,
  encodeMemTable,
  encodeMessage,
  encodeU64,
  encodeVringAddr,
  type VhostUserMessage,
} from '../src/index';

const msg = (request: number, payload: number[] | Uint8Array, fds: number[] = []): VhostUserMessage => ({ request, flags: 1, payload: Uint8Array.from(payload), fds });

function throwsProtocol(fn: () => unknown, re: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, VhostUserError);
    assert.is((e as VhostUserError).code, 'ERR_PROTOCOL');
    assert.match((e as Error).message, re);
    return;
  }
  assert.unreachable('expected a protocol error');
}

test('header: request, flags (version 1), size, little-endian', () => {
  assert.equal(Array.from(encodeMessage(Req.GET_FEATURES)), [1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(Array.from(encodeMessage(Req.SET_FEATURES, encodeU64(0x1_0000_0002n))), [2, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]);
});

test('vring state and address layouts', () => {
  assert.equal(decodeVringState(msg(Req.SET_VRING_NUM, [1, 0, 0, 0, 0, 1, 0, 0])), { index: 1, num: 256 });
  const bytes = encodeVringAddr({ index: 1, flags: 0, descUserAddr: 0x7f0000001000, usedUserAddr: 0x7f0000003000, availUserAddr: 0x7f0000002000, logGuestAddr: 0 });
  assert.equal(Array.from(bytes.subarray(8, 16)), [0x00, 0x10, 0, 0, 0, 0x7f, 0, 0]);
  assert.equal(decodeVringAddr(msg(Req.SET_VRING_ADDR, bytes)), { index: 1, flags: 0, descUserAddr: 0x7f0000001000, usedUserAddr: 0x7f0000003000, availUserAddr: 0x7f0000002000, logGuestAddr: 0 });
  throwsProtocol(() => decodeVringAddr(msg(Req.SET_VRING_ADDR, [...bytes.subarray(0, 8), 0, 0, 0, 0, 0, 0, 0, 0x80, ...bytes.subarray(16)])), /not below 2\^53/);
});

test('kick/call/err payload: index in bits 0-7, bit 8 no-fd, nothing else', () => {
  assert.equal(decodeVringFd(msg(Req.SET_VRING_KICK, [1, 0, 0, 0, 0, 0, 0, 0], [9])), { index: 1, noFd: false });
  assert.equal(decodeVringFd(msg(Req.SET_VRING_CALL, [0, 1, 0, 0, 0, 0, 0, 0])), { index: 0, noFd: true });
  throwsProtocol(() => decodeVringFd(msg(Req.SET_VRING_KICK, [0, 2, 0, 0, 0, 0, 0, 0], [9])), /bits other than/);
  throwsProtocol(() => decodeVringFd(msg(Req.SET_VRING_KICK, [0, 0, 0, 0, 0, 0, 0, 0])), /carried 0 file descriptors, expected 1/);
});

test('memory table: counts, sizes, overlaps', () => {
  const r = { guestPhysAddr: 0, size: 0x10000, userAddr: 0x7f0000000000, mmapOffset: 0 };
  const table = encodeMemTable([r]);
  assert.equal(Array.from(table.subarray(0, 8)), [1, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(decodeMemTable(msg(Req.SET_MEM_TABLE, table, [5])), [r]);
  throwsProtocol(() => decodeMemTable(msg(Req.SET_MEM_TABLE, table, [])), /expected 1/);
  throwsProtocol(() => decodeMemTable(msg(Req.SET_MEM_TABLE, encodeMemTable([r, { ...r, guestPhysAddr: 0x8000, userAddr: 0x7f0000100000 }]), [5, 6])), /overlap in guest-physical/);
  throwsProtocol(() => decodeMemTable(msg(Req.SET_MEM_TABLE, [1, 0, 0])), /too short/);
});

test('single region (ADD/REM_MEM_REG): u64 padding then the region', () => {
  const r = { guestPhysAddr: 0x1000, size: 0x2000, userAddr: 0x7f0000000000, mmapOffset: 0x3000 };
  const bytes = encodeMemRegion(r);
  assert.is(bytes.length, 40);
  assert.equal(Array.from(bytes.subarray(0, 10)), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);
  assert.equal(decodeMemRegion(msg(Req.ADD_MEM_REG, bytes, [5])), r);
  throwsProtocol(() => decodeMemRegion(msg(Req.ADD_MEM_REG, bytes.subarray(0, 32))), /expected 40/);
  throwsProtocol(() => decodeMemRegion(msg(Req.ADD_MEM_REG, encodeMemRegion({ ...r, size: 0 }))), /size 0/);
});

test('config payload: size must match the bytes', () => {
  assert.equal(decodeConfig(msg(Req.GET_CONFIG, [0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 7, 8])).bytes, Uint8Array.of(7, 8));
  throwsProtocol(() => decodeConfig(msg(Req.GET_CONFIG, [0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7, 8])), /expected 16/);
  throwsProtocol(() => decodeConfig(msg(Req.GET_CONFIG, [250, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, ...new Array(10).fill(0)])), /exceeds 256/);
});

test('reader: any split of a message stream gives the same messages, fds with their message', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ request: fc.integer({ min: 1, max: 40 }), payload: fc.uint8Array({ maxLength: 64 }), fd: fc.option(fc.integer({ min: 3, max: 1000 })) }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 30 }),
      (messages, cuts) => {
        const reader = new MessageReader();
        const out: VhostUserMessage[] = [];
        // Feed each message with the reader's own read sizes, cut further at random; fds ride
        // with the first chunk of their message, as the kernel delivers them.
        let c = 0;
        for (const m of messages) {
          const bytes = encodeMessage(m.request, m.payload);
          let at = 0;
          let first = true;
          while (at < bytes.length) {
            const n = Math.min(reader.wanted(), cuts[c++ % cuts.length]!, bytes.length - at);
            out.push(...reader.push(bytes.subarray(at, at + n), first && m.fd !== null ? [m.fd] : []));
            first = false;
            at += n;
          }
        }
        assert.is(out.length, messages.length);
        out.forEach((o, i) => {
          assert.is(o.request, messages[i]!.request);
          assert.equal(o.payload, messages[i]!.payload);
          assert.equal(o.fds, messages[i]!.fd === null ? [] : [messages[i]!.fd]);
        });
        assert.not.ok(reader.pending);
      },
    ),
  );
});

test('reader: bad headers are protocol errors; stray fds are reported', () => {
  throwsProtocol(() => new MessageReader().push(encodeMessage(1, new Uint8Array(0), 0)), /protocol version 0/);
  throwsProtocol(() => new MessageReader().push(encodeMessage(1, new Uint8Array(0), 5)), /reply flag set/);
  const big = encodeMessage(1);
  new DataView(big.buffer).setUint32(8, 5000, true);
  throwsProtocol(() => new MessageReader().push(big), /exceeds 4096/);
  throwsProtocol(() => new MessageReader().push(new Uint8Array(0), [7]), /outside any message/);
  const r = new MessageReader({ replies: true });
  assert.is(r.push(encodeMessage(1, encodeU64(3), 5)).length, 1);
});

test.run();
