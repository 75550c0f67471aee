import type { BackendStats, Iov } from './backend';

/** Total bytes of `iov[0..iovcnt)`. */
export function iovLength(iov: Iov, iovcnt: number): number {
  let n = 0;
  for (let i = 0; i < iovcnt; i++) n += iov[i]!.length;
  return n;
}

/** Zeroed counters. */
export function newBackendStats(): BackendStats {
  return { txFrames: 0, txBytes: 0, txDrops: 0, rxFrames: 0, rxBytes: 0, rxDrops: 0 };
}
