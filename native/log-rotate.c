// berth-logrotate: rotates one container's log by size while the container runs, whether berthd is
// up or not (docs/logging.md).
//
// conmon 2.1 (Debian's) writes the log itself and cannot rotate: its --log-size-max replaces the
// file with an empty one, losing what was in it (--log-rotate came in conmon 2.2). It can reopen its
// log on request: message "2 0 0\n" on the bundle's ctl fifo makes it close the file and create a
// fresh one at the same path. So a rotation here is
//   1. drop LOG.(N-1)[.gz], shift LOG.k[.gz] -> LOG.(k+1)[.gz], rename LOG -> LOG.1
//      (conmon keeps writing into the renamed file: nothing is lost);
//   2. ask conmon to reopen; it creates a new LOG, and only conmon makes files at that path while the
//      rotation is pending, so LOG existing again means done. conmon 2.1.6 reads only the first
//      message of each read() of that fifo, so a request that shared a read with a resize can be
//      lost: when no new LOG appears within RESEND_MS the request is sent again;
//   3. once the new LOG exists conmon has closed LOG.1: compress it to LOG.1.gz when asked.
// With MAX_FILES 1 the full log is deleted instead (as Docker's max-file=1 does).
// The helper watches the log's directory with inotify and conmon with a pidfd, and exits when
// conmon does. It holds an exclusive lock on LOCKFILE (and writes its PID there) so that a berthd
// that restarts and starts it again never runs two rotators for one container.
//
// usage: berth-logrotate LOG CTL CONMON_PID MAX_SIZE MAX_FILES COMPRESS(0|1) LOCKFILE
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define RESEND_MS 1000
#define MIN_CHECK_INTERVAL_MS 10

static const char *log_path, *ctl_path;
static long long max_size;
static int max_files, compress_rotated;
static int pending;            // LOG was renamed away (or deleted) and conmon has not made a new one yet
static long long pending_since;

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void numbered(char *out, size_t n, int k, int gz) {
  snprintf(out, n, "%s.%d%s", log_path, k, gz ? ".gz" : "");
}

static void ask_reopen(void) {
  int fd = open(ctl_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t r = write(fd, "2 0 0\n", 6);
    (void)r;
    close(fd);
  }
  pending_since = now_ms();
}

// Compresses LOG.1 into LOG.1.gz (temp file, fsync, rename), then removes LOG.1.
static void compress_file(const char *src) {
  char dst[PATH_MAX + 16], tmp[PATH_MAX + 16];
  snprintf(dst, sizeof dst, "%s.gz", src);
  snprintf(tmp, sizeof tmp, "%s.gz.tmp", src);
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return;
  int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (out < 0) { close(in); return; }
  int outdup = dup(out);
  gzFile gz = gzdopen(outdup, "wb6");
  int ok = gz != NULL;
  static char buf[1 << 16];
  ssize_t n = 0;
  while (ok && (n = read(in, buf, sizeof buf)) > 0) {
    if (gzwrite(gz, buf, (unsigned)n) != (int)n) ok = 0;
  }
  if (n < 0) ok = 0;
  if (gz && gzclose(gz) != Z_OK) ok = 0;
  if (!gz) close(outdup);
  if (ok && fsync(out) < 0) ok = 0;
  close(out);
  close(in);
  if (ok && rename(tmp, dst) == 0) unlink(src);
  else unlink(tmp);
}

// After conmon made the new file: compress what was rotated (and any plain leftovers of a helper
// that died mid-way).
static void after_rotation(void) {
  if (!compress_rotated || max_files < 2) return;
  char p[PATH_MAX];
  for (int k = 1; k < max_files; k++) {
    numbered(p, sizeof p, k, 0);
    if (access(p, F_OK) == 0) compress_file(p);
  }
}

static void rotate(void) {
  char from[PATH_MAX], to[PATH_MAX];
  if (max_files <= 1) {
    unlink(log_path);
  } else {
    for (int gz = 0; gz <= 1; gz++) {
      numbered(from, sizeof from, max_files - 1, gz);
      unlink(from);
      for (int k = max_files - 2; k >= 1; k--) {
        numbered(from, sizeof from, k, gz);
        numbered(to, sizeof to, k + 1, gz);
        if (rename(from, to) < 0 && errno != ENOENT) { /* leave it; the next shift retries */ }
      }
    }
    numbered(to, sizeof to, 1, 0);
    if (rename(log_path, to) < 0) return;
  }
  pending = 1;
  ask_reopen();
}

static void check(void) {
  struct stat st;
  int exists = stat(log_path, &st) == 0;
  if (pending) {
    if (exists) {
      pending = 0;
      after_rotation();
    } else if (now_ms() - pending_since >= RESEND_MS) {
      ask_reopen();
    }
    return;
  }
  if (!exists) { pending = 1; ask_reopen(); return; } // deleted, or a rotation of a rotator that died
  if (max_size > 0 && st.st_size >= max_size) rotate();
}

static int conmon_alive(pid_t pid) {
  return kill(pid, 0) == 0 || errno == EPERM;
}

int main(int argc, char **argv) {
  if (argc != 8) {
    fprintf(stderr, "usage: berth-logrotate LOG CTL CONMON_PID MAX_SIZE MAX_FILES COMPRESS LOCKFILE\n");
    return 2;
  }
  log_path = argv[1];
  ctl_path = argv[2];
  pid_t conmon = (pid_t)atol(argv[3]);
  max_size = atoll(argv[4]);
  max_files = atoi(argv[5]);
  compress_rotated = atoi(argv[6]) != 0;
  if (conmon <= 0 || max_files < 1 || strlen(log_path) > PATH_MAX - 32) {
    fprintf(stderr, "berth-logrotate: bad arguments\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);

  int lock = open(argv[7], O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) { perror("berth-logrotate: lock file"); return 1; }
  if (flock(lock, LOCK_EX | LOCK_NB) < 0) return 0; // another rotator has this container
  char pidtext[32];
  int len = snprintf(pidtext, sizeof pidtext, "%d\n", (int)getpid());
  if (ftruncate(lock, 0) < 0 || pwrite(lock, pidtext, len, 0) != len) { perror("berth-logrotate: lock file"); return 1; }

  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s", log_path);
  char *slash = strrchr(dir, '/');
  if (slash == dir) dir[1] = 0; else if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
  int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (in < 0 || inotify_add_watch(in, dir, IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE) < 0) {
    perror("berth-logrotate: inotify");
    return 1;
  }
  int pidfd = (int)syscall(SYS_pidfd_open, conmon, 0);

  // Started: nobody reads our stderr once berthd is gone.
  int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (devnull >= 0) { dup2(devnull, 2); close(devnull); }

  // A helper started again after a crash may find a rotation half done (LOG renamed away or deleted,
  // no reopen asked for): check() asks. Otherwise finish what it left: compress plain rotated files.
  if (access(log_path, F_OK) == 0) after_rotation();
  check();

  long long last_check = 0;
  for (;;) {
    struct pollfd fds[2] = { { .fd = in, .events = POLLIN }, { .fd = pidfd, .events = POLLIN } };
    int timeout = pending ? RESEND_MS / 3 : 1000;
    int n = poll(fds, pidfd >= 0 ? 2 : 1, timeout);
    if (n < 0 && errno != EINTR) break;
    if (pidfd >= 0 ? (fds[1].revents & (POLLIN | POLLHUP)) != 0 : !conmon_alive(conmon)) break;
    if (fds[0].revents & POLLIN) {
      char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
      while (read(in, buf, sizeof buf) > 0) { /* only the wake-up matters */ }
    }
    // Bursts of writes wake us per write: look at most every MIN_CHECK_INTERVAL_MS.
    long long wait = last_check + MIN_CHECK_INTERVAL_MS - now_ms();
    if (wait > 0) usleep((useconds_t)wait * 1000);
    last_check = now_ms();
    check();
  }
  // conmon is gone: it closed its log. A rotation it never acknowledged left the live data in LOG.1.
  if (pending) after_rotation();
  return 0;
}
