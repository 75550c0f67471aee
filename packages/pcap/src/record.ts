import type { Direction } from './constants';
import type { TimestampResolution } from './timestamp';

/** What the file header of a classic pcap file says (draft-ietf-opsawg-pcap §4). */
export interface PcapFileHeader {
  littleEndian: boolean;
  /** True for the nanosecond magic 0xa1b23c4d. */
  nanosecond: boolean;
  versionMajor: number;
  versionMinor: number;
  snapLength: number;
  /** The LinkType field's lower 16 bits. */
  linkType: number;
  /** FCS length in bytes when the F bit says it is known (bits 28-31, in 16-bit units), else undefined. */
  fcsLength: number | undefined;
}

/** One pcapng section (an SHB and what follows it until the next SHB). */
export interface SectionInfo {
  index: number;
  /** File offset of the SHB. */
  offset: number;
  littleEndian: boolean;
  versionMajor: number;
  versionMinor: number;
  hardware?: string;
  os?: string;
  application?: string;
}

/** One capture interface: the pcap file header's link, or a pcapng IDB. */
export interface InterfaceInfo {
  /** The section it belongs to (always 0 for pcap). */
  section: number;
  /** Its index in that section: the interface id packet blocks refer to. */
  id: number;
  linkType: number;
  /** 0 means no limit. */
  snapLength: number;
  resolution: TimestampResolution;
  /** if_tsoffset: seconds added to every timestamp. */
  timeOffsetSeconds: number;
  name?: string;
  description?: string;
  fcsLength?: number;
}

/**
 * One captured packet. The decoder reuses this object, and its bytes live in the decoder's
 * buffer: both are valid until the next call that feeds or advances the decoder; copy what you
 * keep. `bytes[dataOffset, dataOffset + capturedLength)` is the packet without allocating;
 * `data` is the same bytes as a view (allocated on each access).
 */
export interface CaptureRecord {
  readonly data: Uint8Array;
  /** The decoder's buffer, holding the packet at {@link dataOffset}. */
  bytes: Uint8Array;
  dataOffset: number;
  capturedLength: number;
  originalLength: number;
  /** Seconds since 1970 and nanoseconds within the second. 0/0 when the block has none (SPB). */
  seconds: number;
  nanos: number;
  /** False for Simple Packet Blocks, which carry no timestamp. */
  hasTimestamp: boolean;
  interface: InterfaceInfo;
  /** epb_flags / pack_flags (0 when absent). */
  flags: number;
  /** Bits 0-1 of the flags: 0 unknown, 1 inbound, 2 outbound. */
  direction: Direction;
  /** The file offset of the record header or block. */
  offset: number;
  /** The pcapng block type, or 0 for a classic pcap record. */
  blockType: number;
}
