import {
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_MIN_LENGTH,
  BLOCK_OPB,
  BLOCK_SHB,
  BLOCK_SPB,
  BYTE_ORDER_MAGIC,
  DIRECTION_UNKNOWN,
  EPB_FLAGS,
  IF_DESCRIPTION,
  IF_FCSLEN,
  IF_NAME,
  IF_TSOFFSET,
  IF_TSRESOL,
  MAX_BLOCK_LENGTH,
  MAX_CAPTURE_LENGTH,
  OPT_ENDOFOPT,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_MICROSECONDS_SWAPPED,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_MAGIC_NANOSECONDS_SWAPPED,
  PCAP_RECORD_HEADER_LENGTH,
  SHB_HARDWARE,
  SHB_OS,
  SHB_USERAPPL,
  type Direction,
} from './constants';
import { PcapFormatError } from './errors';
import type { CaptureRecord, InterfaceInfo, PcapFileHeader, SectionInfo } from './record';
import { MICROSECOND_RESOLUTION, NANOSECOND_RESOLUTION, resolutionFromByte, unitsToTime, type TimeOut } from './timestamp';

export interface DecoderOptions {
  /** Largest captured length accepted (default and ceiling: 262144, libpcap's MAXIMUM_SNAPLEN). */
  maxCaptureLength?: number;
  /** Largest pcapng block that is buffered to be parsed (default 1 MiB). */
  maxBlockLength?: number;
  /** Bytes requested per read when nothing larger is needed (default 64 KiB). */
  readSize?: number;
  /**
   * A record whose captured length exceeds the snapshot length of its interface is an error
   * (default true). libpcap truncates such records and Wireshark accepts them; a damaged length
   * field is the usual cause.
   */
  strictSnapLength?: boolean;
}

type State = 'magic' | 'pcap' | 'block' | 'skip' | 'done';

/** The fixed part of each interpreted block (§4.1-§4.4, Appendix A), trailer included. */
const MIN_LENGTH: Record<number, number> = { [BLOCK_SHB]: 28, [BLOCK_IDB]: 20, [BLOCK_EPB]: 32, [BLOCK_SPB]: 16, [BLOCK_OPB]: 32 };
const BLOCK_NAME: Record<number, string> = {
  [BLOCK_SHB]: 'section header block',
  [BLOCK_IDB]: 'interface description block',
  [BLOCK_EPB]: 'enhanced packet block',
  [BLOCK_SPB]: 'simple packet block',
  [BLOCK_OPB]: 'packet block',
};

const utf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * A sans-I/O decoder for pcap and pcapng: the caller asks {@link writable} for room, reads file
 * bytes into it, and {@link commit}s them; {@link next} returns the next record or null when it
 * needs more bytes (or the file is done, see {@link done}). Call {@link finish} at end of file.
 *
 * Every length read from the file is checked before it is used; the buffer only grows to hold a
 * block whose length has been checked against {@link DecoderOptions.maxBlockLength}. Blocks the
 * decoder does not interpret are skipped without buffering them. An error is sticky and names the
 * byte offset of the damage; records before it were returned normally.
 */
export class CaptureDecoder {
  /** Set once the file header (pcap) is read. */
  pcapHeader: PcapFileHeader | undefined;
  /** 'pcap' or 'pcapng' once the magic has been read. */
  format: 'pcap' | 'pcapng' | undefined;
  /** pcapng sections seen so far (the last one is current). */
  readonly sections: SectionInfo[] = [];
  /** The interfaces of the current section (pcap: the one from the file header). */
  interfaces: InterfaceInfo[] = [];
  /** Blocks skipped because their type is not interpreted (NRB, ISB, custom, unknown…). */
  skippedBlocks = 0;

  private buf: Uint8Array;
  private view: DataView;
  private start = 0;
  private end = 0;
  /** File offset of buf[0]. */
  private base = 0;
  private eof = false;
  private state: State = 'magic';
  private littleEndian = true;
  private wanted = 0;
  private skipRemaining = 0;
  private skipBlockOffset = 0;
  private failure: PcapFormatError | undefined;
  private readonly maxCaptureLength: number;
  private readonly maxBlockLength: number;
  private readonly readSize: number;
  private readonly strictSnapLength: boolean;
  private readonly time: TimeOut = { seconds: 0, nanos: 0 };
  private readonly record: CaptureRecord;

  constructor(options: DecoderOptions = {}) {
    this.maxCaptureLength = Math.min(options.maxCaptureLength ?? MAX_CAPTURE_LENGTH, MAX_CAPTURE_LENGTH);
    this.maxBlockLength = Math.max(options.maxBlockLength ?? MAX_BLOCK_LENGTH, 64);
    this.readSize = Math.max(options.readSize ?? 65536, 64);
    this.strictSnapLength = options.strictSnapLength ?? true;
    this.buf = new Uint8Array(this.readSize);
    this.view = new DataView(this.buf.buffer);
    this.record = {
      get data(): Uint8Array {
        return this.bytes.subarray(this.dataOffset, this.dataOffset + this.capturedLength);
      },
      bytes: this.buf,
      dataOffset: 0,
      capturedLength: 0,
      originalLength: 0,
      seconds: 0,
      nanos: 0,
      hasTimestamp: true,
      interface: undefined as unknown as InterfaceInfo,
      flags: 0,
      direction: DIRECTION_UNKNOWN,
      offset: 0,
      blockType: 0,
    };
  }

  /** True once the file ended cleanly after a complete record or block. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** The error that stopped decoding, if any. */
  get error(): PcapFormatError | undefined {
    return this.failure;
  }

  /** Bytes of buffer the decoder holds (only grows to a checked block length). */
  get bufferCapacity(): number {
    return this.buf.length;
  }

  /** File offset of the first byte not yet consumed. */
  get offset(): number {
    return this.base + this.start;
  }

  /**
   * Room to read file bytes into: not empty unless the caller fed more than {@link next} has
   * consumed and a whole read buffer is waiting. Invalidates the last record's `data`: the
   * buffer may be compacted or grown (only up to a checked length).
   */
  writable(): Uint8Array {
    if (this.state === 'skip' && this.start === this.end) {
      // Nothing buffered: read straight over the buffer, the bytes are discarded on commit.
      this.base += this.start;
      this.start = this.end = 0;
      return this.buf.subarray(0, Math.min(this.buf.length, Math.max(this.skipRemaining, 1)));
    }
    const need = Math.max(this.wanted, this.readSize);
    if (this.start > 0 && (this.buf.length - this.start < need || this.end === this.buf.length)) {
      this.buf.copyWithin(0, this.start, this.end);
      this.base += this.start;
      this.end -= this.start;
      this.start = 0;
    }
    if (this.end === this.buf.length && this.buf.length < need) {
      // Grow towards the checked length, at most doubling: memory stays within twice the bytes
      // the file really holds, even when a length field lies.
      const grown = new Uint8Array(Math.min(need, this.buf.length * 2));
      grown.set(this.buf.subarray(0, this.end));
      this.buf = grown;
      this.view = new DataView(grown.buffer);
    }
    return this.buf.subarray(this.end);
  }

  /** Marks `n` bytes of the last {@link writable} area as filled. */
  commit(n: number): void {
    if (n <= 0) return;
    if (this.state === 'skip' && this.start === this.end) {
      const skipped = Math.min(n, this.skipRemaining);
      this.skipRemaining -= skipped;
      this.base += skipped;
      if (n > skipped) {
        // The read ran past the skipped block: keep the rest.
        this.buf.copyWithin(0, skipped, n);
        this.start = 0;
        this.end = n - skipped;
      }
      return;
    }
    this.end += n;
  }

  /**
   * Copies as many of `bytes[from..]` in as there is room for (callers that already hold the
   * bytes) and returns the count. Interleave with {@link next}: room only grows to what a checked
   * block needs.
   */
  feed(bytes: Uint8Array, from = 0): number {
    const room = this.writable();
    const n = Math.min(room.length, bytes.length - from);
    room.set(bytes.subarray(from, from + n));
    this.commit(n);
    return n;
  }

  /** End of file: {@link next} then returns what remains, and throws if a block was cut short. */
  finish(): void {
    this.eof = true;
  }

  /**
   * The next record, or null when more bytes are needed ({@link done} false) or the file ended
   * ({@link done} true). Throws {@link PcapFormatError} for a damaged file (and again on every
   * later call).
   */
  next(): CaptureRecord | null {
    if (this.failure) throw this.failure;
    try {
      for (;;) {
        switch (this.state) {
          case 'magic':
            if (!this.magic()) return null;
            break;
          case 'pcap':
            return this.pcapRecord();
          case 'skip':
            if (!this.skip()) return null;
            break;
          case 'block': {
            const r = this.block();
            if (r !== undefined) return r;
            break;
          }
          case 'done':
            return null;
        }
      }
    } catch (e) {
      if (e instanceof PcapFormatError) this.failure = e;
      throw e;
    }
  }

  // ---- helpers --------------------------------------------------------------------------------

  /** True when `n` bytes are buffered; otherwise records the need (or fails at end of file). */
  private have(n: number, what: string, at: number): boolean {
    if (this.end - this.start >= n) return true;
    if (this.eof) {
      const got = this.end - this.start;
      throw new PcapFormatError(`truncated ${what}: needs ${n} bytes, the file has ${got} left`, at);
    }
    this.wanted = n;
    return false;
  }

  private u16(pos: number): number {
    return this.view.getUint16(pos, this.littleEndian);
  }

  private u32(pos: number): number {
    return this.view.getUint32(pos, this.littleEndian);
  }

  private fail(message: string, at: number): never {
    throw new PcapFormatError(message, at);
  }

  private magic(): boolean {
    if (this.eof && this.end === this.start) this.fail('empty file: no pcap or pcapng header', this.offset);
    if (!this.have(4, 'file header', this.offset)) return false;
    const be = this.view.getUint32(this.start, false);
    if (be === BLOCK_SHB) {
      this.format = 'pcapng';
      this.state = 'block';
      return true;
    }
    let nanosecond: boolean;
    let littleEndian: boolean;
    switch (be) {
      case PCAP_MAGIC_MICROSECONDS: nanosecond = false; littleEndian = false; break;
      case PCAP_MAGIC_NANOSECONDS: nanosecond = true; littleEndian = false; break;
      case PCAP_MAGIC_MICROSECONDS_SWAPPED: nanosecond = false; littleEndian = true; break;
      case PCAP_MAGIC_NANOSECONDS_SWAPPED: nanosecond = true; littleEndian = true; break;
      default:
        this.fail(`not a pcap or pcapng file (magic 0x${be.toString(16).padStart(8, '0')})`, this.offset);
    }
    if (!this.have(PCAP_FILE_HEADER_LENGTH, 'pcap file header', this.offset)) return false;
    this.littleEndian = littleEndian;
    const p = this.start;
    const versionMajor = this.u16(p + 4);
    const versionMinor = this.u16(p + 6);
    if (versionMajor !== 2) this.fail(`unsupported pcap version ${versionMajor}.${versionMinor}`, this.offset + 4);
    const snapLength = this.u32(p + 16);
    const field = this.u32(p + 20);
    const linkType = field & 0xffff;
    // pcap §4: bit 26 ("F") says bits 28-31 hold the FCS length in 16-bit units.
    const fcsLength = field & 0x04000000 ? (field >>> 28) * 2 : undefined;
    this.format = 'pcap';
    this.pcapHeader = { littleEndian, nanosecond, versionMajor, versionMinor, snapLength, linkType, fcsLength };
    const iface: InterfaceInfo = {
      section: 0,
      id: 0,
      linkType,
      snapLength,
      resolution: nanosecond ? NANOSECOND_RESOLUTION : MICROSECOND_RESOLUTION,
      timeOffsetSeconds: 0,
    };
    if (fcsLength !== undefined) iface.fcsLength = fcsLength;
    this.interfaces = [iface];
    this.start += PCAP_FILE_HEADER_LENGTH;
    this.state = 'pcap';
    return true;
  }

  private pcapRecord(): CaptureRecord | null {
    const at = this.offset;
    if (this.eof && this.end === this.start) {
      this.state = 'done';
      return null;
    }
    if (!this.have(PCAP_RECORD_HEADER_LENGTH, 'packet record header', at)) return null;
    const p = this.start;
    const seconds = this.u32(p);
    const fraction = this.u32(p + 4);
    const capturedLength = this.u32(p + 8);
    const originalLength = this.u32(p + 12);
    const iface = this.interfaces[0]!;
    this.checkCaptureLength(capturedLength, iface, at + 8);
    if (!this.have(PCAP_RECORD_HEADER_LENGTH + capturedLength, 'packet record', at)) return null;
    const r = this.record;
    const nanos = this.pcapHeader!.nanosecond ? fraction : fraction * 1000;
    // A fraction of a second >= 1 s is not valid; carry it rather than report nanos >= 1e9.
    const carry = Math.floor(nanos / 1e9);
    r.seconds = seconds + carry;
    r.nanos = nanos - carry * 1e9;
    r.hasTimestamp = true;
    r.originalLength = originalLength;
    r.bytes = this.buf;
    r.dataOffset = p + PCAP_RECORD_HEADER_LENGTH;
    r.capturedLength = capturedLength;
    r.interface = iface;
    r.flags = 0;
    r.direction = DIRECTION_UNKNOWN;
    r.offset = at;
    r.blockType = 0;
    this.start += PCAP_RECORD_HEADER_LENGTH + capturedLength;
    return r;
  }

  private checkCaptureLength(capturedLength: number, iface: InterfaceInfo, at: number): void {
    if (capturedLength > this.maxCaptureLength) {
      this.fail(`captured length ${capturedLength} exceeds the limit of ${this.maxCaptureLength}`, at);
    }
    if (this.strictSnapLength && iface.snapLength !== 0 && capturedLength > iface.snapLength) {
      this.fail(`captured length ${capturedLength} exceeds the snapshot length ${iface.snapLength}`, at);
    }
  }

  private skip(): boolean {
    const buffered = Math.min(this.skipRemaining, this.end - this.start);
    this.start += buffered;
    this.skipRemaining -= buffered;
    if (this.skipRemaining > 0) {
      if (this.eof) this.fail('truncated block: its length runs past the end of the file', this.skipBlockOffset);
      return false;
    }
    this.state = 'block';
    return true;
  }

  /** One pcapng block: returns a record, null (need more bytes / done), or undefined (continue). */
  private block(): CaptureRecord | null | undefined {
    const at = this.offset;
    if (this.eof && this.end === this.start) {
      this.state = 'done';
      return null;
    }
    if (!this.have(8, 'block header', at)) return null;
    const rawType = this.view.getUint32(this.start, this.littleEndian);
    if (rawType === BLOCK_SHB) {
      // §4.1: the byte-order magic decides the order of this section, length included.
      if (!this.have(12, 'section header block', at)) return null;
      const bom = this.view.getUint32(this.start + 8, true);
      if (bom === BYTE_ORDER_MAGIC) this.littleEndian = true;
      else if (bom === 0x4d3c2b1a) this.littleEndian = false;
      else this.fail(`bad byte-order magic 0x${bom.toString(16)} in section header block`, at + 8);
    } else if (this.sections.length === 0) {
      this.fail('pcapng file does not start with a section header block', at);
    }
    const type = this.u32(this.start);
    const length = this.u32(this.start + 4);
    if (length < BLOCK_MIN_LENGTH) this.fail(`block length ${length} is less than ${BLOCK_MIN_LENGTH}`, at + 4);
    if (length % 4 !== 0) this.fail(`block length ${length} is not a multiple of 4`, at + 4);
    const parsed = type === BLOCK_SHB || type === BLOCK_IDB || type === BLOCK_EPB || type === BLOCK_SPB || type === BLOCK_OPB;
    if (!parsed) {
      // §3.1: unknown and uninterpreted blocks are skipped by their length, unbuffered. The
      // trailing length is not checked (it is not read): the next block's header is.
      this.skippedBlocks++;
      this.skipRemaining = length;
      this.skipBlockOffset = at;
      this.state = 'skip';
      return undefined;
    }
    if (length > this.maxBlockLength) this.fail(`block length ${length} exceeds the limit of ${this.maxBlockLength}`, at + 4);
    const minimum = MIN_LENGTH[type]!;
    if (length < minimum) this.fail(`${BLOCK_NAME[type]} length ${length} is less than ${minimum}`, at + 4);
    if (!this.have(length, 'block', at)) return null;
    const p = this.start;
    const trailer = this.u32(p + length - 4);
    if (trailer !== length) this.fail(`trailing block length ${trailer} differs from the leading ${length}`, at + length - 4);
    let result: CaptureRecord | undefined;
    switch (type) {
      case BLOCK_SHB: this.sectionHeader(p, length, at); break;
      case BLOCK_IDB: this.interfaceDescription(p, length, at); break;
      case BLOCK_EPB: result = this.enhancedPacket(p, length, at); break;
      case BLOCK_SPB: result = this.simplePacket(p, length, at); break;
      case BLOCK_OPB: result = this.obsoletePacket(p, length, at); break;
    }
    this.start += length;
    return result;
  }

  /**
   * Walks the options in buf[from, to) (§3.5), calling `visit(code, valueStart, valueLength)`.
   * An option that runs past the block is an error.
   */
  private options(from: number, to: number, blockAt: number, visit: (code: number, pos: number, len: number) => void): void {
    let pos = from;
    while (pos + 4 <= to) {
      const code = this.u16(pos);
      const len = this.u16(pos + 2);
      if (code === OPT_ENDOFOPT) return;
      const padded = (len + 3) & ~3;
      if (pos + 4 + padded > to) {
        this.fail(`option ${code} of length ${len} runs past the end of its block`, blockAt + (pos - this.start));
      }
      visit(code, pos + 4, len);
      pos += 4 + padded;
    }
  }

  private text(pos: number, len: number): string {
    return utf8.decode(this.buf.subarray(pos, pos + len));
  }

  private sectionHeader(p: number, length: number, at: number): void {
    const versionMajor = this.u16(p + 12);
    const versionMinor = this.u16(p + 14);
    if (versionMajor !== 1) this.fail(`unsupported pcapng version ${versionMajor}.${versionMinor}`, at + 12);
    const section: SectionInfo = { index: this.sections.length, offset: at, littleEndian: this.littleEndian, versionMajor, versionMinor };
    this.options(p + 24, p + length - 4, at, (code, pos, len) => {
      if (code === SHB_HARDWARE) section.hardware = this.text(pos, len);
      else if (code === SHB_OS) section.os = this.text(pos, len);
      else if (code === SHB_USERAPPL) section.application = this.text(pos, len);
    });
    this.sections.push(section);
    this.interfaces = [];
  }

  private interfaceDescription(p: number, length: number, at: number): void {
    const iface: InterfaceInfo = {
      section: this.sections.length - 1,
      id: this.interfaces.length,
      linkType: this.u16(p + 8),
      snapLength: this.u32(p + 12),
      resolution: MICROSECOND_RESOLUTION,
      timeOffsetSeconds: 0,
    };
    this.options(p + 16, p + length - 4, at, (code, pos, len) => {
      if (code === IF_NAME) iface.name = this.text(pos, len);
      else if (code === IF_DESCRIPTION) iface.description = this.text(pos, len);
      else if (code === IF_TSRESOL && len >= 1) {
        const r = resolutionFromByte(this.buf[pos]!);
        // 2^-64 or 10^-20 and finer overflow a 64-bit count's meaning; refuse rather than guess.
        if ((r.binary && r.exponent > 63) || (!r.binary && r.exponent > 19)) {
          this.fail(`if_tsresol 0x${this.buf[pos]!.toString(16)} is out of range`, at + (pos - p));
        }
        iface.resolution = r;
      } else if (code === IF_TSOFFSET && len >= 8) {
        iface.timeOffsetSeconds = Number(this.view.getBigInt64(pos, this.littleEndian));
      } else if (code === IF_FCSLEN && len >= 1) iface.fcsLength = this.buf[pos]!;
    });
    this.interfaces.push(iface);
  }

  private interfaceFor(id: number, at: number): InterfaceInfo {
    const iface = this.interfaces[id];
    if (!iface) this.fail(`interface id ${id} is not less than the ${this.interfaces.length} interfaces of this section`, at);
    return iface;
  }

  private fillRecord(
    blockType: number,
    at: number,
    iface: InterfaceInfo,
    dataPos: number,
    capturedLength: number,
    originalLength: number,
    high: number,
    low: number,
    hasTimestamp: boolean,
  ): CaptureRecord {
    const r = this.record;
    if (hasTimestamp) {
      unitsToTime(high, low, iface.resolution, this.time);
      r.seconds = this.time.seconds + iface.timeOffsetSeconds;
      r.nanos = this.time.nanos;
    } else {
      r.seconds = 0;
      r.nanos = 0;
    }
    r.hasTimestamp = hasTimestamp;
    r.bytes = this.buf;
    r.dataOffset = dataPos;
    r.capturedLength = capturedLength;
    r.originalLength = originalLength;
    r.interface = iface;
    r.flags = 0;
    r.direction = DIRECTION_UNKNOWN;
    r.offset = at;
    r.blockType = blockType;
    return r;
  }

  /** Reads epb_flags / pack_flags (code 2) after the padded packet data (§3.5; no closure per packet). */
  private packetFlags(r: CaptureRecord, optionsFrom: number, blockEnd: number, at: number): void {
    let pos = optionsFrom;
    while (pos + 4 <= blockEnd) {
      const code = this.u16(pos);
      const len = this.u16(pos + 2);
      if (code === OPT_ENDOFOPT) return;
      const padded = (len + 3) & ~3;
      if (pos + 4 + padded > blockEnd) {
        this.fail(`option ${code} of length ${len} runs past the end of its block`, at + (pos - this.start));
      }
      if (code === EPB_FLAGS && len >= 4) {
        r.flags = this.u32(pos + 4);
        r.direction = (r.flags & 3) as Direction;
      }
      pos += 4 + padded;
    }
  }

  private enhancedPacket(p: number, length: number, at: number): CaptureRecord {
    const iface = this.interfaceFor(this.u32(p + 8), at + 8);
    const capturedLength = this.u32(p + 20);
    this.checkCaptureLength(capturedLength, iface, at + 20);
    const room = length - 32;
    if (capturedLength > room) this.fail(`captured length ${capturedLength} exceeds the block's ${room} bytes of packet data`, at + 20);
    const r = this.fillRecord(BLOCK_EPB, at, iface, p + 28, capturedLength, this.u32(p + 24), this.u32(p + 12), this.u32(p + 16), true);
    this.packetFlags(r, p + 28 + ((capturedLength + 3) & ~3), p + length - 4, at);
    return r;
  }

  private simplePacket(p: number, length: number, at: number): CaptureRecord {
    // §4.4: an SPB belongs to interface 0; its captured length is min(original, snaplen).
    const iface = this.interfaceFor(0, at);
    const originalLength = this.u32(p + 8);
    let capturedLength = originalLength;
    if (iface.snapLength !== 0 && capturedLength > iface.snapLength) capturedLength = iface.snapLength;
    if (capturedLength > this.maxCaptureLength) this.fail(`captured length ${capturedLength} exceeds the limit of ${this.maxCaptureLength}`, at + 8);
    const room = length - 16;
    if (capturedLength > room) this.fail(`packet length ${capturedLength} exceeds the block's ${room} bytes of packet data`, at + 8);
    return this.fillRecord(BLOCK_SPB, at, iface, p + 12, capturedLength, originalLength, 0, 0, false);
  }

  private obsoletePacket(p: number, length: number, at: number): CaptureRecord {
    const iface = this.interfaceFor(this.u16(p + 8), at + 8);
    const capturedLength = this.u32(p + 20);
    this.checkCaptureLength(capturedLength, iface, at + 20);
    const room = length - 32;
    if (capturedLength > room) this.fail(`captured length ${capturedLength} exceeds the block's ${room} bytes of packet data`, at + 20);
    const r = this.fillRecord(BLOCK_OPB, at, iface, p + 28, capturedLength, this.u32(p + 24), this.u32(p + 12), this.u32(p + 16), true);
    this.packetFlags(r, p + 28 + ((capturedLength + 3) & ~3), p + length - 4, at);
    return r;
  }
}
