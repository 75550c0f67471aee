import { scatterIov, VNET_HDR_LEN, type Iov } from '@netbe/core';
import { SinkBackend } from './sink-backend';
import type { ResolvedOptions } from './options';

/** EtherType for local experiments (IEEE 802 "Local Experimental Ethertype 1"). */
export const SOURCE_ETHERTYPE = 0x88b5;
/** Source MAC of generated frames: locally administered, unicast. */
export const SOURCE_MAC = Uint8Array.of(0x02, 0x6e, 0x65, 0x74, 0x62, 0x65);

/**
 * Generates frames as fast as the receiver takes them: broadcast Ethernet frames of a fixed
 * size, EtherType 0x88b5, whose first four payload bytes are a big-endian sequence number
 * (0, 1, 2…). Sent frames are counted and dropped, as by the sink. One template is
 * preallocated; receiving a frame allocates nothing.
 */
export class SourceBackend extends SinkBackend {
  override readonly mode: 'sink' | 'source' = 'source';
  /** Zeroed 12-byte header area, then the frame. */
  private readonly template: Uint8Array;
  /** The template as received with a header of 0, 10 and 12 bytes (views made once). */
  private readonly views: Uint8Array[] = [];
  private readonly frameSize: number;
  private remaining: number;
  private sequence = 0;
  private produced = 0;

  constructor(options: ResolvedOptions, size: number, count: number) {
    super(options);
    this.frameSize = size;
    this.remaining = count === 0 ? Infinity : count;
    const t = (this.template = new Uint8Array(VNET_HDR_LEN + size));
    const f = VNET_HDR_LEN;
    t.fill(0xff, f, f + 6);
    t.set(SOURCE_MAC, f + 6);
    t[f + 12] = SOURCE_ETHERTYPE >> 8;
    t[f + 13] = SOURCE_ETHERTYPE & 0xff;
    for (let h = 0; h <= VNET_HDR_LEN; h++) this.views.push(t.subarray(VNET_HDR_LEN - h));
  }

  /** Frames generated so far (received or discarded). */
  get generated(): number {
    return this.produced;
  }

  protected override pendingFrameLength(): number {
    return this.remaining > 0 ? this.frameSize : 0;
  }

  protected override receive(iov: Iov, iovcnt: number): number {
    if (this.remaining <= 0) return 0;
    const t = this.template;
    const at = VNET_HDR_LEN + 14;
    const seq = this.sequence;
    // Frames shorter than 18 bytes carry as much of the sequence number as fits.
    if (t.length > at) t[at] = seq >>> 24;
    if (t.length > at + 1) t[at + 1] = (seq >>> 16) & 0xff;
    if (t.length > at + 2) t[at + 2] = (seq >>> 8) & 0xff;
    if (t.length > at + 3) t[at + 3] = seq & 0xff;
    this.next();
    const view = this.views[this.vnetHdrLen]!;
    return scatterIov(view, 0, view.length, iov, iovcnt);
  }

  protected override dropFrame(): number {
    if (this.remaining <= 0) return 0;
    this.next();
    return this.frameSize;
  }

  private next(): void {
    this.sequence = (this.sequence + 1) >>> 0;
    this.produced++;
    this.remaining--;
  }
}
