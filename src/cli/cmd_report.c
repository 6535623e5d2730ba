/* reheap report [--format F] [--top N] [--reachable] FILE: a track report saved as JSON
 * (`reheap run --track --format json --report FILE`) rendered again in
 * any of the tracker's formats, without running the program again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_report.h"

#define TOP_DEFAULT 50

static const char report_usage[] =
    "usage: reheap report [--format text|json|folded|folded-allocated] [--top N] [--reachable] "
    "FILE";

static const char report_help[] =
    "usage: reheap report [--format text|json|folded|folded-allocated] [--top N] [--reachable] "
    "FILE\n"
    "\n"
    "Renders a track report saved with 'reheap run --track --format json\n"
    "--report FILE' again, on stdout. FILE '-' is standard input.\n"
    "\n"
    "  --format F   text (default): the summary and the biggest leaks, as\n"
    "               'reheap run --track' prints them\n"
    "               json: the report again, as a version 2 document\n"
    "               folded: leaked bytes per stack, for flame-graph tools\n"
    "               folded-allocated: bytes allocated per stack over the run\n"
    "  --top N      text: show the N biggest leaks (default 50)\n"
    "  --reachable  text: after the leaks, the blocks still reachable at exit\n"
    "               (not leaks), grouped by stack the same way, N at most\n"
    "  --help       this text\n"
    "\n"
    "Exit status 2, after one line saying what is wrong, for a bad option and\n"
    "for a FILE that cannot be read or is not a reheap track report.\n";

typedef enum { OUT_TEXT, OUT_JSON, OUT_FOLDED, OUT_FOLDED_ALLOCATED } out_format_t;

/* The value of --opt V or --opt=V; NULL when it is missing. */
static const char *option_value(int argc, char **argv, int *i, size_t optlen) {
  const char *a = argv[*i];
  if (a[optlen] == '=') return a + optlen + 1;
  return *i + 1 < argc ? argv[++*i] : NULL;
}

static int render(const char *name, const rh_report_t *r, out_format_t format, size_t top,
                  bool reachable) {
  switch (format) {
  case OUT_TEXT: rh_report_write_text(stdout, r, top, reachable); break;
  case OUT_JSON: rh_report_write_json(stdout, r); break;
  case OUT_FOLDED: rh_report_write_folded(stdout, r->leaks, r->nleaks); break;
  case OUT_FOLDED_ALLOCATED:
    /* an empty list would read as "nothing was allocated" */
    if (r->version == 1)
      return rh_report_fail("%s is a version 1 report, which does not keep the stacks that "
                            "allocated; run the program again under 'reheap run --track "
                            "--format json' for --format folded-allocated", name);
    rh_report_write_folded(stdout, r->allocated, r->nallocated);
    break;
  }
  if (fflush(stdout) != 0 || ferror(stdout))
    return rh_report_fail("cannot write the report: %s", strerror(errno));
  return 0;
}

int rh_cmd_report(int argc, char **argv) {
  out_format_t format = OUT_TEXT;
  size_t top = TOP_DEFAULT;
  bool top_given = false, options_done = false, reachable = false;
  const char *path = NULL;
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if (options_done || a[0] != '-' || a[1] == '\0') { /* "-" is stdin, a FILE */
      if (path != NULL) return rh_cli_fail("report: one FILE only; %s", report_usage);
      path = a;
    } else if (strcmp(a, "--") == 0) {
      options_done = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      fputs(report_help, stdout);
      return 0;
    } else if (strcmp(a, "--format") == 0 || strncmp(a, "--format=", 9) == 0) {
      const char *f = option_value(argc, argv, &i, 8);
      if (f != NULL && strcmp(f, "text") == 0) format = OUT_TEXT;
      else if (f != NULL && strcmp(f, "json") == 0) format = OUT_JSON;
      else if (f != NULL && strcmp(f, "folded") == 0) format = OUT_FOLDED;
      else if (f != NULL && strcmp(f, "folded-allocated") == 0) format = OUT_FOLDED_ALLOCATED;
      else return rh_cli_fail("report: --format takes text, json, folded or folded-allocated");
    } else if (strcmp(a, "--reachable") == 0) {
      reachable = true;
    } else if (strcmp(a, "--top") == 0 || strncmp(a, "--top=", 6) == 0) {
      const char *n = option_value(argc, argv, &i, 5);
      char *end = NULL;
      errno = 0;
      /* strtoull would take "-1" as a huge number: digits only */
      unsigned long long v = n != NULL && n[0] >= '0' && n[0] <= '9' ? strtoull(n, &end, 10) : 0;
      if (end == NULL || *end != '\0' || errno != 0 || v > SIZE_MAX)
        return rh_cli_fail("report: --top needs a number of leak stacks (0 or more)");
      top = (size_t)v;
      top_given = true;
    } else {
      return rh_cli_fail("report: unknown option '%s'; %s", a, report_usage);
    }
  }
  if (path == NULL) return rh_cli_fail("report: no report file given; %s", report_usage);
  if (top_given && format != OUT_TEXT)
    return rh_cli_fail("report: --top goes with --format text (the other formats keep every "
                       "stack)");
  if (reachable && format != OUT_TEXT)
    return rh_cli_fail("report: --reachable goes with --format text (json keeps the reachable "
                       "groups; the folded formats show leaks or allocations)");

  char name[4200];
  if (strcmp(path, "-") == 0) snprintf(name, sizeof name, "standard input");
  else snprintf(name, sizeof name, "'%s'", path);
  rh_report_t r;
  int rc = rh_report_read(path, name, &r) ? render(name, &r, format, top, reachable) : RH_EXIT_DATA;
  rh_report_free(&r);
  return rc;
}
