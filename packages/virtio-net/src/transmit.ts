import type { NetBackend } from '@netbe/core';
import { DescriptorChain, type SplitQueue } from '@netbe/virtio';
import { MAX_FRAME_BYTES, MAX_FRAME_SEGMENTS } from './constants';
import { IovTrimmer } from './header-adapter';
import type { QueueStats } from './stats';

/**
 * The guest-TX data path (bhyve pci_vtnet_proctx): pops chains from the transmit queue, checks
 * them, strips the virtio-net header when the backend carries none, hands each frame to the
 * backend, and adds one used element per chain (length 0: the device wrote nothing, virtio 1.2
 * §2.7.8). The caller publishes and decides the interrupt once per batch.
 *
 * A chain that is not a sensible frame is dropped and counted, never asserted on:
 * device-writable buffers, more than 256 segments, shorter than or exactly the header, a frame
 * above 64 KiB. Malformed chains (ring-rule violations) are dropped by the queue's 'drop'
 * policy and counted here as `malformedChain`.
 */
export class NetTransmitter {
  /** Header length the driver puts in front of every frame (10 or 12). */
  guestHeaderLength = 12;
  /** Header length the backend consumes (0 or the guest's). */
  backendHeaderLength = 0;
  /** False while the link is down: frames are dropped as `linkDown`. */
  linkUp = true;
  /** True while {@link drain} runs (a reset or pause issued meanwhile waits for it). */
  busy = false;
  /** Set by the device to stop a running drain after the current chain. */
  stopRequested = false;
  /** The last exception a backend verb threw (counted as a `backend` drop), for diagnostics. */
  lastBackendError: unknown = undefined;

  // A chain may be as long as the queue (virtio 1.2 §2.7.5.2); longer than 256 is counted as
  // tooManySegments rather than malformed.
  private readonly chain: DescriptorChain;
  private readonly trimmer = new IovTrimmer(MAX_FRAME_SEGMENTS);

  constructor(
    private readonly backend: NetBackend,
    private readonly stats: QueueStats,
    queueSize: number,
  ) {
    this.chain = new DescriptorChain(Math.max(queueSize, MAX_FRAME_SEGMENTS + 1));
  }

  /**
   * Processes up to `budget` chains. Returns the number of chains consumed (each got a used
   * element, not yet published).
   */
  drain(queue: SplitQueue, budget: number): number {
    const chain = this.chain;
    const stats = this.stats;
    const drops = stats.drops;
    const backend = this.backend;
    const hdr = this.guestHeaderLength;
    const strip = this.backendHeaderLength === 0 && hdr > 0;
    let done = 0;
    this.busy = true;
    try {
      while (done < budget && !this.stopRequested) {
        const malformedBefore = queue.stats.droppedChains;
        const got = queue.pop(chain);
        const malformed = queue.stats.droppedChains - malformedBefore;
        if (malformed !== 0) {
          drops.malformedChain += malformed;
          done += malformed;
        }
        if (!got) break;
        done++;
        const head = chain.head;
        if (chain.writable !== 0) {
          drops.wrongDirection++;
        } else if (chain.readable > MAX_FRAME_SEGMENTS) {
          drops.tooManySegments++;
        } else if (chain.readableBytes < hdr) {
          drops.tooShort++;
        } else if (chain.readableBytes === hdr) {
          drops.headerOnly++;
        } else if (chain.readableBytes - hdr > MAX_FRAME_BYTES) {
          drops.tooBig++;
        } else if (!this.linkUp) {
          drops.linkDown++;
        } else {
          let sent: number;
          try {
            if (strip) {
              this.trimmer.trim(chain.iov, chain.head, 0, chain.readable, hdr);
              sent = backend.send(this.trimmer.out, this.trimmer.count);
            } else {
              sent = backend.send(chain.iov, chain.readable);
            }
          } catch (error) {
            // The contract says send never throws; if one does, the chain still goes back.
            this.lastBackendError = error;
            sent = 0;
          }
          if (sent > 0) {
            stats.frames++;
            stats.bytes += chain.readableBytes - hdr;
          } else {
            drops.backend++;
          }
        }
        queue.addUsed(head, 0);
      }
    } finally {
      this.busy = false;
    }
    return done;
  }

  /** Guest memory changed: cached views are stale. */
  forgetViews(): void {
    this.trimmer.forget();
  }
}
