import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryPair } from '@netbe/backend-memory';
import { VIRTIO_NET_F_MRG_RXBUF } from '@netbe/core';
import { waitFor } from '@netbe/test-utils';
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT } from '@netbe/virtio';
import { totalDrops } from '../src/index';
import { TestGuest, equalBytes, makeFrame } from '@netbe/virtio-net/testing';

/** A device on one end of a pair; the test holds the other end raw (frames in and out). */
function setup(options: { wanted?: bigint; ringSize?: number; queue?: number } = {}) {
  const [dev, peer] = createMemoryPair({ vnetHdr: false, caps: 0n, queue: options.queue ?? 64 });
  const guest = new TestGuest({ backend: dev, wanted: options.wanted, ringSize: options.ringSize });
  peer.setCap(0n, 0);
  const peerFrames: Uint8Array[] = [];
  const drainPeer = (): Uint8Array[] => {
    for (let n = peer.peekRecvLen(); n > 0; n = peer.peekRecvLen()) {
      const buf = new Uint8Array(n);
      peer.recv([buf], 1);
      peerFrames.push(buf);
    }
    return peerFrames;
  };
  return { guest, dev, peer, drainPeer };
}

/** The device still moves a good frame both ways after whatever happened before. */
async function stillServes(s: ReturnType<typeof setup>): Promise<void> {
  const frame = makeFrame(200, 42);
  const before = s.drainPeer().length;
  s.guest.send(frame);
  assert.is(s.drainPeer().length, before + 1, 'a good TX frame still goes out');
  assert.ok(equalBytes(s.drainPeer().at(-1)!, frame));
  const rxBefore = s.guest.device.stats.rx.frames;
  s.guest.postRx(4, 2048);
  s.peer.send([makeFrame(300, 43)], 1);
  await waitFor(() => s.guest.device.stats.rx.frames === rxBefore + 1, 2000, 'a good RX frame still arrives');
  assert.ok(s.guest.guardsIntact());
}

test('TX: header-only, too short, writable, too big, too many segments are counted drops', async () => {
  const s = setup();
  const g = s.guest;
  const tx = g.device.stats.tx;
  const hdr = g.headerLength;
  // header only
  g.txDriver.postAndKick({ readable: [new Uint8Array(hdr)] });
  assert.is(tx.drops.headerOnly, 1);
  // shorter than the header
  g.txDriver.postAndKick({ readable: [new Uint8Array(hdr - 3)] });
  assert.is(tx.drops.tooShort, 1);
  // a device-writable buffer in a TX chain
  g.txDriver.postAndKick({ readable: [new Uint8Array(hdr), makeFrame(100, 1)], writable: [64] });
  assert.is(tx.drops.wrongDirection, 1);
  // above 64 KiB
  g.txDriver.postAndKick({ readable: [new Uint8Array(hdr), new Uint8Array(65537)] });
  assert.is(tx.drops.tooBig, 1);
  // 300 segments (in an indirect table): above the 256 a frame may use
  g.txDriver.postAndKick({ readable: [new Uint8Array(hdr), makeFrame(300 * 4 - hdr, 2)], segmentSize: 4, indirect: true });
  assert.is(tx.drops.tooManySegments, 1);
  assert.is(tx.frames, 0);
  assert.is(s.drainPeer().length, 0, 'nothing reached the backend');
  const used = g.txDriver.takeAllUsed();
  assert.is(used.length, 5, 'every chain was given back');
  assert.ok(used.every((u) => u.known && u.len === 0));
  await stillServes(s);
});

test('TX: malformed chains (bad next, loop, address outside memory, nested indirect) are dropped and counted', async () => {
  const s = setup();
  const g = s.guest;
  const d = g.txDriver;
  const buf = d.allocBuffer(64);
  // next beyond the table
  d.writeDescriptor(200, { addr: buf, len: 64, flags: VIRTQ_DESC_F_NEXT, next: 999 });
  d.pushHead(200);
  // a loop 201 -> 202 -> 201
  d.writeDescriptor(201, { addr: buf, len: 64, flags: VIRTQ_DESC_F_NEXT, next: 202 });
  d.writeDescriptor(202, { addr: buf, len: 64, flags: VIRTQ_DESC_F_NEXT, next: 201 });
  d.pushHead(201);
  // a buffer outside guest memory
  d.writeDescriptor(203, { addr: 0x7fff0000000, len: 64, flags: 0, next: 0 });
  d.pushHead(203);
  // nested indirect
  const inner = d.writeIndirectTable([{ addr: buf, len: 64, flags: 0, next: 0 }]);
  const outer = d.writeIndirectTable([{ addr: inner, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 }]);
  d.writeDescriptor(204, { addr: outer, len: 16, flags: VIRTQ_DESC_F_INDIRECT, next: 0 });
  d.pushHead(204);
  // a head beyond the table: nothing can be returned for it
  d.pushHead(5000);
  d.kick(true);
  assert.is(g.device.stats.tx.drops.malformedChain, 5);
  assert.is(g.device.stats.tx.frames, 0);
  assert.is(d.usedRingIdx(), 4, 'the four chains with a valid head were returned with length 0');
  await stillServes(s);
});

test('RX: chains too short for the header and chains with readable buffers are returned empty', async () => {
  const s = setup();
  const g = s.guest;
  g.rxDriver.post({ writable: [4] });
  g.rxDriver.post({ readable: [new Uint8Array(8)], writable: [2000] });
  g.rxDriver.post({ writable: [2000] });
  g.rxDriver.kick();
  s.peer.send([makeFrame(500, 9)], 1);
  await waitFor(() => g.device.stats.rx.frames === 1);
  assert.is(g.device.stats.rx.drops.tooShort, 1);
  assert.is(g.device.stats.rx.drops.wrongDirection, 1);
  const used = g.rxDriver.takeAllUsed();
  assert.equal(used.map((u) => u.len).sort((a, b) => a - b), [0, 0, 500 + 12]);
  await stillServes(s);
});

test('RX without MRG_RXBUF: a frame larger than the buffer is dropped, the buffer kept for the next', async () => {
  const s = setup({ wanted: ~VIRTIO_NET_F_MRG_RXBUF });
  const g = s.guest;
  g.postRx(1, 1526);
  s.peer.send([makeFrame(4000, 1)], 1);
  s.peer.send([makeFrame(1000, 2)], 1);
  await waitFor(() => g.device.stats.rx.frames === 1);
  assert.is(g.device.stats.rx.drops.tooBig, 1);
  const got = g.receive();
  assert.is(got.length, 1);
  assert.ok(equalBytes(got[0]!.frame, makeFrame(1000, 2)));
  await stillServes(s);
});

test('RX with MRG_RXBUF: a frame needing more than 256 segments is dropped, the buffers kept', async () => {
  const s = setup({ ringSize: 1024 });
  const g = s.guest;
  // 200 chains of two 100-byte segments: 400 segments, 40000 bytes.
  for (let i = 0; i < 200; i++) g.rxDriver.post({ writable: [200], segmentSize: 100 });
  g.rxDriver.kick();
  s.peer.send([makeFrame(30000, 1)], 1); // needs 151 chains = 302 segments
  s.peer.send([makeFrame(5000, 2)], 1); // needs 26 chains
  await waitFor(() => g.device.stats.rx.frames === 1);
  assert.is(g.device.stats.rx.drops.tooBig, 1);
  const got = g.receive();
  assert.is(got.length, 1);
  assert.ok(equalBytes(got[0]!.frame, makeFrame(5000, 2)));
  assert.is(g.rxDriver.outstanding, 200 - got[0]!.buffers, 'the dropped frame used no buffer');
});

test('RX with MRG_RXBUF: the 256-segment limit holds for one-buffer chains too (taken in runs)', async () => {
  const s = setup({ ringSize: 1024 });
  const g = s.guest;
  // 600 one-buffer chains of 100 bytes, as Linux posts mergeable buffers.
  for (let i = 0; i < 600; i++) g.rxDriver.post({ writable: [100] });
  g.rxDriver.kick();
  s.peer.send([makeFrame(256 * 100 - 12 + 1, 1)], 1); // one byte more than 256 buffers hold
  s.peer.send([makeFrame(256 * 100 - 12, 2)], 1); // exactly 256 buffers
  await waitFor(() => g.device.stats.rx.frames === 1);
  assert.is(g.device.stats.rx.drops.tooBig, 1);
  const got = g.receive();
  assert.is(got.length, 1);
  assert.is(got[0]!.buffers, 256);
  assert.ok(equalBytes(got[0]!.frame, makeFrame(256 * 100 - 12, 2)));
  assert.is(g.rxDriver.outstanding, 600 - 256, 'the dropped frame used no buffer');
});

test('RX backpressure: no buffers stalls RX with frames kept in the backend; a kick resumes', async () => {
  const s = setup({ queue: 16 });
  const g = s.guest;
  for (let i = 0; i < 10; i++) s.peer.send([makeFrame(100, i)], 1);
  g.postRx(3, 2048);
  await waitFor(() => g.device.stats.rx.frames === 3);
  await waitFor(() => g.device.stats.rx.rxStalls >= 1);
  assert.is(totalDrops(g.device.stats.rx), 0, 'nothing dropped while stalled');
  assert.is(s.dev.peekRecvLen() > 0, true, 'the rest waits in the backend');
  g.postRx(20, 2048);
  await waitFor(() => g.device.stats.rx.frames === 10);
  const seqs = g.receive().map((f) => f.frame[17]);
  assert.equal(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'in order, none lost');
});

test('a queue whose avail index jumps beyond its size breaks; the other queue keeps working', async () => {
  const errors: string[] = [];
  const s = setup();
  s.guest.device.queueError = (q, e) => errors.push(`${q}:${e.code}`);
  s.guest.rxDriver.setAvailIdx(5000);
  s.guest.rxDriver.kick(true);
  s.peer.send([makeFrame(100, 1)], 1);
  await waitFor(() => errors.length === 1);
  assert.equal(errors, ['0:ERR_AVAIL_IDX']);
  const frame = makeFrame(100, 2);
  s.guest.send(frame);
  assert.ok(equalBytes(s.drainPeer()[0]!, frame), 'TX still works');
});

test('a backend that throws from send or recv costs a counted drop, not the chain or the device', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n });
  let failSend = true;
  let failRecv = true;
  const flaky = Object.create(a, {
    send: { value: (iov: readonly Uint8Array[], n: number) => (failSend ? ((failSend = false), (() => { throw new Error('send broke'); })()) : a.send(iov, n)) },
    recv: { value: (iov: readonly Uint8Array[], n: number) => (failRecv ? ((failRecv = false), (() => { throw new Error('recv broke'); })()) : a.recv(iov, n)) },
  });
  const g = new TestGuest({ backend: flaky });
  b.setCap(0n, 0);
  g.send(makeFrame(100, 1));
  g.send(makeFrame(100, 2));
  assert.is(g.device.stats.tx.drops.backend, 1);
  assert.is(g.device.stats.tx.frames, 1);
  assert.is(g.completeTx(), 2, 'both chains came back');
  assert.match(String(g.device.lastBackendError), /send broke/);
  g.postRx(4, 2048);
  b.send([makeFrame(100, 3)], 1);
  b.send([makeFrame(100, 4)], 1);
  await waitFor(() => g.device.stats.rx.drops.backend === 1 && g.device.stats.rx.frames >= 1);
  assert.match(String(g.device.lastBackendError), /recv broke/);
  assert.ok(g.guardsIntact());
});

test.run();
