/**
 * popWritableRun hands buffers that follow each other in guest memory to the caller as one iov
 * entry. The entry must cover exactly those buffers (never a byte beyond them, never across two
 * memory regions), and a remembered joined view must never outlive the descriptors or the memory
 * it was made for.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GuestMemory, SplitQueue } from '../src/index';
import { MockDriver } from '../src/testing/index';

const WRITE = 2;

/** A queue of `size` attached to `driver`. */
function attached(driver: MockDriver, size: number): SplitQueue {
  const queue = new SplitQueue({ maxSize: size });
  assert.ok(driver.attach(queue));
  return queue;
}

/** Posts one-buffer writable chains at the given guest addresses and lengths (descriptors 0..). */
function post(driver: MockDriver, buffers: Array<[number, number]>): void {
  buffers.forEach(([addr, len], i) => {
    driver.writeDescriptor(i, { addr, len, flags: WRITE, next: 0 });
    driver.pushHead(i, false);
  });
  driver.publish();
}

/** Runs popWritableRun for all posted chains; returns the iov entries it wrote. */
function run(queue: SplitQueue, count: number, want = 1 << 30): Uint8Array[] {
  const iov: Uint8Array[] = new Array<Uint8Array>(count + 1).fill(new Uint8Array(0));
  const heads = new Uint16Array(count);
  const lens = new Uint32Array(count);
  const n = queue.popWritableRun(iov, 0, heads, lens, 0, count, 0, want);
  assert.is(n, count, 'every chain taken');
  return iov.slice(0, queue.runSegments);
}

/** Fills the entries with a counting pattern, as a backend scattering a frame would. */
function scatter(entries: Uint8Array[]): number {
  let v = 0;
  for (const e of entries) for (let k = 0; k < e.length; k++) e[k] = ++v & 0xff;
  return v;
}

test('adjacent buffers share one entry that covers them exactly; a gap starts a new one', () => {
  const driver = new MockDriver({ queueSize: 8, memorySize: 1 << 20 });
  const queue = attached(driver, 8);
  const base = driver.allocBuffer(6 * 4096, 4096);
  // Three adjacent, a gap of 4096, two adjacent, then one out of order (before the previous).
  const buffers: Array<[number, number]> = [
    [base, 4096],
    [base + 4096, 4096],
    [base + 8192, 100],
    [base + 12288 + 4096, 4096],
    [base + 12288 + 8192, 2048],
    [base + 12288, 4096],
  ];
  post(driver, buffers);
  const entries = run(queue, buffers.length);
  assert.equal(entries.map((e) => e.length), [8292, 6144, 4096]);
  const total = scatter(entries);
  assert.is(total, 8292 + 6144 + 4096);
  // The bytes landed in the buffers in ring order, and nowhere else.
  let v = 0;
  for (const [addr, len] of buffers) {
    const got = driver.memory.translate(addr, len)!;
    for (let k = 0; k < len; k++) assert.is(got[k], ++v & 0xff, `byte ${k} of buffer at ${addr}`);
  }
  const gapEnd = driver.memory.translate(base + 8192 + 100, 4096 - 100)!;
  assert.ok(gapEnd.every((b) => b === 0), 'the rest of the short buffer and the gap untouched');
});

test('buffers adjacent in guest-physical addresses across two regions are never one view: the run stays separate buffers', () => {
  const lowBytes = new Uint8Array(1 << 20);
  const highBytes = new Uint8Array(1 << 16);
  const memory = new GuestMemory([
    { guestPhysAddr: 0, bytes: lowBytes },
    { guestPhysAddr: 1 << 20, bytes: highBytes },
  ]);
  const driver = new MockDriver({ queueSize: 8, memory });
  const queue = attached(driver, 8);
  const buffers: Array<[number, number]> = [
    [(1 << 20) - 8192, 4096],
    [(1 << 20) - 4096, 4096],
    [1 << 20, 4096],
    [(1 << 20) + 4096, 4096],
  ];
  post(driver, buffers);
  const entries = run(queue, buffers.length);
  // (Splitting such a run at the region boundary is left out: VMM regions that touch are rare.)
  assert.equal(entries.map((e) => e.length), [4096, 4096, 4096, 4096]);
  assert.equal(entries.map((e) => e.buffer === lowBytes.buffer), [true, true, false, false]);
  scatter(entries);
  assert.is(lowBytes[(1 << 20) - 8193], 0, 'nothing before the first buffer');
  assert.is(lowBytes[(1 << 20) - 8192], 1, 'the first byte');
  assert.is(lowBytes[(1 << 20) - 2], 8191 & 0xff);
  assert.is(highBytes[0], 8193 & 0xff);
  assert.is(highBytes[8190], 16383 & 0xff, 'the last byte but one');
  assert.is(highBytes[8192], 0, 'nothing after the last buffer');
});

test('a joined view is never reused for other descriptors or other memory', () => {
  const driver = new MockDriver({ queueSize: 8, memorySize: 1 << 20 });
  const queue = attached(driver, 8);
  const a = driver.allocBuffer(4 * 4096, 4096);
  const b = driver.allocBuffer(4 * 4096, 4096);
  post(driver, [[a, 4096], [a + 4096, 4096]]);
  assert.equal(run(queue, 2).map((e) => [e.byteOffset, e.length]), [[driver.memory.translate(a, 1)!.byteOffset, 8192]]);
  // The same first descriptor, now at another address, then the same address with a shorter run.
  post(driver, [[b, 4096], [b + 4096, 4096]]);
  assert.equal(run(queue, 2).map((e) => [e.byteOffset, e.length]), [[driver.memory.translate(b, 1)!.byteOffset, 8192]]);
  post(driver, [[b, 4096], [b + 4096, 1000]]);
  assert.equal(run(queue, 2).map((e) => e.length), [5096]);
  // New guest memory of the same layout: the entry is a view of the new memory.
  const fresh = GuestMemory.allocate(1 << 20);
  assert.ok(queue.activate(fresh));
  const copy = new MockDriver({ queueSize: 8, memory: fresh });
  assert.ok(copy.attach(queue));
  copy.setAvailIdx(6); // where the queue's indices are (activate keeps them)
  post(copy, [[a, 4096], [a + 4096, 4096]]);
  const entries = run(queue, 2);
  assert.is(entries.length, 1);
  assert.is(entries[0]!.buffer, fresh.regions[0]!.bytes.buffer, 'a view of the memory the queue now uses');
});

test('wantBytes still stops the run after the buffer that reaches it, joined or not', () => {
  const driver = new MockDriver({ queueSize: 8, memorySize: 1 << 20 });
  const queue = attached(driver, 8);
  const base = driver.allocBuffer(8 * 4096, 4096);
  post(driver, Array.from({ length: 8 }, (_, i): [number, number] => [base + i * 4096, 4096]));
  const iov: Uint8Array[] = new Array<Uint8Array>(9).fill(new Uint8Array(0));
  const n = queue.popWritableRun(iov, 0, new Uint16Array(8), new Uint32Array(8), 0, 8, 0, 10000);
  assert.is(n, 3, 'three buffers hold 10000 bytes');
  assert.is(queue.runBytes, 3 * 4096);
  assert.is(queue.runSegments, 1);
  assert.is(iov[0]!.length, 3 * 4096);
});

test.run();
