import {
  isValidVnetHdrLen,
  netFeatureNames,
  NetbeError,
  newBackendStats,
  type BackendListener,
  type BackendStats,
  type Iov,
  type NetBackend,
} from '@netbe/core';
import type { MemoryMode, ResolvedOptions } from './options';
import { RxSignal } from './rx-signal';

/**
 * What every memory backend shares: the closed-state and argument checks, caps and header
 * length, counters and the level-triggered RX signal. A mode implements four small hooks.
 */
export abstract class MemoryBackend implements NetBackend {
  readonly name: string;
  abstract readonly mode: MemoryMode;
  protected readonly counters: BackendStats = newBackendStats();
  protected readonly rx: RxSignal;
  protected readonly options: ResolvedOptions;
  private hdrLen = 0;
  private negotiated = 0n;
  private closedFlag = false;

  constructor(options: ResolvedOptions) {
    this.options = options;
    this.name = options.name;
    this.rx = new RxSignal(() => !this.closedFlag && this.pendingFrameLength() > 0);
  }

  /** Ethernet length (header excluded) of the next frame to receive, 0 when none. */
  protected abstract pendingFrameLength(): number;
  /** Takes one frame of `frameLen` bytes from `iov` (whose first vnetHdrLen bytes are the header); false = drop. */
  protected abstract transmit(iov: Iov, iovcnt: number): boolean;
  /** Scatters the next frame with a `hdrLen` header; bytes written, or -1 when it did not fit (frame dropped). */
  protected abstract receive(iov: Iov, iovcnt: number, hdrLen: number): number;
  /** Drops the next frame; returns its Ethernet length or 0. */
  protected abstract discard(): number;
  /** Releases what the mode holds. */
  protected onClose(): void {}

  get stats(): Readonly<BackendStats> {
    return this.counters;
  }

  get vnetHdrLen(): number {
    return this.hdrLen;
  }

  /** The features the last setCap recorded. */
  get negotiatedFeatures(): bigint {
    return this.negotiated;
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  attach(listener: BackendListener): void {
    this.rx.attach(listener);
  }

  send(iov: Iov, iovcnt: number): number {
    if (this.closedFlag) return 0;
    const count = Math.min(iovcnt, iov.length);
    let total = 0;
    for (let i = 0; i < count; i++) total += iov[i]!.length;
    if (total <= this.hdrLen || !this.transmit(iov, count)) {
      this.counters.txDrops++;
      return 0;
    }
    this.counters.txFrames++;
    this.counters.txBytes += total;
    return total;
  }

  peekRecvLen(): number {
    if (this.closedFlag) return 0;
    const len = this.pendingFrameLength();
    return len === 0 ? 0 : len + this.hdrLen;
  }

  recv(iov: Iov, iovcnt: number): number {
    if (this.closedFlag || this.pendingFrameLength() === 0) return 0;
    const n = this.receive(iov, Math.min(iovcnt, iov.length), this.hdrLen);
    if (n < 0) {
      this.counters.rxDrops++;
      return -1;
    }
    this.counters.rxFrames++;
    this.counters.rxBytes += n;
    return n;
  }

  rxDiscard(): number {
    if (this.closedFlag) return 0;
    const len = this.discard();
    if (len === 0) return 0;
    this.counters.rxDrops++;
    return len + this.hdrLen;
  }

  rxEnable(): void {
    if (!this.closedFlag) this.rx.enable();
  }

  rxDisable(): void {
    this.rx.disable();
  }

  getCap(): bigint {
    return this.closedFlag ? 0n : this.options.caps;
  }

  setCap(features: bigint, vnetHdrLen: number): void {
    if (this.closedFlag) return;
    if (!isValidVnetHdrLen(vnetHdrLen)) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: virtio-net header length ${vnetHdrLen} (expected 0, 10 or 12)`);
    }
    const extra = features & ~this.options.caps;
    if (extra !== 0n) {
      throw new NetbeError('ERR_UNSUPPORTED', `${this.name}: features outside getCap(): ${netFeatureNames(extra).join(', ') || `0x${extra.toString(16)}`}`);
    }
    this.negotiated = features;
    this.hdrLen = this.options.vnetHdr ? vnetHdrLen : 0;
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    this.closedFlag = true;
    this.rx.close();
    this.onClose();
  }
}
