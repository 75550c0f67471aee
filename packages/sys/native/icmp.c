/*
 * ICMP datagram ("ping") sockets, icmp(7): socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP) needs no
 * privilege, only a group within net.ipv4.ping_group_range (else EACCES). Only echo requests
 * may be sent; the kernel rewrites the echo identifier to the socket's "port" (bind() picks it)
 * and delivers replies without the IP header. With IP_RECVERR, ICMP errors about what we sent
 * (unreachable, TTL exceeded) arrive on the error queue (MSG_ERRQUEUE) with the offender.
 * Addresses are IPv4 as unsigned 32-bit numbers in host order (127.0.0.1 = 0x7f000001).
 */
#include "common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static bool arg_addr(napi_env env, napi_value v, const char *name, uint32_t *out) {
  int64_t a;
  if (!netbe_arg_int(env, v, name, 0, UINT32_MAX, &a)) return false;
  *out = (uint32_t)a;
  return true;
}

static napi_value u32(napi_env env, uint32_t v) {
  napi_value r;
  NAPI_CALL(env, napi_create_uint32(env, v, &r));
  return r;
}

/* icmpOpen({ ident?, ttl?, recvErr? }?) -> non-blocking, close-on-exec fd. */
static napi_value icmp_open(napi_env env, napi_callback_info info) {
  napi_value argv[1], v;
  int64_t ident = -1, ttl = -1;
  bool recv_err;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_get_prop(env, argv[0], "ident", &v));
  if (!netbe_is_nullish(env, v)) CHECK_ARG(netbe_arg_int(env, v, "options.ident", 0, 0xffff, &ident));
  CHECK_ARG(netbe_get_prop(env, argv[0], "ttl", &v));
  if (!netbe_is_nullish(env, v)) CHECK_ARG(netbe_arg_int(env, v, "options.ttl", 1, 255, &ttl));
  CHECK_ARG(netbe_get_prop(env, argv[0], "recvErr", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.recvErr", false, &recv_err));
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMP);
  if (fd < 0) return netbe_throw_errno(env, errno, "socket(IPPROTO_ICMP)", NULL);
  const char *what = NULL;
  int one = 1, t = (int)ttl;
  if (ttl >= 0 && setsockopt(fd, IPPROTO_IP, IP_TTL, &t, sizeof t) < 0) what = "setsockopt(IP_TTL)";
  if (!what && recv_err && setsockopt(fd, IPPROTO_IP, IP_RECVERR, &one, sizeof one) < 0) what = "setsockopt(IP_RECVERR)";
  if (!what && ident >= 0) {
    /* icmp(7): the port of the bound address is the echo identifier; 0 lets the kernel pick. */
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)ident);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) what = "bind(IPPROTO_ICMP)";
  }
  if (what) {
    int err = errno;
    close(fd);
    return netbe_throw_errno(env, err, what, NULL);
  }
  return netbe_int(env, fd);
}

/* icmpIdent(fd) -> the echo identifier the kernel puts in what this socket sends (0 if unbound). */
static napi_value icmp_ident(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(&a, 0, sizeof a);
  if (getsockname(fd, (struct sockaddr *)&a, &len) < 0) return netbe_throw_errno(env, errno, "getsockname", NULL);
  if (a.sin_family != AF_INET) return netbe_throw_errno(env, EAFNOSUPPORT, "getsockname", NULL);
  return netbe_int(env, ntohs(a.sin_port));
}

/* icmpSetTtl(fd, ttl) -> IP_TTL (1..255). */
static napi_value icmp_set_ttl(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t ttl;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_int(env, argv[1], "ttl", 1, 255, &ttl));
  int t = (int)ttl;
  if (setsockopt(fd, IPPROTO_IP, IP_TTL, &t, sizeof t) < 0) return netbe_throw_errno(env, errno, "setsockopt(IP_TTL)", NULL);
  return NULL;
}

/* icmpSendTo(fd, addr, message) -> bytes sent, or -1 when it would block. */
static napi_value icmp_send_to(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint32_t addr;
  uint8_t *data;
  size_t len;
  CHECK_ARG(netbe_args(env, info, 3, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(arg_addr(env, argv[1], "addr", &addr));
  CHECK_ARG(netbe_arg_u8(env, argv[2], "message", &data, &len));
  if (len < 8 || len > 65507) return netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "message must be 8..65507 bytes (an ICMP header and data), got %zu", len);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(addr);
  ssize_t n;
  do n = sendto(fd, data, len, 0, (struct sockaddr *)&a, sizeof a); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return netbe_int(env, -1);
    return netbe_throw_errno(env, errno, "sendto(IPPROTO_ICMP)", NULL);
  }
  return netbe_int(env, n);
}

/*
 * Parses (fd, buf), does one recvmsg (EINTR retried) into buf with `flags` and the optional
 * control buffer, and returns { length, address, truncated }; JS null when nothing is queued
 * (*got = false); NULL with an exception pending on error.
 */
static napi_value recv_one(napi_env env, napi_callback_info info, void *control, size_t control_len, int flags,
                           const char *syscall, struct msghdr *msg, bool *got) {
  napi_value argv[2], r;
  int fd;
  uint8_t *data;
  size_t len;
  *got = false;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_u8(env, argv[1], "buf", &data, &len));
  struct sockaddr_in from;
  memset(&from, 0, sizeof from);
  struct iovec iov = {.iov_base = data, .iov_len = len};
  memset(msg, 0, sizeof *msg);
  msg->msg_name = &from;
  msg->msg_namelen = sizeof from;
  msg->msg_iov = &iov;
  msg->msg_iovlen = 1;
  msg->msg_control = control;
  msg->msg_controllen = control_len;
  ssize_t n;
  do n = recvmsg(fd, msg, flags); while (n < 0 && errno == EINTR);
  msg->msg_iov = NULL; /* both live on this frame only */
  msg->msg_name = NULL;
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      NAPI_CALL(env, napi_get_null(env, &r));
      return r;
    }
    return netbe_throw_errno(env, errno, syscall, NULL);
  }
  NAPI_CALL(env, napi_create_object(env, &r));
  netbe_set_int(env, r, "length", n);
  NAPI_CALL(env, napi_set_named_property(env, r, "address", u32(env, ntohl(from.sin_addr.s_addr))));
  NAPI_CALL(env, napi_set_named_property(env, r, "truncated", netbe_bool(env, (msg->msg_flags & MSG_TRUNC) != 0)));
  *got = true;
  return r;
}

/* icmpRecvFrom(fd, buf) -> { length, address, truncated } or null when nothing is queued. */
static napi_value icmp_recv_from(napi_env env, napi_callback_info info) {
  struct msghdr msg;
  bool got;
  return recv_one(env, info, NULL, 0, 0, "recvmsg(IPPROTO_ICMP)", &msg, &got);
}

/*
 * icmpRecvError(fd, buf) -> { length, address, truncated, origin, type, code, info, errno,
 * offender } or null. One entry of the error queue (needs recvErr): `buf` gets the ICMP header
 * (+ data) of the message the error is about, `address` is where it was sent, `offender` who
 * reported the error (0 for a local error). `origin`: SO_EE_ORIGIN_* (2 = ICMP, 1 = local).
 */
static napi_value icmp_recv_error(napi_env env, napi_callback_info info) {
  union {
    char buf[CMSG_SPACE(sizeof(struct sock_extended_err) + sizeof(struct sockaddr_in)) + 64];
    struct cmsghdr align;
  } control;
  struct msghdr msg;
  bool got;
  napi_value r = recv_one(env, info, control.buf, sizeof control.buf, MSG_ERRQUEUE, "recvmsg(MSG_ERRQUEUE)", &msg, &got);
  if (!got) return r;
  const struct sock_extended_err *ee = NULL;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR && c->cmsg_len >= CMSG_LEN(sizeof *ee)) {
      ee = (const struct sock_extended_err *)CMSG_DATA(c);
      break;
    }
  }
  uint32_t offender = 0;
  if (ee) {
    const struct sockaddr *off = SO_EE_OFFENDER(ee);
    struct sockaddr_in oin;
    memcpy(&oin, off, sizeof oin); /* the cmsg buffer may be unaligned for sockaddr_in */
    if (oin.sin_family == AF_INET) offender = ntohl(oin.sin_addr.s_addr);
    netbe_set_int(env, r, "origin", ee->ee_origin);
    netbe_set_int(env, r, "type", ee->ee_type);
    netbe_set_int(env, r, "code", ee->ee_code);
    netbe_set_int(env, r, "info", ee->ee_info);
    netbe_set_int(env, r, "errno", ee->ee_errno);
  } else {
    netbe_set_int(env, r, "origin", 0);
    netbe_set_int(env, r, "type", 0);
    netbe_set_int(env, r, "code", 0);
    netbe_set_int(env, r, "info", 0);
    netbe_set_int(env, r, "errno", 0);
  }
  NAPI_CALL(env, napi_set_named_property(env, r, "offender", u32(env, offender)));
  return r;
}

void netbe_init_icmp(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"icmpOpen", icmp_open},
      {"icmpIdent", icmp_ident},
      {"icmpSetTtl", icmp_set_ttl},
      {"icmpSendTo", icmp_send_to},
      {"icmpRecvFrom", icmp_recv_from},
      {"icmpRecvError", icmp_recv_error},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "SO_EE_ORIGIN_LOCAL", SO_EE_ORIGIN_LOCAL);
  netbe_set_int(env, exports, "SO_EE_ORIGIN_ICMP", SO_EE_ORIGIN_ICMP);
}
