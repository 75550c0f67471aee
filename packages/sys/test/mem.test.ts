import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sys } from '../src/index';
import { readFileSync } from 'node:fs';
import { fdSnapshot, fdsOpenedSince, throwsErrno, throwsType } from './helpers';

test('memfd + ftruncate + fstat + two mappings share the same pages', () => {
  const fd = sys.memfdCreate('netbe-test');
  try {
    sys.ftruncate(fd, 3 * sys.PAGE_SIZE);
    assert.is(sys.fstat(fd).size, 3 * sys.PAGE_SIZE);
    const a = sys.mmap(fd, 0, 3 * sys.PAGE_SIZE);
    const b = sys.mmap(fd, sys.PAGE_SIZE, sys.PAGE_SIZE); // the second page only
    assert.is(a.byteLength, 3 * sys.PAGE_SIZE);
    const va = new Uint8Array(a);
    const vb = new Uint8Array(b);
    va.fill(0x11, sys.PAGE_SIZE, 2 * sys.PAGE_SIZE);
    va[sys.PAGE_SIZE + 5] = 0xab;
    assert.is(vb[5], 0xab);
    assert.is(vb[0], 0x11);
    vb[100] = 0xcd;
    assert.is(va[sys.PAGE_SIZE + 100], 0xcd);
    assert.is(sys.munmap(a), true);
    assert.is(sys.munmap(b), true);
  } finally {
    sys.close(fd);
  }
});

test('munmap detaches: views read as empty, a second munmap returns false', () => {
  const fd = sys.memfdCreate('netbe-test');
  sys.ftruncate(fd, sys.PAGE_SIZE);
  const ab = sys.mmap(fd, 0, sys.PAGE_SIZE);
  const view = new Uint8Array(ab);
  const dv = new DataView(ab);
  view[1] = 9;
  assert.is(sys.munmap(ab), true);
  assert.is(ab.byteLength, 0);
  assert.is(view.length, 0);
  assert.is(view[1], undefined); // no access reaches the old pages
  view[1] = 5; // ignored, not a crash
  assert.throws(() => dv.getUint8(1));
  assert.is(sys.munmap(ab), false);
  sys.close(fd);
});

test('a read-only private mapping and the data written through the fd', () => {
  const fd = sys.memfdCreate('netbe-test');
  sys.ftruncate(fd, sys.PAGE_SIZE);
  sys.write(fd, new Uint8Array([1, 2, 3]));
  const ab = sys.mmap(fd, 0, sys.PAGE_SIZE, { write: false, shared: false });
  assert.equal([...new Uint8Array(ab, 0, 3)], [1, 2, 3]);
  sys.munmap(ab);
  sys.close(fd);
});

test('bad input: TypeError for arguments, errno errors for the kernel', () => {
  const fd = sys.memfdCreate('netbe-test');
  sys.ftruncate(fd, sys.PAGE_SIZE);
  throwsType(() => sys.mmap(fd, 0, 0), /length/);
  throwsType(() => sys.mmap(fd, -1, 10), /offset/);
  throwsType(() => sys.mmap(fd, 0.5, 10), /integer/);
  throwsType(() => sys.mmap('3' as unknown as number, 0, 10), /fd must be a number/);
  throwsType(() => sys.mmap(fd, 0, 10, 'rw' as never), /options/);
  throwsType(() => sys.munmap(new ArrayBuffer(8)), /returned by mmap/);
  throwsType(() => sys.munmap({} as ArrayBuffer));
  throwsType(() => sys.ftruncate(fd, -1));
  throwsType(() => sys.memfdCreate(7 as unknown as string));
  throwsType(() => sys.memfdCreate('a\0b'), /NUL/);
  throwsErrno(() => sys.mmap(fd, 1, 10), 'EINVAL'); // offset not page-aligned
  throwsErrno(() => sys.mmap(1_000_000, 0, 10), 'EBADF');
  throwsErrno(() => sys.fstat(1_000_000), 'EBADF');
  sys.close(fd);
  throwsErrno(() => sys.close(fd), 'EBADF');
});

test('many mappings made and unmapped leave no fds and no mappings behind', () => {
  const before = fdSnapshot();
  for (let i = 0; i < 200; i++) {
    const fd = sys.memfdCreate('netbe-loop');
    sys.ftruncate(fd, 65536);
    const ab = sys.mmap(fd, 0, 65536);
    new Uint8Array(ab)[i] = i & 0xff;
    sys.close(fd); // the mapping outlives the fd
    assert.is(new Uint8Array(ab)[i], i & 0xff);
    sys.munmap(ab);
  }
  assert.equal(fdsOpenedSince(before), []);
  assert.not.match(readFileSync('/proc/self/maps', 'utf8'), 'memfd:netbe-loop', 'no mapping of the loop memfds is left');
});

test.run();
