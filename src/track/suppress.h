/* Leak suppressions: a file of stack patterns whose leaks are not
 * reported, in LeakSanitizer's form. One pattern a line, `leak:PATTERN`
 * or a bare PATTERN; `#` starts a comment line; blank lines are skipped.
 * `*` matches any run of characters; a pattern matches anywhere in a
 * name unless it starts with `^` or ends with `$`, which anchor it.
 *
 * One set per process, in static storage (no malloc: the tracked
 * program's heap is being watched). `reheap run` parses the file with the
 * same code before the program starts, so a bad line stops it there. */
#ifndef REHEAP_TRACK_SUPPRESS_H
#define REHEAP_TRACK_SUPPRESS_H

#include <stdbool.h>
#include <stddef.h>

#include "track/track_internal.h"

#define TRACK_SUPPRESS_TEXT_MAX (64 << 10) /* bytes of pattern text */
#define TRACK_SUPPRESS_MAX 1024            /* patterns */

/* Replaces the set with the patterns in text[0..len). On a bad line, the
 * set is left empty and err gets one line saying which and why (no
 * newline). */
TRACK_HIDDEN bool track_suppress_parse(const char *text, size_t len, char *err, size_t errcap);
/* Reads the file at path and parses it; err as above, with the file's
 * read errors too. */
TRACK_HIDDEN bool track_suppress_load(const char *path, char *err, size_t errcap);
/* Loads path's patterns in the tracked process (nothing when path is NULL
 * or ""); a failure is one line on fd, and then every leak is reported. */
TRACK_HIDDEN void track_suppress_init(const char *path, int fd);
/* Patterns in the set. */
TRACK_HIDDEN size_t track_suppress_count(void);
/* Whether any pattern of the set matches s. */
TRACK_HIDDEN bool track_suppress_match(const char *s);
/* Whether pattern (len bytes, with its ^ and $) matches s: exposed for
 * tests. */
TRACK_HIDDEN bool track_suppress_pattern_match(const char *pattern, size_t len, const char *s);

#endif
