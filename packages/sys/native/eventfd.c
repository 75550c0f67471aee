/*
 * eventfd(2) for vhost-user kick and call notifications: non-blocking, close-on-exec.
 * eventfdRead returns the counter (and resets it, or decrements by 1 in semaphore mode), or -1
 * when the counter is zero. eventfdWrite adds to the counter; false when it would overflow.
 */
#include "common.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

static napi_value efd_create(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  int64_t initval = 0;
  bool semaphore;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  if (!netbe_is_nullish(env, argv[0])) CHECK_ARG(netbe_arg_int(env, argv[0], "initval", 0, UINT32_MAX, &initval));
  CHECK_ARG(netbe_get_prop(env, argv[1], "semaphore", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.semaphore", false, &semaphore));
  int fd = eventfd((unsigned int)initval, EFD_NONBLOCK | EFD_CLOEXEC | (semaphore ? EFD_SEMAPHORE : 0));
  if (fd < 0) return netbe_throw_errno(env, errno, "eventfd", NULL);
  return netbe_int(env, fd);
}

static napi_value efd_read(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  uint64_t value = 0;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  ssize_t n;
  do n = read(fd, &value, sizeof value); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return netbe_int(env, -1);
    return netbe_throw_errno(env, errno, "read(eventfd)", NULL);
  }
  if (n != sizeof value) return netbe_throw_errno(env, EINVAL, "read(eventfd): short read", NULL);
  napi_value r;
  NAPI_CALL(env, napi_create_double(env, (double)value, &r));
  return r;
}

static napi_value efd_write(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t add = 1;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  if (!netbe_is_nullish(env, argv[1])) CHECK_ARG(netbe_arg_int(env, argv[1], "value", 1, ((int64_t)1 << 53) - 1, &add));
  uint64_t value = (uint64_t)add;
  ssize_t n;
  do n = write(fd, &value, sizeof value); while (n < 0 && errno == EINTR);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return netbe_bool(env, false);
    return netbe_throw_errno(env, errno, "write(eventfd)", NULL);
  }
  return netbe_bool(env, true);
}

void netbe_init_eventfd(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"eventfdCreate", efd_create},
      {"eventfdRead", efd_read},
      {"eventfdWrite", efd_write},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
}
