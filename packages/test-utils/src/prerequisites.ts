import { accessSync, constants, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** True when tests run under CI (`CI=true`), where nothing may be skipped. */
export const underCI = process.env.CI === 'true' || process.env.CI === '1';

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

export function hasDevice(path: string): boolean {
  try {
    accessSync(path, constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** True when `cmd` is on PATH. */
export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function fileExists(path: string): boolean {
  return existsSync(path);
}

/** A prerequisite: `ok` says whether the test can run here; `reason` says why not. */
export interface Prerequisite {
  ok: boolean;
  reason: string;
}

/** Combines checks; the first one missing gives the reason. */
export function prerequisite(...checks: Array<[boolean, string]>): Prerequisite {
  for (const [ok, reason] of checks) if (!ok) return { ok: false, reason };
  return { ok: true, reason: '' };
}

type TestFn = (name: string, fn: () => void | Promise<void>) => void;
interface UvuLikeTest extends TestFn {
  skip: TestFn;
}

/**
 * Registers `fn` as a test when the prerequisite holds. Otherwise: under CI the test is
 * registered and fails with the reason (CI may skip nothing); elsewhere it is skipped and the
 * reason is printed once, by name.
 */
export function testWhen(test: UvuLikeTest, pre: Prerequisite, name: string, fn: () => void | Promise<void>): void {
  if (pre.ok) {
    test(name, fn);
  } else if (underCI) {
    test(name, () => {
      throw new Error(`prerequisite missing under CI: ${pre.reason}`);
    });
  } else {
    console.log(`skip: ${name}: ${pre.reason}`);
    test.skip(name, fn);
  }
}
