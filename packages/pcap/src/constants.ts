/**
 * Numbers from the two capture formats: classic pcap (draft-ietf-opsawg-pcap) and pcapng
 * (draft-ietf-opsawg-pcapng). Names follow the drafts.
 */

/** pcap §4: the magic number, written in the writer's byte order. */
export const PCAP_MAGIC_MICROSECONDS = 0xa1b2c3d4;
export const PCAP_MAGIC_NANOSECONDS = 0xa1b23c4d;
/** The same magics read with the other byte order. */
export const PCAP_MAGIC_MICROSECONDS_SWAPPED = 0xd4c3b2a1;
export const PCAP_MAGIC_NANOSECONDS_SWAPPED = 0x4d3cb2a1;
export const PCAP_VERSION_MAJOR = 2;
export const PCAP_VERSION_MINOR = 4;
/** pcap §4: 24-byte file header, §5: 16-byte packet record header. */
export const PCAP_FILE_HEADER_LENGTH = 24;
export const PCAP_RECORD_HEADER_LENGTH = 16;

/** pcapng §4.1: Section Header Block type (a palindrome, readable in either byte order). */
export const BLOCK_SHB = 0x0a0d0d0a;
/** pcapng §4.2 */
export const BLOCK_IDB = 0x00000001;
/** pcapng Appendix A: Packet Block, obsolete, read-only. */
export const BLOCK_OPB = 0x00000002;
/** pcapng §4.4 */
export const BLOCK_SPB = 0x00000003;
/** pcapng §4.5 */
export const BLOCK_NRB = 0x00000004;
/** pcapng §4.6 */
export const BLOCK_ISB = 0x00000005;
/** pcapng §4.3 */
export const BLOCK_EPB = 0x00000006;
/** pcapng §4.7 */
export const BLOCK_DSB = 0x0000000a;
/** pcapng §4.8: custom blocks (copiable and not). */
export const BLOCK_CUSTOM = 0x00000bad;
export const BLOCK_CUSTOM_NOCOPY = 0x40000bad;
/** pcapng §4.1: byte-order magic of the SHB. */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** pcapng §3.1: type, length, …, length: the smallest block is 12 bytes. */
export const BLOCK_MIN_LENGTH = 12;

/** pcapng §3.5 general options. */
export const OPT_ENDOFOPT = 0;
export const OPT_COMMENT = 1;
/** pcapng §4.1.1 */
export const SHB_HARDWARE = 2;
export const SHB_OS = 3;
export const SHB_USERAPPL = 4;
/** pcapng §4.2.1 */
export const IF_NAME = 2;
export const IF_DESCRIPTION = 3;
export const IF_TSRESOL = 9;
export const IF_FCSLEN = 13;
export const IF_TSOFFSET = 14;
/** pcapng §4.3.1 (and pack_flags of the obsolete Packet Block). */
export const EPB_FLAGS = 2;

/** epb_flags bits 0-1 (pcapng §4.3.1): inbound/outbound. */
export const DIRECTION_UNKNOWN = 0;
export const DIRECTION_INBOUND = 1;
export const DIRECTION_OUTBOUND = 2;
export type Direction = typeof DIRECTION_UNKNOWN | typeof DIRECTION_INBOUND | typeof DIRECTION_OUTBOUND;

/** A few LINKTYPE_* values (tcpdump.org link-layer header types); any 16-bit value is reported as read. */
export const LINKTYPE_NULL = 0;
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

/** libpcap's MAXIMUM_SNAPLEN: no record may capture more than this (pcap and pcapng). */
export const MAX_CAPTURE_LENGTH = 262144;
/**
 * The largest block this reader will buffer (a packet block of MAX_CAPTURE_LENGTH plus room for
 * options, or an SHB/IDB with large options). Larger blocks of kinds it skips are skipped without
 * buffering; larger blocks it must parse are an error.
 */
export const MAX_BLOCK_LENGTH = 1 << 20;
