import type { NetBackend } from '@netbe/core';
import type { Harness } from './types';

/** Receives every frame waiting on `backend` (peekRecvLen + recv until 0). */
export function drainFrames(backend: NetBackend): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let len = backend.peekRecvLen(); len > 0; len = backend.peekRecvLen()) {
    const buf = new Uint8Array(len);
    const n = backend.recv([buf], 1);
    if (n > 0) out.push(n === len ? buf : buf.subarray(0, n));
  }
  return out;
}

/**
 * A harness whose far side is another backend at header length 0: the other end of a pair, a
 * second tap on the same bridge, a vale port on the same switch. Delivering is `peer.send`,
 * collecting is draining `peer`; the peer is closed with the harness.
 */
export function peerHarness(backend: NetBackend, peer: NetBackend): Harness {
  return {
    backend,
    deliverToBackend: (frame) => {
      if (peer.send([frame], 1) === 0) throw new Error(`the peer (${peer.name}) dropped a frame it was asked to deliver`);
    },
    collectFromBackend: () => drainFrames(peer),
    close: () => peer.close(),
  };
}
