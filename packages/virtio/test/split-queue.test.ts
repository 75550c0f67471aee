import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DescriptorChain, DescriptorWalker, GuestMemory, SplitQueue, STATUS_NEEDS_RESET, VIRTQ_USED_F_NO_NOTIFY, featureMask, VIRTIO_F_NOTIFY_ON_EMPTY, iovCopyFrom, iovCopyTo } from '@netbe/virtio';
import { MockDriver } from '@netbe/virtio/testing';
import { F_EVENT_IDX, F_INDIRECT, F_VERSION_1, bytes, pattern, rig } from './harness';

test('pop a direct chain with readable then writable parts; the driver reads the reply', () => {
  const { driver, queue, chain } = rig();
  const head = driver.post({ readable: [bytes(1, 2, 3), bytes(4, 5)], writable: [4, 6] });
  assert.ok(queue.pop(chain));
  assert.is(chain.head, head);
  assert.is(chain.readable, 2);
  assert.is(chain.writable, 2);
  assert.is(chain.count, 4);
  assert.is(chain.readableBytes, 5);
  assert.is(chain.writableBytes, 10);
  const out = new Uint8Array(5);
  assert.is(iovCopyFrom(chain.iov, chain.readable, 0, out), 5);
  assert.equal([...out], [1, 2, 3, 4, 5]);
  const writable = chain.iov.slice(chain.readable, chain.count);
  assert.is(iovCopyTo(writable, chain.writable, 0, bytes(9, 8, 7, 6, 5, 4, 3)), 7);
  queue.addUsed(chain.head, 7);
  assert.not.ok(queue.pop(chain));
  assert.is(driver.pendingUsed(), 0, 'nothing visible before publish');
  queue.publish();
  assert.ok(queue.needsInterrupt());
  const used = driver.takeUsed()!;
  assert.is(used.id, head);
  assert.is(used.len, 7);
  assert.equal([...used.written], [9, 8, 7, 6, 5, 4, 3]);
  assert.ok(driver.guardsIntact());
});

test('rings in memory at an odd byte offset of their buffer (no typed ring views) behave exactly as aligned ones', () => {
  // The pop fast path and addUsed use Uint16Array/Uint32Array views of the rings when their
  // start is aligned in the backing buffer; otherwise DataView accesses. Both must agree.
  const run = (memory: GuestMemory): unknown[] => {
    const r = rig({ driver: { memory } });
    const seen: unknown[] = [];
    for (let round = 0; round < 40; round++) {
      const heads = [r.driver.post({ readable: [pattern(3 + round)] }), r.driver.post({ writable: [5 + (round % 3)] }), r.driver.post({ readable: [pattern(4)], writable: [2] })];
      for (let i = 0; i < heads.length; i++) {
        assert.ok(r.queue.pop(r.chain));
        seen.push([r.chain.head === heads[i], r.chain.readable, r.chain.writable, r.chain.readableBytes, r.chain.writableBytes, r.driver.availEvent()]);
        if (r.chain.writable > 0) iovCopyTo(r.chain.iov.slice(r.chain.readable), r.chain.writable, 0, pattern(r.chain.writableBytes, round));
        r.queue.addUsed(r.chain.head, r.chain.writableBytes);
      }
      assert.not.ok(r.queue.pop(r.chain));
      r.queue.publish();
      seen.push(r.queue.needsInterrupt());
      for (const used of r.driver.takeAllUsed()) seen.push([used.len, [...used.written]]);
    }
    assert.is(r.queue.error, null);
    return seen;
  };
  const size = 1 << 20;
  const aligned = run(new GuestMemory([{ guestPhysAddr: 0, bytes: new Uint8Array(size) }]));
  const odd = run(new GuestMemory([{ guestPhysAddr: 0, bytes: new Uint8Array(new ArrayBuffer(size + 1), 1, size) }]));
  assert.equal(odd, aligned);
});

test('guest memory detached under a queue: the next ring access throws, nothing is written silently', () => {
  const buffer = new ArrayBuffer(1 << 20);
  const r = rig({ driver: { memory: new GuestMemory([{ guestPhysAddr: 0, bytes: new Uint8Array(buffer) }]) } });
  r.driver.post({ readable: [pattern(8)] });
  r.driver.post({ readable: [pattern(8)] });
  assert.ok(r.queue.pop(r.chain));
  structuredClone(buffer, { transfer: [buffer] }); // detaches it
  assert.throws(() => r.queue.addUsed(r.chain.head, 0), TypeError);
  assert.throws(() => r.queue.pop(r.chain), TypeError);
});

test('indirect chains and chains split over many small buffers', () => {
  const { driver, queue, chain } = rig({ maxSegments: 256 });
  const frame = pattern(1000);
  driver.post({ readable: [frame], writable: [10], segmentSize: 7, indirect: true });
  driver.post({ readable: [frame], segmentSize: 100 });
  assert.ok(queue.pop(chain));
  assert.is(chain.readable, 143);
  assert.is(chain.writable, 2);
  const out = new Uint8Array(1000);
  assert.is(iovCopyFrom(chain.iov, chain.readable, 0, out), 1000);
  assert.equal(out, frame);
  assert.ok(queue.pop(chain));
  assert.is(chain.readable, 10);
  assert.is(iovCopyFrom(chain.iov, chain.readable, 0, out.fill(0)), 1000);
  assert.equal(out, frame);
});

test('a chain with more segments than maxSegments is refused (ERR_CHAIN_TOO_LONG)', () => {
  const r = rig({ maxSegments: 4, queueSize: 16 });
  r.driver.post({ readable: [pattern(5)], segmentSize: 1 });
  assert.not.ok(r.queue.pop(r.chain));
  assert.is(r.queue.error?.code, 'ERR_CHAIN_TOO_LONG');
});

test('the lazy walker yields descriptors one by one, across an indirect table', () => {
  const { driver, queue } = rig();
  const head = driver.post({ readable: [pattern(10)], writable: [6], segmentSize: 4, indirect: true });
  const walker = new DescriptorWalker();
  assert.ok(walker.start(queue, head));
  const seen: Array<[number, boolean, boolean]> = [];
  while (walker.next()) seen.push([walker.len, walker.writable, walker.inIndirect]);
  assert.is(walker.error, null);
  assert.equal(seen, [[4, false, true], [4, false, true], [2, false, true], [4, true, true], [2, true, true]]);
});

test('batch: add several used elements, publish once, one interrupt decision', () => {
  const { driver, queue, chain } = rig({ features: F_VERSION_1 });
  for (let i = 0; i < 5; i++) driver.post({ writable: [64] });
  let n = 0;
  while (queue.pop(chain)) {
    queue.addUsed(chain.head, 10 + n);
    n++;
  }
  assert.is(n, 5);
  assert.is(driver.usedRingIdx(), 0);
  queue.publish();
  assert.is(driver.usedRingIdx(), 5);
  assert.ok(queue.needsInterrupt(true));
  assert.not.ok(queue.needsInterrupt(), 'nothing new since the last decision');
  assert.equal(driver.takeAllUsed().map((u) => u.len), [10, 11, 12, 13, 14]);
});

test('retChains gives back the most recent chains; they pop again in order', () => {
  const { driver, queue, chain } = rig();
  const heads = [0, 1, 2].map(() => driver.post({ writable: [8] }));
  const popped: number[] = [];
  while (queue.pop(chain)) popped.push(chain.head);
  assert.equal(popped, heads);
  queue.retChains(2);
  assert.is(driver.availEvent(), 3, 'avail_event stays at the avail index the device has seen');
  assert.is(queue.available(), 2);
  assert.ok(queue.pop(chain));
  assert.is(chain.head, heads[1]);
  assert.throws(() => queue.retChains(3), RangeError);
});

test('with EVENT_IDX, chains given back after an empty pop still let the next post kick', () => {
  // A receive path that needs more buffers than are posted: pop all, find none left (arm the
  // kick), give them back, wait. The driver's next buffer must kick, or receive stalls forever.
  const { driver, queue, chain } = rig();
  let kicks = 0;
  driver.onKick = () => kicks++;
  driver.postAndKick({ writable: [8] });
  driver.postAndKick({ writable: [8] });
  const before = kicks;
  while (queue.pop(chain));
  assert.not.ok(queue.enableNotifications());
  queue.retChains(2);
  assert.is(driver.availEvent(), 2);
  driver.postAndKick({ writable: [8] });
  assert.is(kicks, before + 1, 'the third buffer kicks');
  assert.is(queue.available(), 3);
});

test('interrupt suppression without EVENT_IDX: avail->flags NO_INTERRUPT', () => {
  const { driver, queue, chain } = rig({ features: F_VERSION_1 });
  driver.disableInterrupts();
  driver.post({ writable: [8] });
  assert.ok(queue.pop(chain));
  queue.putUsed(chain.head, 0);
  assert.not.ok(queue.needsInterrupt());
  driver.enableInterrupts();
  driver.post({ writable: [8] });
  assert.ok(queue.pop(chain));
  queue.putUsed(chain.head, 0);
  assert.ok(queue.needsInterrupt());
});

test('NOTIFY_ON_EMPTY interrupts when the device used all buffers, even when suppressed', () => {
  const features = featureMask(VIRTIO_F_NOTIFY_ON_EMPTY);
  const { driver, queue, chain } = rig({ features, legacy: true });
  assert.ok(queue.notifyOnEmpty);
  driver.disableInterrupts();
  assert.not.ok(queue.needsInterrupt(false));
  assert.ok(queue.needsInterrupt(true), 'even with nothing new used');
  driver.post({ writable: [8] });
  assert.ok(queue.pop(chain));
  queue.putUsed(chain.head, 0);
  assert.not.ok(queue.needsInterrupt(false));
});

test('EVENT_IDX: interrupt only when used->idx passes used_event (vring_need_event)', () => {
  const { driver, queue, chain } = rig();
  for (let i = 0; i < 6; i++) driver.post({ writable: [8] });
  driver.setUsedEvent(3); // interrupt me when the 4th element (index 3) is used
  const decisions: boolean[] = [];
  for (let i = 0; i < 6; i++) {
    assert.ok(queue.pop(chain));
    queue.putUsed(chain.head, 0);
    decisions.push(queue.needsInterrupt());
  }
  assert.equal(decisions, [false, false, false, true, false, false]);
  // A batch that jumps over used_event still interrupts once.
  driver.takeAllUsed();
  driver.setUsedEvent(7);
  for (let i = 0; i < 4; i++) driver.post({ writable: [8] });
  while (queue.pop(chain)) queue.addUsed(chain.head, 0);
  queue.publish();
  assert.ok(queue.needsInterrupt());
});

test('kick suppression without EVENT_IDX: used->flags NO_NOTIFY, and the re-check after enabling', () => {
  const { driver, queue, chain } = rig({ features: F_VERSION_1 });
  let kicks = 0;
  driver.onKick = () => kicks++;
  driver.postAndKick({ readable: [bytes(1)] });
  assert.is(kicks, 1);
  queue.disableNotifications();
  assert.is(driver.usedFlags() & VIRTQ_USED_F_NO_NOTIFY, VIRTQ_USED_F_NO_NOTIFY);
  driver.postAndKick({ readable: [bytes(2)] });
  assert.is(kicks, 1, 'suppressed');
  while (queue.pop(chain)) queue.addUsed(chain.head, 0);
  driver.post({ readable: [bytes(3)] }); // arrives while the device is about to sleep
  assert.ok(queue.enableNotifications(), 'the re-check sees the late chain');
  assert.is(driver.usedFlags(), 0);
  assert.ok(queue.pop(chain));
  assert.not.ok(queue.enableNotifications());
  driver.postAndKick({ readable: [bytes(4)] });
  assert.is(kicks, 2);
});

test('kick suppression with EVENT_IDX: the device writes avail_event, the driver honours it', () => {
  const { driver, queue, chain } = rig();
  let kicks = 0;
  driver.onKick = () => kicks++;
  assert.is(driver.availEvent(), 0, 'armed at activation');
  driver.postAndKick({ readable: [bytes(1)] });
  assert.is(kicks, 1);
  assert.ok(queue.pop(chain));
  assert.is(driver.availEvent(), 1, 'pop moves avail_event to the next index');
  queue.disableNotifications();
  assert.is(driver.usedFlags(), 0, 'EVENT_IDX does not use NO_NOTIFY');
  driver.postAndKick({ readable: [bytes(2)] }); // idx 1 -> 2: passes avail_event 1: kick
  assert.is(kicks, 2);
  driver.postAndKick({ readable: [bytes(3)] }); // idx 2 -> 3: avail_event still 1: no kick
  assert.is(kicks, 2);
  assert.ok(queue.pop(chain));
  assert.is(driver.availEvent(), 1, 'not moved while disabled');
  assert.ok(queue.enableNotifications(), 'one more is waiting');
  assert.is(driver.availEvent(), 2);
  assert.ok(queue.pop(chain));
  assert.is(driver.availEvent(), 3);
  driver.postAndKick({ readable: [bytes(4)] });
  assert.is(kicks, 3);
});

test('state round-trips through JSON and the restored queue continues', () => {
  const { driver, queue, chain } = rig();
  for (let i = 0; i < 3; i++) driver.post({ writable: [16] });
  assert.ok(queue.pop(chain));
  queue.putUsed(chain.head, 4);
  queue.needsInterrupt();
  queue.disableNotifications();
  const json = JSON.stringify(queue.saveState());
  const restored = new SplitQueue({ maxSize: 16 });
  assert.ok(restored.restoreState(JSON.parse(json), driver.memory));
  assert.equal(restored.saveState(), queue.saveState());
  assert.ok(restored.pop(chain));
  assert.is(chain.head, 1);
  restored.putUsed(chain.head, 0);
  assert.is(driver.usedRingIdx(), 2);
  // Not ready: no memory needed.
  const idle = new SplitQueue({ maxSize: 16 });
  assert.ok(idle.restoreState(new SplitQueue({ maxSize: 16 }).saveState(), null));
});

test('restoreState refuses malformed or ill-fitting state with ERR_STATE', () => {
  const { driver, queue } = rig();
  const good = queue.saveState();
  const bad: unknown[] = [
    null,
    { ...good, size: 12 },
    { ...good, size: 32 }, // above this queue's maxSize 16
    { ...good, lastAvailIdx: 70000 },
    { ...good, descAddr: -16 },
    { ...good, ready: 'yes' },
    { ...good, broken: 5 },
  ];
  for (const s of bad) {
    try {
      new SplitQueue({ maxSize: 16 }).restoreState(s as never, driver.memory);
      assert.unreachable(JSON.stringify(s));
    } catch (e) {
      assert.is((e as { code?: string }).code, 'ERR_STATE');
    }
  }
  try {
    new SplitQueue({ maxSize: 16 }).restoreState(good, null);
    assert.unreachable();
  } catch (e) {
    assert.is((e as { code?: string }).code, 'ERR_STATE');
  }
  // A saved broken queue stays broken.
  const broken = new SplitQueue({ maxSize: 16 });
  broken.restoreState({ ...good, broken: 'ERR_AVAIL_IDX' }, driver.memory);
  assert.is(broken.error?.code, 'ERR_AVAIL_IDX');
  assert.not.ok(broken.usable);
});

test('vhost-user style: set the avail base, take used->idx from the ring', () => {
  const { driver, queue, chain } = rig();
  for (let i = 0; i < 4; i++) driver.post({ writable: [16] });
  // A fresh back-end takes over at avail index 2, with used->idx = 2 in guest memory.
  driver.memory.writeU16(driver.usedAddr + 2, 2);
  const q = new SplitQueue({ maxSize: 16 });
  q.size = 16;
  q.descAddr = driver.descAddr;
  q.availAddr = driver.availAddr;
  q.usedAddr = driver.usedAddr;
  q.setFeatures(F_VERSION_1 | F_EVENT_IDX);
  q.lastAvailIdx = 2;
  assert.ok(q.activate(driver.memory));
  q.syncUsedIdxFromRing();
  assert.is(q.usedIdx, 2);
  assert.ok(q.pop(chain));
  assert.is(chain.head, 2);
  q.putUsed(chain.head, 0);
  assert.is(driver.usedRingIdx(), 3);
  void queue;
});

test('reset returns the queue to its initial state and a device reset resets the queue', () => {
  const r = rig();
  r.driver.post({ writable: [16] });
  assert.ok(r.queue.pop(r.chain));
  r.device.writeStatus(0);
  assert.is(r.device.status, 0);
  assert.not.ok(r.queue.ready);
  assert.is(r.queue.lastAvailIdx, 0);
  assert.not.ok(r.queue.pop(r.chain));
  assert.equal(r.queue.saveState(), new SplitQueue({ maxSize: 16 }).saveState());
});

test('a queue bound to new guest memory keeps indices and re-validates the rings', () => {
  const { driver, queue, chain } = rig();
  driver.post({ readable: [bytes(1, 2)] });
  assert.ok(queue.pop(chain));
  const same = new GuestMemory(driver.memory.regions);
  assert.ok(queue.activate(same));
  assert.is(queue.lastAvailIdx, 1);
  const tiny = GuestMemory.allocate(4096);
  assert.not.ok(queue.activate(tiny));
  assert.is(queue.error?.code, 'ERR_RING_ADDRESS');
});

test('views are reused for a recycled buffer and never outlive a memory change', () => {
  const { driver, queue, chain } = rig();
  const a = driver.allocBuffer(32);
  driver.writeDescriptor(0, { addr: a, len: 32, flags: 0, next: 0 });
  driver.pushHead(0);
  assert.ok(queue.pop(chain));
  const first = chain.iov[0]!;
  queue.putUsed(0, 0);
  driver.pushHead(0);
  assert.ok(queue.pop(chain));
  assert.ok(chain.iov[0] === first, 'same buffer, same view object');
  queue.putUsed(0, 0);
  // The same guest RAM mapped again (vhost-user SET_MEM_TABLE): a new buffer underneath.
  const copy = new Uint8Array(driver.memory.regions[0]!.bytes);
  const remapped = new GuestMemory([{ guestPhysAddr: 0, bytes: copy }]);
  assert.ok(queue.activate(remapped));
  driver.pushHead(0); // into the old mapping: copy the avail ring across
  remapped.write(driver.availAddr, driver.memory.translateOrThrow(driver.availAddr, 6 + 2 * driver.size));
  assert.ok(queue.pop(chain));
  assert.ok(chain.iov[0]!.buffer === copy.buffer, 'the view is into the new memory');
});

test('a descriptor reposted with another buffer gets that buffer, never the view remembered for it', () => {
  const { driver, queue, chain, errors } = rig({ policy: 'drop' });
  const a = driver.allocBuffer(64);
  const b = driver.allocBuffer(64);
  const post = (addr: number, len: number): void => {
    driver.writeDescriptor(3, { addr, len, flags: 2 /* WRITE */, next: 0 });
    driver.pushHead(3);
  };
  post(a, 64);
  assert.ok(queue.pop(chain));
  const viewA = chain.iov[0]!;
  queue.putUsed(3, 0);
  post(a, 64);
  assert.ok(queue.pop(chain));
  assert.ok(chain.iov[0] === viewA, 'same descriptor, same buffer: the same view');
  queue.putUsed(3, 0);
  post(b, 64);
  assert.ok(queue.pop(chain));
  assert.is(chain.addrs[0], b);
  chain.iov[0]!.fill(0xb1);
  assert.equal(driver.memory.translate(b, 64), new Uint8Array(64).fill(0xb1), 'the view is of the new buffer');
  queue.putUsed(3, 0);
  post(a, 32);
  assert.ok(queue.pop(chain));
  assert.is(chain.iov[0]!.length, 32, 'a new length is a new view');
  queue.putUsed(3, 0);
  // Outside guest memory: refused, although a view was remembered for this descriptor.
  post(driver.memory.totalBytes + 4096, 64);
  assert.not.ok(queue.pop(chain));
  assert.is(queue.stats.droppedChains, 1);
  assert.is(errors.length, 0);
});

test('a descriptor equal to an empty per-descriptor entry (address 0xffffffff_00000000, length 0) is refused by pop and by the run', () => {
  const { driver, queue, chain } = rig({ policy: 'drop' });
  const iov: Uint8Array[] = [new Uint8Array(0)];
  const heads = new Uint16Array(1);
  const lens = new Uint32Array(1);
  for (const head of [0, 5]) {
    driver.writeDescriptor(head, { addr: 0xffffffff * 4294967296, len: 0, flags: 2 /* WRITE */, next: 0 });
    driver.pushHead(head);
    assert.is(queue.popWritableRun(iov, 0, heads, lens, 0, 1, 0, 1), 0, 'the run leaves it to pop');
    assert.not.ok(queue.pop(chain), 'pop walks it and drops it');
  }
  assert.is(queue.stats.droppedChains, 2);
  assert.is(queue.stats.chains, 0);
});

test('the run takes reposted buffers again and stops at the first chain that is not one writable buffer', () => {
  const { driver, queue } = rig({ policy: 'drop', queueSize: 16 });
  const iov: Uint8Array[] = new Array<Uint8Array>(8).fill(new Uint8Array(0));
  const heads = new Uint16Array(8);
  const lens = new Uint32Array(8);
  const a = [driver.post({ writable: [100] }), driver.post({ writable: [100] }), driver.post({ writable: [4] }), driver.post({ writable: [100] })];
  assert.is(queue.popWritableRun(iov, 0, heads, lens, 0, 8, 12, 1000), 2, 'the 4-byte buffer is shorter than 12: left for pop');
  assert.equal(Array.from(heads.subarray(0, 2)), a.slice(0, 2));
  assert.is(queue.runBytes, 200);
  const first = iov[0]!;
  queue.retChains(2);
  assert.is(queue.popWritableRun(iov, 3, heads, lens, 3, 1, 12, 1000), 1, 'at most maxChains');
  assert.ok(iov[3] === first, 'the same descriptor and buffer: the same view');
  assert.is(queue.popWritableRun(iov, 0, heads, lens, 0, 8, 0, 104), 2, 'stops once wantBytes are held');
  assert.equal(Array.from(lens.subarray(0, 2)), [100, 4]);
});

test('many chains through a small ring, wrapping the 16-bit indices', () => {
  const r = rig({ queueSize: 4 });
  const { driver, queue, chain } = r;
  let got = 0;
  for (let round = 0; round < 70000 / 4; round++) {
    for (let i = 0; i < 4; i++) driver.post({ readable: [bytes(round & 0xff, i)] });
    while (queue.pop(chain)) {
      assert.is(chain.iov[0]![0], round & 0xff);
      queue.addUsed(chain.head, 0);
      got++;
    }
    queue.publish();
    queue.needsInterrupt();
    driver.takeAllUsed();
  }
  assert.is(got, 70000);
  assert.is(queue.usedIdx, 70000 & 0xffff);
  assert.is(queue.error, null);
  void MockDriver;
  void F_INDIRECT;
  void STATUS_NEEDS_RESET;
  void DescriptorChain;
});

test.run();
