import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createMemoryPair } from '@netbe/backend-memory';
import type { NetBackend } from '@netbe/core';
import { waitFor } from '@netbe/test-utils';
import { VIRTIO_NET_S_LINK_UP } from '../src/index';
import { TestGuest, equalBytes, frameSeq, makeFrame, type ReceivedFrame } from '@netbe/virtio-net/testing';

/** Two guests on a memory pair, no header in the backend (the device adapts). */
function twoGuests(queue = 512) {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n, queue });
  return { a: new TestGuest({ backend: a }), b: new TestGuest({ backend: b }), ends: [a, b] as const };
}

function checkInOrder(got: ReceivedFrame[], count: number, sizeOf: (i: number) => number): void {
  assert.is(got.length, count, 'every frame exactly once');
  got.forEach((f, i) => {
    assert.is(frameSeq(f.frame), i, `frame ${i} in order`);
    assert.ok(equalBytes(f.frame, makeFrame(sizeOf(i), i)), `frame ${i} intact`);
  });
}

test('snapshot/restore of the receiving device in the middle of traffic: no frame lost or corrupted', async () => {
  const { a, b } = twoGuests();
  const size = (i: number): number => 60 + ((i * 97) % 3000);
  const got: ReceivedFrame[] = [];
  b.postRx(64, 2048);
  for (let i = 0; i < 300; i++) {
    a.send(makeFrame(size(i), i));
    a.completeTx();
    if (i === 150) {
      // Some frames are in B's used ring (published), some in the backend, some in flight.
      await b.device.pause();
      const snap = b.device.snapshot();
      assert.is(JSON.parse(JSON.stringify(snap)).queues.length, 2, 'plain JSON');
      b.replaceDevice(snap);
    }
    if (i % 7 === 0) await new Promise((r) => setImmediate(r));
    got.push(...b.receive());
    if (b.rxDriver.outstanding < 32) b.postRx(32, 2048);
  }
  await waitFor(() => {
    got.push(...b.receive());
    if (b.rxDriver.outstanding < 32) b.postRx(32, 2048);
    return got.length >= 300;
  });
  checkInOrder(got, 300, size);
  assert.ok(b.guardsIntact());
});

test('snapshot/restore of the sending device with chains waiting: they go out once, in order', async () => {
  const { a, b } = twoGuests();
  b.postRx(200, 2048);
  for (let i = 0; i < 50; i++) a.send(makeFrame(100, i));
  // 50 more posted and published but not kicked: still in A's avail ring at snapshot time.
  for (let i = 50; i < 100; i++) a.send(makeFrame(100, i), { kick: false });
  await a.device.pause();
  const snap = a.device.snapshot();
  a.replaceDevice(snap);
  const got: ReceivedFrame[] = [];
  await waitFor(() => (got.push(...b.receive()), got.length >= 100));
  checkInOrder(got, 100, () => 100);
  assert.is(a.device.stats.tx.frames, 50, 'the restored device sent the other 50');
  assert.is(a.completeTx(), 100, 'every TX chain came back');
});

test('a restore refuses a snapshot whose features the new backend cannot take', () => {
  const [a] = createMemoryPair({ vnetHdr: true });
  const g = new TestGuest({ backend: a });
  const snap = g.device.snapshot();
  const [plain] = createMemoryPair({ vnetHdr: false, caps: 0n });
  const other = new TestGuest({ backend: plain, start: false });
  assert.throws(() => other.device.restore(snap), /ERR_FEATURES|did not offer/);
  assert.throws(() => other.device.restore({ ...snap, version: 2 } as never), /version/);
});

test('reset from inside a backend send waits for the TX pass: published frames stay, none corrupted', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n, queue: 512 });
  let guest!: TestGuest;
  let resetDone: Promise<void> | undefined;
  let sends = 0;
  // A backend that resets its own device from inside send (a re-entrant reset).
  const wrapped: NetBackend = Object.create(a, {
    send: {
      value: (iov: readonly Uint8Array[], n: number) => {
        const r = a.send(iov, n);
        if (++sends === 5) resetDone = guest.device.reset();
        return r;
      },
    },
  }) as NetBackend;
  guest = new TestGuest({ backend: wrapped });
  b.setCap(0n, 0);
  for (let i = 0; i < 20; i++) guest.send(makeFrame(128, i), { kick: false });
  guest.txDriver.kick(true);
  assert.ok(resetDone, 'reset was requested during the pass');
  await resetDone;
  assert.is(guest.txDriver.usedRingIdx(), 5, 'the pass stopped after the frame in flight and published it');
  assert.is(guest.txDriver.takeAllUsed().length, 5);
  for (let i = 0; i < 5; i++) {
    const f = new Uint8Array(b.peekRecvLen());
    b.recv([f], 1);
    assert.ok(equalBytes(f, makeFrame(128, i)));
  }
  assert.is(b.peekRecvLen(), 0, 'nothing after the reset point went out');
  assert.not.ok(guest.device.isStarted);
  // The driver starts over; traffic flows again.
  guest.reinit();
  for (let i = 0; i < 10; i++) guest.send(makeFrame(128, 100 + i));
  let n = 0;
  while (b.peekRecvLen() > 0) {
    const f = new Uint8Array(b.peekRecvLen());
    b.recv([f], 1);
    assert.is(frameSeq(f), 100 + n++);
  }
  assert.is(n, 10);
});

test('reset of the receiving device mid-traffic: published frames intact, the rest delivered after re-init', async () => {
  const { a, b } = twoGuests();
  const got: ReceivedFrame[] = [];
  b.postRx(10, 2048);
  for (let i = 0; i < 40; i++) a.send(makeFrame(500, i));
  await waitFor(() => b.device.stats.rx.frames === 10);
  await b.device.reset();
  got.push(...b.receive()); // the driver reads what was published before the reset
  assert.is(got.length, 10);
  b.reinit();
  b.postRx(64, 2048);
  await waitFor(() => (got.push(...b.receive()), got.length >= 40));
  checkInOrder(got, 40, () => 500);
});

test('pause holds traffic (backend keeps the frames), resume delivers it', async () => {
  const { a, b } = twoGuests();
  b.postRx(64, 2048);
  await b.device.pause();
  for (let i = 0; i < 20; i++) a.send(makeFrame(80, i));
  await new Promise((r) => setTimeout(r, 20));
  assert.is(b.device.stats.rx.frames, 0);
  b.device.resume();
  const got: ReceivedFrame[] = [];
  await waitFor(() => (got.push(...b.receive()), got.length >= 20));
  checkInOrder(got, 20, () => 80);
});

test('link down: config status and a config-change notification; TX dropped as linkDown; up again resumes', async () => {
  const { a, b } = twoGuests();
  b.postRx(16, 2048);
  a.device.setLinkUp(false);
  assert.is(a.configChanges, 1);
  const status = new Uint8Array(2);
  a.device.readConfig(6, status);
  assert.is(status[0]! & VIRTIO_NET_S_LINK_UP, 0);
  a.send(makeFrame(100, 1));
  assert.is(a.device.stats.tx.drops.linkDown, 1);
  a.device.setLinkUp(true);
  assert.is(a.configChanges, 2);
  a.device.readConfig(6, status);
  assert.is(status[0]! & VIRTIO_NET_S_LINK_UP, 1);
  a.send(makeFrame(100, 2));
  await waitFor(() => b.device.stats.rx.frames === 1);
  assert.is(frameSeq(b.receive()[0]!.frame), 2);
});

test('vhost-user style: stop a queue (GET_VRING_BASE), restart it from the saved base; nothing lost', async () => {
  const { a, b } = twoGuests();
  b.postRx(100, 2048);
  for (let i = 0; i < 10; i++) a.send(makeFrame(90, i));
  const state = await a.device.stopQueue(1);
  assert.is(state.lastAvailIdx, 10);
  for (let i = 10; i < 20; i++) a.send(makeFrame(90, i)); // kicks while stopped: nothing happens
  assert.is(a.device.stats.tx.frames, 10);
  // SET_VRING_ADDR/BASE + SET_VRING_KICK: same rings, base from GET_VRING_BASE.
  a.device.resetQueue(1);
  const q = a.device.queue(1);
  q.size = a.txDriver.size;
  q.descAddr = a.txDriver.descAddr;
  q.availAddr = a.txDriver.availAddr;
  q.usedAddr = a.txDriver.usedAddr;
  q.lastAvailIdx = state.lastAvailIdx;
  assert.ok(a.device.startQueue(1, { usedIdxFromRing: true }));
  const got: ReceivedFrame[] = [];
  await waitFor(() => (got.push(...b.receive()), got.length >= 20));
  checkInOrder(got, 20, () => 90);
  assert.is(a.completeTx(), 20);
});

test('a queue stop requested inside a TX pass runs after the current frame; TX then carries on', async () => {
  const [a, b] = createMemoryPair({ vnetHdr: false, caps: 0n, queue: 512 });
  let guest!: TestGuest;
  let stopped: Promise<unknown> | undefined;
  let sends = 0;
  const wrapped: NetBackend = Object.create(a, {
    send: {
      value: (iov: readonly Uint8Array[], n: number) => {
        if (++sends === 3) stopped = guest.device.stopQueue(0);
        return a.send(iov, n);
      },
    },
  }) as NetBackend;
  guest = new TestGuest({ backend: wrapped });
  b.setCap(0n, 0);
  for (let i = 0; i < 10; i++) guest.send(makeFrame(128, i), { kick: false });
  guest.txDriver.kick(true);
  await stopped;
  assert.not.ok(guest.device.queueStarted(0), 'RX stopped');
  assert.is(guest.device.stats.tx.frames, 10, 'TX resumed after the stop and sent the rest');
  assert.is(guest.txDriver.usedRingIdx(), 10);
});

test.run();
