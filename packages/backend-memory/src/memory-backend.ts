import { BackendBase } from '@netbe/core';
import type { MemoryMode, ResolvedOptions } from './options';

/**
 * What every memory mode shares on top of {@link BackendBase}: the options, caps and header
 * length rule. A mode implements `pendingFrameLength`, `transmit`, `receive` and `dropFrame`.
 */
export abstract class MemoryBackend extends BackendBase {
  abstract readonly mode: MemoryMode;
  protected readonly options: ResolvedOptions;

  constructor(options: ResolvedOptions) {
    super(options.name);
    this.options = options;
  }

  /** Ethernet length (header excluded) of the next frame to receive, 0 when none. */
  protected abstract pendingFrameLength(): number;
  /** Drops the next frame; returns its Ethernet length or 0. */
  protected abstract dropFrame(): number;

  protected pendingLength(): number {
    const len = this.pendingFrameLength();
    return len === 0 ? 0 : len + this.vnetHdrLen;
  }

  protected override rxPending(): boolean {
    return this.pendingFrameLength() > 0;
  }

  protected discard(): number {
    const len = this.dropFrame();
    return len === 0 ? 0 : len + this.vnetHdrLen;
  }

  protected override caps(): bigint {
    return this.options.caps;
  }

  protected applyCap(_features: bigint, vnetHdrLen: number): number {
    return this.options.vnetHdr ? vnetHdrLen : 0;
  }
}
