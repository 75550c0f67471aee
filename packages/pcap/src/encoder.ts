import {
  BLOCK_EPB,
  BLOCK_IDB,
  BLOCK_SHB,
  BYTE_ORDER_MAGIC,
  DIRECTION_UNKNOWN,
  EPB_FLAGS,
  IF_NAME,
  IF_TSRESOL,
  LINKTYPE_ETHERNET,
  MAX_CAPTURE_LENGTH,
  OPT_ENDOFOPT,
  PCAP_FILE_HEADER_LENGTH,
  PCAP_MAGIC_MICROSECONDS,
  PCAP_MAGIC_NANOSECONDS,
  PCAP_RECORD_HEADER_LENGTH,
  PCAP_VERSION_MAJOR,
  PCAP_VERSION_MINOR,
  SHB_USERAPPL,
  type Direction,
} from './constants';
import { timeToUnits } from './timestamp';

export type CaptureFormat = 'pcap' | 'pcapng';

export interface EncoderInterface {
  linkType?: number;
  /** pcapng if_name. */
  name?: string;
}

export interface EncoderOptions {
  format: CaptureFormat;
  /** pcap: the nanosecond magic; pcapng: if_tsresol 9. Default false (microseconds). */
  nanosecond?: boolean;
  /** Default true. Big-endian output exists for interop tests and big-endian readers. */
  littleEndian?: boolean;
  /** Snapshot length written in the header and applied to records (default 262144). */
  snapLength?: number;
  /** pcap: one interface (its link type); pcapng: one IDB each. Default: one Ethernet interface. */
  interfaces?: readonly EncoderInterface[];
  /** pcapng shb_userappl. */
  application?: string;
}

/** The timestamp and metadata of a record being written. */
export interface PacketMeta {
  seconds: number;
  nanos: number;
  /** pcapng interface index (default 0; pcap has one). */
  interfaceId?: number;
  /** pcapng epb_flags direction bits (pcap has no place for it). */
  direction?: Direction;
  /** Original length when larger than the bytes given (default: the bytes given). */
  originalLength?: number;
}

const encoder = new TextEncoder();

/** Bytes being produced: grows on demand; {@link reset} keeps the storage. */
export class ByteBuffer {
  bytes: Uint8Array;
  view: DataView;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer);
  }

  /** Makes room for `n` more bytes and returns the offset where they go. */
  reserve(n: number): number {
    const at = this.length;
    if (at + n > this.bytes.length) {
      const grown = new Uint8Array(Math.max(this.bytes.length * 2, at + n));
      grown.set(this.bytes.subarray(0, at));
      this.bytes = grown;
      this.view = new DataView(grown.buffer);
    }
    this.length = at + n;
    return at;
  }

  reset(): void {
    this.length = 0;
  }

  /** The bytes produced so far (a view). */
  contents(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/**
 * A sans-I/O encoder: appends a file header and packet records to a {@link ByteBuffer}. Gathers
 * packet bytes straight from an iov (views into guest memory), so a frame is copied once.
 */
export class CaptureEncoder {
  readonly format: CaptureFormat;
  readonly littleEndian: boolean;
  readonly nanosecond: boolean;
  readonly snapLength: number;
  readonly interfaces: readonly EncoderInterface[];
  private readonly unitsPerSecond: number;
  private readonly units = { high: 0, low: 0 };
  private readonly application: string | undefined;

  constructor(options: EncoderOptions) {
    this.format = options.format;
    this.littleEndian = options.littleEndian ?? true;
    this.nanosecond = options.nanosecond ?? false;
    this.snapLength = Math.min(options.snapLength ?? MAX_CAPTURE_LENGTH, MAX_CAPTURE_LENGTH);
    if (!(this.snapLength > 0)) throw new RangeError(`snapLength must be positive, got ${options.snapLength}`);
    this.interfaces = options.interfaces && options.interfaces.length > 0 ? options.interfaces : [{ linkType: LINKTYPE_ETHERNET }];
    if (this.format === 'pcap' && this.interfaces.length !== 1) throw new RangeError('a pcap file has exactly one interface');
    this.unitsPerSecond = this.nanosecond ? 1e9 : 1e6;
    this.application = options.application;
  }

  /** Appends the pcap file header, or an SHB and one IDB per interface. */
  writeHeader(out: ByteBuffer): void {
    if (this.format === 'pcap') {
      const at = out.reserve(PCAP_FILE_HEADER_LENGTH);
      const v = out.view;
      const le = this.littleEndian;
      v.setUint32(at, this.nanosecond ? PCAP_MAGIC_NANOSECONDS : PCAP_MAGIC_MICROSECONDS, le);
      v.setUint16(at + 4, PCAP_VERSION_MAJOR, le);
      v.setUint16(at + 6, PCAP_VERSION_MINOR, le);
      v.setUint32(at + 8, 0, le);
      v.setUint32(at + 12, 0, le);
      v.setUint32(at + 16, this.snapLength, le);
      v.setUint32(at + 20, (this.interfaces[0]!.linkType ?? LINKTYPE_ETHERNET) & 0xffff, le);
      return;
    }
    const shbOptions: Array<[number, Uint8Array]> = [];
    if (this.application !== undefined) shbOptions.push([SHB_USERAPPL, encoder.encode(this.application)]);
    this.block(out, BLOCK_SHB, 16, shbOptions, (v, at, le) => {
      v.setUint32(at, BYTE_ORDER_MAGIC, le);
      v.setUint16(at + 4, 1, le);
      v.setUint16(at + 6, 0, le);
      // Section length -1: not specified (§4.1), so appending stays valid.
      v.setUint32(at + 8, 0xffffffff, le);
      v.setUint32(at + 12, 0xffffffff, le);
    });
    for (const iface of this.interfaces) {
      const options: Array<[number, Uint8Array]> = [];
      if (iface.name !== undefined) options.push([IF_NAME, encoder.encode(iface.name)]);
      if (this.nanosecond) options.push([IF_TSRESOL, Uint8Array.of(9)]);
      this.block(out, BLOCK_IDB, 8, options, (v, at, le) => {
        v.setUint16(at, (iface.linkType ?? LINKTYPE_ETHERNET) & 0xffff, le);
        v.setUint16(at + 2, 0, le);
        v.setUint32(at + 4, this.snapLength, le);
      });
    }
  }

  /** Writes a non-packet block: fixed body of `fixed` bytes, then options (§3.5). */
  private block(
    out: ByteBuffer,
    type: number,
    fixed: number,
    options: Array<[number, Uint8Array]>,
    body: (v: DataView, at: number, le: boolean) => void,
  ): void {
    let optionBytes = 0;
    for (const [, value] of options) optionBytes += 4 + ((value.length + 3) & ~3);
    if (options.length > 0) optionBytes += 4;
    const length = 12 + fixed + optionBytes;
    const at = out.reserve(length);
    const v = out.view;
    const le = this.littleEndian;
    out.bytes.fill(0, at, at + length);
    v.setUint32(at, type, le);
    v.setUint32(at + 4, length, le);
    body(v, at + 8, le);
    let pos = at + 8 + fixed;
    for (const [code, value] of options) {
      v.setUint16(pos, code, le);
      v.setUint16(pos + 2, value.length, le);
      out.bytes.set(value, pos + 4);
      pos += 4 + ((value.length + 3) & ~3);
    }
    if (options.length > 0) {
      v.setUint16(pos, OPT_ENDOFOPT, le);
      v.setUint16(pos + 2, 0, le);
    }
    v.setUint32(at + length - 4, length, le);
  }

  /** Bytes a record of `capturedLength` bytes takes (for callers that bound their buffers). */
  recordLength(capturedLength: number): number {
    const n = Math.min(capturedLength, this.snapLength);
    return this.format === 'pcap' ? PCAP_RECORD_HEADER_LENGTH + n : 32 + ((n + 3) & ~3) + 12;
  }

  /**
   * Appends one record gathered from the first `length` bytes of `iov[0..iovcnt)` (default: all
   * of it) after skipping the first `skip` bytes (a virtio-net header). Bytes beyond the snapshot
   * length are not written; the original length records them. Returns the captured length.
   */
  writePacket(out: ByteBuffer, iov: readonly Uint8Array[], iovcnt: number, skip: number, meta: PacketMeta, length = Infinity): number {
    let total = 0;
    for (let i = 0; i < iovcnt; i++) total += iov[i]!.length;
    const frameLength = Math.max(0, Math.min(total, length) - skip);
    const captured = Math.min(frameLength, this.snapLength);
    const originalLength = Math.max(meta.originalLength ?? frameLength, captured);
    const le = this.littleEndian;
    let dataAt: number;
    if (this.format === 'pcap') {
      const at = out.reserve(PCAP_RECORD_HEADER_LENGTH + captured);
      const v = out.view;
      v.setUint32(at, meta.seconds >>> 0, le);
      v.setUint32(at + 4, this.nanosecond ? meta.nanos : Math.floor(meta.nanos / 1000), le);
      v.setUint32(at + 8, captured, le);
      v.setUint32(at + 12, originalLength, le);
      dataAt = at + PCAP_RECORD_HEADER_LENGTH;
    } else {
      // §4.3 EPB: 28 bytes of header, padded data, epb_flags option + end of options, trailer.
      const padded = (captured + 3) & ~3;
      const direction = meta.direction ?? DIRECTION_UNKNOWN;
      const optionBytes = direction !== DIRECTION_UNKNOWN ? 12 : 0;
      const length = 32 + padded + optionBytes;
      const at = out.reserve(length);
      const v = out.view;
      timeToUnits(meta.seconds, meta.nanos, this.unitsPerSecond, this.units);
      v.setUint32(at, BLOCK_EPB, le);
      v.setUint32(at + 4, length, le);
      v.setUint32(at + 8, meta.interfaceId ?? 0, le);
      v.setUint32(at + 12, this.units.high, le);
      v.setUint32(at + 16, this.units.low, le);
      v.setUint32(at + 20, captured, le);
      v.setUint32(at + 24, originalLength, le);
      dataAt = at + 28;
      out.bytes.fill(0, dataAt + captured, dataAt + padded);
      let pos = dataAt + padded;
      if (optionBytes) {
        v.setUint16(pos, EPB_FLAGS, le);
        v.setUint16(pos + 2, 4, le);
        v.setUint32(pos + 4, direction, le);
        v.setUint32(pos + 8, 0, le); // opt_endofopt
        pos += 12;
      }
      v.setUint32(pos, length, le);
    }
    // Gather: skip the header bytes, copy up to `captured` bytes.
    let toSkip = skip;
    let left = captured;
    let dst = dataAt;
    for (let i = 0; i < iovcnt && left > 0; i++) {
      const seg = iov[i]!;
      if (toSkip >= seg.length) {
        toSkip -= seg.length;
        continue;
      }
      const n = Math.min(seg.length - toSkip, left);
      out.bytes.set(toSkip === 0 && n === seg.length ? seg : seg.subarray(toSkip, toSkip + n), dst);
      dst += n;
      left -= n;
      toSkip = 0;
    }
    return captured;
  }
}
