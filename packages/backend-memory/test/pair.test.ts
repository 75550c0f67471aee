import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createBackend, ConfigError, type NetBackend } from '@netbe/core';
import { assertRejects } from '@netbe/test-utils';
import { createMemoryPair, createMemoryLoopback, type QueueBackend } from '../src/index';
import { concat, CountingListener, frame, recvOne, split, turns } from './helpers';

const open: NetBackend[] = [];
const track = <T extends NetBackend[]>(...bes: T): T => {
  open.push(...bes);
  return bes;
};
test.after.each(async () => {
  await Promise.all(open.splice(0).map((b) => b.close()));
});

test('what one end sends the other receives, both ways, gathered from several segments', () => {
  const [a, b] = track(...createMemoryPair());
  const f1 = frame(100, 1);
  assert.is(a.send(split(f1, 10, 11, 60), 4), 100);
  const f2 = frame(1514, 7);
  assert.is(b.send(split(f2, 1000), 2), 1514);
  assert.is(b.peekRecvLen(), 100);
  assert.is(b.peekRecvLen(), 100, 'peek does not consume');
  assert.equal(recvOne(b), f1);
  assert.is(b.peekRecvLen(), 0);
  assert.equal(recvOne(a), f2);
  assert.is(a.stats.txFrames, 1);
  assert.is(a.stats.txBytes, 100);
  assert.is(b.stats.rxFrames, 1);
  assert.is(b.stats.rxBytes, 100);
});

test('recv scatters into several segments and honours iovcnt', () => {
  const [a, b] = track(...createMemoryPair());
  const f = frame(300, 3);
  a.send([f], 1);
  const buf = new Uint8Array(400);
  const iov = [buf.subarray(0, 7), buf.subarray(7, 8), buf.subarray(8, 400), new Uint8Array(0)];
  assert.is(b.recv(iov, 3), 300);
  assert.equal(buf.subarray(0, 300), f);
  // Only iov[0..iovcnt) counts on send too.
  a.send([frame(20), frame(20, 50), frame(20, 90)], 2);
  assert.equal(recvOne(b), concat(frame(20), frame(20, 50)));
});

test('frames keep their order', () => {
  const [a, b] = track(...createMemoryPair());
  for (let i = 0; i < 50; i++) a.send([frame(60 + i, i)], 1);
  for (let i = 0; i < 50; i++) assert.equal(recvOne(b), frame(60 + i, i));
  assert.is(recvOne(b), undefined);
});

test('a too-small iov drops the frame (-1, rxDrops) and leaves the next one intact', () => {
  const [a, b] = track(...createMemoryPair());
  a.send([frame(200, 1)], 1);
  a.send([frame(80, 2)], 1);
  assert.is(b.recv([new Uint8Array(100), new Uint8Array(99)], 2), -1);
  assert.is(b.stats.rxDrops, 1);
  assert.is(b.stats.rxFrames, 0);
  assert.equal(recvOne(b), frame(80, 2));
});

test('rxDiscard drops one frame and returns its length; 0 when empty', () => {
  const [a, b] = track(...createMemoryPair());
  a.send([frame(90)], 1);
  a.send([frame(91)], 1);
  assert.is(b.rxDiscard(), 90);
  assert.is(b.stats.rxDrops, 1);
  assert.equal(recvOne(b), frame(91));
  assert.is(b.rxDiscard(), 0);
  assert.is(b.recv([new Uint8Array(10)], 1), 0);
});

test('a full queue makes send a counted drop (bounded, never throws)', () => {
  const [a, b] = track(...createMemoryPair({ queue: 4 }));
  let sent = 0;
  for (let i = 0; i < 10; i++) sent += a.send([frame(64, i)], 1) > 0 ? 1 : 0;
  assert.is(sent, 4);
  assert.is(a.stats.txFrames, 4);
  assert.is(a.stats.txDrops, 6);
  assert.is((b as QueueBackend).queued, 4);
  for (let i = 0; i < 4; i++) assert.equal(recvOne(b), frame(64, i));
  assert.is(a.send([frame(64)], 1), 64, 'room again after draining');
});

test('empty, runt (shorter than the header) and oversize frames are counted drops', () => {
  const [a, b] = track(...createMemoryPair({ maxFrame: 1514 }));
  assert.is(a.send([], 0), 0);
  assert.is(a.send([new Uint8Array(0), new Uint8Array(0)], 2), 0);
  assert.is(a.send([frame(1515)], 1), 0);
  a.setCap(0n, 12);
  assert.is(a.send([new Uint8Array(12)], 1), 0, 'header and no frame');
  assert.is(a.send([new Uint8Array(5)], 1), 0);
  assert.is(a.stats.txDrops, 5);
  assert.is(a.stats.txFrames, 0);
  assert.is(b.peekRecvLen(), 0);
  // iovcnt larger than the array is clamped, not a crash.
  assert.is(a.send([new Uint8Array(12), frame(60)], 5), 72);
});

test('the virtio-net header is carried through, zero-filled or stripped per end', () => {
  const hdr12 = Uint8Array.of(1, 1, 54, 0, 0xb4, 5, 34, 0, 16, 0, 9, 9); // NEEDS_CSUM, TCPV4, num_buffers 0x0909
  const payload = frame(100, 5);
  const cases: Array<[number, number, Uint8Array]> = [
    [12, 12, hdr12],
    [12, 10, hdr12.subarray(0, 10)],
    [10, 12, concat(hdr12.subarray(0, 10), new Uint8Array(2))],
    [10, 10, hdr12.subarray(0, 10)],
    [12, 0, new Uint8Array(0)],
    [0, 12, new Uint8Array(12)],
    [0, 10, new Uint8Array(10)],
  ];
  for (const [sendLen, recvLen, expectHdr] of cases) {
    const [a, b] = track(...createMemoryPair());
    a.setCap(0n, sendLen);
    b.setCap(0n, recvLen);
    assert.is(a.vnetHdrLen, sendLen);
    const sent = concat(hdr12.subarray(0, sendLen), payload);
    assert.is(a.send(split(sent, 3, Math.max(3, sendLen + 1)), 3), sent.length);
    assert.is(b.peekRecvLen(), recvLen + 100, `${sendLen}→${recvLen}`);
    assert.equal(recvOne(b), concat(expectHdr, payload), `${sendLen}→${recvLen}`);
  }
});

test('vnethdr=off: the backend keeps header length 0 and offers no offloads', () => {
  const [a] = track(...createMemoryPair({ vnetHdr: false }));
  assert.is(a.getCap(), 0n);
  a.setCap(0n, 12);
  assert.is(a.vnetHdrLen, 0);
});

test('setCap refuses bad header lengths and features outside getCap', async () => {
  const [a] = track(...createMemoryPair({ caps: 1n }));
  assert.throws(() => a.setCap(0n, 11), (e: Error & { code?: string }) => e.code === 'ERR_UNSUPPORTED');
  assert.throws(() => a.setCap(0n, 20), (e: Error & { code?: string }) => e.code === 'ERR_UNSUPPORTED');
  assert.throws(() => a.setCap(2n, 12), /GUEST_CSUM/);
  a.setCap(1n, 10);
  assert.is(a.vnetHdrLen, 10);
  assert.is(a.negotiatedFeatures, 1n);
});

test('an end without a peer drops what it sends; closing one end takes the link down', async () => {
  const [a, b] = track(...createMemoryPair());
  const la = new CountingListener();
  a.attach(la);
  await b.close();
  await turns();
  assert.equal(la.links, [true, false], 'up when connected, down when the peer closed');
  assert.is(a.send([frame(60)], 1), 0);
  assert.is(a.stats.txDrops, 1);
});

test('config strings: pair ends find each other by name; reopen; a third end is refused', async () => {
  await import('../src/index');
  const [a, b] = track(await createBackend('memory,mode=pair,peer=t-pair'), await createBackend('memory,mode=pair,peer=t-pair'));
  const lb = new CountingListener();
  b.attach(lb);
  assert.is(a.send([frame(64, 1)], 1), 64);
  assert.equal(recvOne(b), frame(64, 1));
  const err = await assertRejects(createBackend('memory,mode=pair,peer=t-pair'), ConfigError);
  assert.is((err as ConfigError).option, 'peer');
  await a.close();
  assert.is(b.send([frame(64)], 1), 0, 'peer gone');
  const [a2] = track(await createBackend('memory,mode=pair,peer=t-pair'));
  await turns();
  assert.equal(lb.links, [true, false, true]);
  assert.is(b.send([frame(64, 9)], 1), 64);
  assert.equal(recvOne(a2), frame(64, 9));
});

test('loopback receives what it sends', () => {
  const [l] = track(createMemoryLoopback());
  l.setCap(0n, 12);
  const f = concat(new Uint8Array(12), frame(64, 4));
  assert.is(l.send([f], 1), 76);
  assert.is(l.peekRecvLen(), 76);
  assert.equal(recvOne(l), f);
});

test('after close every verb is a no-op returning 0, and close is idempotent', async () => {
  const [a, b] = createMemoryPair();
  b.send([frame(64)], 1);
  await a.close();
  await a.close();
  assert.is(a.send([frame(64)], 1), 0);
  assert.is(a.peekRecvLen(), 0);
  assert.is(a.recv([new Uint8Array(100)], 1), 0);
  assert.is(a.rxDiscard(), 0);
  assert.is(a.getCap(), 0n);
  a.setCap(0n, 12);
  a.rxEnable();
  a.rxDisable();
  assert.is(a.vnetHdrLen, 0);
  await b.close();
});

test.run();
