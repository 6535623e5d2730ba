/* The suppressions parser and matcher on their own: LeakSanitizer's rule
 * (substring unless anchored, `*` any run), the line forms, and the lines
 * that must be refused with their line number. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "track/suppress.h"

static int fails;

#define CHECK(cond)                                                                       \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      printf("FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                              \
      fails++;                                                                            \
    }                                                                                     \
  } while (0)

static bool pm(const char *pattern, const char *s) {
  return track_suppress_pattern_match(pattern, strlen(pattern), s);
}

static bool parse(const char *text, char *err, size_t cap) {
  return track_suppress_parse(text, strlen(text), err, cap);
}

static void patterns(void) {
  CHECK(pm("leak", "leak_small"));         /* substring */
  CHECK(pm("small", "leak_small"));
  CHECK(pm("k_s", "leak_small"));
  CHECK(!pm("big", "leak_small"));
  CHECK(pm("^leak", "leak_small"));        /* anchored start */
  CHECK(!pm("^small", "leak_small"));
  CHECK(pm("small$", "leak_small"));       /* anchored end */
  CHECK(!pm("leak$", "leak_small"));
  CHECK(pm("^leak_small$", "leak_small")); /* both: whole string */
  CHECK(!pm("^leak_smal$", "leak_small"));
  CHECK(!pm("^eak_small$", "leak_small"));
  CHECK(pm("l*l", "leak_small"));          /* a star spans a run */
  CHECK(pm("^l*l$", "leak_small"));
  CHECK(!pm("^l*k$", "leak_small"));
  CHECK(pm("^*small$", "leak_small"));
  CHECK(pm("^leak*", "leak_small"));
  CHECK(pm("a*a", "aXa"));
  CHECK(!pm("^a*a$", "aXab"));
  CHECK(pm("^a*b*c$", "aXXbYYbZc"));       /* backtracking over a false start */
  CHECK(pm("^a*bc$", "abXbc"));
  CHECK(!pm("^a*bc$", "abXbcd"));
  CHECK(pm("*", "anything"));
  CHECK(pm("^*$", ""));
  CHECK(pm("std::vector", "std::vector<int>::push_back"));
  CHECK(pm("/usr/lib/*libfoo", "/usr/lib/x86_64-linux-gnu/libfoo.so.1"));
  CHECK(!pm("libfoo", "/usr/lib/libbar.so"));
  CHECK(!pm("x", ""));
}

static void lines(void) {
  char err[256];
  const char *good = "# a comment\n"
                     "\n"
                     "   \t\n"
                     "leak:leak_small\n"
                     "  leak:  ^main$  \r\n"
                     "bare_pattern\n"
                     "std::vector<int>::push_back\n"
                     "leak:*/third_party/*"; /* no newline at the end */
  CHECK(parse(good, err, sizeof err));
  CHECK(track_suppress_count() == 5);
  CHECK(track_suppress_match("leak_small"));
  CHECK(track_suppress_match("main"));
  CHECK(!track_suppress_match("main2"));   /* anchored, and the blanks were trimmed */
  CHECK(track_suppress_match("a_bare_pattern_here"));
  CHECK(track_suppress_match("std::vector<int>::push_back"));
  CHECK(track_suppress_match("/src/third_party/zlib/inflate.c"));
  CHECK(!track_suppress_match("leak_big"));
  CHECK(!track_suppress_match(""));
  CHECK(!track_suppress_match(NULL));

  CHECK(parse("", err, sizeof err) && track_suppress_count() == 0);
  CHECK(parse("# only comments\n\n", err, sizeof err) && track_suppress_count() == 0);

  /* refused: an unknown kind, named with its line; the set is emptied */
  CHECK(parse("leak:a\n", err, sizeof err) && track_suppress_count() == 1);
  CHECK(!parse("leak:a\n# fine\nrace:foo\n", err, sizeof err));
  CHECK(strstr(err, "line 3") != NULL && strstr(err, "race:") != NULL);
  CHECK(strchr(err, '\n') == NULL);
  CHECK(track_suppress_count() == 0);
  CHECK(!track_suppress_match("a"));
  CHECK(!parse("leak:\n", err, sizeof err));
  CHECK(strstr(err, "line 1") != NULL);
  CHECK(!parse("called_from_lib:libfoo.so\n", err, sizeof err));
  CHECK(!track_suppress_parse("a\0b\n", 4, err, sizeof err));
  CHECK(strstr(err, "NUL") != NULL);

  /* the limits: 1024 patterns, 64 KiB */
  static char many[1025 * 8];
  size_t n = 0;
  for (int i = 0; i < 1024; i++) n += (size_t)sprintf(many + n, "p%d\n", i);
  CHECK(parse(many, err, sizeof err) && track_suppress_count() == 1024);
  sprintf(many + n, "one_more\n");
  CHECK(!parse(many, err, sizeof err));
  CHECK(strstr(err, "1024") != NULL && strstr(err, "line 1025") != NULL);

  /* a tiny error buffer is cut, not overrun */
  char tiny[8];
  memset(tiny, 'x', sizeof tiny);
  CHECK(!parse("race:x\n", tiny, 4));
  CHECK(tiny[3] == '\0' && tiny[4] == 'x');
}

static void files(void) {
  char err[256];
  CHECK(!track_suppress_load("/nonexistent/supp.txt", err, sizeof err));
  CHECK(strstr(err, "/nonexistent/supp.txt") != NULL && strstr(err, "No such file") != NULL);
  CHECK(!track_suppress_load("/", err, sizeof err)); /* a directory */
  char path[] = "/tmp/reheap-supp-XXXXXX";
  FILE *f = fdopen(mkstemp(path), "w");
  fputs("leak:from_file\nthread:x\n", f);
  fclose(f);
  CHECK(!track_suppress_load(path, err, sizeof err));
  CHECK(strstr(err, path) != NULL && strstr(err, "line 2") != NULL);
  f = fopen(path, "w");
  fputs("leak:from_file\n", f);
  fclose(f);
  CHECK(track_suppress_load(path, err, sizeof err) && track_suppress_match("x_from_file"));
  /* more than 64 KiB is refused whole */
  f = fopen(path, "w");
  for (int i = 0; i < 70000 / 10; i++) fputs("123456789\n", f);
  fclose(f);
  CHECK(!track_suppress_load(path, err, sizeof err));
  CHECK(strstr(err, "64 KiB") != NULL);
  remove(path);
}

int main(void) {
  patterns();
  lines();
  files();
  if (fails) return 1;
  puts("suppress: all checks passed");
  return 0;
}
