import { BackendBase, NetbeError, scatterIov, type Iov } from '@netbe/core';
import { DIRECTION_OUTBOUND, MAX_CAPTURE_LENGTH, type ByteSink, type ByteSource, type CaptureFormat, type CaptureReader, type DecoderOptions } from '@netbe/pcap';
import { systemClock, type Clock } from './clock';
import { FrameRecorder } from './frame-recorder';
import { InputReplay, type Pace, type ReplaySummary } from './input-replay';

export interface PcapInput {
  /** Opens the file for a pass (called once per pass, or from the second pass when `first` is given). */
  open: () => Promise<ByteSource> | ByteSource;
  /** The first pass, already opened and its header checked. */
  first?: CaptureReader;
  /** `max` (default): as fast as the guest takes frames; `original`: at the file's timestamps. */
  pace?: Pace;
  /** Passes over the file (default 1); 0 loops forever. */
  loop?: number;
  decoder?: DecoderOptions;
}

export interface PcapOutput {
  sink: ByteSink;
  format: CaptureFormat;
  /** Nanosecond timestamps (pcap: the nanosecond magic; pcapng: if_tsresol 9). */
  nanosecond?: boolean;
  /** Flush at least this often (default 1000 ms). */
  flushIntervalMs?: number;
  /** pcapng if_name. */
  interfaceName?: string;
}

export interface PcapBackendOptions {
  name: string;
  input?: PcapInput;
  output?: PcapOutput;
  clock?: Clock;
  /** Told when the input ended or failed (a damaged file: a PcapFormatError naming the offset). */
  onInputEnd?: (error: Error | undefined, summary: ReplaySummary) => void;
}

/**
 * `pcap,in=FILE,out=FILE`: the frames of `in` arrive at the guest (as fast as it posts
 * buffers, or at the file's pace), the frames the guest sends are appended to `out`. Carries no
 * offloads and no virtio-net header (the device adapts). Without `in` nothing arrives; without
 * `out` sent frames are counted as drops.
 */
export class PcapBackend extends BackendBase {
  /** Settles when the input is over: resolves after the last pass, rejects on a damaged file. */
  readonly inputDone: Promise<ReplaySummary>;
  private readonly replay: InputReplay | undefined;
  private readonly recorder: FrameRecorder | undefined;
  private inputError: Error | undefined;

  constructor(options: PcapBackendOptions) {
    super(options.name);
    const clock = options.clock ?? systemClock;
    let settle!: { resolve: (s: ReplaySummary) => void; reject: (e: Error) => void };
    this.inputDone = new Promise<ReplaySummary>((resolve, reject) => (settle = { resolve, reject }));
    this.inputDone.catch(() => {}); // observed through onInputEnd or by whoever awaits it
    if (options.output) {
      const o = options.output;
      this.recorder = new FrameRecorder(o.sink, {
        format: o.format,
        nanosecond: o.nanosecond ?? false,
        flushIntervalMs: o.flushIntervalMs,
        interfaces: [{ name: o.interfaceName ?? this.name }],
        application: 'netbe',
        clock,
      });
    }
    if (options.input) {
      const input = options.input;
      this.replay = new InputReplay({
        open: input.open,
        first: input.first,
        pace: input.pace ?? 'max',
        loop: input.loop ?? 1,
        clock,
        decoder: input.decoder,
        onReady: () => this.rx.notify(),
        onEnd: (error, summary) => {
          if (this.closed) return;
          this.inputError = error;
          if (error) settle.reject(error);
          else settle.resolve(summary);
          options.onInputEnd?.(error, summary);
          // With nowhere to send either, the link has nothing more to carry.
          if (!this.recorder) this.rx.link(false);
        },
      });
      this.replay.start();
    } else {
      settle.resolve({ frames: 0, passes: 0, skipped: 0 });
    }
    this.closedReject = (e) => settle.reject(e);
  }

  private readonly closedReject: (e: Error) => void;

  /** The error that stopped the input, if any. */
  get error(): Error | undefined {
    return this.inputError;
  }

  /** Frames the output could not keep (disk behind or failed), also counted in txDrops. */
  get outputDrops(): number {
    return this.recorder?.writer.dropped ?? 0;
  }

  /** Larger than any record a capture file holds (and than any frame a guest sends): a drop. */
  protected transmit(iov: Iov, iovcnt: number, length: number): boolean {
    return length <= MAX_CAPTURE_LENGTH && this.recorder !== undefined && this.recorder.record(iov, iovcnt, 0, DIRECTION_OUTBOUND);
  }

  protected pendingLength(): number {
    return this.replay?.headLength() ?? 0;
  }

  protected receive(iov: Iov, iovcnt: number): number {
    const r = this.replay?.head();
    if (r === undefined) return 0;
    // Straight from the file's read buffer into the guest's buffers.
    const n = scatterIov(r.bytes, r.dataOffset, r.dataOffset + r.capturedLength, iov, iovcnt);
    this.replay!.consume();
    return n;
  }

  protected discard(): number {
    const len = this.pendingLength();
    if (len > 0) this.replay!.consume();
    return len;
  }

  /** No offloads, and the header length stays 0: the device strips and prepends headers (bhyve does the same). */
  protected applyCap(): number {
    return 0;
  }

  /** Hands what was recorded so far to the output file. */
  async flush(): Promise<void> {
    await this.recorder?.flush();
  }

  protected override async release(): Promise<void> {
    if (this.replay && !this.replay.ended) this.closedReject(new NetbeError('ERR_CLOSED', `${this.name}: closed while the input was being replayed`));
    await Promise.all([this.replay?.close(), this.recorder?.close()]);
  }
}
