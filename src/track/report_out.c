/* See report_out.h. */
#include "track/report_out.h"

#include <stdarg.h>
#include <stdio.h>

#include "os/os.h"

void track_out_flush(track_out_t *o) {
  os_write_all(o->fd, o->buf, o->len);
  o->len = 0;
}

void track_out_put(track_out_t *o, const char *s) {
  for (; *s; s++) {
    if (o->len == sizeof o->buf) track_out_flush(o);
    o->buf[o->len++] = *s;
  }
}

void track_out_putf(track_out_t *o, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  track_out_put(o, line);
}

void track_out_markup(track_out_t *o, const char *s, bool keep_newlines) {
  for (; *s; s++) {
    switch (*s) {
    case '&': track_out_put(o, "&amp;"); break;
    case '<': track_out_put(o, "&lt;"); break;
    case '>': track_out_put(o, "&gt;"); break;
    case '"': track_out_put(o, "&quot;"); break;
    case '\'': track_out_put(o, "&apos;"); break;
    default: {
      char one[2] = {(unsigned char)*s < 0x20 && !(keep_newlines && *s == '\n') ? '?' : *s, 0};
      track_out_put(o, one);
    }
    }
  }
}
