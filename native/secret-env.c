/*
 * berth-secret-env DIR CMD [ARG...]: the process of a RUN step with `--mount=type=secret,env=NAME`.
 * Each regular file in DIR holds one "NAME=VALUE"; they are put in the environment, then CMD is
 * executed (looked up in PATH, as the runtime would). The secret so reaches the process's
 * environment without ever being in the container's config (berth's database, config.json).
 * Built static: it runs inside any image.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *read_all(int dirfd, const char *name) {
  int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return NULL;
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) { close(fd); return NULL; }
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) { close(fd); return NULL; }
  size_t got = 0;
  while (got < (size_t)st.st_size) {
    ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(fd);
  buf[got] = '\0';
  return buf;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: berth-secret-env DIR CMD [ARG...]\n");
    return 125;
  }
  DIR *d = opendir(argv[1]);
  if (!d) {
    fprintf(stderr, "berth-secret-env: %s: %s\n", argv[1], strerror(errno));
    return 125;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    char *kv = read_all(dirfd(d), e->d_name);
    if (kv && strchr(kv, '=')) putenv(kv);
  }
  closedir(d);
  execvp(argv[2], argv + 2);
  fprintf(stderr, "exec: \"%s\": %s\n", argv[2], strerror(errno));
  return errno == ENOENT ? 127 : 126;
}
