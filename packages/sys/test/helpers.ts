import { readdirSync, readlinkSync } from 'node:fs';
import * as assert from 'uvu/assert';
import { isSysError } from '../src/index';

/** Each open fd and what it refers to (`socket:[…]`, `/memfd:name`, `anon_inode:[eventfd]`…). */
export function fdSnapshot(): Map<number, string> {
  const out = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      out.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // closed between the listing and the readlink (the listing's own fd, a runtime fd)
    }
  }
  return out;
}

/**
 * The fds open now that were not open (to the same object) at `before`: what a test leaked.
 * Pipes are left out: the addon never makes one, while the runtime and the TypeScript loader open
 * and close theirs at any time (counting every fd made such tests flaky by one).
 */
export function fdsOpenedSince(before: Map<number, string>): string[] {
  const leaked: string[] = [];
  for (const [fd, target] of fdSnapshot()) {
    if (target.startsWith('pipe:') || before.get(fd) === target) continue;
    leaked.push(`${fd} -> ${target}`);
  }
  return leaked;
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
