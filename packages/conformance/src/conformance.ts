import { suite } from 'uvu';
import { Kit } from './kit';
import type { GroupBuilder } from './group';
import { GROUPS, type ConformanceOptions, type GroupName, type GroupStatus, type Supports } from './types';
import { capsGroup } from './groups/caps';
import { sendAccountingGroup } from './groups/send-accounting';
import { sendGroup } from './groups/send';
import { receiveGroup } from './groups/receive';
import { rxGatingGroup } from './groups/rx-gating';
import { vnetHeaderGroup } from './groups/vnet-header';
import { closeGroup } from './groups/close';
import { reopenGroup } from './groups/reopen';

const BUILDERS: Record<GroupName, GroupBuilder> = {
  caps: capsGroup,
  'send-accounting': sendAccountingGroup,
  send: sendGroup,
  receive: receiveGroup,
  'rx-gating': rxGatingGroup,
  'vnet-header': vnetHeaderGroup,
  close: closeGroup,
  reopen: reopenGroup,
};

/** Why a group does not apply, or undefined when it does. */
function notApplicable(group: GroupName, supports: Supports): string | undefined {
  const reason = (key: keyof Supports): string | undefined => {
    const a = supports?.[key] as unknown;
    if (a === true) return undefined;
    const text = (a as { notApplicable?: unknown } | null | undefined)?.notApplicable;
    if (typeof text === 'string' && text.trim() !== '') return text;
    throw new TypeError(`supports.${key} must be true or { notApplicable: 'the reason' }`);
  };
  switch (group) {
    case 'send':
      return reason('send');
    case 'receive':
      return reason('receive');
    case 'rx-gating': {
      const r = reason('receive');
      return r === undefined ? undefined : `needs receive (${r})`;
    }
    case 'vnet-header':
      return reason('vnetHeader');
    case 'reopen':
      return reason('reopen');
    default:
      return undefined; // caps, send-accounting and close apply to every backend
  }
}

/** One conformance test as a plain async function (for runners other than uvu, and self-tests). */
export interface ConformanceTest {
  group: GroupName;
  name: string;
  run(): Promise<void>;
}

export interface ConformancePlan {
  /** What was decided for each group (applies or not, and why; how many tests). */
  readonly groups: readonly GroupStatus[];
  readonly tests: readonly ConformanceTest[];
}

/** The conformance tests that apply to a backend, and the groups that do not with their reasons. */
export function conformanceTests(options: ConformanceOptions): ConformancePlan {
  if (typeof options?.create !== 'function') throw new TypeError('conformance: options.create must be a function');
  const kit = new Kit(options);
  const groups: GroupStatus[] = [];
  const tests: ConformanceTest[] = [];
  for (const group of GROUPS) {
    const reason = notApplicable(group, options.supports);
    if (reason !== undefined) {
      groups.push({ group, applies: false, reason, tests: 0 });
      continue;
    }
    const built = BUILDERS[group](options.supports);
    for (const t of built) {
      const run = 'raw' in t ? () => kit.runRaw(t.raw) : () => kit.run(t.needs ?? [], (ctx) => t.fn(ctx, kit));
      tests.push({ group, name: t.name, run });
    }
    groups.push({ group, applies: true, tests: built.length });
  }
  return { groups, tests };
}

export interface Conformance extends ConformancePlan {
  /** Runs the registered uvu suites; call it last in the test file. */
  run(): void;
}

/**
 * Registers the conformance suites for one backend: one uvu suite per applicable group, named
 * `<name> › <group>`. A group the manifest excludes is not a test: it is printed as
 * `<name> › <group>: not applicable: <reason>`. A group that applies but cannot run (the harness
 * lacks the hook it needs, `create` fails) fails its tests.
 */
export function backendConformance(options: ConformanceOptions): Conformance {
  const plan = conformanceTests(options);
  const suites = new Map<GroupName, ReturnType<typeof suite>>();
  for (const status of plan.groups) {
    if (!status.applies) console.log(`${options.name} › ${status.group}: not applicable: ${status.reason}`);
  }
  const missing = options.prerequisite && !options.prerequisite.ok ? options.prerequisite.reason : undefined;
  const underCI = ['true', '1'].includes((globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.CI ?? '');
  for (const t of plan.tests) {
    let s = suites.get(t.group);
    if (!s) suites.set(t.group, (s = suite(`${options.name} › ${t.group}`)));
    if (missing === undefined) s(t.name, t.run);
    else if (underCI) {
      s(t.name, () => {
        throw new Error(`prerequisite missing under CI: ${missing}`);
      });
    } else s.skip(t.name, t.run);
  }
  if (missing !== undefined && !underCI) console.log(`skip: ${options.name}: ${missing}`);
  return {
    ...plan,
    run: () => {
      for (const s of suites.values()) s.run();
    },
  };
}
