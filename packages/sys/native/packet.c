/*
 * AF_PACKET raw sockets (packet(7)) bound to one interface: to inject Ethernet frames into an
 * interface's transmit path and read what it receives, e.g. the benchmark's veth reference.
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* packetOpen(ifname, { receive = true }?) -> non-blocking fd. receive=false: send only. */
static napi_value packet_open(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  char name[IFNAMSIZ];
  size_t len;
  bool receive;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_string(env, argv[0], "ifname", name, IFNAMSIZ - 1, &len));
  CHECK_ARG(netbe_get_prop(env, argv[1], "receive", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.receive", true, &receive));
  unsigned int index = if_nametoindex(name);
  if (index == 0) return netbe_throw_errno(env, errno, "if_nametoindex", name);
  uint16_t proto = receive ? htons(ETH_P_ALL) : 0;
  int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
  if (fd < 0) return netbe_throw_errno(env, errno, "socket(AF_PACKET)", name);
  struct sockaddr_ll addr;
  memset(&addr, 0, sizeof addr);
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = proto;
  addr.sll_ifindex = (int)index;
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return netbe_throw_errno(env, err, "bind(AF_PACKET)", name);
  }
  return netbe_int(env, fd);
}

void netbe_init_packet(napi_env env, napi_value exports) {
  static const netbe_export list[] = {{"packetOpen", packet_open}};
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
}
