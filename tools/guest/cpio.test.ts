/** The newc writer, checked by the system's cpio (which the kernel's unpacker agrees with). */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasCommand, prerequisite, testWhen } from '@netbe/test-utils';
import { writeCpio } from './cpio';

test('layout: 110-byte headers, names and data padded to 4, trailer last', () => {
  const a = writeCpio([{ kind: 'file', path: '/x', data: Uint8Array.of(1, 2, 3), mode: 0o600 }]);
  const text = new TextDecoder().decode(a.subarray(0, 110));
  assert.is(text.slice(0, 6), '070701');
  assert.is(parseInt(text.slice(14, 22), 16), 0o100600, 'mode');
  assert.is(parseInt(text.slice(54, 62), 16), 3, 'file size');
  assert.is(parseInt(text.slice(94, 102), 16), 2, 'name size with NUL');
  assert.is(a.length % 4, 0);
  assert.match(new TextDecoder().decode(a), /TRAILER!!!/);
});

testWhen(test, prerequisite([hasCommand('cpio'), 'needs cpio (Debian package cpio)']), 'GNU cpio extracts what we wrote: files, modes, symlinks, directories', () => {
  const dir = mkdtempSync(join(tmpdir(), 'netbe-cpio-'));
  try {
    const archive = writeCpio([
      { kind: 'dir', path: '/bin' },
      { kind: 'file', path: '/bin/hello', data: new TextEncoder().encode('#!/bin/sh\necho hi\n'), mode: 0o755 },
      { kind: 'symlink', path: '/bin/hi', target: 'hello' },
      { kind: 'file', path: '/empty', data: new Uint8Array(0) },
      { kind: 'file', path: '/odd', data: new Uint8Array(5).fill(7) },
    ]);
    writeFileSync(join(dir, 'a.cpio'), archive);
    const list = execFileSync('cpio', ['-it', '--quiet', '-F', join(dir, 'a.cpio')], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(list, ['bin', 'bin/hello', 'bin/hi', 'empty', 'odd']);
    execFileSync('cpio', ['-idm', '--quiet', '-F', join(dir, 'a.cpio')], { cwd: dir });
    assert.is(readFileSync(join(dir, 'bin/hello'), 'utf8'), '#!/bin/sh\necho hi\n');
    assert.is(statSync(join(dir, 'bin/hello')).mode & 0o777, 0o755);
    assert.is(readlinkSync(join(dir, 'bin/hi')), 'hello');
    assert.equal(readFileSync(join(dir, 'odd')), Buffer.alloc(5, 7));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
