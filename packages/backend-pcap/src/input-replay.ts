import { NetbeError } from '@netbe/core';
import { CaptureReader, LINKTYPE_ETHERNET, type ByteSource, type CaptureRecord, type DecoderOptions } from '@netbe/pcap';
import type { Clock } from './clock';

export type Pace = 'max' | 'original';

/** How a replay ended: every pass read, or an error (a damaged file names its byte offset). */
export interface ReplaySummary {
  /** Frames handed out (received or discarded). */
  frames: number;
  /** Passes completed. */
  passes: number;
  /** Records skipped because they are not Ethernet frames (other link types, runts). */
  skipped: number;
}

export interface ReplayOptions {
  /** Opens the input for one more pass (called for the 2nd, 3rd… pass; the first may be given). */
  open: () => Promise<ByteSource> | ByteSource;
  /** A reader already opened on the first pass (the factory checks the header before creating). */
  first?: CaptureReader;
  /** `max`: as fast as frames are taken; `original`: at the file's timestamps, relative to the first. */
  pace: Pace;
  /** Passes over the file; 0 repeats forever. */
  loop: number;
  clock: Clock;
  /** A frame became ready. */
  onReady: () => void;
  /** The input ended (error undefined) or failed. Called once. */
  onEnd: (error: Error | undefined, summary: ReplaySummary) => void;
  decoder?: DecoderOptions;
}

/** The shortest frame handed to the guest: an Ethernet header. */
const ETHERNET_HEADER = 14;

/**
 * Reads the input file pass after pass and holds the next frame until it is due. The frame is
 * a view into the reader's buffer: no copy before the one into the guest's buffers.
 */
export class InputReplay {
  readonly summary: ReplaySummary = { frames: 0, passes: 0, skipped: 0 };
  private reader: CaptureReader | undefined;
  private current: CaptureRecord | null = null;
  private ready = false;
  private busy = false;
  private finished = false;
  private cancelPace: (() => void) | undefined;
  private anchorClock = 0;
  private anchorTs = 0;
  private lastDue = 0;
  private reanchor = true;
  private heldThisPass = 0;

  constructor(private readonly options: ReplayOptions) {
    this.reader = options.first;
  }

  /** Starts reading (the first frame is decoded on a later turn at the latest). */
  start(): void {
    if (this.reader) this.advance();
    else this.openPass();
  }

  /** The record whose frame is due now, or undefined (its bytes stay put until {@link consume}). */
  head(): CaptureRecord | undefined {
    return this.ready ? this.current! : undefined;
  }

  /** Length of the frame that is due now, or 0. */
  headLength(): number {
    return this.ready ? this.current!.capturedLength : 0;
  }

  /** The head frame was delivered or dropped: move on. */
  consume(): void {
    if (!this.ready) return;
    this.summary.frames++;
    this.ready = false;
    this.current = null;
    this.advance();
  }

  get ended(): boolean {
    return this.finished;
  }

  /** Stops reading and closes the input. No callback after this. */
  async close(): Promise<void> {
    this.finished = true;
    this.cancelPace?.();
    this.cancelPace = undefined;
    this.ready = false;
    this.current = null;
    const reader = this.reader;
    this.reader = undefined;
    await reader?.close();
  }

  private end(error: Error | undefined): void {
    if (this.finished) return;
    this.finished = true;
    this.current = null;
    this.ready = false;
    const reader = this.reader;
    this.reader = undefined;
    void Promise.resolve(reader?.close()).catch(() => {});
    this.options.onEnd(error, this.summary);
  }

  /** Decodes the next Ethernet frame from what is buffered, or starts a read. */
  private advance(): void {
    while (!this.finished && !this.busy && this.reader) {
      let r: CaptureRecord | null;
      try {
        r = this.reader.nextBuffered();
      } catch (e) {
        this.end(e as Error);
        return;
      }
      if (r) {
        if (r.interface.linkType !== LINKTYPE_ETHERNET || r.capturedLength < ETHERNET_HEADER) {
          this.summary.skipped++;
          continue;
        }
        this.hold(r);
        return;
      }
      if (this.reader.done) {
        this.passEnded();
        return;
      }
      this.fill(this.reader);
      return;
    }
  }

  private fill(reader: CaptureReader): void {
    this.busy = true;
    reader.fill().then(
      () => {
        this.busy = false;
        if (this.reader === reader) this.advance();
      },
      (e: unknown) => {
        this.busy = false;
        if (this.reader === reader) this.end(new NetbeError('ERR_IO', `reading the input failed: ${(e as Error).message}`, { cause: e }));
      },
    );
  }

  private hold(r: CaptureRecord): void {
    this.current = r;
    this.heldThisPass++;
    if (this.options.pace === 'max') {
      this.release();
      return;
    }
    const now = this.options.clock.now();
    const ts = r.hasTimestamp ? r.seconds * 1000 + r.nanos / 1e6 : undefined;
    if (this.reanchor) {
      this.reanchor = false;
      this.anchorClock = this.summary.passes === 0 ? now : this.lastDue;
      this.anchorTs = ts ?? 0;
    }
    // A record without a timestamp (SPB) goes with the one before it; time never runs backwards.
    const due = ts === undefined ? this.lastDue : Math.max(this.lastDue, this.anchorClock + (ts - this.anchorTs));
    this.lastDue = due;
    if (due <= now) {
      this.release();
      return;
    }
    this.cancelPace = this.options.clock.setTimeout(() => {
      this.cancelPace = undefined;
      if (!this.finished) this.release();
    }, due - now);
  }

  private release(): void {
    this.ready = true;
    this.options.onReady();
  }

  private passEnded(): void {
    this.summary.passes++;
    const reader = this.reader;
    if (this.options.loop !== 0 && this.summary.passes >= this.options.loop) {
      this.end(undefined);
      return;
    }
    if (this.heldThisPass === 0) {
      // A pass without a single Ethernet frame would repeat forever with nothing to show.
      this.end(undefined);
      return;
    }
    this.reader = undefined;
    void Promise.resolve(reader?.close()).catch(() => {});
    this.reanchor = true;
    this.openPass();
  }

  private openPass(): void {
    this.busy = true;
    Promise.resolve()
      .then(() => this.options.open())
      .then(
        (source) => {
          this.busy = false;
          if (this.finished) {
            void Promise.resolve(source.close?.()).catch(() => {});
            return;
          }
          this.reader = new CaptureReader(source, this.options.decoder);
          this.heldThisPass = 0;
          this.advance();
        },
        (e: unknown) => {
          this.busy = false;
          this.end(new NetbeError('ERR_IO', `opening the input failed: ${(e as Error).message}`, { cause: e }));
        },
      );
  }
}
