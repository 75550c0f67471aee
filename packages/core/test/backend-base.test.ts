import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import {
  BackendBase,
  BackendWrapper,
  checkSetCap,
  gatherIov,
  iovLength,
  NetbeError,
  RxSignal,
  scatterIov,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_HOST_TSO4,
  type BackendListener,
  type Iov,
} from '../src/index';

const turns = async (n = 3): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
};

class Counting implements BackendListener {
  calls = 0;
  links: boolean[] = [];
  onReady: (() => void) | undefined;
  rxReady(): void {
    this.calls++;
    this.onReady?.();
  }
  linkChange(up: boolean): void {
    this.links.push(up);
  }
}

/** A loopback on an unbounded array: the smallest BackendBase, to test what the base does. */
class ArrayLoopback extends BackendBase {
  readonly frames: Uint8Array[] = [];
  released = 0;
  constructor(private readonly offloads = 0n) {
    super('array');
  }
  protected transmit(iov: Iov, iovcnt: number, length: number): boolean {
    const f = new Uint8Array(length);
    gatherIov(iov, iovcnt, f, 0);
    this.frames.push(f);
    this.rx.notify();
    return true;
  }
  protected pendingLength(): number {
    return this.frames[0]?.length ?? 0;
  }
  protected receive(iov: Iov, iovcnt: number): number {
    const f = this.frames[0];
    if (f === undefined) return 0;
    this.frames.shift();
    return scatterIov(f, 0, f.length, iov, iovcnt);
  }
  protected discard(): number {
    return this.frames.shift()?.length ?? 0;
  }
  protected override caps(): bigint {
    return this.offloads;
  }
  protected applyCap(_features: bigint, vnetHdrLen: number): number {
    return vnetHdrLen;
  }
  protected override release(): void {
    this.released++;
  }
}

test('scatterIov/gatherIov round-trip any frame through any iov split; too small: -1, nothing copied', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 300 }), fc.array(fc.nat(120), { maxLength: 6 }), (frame, cuts) => {
      const iov = cuts.map((n) => new Uint8Array(n).fill(0xee));
      const room = iovLength(iov, iov.length);
      const n = scatterIov(frame, 0, frame.length, iov, iov.length);
      if (room < frame.length) {
        assert.is(n, -1);
        assert.ok(iov.every((seg) => seg.every((b) => b === 0xee)));
        return;
      }
      assert.is(n, frame.length);
      const back = new Uint8Array(room);
      assert.is(gatherIov(iov, iov.length, back, 0), room);
      assert.equal(back.subarray(0, frame.length), frame);
    }),
  );
});

test('checkSetCap: header length 0/10/12 only, features within caps, ERR_UNSUPPORTED otherwise', () => {
  for (const len of [0, 10, 12]) checkSetCap('x', VIRTIO_NET_F_CSUM, len, VIRTIO_NET_F_CSUM);
  for (const len of [-1, 8, 11, 20]) {
    try {
      checkSetCap('x', 0n, len, 0n);
      assert.unreachable(`length ${len} accepted`);
    } catch (e) {
      assert.instance(e, NetbeError);
      assert.is((e as NetbeError).code, 'ERR_UNSUPPORTED');
      assert.match((e as Error).message, /header length/);
    }
  }
  assert.throws(() => checkSetCap('x', VIRTIO_NET_F_HOST_TSO4, 12, VIRTIO_NET_F_CSUM), /outside getCap\(\): HOST_TSO4/);
  assert.throws(() => checkSetCap('x', 1n << 60n, 12, 0n), /outside getCap\(\): 0x1000000000000000/);
});

test('RxSignal: no call before enable or after disable; level-triggered while enabled; never synchronous', async () => {
  let pending = 0;
  const sig = new RxSignal(() => pending > 0);
  const l = new Counting();
  l.onReady = () => pending--; // drains one frame per call
  sig.attach(l);
  pending = 3;
  sig.notify();
  await turns();
  assert.is(l.calls, 0, 'disabled');
  sig.enable();
  assert.is(l.calls, 0, 'not from inside enable');
  await turns(6);
  assert.is(l.calls, 3, 'one call per waiting frame, then none');
  pending = 1;
  sig.notify();
  sig.disable();
  await turns();
  assert.is(l.calls, 3, 'disable wins over a scheduled call');
  sig.enable();
  sig.readyNow();
  assert.is(l.calls, 4, 'readyNow calls at once when enabled');
  sig.close();
  pending = 5;
  sig.enable();
  sig.notify();
  sig.readyNow();
  sig.link(false);
  await turns();
  assert.is(l.calls, 4, 'nothing after close');
  assert.equal(l.links, []);
});

test('RxSignal: hasMore decides the next call after one', async () => {
  let pending = true;
  let more = 0;
  const sig = new RxSignal(
    () => pending,
    () => more++ < 1,
  );
  const l = new Counting();
  sig.attach(l);
  sig.enable();
  await turns(6);
  assert.is(l.calls, 2, 'first call, one more (hasMore true once), then stop');
  pending = false;
});

test('BackendBase: counters, header length rule on send, -1 on a too-small iov', async () => {
  const be = new ArrayLoopback(VIRTIO_NET_F_CSUM);
  be.setCap(VIRTIO_NET_F_CSUM, 12);
  assert.is(be.vnetHdrLen, 12);
  assert.is(be.negotiatedFeatures, VIRTIO_NET_F_CSUM);
  assert.is(be.send([new Uint8Array(12)], 1), 0, 'no longer than the header: a drop');
  assert.is(be.send([new Uint8Array(20), new Uint8Array(30)], 1), 20, 'iovcnt counts, not the array');
  assert.is(be.send([new Uint8Array(40)], 5), 40, 'iovcnt beyond the array is clamped');
  assert.is(be.peekRecvLen(), 20);
  assert.is(be.recv([new Uint8Array(10)], 1), -1);
  assert.is(be.recv([new Uint8Array(64)], 1), 40);
  assert.is(be.recv([new Uint8Array(64)], 1), 0);
  be.send([new Uint8Array(30)], 1);
  assert.is(be.rxDiscard(), 30);
  assert.is(be.rxDiscard(), 0);
  assert.equal({ ...be.stats }, { txFrames: 3, txBytes: 90, txDrops: 1, rxFrames: 1, rxBytes: 40, rxDrops: 2 });
  assert.throws(() => be.setCap(VIRTIO_NET_F_HOST_TSO4, 12), /outside getCap/);
  assert.is(be.vnetHdrLen, 12, 'a refused setCap changes nothing');
  await be.close();
});

test('BackendBase: rxReady is gated by rxEnable/rxDisable; after close every verb is a no-op returning 0', async () => {
  const be = new ArrayLoopback(VIRTIO_NET_F_CSUM);
  const l = new Counting();
  be.attach(l);
  be.send([new Uint8Array(60)], 1);
  await turns();
  assert.is(l.calls, 0);
  l.onReady = () => be.recv([new Uint8Array(100)], 1);
  be.rxEnable();
  await turns();
  assert.is(l.calls, 1);
  be.send([new Uint8Array(60)], 1);
  await be.close();
  await be.close();
  assert.is(be.released, 1, 'release runs once');
  const before = { ...be.stats };
  assert.is(be.send([new Uint8Array(60)], 1), 0);
  assert.is(be.peekRecvLen(), 0);
  assert.is(be.recv([new Uint8Array(100)], 1), 0);
  assert.is(be.rxDiscard(), 0);
  assert.is(be.getCap(), 0n);
  be.setCap(0n, 8); // no throw after close
  be.rxEnable();
  be.rxDisable();
  await turns();
  assert.is(l.calls, 1, 'no rxReady after close');
  assert.equal({ ...be.stats }, before);
  assert.ok(be.closed);
});

test('BackendWrapper forwards every verb; a subclass overrides only what it changes', async () => {
  const inner = new ArrayLoopback(VIRTIO_NET_F_CSUM);
  class SendCounter extends BackendWrapper {
    sent = 0;
    override send(iov: Iov, iovcnt: number): number {
      this.sent++;
      return super.send(iov, iovcnt);
    }
  }
  const w = new SendCounter(inner);
  assert.is(w.name, 'array');
  assert.is(w.getCap(), VIRTIO_NET_F_CSUM);
  w.setCap(VIRTIO_NET_F_CSUM, 10);
  assert.is(w.vnetHdrLen, 10);
  assert.is(w.send([new Uint8Array(50)], 1), 50);
  assert.is(w.sent, 1);
  assert.is(w.peekRecvLen(), 50);
  assert.is(w.recv([new Uint8Array(64)], 1), 50);
  assert.is(w.rxDiscard(), 0);
  assert.is(w.stats, inner.stats);
  await w.close();
  assert.ok(inner.closed);
});

test.run();
