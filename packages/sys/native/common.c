#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

static bool pending(napi_env env) {
  bool is_pending = false;
  napi_is_exception_pending(env, &is_pending);
  return is_pending;
}

void netbe_throw_napi(napi_env env, napi_status status, const char *what) {
  if (pending(env)) return;
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  char msg[256];
  snprintf(msg, sizeof msg, "node-api call failed (%d: %s): %s", (int)status,
           info && info->error_message ? info->error_message : "unknown", what);
  napi_throw_error(env, "ERR_NAPI", msg);
}

static const char *errno_name(int err) {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 32))
  const char *name = strerrorname_np(err);
  if (name) return name;
#endif
  return uv_err_name(-err); /* libuv error codes are negated errno values on Unix */
}

napi_value netbe_errno_error(napi_env env, int err, const char *syscall, const char *path) {
  const char *code = errno_name(err);
  char msg[512];
  if (path)
    snprintf(msg, sizeof msg, "%s: %s, %s '%s'", code, strerror(err), syscall, path);
  else
    snprintf(msg, sizeof msg, "%s: %s, %s", code, strerror(err), syscall);
  napi_value code_v, msg_v, error, v;
  if (napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &code_v) != napi_ok) return NULL;
  if (napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &msg_v) != napi_ok) return NULL;
  if (napi_create_error(env, code_v, msg_v, &error) != napi_ok) return NULL;
  netbe_set_int(env, error, "errno", err);
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, error, "syscall", v);
  if (path && napi_create_string_utf8(env, path, NAPI_AUTO_LENGTH, &v) == napi_ok)
    napi_set_named_property(env, error, "path", v);
  return error;
}

napi_value netbe_throw_errno(napi_env env, int err, const char *syscall, const char *path) {
  if (pending(env)) return NULL;
  napi_value error = netbe_errno_error(env, err, syscall, path);
  if (error) napi_throw(env, error);
  return NULL;
}

napi_value netbe_throw_type(napi_env env, const char *code, const char *fmt, ...) {
  if (pending(env)) return NULL;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  napi_throw_type_error(env, code, msg);
  return NULL;
}

bool netbe_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (want > MAX_ARGS) return false;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) {
    netbe_throw_napi(env, napi_generic_failure, "napi_get_cb_info");
    return false;
  }
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  for (size_t i = argc; i < want; i++) argv[i] = undefined;
  return true;
}

bool netbe_is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

bool netbe_arg_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_number) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "%s must be a number", name);
    return false;
  }
  double d;
  napi_get_value_double(env, v, &d);
  if (!isfinite(d) || d != floor(d)) {
    netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "%s must be an integer, got %g", name, d);
    return false;
  }
  if (d < (double)min || d > (double)max) {
    netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "%s must be within %lld..%lld, got %.0f", name,
                     (long long)min, (long long)max, d);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool netbe_arg_fd(napi_env env, napi_value v, const char *name, int *out) {
  int64_t fd;
  if (!netbe_arg_int(env, v, name, 0, INT32_MAX, &fd)) return false;
  *out = (int)fd;
  return true;
}

bool netbe_arg_bool(napi_env env, napi_value v, const char *name, bool fallback, bool *out) {
  if (netbe_is_nullish(env, v)) {
    *out = fallback;
    return true;
  }
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_boolean) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "%s must be a boolean", name);
    return false;
  }
  napi_get_value_bool(env, v, out);
  return true;
}

bool netbe_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t max, size_t *len) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "%s must be a string", name);
    return false;
  }
  size_t need = 0;
  napi_get_value_string_utf8(env, v, NULL, 0, &need);
  if (need > max) {
    netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "%s is %zu bytes long; at most %zu are allowed", name, need, max);
    return false;
  }
  size_t got = 0;
  napi_get_value_string_utf8(env, v, buf, max + 1, &got);
  if (memchr(buf, 0, got) != NULL) {
    netbe_throw_type(env, "ERR_INVALID_ARG_VALUE", "%s must not contain NUL characters", name);
    return false;
  }
  if (len) *len = got;
  return true;
}

bool netbe_arg_u8(napi_env env, napi_value v, const char *name, uint8_t **data, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, (void **)data, NULL, NULL) != napi_ok || type != napi_uint8_array) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "%s must be a Uint8Array", name);
    return false;
  }
  if (*data == NULL) *len = 0; /* a detached buffer */
  return true;
}

bool netbe_arg_function(napi_env env, napi_value v, const char *name) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_function) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "%s must be a function", name);
    return false;
  }
  return true;
}

bool netbe_get_prop(napi_env env, napi_value obj, const char *key, napi_value *out) {
  if (netbe_is_nullish(env, obj)) {
    napi_get_undefined(env, out);
    return true;
  }
  napi_valuetype t;
  if (napi_typeof(env, obj, &t) != napi_ok || t != napi_object) {
    netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "options must be an object");
    return false;
  }
  if (napi_get_named_property(env, obj, key, out) != napi_ok) {
    netbe_throw_napi(env, napi_generic_failure, key);
    return false;
  }
  return true;
}

napi_value netbe_int(napi_env env, int64_t v) {
  napi_value r = NULL;
  napi_create_int64(env, v, &r);
  return r;
}

napi_value netbe_bool(napi_env env, bool v) {
  napi_value r = NULL;
  napi_get_boolean(env, v, &r);
  return r;
}

void netbe_set_int(napi_env env, napi_value obj, const char *key, int64_t v) {
  napi_value n = netbe_int(env, v);
  if (n) napi_set_named_property(env, obj, key, n);
}

void netbe_define(napi_env env, napi_value exports, const netbe_export *list, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value fn;
    if (napi_create_function(env, list[i].name, NAPI_AUTO_LENGTH, list[i].fn, NULL, &fn) == napi_ok)
      napi_set_named_property(env, exports, list[i].name, fn);
  }
}
