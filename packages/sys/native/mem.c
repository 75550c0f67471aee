/*
 * Shared memory for vhost-user: memfd_create, ftruncate, fstat, and mmap of an fd into an
 * external ArrayBuffer. munmap(buffer) detaches the ArrayBuffer first (every view then reads as
 * length 0, so no access can reach the unmapped pages) and then unmaps; a mapping nobody
 * unmapped is unmapped when the ArrayBuffer is collected.
 *
 * State per mapping is shared by two finalizers (the ArrayBuffer's backing store and the
 * napi_wrap on the ArrayBuffer object): it is freed when both have run.
 */
#include "common.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct mapping {
  void *addr;
  size_t length;
  bool unmapped;
  int refs;
} mapping;

static const napi_type_tag MAPPING_TAG = {0x6e657462652d7379ULL, 0x6d617070696e6731ULL};

static void mapping_release(mapping *m) {
  if (--m->refs == 0) free(m);
}

static void mapping_unmap(mapping *m) {
  if (!m->unmapped) {
    m->unmapped = true;
    munmap(m->addr, m->length);
  }
}

/* The backing store is gone: nothing can reach the pages any more. */
static void on_buffer_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)data;
  mapping *m = hint;
  mapping_unmap(m);
  mapping_release(m);
}

static void on_wrap_free(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  mapping_release(data);
}

/* memfdCreate(name, { allowSealing = false }?) -> fd (close-on-exec) */
static napi_value mem_memfd_create(napi_env env, napi_callback_info info) {
  napi_value argv[2], v;
  char name[250];
  bool sealing;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_string(env, argv[0], "name", name, 249, NULL));
  CHECK_ARG(netbe_get_prop(env, argv[1], "allowSealing", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.allowSealing", false, &sealing));
  int fd = memfd_create(name, MFD_CLOEXEC | (sealing ? MFD_ALLOW_SEALING : 0));
  if (fd < 0) return netbe_throw_errno(env, errno, "memfd_create", name);
  return netbe_int(env, fd);
}

static napi_value mem_ftruncate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  int64_t size;
  CHECK_ARG(netbe_args(env, info, 2, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_int(env, argv[1], "size", 0, (int64_t)1 << 53, &size));
  int rc;
  do rc = ftruncate(fd, (off_t)size); while (rc < 0 && errno == EINTR);
  if (rc < 0) return netbe_throw_errno(env, errno, "ftruncate", NULL);
  return NULL;
}

/* fstat(fd) -> { size, mode, ino, dev, nlink, uid, gid } */
static napi_value mem_fstat(napi_env env, napi_callback_info info) {
  napi_value argv[1], result;
  int fd;
  struct stat st;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  if (fstat(fd, &st) < 0) return netbe_throw_errno(env, errno, "fstat", NULL);
  NAPI_CALL(env, napi_create_object(env, &result));
  netbe_set_int(env, result, "size", st.st_size);
  netbe_set_int(env, result, "mode", st.st_mode);
  netbe_set_int(env, result, "ino", (int64_t)st.st_ino);
  netbe_set_int(env, result, "dev", (int64_t)st.st_dev);
  netbe_set_int(env, result, "nlink", (int64_t)st.st_nlink);
  netbe_set_int(env, result, "uid", st.st_uid);
  netbe_set_int(env, result, "gid", st.st_gid);
  return result;
}

/*
 * mmap(fd, offset, length, { write = true, shared = true }?) -> ArrayBuffer over the mapping.
 * offset must be a multiple of the page size (EINVAL otherwise, from the kernel).
 */
static napi_value mem_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[4], v, result;
  int fd;
  int64_t offset, length;
  bool write, shared;
  CHECK_ARG(netbe_args(env, info, 4, argv));
  CHECK_ARG(netbe_arg_fd(env, argv[0], "fd", &fd));
  CHECK_ARG(netbe_arg_int(env, argv[1], "offset", 0, (int64_t)1 << 53, &offset));
  CHECK_ARG(netbe_arg_int(env, argv[2], "length", 1, (int64_t)1 << 53, &length));
  CHECK_ARG(netbe_get_prop(env, argv[3], "write", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.write", true, &write));
  CHECK_ARG(netbe_get_prop(env, argv[3], "shared", &v));
  CHECK_ARG(netbe_arg_bool(env, v, "options.shared", true, &shared));

  mapping *m = calloc(1, sizeof *m);
  if (!m) return netbe_throw_errno(env, ENOMEM, "calloc", NULL);
  void *addr = mmap(NULL, (size_t)length, PROT_READ | (write ? PROT_WRITE : 0), shared ? MAP_SHARED : MAP_PRIVATE, fd,
                    (off_t)offset);
  if (addr == MAP_FAILED) {
    int err = errno;
    free(m);
    return netbe_throw_errno(env, err, "mmap", NULL);
  }
  m->addr = addr;
  m->length = (size_t)length;
  m->refs = 1;
  if (napi_create_external_arraybuffer(env, addr, (size_t)length, on_buffer_free, m, &result) != napi_ok) {
    munmap(addr, (size_t)length);
    free(m);
    NAPI_CALL(env, napi_generic_failure);
  }
  /* From here the backing store's finalizer owns one reference; the wrap takes a second. */
  m->refs = 2;
  if (napi_type_tag_object(env, result, &MAPPING_TAG) != napi_ok ||
      napi_wrap(env, result, m, on_wrap_free, NULL, NULL) != napi_ok) {
    m->refs = 1; /* the buffer's finalizer will unmap and free */
    NAPI_CALL(env, napi_generic_failure);
  }
  return result;
}

/* munmap(buffer) -> true if this call unmapped it, false if it was already unmapped. */
static napi_value mem_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  bool tagged = false, is_ab = false;
  void *data = NULL;
  CHECK_ARG(netbe_args(env, info, 1, argv));
  if (napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok || !is_ab ||
      napi_check_object_type_tag(env, argv[0], &MAPPING_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, argv[0], &data) != napi_ok || !data)
    return netbe_throw_type(env, "ERR_INVALID_ARG_TYPE", "buffer must be an ArrayBuffer returned by mmap()");
  mapping *m = data;
  if (m->unmapped) return netbe_bool(env, false);
  /* Detach first so that no view can reach the pages once they are gone. */
  napi_status st = napi_detach_arraybuffer(env, argv[0]);
  if (st != napi_ok) {
    NAPI_CALL(env, st);
  }
  mapping_unmap(m);
  return netbe_bool(env, true);
}

void netbe_init_mem(napi_env env, napi_value exports) {
  static const netbe_export list[] = {
      {"memfdCreate", mem_memfd_create}, {"ftruncate", mem_ftruncate}, {"fstat", mem_fstat},
      {"mmap", mem_mmap},                {"munmap", mem_munmap},
  };
  netbe_define(env, exports, list, sizeof list / sizeof list[0]);
  netbe_set_int(env, exports, "PAGE_SIZE", sysconf(_SC_PAGESIZE));
}
