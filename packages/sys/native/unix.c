/*
 * Unix-domain sockets for vhost-user: listen at a path, accept, connect, socketpair, and
 * recvmsg/sendmsg carrying file descriptors (SCM_RIGHTS, unix(7)). Sockets are close-on-exec;
 * listening and accepted sockets are non-blocking. "Would block" is not an error.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define SCM_MAX_FDS 253 /* Linux SCM_MAX_FD */
#define SEND_IOV_LIMIT 64

static bool arg_sockaddr(napi_env env, napi_value v, struct sockaddr_un *addr, char *path) {
  size_t len;
  if (!netbe_arg_string(env, v, "path", path, 4095, &len)) return false;
  if (len == 0) {
    netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "path must not be empty");
    return false;
  }
  if (len >= sizeof addr->sun_path) {
    netbe_throw_errno(env, ENAMETOOLONG, "bind/connect (unix socket path longer than 107 bytes)", path);
    return false;
  }
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path, len);
  return true;
}

/* unixListen(path, backlog = 16) -> fd. Fails with EADDRINUSE if the path exists. */
static napi_value unix_listen(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct sockaddr_un addr;
  char path[4096];
  int64_t backlog = 16;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(arg_sockaddr(env, argv[0], &addr, path));
  if (!netbe_is_nullish(env, argv[1])) CHECK_ARG(netbe_arg_int(env, argv[1], "backlog", 0, 65535, &backlog));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return netbe_throw_errno(env, errno, "socket", NULL);
  if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int err = errno;
    close(fd);
    return netbe_throw_errno(env, err, "bind", path);
  }
  if (listen(fd, (int)backlog) < 0) {
    int err = errno;
    close(fd);
    return netbe_throw_errno(env, err, "listen", path);
  }
  return netbe_int(env, fd);
}

/* unixAccept(fd) -> new non-blocking fd, or -1 when no connection is pending. */
static napi_value unix_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd, conn;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  do conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC); while (conn < 0 && errno == EINTR);
  if (conn >= 0) return netbe_int(env, conn);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return netbe_int(env, -1);
  return netbe_throw_errno(env, errno, "accept4", NULL);
}

/* unixConnect(path, nonBlocking = true) -> fd. The connect itself is blocking (immediate). */
static napi_value unix_connect(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct sockaddr_un addr;
  char path[4096];
  bool non_blocking;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(arg_sockaddr(env, argv[0], &addr, path));
  CHECK_ARG(netbe_arg_bool(env, argv[1], "nonBlocking", true, &non_blocking));
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return netbe_throw_errno(env, errno, "socket", NULL);
  int rc;
  do rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); while (rc < 0 && errno == EINTR);
  if (rc < 0 || (non_blocking && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)) {
    int err = errno;
    close(fd);
    return netbe_throw_errno(env, err, "connect", path);
  }
  return netbe_int(env, fd);
}

/* socketpair(type = 'stream', nonBlocking = true) -> [fd, fd]; type: stream|seqpacket|dgram. */
static napi_value unix_socketpair(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  char type_name[16] = "stream";
  bool non_blocking;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  if (!netbe_is_nullish(env, argv[0])) CHECK_ARG(netbe_arg_string(env, argv[0], "type", type_name, 15, NULL));
  CHECK_ARG(netbe_arg_bool(env, argv[1], "nonBlocking", true, &non_blocking));
  int type;
  if (strcmp(type_name, "stream") == 0) type = SOCK_STREAM;
  else if (strcmp(type_name, "seqpacket") == 0) type = SOCK_SEQPACKET;
  else if (strcmp(type_name, "dgram") == 0) type = SOCK_DGRAM;
  else return netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "type must be 'stream', 'seqpacket' or 'dgram'");
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | (non_blocking ? SOCK_NONBLOCK : 0), 0, sv) < 0)
    return netbe_throw_errno(env, errno, "socketpair", NULL);
  if (napi_create_array_with_length(env, 2, &result) != napi_ok) {
    close(sv[0]);
    close(sv[1]);
    NAPI_CALL(env, napi_generic_failure);
  }
  napi_set_element(env, result, 0, netbe_int(env, sv[0]));
  napi_set_element(env, result, 1, netbe_int(env, sv[1]));
  return result;
}

/*
 * recvmsg(fd, buffer, maxFds = 0) -> { bytes, fds, fdsDropped, controlTruncated, dataTruncated }
 * or null when nothing is waiting. bytes 0 = the peer closed. Received fds beyond maxFds are
 * closed here and counted in fdsDropped; controlTruncated means the kernel dropped some (only
 * past 253). Received fds are close-on-exec.
 */
static napi_value unix_recvmsg(napi_env env, napi_callback_info info) {
  napi_value argv[3], result, fds_v;
  int fd;
  uint8_t *data;
  size_t len;
  int64_t max_fds = 0;
  CHECK_ARG(netbe_args(env, info, 3, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_u8(env, argv[1], "buffer", &data, &len));
  if (!netbe_is_nullish(env, argv[2])) CHECK_ARG(netbe_arg_int(env, argv[2], "maxFds", 0, SCM_MAX_FDS, &max_fds));

  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * SCM_MAX_FDS)];
  } control;
  struct iovec iov = {.iov_base = data, .iov_len = len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control.buf;
  msg.msg_controllen = sizeof control.buf;
  ssize_t n;
  do n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      napi_value null_v;
      napi_get_null(env, &null_v);
      return null_v;
    }
    return netbe_throw_errno(env, errno, "recvmsg", NULL);
  }

  int kept[SCM_MAX_FDS];
  int nkept = 0, dropped = 0;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    int *passed = (int *)CMSG_DATA(c);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, passed + i, sizeof got);
      if (nkept < max_fds) kept[nkept++] = got;
      else {
        close(got);
        dropped++;
      }
    }
  }

  if (napi_create_object(env, &result) != napi_ok || napi_create_array_with_length(env, nkept, &fds_v) != napi_ok) {
    for (int i = 0; i < nkept; i++) close(kept[i]);
    NAPI_CALL(env, napi_generic_failure);
  }
  for (int i = 0; i < nkept; i++) napi_set_element(env, fds_v, i, netbe_int(env, kept[i]));
  netbe_set_int(env, result, "bytes", n);
  napi_set_named_property(env, result, "fds", fds_v);
  netbe_set_int(env, result, "fdsDropped", dropped);
  napi_set_named_property(env, result, "controlTruncated", netbe_bool(env, (msg.msg_flags & MSG_CTRUNC) != 0));
  napi_set_named_property(env, result, "dataTruncated", netbe_bool(env, (msg.msg_flags & MSG_TRUNC) != 0));
  return result;
}

/* sendmsg(fd, data: Uint8Array | Uint8Array[], fds = []) -> bytes sent, or -1 when it would block. */
static napi_value unix_sendmsg(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  struct iovec iov[SEND_IOV_LIMIT];
  size_t niov = 0;
  CHECK_ARG(netbe_args(env, info, 3, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (is_array) {
    uint32_t length = 0;
    napi_get_array_length(env, argv[1], &length);
    if (length > SEND_IOV_LIMIT)
      return netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "data has %u parts; at most %d are allowed", length, SEND_IOV_LIMIT);
    for (uint32_t i = 0; i < length; i++) {
      napi_value item;
      uint8_t *p;
      size_t l;
      NAPI_CALL(env, napi_get_element(env, argv[1], i, &item));
      CHECK_ARG(netbe_arg_u8(env, item, "data[i]", &p, &l));
      iov[niov].iov_base = p;
      iov[niov++].iov_len = l;
    }
  } else {
    uint8_t *p;
    size_t l;
    CHECK_ARG(netbe_arg_u8(env, argv[1], "data", &p, &l));
    iov[0].iov_base = p;
    iov[0].iov_len = l;
    niov = 1;
  }

  int fds[SCM_MAX_FDS];
  uint32_t nfds = 0;
  if (!netbe_is_nullish(env, argv[2])) {
    bool fds_array = false;
    napi_is_array(env, argv[2], &fds_array);
    if (!fds_array) return netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "fds must be an array of numbers");
    napi_get_array_length(env, argv[2], &nfds);
    if (nfds > SCM_MAX_FDS)
      return netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "fds has %u entries; at most %d are allowed", nfds, SCM_MAX_FDS);
    for (uint32_t i = 0; i < nfds; i++) {
      napi_value item;
      NAPI_CALL(env, napi_get_element(env, argv[2], i, &item));
      CHECK_ARG(netbe_arg_fd(env, item, "fds[i]", &fds[i]));
    }
  }

  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * SCM_MAX_FDS)];
  } control;
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = niov;
  if (nfds > 0) {
    memset(control.buf, 0, CMSG_SPACE(sizeof(int) * nfds));
    msg.msg_control = control.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  ssize_t n;
  do n = sendmsg(fd, &msg, MSG_NOSIGNAL); while (n < 0 && errno == EINTR);
  if (n >= 0) return netbe_int(env, n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return netbe_int(env, -1);
  return netbe_throw_errno(env, errno, "sendmsg", NULL);
}

void netbe_init_unix(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"unixListen", unix_listen},   {"unixAccept", unix_accept}, {"unixConnect", unix_connect},
      {"socketpair", unix_socketpair}, {"recvmsg", unix_recvmsg},   {"sendmsg", unix_sendmsg},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "SCM_MAX_FDS", SCM_MAX_FDS);
}
