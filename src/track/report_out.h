/* The buffered output the svg and html reports write through, with the
 * escaping their markup needs. */
#ifndef REHEAP_TRACK_REPORT_OUT_H
#define REHEAP_TRACK_REPORT_OUT_H

#include <stdbool.h>
#include <stddef.h>

#include "track/track_internal.h"

typedef struct track_out {
  int fd;
  char buf[8192];
  size_t len;
} track_out_t;

TRACK_HIDDEN void track_out_flush(track_out_t *o);
TRACK_HIDDEN void track_out_put(track_out_t *o, const char *s);
TRACK_HIDDEN void track_out_putf(track_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as XML or HTML text: & < > " ' escaped, control bytes as '?' (but
 * newlines when keep_newlines). */
TRACK_HIDDEN void track_out_markup(track_out_t *o, const char *s, bool keep_newlines);

#endif
