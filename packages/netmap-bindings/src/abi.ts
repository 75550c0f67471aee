/**
 * The netmap shared-memory layout (API 14, LP64), mirrored from the addon's C definitions
 * (src/native/netmap_abi.h, which pins them with _Static_assert). Offsets are in bytes.
 * netmap.h: struct netmap_if, struct netmap_ring, struct netmap_slot.
 */
export const NETMAP_API = 14;
export const NETMAP_DEVICE = '/dev/netmap';

/** struct netmap_slot: 16 bytes. */
export const SLOT_SIZE = 16;
export const SLOT_BUF_IDX = 0;
export const SLOT_LEN = 4;
export const SLOT_FLAGS = 6;

/** struct netmap_ring: a 256-byte header, then num_slots slots. */
export const RING_BUF_OFS = 0; // int64: offset of the buffer pool from the ring
export const RING_NUM_SLOTS = 8;
export const RING_BUF_SIZE = 12; // nr_buf_size
export const RING_ID = 16;
export const RING_DIR = 18;
/**
 * netmap_ring.dir as the kernel writes it: `kring->tx` of `enum txrx { NR_RX = 0, NR_TX = 1 }`
 * (netmap_kern.h, netmap_mem2.c). netmap.h's comment says "0: tx, 1: rx": that is wrong; checked
 * on a real netmap module (see README).
 */
export const RING_DIR_TX = 1;
export const RING_DIR_RX = 0;
export const RING_HEAD = 20;
export const RING_CUR = 24;
export const RING_TAIL = 28;
export const RING_FLAGS = 32;
export const RING_OFFSET_MASK = 56;
export const RING_SLOTS = 256;

/** struct netmap_if: 56 bytes, then ring_ofs[] (int64, from the netmap_if): tx, host tx, rx, host rx. */
export const IF_NAME = 0;
export const IF_NAME_SIZE = 16;
export const IF_TX_RINGS = 24;
export const IF_RX_RINGS = 28;
export const IF_HOST_TX_RINGS = 36;
export const IF_HOST_RX_RINGS = 40;
export const IF_RING_OFS = 56;

/** Slot flags. NS_MOREFRAG: set on every slot of a frame but the last. */
export const NS_BUF_CHANGED = 0x0001;
export const NS_MOREFRAG = 0x0020;
/** NETMAP_MAX_FRAGS: the most slots one frame may span. */
export const NETMAP_MAX_FRAGS = 64;

/** nmreq_register.nr_mode values (NR_REG_*). */
export const NR_REG_ALL_NIC = 1;
export const NR_REG_SW = 2;
export const NR_REG_NIC_SW = 3;
export const NR_REG_ONE_NIC = 4;
export const NR_REG_ONE_SW = 8;

/** nmreq_header.nr_name holds 63 bytes and a NUL. */
export const REQ_NAME_MAX = 63;
