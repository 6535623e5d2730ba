/* A library that imports strtol, for the GOT hook tests (built twice: one
 * copy linked, one loaded later with dlopen). */
#include <stdlib.h>

long GOT_FIXTURE_FN(const char *s) { return strtol(s, NULL, 10); }
