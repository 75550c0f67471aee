/**
 * Why the device dropped a frame or a chain. Every drop is counted under exactly one reason.
 *
 * - `malformedChain`: the descriptor chain broke a ring rule (bad index, loop, address outside
 *   guest memory, bad indirect table, readable after writable) — the chain is returned with
 *   length 0.
 * - `wrongDirection`: a TX chain with device-writable buffers, or an RX chain with
 *   device-readable ones.
 * - `tooManySegments`: a TX chain, or the RX buffers one frame would need, above 256 segments.
 * - `headerOnly`: a TX chain no longer than the virtio-net header (no frame in it).
 * - `tooShort`: a TX chain shorter than the header, or an RX chain too short to hold the header.
 * - `tooBig`: a TX frame above 64 KiB, or an RX frame larger than the buffers the guest can give
 *   it (one chain without MRG_RXBUF, 256 segments with it); the frame is dropped, the buffers kept.
 * - `backend`: the backend refused the frame (send returned 0) or recv disagreed with peek.
 * - `linkDown`: a TX frame while the link is down.
 */
export type DropReason = 'malformedChain' | 'wrongDirection' | 'tooManySegments' | 'headerOnly' | 'tooShort' | 'tooBig' | 'backend' | 'linkDown';

export const DROP_REASONS: readonly DropReason[] = ['malformedChain', 'wrongDirection', 'tooManySegments', 'headerOnly', 'tooShort', 'tooBig', 'backend', 'linkDown'];

export type DropCounters = Record<DropReason, number>;

/** Counters of one queue (monotonic; plain numbers so a bump costs nothing). */
export interface QueueStats {
  /** Frames delivered (RX: to the guest; TX: accepted by the backend). */
  frames: number;
  /** Bytes of those frames, without the virtio-net header. */
  bytes: number;
  /** Dropped frames or chains, by reason. */
  drops: DropCounters;
  /** Kicks (driver notifications) received. */
  kicks: number;
  /** Interrupts signalled to the driver. */
  interrupts: number;
  /** Processing passes that published used entries (one used-index write each). */
  batches: number;
  /** RX only: times the device disabled backend RX because the guest had no buffers. */
  rxStalls: number;
}

export interface NetDeviceStats {
  rx: QueueStats;
  tx: QueueStats;
  /** Config-change notifications sent. */
  configChanges: number;
}

export function newDropCounters(): DropCounters {
  return { malformedChain: 0, wrongDirection: 0, tooManySegments: 0, headerOnly: 0, tooShort: 0, tooBig: 0, backend: 0, linkDown: 0 };
}

export function newQueueStats(): QueueStats {
  return { frames: 0, bytes: 0, drops: newDropCounters(), kicks: 0, interrupts: 0, batches: 0, rxStalls: 0 };
}

/** Sum of the drops of every reason. */
export function totalDrops(stats: QueueStats): number {
  let n = 0;
  for (const r of DROP_REASONS) n += stats.drops[r];
  return n;
}
