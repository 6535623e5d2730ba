#include "front/stats_line.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

static void put(rh_line_t *l, const char *s) {
  while (*s && l->len + 2 < sizeof l->buf) l->buf[l->len++] = *s++;
}

void rh_line_start(rh_line_t *l, const char *heap) {
  l->len = 0;
  put(l, "reheap-stats v1 heap=");
  put(l, heap);
}

void rh_line_u64(rh_line_t *l, const char *key, uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  put(l, " ");
  put(l, key);
  put(l, "=");
  while (n > 0 && l->len + 2 < sizeof l->buf) l->buf[l->len++] = digits[--n];
}

void rh_line_rest(rh_line_t *l, const char *key, const char *text) {
  put(l, " ");
  put(l, key);
  put(l, "=");
  for (; *text != '\0' && l->len + 2 < sizeof l->buf; text++)
    l->buf[l->len++] = *text == '\n' ? ' ' : *text;
}

size_t rh_line_end(rh_line_t *l) {
  l->buf[l->len++] = '\n';
  return l->len;
}

static bool parse_int(const char *s, long *out) {
  if (s == NULL || *s == '\0') return false;
  long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9' || v > 100000000) return false;
    v = v * 10 + (*s - '0');
  }
  *out = v;
  return true;
}

int rh_stats_fd_claim(void) {
  long fd, pid;
  if (!parse_int(getenv("REHEAP_STATS_FD"), &fd) || !parse_int(getenv("REHEAP_STATS_PID"), &pid))
    return -1;
  if (pid != (long)getpid() || fd > 1 << 20) return -1;
  if (fcntl((int)fd, F_GETFD) < 0) return -1;
  return (int)fd;
}
