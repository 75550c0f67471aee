import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DescriptorChain, DeviceStatus, GuestMemory, SplitQueue, VIRTQ_AVAIL_F_NO_INTERRUPT, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, iovCopyFrom } from '@netbe/virtio';
import { MockDriver, RangeAllocator, guardedMemory } from '@netbe/virtio/testing';
import { F_EVENT_IDX, F_INDIRECT, F_VERSION_1, pattern, rig } from './harness';

test('layout: legacy virtio-PCI placement (used ring on the next 4096 boundary)', () => {
  const d = new MockDriver({ queueSize: 1024, memoryBase: 0x100000, memorySize: 1 << 20 });
  assert.is(d.descAddr, 0x100000);
  assert.is(d.availAddr, 0x100000 + 16 * 1024);
  assert.is(d.usedAddr - d.descAddr, 20480, 'as bhyve vi_vq_init for qsize 1024');
  assert.throws(() => new MockDriver({ queueSize: 1024, memorySize: 8192 }), RangeError);
  assert.throws(() => new MockDriver({ queueSize: 12 }), RangeError);
});

test('posting writes the descriptors a guest would: NEXT links, WRITE flags, one indirect table', () => {
  const { driver } = rig();
  const head = driver.post({ readable: [pattern(6)], writable: [5], segmentSize: 4 });
  const d0 = driver.readDescriptor(head);
  assert.is(d0.flags, VIRTQ_DESC_F_NEXT);
  assert.is(d0.len, 4);
  const d1 = driver.readDescriptor(d0.next);
  assert.is(d1.len, 2);
  const d2 = driver.readDescriptor(d1.next);
  assert.is(d2.flags, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT);
  const d3 = driver.readDescriptor(d2.next);
  assert.is(d3.flags, VIRTQ_DESC_F_WRITE);
  assert.is(d3.len, 1);
  const ind = driver.post({ readable: [pattern(3)], writable: [3], indirect: true });
  const top = driver.readDescriptor(ind);
  assert.is(top.flags, VIRTQ_DESC_F_INDIRECT);
  assert.is(top.len, 32);
  assert.is(driver.memory.readU16(top.addr + 12), VIRTQ_DESC_F_NEXT);
  assert.is(driver.memory.readU16(top.addr + 16 + 12), VIRTQ_DESC_F_WRITE);
});

test('posting stops cleanly when descriptors or memory run out, and recovers after used', () => {
  const r = rig({ queueSize: 4, driver: { memorySize: 64 * 1024 } });
  const { driver, queue, chain } = r;
  assert.ok(driver.post({ writable: [8, 8, 8] }) >= 0);
  assert.is(driver.post({ writable: [8, 8] }), -1, 'only one descriptor left');
  assert.is(driver.freeDescriptorCount, 1);
  assert.is(driver.post({ writable: [1 << 20] }), -1, 'no memory for the buffer');
  assert.is(driver.freeDescriptorCount, 1, 'nothing leaked');
  assert.ok(queue.pop(chain));
  queue.putUsed(chain.head, 0);
  assert.is(driver.takeAllUsed().length, 1);
  assert.is(driver.freeDescriptorCount, 4);
  assert.is(driver.outstanding, 0);
});

test('batched posts become visible only when the avail index is published', () => {
  const { driver, queue, chain } = rig();
  driver.post({ readable: [pattern(3)] }, false);
  driver.post({ readable: [pattern(3)] }, false);
  assert.not.ok(queue.pop(chain));
  driver.publish();
  assert.is(queue.available(), 2);
});

test('kick(force) always notifies; a used element with an unknown id is reported, not thrown', () => {
  const { driver, queue } = rig({ features: F_VERSION_1 });
  let kicks = 0;
  driver.onKick = () => kicks++;
  queue.disableNotifications();
  driver.post({ readable: [pattern(3)] });
  assert.not.ok(driver.kick());
  assert.ok(driver.kick(true));
  assert.is(kicks, 1);
  queue.putUsed(9, 0); // the device returns a head the driver never posted
  const used = driver.takeUsed()!;
  assert.is(used.id, 9);
  assert.not.ok(used.known);
});

test('interrupt suppression from the driver side: NO_INTERRUPT and used_event', () => {
  const { driver } = rig();
  driver.disableInterrupts();
  assert.is(driver.memory.readU16(driver.availAddr), VIRTQ_AVAIL_F_NO_INTERRUPT);
  assert.is(driver.usedEvent(), 0x8000);
  driver.enableInterrupts();
  assert.is(driver.memory.readU16(driver.availAddr), 0);
  assert.is(driver.usedEvent(), 0);
  let seen = 0;
  driver.onInterrupt = () => seen++;
  driver.interrupt();
  assert.is(driver.interrupts, 1);
  assert.is(seen, 1);
});

test('several regions with a gap: buffers come from every region and chains span them', () => {
  const g = guardedMemory([
    { guestPhysAddr: 0, size: 64 * 1024 },
    { guestPhysAddr: 0x100000, size: 64 * 1024 },
  ]);
  const driver = new MockDriver({ memory: g.memory, queueSize: 16 });
  const queue = new SplitQueue({ maxSize: 16 });
  queue.setFeatures(F_VERSION_1 | F_INDIRECT | F_EVENT_IDX);
  driver.setFeatures(F_VERSION_1 | F_INDIRECT | F_EVENT_IDX);
  assert.ok(driver.attach(queue));
  const big = pattern(40 * 1024);
  driver.post({ readable: [big, big] }); // does not fit in the first region's free space alone
  const chain = new DescriptorChain(8);
  assert.ok(queue.pop(chain));
  const addrs = Array.from(chain.addrs.subarray(0, chain.count));
  assert.ok(addrs.some((a) => a >= 0x100000), 'one buffer in the second region');
  const out = new Uint8Array(80 * 1024);
  assert.is(iovCopyFrom(chain.iov, chain.count, 0, out), 80 * 1024);
  assert.equal(out.subarray(40 * 1024), big);
  assert.ok(g.guardsIntact());
});

test('guest memory backed by a SharedArrayBuffer (as mmapped guest RAM would be shared)', () => {
  const sab = new SharedArrayBuffer(1 << 20);
  const memory = new GuestMemory([{ guestPhysAddr: 0x40000000, bytes: new Uint8Array(sab) }]);
  const { queue, chain, driver } = (() => {
    const driver = new MockDriver({ memory, queueSize: 8 });
    const queue = new SplitQueue({ maxSize: 8 });
    driver.attach(queue);
    return { queue, chain: new DescriptorChain(4), driver };
  })();
  driver.post({ readable: [pattern(100)] });
  assert.ok(queue.pop(chain));
  assert.ok(chain.iov[0]!.buffer === sab);
  queue.putUsed(chain.head, 0);
  assert.is(driver.usedRingIdx(), 1);
});

test('the range allocator hands out aligned, disjoint ranges and coalesces on release', () => {
  const a = new RangeAllocator(0x1000, 0x2000);
  const x = a.alloc(100);
  const y = a.alloc(100, 64);
  assert.is(x % 16, 0);
  assert.is(y % 64, 0);
  assert.ok(y >= x + 100);
  a.release(x, 100);
  a.release(y, 100);
  assert.is(a.freeBytes, 0x1000);
  assert.is(a.alloc(0x1000), 0x1000);
  assert.is(a.alloc(1), -1);
});

test('negotiation refused by the device throws in the mock driver', () => {
  const device = new DeviceStatus({ deviceFeatures: F_VERSION_1, validateFeatures: () => false });
  assert.throws(() => new MockDriver({ queueSize: 4 }).negotiate(device, F_VERSION_1), /refused/);
});

test.run();
