/*
 * Network interface flags and MTU through an AF_INET datagram socket in the calling thread's
 * network namespace: SIOCGIFFLAGS / SIOCSIFFLAGS / SIOCSIFMTU / SIOCGIFMTU (netdevice(7)), and
 * if_nametoindex.
 */
#include "common.h"

#include <errno.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int link_socket(void) { return socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); }

static bool arg_ifname(napi_env env, napi_value v, struct ifreq *ifr) {
  memset(ifr, 0, sizeof *ifr);
  char name[IFNAMSIZ];
  size_t len;
  if (!netbe_arg_string(env, v, "name", name, IFNAMSIZ - 1, &len)) return false;
  if (len == 0) {
    netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "name must not be empty");
    return false;
  }
  memcpy(ifr->ifr_name, name, len);
  return true;
}

/* Runs one SIOC* ioctl on a fresh socket; returns 0 or an errno. */
static int link_ioctl(unsigned long request, struct ifreq *ifr) {
  int s = link_socket();
  if (s < 0) return errno;
  int rc = ioctl(s, request, ifr);
  int err = rc < 0 ? errno : 0;
  close(s);
  return err;
}

/* linkGetFlags(name) -> IFF_* flags (16 bits: IFF_UP, IFF_RUNNING...) */
static napi_value link_get_flags(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct ifreq ifr;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(arg_ifname(env, argv[0], &ifr));
  int err = link_ioctl(SIOCGIFFLAGS, &ifr);
  if (err) return netbe_throw_errno(env, err, "ioctl(SIOCGIFFLAGS)", ifr.ifr_name);
  return netbe_int(env, (unsigned short)ifr.ifr_flags);
}

/* linkSetUp(name, up = true): sets or clears IFF_UP, keeping the other flags. */
static napi_value link_set_up(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  bool up;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(arg_ifname(env, argv[0], &ifr));
  CHECK_ARG(netbe_arg_bool(env, argv[1], "up", true, &up));
  int s = link_socket();
  if (s < 0) return netbe_throw_errno(env, errno, "socket", NULL);
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    int err = errno;
    close(s);
    return netbe_throw_errno(env, err, "ioctl(SIOCGIFFLAGS)", ifr.ifr_name);
  }
  if (up) ifr.ifr_flags |= IFF_UP;
  else ifr.ifr_flags &= ~IFF_UP;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) {
    int err = errno;
    close(s);
    return netbe_throw_errno(env, err, "ioctl(SIOCSIFFLAGS)", ifr.ifr_name);
  }
  close(s);
  return NULL;
}

static napi_value link_get_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct ifreq ifr;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(arg_ifname(env, argv[0], &ifr));
  int err = link_ioctl(SIOCGIFMTU, &ifr);
  if (err) return netbe_throw_errno(env, err, "ioctl(SIOCGIFMTU)", ifr.ifr_name);
  return netbe_int(env, ifr.ifr_mtu);
}

static napi_value link_set_mtu(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct ifreq ifr;
  int64_t mtu;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(arg_ifname(env, argv[0], &ifr));
  CHECK_ARG(netbe_arg_int(env, argv[1], "mtu", 0, INT32_MAX, &mtu));
  ifr.ifr_mtu = (int)mtu;
  int err = link_ioctl(SIOCSIFMTU, &ifr);
  if (err) return netbe_throw_errno(env, err, "ioctl(SIOCSIFMTU)", ifr.ifr_name);
  return NULL;
}

/* linkIndex(name) -> ifindex, or 0 when no such interface exists in this namespace. */
static napi_value link_index(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct ifreq ifr;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(arg_ifname(env, argv[0], &ifr));
  unsigned int index = if_nametoindex(ifr.ifr_name);
  if (index == 0 && errno != ENODEV && errno != ENXIO) return netbe_throw_errno(env, errno, "if_nametoindex", ifr.ifr_name);
  return netbe_int(env, index);
}

void netbe_init_link(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"linkGetFlags", link_get_flags}, {"linkSetUp", link_set_up}, {"linkGetMtu", link_get_mtu},
      {"linkSetMtu", link_set_mtu},     {"linkIndex", link_index},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "IFF_UP", IFF_UP);
  netbe_set_int(env, exports, "IFF_RUNNING", IFF_RUNNING);
}
