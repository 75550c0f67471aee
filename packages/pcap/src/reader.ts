import { CaptureDecoder, type DecoderOptions } from './decoder';
import type { CaptureRecord, InterfaceInfo, PcapFileHeader, SectionInfo } from './record';

/**
 * Where file bytes come from: a sequential reader. `read` fills the front of `into` with up to
 * `into.length` bytes and returns how many; 0 means end of file. It must not keep `into`.
 */
export interface ByteSource {
  read(into: Uint8Array): Promise<number> | number;
  close?(): Promise<void> | void;
}

/** A source over bytes already in memory (tests, browsers); `chunk` bounds each read. */
export function bytesSource(bytes: Uint8Array, chunk = 1 << 16): ByteSource {
  let pos = 0;
  return {
    read(into: Uint8Array): number {
      const n = Math.min(into.length, chunk, bytes.length - pos);
      into.set(bytes.subarray(pos, pos + n));
      pos += n;
      return n;
    },
  };
}

/**
 * Reads a pcap or pcapng file incrementally from a {@link ByteSource}: never more than one read
 * buffer (64 KiB by default, or one checked block) in memory.
 *
 *   const reader = new CaptureReader(source);
 *   for (let r; (r = await reader.read()); ) use(r.data, r.seconds, r.nanos);
 *
 * {@link nextBuffered} is the allocation-free fast path: a record already in the buffer, or
 * null when {@link fill} must run first (or the file is done).
 */
export class CaptureReader {
  readonly decoder: CaptureDecoder;
  private ended = false;

  constructor(
    readonly source: ByteSource,
    options: DecoderOptions = {},
  ) {
    this.decoder = new CaptureDecoder(options);
  }

  get format(): 'pcap' | 'pcapng' | undefined {
    return this.decoder.format;
  }

  get pcapHeader(): PcapFileHeader | undefined {
    return this.decoder.pcapHeader;
  }

  get sections(): readonly SectionInfo[] {
    return this.decoder.sections;
  }

  get interfaces(): readonly InterfaceInfo[] {
    return this.decoder.interfaces;
  }

  /** True once the whole file has been read. */
  get done(): boolean {
    return this.decoder.done;
  }

  /** File offset of the first byte not yet consumed. */
  get offset(): number {
    return this.decoder.offset;
  }

  /** A record already buffered, or null (then call {@link fill}, unless {@link done}). */
  nextBuffered(): CaptureRecord | null {
    if (this.pending) {
      const r = this.pending;
      this.pending = undefined;
      return r;
    }
    return this.decoder.next();
  }

  /** Reads once from the source into the decoder. Returns false at end of file. */
  async fill(): Promise<boolean> {
    if (this.ended) return false;
    const room = this.decoder.writable();
    // Only empty when records were fed but not taken: reading 0 bytes would look like the end.
    if (room.length === 0) throw new Error('CaptureReader.fill: take the buffered records (nextBuffered) before filling');
    const n = await this.source.read(room);
    if (n > 0) {
      this.decoder.commit(Math.min(n, room.length));
      return true;
    }
    this.ended = true;
    this.decoder.finish();
    return false;
  }

  /**
   * Reads until the file header (pcap) or the first section header (pcapng) is decoded, so
   * {@link format}, {@link pcapHeader} and {@link sections} are known. A bad header throws
   * PcapFormatError. A record decoded on the way is kept for {@link read}.
   */
  async readHeader(): Promise<void> {
    const known = (): boolean => this.decoder.format === 'pcap' || this.decoder.sections.length > 0;
    while (!known() && !this.pending) {
      const r = this.decoder.next();
      if (r) this.pending = r;
      else if (this.decoder.done) return;
      else await this.fill();
    }
  }

  private pending: CaptureRecord | undefined;

  /** The next record, or null at end of file. Throws PcapFormatError for a damaged file. */
  async read(): Promise<CaptureRecord | null> {
    if (this.pending) {
      const r = this.pending;
      this.pending = undefined;
      return r;
    }
    for (;;) {
      const r = this.decoder.next();
      if (r) return r;
      if (this.decoder.done) return null;
      await this.fill();
    }
  }

  async close(): Promise<void> {
    await this.source.close?.();
  }
}

/** A record copied out of the decoder's buffer (for tests and small files). */
export interface CapturedPacket {
  data: Uint8Array;
  originalLength: number;
  seconds: number;
  nanos: number;
  hasTimestamp: boolean;
  interfaceId: number;
  section: number;
  linkType: number;
  flags: number;
  direction: number;
  offset: number;
  blockType: number;
}

/** Copies a record so it outlives the next decoder call. */
export function copyRecord(r: CaptureRecord): CapturedPacket {
  return {
    data: r.data.slice(),
    originalLength: r.originalLength,
    seconds: r.seconds,
    nanos: r.nanos,
    hasTimestamp: r.hasTimestamp,
    interfaceId: r.interface.id,
    section: r.interface.section,
    linkType: r.interface.linkType,
    flags: r.flags,
    direction: r.direction,
    offset: r.offset,
    blockType: r.blockType,
  };
}

/** Decodes a whole in-memory file (copies each record). Throws PcapFormatError when damaged. */
export function decodeAll(bytes: Uint8Array, options: DecoderOptions = {}): CapturedPacket[] {
  const d = new CaptureDecoder(options);
  const out: CapturedPacket[] = [];
  let fed = 0;
  for (;;) {
    const r = d.next();
    if (r) out.push(copyRecord(r));
    else if (d.done) return out;
    else if (fed < bytes.length) fed += d.feed(bytes, fed);
    else d.finish();
  }
}
