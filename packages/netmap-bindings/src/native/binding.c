/*
 * netmap-bindings: the system calls netbe needs to drive a netmap port, and nothing else.
 * open /dev/netmap, NIOCCTRL requests (register, port info, port header length, VALE
 * create/attach/detach/list), NIOCTXSYNC/NIOCRXSYNC, mmap of the shared region (returned as an
 * external ArrayBuffer that munmaps when released). Readiness is @netbe/sys's uv_poll watcher.
 * Ring logic lives in TypeScript. Every argument is checked (TypeError); a failed system call
 * throws an Error carrying `code` (the errno name), `errno` and `syscall`. Never aborts.
 */
#ifndef NAPI_VERSION
#define NAPI_VERSION 8
#endif
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "netmap_abi.h"

/* ---------------------------------------------------------------- helpers */

#define CHECK(call)                                                   \
  do {                                                                \
    if ((call) != napi_ok) return throw_last(env);                    \
  } while (0)

static napi_value throw_last(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "ERR_NAPI", "a Node-API call failed");
  return NULL;
}

static napi_value throw_type(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

/* Throws Error(`${syscall} ${what}: ${strerror}`) with code/errno/syscall properties. */
static napi_value throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  char msg[256];
  const char *name = uv_err_name(-err);
  snprintf(msg, sizeof msg, "%s %s: %s (%s)", syscall, what, strerror(err), name);
  napi_value message, error, code, errnum, sc;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &message) != napi_ok) return throw_last(env);
  if (napi_create_error(env, NULL, message, &error) != napi_ok) return throw_last(env);
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &code);
  napi_create_int32(env, err, &errnum);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &sc);
  napi_set_named_property(env, error, "code", code);
  napi_set_named_property(env, error, "errno", errnum);
  napi_set_named_property(env, error, "syscall", sc);
  napi_throw(env, error);
  return NULL;
}

static bool arg_int(napi_env env, napi_value v, int64_t min, int64_t max, int64_t *out, const char *what) {
  napi_valuetype t;
  double d;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) goto bad;
  napi_get_value_double(env, v, &d);
  if (d != d || d < (double)min || d > (double)max || d != (double)(int64_t)d) goto bad;
  *out = (int64_t)d;
  return true;
bad : {
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be an integer in %lld..%lld", what, (long long)min, (long long)max);
  throw_type(env, msg);
  return false;
}
}

static bool arg_fd(napi_env env, napi_value v, int *fd) {
  int64_t n;
  if (!arg_int(env, v, 0, 0x7fffffff, &n, "fd")) return false;
  *fd = (int)n;
  return true;
}

/* A port name for nmreq_header.nr_name (or, legacy, the 16-byte nmreq.nr_name). */
static bool arg_name(napi_env env, napi_value v, char *buf, size_t cap) {
  napi_valuetype t;
  size_t len = 0;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    throw_type(env, "name must be a string");
    return false;
  }
  napi_get_value_string_utf8(env, v, NULL, 0, &len);
  if (len == 0 || len >= cap) {
    char msg[120];
    snprintf(msg, sizeof msg, "name must be 1..%zu bytes", cap - 1);
    throw_type(env, msg);
    return false;
  }
  napi_get_value_string_utf8(env, v, buf, cap, &len);
  return true;
}

static void set_num(napi_env env, napi_value obj, const char *key, double value) {
  napi_value v;
  napi_create_double(env, value, &v);
  napi_set_named_property(env, obj, key, v);
}

/* Copies a NUL-terminated name into a fixed field; false when it does not fit. */
static bool copy_name(char *dst, size_t cap, const char *src) {
  size_t n = strlen(src);
  if (n >= cap) return false;
  memcpy(dst, src, n);
  dst[n] = '\0';
  return true;
}

static void init_header(struct nb_nmreq_header *hdr, uint16_t type, const char *name, void *body) {
  memset(hdr, 0, sizeof *hdr);
  hdr->nr_version = NB_NETMAP_API;
  hdr->nr_reqtype = type;
  copy_name(hdr->nr_name, sizeof hdr->nr_name, name); /* names are checked to fit by arg_name */
  hdr->nr_body = (uint64_t)(uintptr_t)body;
}

/* NIOCCTRL is missing on kernels that only speak the legacy API. */
static bool no_ctrl(int err) { return err == ENOTTY || err == EOPNOTSUPP; }

static int ioctl_retry(int fd, unsigned long req, void *arg) {
  int r;
  do r = ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

/* ---------------------------------------------------------------- open / close */

/* open(path) -> fd. path defaults to /dev/netmap; tests may point it elsewhere. */
static napi_value nb_open(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], result;
  char path[256] = NB_NETMAP_DEVICE;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc >= 1) {
    napi_valuetype t;
    CHECK(napi_typeof(env, argv[0], &t));
    if (t != napi_undefined && !arg_name(env, argv[0], path, sizeof path)) return NULL;
  }
  int fd;
  do fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) return throw_errno(env, errno, "open", path);
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

static napi_value nb_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || !arg_fd(env, argv[0], &fd)) return argc < 1 ? throw_type(env, "fd is required") : NULL;
  if (close(fd) < 0 && errno != EINTR) return throw_errno(env, errno, "close", "netmap fd");
  return NULL;
}

/* ---------------------------------------------------------------- register / info */

static napi_value port_object(napi_env env, uint64_t offset, uint64_t memsize, uint32_t tx_slots,
                              uint32_t rx_slots, uint32_t tx_rings, uint32_t rx_rings, uint32_t host_tx,
                              uint32_t host_rx, uint32_t mem_id, bool legacy) {
  napi_value obj, b;
  if (napi_create_object(env, &obj) != napi_ok) return throw_last(env);
  set_num(env, obj, "offset", (double)offset);
  set_num(env, obj, "memsize", (double)memsize);
  set_num(env, obj, "txSlots", tx_slots);
  set_num(env, obj, "rxSlots", rx_slots);
  set_num(env, obj, "txRings", tx_rings);
  set_num(env, obj, "rxRings", rx_rings);
  set_num(env, obj, "hostTxRings", host_tx);
  set_num(env, obj, "hostRxRings", host_rx);
  set_num(env, obj, "memId", mem_id);
  napi_get_boolean(env, legacy, &b);
  napi_set_named_property(env, obj, "legacy", b);
  return obj;
}

/*
 * register(fd, name, mode, ringid, memId) -> port info. NETMAP_REQ_REGISTER through NIOCCTRL,
 * with NR_ACCEPT_VNET_HDR (we handle the header) and NR_NO_TX_POLL (we txsync ourselves);
 * falls back to the legacy NIOCREGIF when the kernel has no NIOCCTRL.
 */
static napi_value nb_register(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  int fd;
  int64_t mode, ringid, mem_id;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 5) return throw_type(env, "register(fd, name, mode, ringid, memId)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name) ||
      !arg_int(env, argv[2], 1, 8, &mode, "mode") || !arg_int(env, argv[3], 0, 0xfff, &ringid, "ringid") ||
      !arg_int(env, argv[4], 0, 0xffff, &mem_id, "memId"))
    return NULL;

  struct nb_nmreq_register reg;
  struct nb_nmreq_header hdr;
  memset(&reg, 0, sizeof reg);
  reg.nr_mode = (uint32_t)mode;
  reg.nr_ringid = (uint16_t)ringid;
  reg.nr_mem_id = (uint16_t)mem_id;
  reg.nr_flags = NB_NR_ACCEPT_VNET_HDR | NB_NR_NO_TX_POLL;
  init_header(&hdr, NB_REQ_REGISTER, name, &reg);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) == 0) {
    return port_object(env, reg.nr_offset, reg.nr_memsize, reg.nr_tx_slots, reg.nr_rx_slots, reg.nr_tx_rings,
                       reg.nr_rx_rings, reg.nr_host_tx_rings, reg.nr_host_rx_rings, reg.nr_mem_id, false);
  }
  int err = errno;
  if (!no_ctrl(err)) return throw_errno(env, err, "ioctl(NIOCCTRL, NETMAP_REQ_REGISTER)", name);

  /* Legacy NIOCREGIF: the mode travels in nr_flags, the ring in nr_ringid. The kernel passes the
   * other nr_flags bits on as register flags: without NR_ACCEPT_VNET_HDR a port that carries a
   * virtio-net header refuses the registration with EIO (checked on a real module). */
  struct nb_nmreq_legacy req;
  memset(&req, 0, sizeof req);
  if (!copy_name(req.nr_name, sizeof req.nr_name, name)) return throw_errno(env, ENAMETOOLONG, "ioctl(NIOCREGIF)", name);
  req.nr_version = NB_NETMAP_API;
  req.nr_flags = (uint32_t)mode | (uint32_t)NB_NR_ACCEPT_VNET_HDR;
  req.nr_ringid = (uint16_t)(ringid | NB_LEGACY_NO_TX_POLL);
  req.nr_arg2 = (uint16_t)mem_id;
  if (ioctl_retry(fd, NB_NIOCREGIF, &req) < 0) return throw_errno(env, errno, "ioctl(NIOCREGIF)", name);
  /* The legacy reply does not count host rings; the port's netmap_if does (ni_host_*_rings). */
  return port_object(env, req.nr_offset, req.nr_memsize, req.nr_tx_slots, req.nr_rx_slots, req.nr_tx_rings,
                     req.nr_rx_rings, 0, 0, req.nr_arg2, true);
}

/* portInfo(fd, name) -> port info (NETMAP_REQ_PORT_INFO_GET; the fd need not be bound). */
static napi_value nb_port_info(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "portInfo(fd, name)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name)) return NULL;
  struct nb_nmreq_port_info_get body;
  struct nb_nmreq_header hdr;
  memset(&body, 0, sizeof body);
  init_header(&hdr, NB_REQ_PORT_INFO_GET, name, &body);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) < 0)
    return throw_errno(env, errno, "ioctl(NIOCCTRL, NETMAP_REQ_PORT_INFO_GET)", name);
  return port_object(env, 0, body.nr_memsize, body.nr_tx_slots, body.nr_rx_slots, body.nr_tx_rings,
                     body.nr_rx_rings, body.nr_host_tx_rings, body.nr_host_rx_rings, body.nr_mem_id, false);
}

/* ---------------------------------------------------------------- port header length */

/* setHeaderLength(fd, name, len): NETMAP_REQ_PORT_HDR_SET, legacy NETMAP_BDG_VNET_HDR. */
static napi_value nb_hdr_set(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  int fd;
  int64_t len;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "setHeaderLength(fd, name, len)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name) ||
      !arg_int(env, argv[2], 0, 0xffff, &len, "len"))
    return NULL;
  struct nb_nmreq_port_hdr body = {.nr_hdr_len = (uint32_t)len};
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_PORT_HDR_SET, name, &body);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) == 0) return NULL;
  int err = errno;
  if (!no_ctrl(err)) return throw_errno(env, err, "ioctl(NIOCCTRL, NETMAP_REQ_PORT_HDR_SET)", name);
  struct nb_nmreq_legacy req;
  memset(&req, 0, sizeof req);
  if (!copy_name(req.nr_name, sizeof req.nr_name, name)) return throw_errno(env, ENAMETOOLONG, "ioctl(NIOCREGIF)", name);
  req.nr_version = NB_NETMAP_API;
  req.nr_cmd = NB_LEGACY_BDG_VNET_HDR;
  req.nr_arg1 = (uint16_t)len;
  if (ioctl_retry(fd, NB_NIOCREGIF, &req) < 0) return throw_errno(env, errno, "ioctl(NIOCREGIF, NETMAP_BDG_VNET_HDR)", name);
  return NULL;
}

/* getHeaderLength(fd, name) -> len: NETMAP_REQ_PORT_HDR_GET, legacy NETMAP_VNET_HDR_GET. */
static napi_value nb_hdr_get(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int fd;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "getHeaderLength(fd, name)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name)) return NULL;
  struct nb_nmreq_port_hdr body = {0};
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_PORT_HDR_GET, name, &body);
  uint32_t len;
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) == 0) {
    len = body.nr_hdr_len;
  } else {
    int err = errno;
    if (!no_ctrl(err)) return throw_errno(env, err, "ioctl(NIOCCTRL, NETMAP_REQ_PORT_HDR_GET)", name);
    struct nb_nmreq_legacy req;
    memset(&req, 0, sizeof req);
    if (!copy_name(req.nr_name, sizeof req.nr_name, name)) return throw_errno(env, ENAMETOOLONG, "ioctl(NIOCREGIF)", name);
    req.nr_version = NB_NETMAP_API;
    req.nr_cmd = NB_LEGACY_VNET_HDR_GET;
    if (ioctl_retry(fd, NB_NIOCREGIF, &req) < 0) return throw_errno(env, errno, "ioctl(NIOCREGIF, NETMAP_VNET_HDR_GET)", name);
    len = req.nr_arg1;
  }
  CHECK(napi_create_uint32(env, len, &result));
  return result;
}

/* ---------------------------------------------------------------- VALE */

/* valeNewIf(fd, name, txSlots, rxSlots, txRings, rxRings, memId) -> memId of the new port. */
static napi_value nb_vale_newif(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7], result;
  int fd;
  int64_t txs, rxs, txr, rxr, mem;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 7) return throw_type(env, "valeNewIf(fd, name, txSlots, rxSlots, txRings, rxRings, memId)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name) ||
      !arg_int(env, argv[2], 0, 0xffffffff, &txs, "txSlots") || !arg_int(env, argv[3], 0, 0xffffffff, &rxs, "rxSlots") ||
      !arg_int(env, argv[4], 0, 0xffff, &txr, "txRings") || !arg_int(env, argv[5], 0, 0xffff, &rxr, "rxRings") ||
      !arg_int(env, argv[6], 0, 0xffff, &mem, "memId"))
    return NULL;
  struct nb_nmreq_vale_newif body = {
      .nr_tx_slots = (uint32_t)txs, .nr_rx_slots = (uint32_t)rxs, .nr_tx_rings = (uint16_t)txr,
      .nr_rx_rings = (uint16_t)rxr, .nr_mem_id = (uint16_t)mem};
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_VALE_NEWIF, name, &body);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) < 0) return throw_errno(env, errno, "ioctl(NIOCCTRL, NETMAP_REQ_VALE_NEWIF)", name);
  CHECK(napi_create_uint32(env, body.nr_mem_id, &result));
  return result;
}

/* valeDelIf(fd, name): delete a persistent VALE port. */
static napi_value nb_vale_delif(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  int fd;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "valeDelIf(fd, name)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name)) return NULL;
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_VALE_DELIF, name, NULL);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) < 0) return throw_errno(env, errno, "ioctl(NIOCCTRL, NETMAP_REQ_VALE_DELIF)", name);
  return NULL;
}

/* valeAttach(fd, "valeX:ifname", mode) -> port index on the switch. */
static napi_value nb_vale_attach(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3], result;
  int fd;
  int64_t mode;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return throw_type(env, "valeAttach(fd, name, mode)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name) ||
      !arg_int(env, argv[2], 1, 8, &mode, "mode"))
    return NULL;
  struct nb_nmreq_vale_attach body;
  memset(&body, 0, sizeof body);
  body.reg.nr_mode = (uint32_t)mode;
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_VALE_ATTACH, name, &body);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) < 0) return throw_errno(env, errno, "ioctl(NIOCCTRL, NETMAP_REQ_VALE_ATTACH)", name);
  CHECK(napi_create_uint32(env, body.port_index, &result));
  return result;
}

/* valeDetach(fd, "valeX:ifname") -> the port index it had. */
static napi_value nb_vale_detach(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int fd;
  char name[NB_REQ_IFNAMSIZ];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "valeDetach(fd, name)");
  if (!arg_fd(env, argv[0], &fd) || !arg_name(env, argv[1], name, sizeof name)) return NULL;
  struct nb_nmreq_vale_detach body = {0};
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_VALE_DETACH, name, &body);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) < 0) return throw_errno(env, errno, "ioctl(NIOCCTRL, NETMAP_REQ_VALE_DETACH)", name);
  CHECK(napi_create_uint32(env, body.port_index, &result));
  return result;
}

/*
 * valeList(fd, name, bridgeIdx, portIdx) -> { name, bridgeIdx, portIdx }, or null (ENOENT) past the
 * last port. With an empty name the kernel walks every switch from (bridgeIdx, portIdx).
 */
static napi_value nb_vale_list(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], result, str;
  int fd;
  int64_t bidx, pidx;
  char name[NB_REQ_IFNAMSIZ] = "";
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_type(env, "valeList(fd, name, bridgeIdx, portIdx)");
  if (!arg_fd(env, argv[0], &fd) || !arg_int(env, argv[2], 0, 0xffff, &bidx, "bridgeIdx") ||
      !arg_int(env, argv[3], 0, 0xffffffff, &pidx, "portIdx"))
    return NULL;
  napi_valuetype t;
  CHECK(napi_typeof(env, argv[1], &t));
  if (t == napi_string) {
    size_t len;
    CHECK(napi_get_value_string_utf8(env, argv[1], name, sizeof name, &len));
  } else if (t != napi_undefined) {
    return throw_type(env, "name must be a string");
  }
  struct nb_nmreq_vale_list body = {.nr_bridge_idx = (uint16_t)bidx, .nr_port_idx = (uint32_t)pidx};
  struct nb_nmreq_header hdr;
  init_header(&hdr, NB_REQ_VALE_LIST, name, &body);
  if (ioctl_retry(fd, NB_NIOCCTRL, &hdr) < 0) {
    if (errno == ENOENT) {
      CHECK(napi_get_null(env, &result));
      return result;
    }
    return throw_errno(env, errno, "ioctl(NIOCCTRL, NETMAP_REQ_VALE_LIST)", name);
  }
  hdr.nr_name[sizeof hdr.nr_name - 1] = '\0';
  CHECK(napi_create_object(env, &result));
  CHECK(napi_create_string_utf8(env, hdr.nr_name, NAPI_AUTO_LENGTH, &str));
  napi_set_named_property(env, result, "name", str);
  set_num(env, result, "bridgeIdx", body.nr_bridge_idx);
  set_num(env, result, "portIdx", body.nr_port_idx);
  return result;
}

/* ---------------------------------------------------------------- sync */

static napi_value do_sync(napi_env env, napi_callback_info info, unsigned long req, const char *what) {
  size_t argc = 1;
  napi_value argv[1];
  int fd;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_type(env, "fd is required");
  if (!arg_fd(env, argv[0], &fd)) return NULL;
  if (ioctl_retry(fd, req, NULL) < 0) return throw_errno(env, errno, what, "netmap fd");
  return NULL;
}
static napi_value nb_txsync(napi_env env, napi_callback_info info) { return do_sync(env, info, NB_NIOCTXSYNC, "ioctl(NIOCTXSYNC)"); }
static napi_value nb_rxsync(napi_env env, napi_callback_info info) { return do_sync(env, info, NB_NIOCRXSYNC, "ioctl(NIOCRXSYNC)"); }

/* ---------------------------------------------------------------- mmap */

/*
 * A mapped region. munmap must happen when unmap() is called, not when V8 releases the backing
 * store (Node runs external-buffer finalizers later, from setImmediate): the kernel keeps the
 * netmap port, its VALE switch slot and its memory allocator alive for as long as the mapping
 * exists, so a closed port would linger (netmap has only 8 VALE switches; verified on a real
 * module). unmap() therefore munmaps at once and marks the mapping; the finalizer only frees it.
 * Live mappings are kept in a list (JS thread only) so unmap() can find one by address.
 */
struct mapping {
  void *addr;
  size_t size;
  bool unmapped;
  struct mapping *next;
};

static struct mapping *live_mappings;

static void mapping_unlink(struct mapping *m) {
  for (struct mapping **p = &live_mappings; *p; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      return;
    }
  }
}

/* Runs when the ArrayBuffer's backing store is released (GC, or some time after unmap()). */
static void mapping_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  struct mapping *m = hint;
  if (!m->unmapped) {
    munmap(m->addr, m->size);
    mapping_unlink(m);
  }
  free(m);
}

/* mmap(fd, size) -> ArrayBuffer over the shared region (MAP_SHARED, read/write). */
static napi_value nb_mmap(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], result;
  int fd;
  int64_t size;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_type(env, "mmap(fd, size)");
  /* 16 GiB is far above any netmap allocator and far below what an ArrayBuffer may hold. */
  if (!arg_fd(env, argv[0], &fd) || !arg_int(env, argv[1], 1, (int64_t)1 << 34, &size, "size")) return NULL;
  struct mapping *m = calloc(1, sizeof *m);
  if (!m) return throw_errno(env, ENOMEM, "malloc", "mapping");
  m->size = (size_t)size;
  m->addr = mmap(NULL, m->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (m->addr == MAP_FAILED) {
    int err = errno;
    free(m);
    return throw_errno(env, err, "mmap", "netmap region");
  }
  if (napi_create_external_arraybuffer(env, m->addr, m->size, mapping_finalize, m, &result) != napi_ok) {
    munmap(m->addr, m->size);
    free(m);
    return throw_last(env);
  }
  m->next = live_mappings;
  live_mappings = m;
  return result;
}

/*
 * unmap(arrayBuffer): detaches it (every view becomes empty, so nothing in JS can reach the
 * region any more), then munmaps the region now. A buffer mmap() did not make is only detached.
 */
static napi_value nb_unmap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  bool is_ab = false, detached = false;
  void *data = NULL;
  size_t length = 0;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1 || napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab)
    return throw_type(env, "unmap(arrayBuffer)");
  CHECK(napi_is_detached_arraybuffer(env, argv[0], &detached));
  if (detached) return NULL;
  CHECK(napi_get_arraybuffer_info(env, argv[0], &data, &length));
  CHECK(napi_detach_arraybuffer(env, argv[0]));
  for (struct mapping *m = live_mappings; m; m = m->next) {
    if (m->addr == data && m->size == length) {
      mapping_unlink(m);
      m->unmapped = true;
      if (munmap(m->addr, m->size) < 0) return throw_errno(env, errno, "munmap", "netmap region");
      break;
    }
  }
  return NULL;
}

/* ---------------------------------------------------------------- ABI facts, for the TS mirror */

static napi_value nb_abi(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value obj;
  CHECK(napi_create_object(env, &obj));
  set_num(env, obj, "api", NB_NETMAP_API);
  set_num(env, obj, "slotSize", sizeof(struct nb_netmap_slot));
  set_num(env, obj, "slotLen", offsetof(struct nb_netmap_slot, len));
  set_num(env, obj, "slotFlags", offsetof(struct nb_netmap_slot, flags));
  set_num(env, obj, "ringBufOfs", offsetof(struct nb_netmap_ring, buf_ofs));
  set_num(env, obj, "ringNumSlots", offsetof(struct nb_netmap_ring, num_slots));
  set_num(env, obj, "ringBufSize", offsetof(struct nb_netmap_ring, nr_buf_size));
  set_num(env, obj, "ringDir", offsetof(struct nb_netmap_ring, dir));
  set_num(env, obj, "ringDirTx", NB_RING_DIR_TX);
  set_num(env, obj, "ringDirRx", NB_RING_DIR_RX);
  set_num(env, obj, "ringHead", offsetof(struct nb_netmap_ring, head));
  set_num(env, obj, "ringCur", offsetof(struct nb_netmap_ring, cur));
  set_num(env, obj, "ringTail", offsetof(struct nb_netmap_ring, tail));
  set_num(env, obj, "ringOffsetMask", offsetof(struct nb_netmap_ring, offset_mask));
  set_num(env, obj, "ringSlots", offsetof(struct nb_netmap_ring, slot));
  set_num(env, obj, "ifTxRings", offsetof(struct nb_netmap_if, ni_tx_rings));
  set_num(env, obj, "ifRxRings", offsetof(struct nb_netmap_if, ni_rx_rings));
  set_num(env, obj, "ifHostTxRings", offsetof(struct nb_netmap_if, ni_host_tx_rings));
  set_num(env, obj, "ifHostRxRings", offsetof(struct nb_netmap_if, ni_host_rx_rings));
  set_num(env, obj, "ifRingOfs", offsetof(struct nb_netmap_if, ring_ofs));
  set_num(env, obj, "nsMoreFrag", NB_NS_MOREFRAG);
  set_num(env, obj, "maxFrags", NB_MAX_FRAGS);
  set_num(env, obj, "reqIfNameSize", NB_REQ_IFNAMSIZ);
  return obj;
}

/* ---------------------------------------------------------------- module */

#define EXPORT(name, fn) {name, NULL, fn, NULL, NULL, NULL, napi_enumerable, NULL}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      EXPORT("open", nb_open),           EXPORT("close", nb_close),
      EXPORT("register", nb_register),   EXPORT("portInfo", nb_port_info),
      EXPORT("setHeaderLength", nb_hdr_set), EXPORT("getHeaderLength", nb_hdr_get),
      EXPORT("valeNewIf", nb_vale_newif), EXPORT("valeDelIf", nb_vale_delif),
      EXPORT("valeAttach", nb_vale_attach), EXPORT("valeDetach", nb_vale_detach),
      EXPORT("valeList", nb_vale_list),  EXPORT("txSync", nb_txsync),
      EXPORT("rxSync", nb_rxsync),       EXPORT("mmap", nb_mmap),
      EXPORT("unmap", nb_unmap),         EXPORT("abi", nb_abi),
  };
  if (napi_define_properties(env, exports, sizeof props / sizeof props[0], props) != napi_ok) return throw_last(env);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
