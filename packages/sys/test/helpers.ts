import { readdirSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { isSysError } from '../src/index';

/** The fds open in this process right now (from /proc/self/fd). */
export function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Runs `fn`, expecting a SysError with errno name `code`. */
export function throwsErrno(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isSysError(e, code), `expected ${code}, got ${String(e)} (code ${(e as { code?: string }).code})`);
    assert.type((e as { errno: unknown }).errno, 'number');
    return;
  }
  assert.unreachable(`expected ${code}`);
}

/** Runs `fn`, expecting a TypeError. */
export function throwsType(fn: () => unknown, pattern?: RegExp): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, TypeError);
    if (pattern) assert.match((e as Error).message, pattern);
    return;
  }
  assert.unreachable('expected a TypeError');
}
