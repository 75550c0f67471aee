/*
 * The netmap user/kernel ABI, API version 14, written from the layout documented in netmap's
 * public headers (sys/net/netmap.h, netmap_legacy.h). We define it ourselves so the addon builds
 * on machines without netmap headers; the static assertions below pin every size and offset the
 * kernel relies on (Linux, LP64). Only what netbe uses is here.
 */
#ifndef NETBE_NETMAP_ABI_H
#define NETBE_NETMAP_ABI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#define NB_NETMAP_API 14
#define NB_NETMAP_DEVICE "/dev/netmap"
#define NB_IFNAMSIZ 16             /* IFNAMSIZ: netmap_if.ni_name and the legacy request name */
#define NB_REQ_IFNAMSIZ 64         /* nmreq_header.nr_name */
#define NB_CACHE_ALIGN 128

/* Slot flags (netmap.h "The following flags control how the slot is used"). */
#define NB_NS_BUF_CHANGED 0x0001
#define NB_NS_MOREFRAG 0x0020
#define NB_MAX_FRAGS 64

/* One buffer descriptor. */
struct nb_netmap_slot {
  uint32_t buf_idx;
  uint16_t len;
  uint16_t flags;
  uint64_t ptr;
};

/* netmap_ring.dir holds the kernel's kring->tx, enum txrx { NR_RX = 0, NR_TX = 1 } (netmap_kern.h).
 * netmap.h's field comment ("0: tx, 1: rx") is wrong; a real module writes these values. */
#define NB_RING_DIR_TX 1
#define NB_RING_DIR_RX 0

/* A TX or RX ring; the slots follow the header, which is padded to a cache line after sem. */
struct nb_netmap_ring {
  int64_t buf_ofs;
  uint32_t num_slots;
  uint32_t nr_buf_size;
  uint16_t ringid;
  uint16_t dir;
  uint32_t head;
  uint32_t cur;
  uint32_t tail;
  uint32_t flags;
  struct timeval ts;
  uint64_t offset_mask;
  uint64_t buf_align;
  uint8_t sem[128] __attribute__((aligned(NB_CACHE_ALIGN)));
  struct nb_netmap_slot slot[];
};

/* The per-fd interface descriptor; ring_ofs[] (offsets from this struct) follows:
 * NIC tx, host tx, NIC rx, host rx. */
struct nb_netmap_if {
  char ni_name[NB_IFNAMSIZ];
  uint32_t ni_version;
  uint32_t ni_flags;
  uint32_t ni_tx_rings;
  uint32_t ni_rx_rings;
  uint32_t ni_bufs_head;
  uint32_t ni_host_tx_rings;
  uint32_t ni_host_rx_rings;
  uint32_t ni_spare1[3];
  int64_t ring_ofs[]; /* ssize_t */
};

/* --- The NIOCCTRL request API --- */
struct nb_nmreq_header {
  uint16_t nr_version;
  uint16_t nr_reqtype;
  uint32_t nr_reserved;
  char nr_name[NB_REQ_IFNAMSIZ];
  uint64_t nr_options;
  uint64_t nr_body;
};

enum {
  NB_REQ_REGISTER = 1,
  NB_REQ_PORT_INFO_GET = 2,
  NB_REQ_VALE_ATTACH = 3,
  NB_REQ_VALE_DETACH = 4,
  NB_REQ_VALE_LIST = 5,
  NB_REQ_PORT_HDR_SET = 6,
  NB_REQ_PORT_HDR_GET = 7,
  NB_REQ_VALE_NEWIF = 8,
  NB_REQ_VALE_DELIF = 9,
};

struct nb_nmreq_register {
  uint64_t nr_offset;
  uint64_t nr_memsize;
  uint32_t nr_tx_slots;
  uint32_t nr_rx_slots;
  uint16_t nr_tx_rings;
  uint16_t nr_rx_rings;
  uint16_t nr_host_tx_rings;
  uint16_t nr_host_rx_rings;
  uint16_t nr_mem_id;
  uint16_t nr_ringid;
  uint32_t nr_mode;
  uint32_t nr_extra_bufs;
  uint64_t nr_flags;
};

/* nmreq_register.nr_mode */
enum { NB_REG_ALL_NIC = 1, NB_REG_SW = 2, NB_REG_NIC_SW = 3, NB_REG_ONE_NIC = 4, NB_REG_ONE_SW = 8 };
/* nmreq_register.nr_flags */
#define NB_NR_EXCLUSIVE 0x800ULL
#define NB_NR_ACCEPT_VNET_HDR 0x8000ULL
#define NB_NR_NO_TX_POLL 0x20000ULL

struct nb_nmreq_port_info_get {
  uint64_t nr_memsize;
  uint32_t nr_tx_slots;
  uint32_t nr_rx_slots;
  uint16_t nr_tx_rings;
  uint16_t nr_rx_rings;
  uint16_t nr_host_tx_rings;
  uint16_t nr_host_rx_rings;
  uint16_t nr_mem_id;
  uint16_t pad[3];
};

struct nb_nmreq_vale_attach {
  struct nb_nmreq_register reg;
  uint32_t port_index;
  uint32_t pad1;
};

struct nb_nmreq_vale_detach {
  uint32_t port_index;
  uint32_t pad1;
};

struct nb_nmreq_vale_list {
  uint16_t nr_bridge_idx;
  uint16_t pad1;
  uint32_t nr_port_idx;
};

struct nb_nmreq_port_hdr {
  uint32_t nr_hdr_len;
  uint32_t pad1;
};

struct nb_nmreq_vale_newif {
  uint32_t nr_tx_slots;
  uint32_t nr_rx_slots;
  uint16_t nr_tx_rings;
  uint16_t nr_rx_rings;
  uint16_t nr_mem_id;
  uint16_t pad1;
};

/* --- The legacy request (netmap_legacy.h), for kernels without NIOCCTRL --- */
struct nb_nmreq_legacy {
  char nr_name[NB_IFNAMSIZ];
  uint32_t nr_version;
  uint32_t nr_offset;
  uint32_t nr_memsize;
  uint32_t nr_tx_slots;
  uint32_t nr_rx_slots;
  uint16_t nr_tx_rings;
  uint16_t nr_rx_rings;
  uint16_t nr_ringid;
  uint16_t nr_cmd;
  uint16_t nr_arg1;
  uint16_t nr_arg2;
  uint32_t nr_arg3;
  uint32_t nr_flags;
  uint32_t spare2[1];
};
#define NB_LEGACY_NO_TX_POLL 0x1000   /* nr_ringid bit */
#define NB_LEGACY_BDG_VNET_HDR 5      /* nr_cmd: set the port header length (nr_arg1) */
#define NB_LEGACY_VNET_HDR_GET 12     /* nr_cmd: get it */

#define NB_NIOCREGIF _IOWR('i', 146, struct nb_nmreq_legacy)
#define NB_NIOCTXSYNC _IO('i', 148)
#define NB_NIOCRXSYNC _IO('i', 149)
#define NB_NIOCCTRL _IOWR('i', 151, struct nb_nmreq_header)

/* --- Static checks: the documented layout, LP64 Linux --- */
#define NB_CHECK_SIZE(t, n) _Static_assert(sizeof(t) == (n), "sizeof " #t)
#define NB_CHECK_OFF(t, f, n) _Static_assert(offsetof(t, f) == (n), "offsetof " #t "." #f)

_Static_assert(sizeof(void *) == 8, "netmap-bindings supports 64-bit targets only");
NB_CHECK_SIZE(struct timeval, 16);

NB_CHECK_SIZE(struct nb_netmap_slot, 16);
NB_CHECK_OFF(struct nb_netmap_slot, len, 4);
NB_CHECK_OFF(struct nb_netmap_slot, flags, 6);
NB_CHECK_OFF(struct nb_netmap_slot, ptr, 8);

NB_CHECK_OFF(struct nb_netmap_ring, buf_ofs, 0);
NB_CHECK_OFF(struct nb_netmap_ring, num_slots, 8);
NB_CHECK_OFF(struct nb_netmap_ring, nr_buf_size, 12);
NB_CHECK_OFF(struct nb_netmap_ring, ringid, 16);
NB_CHECK_OFF(struct nb_netmap_ring, dir, 18);
NB_CHECK_OFF(struct nb_netmap_ring, head, 20);
NB_CHECK_OFF(struct nb_netmap_ring, cur, 24);
NB_CHECK_OFF(struct nb_netmap_ring, tail, 28);
NB_CHECK_OFF(struct nb_netmap_ring, flags, 32);
NB_CHECK_OFF(struct nb_netmap_ring, ts, 40);
NB_CHECK_OFF(struct nb_netmap_ring, offset_mask, 56);
NB_CHECK_OFF(struct nb_netmap_ring, buf_align, 64);
NB_CHECK_OFF(struct nb_netmap_ring, sem, 128);
NB_CHECK_OFF(struct nb_netmap_ring, slot, 256);
NB_CHECK_SIZE(struct nb_netmap_ring, 256);

NB_CHECK_OFF(struct nb_netmap_if, ni_version, 16);
NB_CHECK_OFF(struct nb_netmap_if, ni_flags, 20);
NB_CHECK_OFF(struct nb_netmap_if, ni_tx_rings, 24);
NB_CHECK_OFF(struct nb_netmap_if, ni_rx_rings, 28);
NB_CHECK_OFF(struct nb_netmap_if, ni_bufs_head, 32);
NB_CHECK_OFF(struct nb_netmap_if, ni_host_tx_rings, 36);
NB_CHECK_OFF(struct nb_netmap_if, ni_host_rx_rings, 40);
NB_CHECK_OFF(struct nb_netmap_if, ring_ofs, 56);
NB_CHECK_SIZE(struct nb_netmap_if, 56);

NB_CHECK_SIZE(struct nb_nmreq_header, 88);
NB_CHECK_OFF(struct nb_nmreq_header, nr_reqtype, 2);
NB_CHECK_OFF(struct nb_nmreq_header, nr_name, 8);
NB_CHECK_OFF(struct nb_nmreq_header, nr_options, 72);
NB_CHECK_OFF(struct nb_nmreq_header, nr_body, 80);

NB_CHECK_SIZE(struct nb_nmreq_register, 56);
NB_CHECK_OFF(struct nb_nmreq_register, nr_tx_slots, 16);
NB_CHECK_OFF(struct nb_nmreq_register, nr_tx_rings, 24);
NB_CHECK_OFF(struct nb_nmreq_register, nr_mem_id, 32);
NB_CHECK_OFF(struct nb_nmreq_register, nr_ringid, 34);
NB_CHECK_OFF(struct nb_nmreq_register, nr_mode, 36);
NB_CHECK_OFF(struct nb_nmreq_register, nr_extra_bufs, 40);
NB_CHECK_OFF(struct nb_nmreq_register, nr_flags, 48);

NB_CHECK_SIZE(struct nb_nmreq_port_info_get, 32);
NB_CHECK_OFF(struct nb_nmreq_port_info_get, nr_mem_id, 24);
NB_CHECK_SIZE(struct nb_nmreq_vale_attach, 64);
NB_CHECK_OFF(struct nb_nmreq_vale_attach, port_index, 56);
NB_CHECK_SIZE(struct nb_nmreq_vale_detach, 8);
NB_CHECK_SIZE(struct nb_nmreq_vale_list, 8);
NB_CHECK_SIZE(struct nb_nmreq_port_hdr, 8);
NB_CHECK_SIZE(struct nb_nmreq_vale_newif, 16);
NB_CHECK_OFF(struct nb_nmreq_vale_newif, nr_mem_id, 12);

NB_CHECK_SIZE(struct nb_nmreq_legacy, 60);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_version, 16);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_ringid, 40);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_cmd, 42);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_arg1, 44);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_arg2, 46);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_arg3, 48);
NB_CHECK_OFF(struct nb_nmreq_legacy, nr_flags, 52);

/* The Linux ioctl numbers these produce (asm-generic ioctl encoding). */
_Static_assert(NB_NIOCCTRL == 0xc0586997UL, "NIOCCTRL");
_Static_assert(NB_NIOCREGIF == 0xc03c6992UL, "NIOCREGIF");
_Static_assert(NB_NIOCTXSYNC == 0x6994, "NIOCTXSYNC");
_Static_assert(NB_NIOCRXSYNC == 0x6995, "NIOCRXSYNC");

#endif
