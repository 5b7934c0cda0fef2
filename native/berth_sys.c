// Syscalls Node does not expose, kept to the few that berth's hot paths need.
// Each function throws a JS Error carrying errno's name in `code` on failure.
#define _GNU_SOURCE
#include <node_api.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <stdlib.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <sched.h>
#include <sys/file.h>
#include <pthread.h>

static const char *errno_name(int e) {
  switch (e) {
  case ENOENT: return "ENOENT"; case EEXIST: return "EEXIST"; case EPERM: return "EPERM";
  case EACCES: return "EACCES"; case EINVAL: return "EINVAL"; case EBUSY: return "EBUSY";
  case ENOTDIR: return "ENOTDIR"; case ECONNREFUSED: return "ECONNREFUSED"; case ENODATA: return "ENODATA";
  case ENOTSUP: return "ENOTSUP"; case ENAMETOOLONG: return "ENAMETOOLONG"; case ELOOP: return "ELOOP";
  case EXDEV: return "EXDEV"; case ENOSPC: return "ENOSPC";
  case EAGAIN: return "EAGAIN"; case ENOSYS: return "ENOSYS"; case ERANGE: return "ERANGE";
  case ENOTEMPTY: return "ENOTEMPTY"; case EISDIR: return "EISDIR";
  default: return "EIO";
  }
}

/* An Error "<what>: <strerror>" with code "E...", to throw or to reject a promise with. */
static napi_value errno_error(napi_env env, const char *what, int e) {
  char msg[4200];
  snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
  napi_value code, text, err;
  napi_create_string_utf8(env, errno_name(e), NAPI_AUTO_LENGTH, &code);
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, code, text, &err);
  return err;
}

static napi_value throw_errno(napi_env env, const char *what, int e) {
  napi_throw(env, errno_error(env, what, e));
  return NULL;
}

static int get_string(napi_env env, napi_value v, char *buf, size_t len) {
  size_t got = 0;
  if (napi_get_value_string_utf8(env, v, buf, len, &got) != napi_ok) return -1;
  return got >= len - 1 ? -1 : 0;
}

#define ARGS(n)                                                          \
  size_t argc = n; napi_value argv[n];                                   \
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);                  \
  if (argc < n) { napi_throw_type_error(env, NULL, "missing arguments"); return NULL; }

static napi_value make_int(napi_env env, int v) { napi_value r; napi_create_int32(env, v, &r); return r; }

// seqpacketConnect(path) -> fd. conmon's attach socket is AF_UNIX SOCK_SEQPACKET, which net cannot open.
// The path may be longer than sun_path, so connect through /proc/self/fd of an O_PATH descriptor.
static napi_value seqpacket_connect(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[4096];
  if (get_string(env, argv[0], path, sizeof path)) { napi_throw_type_error(env, NULL, "path"); return NULL; }
  int pfd = open(path, O_PATH | O_CLOEXEC);
  if (pfd < 0) return throw_errno(env, path, errno);
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d", pfd);
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) { int e = errno; close(pfd); return throw_errno(env, "socket", e); }
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    int e = errno; close(fd); close(pfd); return throw_errno(env, path, e);
  }
  close(pfd);
  return make_int(env, fd);
}

// mount(source, target, fstype, flags, data)
static napi_value do_mount(napi_env env, napi_callback_info info) {
  ARGS(5);
  char src[4096], tgt[4096], fstype[64], data[4096];
  uint32_t flags = 0;
  if (get_string(env, argv[0], src, sizeof src) || get_string(env, argv[1], tgt, sizeof tgt) ||
      get_string(env, argv[2], fstype, sizeof fstype) || get_string(env, argv[4], data, sizeof data)) {
    napi_throw_type_error(env, NULL, "mount arguments too long"); return NULL;
  }
  napi_get_value_uint32(env, argv[3], &flags);
  if (mount(src, tgt, fstype[0] ? fstype : NULL, flags, data[0] ? data : NULL) < 0)
    return throw_errno(env, tgt, errno);
  return NULL;
}

// umount(target, flags)
static napi_value do_umount(napi_env env, napi_callback_info info) {
  ARGS(2);
  char tgt[4096]; int32_t flags = 0;
  if (get_string(env, argv[0], tgt, sizeof tgt)) { napi_throw_type_error(env, NULL, "target"); return NULL; }
  napi_get_value_int32(env, argv[1], &flags);
  if (umount2(tgt, flags) < 0) return throw_errno(env, tgt, errno);
  return NULL;
}

// mknod(path, mode, major, minor)
static napi_value do_mknod(napi_env env, napi_callback_info info) {
  ARGS(4);
  char path[4096]; uint32_t mode, maj, min;
  if (get_string(env, argv[0], path, sizeof path)) { napi_throw_type_error(env, NULL, "path"); return NULL; }
  napi_get_value_uint32(env, argv[1], &mode);
  napi_get_value_uint32(env, argv[2], &maj);
  napi_get_value_uint32(env, argv[3], &min);
  if (mknod(path, mode, makedev(maj, min)) < 0) return throw_errno(env, path, errno);
  return NULL;
}

// lsetxattr(path, name, value: string | Buffer)  (Buffers carry binary values such as security.capability)
static napi_value do_lsetxattr(napi_env env, napi_callback_info info) {
  ARGS(3);
  char path[4096], name[256], value[4096]; size_t vlen = 0;
  if (get_string(env, argv[0], path, sizeof path) || get_string(env, argv[1], name, sizeof name)) {
    napi_throw_type_error(env, NULL, "xattr arguments"); return NULL;
  }
  bool isbuf = false;
  napi_is_buffer(env, argv[2], &isbuf);
  const void *data = value;
  if (isbuf) {
    void *bdata = NULL;
    napi_get_buffer_info(env, argv[2], &bdata, &vlen);
    data = bdata;
  } else {
    napi_get_value_string_utf8(env, argv[2], value, sizeof value, &vlen);
  }
  if (lsetxattr(path, name, data, vlen, 0) < 0) return throw_errno(env, path, errno);
  return NULL;
}

// lgetxattrBuffer(path, name) -> Buffer | null when the attribute is absent
static napi_value do_lgetxattr_buffer(napi_env env, napi_callback_info info) {
  ARGS(2);
  char path[4096], name[256];
  if (get_string(env, argv[0], path, sizeof path) || get_string(env, argv[1], name, sizeof name)) {
    napi_throw_type_error(env, NULL, "xattr arguments"); return NULL;
  }
  napi_value r;
  ssize_t n = lgetxattr(path, name, NULL, 0);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) { napi_get_null(env, &r); return r; }
    return throw_errno(env, path, errno);
  }
  char *buf = malloc(n > 0 ? n : 1);
  if (!buf) return throw_errno(env, path, ENOMEM);
  n = lgetxattr(path, name, buf, n);
  if (n < 0) { int e = errno; free(buf); return throw_errno(env, path, e); }
  void *out = NULL;
  napi_create_buffer_copy(env, n, buf, &out, &r);
  free(buf);
  return r;
}

// llistxattr(path) -> string[]
static napi_value do_llistxattr(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[4096];
  if (get_string(env, argv[0], path, sizeof path)) { napi_throw_type_error(env, NULL, "path"); return NULL; }
  napi_value arr;
  napi_create_array(env, &arr);
  ssize_t n = llistxattr(path, NULL, 0);
  if (n < 0) {
    if (errno == ENOTSUP) return arr;
    return throw_errno(env, path, errno);
  }
  if (n == 0) return arr;
  char *buf = malloc(n);
  if (!buf) return throw_errno(env, path, ENOMEM);
  n = llistxattr(path, buf, n);
  if (n < 0) { int e = errno; free(buf); return throw_errno(env, path, e); }
  uint32_t i = 0;
  for (ssize_t off = 0; off < n;) {
    size_t len = strlen(buf + off);
    napi_value s;
    napi_create_string_utf8(env, buf + off, len, &s);
    napi_set_element(env, arr, i++, s);
    off += len + 1;
  }
  free(buf);
  return arr;
}

// openat2(dirfd, path, flags, mode, resolve) -> fd. The base of race-free path handling inside a
// root (RESOLVE_IN_ROOT / RESOLVE_BENEATH / RESOLVE_NO_SYMLINKS), which Node does not expose.
static napi_value do_openat2(napi_env env, napi_callback_info info) {
  ARGS(5);
  char path[4096]; int32_t dirfd = -1; uint32_t flags = 0, mode = 0, resolve = 0;
  if (get_string(env, argv[1], path, sizeof path)) { napi_throw_type_error(env, NULL, "path"); return NULL; }
  napi_get_value_int32(env, argv[0], &dirfd);
  napi_get_value_uint32(env, argv[2], &flags);
  napi_get_value_uint32(env, argv[3], &mode);
  napi_get_value_uint32(env, argv[4], &resolve);
  struct open_how how = { .flags = (uint64_t)flags | O_CLOEXEC, .mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0, .resolve = resolve };
  long fd;
  do { fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how); } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return throw_errno(env, path, errno);
  return make_int(env, (int)fd);
}

// lgetxattr(path, name) -> string | null when the attribute is absent
static napi_value do_lgetxattr(napi_env env, napi_callback_info info) {
  ARGS(2);
  char path[4096], name[256], value[4096];
  if (get_string(env, argv[0], path, sizeof path) || get_string(env, argv[1], name, sizeof name)) {
    napi_throw_type_error(env, NULL, "xattr arguments"); return NULL;
  }
  ssize_t n = lgetxattr(path, name, value, sizeof value);
  napi_value r;
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) { napi_get_null(env, &r); return r; }
    return throw_errno(env, path, errno);
  }
  napi_create_string_utf8(env, value, n, &r);
  return r;
}

// netnsCreate(path): a new network namespace kept alive by a bind mount on `path` (as `ip netns add`
// does, without spawning it). unshare(CLONE_NEWNET) moves only the calling thread, so it runs on a
// short-lived thread of its own: Node's threads stay in the host's namespace.
struct netns_job { const char *path; int err; };

static void *netns_thread(void *arg) {
  struct netns_job *job = arg;
  if (unshare(CLONE_NEWNET) < 0) { job->err = errno; return NULL; }
  char self[64];
  snprintf(self, sizeof self, "/proc/self/task/%ld/ns/net", (long)syscall(SYS_gettid));
  if (mount(self, job->path, NULL, MS_BIND, NULL) < 0) job->err = errno;
  return NULL;
}

static napi_value netns_create(napi_env env, napi_callback_info info) {
  ARGS(1);
  char path[4096];
  if (get_string(env, argv[0], path, sizeof path)) { napi_throw_type_error(env, NULL, "path"); return NULL; }
  int fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444);
  if (fd < 0) return throw_errno(env, path, errno);
  close(fd);
  struct netns_job job = { .path = path, .err = 0 };
  pthread_t t;
  int e = pthread_create(&t, NULL, netns_thread, &job);
  if (e == 0) { pthread_join(t, NULL); e = job.err; }
  if (e) { unlink(path); return throw_errno(env, path, e); }
  return NULL;
}

// flockTry(fd) -> true when an exclusive flock(2) on fd was taken, false when someone else holds it.
// Never blocks: callers poll, so Node's event loop keeps running while another process has the lock.
static napi_value flock_try(napi_env env, napi_callback_info info) {
  ARGS(1);
  int32_t fd = -1;
  napi_get_value_int32(env, argv[0], &fd);
  napi_value r;
  if (flock(fd, LOCK_EX | LOCK_NB) == 0) { napi_get_boolean(env, true, &r); return r; }
  if (errno == EWOULDBLOCK || errno == EINTR) { napi_get_boolean(env, false, &r); return r; }
  return throw_errno(env, "flock", errno);
}

// syncfs(path) -> Promise<void>: syncfs(2) of the filesystem holding path, on a libuv pool thread
// (it can take seconds while other work writes: never on the event loop). Node has no syncfs.
typedef struct { napi_async_work work; napi_deferred deferred; char path[4096]; int err; } syncfs_job;

static void syncfs_execute(napi_env env, void *data) {
  syncfs_job *j = data;
  int fd = open(j->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) { j->err = errno; return; }
  j->err = syncfs(fd) == 0 ? 0 : errno;
  close(fd);
}

static void syncfs_complete(napi_env env, napi_status status, void *data) {
  syncfs_job *j = data;
  if (j->err == 0) {
    napi_value u;
    napi_get_undefined(env, &u);
    napi_resolve_deferred(env, j->deferred, u);
  } else {
    char what[4200];
    snprintf(what, sizeof what, "syncfs %s", j->path);
    napi_reject_deferred(env, j->deferred, errno_error(env, what, j->err));
  }
  napi_delete_async_work(env, j->work);
  free(j);
}

static napi_value do_syncfs(napi_env env, napi_callback_info info) {
  ARGS(1);
  syncfs_job *j = calloc(1, sizeof *j);
  if (!j) return throw_errno(env, "syncfs", ENOMEM);
  if (get_string(env, argv[0], j->path, sizeof j->path)) { free(j); return throw_errno(env, "syncfs", ENAMETOOLONG); }
  napi_value promise, name;
  napi_create_promise(env, &j->deferred, &promise);
  napi_create_string_utf8(env, "berth_syncfs", NAPI_AUTO_LENGTH, &name);
  napi_create_async_work(env, NULL, name, syncfs_execute, syncfs_complete, j, &j->work);
  napi_queue_async_work(env, j->work);
  return promise;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "seqpacketConnect", NULL, seqpacket_connect, NULL, NULL, NULL, napi_default, NULL },
    { "mount", NULL, do_mount, NULL, NULL, NULL, napi_default, NULL },
    { "umount", NULL, do_umount, NULL, NULL, NULL, napi_default, NULL },
    { "mknod", NULL, do_mknod, NULL, NULL, NULL, napi_default, NULL },
    { "lsetxattr", NULL, do_lsetxattr, NULL, NULL, NULL, napi_default, NULL },
    { "lgetxattr", NULL, do_lgetxattr, NULL, NULL, NULL, napi_default, NULL },
    { "lgetxattrBuffer", NULL, do_lgetxattr_buffer, NULL, NULL, NULL, napi_default, NULL },
    { "llistxattr", NULL, do_llistxattr, NULL, NULL, NULL, napi_default, NULL },
    { "openat2", NULL, do_openat2, NULL, NULL, NULL, napi_default, NULL },
    { "netnsCreate", NULL, netns_create, NULL, NULL, NULL, napi_default, NULL },
    { "flockTry", NULL, flock_try, NULL, NULL, NULL, napi_default, NULL },
    { "syncfs", NULL, do_syncfs, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
