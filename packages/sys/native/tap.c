/*
 * Linux tun/tap (Documentation/networking/tuntap.rst): open /dev/net/tun, TUNSETIFF with
 * IFF_TAP|IFF_NO_PI and optionally IFF_VNET_HDR / IFF_MULTI_QUEUE, TUNSETVNETHDRSZ,
 * TUNSETOFFLOAD, TUNGETFEATURES, TUNGETIFF. The fd is non-blocking and close-on-exec.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define DEVICE_DEFAULT "/dev/net/tun"
#define PATH_LIMIT 4095

/* tapOpen({ name?, vnetHdr?, multiQueue?, device? }) -> { fd, name } */
static napi_value tap_open(napi_env env, napi_callback_info info) {
  napi_value argv[1], v;
  char name[IFNAMSIZ] = "";
  char device[PATH_LIMIT + 1] = DEVICE_DEFAULT;
  bool vnet_hdr, multi_queue;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_get_prop(env, argv[0], "name", &v));
  if (!netbe_is_nullish(env, v)) CHECK_ARG(netbe_arg_string(env, v, "options.name", name, IFNAMSIZ - 1, NULL));
  CHECK_ARG(netbe_get_prop(env, argv[0], "device", &v));
  if (!netbe_is_nullish(env, v)) CHECK_ARG(netbe_arg_string(env, v, "options.device", device, PATH_LIMIT, NULL));
  CHECK_ARG(netbe_get_prop(env, argv[0], "vnetHdr", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.vnetHdr", false, &vnet_hdr));
  CHECK_ARG(netbe_get_prop(env, argv[0], "multiQueue", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.multiQueue", false, &multi_queue));

  int fd = open(device, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return netbe_throw_errno(env, errno, "open", device);

  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (vnet_hdr) ifr.ifr_flags |= IFF_VNET_HDR;
  if (multi_queue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  memcpy(ifr.ifr_name, name, strlen(name));
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return netbe_throw_errno(env, err, "ioctl(TUNSETIFF)", name[0] ? name : NULL);
  }

  napi_value result, name_v;
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &name_v) != napi_ok) {
    close(fd);
    NAPI_CALL(env, napi_generic_failure);
  }
  netbe_set_int(env, result, "fd", fd);
  napi_set_named_property(env, result, "name", name_v);
  return result;
}

static napi_value tap_int_ioctl(napi_env env, napi_callback_info info, unsigned long request, const char *what,
                                int64_t min, int64_t max) {
  napi_value argv[2];
  int fd;
  int64_t value;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_int(env, argv[1], "value", min, max, &value));
  if (request == TUNSETOFFLOAD) {
    /* TUNSETOFFLOAD takes the flags as the argument itself, not a pointer. */
    if (ioctl(fd, request, (unsigned long)value) < 0) return netbe_throw_errno(env, errno, what, NULL);
  } else {
    int arg = (int)value;
    if (ioctl(fd, request, &arg) < 0) return netbe_throw_errno(env, errno, what, NULL);
  }
  return NULL;
}

/* tapSetVnetHdrSize(fd, bytes): the kernel requires at least sizeof(struct virtio_net_hdr) = 10. */
static napi_value tap_set_vnet_hdr_size(napi_env env, napi_callback_info info) {
  return tap_int_ioctl(env, info, TUNSETVNETHDRSZ, "ioctl(TUNSETVNETHDRSZ)", 0, INT32_MAX);
}

/* tapSetOffload(fd, TUN_F_* flags): what this reader accepts from the kernel. */
static napi_value tap_set_offload(napi_env env, napi_callback_info info) {
  return tap_int_ioctl(env, info, TUNSETOFFLOAD, "ioctl(TUNSETOFFLOAD)", 0, UINT32_MAX);
}

static napi_value tap_get_vnet_hdr_size(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, size = 0;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  if (ioctl(fd, TUNGETVNETHDRSZ, &size) < 0) return netbe_throw_errno(env, errno, "ioctl(TUNGETVNETHDRSZ)", NULL);
  return netbe_int(env, size);
}

/* tapGetFeatures(fd): the IFF_* flags this kernel's tun driver supports. */
static napi_value tap_get_features(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  unsigned int features = 0;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  if (ioctl(fd, TUNGETFEATURES, &features) < 0) return netbe_throw_errno(env, errno, "ioctl(TUNGETFEATURES)", NULL);
  return netbe_int(env, features);
}

/* tapGetIff(fd) -> { name, flags }: the interface the fd is attached to. */
static napi_value tap_get_iff(napi_env env, napi_callback_info info) {
  napi_value argv[1], result, name_v;
  int fd;
  struct ifreq ifr;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) return netbe_throw_errno(env, errno, "ioctl(TUNGETIFF)", NULL);
  ifr.ifr_name[IFNAMSIZ - 1] = 0;
  NAPI_CALL(env, napi_create_object(env, &result));
  NAPI_CALL(env, napi_create_string_utf8(env, ifr.ifr_name, NAPI_AUTO_LENGTH, &name_v));
  napi_set_named_property(env, result, "name", name_v);
  netbe_set_int(env, result, "flags", (unsigned short)ifr.ifr_flags);
  return result;
}

void netbe_init_tap(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"tapOpen", tap_open},
      {"tapSetVnetHdrSize", tap_set_vnet_hdr_size},
      {"tapGetVnetHdrSize", tap_get_vnet_hdr_size},
      {"tapSetOffload", tap_set_offload},
      {"tapGetFeatures", tap_get_features},
      {"tapGetIff", tap_get_iff},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "IFF_TAP", IFF_TAP);
  netbe_set_int(env, exports, "IFF_NO_PI", IFF_NO_PI);
  netbe_set_int(env, exports, "IFF_VNET_HDR", IFF_VNET_HDR);
  netbe_set_int(env, exports, "IFF_MULTI_QUEUE", IFF_MULTI_QUEUE);
  netbe_set_int(env, exports, "TUN_F_CSUM", TUN_F_CSUM);
  netbe_set_int(env, exports, "TUN_F_TSO4", TUN_F_TSO4);
  netbe_set_int(env, exports, "TUN_F_TSO6", TUN_F_TSO6);
  netbe_set_int(env, exports, "TUN_F_TSO_ECN", TUN_F_TSO_ECN);
  netbe_set_int(env, exports, "TUN_F_UFO", TUN_F_UFO);
#ifdef TUN_F_USO4
  netbe_set_int(env, exports, "TUN_F_USO4", TUN_F_USO4);
  netbe_set_int(env, exports, "TUN_F_USO6", TUN_F_USO6);
#else
  netbe_set_int(env, exports, "TUN_F_USO4", 0x20);
  netbe_set_int(env, exports, "TUN_F_USO6", 0x40);
#endif
  netbe_set_int(env, exports, "IFNAMSIZ", IFNAMSIZ);
}
