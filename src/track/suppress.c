/* Leak suppressions: parsed once into static storage, matched at report
 * time against frame names. No malloc and no stdio: the tracked process
 * loads them from its constructor, with its heap already watched. */
#include "track/suppress.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "os/os.h"

typedef struct pattern {
  const char *text; /* without its anchors, NUL-terminated in store */
  size_t len;
  bool head, tail;  /* anchored at the start (^), at the end ($) */
} pattern_t;

static char store[TRACK_SUPPRESS_TEXT_MAX + 1];
static pattern_t patterns[TRACK_SUPPRESS_MAX];
static size_t count;

/* ---- error lines, built without stdio ---- */

typedef struct msg {
  char *buf;
  size_t cap, len;
} msg_t;

static void msg_put(msg_t *m, const char *s, size_t n) {
  for (size_t i = 0; i < n && m->len + 1 < m->cap; i++) m->buf[m->len++] = s[i];
  if (m->cap) m->buf[m->len] = '\0';
}

static void msg_str(msg_t *m, const char *s) { msg_put(m, s, strlen(s)); }

static void msg_num(msg_t *m, size_t v) {
  char d[24];
  size_t n = 0;
  do d[sizeof d - ++n] = (char)('0' + v % 10); while ((v /= 10) != 0);
  msg_put(m, d + sizeof d - n, n);
}

/* "line N: BEFORE 'QUOTED' AFTER"; the set is left empty. */
static bool fail_line(char *err, size_t errcap, size_t line, const char *before, const char *quoted,
                      size_t n, const char *after) {
  msg_t m = {err, errcap, 0};
  msg_str(&m, "line ");
  msg_num(&m, line);
  msg_str(&m, ": ");
  msg_str(&m, before);
  if (quoted != NULL) {
    /* cut short: the error is one line */
    msg_put(&m, " '", 2);
    msg_put(&m, quoted, n < 60 ? n : 60);
    msg_put(&m, "'", 1);
  }
  msg_str(&m, after);
  count = 0;
  return false;
}

/* ---- parsing ---- */

static bool is_blank(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

/* The length of a `kind:` prefix at s, or 0 when the line has none: a word
 * of letters and underscores before a lone colon (a C++ name's `::` is
 * part of a bare pattern). */
static size_t kind_length(const char *s, size_t n) {
  size_t k = 0;
  while (k < n && is_word(s[k])) k++;
  if (k == 0 || k >= n || s[k] != ':' || (k + 1 < n && s[k + 1] == ':')) return 0;
  return k;
}

bool track_suppress_parse(const char *text, size_t len, char *err, size_t errcap) {
  count = 0;
  if (errcap) err[0] = '\0';
  size_t used = 0, line = 0;
  for (size_t pos = 0; pos < len;) {
    const char *end = memchr(text + pos, '\n', len - pos);
    size_t next = end ? (size_t)(end - text) + 1 : len;
    const char *s = text + pos;
    size_t n = (end ? (size_t)(end - text) : len) - pos;
    pos = next;
    line++;
    while (n > 0 && is_blank(*s)) s++, n--;
    while (n > 0 && is_blank(s[n - 1])) n--;
    if (n == 0 || s[0] == '#') continue;
    if (memchr(s, '\0', n) != NULL) return fail_line(err, errcap, line, "a NUL byte", NULL, 0, "");
    size_t k = kind_length(s, n);
    if (k != 0) {
      if (k != 4 || memcmp(s, "leak", 4) != 0)
        return fail_line(err, errcap, line, "unknown kind", s, k + 1, " (reheap knows only leak:)");
      s += k + 1;
      n -= k + 1;
      while (n > 0 && is_blank(*s)) s++, n--;
      if (n == 0) return fail_line(err, errcap, line, "no pattern after", "leak:", 5, "");
    }
    if (count == TRACK_SUPPRESS_MAX)
      return fail_line(err, errcap, line, "more than 1024 patterns", NULL, 0, "");
    if (used + n + 1 > sizeof store)
      return fail_line(err, errcap, line, "more than 64 KiB of patterns", NULL, 0, "");
    pattern_t *p = &patterns[count++];
    p->head = s[0] == '^';
    if (p->head) s++, n--;
    p->tail = n > 0 && s[n - 1] == '$';
    if (p->tail) n--;
    memcpy(store + used, s, n);
    store[used + n] = '\0';
    p->text = store + used;
    p->len = n;
    used += n + 1;
  }
  return true;
}

bool track_suppress_load(const char *path, char *err, size_t errcap) {
  static char text[TRACK_SUPPRESS_TEXT_MAX + 1];
  msg_t m = {err, errcap, 0};
  count = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  size_t len = 0;
  int e = 0;
  if (fd < 0) {
    e = errno;
  } else {
    while (len < sizeof text) {
      ssize_t r = read(fd, text + len, sizeof text - len);
      if (r > 0) len += (size_t)r;
      else if (r < 0 && errno == EINTR) continue;
      else {
        if (r < 0) e = errno;
        break;
      }
    }
    close(fd);
  }
  if (e != 0) {
    msg_str(&m, "cannot read ");
    msg_str(&m, path);
    msg_str(&m, ": ");
    msg_str(&m, strerror(e));
    return false;
  }
  if (len > TRACK_SUPPRESS_TEXT_MAX) {
    msg_str(&m, path);
    msg_str(&m, " is larger than 64 KiB");
    return false;
  }
  if (track_suppress_parse(text, len, err, errcap)) return true;
  /* name the file before the line */
  char line[256];
  msg_t l = {line, sizeof line, 0};
  msg_str(&l, err);
  m.len = 0;
  msg_str(&m, path);
  msg_str(&m, ", ");
  msg_str(&m, line);
  return false;
}

size_t track_suppress_count(void) { return count; }

/* ---- matching ---- */

/* Glob with `*` only, by the two-finger walk: on a mismatch, the last star
 * takes one more character. An unanchored start acts as a star before the
 * pattern, an unanchored end as one after it. */
static bool glob(const char *p, size_t len, bool head, bool tail, const char *s) {
  size_t pi = 0, si = 0, star_pi = 0, star_si = 0;
  bool star = !head;
  for (;;) {
    if (pi == len && (!tail || s[si] == '\0')) return true;
    if (pi < len && p[pi] == '*') {
      star = true;
      star_pi = ++pi;
      star_si = si;
    } else if (pi < len && s[si] != '\0' && p[pi] == s[si]) {
      pi++;
      si++;
    } else if (star && s[star_si] != '\0') {
      pi = star_pi;
      si = ++star_si;
    } else {
      return false;
    }
  }
}

bool track_suppress_pattern_match(const char *pattern, size_t len, const char *s) {
  bool head = len > 0 && pattern[0] == '^';
  if (head) pattern++, len--;
  bool tail = len > 0 && pattern[len - 1] == '$';
  if (tail) len--;
  return glob(pattern, len, head, tail, s);
}

bool track_suppress_match(const char *s) {
  if (s == NULL || s[0] == '\0') return false;
  for (size_t i = 0; i < count; i++)
    if (glob(patterns[i].text, patterns[i].len, patterns[i].head, patterns[i].tail, s)) return true;
  return false;
}

void track_suppress_init(const char *path, int fd) {
  if (path == NULL || path[0] == '\0') return;
  char err[384];
  if (track_suppress_load(path, err, sizeof err)) return;
  char line[512];
  msg_t m = {line, sizeof line - 1, 0};
  msg_str(&m, "reheap: suppressions: ");
  msg_str(&m, err);
  msg_str(&m, "; every leak is reported\n");
  line[m.len - 1] = '\n'; /* kept even when the line was cut */
  os_write_all(fd, line, m.len);
}
