/**
 * virtio 1.2 §2.7 broken by a hostile driver, case by case: each yields a typed error (the
 * queue breaks and the device sets NEEDS_RESET with a configuration-change notification) or,
 * under the 'drop' policy, a counted drop; nothing outside guest memory is touched.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DescriptorChain, GuestMemory, STATUS_NEEDS_RESET, SplitQueue, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from '@netbe/virtio';
import { HOSTILE_CHAINS, type HostileChain } from '@netbe/virtio/testing';
import { F_EVENT_IDX, F_VERSION_1, bytes, rig, type Rig } from './harness';

const NEXT = VIRTQ_DESC_F_NEXT;
const WRITE = VIRTQ_DESC_F_WRITE;
const INDIRECT = VIRTQ_DESC_F_INDIRECT;

/** Pops once; expects the queue to break with `code`, NEEDS_RESET and one config interrupt. */
function expectBroken(r: Rig, code: string): void {
  assert.not.ok(r.queue.pop(r.chain), 'no chain');
  assert.is(r.queue.error?.code, code);
  assert.is(r.errors.length, 1);
  assert.is(r.errors[0]!.code, code);
  assert.ok(r.device.status & STATUS_NEEDS_RESET, 'NEEDS_RESET set');
  assert.is(r.configInterrupts, 1);
  assert.not.ok(r.device.live);
  // Broken stays broken (no further reads of the ring) until reset.
  r.driver.post({ readable: [bytes(1)] });
  assert.not.ok(r.queue.pop(r.chain));
  assert.is(r.errors.length, 1, 'reported once');
  assert.ok(r.driver.guardsIntact());
  // The driver's reset recovers the device and the queue.
  r.device.writeStatus(0);
  assert.is(r.queue.error, null);
  assert.is(r.device.status, 0);
}

/** A buffer inside guest memory for hand-made descriptors. */
const buf = (r: Rig, len = 16): number => r.driver.allocBuffer(len);

test('avail->idx that moves by more than the queue size', () => {
  const r = rig();
  r.driver.setAvailIdx(17);
  expectBroken(r, 'ERR_AVAIL_IDX');
});

test('avail->idx going backwards (a huge forward jump modulo 2^16)', () => {
  const r = rig();
  r.driver.post({ readable: [bytes(1)] });
  assert.ok(r.queue.pop(r.chain));
  r.driver.setAvailIdx(0);
  expectBroken(r, 'ERR_AVAIL_IDX');
});

test('head descriptor index out of range', () => {
  const r = rig();
  r.driver.pushHead(16);
  expectBroken(r, 'ERR_DESC_INDEX');
});

test('next index out of range', () => {
  const r = rig();
  r.driver.writeDescriptor(0, { addr: buf(r), len: 16, flags: NEXT, next: 40 });
  r.driver.pushHead(0);
  expectBroken(r, 'ERR_DESC_INDEX');
});

test('buffer address outside guest memory, or leaving its region, or wrapping', () => {
  for (const [addr, len] of [
    [0x7fff0000n, 16],
    [(1n << 20n) - 8n, 16],
    [2n ** 64n - 8n, 16],
    [2n ** 53n, 1],
    [2n ** 53n - 1n, 1],
  ] as const) {
    const r = rig();
    r.driver.writeDescriptor(0, { addr: 0, len, flags: 0, next: 0 });
    r.driver.memory.writeU64Big(r.driver.descAddr, addr);
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_DESC_ADDRESS');
  }
});

test('a descriptor loop (and a self-loop) stops at the hop limit', () => {
  const r = rig();
  const a = buf(r);
  r.driver.writeDescriptor(0, { addr: a, len: 16, flags: NEXT, next: 1 });
  r.driver.writeDescriptor(1, { addr: a, len: 16, flags: NEXT, next: 0 });
  r.driver.pushHead(0);
  expectBroken(r, 'ERR_DESC_LOOP');
  const s = rig();
  s.driver.writeDescriptor(3, { addr: buf(s), len: 16, flags: NEXT, next: 3 });
  s.driver.pushHead(3);
  expectBroken(s, 'ERR_DESC_LOOP');
});

test('a loop inside an indirect table stops at the table length', () => {
  const r = rig();
  const a = buf(r);
  const table = r.driver.writeIndirectTable([
    { addr: a, len: 16, flags: NEXT, next: 1 },
    { addr: a, len: 16, flags: NEXT, next: 0 },
  ]);
  r.driver.writeDescriptor(0, { addr: table, len: 32, flags: INDIRECT, next: 0 });
  r.driver.pushHead(0);
  expectBroken(r, 'ERR_DESC_LOOP');
});

test('indirect table: length not a multiple of 16, or zero', () => {
  for (const len of [24, 8, 0]) {
    const r = rig();
    const table = r.driver.writeIndirectTable([{ addr: buf(r), len: 16, flags: 0, next: 0 }, { addr: 0, len: 0, flags: 0, next: 0 }]);
    r.driver.writeDescriptor(0, { addr: table, len, flags: INDIRECT, next: 0 });
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_INDIRECT_LENGTH');
  }
});

test('indirect table: nested, with NEXT, outside memory, not negotiated, index out of table', () => {
  {
    const r = rig();
    const inner = r.driver.writeIndirectTable([{ addr: buf(r), len: 16, flags: 0, next: 0 }]);
    const outer = r.driver.writeIndirectTable([{ addr: inner, len: 16, flags: INDIRECT, next: 0 }]);
    r.driver.writeDescriptor(0, { addr: outer, len: 16, flags: INDIRECT, next: 0 });
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_INDIRECT_NESTED');
  }
  {
    const r = rig();
    const table = r.driver.writeIndirectTable([{ addr: buf(r), len: 16, flags: 0, next: 0 }]);
    r.driver.writeDescriptor(0, { addr: table, len: 16, flags: INDIRECT | NEXT, next: 1 });
    r.driver.writeDescriptor(1, { addr: buf(r), len: 16, flags: 0, next: 0 });
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_INDIRECT_WITH_NEXT');
  }
  {
    const r = rig();
    r.driver.writeDescriptor(0, { addr: (1 << 20) - 16, len: 32, flags: INDIRECT, next: 0 });
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_INDIRECT_ADDRESS');
  }
  {
    const r = rig({ features: F_VERSION_1 | F_EVENT_IDX });
    const table = r.driver.writeIndirectTable([{ addr: buf(r), len: 16, flags: 0, next: 0 }]);
    r.driver.writeDescriptor(0, { addr: table, len: 16, flags: INDIRECT, next: 0 });
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_INDIRECT_NOT_NEGOTIATED');
  }
  {
    const r = rig();
    const table = r.driver.writeIndirectTable([{ addr: buf(r), len: 16, flags: NEXT, next: 1 }]);
    r.driver.writeDescriptor(0, { addr: table, len: 16, flags: INDIRECT, next: 0 });
    r.driver.pushHead(0);
    expectBroken(r, 'ERR_DESC_INDEX');
  }
});

test('indirect: the WRITE flag of the descriptor pointing at the table is ignored (§2.7.5.3.2)', () => {
  const r = rig();
  const table = r.driver.writeIndirectTable([{ addr: buf(r), len: 16, flags: 0, next: 0 }]);
  r.driver.writeDescriptor(0, { addr: table, len: 16, flags: INDIRECT | WRITE, next: 0 });
  r.driver.pushHead(0);
  assert.ok(r.queue.pop(r.chain));
  assert.is(r.chain.readable, 1);
});

test('a readable descriptor after a writable one (§2.7.4.2)', () => {
  const r = rig();
  r.driver.writeDescriptor(0, { addr: buf(r), len: 16, flags: WRITE | NEXT, next: 1 });
  r.driver.writeDescriptor(1, { addr: buf(r), len: 16, flags: 0, next: 0 });
  r.driver.pushHead(0);
  expectBroken(r, 'ERR_DESC_ORDER');
});

test('a writable descriptor where the device needs readable ones: rejectChain', () => {
  const r = rig();
  r.driver.post({ writable: [64] });
  assert.ok(r.queue.pop(r.chain));
  // A transmit queue only takes device-readable buffers.
  if (r.chain.writable > 0) r.queue.rejectChain(r.chain, 'ERR_DESC_DIRECTION', 'transmit chain has writable buffers');
  expectBroken(r, 'ERR_DESC_DIRECTION');
});

test("'drop' policy: malformed chains are counted, returned with length 0, and the queue goes on", () => {
  const r = rig({ policy: 'drop' });
  const a = buf(r);
  r.driver.writeDescriptor(0, { addr: a, len: 16, flags: NEXT, next: 0 }); // self-loop
  r.driver.pushHead(0);
  r.driver.pushHead(99); // out of range: cannot be given back
  r.driver.writeDescriptor(1, { addr: a, len: 4, flags: 0, next: 0 });
  r.driver.pushHead(1);
  assert.ok(r.queue.pop(r.chain));
  assert.is(r.chain.head, 1);
  assert.is(r.queue.stats.droppedChains, 2);
  r.queue.rejectChain(r.chain, 'ERR_CHAIN_TOO_SHORT', 'no room for a header');
  assert.is(r.queue.stats.droppedChains, 3);
  r.queue.publish();
  assert.equal(r.driver.takeAllUsed().map((u) => [u.id, u.len]), [[0, 0], [1, 0]]);
  assert.is(r.queue.error, null);
  assert.is(r.errors.length, 0);
  // Ring-level errors break the queue even under 'drop'.
  r.driver.setAvailIdx(r.driver.availIdx + 100);
  expectBroken(r, 'ERR_AVAIL_IDX');
});

test('rings outside guest memory, misaligned, or a bad size: the queue does not start', () => {
  const memory = GuestMemory.allocate(64 * 1024);
  const cases: Array<[Partial<Record<'size' | 'descAddr' | 'availAddr' | 'usedAddr', number>>, string]> = [
    [{ descAddr: 63 * 1024 }, 'ERR_RING_ADDRESS'],
    [{ availAddr: 64 * 1024 - 4 }, 'ERR_RING_ADDRESS'],
    [{ usedAddr: 64 * 1024 }, 'ERR_RING_ADDRESS'],
    [{ usedAddr: 2 ** 60 }, 'ERR_RING_ADDRESS'],
    [{ descAddr: 8 }, 'ERR_RING_ALIGNMENT'],
    [{ availAddr: 0x1001 }, 'ERR_RING_ALIGNMENT'],
    [{ usedAddr: 0x2002 }, 'ERR_RING_ALIGNMENT'],
    [{ size: 12 }, 'ERR_QUEUE_SIZE'],
    [{ size: 0 }, 'ERR_QUEUE_SIZE'],
    [{ size: 512 }, 'ERR_QUEUE_SIZE'],
  ];
  for (const [patch, code] of cases) {
    const errors: string[] = [];
    const q = new SplitQueue({ maxSize: 256, onError: (e) => errors.push(e.code) });
    Object.assign(q, { size: 256, descAddr: 0, availAddr: 0x1000, usedAddr: 0x2000 }, patch);
    assert.not.ok(q.activate(memory), JSON.stringify(patch));
    assert.not.ok(q.ready);
    assert.is(q.error?.code, code);
    assert.equal(errors, [code]);
    assert.not.ok(q.pop(new DescriptorChain(4)));
  }
});

test('a zero-length buffer inside memory is fine; one at an address outside memory is not', () => {
  const r = rig();
  r.driver.writeDescriptor(0, { addr: buf(r), len: 0, flags: 0, next: 0 });
  r.driver.pushHead(0);
  assert.ok(r.queue.pop(r.chain));
  assert.is(r.chain.iov[0]!.length, 0);
  r.driver.writeDescriptor(1, { addr: 0x40000000, len: 0, flags: 0, next: 0 });
  r.driver.pushHead(1);
  assert.not.ok(r.queue.pop(r.chain));
  assert.is(r.queue.error?.code, 'ERR_DESC_ADDRESS');
});

test('a descriptor changed after a pop is checked again (no trust from earlier reads)', () => {
  const r = rig();
  r.driver.writeDescriptor(0, { addr: buf(r), len: 16, flags: 0, next: 0 });
  r.driver.pushHead(0);
  assert.ok(r.queue.pop(r.chain)); // caches a view for slot 0
  r.queue.putUsed(0, 0);
  r.driver.writeDescriptor(0, { addr: (1 << 20) - 8, len: 16, flags: 0, next: 0 });
  r.driver.pushHead(0);
  assert.not.ok(r.queue.pop(r.chain));
  assert.is(r.queue.error?.code, 'ERR_DESC_ADDRESS');
});

test('rewriting the size after activation does not move the data path past the checked rings', () => {
  const r = rig({ queueSize: 16 });
  r.queue.size = 8; // the register changes; the rings stay as validated for 16
  r.driver.pushHead(12);
  r.driver.writeDescriptor(12, { addr: buf(r), len: 4, flags: 0, next: 0 });
  assert.ok(r.queue.pop(r.chain));
  assert.is(r.chain.head, 12);
  assert.is(r.queue.saveState().size, 16);
  const s = new SplitQueue({ maxSize: 32768 });
  const memory = GuestMemory.allocate(8192);
  Object.assign(s, { size: 16, descAddr: 0, availAddr: 256, usedAddr: 512 });
  assert.ok(s.activate(memory));
  s.size = 32768; // would put used_event / avail_event far outside the memory
  memory.writeU16(256 + 2, 1);
  assert.ok(s.pop(new DescriptorChain(4)));
  s.putUsed(0, 0);
  s.needsInterrupt();
  s.enableNotifications();
  assert.is(s.error, null);
});

test('every ready-made hostile chain of MockDriver.postHostile gives its documented error', () => {
  for (const [kind, code] of Object.entries(HOSTILE_CHAINS) as Array<[HostileChain, string]>) {
    const r = rig();
    r.driver.post({ readable: [bytes(1)] }); // a good chain first: the queue works until the bad one
    assert.ok(r.queue.pop(r.chain), kind);
    r.driver.postHostile(kind);
    expectBroken(r, code);
  }
  for (const kind of Object.keys(HOSTILE_CHAINS) as HostileChain[]) {
    const r = rig({ policy: 'drop' });
    r.driver.postHostile(kind);
    r.driver.post({ readable: [bytes(7)] });
    assert.ok(r.queue.pop(r.chain), `${kind}: the good chain after it still pops`);
    assert.is(r.chain.iov[0]![0], 7);
    assert.is(r.queue.stats.droppedChains, 1, kind);
    assert.ok(r.driver.guardsIntact());
  }
  const j = rig();
  j.driver.jumpAvailIdx();
  expectBroken(j, 'ERR_AVAIL_IDX');
});

test.run();
