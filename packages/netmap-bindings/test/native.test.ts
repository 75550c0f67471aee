import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as abi from '../src/abi';
import { nativeNetmap } from '../src/binding';

const native = nativeNetmap();
const dir = mkdtempSync(join(tmpdir(), 'netmap-bindings-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('the TS layout mirrors the C definitions the addon was compiled with', () => {
  const c = native.abi();
  assert.is(c.api, abi.NETMAP_API);
  assert.is(c.slotSize, abi.SLOT_SIZE);
  assert.is(c.slotLen, abi.SLOT_LEN);
  assert.is(c.slotFlags, abi.SLOT_FLAGS);
  assert.is(c.ringBufOfs, abi.RING_BUF_OFS);
  assert.is(c.ringNumSlots, abi.RING_NUM_SLOTS);
  assert.is(c.ringBufSize, abi.RING_BUF_SIZE);
  assert.is(c.ringDir, abi.RING_DIR);
  assert.is(c.ringDirTx, abi.RING_DIR_TX);
  assert.is(c.ringDirRx, abi.RING_DIR_RX);
  assert.is(c.ringHead, abi.RING_HEAD);
  assert.is(c.ringCur, abi.RING_CUR);
  assert.is(c.ringTail, abi.RING_TAIL);
  assert.is(c.ringOffsetMask, abi.RING_OFFSET_MASK);
  assert.is(c.ringSlots, abi.RING_SLOTS);
  assert.is(c.ifTxRings, abi.IF_TX_RINGS);
  assert.is(c.ifRxRings, abi.IF_RX_RINGS);
  assert.is(c.ifHostTxRings, abi.IF_HOST_TX_RINGS);
  assert.is(c.ifHostRxRings, abi.IF_HOST_RX_RINGS);
  assert.is(c.ifRingOfs, abi.IF_RING_OFS);
  assert.is(c.nsMoreFrag, abi.NS_MOREFRAG);
  assert.is(c.maxFrags, abi.NETMAP_MAX_FRAGS);
  assert.is(c.reqIfNameSize - 1, abi.REQ_NAME_MAX);
});

test('bad arguments throw TypeError, never abort', () => {
  assert.throws(() => native.txSync(-1), (e: Error) => e instanceof TypeError);
  assert.throws(() => native.txSync(1.5), (e: Error) => e instanceof TypeError);
  assert.throws(() => (native.register as (...a: unknown[]) => unknown)(0, 'x'), (e: Error) => e instanceof TypeError);
  assert.throws(() => native.register(0, 'x'.repeat(64), 1, 0, 0), (e: Error) => e instanceof TypeError && /1\.\.63 bytes/.test(e.message));
  assert.throws(() => native.register(0, '', 1, 0, 0), (e: Error) => e instanceof TypeError);
  assert.throws(() => native.register(0, 'eth0', 9, 0, 0), (e: Error) => e instanceof TypeError && /mode/.test(e.message));
  assert.throws(() => native.mmap(0, 0), (e: Error) => e instanceof TypeError);
  assert.throws(() => native.unmap({} as ArrayBuffer), (e: Error) => e instanceof TypeError);
});

test('a failed system call carries code, errno and syscall', () => {
  const error = (() => {
    try {
      native.open(join(dir, 'absent'));
    } catch (e) {
      return e as Error & { code: string; errno: number; syscall: string };
    }
    throw new Error('open of a missing path succeeded');
  })();
  assert.is(error.code, 'ENOENT');
  assert.is(error.errno, 2);
  assert.is(error.syscall, 'open');
  // A regular file is not a netmap device: the ioctls fail with ENOTTY, clearly.
  const file = join(dir, 'plain');
  writeFileSync(file, new Uint8Array(8192));
  const fd = native.open(file);
  try {
    assert.throws(() => native.txSync(fd), (e: Error & { code?: string }) => e.code === 'ENOTTY' && /NIOCTXSYNC/.test(e.message));
    assert.throws(() => native.portInfo(fd, 'eth0'), (e: Error & { code?: string }) => e.code === 'ENOTTY');
    // register falls back to the legacy NIOCREGIF on ENOTTY, which fails the same way.
    assert.throws(() => native.register(fd, 'eth0', 1, 0, 0), (e: Error) => /NIOCREGIF/.test(e.message));
  } finally {
    native.close(fd);
  }
});

test('mmap maps MAP_SHARED read/write; unmap detaches every view', () => {
  const file = join(dir, 'region');
  const bytes = new Uint8Array(8192);
  bytes[100] = 42;
  writeFileSync(file, bytes);
  const fd = native.open(file);
  const region = native.mmap(fd, 8192);
  native.close(fd); // the mapping outlives the fd, as with netmap
  const view = new Uint8Array(region);
  assert.is(view.length, 8192);
  assert.is(view[100], 42);
  view[200] = 7;
  native.unmap(region);
  assert.is(view.length, 0, 'a view over an unmapped region is empty, never dangling');
  assert.is(region.byteLength, 0);
  native.unmap(region); // idempotent
  const check = execFileSync('od', ['-An', '-tu1', '-j200', '-N1', file]).toString().trim();
  assert.is(check, '7', 'the write went through the shared mapping');
});

test('unmap releases the mapping at once (the kernel keeps a netmap port alive while it is mapped)', () => {
  const file = join(dir, 'region-now');
  writeFileSync(file, new Uint8Array(3 * 4096));
  const mapped = (): number => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(file)).length;
  for (let i = 0; i < 50; i++) {
    const fd = native.open(file);
    const region = native.mmap(fd, 3 * 4096);
    native.close(fd);
    assert.is(mapped(), 1);
    native.unmap(region);
    assert.is(mapped(), 0, 'gone before any GC or event-loop turn');
  }
  // A buffer the addon did not map is detached, nothing else.
  const plain = new ArrayBuffer(16);
  native.unmap(plain);
  assert.is(plain.byteLength, 0);
});

test.run();
