/* reheap report's JSON reader under libFuzzer: whatever the bytes, it
 * reads them or refuses them with one line, never crashes, and what it
 * read renders in every format (ASan, UBSan). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cmd_report.h"

/* the command's own prints the line on stderr (cli_main.c): here the line
 * it would print is made the same way, counted and checked to be one */
static int lines;
int rh_cli_vfail(int status, const char *fmt, va_list ap) {
  char line[2048];
  rh_cli_format_line(line, sizeof line, fmt, ap);
  for (const char *c = line; *c; c++)
    if ((unsigned char)*c < 0x20) abort();
  if (line[0] == '\0') abort();
  lines++;
  return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  rh_report_t r;
  lines = 0;
  bool ok = rh_report_parse((const char *)data, size, "the input", &r);
  if (ok != (lines == 0) || lines > 1) abort(); /* refused: exactly one line */
  if (ok) {
    FILE *out = fopen("/dev/null", "w");
    if (out == NULL) abort();
    rh_report_write_text(out, &r, 50, true);
    rh_report_write_json(out, &r);
    rh_report_write_folded(out, r.leaks, r.nleaks);
    rh_report_write_folded(out, r.allocated, r.nallocated);
    fclose(out);
  }
  rh_report_free(&r);
  return 0;
}
