import type { Iov } from '@netbe/core';
import { MemoryBackend } from './memory-backend';

/** Takes every frame, counts it and keeps nothing; never has a frame to receive. */
export class SinkBackend extends MemoryBackend {
  readonly mode: 'sink' | 'source' = 'sink';

  protected pendingFrameLength(): number {
    return 0;
  }

  protected transmit(iov: Iov, iovcnt: number): boolean {
    let total = 0;
    for (let i = 0; i < iovcnt; i++) total += iov[i]!.length;
    return total - this.vnetHdrLen <= this.options.maxFrame;
  }

  protected receive(_iov: Iov, _iovcnt: number, _hdrLen: number): number {
    return 0;
  }

  protected discard(): number {
    return 0;
  }
}
