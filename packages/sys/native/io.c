/*
 * Plain fd I/O: close, read, write, readv, writev, setNonBlocking. The vectored calls take an
 * array of Uint8Array and a count and hand the views' memory straight to the kernel (no copy).
 * "Would block" (EAGAIN) is not an error: those calls return -1 instead of throwing.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#define IOV_LIMIT 1024 /* Linux UIO_MAXIOV */

static napi_value io_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  /* After EINTR the fd is released on Linux; retrying could close someone else's fd. */
  if (close(fd) < 0 && errno != EINTR) return netbe_throw_errno(env, errno, "close", NULL);
  return NULL;
}

/* Fills `iov` from JS array `list[0..count)`; returns false after throwing. */
static bool gather_iov(napi_env env, napi_value list, napi_value count_v, struct iovec *iov, int *count) {
  bool is_array = false;
  if (napi_is_array(env, list, &is_array) != napi_ok || !is_array) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "buffers must be an array of Uint8Array");
    return false;
  }
  uint32_t length = 0;
  napi_get_array_length(env, list, &length);
  int64_t n;
  if (netbe_is_nullish(env, count_v)) {
    n = length;
    if (n > IOV_LIMIT) {
      netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "buffers has %lld entries; at most %d are allowed", (long long)n, IOV_LIMIT);
      return false;
    }
  } else if (!netbe_arg_int(env, count_v, "count", 0, length < IOV_LIMIT ? length : IOV_LIMIT, &n)) {
    return false;
  }
  for (int64_t i = 0; i < n; i++) {
    napi_value item;
    uint8_t *data;
    size_t len;
    if (napi_get_element(env, list, (uint32_t)i, &item) != napi_ok) {
      netbe_throw_napi(env, napi_generic_failure, "napi_get_element");
      return false;
    }
    if (!netbe_arg_u8(env, item, "buffers[i]", &data, &len)) return false;
    iov[i].iov_base = data;
    iov[i].iov_len = len;
  }
  *count = (int)n;
  return true;
}

static napi_value rw_result(napi_env env, ssize_t n, const char *syscall) {
  if (n >= 0) return netbe_int(env, n);
  if (errno == EAGAIN || errno == EWOULDBLOCK) return netbe_int(env, -1);
  return netbe_throw_errno(env, errno, syscall, NULL);
}

static napi_value io_readv(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd, count;
  struct iovec iov[IOV_LIMIT];
  CHECK_ARG(netbe_args(env, info, 3, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(gather_iov(env, argv[1], argv[2], iov, &count));
  ssize_t n;
  do n = readv(fd, iov, count); while (n < 0 && errno == EINTR);
  return rw_result(env, n, "readv");
}

static napi_value io_writev(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd, count;
  struct iovec iov[IOV_LIMIT];
  CHECK_ARG(netbe_args(env, info, 3, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(gather_iov(env, argv[1], argv[2], iov, &count));
  ssize_t n;
  do n = writev(fd, iov, count); while (n < 0 && errno == EINTR);
  return rw_result(env, n, "writev");
}

/* read(fd, buf[, offset[, length]]) */
static bool slice_args(napi_env env, napi_value *argv, uint8_t **data, size_t *len) {
  int64_t off = 0, n;
  if (!netbe_arg_u8(env, argv[1], "buffer", data, len)) return false;
  if (!netbe_is_nullish(env, argv[2]) && !netbe_arg_int(env, argv[2], "offset", 0, (int64_t)*len, &off)) return false;
  n = (int64_t)*len - off;
  if (!netbe_is_nullish(env, argv[3]) && !netbe_arg_int(env, argv[3], "length", 0, (int64_t)*len - off, &n)) return false;
  *data += off;
  *len = (size_t)n;
  return true;
}

static napi_value rw_one(napi_env env, napi_callback_info info, bool writing) {
  napi_value argv[4];
  int fd;
  uint8_t *data;
  size_t len;
  CHECK_ARG(netbe_args(env, info, 4, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(slice_args(env, argv, &data, &len));
  ssize_t n;
  do n = writing ? write(fd, data, len) : read(fd, data, len); while (n < 0 && errno == EINTR);
  return rw_result(env, n, writing ? "write" : "read");
}

static napi_value io_read(napi_env env, napi_callback_info info) { return rw_one(env, info, false); }
static napi_value io_write(napi_env env, napi_callback_info info) { return rw_one(env, info, true); }

static napi_value io_set_nonblocking(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  bool on;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_bool(env, argv[1], "nonBlocking", true, &on));
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return netbe_throw_errno(env, errno, "fcntl", NULL);
  flags = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (fcntl(fd, F_SETFL, flags) < 0) return netbe_throw_errno(env, errno, "fcntl", NULL);
  return NULL;
}

void netbe_init_io(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"close", io_close}, {"read", io_read},   {"write", io_write},
      {"readv", io_readv}, {"writev", io_writev}, {"setNonBlocking", io_set_nonblocking},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "IOV_MAX", IOV_LIMIT);
}
