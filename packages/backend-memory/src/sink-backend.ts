import type { Iov } from '@netbe/core';
import { MemoryBackend } from './memory-backend';

/** Takes every frame, counts it and keeps nothing; never has a frame to receive. */
export class SinkBackend extends MemoryBackend {
  readonly mode: 'sink' | 'source' = 'sink';

  protected pendingFrameLength(): number {
    return 0;
  }

  protected transmit(_iov: Iov, _iovcnt: number, length: number): boolean {
    return length - this.vnetHdrLen <= this.options.maxFrame;
  }

  protected receive(_iov: Iov, _iovcnt: number): number {
    return 0;
  }

  protected dropFrame(): number {
    return 0;
  }
}
