/*
 * Shared helpers for the @netbe/sys addon: argument validation (a bad argument throws
 * TypeError) and errno errors (a failed syscall throws an Error whose `code` is the errno name
 * and whose `errno` is the positive errno number). Nothing here asserts or aborts.
 */
#ifndef NETBE_SYS_COMMON_H
#define NETBE_SYS_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAX_ARGS 8

/* Evaluates a napi call; on failure throws (unless an exception is pending) and returns NULL. */
#define NAPI_CALL(env, call)                                                                      \
  do {                                                                                            \
    napi_status status_ = (call);                                                                 \
    if (status_ != napi_ok) {                                                                     \
      netbe_throw_napi(env, status_, #call);                                                      \
      return NULL;                                                                                \
    }                                                                                             \
  } while (0)

/* Returns NULL from the calling function when `ok` is false (an exception is already thrown). */
#define CHECK_ARG(ok)                                                                             \
  do {                                                                                            \
    if (!(ok)) return NULL;                                                                       \
  } while (0)

typedef struct {
  const char *name;
  napi_callback fn;
} netbe_export;

void netbe_throw_napi(napi_env env, napi_status status, const char *what);
/* Throws Error{code: errno name, errno: err, syscall, path?}. Returns NULL for `return`. */
napi_value netbe_throw_errno(napi_env env, int err, const char *syscall, const char *path);
napi_value netbe_throw_type(napi_env env, const char *code, const char *fmt, ...);
/* Builds (does not throw) the same error object as netbe_throw_errno. */
napi_value netbe_errno_error(napi_env env, int err, const char *syscall, const char *path);

/* Fetches up to MAX_ARGS arguments; missing ones are `undefined`. Returns false on failure. */
bool netbe_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv);

bool netbe_is_nullish(napi_env env, napi_value v);
/* A file descriptor: an integer number 0..INT32_MAX. */
bool netbe_arg_fd(napi_env env, napi_value v, const char *name, int *out);
/* An integer number within [min, max] (both within ±2^53). */
bool netbe_arg_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out);
bool netbe_arg_bool(napi_env env, napi_value v, const char *name, bool fallback, bool *out);
/* A string whose UTF-8 form has at most `max` bytes (excluding NUL); buf must hold max+1. */
bool netbe_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t max, size_t *len);
bool netbe_arg_u8(napi_env env, napi_value v, const char *name, uint8_t **data, size_t *len);
bool netbe_arg_function(napi_env env, napi_value v, const char *name);
/* Reads property `key` of object `obj` (undefined when obj is nullish). */
bool netbe_get_prop(napi_env env, napi_value obj, const char *key, napi_value *out);

napi_value netbe_int(napi_env env, int64_t v);
napi_value netbe_bool(napi_env env, bool v);
void netbe_set_int(napi_env env, napi_value obj, const char *key, int64_t v);
void netbe_define(napi_env env, napi_value exports, const netbe_export *list, size_t n);

/* One per source file: adds that file's functions and constants to `exports`. */
void netbe_init_io(napi_env env, napi_value exports);
void netbe_init_tap(napi_env env, napi_value exports);
void netbe_init_link(napi_env env, napi_value exports);
void netbe_init_watcher(napi_env env, napi_value exports);
void netbe_init_unix(napi_env env, napi_value exports);
void netbe_init_mem(napi_env env, napi_value exports);
void netbe_init_eventfd(napi_env env, napi_value exports);
void netbe_init_packet(napi_env env, napi_value exports);
void netbe_init_icmp(napi_env env, napi_value exports);

#endif
