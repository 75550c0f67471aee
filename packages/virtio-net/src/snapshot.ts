import { VirtioError, type SplitQueueState } from '@netbe/virtio';
import type { NetConfigState } from './config-space';

/**
 * The device state as plain JSON (feature masks as hex strings, since JSON has no bigint).
 * Version 1. Ring contents are in guest memory and not part of it.
 */
export interface NetDeviceSnapshot {
  version: 1;
  /** What the device offered (hex): a restore checks the new device offers the negotiated set. */
  offeredFeatures: string;
  negotiatedFeatures: string;
  featuresNegotiated: boolean;
  /** DRIVER_OK had been seen. */
  started: boolean;
  adminLinkUp: boolean;
  /** The MAC the device was created with (a reset restores it). */
  configuredMac: number[];
  config: NetConfigState;
  queues: SplitQueueState[];
  queueEnabled: boolean[];
}

/** A checked snapshot with the feature masks as bigints. */
export interface ParsedSnapshot {
  negotiated: bigint;
  featuresNegotiated: boolean;
  started: boolean;
  adminLinkUp: boolean;
  config: NetConfigState;
  queues: SplitQueueState[];
  queueEnabled: boolean[];
}

const fail = (message: string): never => {
  throw new VirtioError('ERR_STATE', `snapshot: ${message}`);
};

/** Checks the shape of a snapshot (it may come from a file); throws VirtioError `ERR_STATE`. */
export function parseSnapshot(value: unknown, queueCount: number): ParsedSnapshot {
  if (typeof value !== 'object' || value === null) return fail('not an object');
  const s = value as Record<string, unknown>;
  if (s.version !== 1) fail(`unknown version ${String(s.version)}`);
  for (const k of ['offeredFeatures', 'negotiatedFeatures'] as const) {
    if (typeof s[k] !== 'string' || !/^[0-9a-f]{1,16}$/.test(s[k] as string)) fail(`${k} is not a hex feature mask`);
  }
  for (const k of ['featuresNegotiated', 'started', 'adminLinkUp'] as const) if (typeof s[k] !== 'boolean') fail(`${k} is not a boolean`);
  if (typeof s.config !== 'object' || s.config === null) fail('config is missing');
  if (!Array.isArray(s.queues) || s.queues.length !== queueCount) fail(`queues must list ${queueCount} queue states`);
  if (!Array.isArray(s.queueEnabled) || s.queueEnabled.length !== queueCount || !s.queueEnabled.every((b) => typeof b === 'boolean')) fail(`queueEnabled must list ${queueCount} booleans`);
  return {
    negotiated: BigInt(`0x${s.negotiatedFeatures as string}`),
    featuresNegotiated: s.featuresNegotiated as boolean,
    started: s.started as boolean,
    adminLinkUp: s.adminLinkUp as boolean,
    config: s.config as NetConfigState,
    queues: s.queues as SplitQueueState[],
    queueEnabled: s.queueEnabled as boolean[],
  };
}
