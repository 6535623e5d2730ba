/* A number of bytes given on the command line: digits, then K, M or G
 * (1024s; k, m, g as well), from 1 to 1 GiB. */
#include "cli/cli.h"

bool rh_parse_bytes(const char *arg, uint64_t *out) {
  uint64_t v = 0;
  const char *s = arg;
  if (*s < '0' || *s > '9') return false;
  for (; *s >= '0' && *s <= '9'; s++) {
    v = v * 10 + (uint64_t)(*s - '0');
    if (v > (1u << 30)) return false;
  }
  unsigned shift = 0;
  if (*s == 'K' || *s == 'k') shift = 10;
  else if (*s == 'M' || *s == 'm') shift = 20;
  else if (*s == 'G' || *s == 'g') shift = 30;
  if (shift != 0) s++;
  if (*s != '\0' || v == 0 || v > ((uint64_t)1 << 30) >> shift) return false;
  *out = v << shift;
  return true;
}
