import type { NetBackend } from '@netbe/core';

/** A group applies (`true`), or does not, with the reason printed in its place. */
export type Applies = true | { notApplicable: string };

/**
 * The capability manifest: which optional groups apply to this backend. The groups not named
 * here (caps, send accounting, close) apply to every backend and always run.
 */
export interface Supports {
  /** Frames passed to `send` come out on the far side, where `collectFromBackend` sees them. */
  send: Applies;
  /**
   * Frames made to arrive by `deliverToBackend` are received through peekRecvLen/recv/rxDiscard,
   * with rxReady gated by rxEnable/rxDisable. Also enables the rx-gating group.
   */
  receive: Applies;
  /** `setCap(f, 10)` and `setCap(f, 12)` make the backend carry that header itself. */
  vnetHeader: Applies;
  /** After close, the same configuration opens again (`create` after a close works). */
  reopen: Applies;
}

/**
 * One fresh backend plus the far side of its wire, as the kit needs it. Build it in
 * {@link ConformanceOptions.create}; the kit closes `backend` and then calls {@link close}.
 */
export interface Harness {
  /** The backend under test, fresh: not attached, RX disabled, setCap not called. */
  readonly backend: NetBackend;
  /**
   * Makes `frame` (a raw Ethernet frame, no virtio-net header) arrive on the backend's receive
   * side: write it to the far end of a tap, send it from the other end of a pair, append it to
   * the input file… It may arrive later; the kit waits. Return other bytes when the backend will
   * receive something else in answer (a slirp harness sends a request and returns the reply the
   * backend will produce). The receive side must carry nothing but what this made arrive (keep
   * the link quiet: for a tap, no address and IPv6 off).
   * Needed when `supports.receive` applies.
   */
  deliverToBackend?(frame: Uint8Array): void | Uint8Array | Promise<void | Uint8Array>;
  /**
   * Frames the backend has sent since the last call, as raw Ethernet frames (no header), oldest
   * first. Other traffic may be mixed in: the kit recognises its own frames.
   * Needed when `supports.send` applies.
   */
  collectFromBackend?(): Uint8Array[] | Promise<Uint8Array[]>;
  /** Releases what the harness opened besides the backend (peer sockets, files, namespaces). */
  close?(): void | Promise<void>;
}

export interface ConformanceOptions {
  /** Names the suites: `<name> › <group>`. */
  name: string;
  /** A fresh harness; called once per test (twice or more by the reopen group). */
  create(): Harness | Promise<Harness>;
  supports: Supports;
  /** Longest Ethernet frame (header excluded) the backend and its far side carry. Default 1514. */
  maxFrameLength?: number;
  /** Limit for one test, in milliseconds. Default 10 000. */
  timeoutMs?: number;
  /**
   * How long to watch for a callback that must not come, in milliseconds (default 30), on top
   * of a few event-loop turns. Raise it for backends whose readiness crosses threads or processes.
   */
  quietMs?: number;
  /**
   * What this machine must have for the backend to run (root, /dev/net/tun, a command…). When
   * `ok` is false the applicable groups are not run: off CI each is reported skipped with
   * `reason`; under CI (CI=true) each fails with it, since CI must prove everything.
   */
  prerequisite?: { ok: boolean; reason: string };
}

/** The groups, in the order they run. */
export const GROUPS = ['caps', 'send-accounting', 'send', 'receive', 'rx-gating', 'vnet-header', 'close', 'reopen'] as const;
export type GroupName = (typeof GROUPS)[number];

/** What the kit decided about one group (also printed). */
export interface GroupStatus {
  group: GroupName;
  applies: boolean;
  /** Why the group does not apply. */
  reason?: string;
  /** Tests registered for the group. */
  tests: number;
}
