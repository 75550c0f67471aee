/* @netbe/sys: the syscalls netbe needs that Node does not offer. See README.md for the API. */
#include "common.h"

static napi_value init(napi_env env, napi_value exports) {
  netbe_init_io(env, exports);
  netbe_init_tap(env, exports);
  netbe_init_link(env, exports);
  netbe_init_watcher(env, exports);
  netbe_init_unix(env, exports);
  netbe_init_mem(env, exports);
  netbe_init_eventfd(env, exports);
  netbe_init_packet(env, exports);
  netbe_init_icmp(env, exports);
  return exports;
}

NAPI_MODULE_INIT() { return init(env, exports); }
