/*
 * Readiness watcher on any fd: a libuv uv_poll_t on Node's own loop (napi_get_uv_event_loop),
 * as serialport's Poller does. Level-triggered: while the fd stays readable and the watcher is
 * started, the callback keeps coming on each loop turn.
 *
 *   const w = watcherCreate(fd, (error, events) => {...});   // not started
 *   watcherStart(w, READABLE | WRITABLE); watcherStop(w); watcherClose(w);
 *
 * The uv_poll_t lives in its own allocation, freed by uv_close's callback; the JS-visible state
 * is freed by the handle object's finalizer (napi_wrap). A dropped handle is stopped and closed by the finalizer,
 * and environment teardown (process exit, a worker ending) closes every watcher still open.
 */
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <uv.h>

typedef struct watcher {
  napi_env env;
  napi_ref callback;
  uv_poll_t *poll; /* NULL once closed */
  int fd;
  bool hook_registered;
} watcher;

static void free_poll(uv_handle_t *handle) { free(handle); }

static void watcher_close_now(watcher *w) {
  if (w->poll) {
    uv_poll_stop(w->poll);
    w->poll->data = NULL;
    uv_close((uv_handle_t *)w->poll, free_poll);
    w->poll = NULL;
  }
  if (w->callback) {
    napi_delete_reference(w->env, w->callback);
    w->callback = NULL;
  }
}

static void watcher_cleanup_hook(void *arg) {
  watcher *w = arg;
  w->hook_registered = false;
  watcher_close_now(w);
}

static void watcher_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  watcher *w = data;
  if (w->hook_registered) {
    napi_remove_env_cleanup_hook(w->env, watcher_cleanup_hook, w);
    w->hook_registered = false;
  }
  watcher_close_now(w);
  free(w);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  watcher *w = handle->data;
  if (!w || !w->callback) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value fn, recv, argv[2], result;
  if (napi_get_reference_value(env, w->callback, &fn) == napi_ok && fn) {
    napi_get_global(env, &recv); /* napi_make_callback needs an object receiver */
    if (status < 0) {
      argv[0] = netbe_errno_error(env, -status, "poll", NULL);
      if (!argv[0]) napi_get_null(env, &argv[0]);
    } else {
      napi_get_null(env, &argv[0]);
    }
    argv[1] = netbe_int(env, status < 0 ? 0 : events);
    /* napi_make_callback runs the microtask queue afterwards, like any libuv-driven callback. */
    napi_status st = napi_make_callback(env, NULL, recv, fn, 2, argv, &result);
    if (st == napi_pending_exception) {
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Handles are plain objects wrapping the state and carrying this type tag (napi_type_tag). */
static const napi_type_tag WATCHER_TAG = {0x6e657462652d7379ULL, 0x7761746368657231ULL};

static bool arg_watcher(napi_env env, napi_value v, watcher **out) {
  napi_valuetype t;
  bool tagged = false;
  void *data = NULL;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_object ||
      napi_check_object_type_tag(env, v, &WATCHER_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, v, &data) != napi_ok || data == NULL) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "watcher must be a handle returned by watcherCreate()");
    return false;
  }
  *out = data;
  return true;
}

static napi_value watcher_create(napi_env env, napi_callback_info info) {
  napi_value argv[2], result;
  int fd;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_function(env, argv[1], "callback"));
  uv_loop_t *loop = NULL;
  NAPI_CALL(env, napi_get_uv_event_loop(env, &loop));
  watcher *w = calloc(1, sizeof *w);
  uv_poll_t *poll = calloc(1, sizeof *poll);
  if (!w || !poll) {
    free(w);
    free(poll);
    return netbe_throw_errno(env, ENOMEM, "calloc", NULL);
  }
  int rc = uv_poll_init(loop, poll, fd);
  if (rc < 0) {
    free(w);
    free(poll);
    return netbe_throw_errno(env, -rc, "uv_poll_init", NULL);
  }
  w->env = env;
  w->fd = fd;
  w->poll = poll;
  poll->data = w;
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok || napi_create_object(env, &result) != napi_ok ||
      napi_type_tag_object(env, result, &WATCHER_TAG) != napi_ok ||
      napi_wrap(env, result, w, watcher_finalize, NULL, NULL) != napi_ok) {
    watcher_close_now(w);
    free(w);
    NAPI_CALL(env, napi_generic_failure);
  }
  if (napi_add_env_cleanup_hook(env, watcher_cleanup_hook, w) == napi_ok) w->hook_registered = true;
  return result;
}

/* watcherStart(w, events): events is READABLE (1) | WRITABLE (2); replaces the previous set. */
static napi_value watcher_start(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  watcher *w;
  int64_t events;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(arg_watcher(env, argv[0], &w));
  CHECK_ARG(netbe_arg_int(env, argv[1], "events", 1, UV_READABLE | UV_WRITABLE | UV_DISCONNECT, &events));
  if (!w->poll) return netbe_throw_errno(env, EBADF, "watcherStart (watcher closed)", NULL);
  /* libuv aborts the process when epoll_ctl fails on a closed fd: refuse it here instead. */
  if (fcntl(w->fd, F_GETFD) < 0) return netbe_throw_errno(env, errno, "watcherStart (fd not open)", NULL);
  int rc = uv_poll_start(w->poll, (int)events, on_poll);
  if (rc < 0) return netbe_throw_errno(env, -rc, "uv_poll_start", NULL);
  return NULL;
}

static napi_value watcher_stop(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  watcher *w;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(arg_watcher(env, argv[0], &w));
  if (w->poll) uv_poll_stop(w->poll);
  return NULL;
}

/* watcherClose(w): stops and releases the watcher (idempotent). Does not close the fd. */
static napi_value watcher_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  watcher *w;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(arg_watcher(env, argv[0], &w));
  if (w->hook_registered) {
    napi_remove_env_cleanup_hook(env, watcher_cleanup_hook, w);
    w->hook_registered = false;
  }
  watcher_close_now(w);
  return NULL;
}

void netbe_init_watcher(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"watcherCreate", watcher_create},
      {"watcherStart", watcher_start},
      {"watcherStop", watcher_stop},
      {"watcherClose", watcher_close},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "READABLE", UV_READABLE);
  netbe_set_int(env, exports, "WRITABLE", UV_WRITABLE);
  netbe_set_int(env, exports, "DISCONNECT", UV_DISCONNECT);
}
