/** Why the netmap backend dropped frames or distrusted its rings (on top of BackendStats). */
export interface NetmapCounters {
  /** Received frames dropped as malformed: a slot length or buffer index out of range, an empty
   * frame, more than NETMAP_MAX_FRAGS slots, or a frame that can never complete. */
  rxMalformed: number;
  /** Received frames dropped because the iov was too small. */
  rxTooBig: number;
  /** Times head or tail held an index outside the ring (the ring was then treated as empty/full). */
  ringErrors: number;
  /** Frames not sent because the TX rings had no room even after a txsync. */
  txRingFull: number;
  /** Frames not sent because a TX slot held a buffer index outside the region. */
  txBadBuffer: number;
  /** Frames not sent because they need more than NETMAP_MAX_FRAGS slots, or are empty. */
  txTooBig: number;
  /** NIOCTXSYNC / NIOCRXSYNC calls that failed (the port went away, the kernel refused the ring). */
  syncErrors: number;
}

export function newNetmapCounters(): NetmapCounters {
  return { rxMalformed: 0, rxTooBig: 0, ringErrors: 0, txRingFull: 0, txBadBuffer: 0, txTooBig: 0, syncErrors: 0 };
}
