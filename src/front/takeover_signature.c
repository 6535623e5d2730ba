/* Targets by signature (sig:MODULE:55 8B EC ?? ...), the way game modders
 * find a function across builds that ship with no symbols at all: the one
 * place in the module's code that holds those bytes. Exactly one, or the
 * spec is refused with how many there are. */
#include <stdio.h>
#include <string.h>

#include "front/takeover.h"
#include "os/os.h"

typedef struct scan {
  const spec_t *s;
  size_t matches, modules;
  const uint8_t *first;
} scan_t;

static bool matches_at(const spec_t *s, const uint8_t *p) {
  for (size_t k = 1; k < s->nsig; k++)
    if (!s->sig_any[k] && p[k] != s->sig[k]) return false;
  return true;
}

static void visit(const uint8_t *lo, const uint8_t *hi, void *arg) {
  scan_t *sc = arg;
  const spec_t *s = sc->s;
  sc->modules++;
  if ((size_t)(hi - lo) < s->nsig) return;
  const uint8_t *end = hi - s->nsig + 1, *p = lo;
  /* the first byte is fixed (the parser sees to it): memchr finds the candidates */
  while (p < end && (p = memchr(p, s->sig[0], (size_t)(end - p))) != NULL) {
    if (matches_at(s, p) && sc->matches++ == 0) sc->first = p;
    p++;
  }
}

void *takeover_find_signature(const spec_t *s, char *why, size_t cap) {
  scan_t sc = {s, 0, 0, NULL};
  os_module_code_each(s->module, visit, &sc);
  if (sc.modules == 0) {
    snprintf(why, cap, "module %s is not loaded", s->module);
    return NULL;
  }
  if (sc.matches == 1) return (void *)sc.first;
  if (sc.matches == 0)
    snprintf(why, cap, "the signature matches nowhere in %s's code (another build? write it anew from this one)",
             s->module);
  else
    snprintf(why, cap, "the signature matches %zu places in %s's code, not one (add bytes until only the "
             "function's entry has them)", sc.matches, s->module);
  return NULL;
}
