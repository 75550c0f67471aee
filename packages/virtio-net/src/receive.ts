import type { NetBackend } from '@netbe/core';
import { DescriptorChain, type SplitQueue } from '@netbe/virtio';
import { MAX_FRAME_SEGMENTS } from './constants';
import { IovTrimmer, putU16At, zeroPrefix } from './header-adapter';
import type { QueueStats } from './stats';

const EMPTY = new Uint8Array(0);

/** Why {@link NetReceiver.run} stopped. */
export type ReceiveOutcome =
  /** The backend has no more frames. */
  | 'idle'
  /** The guest has no buffers: notifications are re-enabled, the caller disables backend RX. */
  | 'stalled'
  /** The frame budget is spent; frames may remain. */
  | 'budget'
  /** {@link NetReceiver.stopRequested} was set (a reset or pause is waiting). */
  | 'stopped'
  /** The queue is broken or not usable. */
  | 'unusable';

/**
 * The guest-RX data path (bhyve pci_vtnet_rx): for each frame the backend holds, collects the
 * guest buffers it needs (one chain, or with MRG_RXBUF as many chains as the frame needs, at most
 * 256 segments), zeroes the header the backend does not provide, lets the backend scatter the
 * frame straight into guest memory, writes num_buffers, and adds the used elements. The caller
 * publishes and decides the interrupt once per batch.
 *
 * Guest buffers that cannot hold a frame are handled without asserting:
 * - a chain with device-readable buffers, or too short for the header: returned with length 0
 *   (`wrongDirection`, `tooShort`);
 * - a frame larger than what the guest can give it (one chain without MRG_RXBUF, 256 segments
 *   with it): the frame is dropped (`tooBig`) and the buffers are kept for the next frame;
 * - no buffers at all: the chains taken for this frame are given back, notifications are
 *   re-enabled (with the re-check that closes the lost-wakeup race) and the frame stays in the
 *   backend (backpressure).
 */
export class NetReceiver {
  guestHeaderLength = 12;
  backendHeaderLength = 0;
  mergeable = true;
  /** Set by the device to stop a running pass after the current frame. */
  stopRequested = false;
  /** The last exception a backend verb threw (counted as a `backend` drop), for diagnostics. */
  lastBackendError: unknown = undefined;

  /** The chain the general pop fills (one at a time: its views are copied out at once). */
  private readonly chain = new DescriptorChain(MAX_FRAME_SEGMENTS);
  private readonly iov: Uint8Array[] = new Array<Uint8Array>(MAX_FRAME_SEGMENTS).fill(EMPTY);
  /**
   * The head and writable bytes of each chain taken for the frame: at most one per segment, plus
   * a first chain trimmed to no segment (it held only the header) and the chain that overflows.
   */
  private readonly heads = new Uint16Array(MAX_FRAME_SEGMENTS + 2);
  private readonly chainBytes = new Uint32Array(MAX_FRAME_SEGMENTS + 2);
  /** The first chain's writable segments, untrimmed: where the device writes the header. */
  private readonly header: Uint8Array[] = new Array<Uint8Array>(MAX_FRAME_SEGMENTS).fill(EMPTY);
  private readonly trimmer = new IovTrimmer(MAX_FRAME_SEGMENTS);

  constructor(
    private readonly backend: NetBackend,
    private readonly stats: QueueStats,
  ) {}

  /** Delivers frames until the backend is empty, the guest runs out of buffers, or `budget` frames. */
  run(queue: SplitQueue, budget: number): ReceiveOutcome {
    const backend = this.backend;
    const stats = this.stats;
    const drops = stats.drops;
    const hdr = this.guestHeaderLength;
    const prepend = hdr - this.backendHeaderLength;
    const merge = this.mergeable;
    const iov = this.iov;
    const heads = this.heads;
    const chainBytes = this.chainBytes;
    const header = this.header;
    const chain = this.chain;
    let frames = 0;
    while (frames < budget) {
      if (this.stopRequested) return 'stopped';
      if (!queue.usable) return 'unusable';
      let plen: number;
      try {
        plen = backend.peekRecvLen();
      } catch (error) {
        this.lastBackendError = error;
        return 'idle';
      }
      if (plen <= 0) return 'idle';
      const need = plen + prepend;
      // Collect buffers for `need` bytes.
      let nChains = 0;
      // iov entries for the backend, and the guest buffers (descriptors) behind them: adjacent
      // buffers of a run share an entry; the 256-segment limit counts buffers.
      let segs = 0;
      let descs = 0;
      let bytes = 0;
      let headerSegs = 0;
      // False once a chain popped after the ones we hold was consumed (a bad chain): the held
      // ones can no longer be given back with retChains, only returned empty.
      let returnable = true;
      let fits = true;
      while (bytes < need) {
        // After the first chain of a mergeable frame (popped below, as any chain: it holds the
        // header), runs of one-buffer writable chains each holding a whole header, what Linux
        // posts with MRG_RXBUF, come without per-chain bookkeeping. Anything else is left to the
        // general pop below.
        if (nChains !== 0 && merge) {
          const taken = queue.popWritableRun(iov, segs, heads, chainBytes, nChains, MAX_FRAME_SEGMENTS - descs, hdr, need - bytes);
          if (taken !== 0) {
            segs += queue.runSegments;
            descs += taken;
            nChains += taken;
            bytes += queue.runBytes;
            continue;
          }
        }
        const malformedBefore = queue.stats.droppedChains;
        const got = queue.pop(chain);
        const malformed = queue.stats.droppedChains - malformedBefore;
        if (malformed !== 0) {
          drops.malformedChain += malformed;
          if (nChains > 0) returnable = false;
        }
        if (!got) {
          if (!queue.usable) {
            this.giveBack(queue, nChains, returnable);
            return 'unusable';
          }
          // virtio 1.2 §2.7.10: ask for a kick, then look again (a chain may have raced in).
          if (queue.enableNotifications()) {
            queue.disableNotifications();
            continue;
          }
          this.giveBack(queue, nChains, returnable);
          return 'stalled';
        }
        if (chain.readable !== 0) {
          drops.wrongDirection++;
          queue.addUsed(chain.head, 0);
          if (nChains > 0) returnable = false;
          continue;
        }
        // Every buffer must hold a whole header (virtio 1.2 §5.1.6.3.1 with MRG_RXBUF; without it
        // the one chain must hold header and frame, checked below).
        if (chain.writableBytes < hdr) {
          drops.tooShort++;
          queue.addUsed(chain.head, 0);
          if (nChains > 0) returnable = false;
          continue;
        }
        heads[nChains] = chain.head;
        chainBytes[nChains] = chain.writableBytes;
        if (descs + chain.writable > MAX_FRAME_SEGMENTS) {
          // This chain would take the frame past 256 segments.
          nChains++;
          fits = false;
          break;
        }
        if (nChains === 0) {
          for (let i = 0; i < chain.writable; i++) header[i] = chain.iov[i]!;
          headerSegs = chain.writable;
          if (prepend > 0) {
            // The backend scatters after the header the device writes: skip it in the first chain
            // (it holds the whole header, checked above).
            this.trimmer.trim(header, chain.head, 0, headerSegs, prepend, true);
            segs = this.copyTrimmed(0);
          } else {
            for (let i = 0; i < headerSegs; i++) iov[segs++] = header[i]!;
          }
          descs = segs;
        } else {
          for (let i = 0; i < chain.writable; i++) iov[segs++] = chain.iov[i]!;
          descs += chain.writable;
        }
        bytes += chain.writableBytes;
        nChains++;
        if (!merge) {
          if (bytes < need) fits = false;
          break;
        }
      }
      if (!fits) {
        // The frame cannot be delivered into what the guest offers: drop it, keep the buffers.
        try {
          backend.rxDiscard();
        } catch (error) {
          this.lastBackendError = error;
        }
        drops.tooBig++;
        this.giveBack(queue, nChains, returnable);
        frames++;
        continue;
      }
      // Header: zero what the backend will not write, then let it scatter the rest.
      if (prepend > 0) zeroPrefix(header, 0, headerSegs, prepend);
      let got: number;
      try {
        got = backend.recv(iov, segs);
      } catch (error) {
        this.lastBackendError = error;
        got = -1;
      }
      if (got !== plen) {
        // The backend broke its peek promise (or lost the frame): nothing valid was written.
        drops.backend++;
        this.giveBack(queue, nChains, returnable);
        frames++;
        continue;
      }
      // num_buffers (virtio 1.2 §5.1.6.4): the chains used; 1 without MRG_RXBUF.
      if (hdr === 12) putU16At(header, 0, headerSegs, 10, nChains);
      if (nChains === 1) {
        queue.addUsed(heads[0]!, need);
      } else {
        // Each chain's used length: what the frame filled of it. Chains were taken while the
        // frame needed more, so every one but the last is full.
        chainBytes[nChains - 1] = need - (bytes - chainBytes[nChains - 1]!);
        queue.addUsedRun(heads, chainBytes, nChains);
      }
      stats.frames++;
      stats.bytes += plen - this.backendHeaderLength;
      frames++;
    }
    return 'budget';
  }

  /** Copies the trimmer's output to `iov[at..)`; returns the index after it. */
  private copyTrimmed(at: number): number {
    const trimmer = this.trimmer;
    const iov = this.iov;
    for (let i = 0; i < trimmer.count; i++) iov[at++] = trimmer.out[i]!;
    return at;
  }

  /** Guest memory changed: cached views are stale. */
  forgetViews(): void {
    this.trimmer.forget();
    this.iov.fill(EMPTY);
    this.header.fill(EMPTY);
  }

  /**
   * Undoes the collection of `n` chains: back to the avail ring (retChains) when nothing was
   * consumed after them; otherwise (a bad chain sat behind them and was already used) they go to
   * the used ring with length 0 and count as `malformedChain` collateral.
   */
  private giveBack(queue: SplitQueue, n: number, returnable: boolean): void {
    if (n === 0) return;
    if (returnable) {
      queue.retChains(n);
      return;
    }
    for (let c = 0; c < n; c++) {
      queue.addUsed(this.heads[c]!, 0);
      this.stats.drops.malformedChain++;
    }
  }
}
