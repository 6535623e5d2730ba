/* The game's heap taken over: the built-in profile for FalloutNV.exe
 * 1.4.0.525 (profiles/falloutnv-1.4.0.525, compiled in), or the INI's own
 * file, less the sections the INI turns off; installed all or none, as
 * every profile is, and the outcome logged. */
#include <stdio.h>
#include <string.h>

#include "front/hook_spec.h"
#include "front/takeover.h"
#include "front/takeover_arch.h"
#include "os/os.h"
#include "plugin.h"
#include "reheap/alloc.h"

extern const char rh_fnv_profile[]; /* generated from profiles/ at build time */

static spec_profile_t profile;
static bool installed;
static char text[64 << 10];

bool game_taken_over(void) { return installed; }

/* A line "# [name] ..." opens a section; lines before the first belong
 * to none and are kept. */
static size_t keep_sections(const char *in, size_t len, const settings_t *s, char *out, size_t cap) {
  bool on = true;
  size_t n = 0;
  for (size_t at = 0; at < len;) {
    const char *line = in + at, *end = memchr(line, '\n', len - at);
    size_t l = end != NULL ? (size_t)(end - line) + 1 : len - at;
    at += l;
    if (l >= 3 && line[0] == '#' && line[1] == ' ' && line[2] == '[') {
      if (strncmp(line, "# [gameheap]", 12) == 0) on = s->gameheap;
      else if (strncmp(line, "# [crt]", 7) == 0) on = s->crt;
      else if (strncmp(line, "# [scrap]", 9) == 0) on = s->scrap;
      else on = true;
    }
    if (!on || n + l >= cap) continue;
    memcpy(out + n, line, l);
    n += l;
  }
  out[n] = '\0';
  return n;
}

bool game_takeover(const settings_t *s, const char *when) {
  if (installed) return true;
  if (!s->enabled) {
    log_line("%s: disabled in reheap_nvse.ini (enabled = 0); nothing patched", when);
    return false;
  }
  static char raw[sizeof text];
  const char *src = rh_fnv_profile, *source = "the built-in FalloutNV 1.4.0.525 profile";
  size_t len = strlen(rh_fnv_profile);
  if (s->profile[0] != '\0') {
    long n = os_read_small_file(s->profile, raw, sizeof raw - 1);
    if (n < 0) {
      log_line("%s: cannot read the profile %s (missing, a link, or over 64 KiB); nothing patched", when,
               s->profile);
      return false;
    }
    raw[n] = '\0';
    src = raw;
    len = (size_t)n;
    source = s->profile;
  }
  len = keep_sections(src, len, s, text, sizeof text);
  spec_error_t err;
  if (!spec_parse_profile(text, len, takeover_arch(), &profile, &err)) {
    log_line("%s: %s: line %u, column %u: %s; nothing patched", when, source, err.line, err.col, err.message);
    return false;
  }
  if (profile.n == 0) {
    log_line("%s: every section of %s is turned off; nothing patched", when, source);
    return false;
  }
  /* set before the patch: the first free already goes to the quarantine */
  takeover_set_quarantine((size_t)s->quarantine << 10);
  char why[512];
  if (!takeover_install(&profile, why, sizeof why)) {
    log_line("%s: %s refused, nothing patched: %s", when, source, why);
    log_line("  the game runs on its own heap; a different FalloutNV.exe than 1.4.0.525, or another "
             "plugin that patched these functions first, makes this");
    return false;
  }
  installed = true;
  log_line("%s: %s installed: %zu functions patched", when, source, takeover_count());
  if (s->quarantine != 0)
    log_line("  freed blocks held back from reuse until %u KB of later frees push them out", s->quarantine);
  for (size_t i = 0; i < takeover_count(); i++)
    log_line("  %s (%s)", takeover_name(i), spec_role_name(profile.specs[i].role));
  return true;
}

void game_roles(char *buf, size_t cap) {
  static const spec_role_t roles[] = {SPEC_ROLE_MALLOC,      SPEC_ROLE_CALLOC,     SPEC_ROLE_REALLOC,
                                      SPEC_ROLE_FREE,        SPEC_ROLE_USABLE_SIZE, SPEC_ROLE_MEMALIGN,
                                      SPEC_ROLE_SCRAP_INIT,  SPEC_ROLE_SCRAP_ALLOC, SPEC_ROLE_SCRAP_FREE,
                                      SPEC_ROLE_SCRAP_PURGE};
  size_t n = 0;
  buf[0] = '\0';
  for (size_t r = 0; r < sizeof roles / sizeof *roles; r++) {
    unsigned c = 0;
    for (size_t i = 0; installed && i < profile.n; i++) c += profile.specs[i].role == roles[r];
    if (c == 0) continue;
    int w = snprintf(buf + n, cap - n, "%s%s %u", n ? ", " : "", spec_role_name(roles[r]), c);
    if (w < 0 || (size_t)w >= cap - n) break;
    n += (size_t)w;
  }
  if (n == 0) snprintf(buf, cap, "none");
}

void game_summary(char *buf, size_t cap) {
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  size_t held = takeover_quarantine_held();
  char roles[160];
  game_roles(roles, sizeof roles);
  snprintf(buf, cap,
           "reheap: %s, %zu patched (%s); live %llu KB, peak %llu KB, committed %llu KB (peak %llu KB); "
           "%llu allocations, %llu frees (%zu of them held back)",
           installed ? "active" : "not active", takeover_count(), roles,
           (unsigned long long)(st.live_bytes >> 10), (unsigned long long)(st.peak_live_bytes >> 10),
           (unsigned long long)(st.committed_bytes >> 10), (unsigned long long)(st.peak_committed_bytes >> 10),
           (unsigned long long)st.allocations, (unsigned long long)(st.frees + held), held);
}
