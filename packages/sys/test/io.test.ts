import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { sys } from '../src/index';
import { throwsErrno, throwsType } from './helpers';

test('writev gathers and readv scatters straight into views (no copy)', () => {
  const [a, b] = sys.socketpair('seqpacket');
  const backing = new Uint8Array(32);
  const parts = [backing.subarray(0, 3), backing.subarray(10, 14), new Uint8Array(0)];
  backing.set([1, 2, 3], 0);
  backing.set([4, 5, 6, 7], 10);
  assert.is(sys.writev(a, parts, 2), 7);
  const out = new Uint8Array(16);
  const views = [out.subarray(0, 2), out.subarray(8, 16), new Uint8Array(1)];
  assert.is(sys.readv(b, views, 2), 7);
  assert.equal([...out.subarray(0, 2)], [1, 2]);
  assert.equal([...out.subarray(8, 13)], [3, 4, 5, 6, 7]);
  assert.is(sys.readv(b, views), -1); // would block
  sys.close(a);
  sys.close(b);
});

test('read / write with offset and length; EOF reads 0', () => {
  const [a, b] = sys.socketpair();
  assert.is(sys.write(a, new Uint8Array([0, 1, 2, 3, 4]), 1, 3), 3);
  const buf = new Uint8Array(8);
  assert.is(sys.read(b, buf, 4), 3);
  assert.equal([...buf.subarray(4, 7)], [1, 2, 3]);
  sys.close(a);
  assert.is(sys.read(b, buf), 0);
  sys.close(b);
});

test('setNonBlocking toggles O_NONBLOCK', () => {
  const [a, b] = sys.socketpair('stream', false);
  sys.setNonBlocking(b, true);
  assert.is(sys.read(b, new Uint8Array(4)), -1);
  sys.close(a);
  sys.close(b);
});

test('argument validation', () => {
  const [a, b] = sys.socketpair();
  throwsType(() => sys.readv(a, new Uint8Array(4) as unknown as Uint8Array[]), /array/);
  throwsType(() => sys.readv(a, [new Uint8Array(4)], 2), /count/);
  throwsType(() => sys.readv(a, [new Uint8Array(4)], -1), /count/);
  throwsType(() => sys.writev(a, ['x' as unknown as Uint8Array]), /Uint8Array/);
  throwsType(() => sys.writev(a, Array.from({ length: 1025 }, () => new Uint8Array(1))), /1024/);
  throwsType(() => sys.read(a, new Uint8Array(4), 5), /offset/);
  throwsType(() => sys.read(a, new Uint8Array(4), 2, 3), /length/);
  throwsType(() => sys.close(-1), /fd/);
  throwsType(() => sys.close(Number.NaN), /integer/);
  throwsType(() => sys.close(2 ** 31), /fd/);
  throwsType(() => (sys.close as (...a: unknown[]) => void)(), /fd must be a number/);
  throwsErrno(() => sys.writev(1_000_000, [new Uint8Array(1)]), 'EBADF');
  sys.close(a);
  sys.close(b);
});

test.run();
