import type { Hook, Kit, TestContext } from './kit';
import type { Supports } from './types';

/** One test of a group: run on a fresh harness (`fn`), or in full control of creation (`raw`). */
export type KitTest =
  | { name: string; needs?: readonly Hook[]; fn: (t: TestContext, kit: Kit) => Promise<void> | void }
  | { name: string; raw: (kit: Kit) => Promise<void> };

/** A group's tests; those that need an optional capability are left out when it does not apply. */
export type GroupBuilder = (supports: Supports) => KitTest[];

/** True when the manifest says the capability applies. */
export const applies = (a: Supports[keyof Supports]): boolean => a === true;
