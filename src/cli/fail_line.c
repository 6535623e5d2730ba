/* The one line an error message is: formatted, and every control byte in
 * it (a newline or a tab from a file's name or contents, quoted by a
 * parser) written as \n, \t or \xHH, so that what went wrong stays on one
 * line whatever the input held. */
#include <stdio.h>

#include "cli/cli.h"

void rh_cli_format_line(char *buf, size_t cap, const char *fmt, va_list ap) {
  char raw[2048];
  vsnprintf(raw, sizeof raw, fmt, ap);
  size_t n = 0;
  for (const unsigned char *s = (const unsigned char *)raw; *s != '\0' && n + 5 < cap; s++) {
    if (*s >= 0x20 && *s != 0x7f) buf[n++] = (char)*s;
    else if (*s == '\n') n += (size_t)snprintf(buf + n, cap - n, "\\n");
    else if (*s == '\t') n += (size_t)snprintf(buf + n, cap - n, "\\t");
    else n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", *s);
  }
  if (cap > 0) buf[n < cap ? n : cap - 1] = '\0';
}
