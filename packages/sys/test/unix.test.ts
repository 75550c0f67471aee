import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sys } from '../src/index';
import { fdSnapshot, fdsOpenedSince, throwsErrno, throwsType } from './helpers';

test('fd passing over a socketpair: a memfd sent is mapped by the receiver', () => {
  const before = fdSnapshot();
  const [a, b] = sys.socketpair();
  const memfd = sys.memfdCreate('passed');
  sys.ftruncate(memfd, sys.PAGE_SIZE);
  sys.write(memfd, new TextEncoder().encode('hello'));
  const efd = sys.eventfdCreate();
  assert.is(sys.sendmsg(a, [new Uint8Array([1, 2]), new Uint8Array([3])], [memfd, efd]), 3);
  const buf = new Uint8Array(16);
  const r = sys.recvmsg(b, buf, 8);
  assert.ok(r);
  assert.is(r!.bytes, 3);
  assert.equal([...buf.subarray(0, 3)], [1, 2, 3]);
  assert.is(r!.fds.length, 2);
  assert.is(r!.fdsDropped, 0);
  assert.is(r!.controlTruncated, false);
  const map = sys.mmap(r!.fds[0]!, 0, sys.PAGE_SIZE);
  assert.is(new TextDecoder().decode(new Uint8Array(map, 0, 5)), 'hello');
  // The passed eventfd is the same object: a write on ours is read on theirs.
  sys.eventfdWrite(efd, 5);
  assert.is(sys.eventfdRead(r!.fds[1]!), 5);
  sys.munmap(map);
  for (const fd of [a, b, memfd, efd, ...r!.fds]) sys.close(fd);
  assert.equal(fdsOpenedSince(before), []);
});

test('fds beyond maxFds are closed and counted; nothing waiting gives null', () => {
  const before = fdSnapshot();
  const [a, b] = sys.socketpair('seqpacket');
  const fds = Array.from({ length: 5 }, () => sys.eventfdCreate());
  sys.sendmsg(a, new Uint8Array([9]), fds);
  const r = sys.recvmsg(b, new Uint8Array(4), 2)!;
  assert.is(r.fds.length, 2);
  assert.is(r.fdsDropped, 3);
  // maxFds 0: every fd is closed.
  sys.sendmsg(a, new Uint8Array([9]), fds);
  const r0 = sys.recvmsg(b, new Uint8Array(4))!;
  assert.is(r0.fds.length, 0);
  assert.is(r0.fdsDropped, 5);
  assert.is(sys.recvmsg(b, new Uint8Array(4)), null);
  // A datagram longer than the buffer is reported.
  sys.sendmsg(a, new Uint8Array(10));
  assert.is(sys.recvmsg(b, new Uint8Array(4))!.dataTruncated, true);
  for (const fd of [a, b, ...fds, ...r.fds]) sys.close(fd);
  assert.equal(fdsOpenedSince(before), []);
});

test('listen / connect / accept at a path; the peer closing reads as 0 bytes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-sys-'));
  const path = join(dir, 'sock');
  try {
    const listener = sys.unixListen(path);
    assert.is(sys.unixAccept(listener), -1); // nobody yet
    throwsErrno(() => sys.unixListen(path), 'EADDRINUSE');
    const client = sys.unixConnect(path);
    const server = sys.unixAccept(listener);
    assert.ok(server >= 0);
    assert.is(sys.sendmsg(client, new Uint8Array([7, 7])), 2);
    assert.is(sys.recvmsg(server, new Uint8Array(8))!.bytes, 2);
    assert.is(sys.recvmsg(server, new Uint8Array(8)), null);
    sys.close(client);
    assert.is(sys.recvmsg(server, new Uint8Array(8))!.bytes, 0);
    throwsErrno(() => sys.sendmsg(server, new Uint8Array(1)), 'EPIPE');
    sys.close(server);
    sys.close(listener);
    throwsErrno(() => sys.unixConnect(join(dir, 'nobody')), 'ENOENT');
    throwsErrno(() => sys.unixConnect('/' + 'x'.repeat(200)), 'ENAMETOOLONG');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad arguments throw TypeError', () => {
  const [a, b] = sys.socketpair();
  throwsType(() => sys.recvmsg(a, [] as unknown as Uint8Array));
  throwsType(() => sys.recvmsg(a, new Uint8Array(1), 254), /maxFds/);
  throwsType(() => sys.recvmsg(a, new Uint16Array(4) as unknown as Uint8Array), /Uint8Array/);
  throwsType(() => sys.sendmsg(a, new Uint8Array(1), [-1]), /fds/);
  throwsType(() => sys.sendmsg(a, new Uint8Array(1), 3 as unknown as number[]), /fds/);
  throwsType(() => sys.sendmsg(a, Array.from({ length: 65 }, () => new Uint8Array(1))), /64/);
  throwsType(() => sys.socketpair('raw' as 'stream'), /type/);
  throwsType(() => sys.unixListen(''), /empty/);
  throwsErrno(() => sys.sendmsg(a, new Uint8Array(1), [1_000_000]), 'EBADF');
  sys.close(a);
  sys.close(b);
});

test.run();
