import { ByteBuffer, CaptureEncoder, type EncoderOptions, type PacketMeta } from './encoder';

/**
 * Where file bytes go: `write` appends all of `bytes` and resolves when it no longer needs them.
 * Writes never overlap (the writer waits for one before the next).
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void> | void;
  close?(): Promise<void> | void;
}

/** A sink that keeps everything in memory (tests, browsers). */
export class MemorySink implements ByteSink {
  private readonly chunks: Uint8Array[] = [];
  length = 0;
  closed = false;

  write(bytes: Uint8Array): void {
    this.chunks.push(bytes.slice());
    this.length += bytes.length;
  }

  close(): void {
    this.closed = true;
  }

  /** Everything written so far, in one array. */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

export interface WriterOptions extends EncoderOptions {
  /** Start a flush when this many bytes are pending (default 256 KiB). */
  flushBytes?: number;
  /**
   * Records that would make the pending bytes exceed this while a write is in flight are
   * dropped and counted (default 8 MiB): a slow disk never makes memory grow without bound.
   */
  maxPendingBytes?: number;
}

/**
 * Writes a capture file to a {@link ByteSink}: records are encoded synchronously into a pending
 * buffer (no I/O per packet); {@link flush} hands the buffer to the sink while a second buffer
 * takes new records. The caller decides when to flush (a timer, close); the writer flushes by
 * itself when {@link WriterOptions.flushBytes} are pending.
 */
export class CaptureWriter {
  readonly encoder: CaptureEncoder;
  /** Records written (accepted into the pending buffer). */
  records = 0;
  /** Records dropped because too much was pending or the sink failed. */
  dropped = 0;
  /** Bytes handed to the sink. */
  bytesWritten = 0;

  private pending = new ByteBuffer(1 << 16);
  private spare = new ByteBuffer(1 << 16);
  private inFlight: Promise<void> | undefined;
  private failure: unknown;
  private closed = false;
  private readonly flushBytes: number;
  private readonly maxPendingBytes: number;
  private readonly single: Uint8Array[] = [new Uint8Array(0)];

  constructor(
    private readonly sink: ByteSink,
    options: WriterOptions,
  ) {
    this.encoder = new CaptureEncoder(options);
    this.flushBytes = options.flushBytes ?? 1 << 18;
    this.maxPendingBytes = Math.max(options.maxPendingBytes ?? 1 << 23, this.encoder.recordLength(this.encoder.snapLength));
    this.encoder.writeHeader(this.pending);
  }

  /** The sink error that stopped writing, if any. */
  get error(): unknown {
    return this.failure;
  }

  /** Bytes encoded but not yet handed to the sink. */
  get pendingBytes(): number {
    return this.pending.length;
  }

  /** Appends one frame. Returns false (and counts a drop) when it cannot be kept. */
  write(data: Uint8Array, meta: PacketMeta): boolean {
    this.single[0] = data;
    return this.writeIov(this.single, 1, 0, meta);
  }

  /**
   * Appends one frame gathered from the first `length` bytes of an iov (default all), skipping
   * `skip` leading bytes (a vnet header).
   */
  writeIov(iov: readonly Uint8Array[], iovcnt: number, skip: number, meta: PacketMeta, length = Infinity): boolean {
    if (this.closed || this.failure !== undefined) {
      this.dropped++;
      return false;
    }
    let total = 0;
    for (let i = 0; i < iovcnt; i++) total += iov[i]!.length;
    if (this.pending.length + this.encoder.recordLength(Math.max(0, Math.min(total, length) - skip)) > this.maxPendingBytes) {
      this.dropped++;
      return false;
    }
    this.encoder.writePacket(this.pending, iov, iovcnt, skip, meta, length);
    this.records++;
    if (this.pending.length >= this.flushBytes && !this.inFlight) void this.flush().catch(() => {});
    return true;
  }

  /** Hands everything pending to the sink; resolves when the sink has it. Rejects on sink error. */
  async flush(): Promise<void> {
    while (this.inFlight) await this.inFlight;
    if (this.failure !== undefined) throw this.failure;
    if (this.pending.length === 0) return;
    const buffer = this.pending;
    this.pending = this.spare;
    this.spare = buffer;
    const write = (async () => {
      try {
        await this.sink.write(buffer.contents());
        this.bytesWritten += buffer.length;
      } catch (e) {
        this.failure = e;
      } finally {
        buffer.reset();
        this.inFlight = undefined;
      }
    })();
    this.inFlight = write;
    await write;
    if (this.failure !== undefined) throw this.failure;
  }

  /** Flushes and closes the sink. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) {
      while (this.inFlight) await this.inFlight;
      return;
    }
    this.closed = true;
    try {
      await this.flush();
    } finally {
      await this.sink.close?.();
    }
  }
}
