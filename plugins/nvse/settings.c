/* reheap_nvse.ini beside the plugin:
 *   [reheap]
 *   enabled = 1      ; 0: the plugin patches nothing
 *   gameheap = 1     ; the engine's heap (GameHeap)
 *   crt = 1          ; the exe's C runtime malloc family
 *   scrap = 1        ; the engine's per-thread scrap heaps
 *   early = 1        ; at NVSE's Preload (xNVSE 6.3.6 and later), else at Load
 *   stats = 1        ; a summary line in the log at exit
 *   quarantine = 0   ; KB of freed blocks held back before reuse
 *   profile =        ; a profile file instead of the built-in one
 * Unknown keys and bad values are logged and ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "plugin.h"

static char dir[520];

const char *plugin_dir(void) {
  if (dir[0] != '\0') return dir;
  char name[8];
  uintptr_t off;
  char path[sizeof dir];
  if (os_symbolize((const void *)plugin_dir, name, sizeof name, path, sizeof path, &off)) {
    char *sep = strrchr(path, '\\');
    if (sep == NULL) sep = strrchr(path, '/');
    if (sep != NULL) sep[1] = '\0';
    else path[0] = '\0';
    memcpy(dir, path, strlen(path) + 1);
  }
  return dir;
}

/* A whole number of KB, at most 1 GiB: more would hold back more than the
 * 32-bit game can spare. */
static bool kbytes(const char *key, const char *v, unsigned line, unsigned *out) {
  char *end;
  unsigned long n = strtoul(v, &end, 10);
  if (*v < '0' || *v > '9' || *end != '\0' || n > (1ul << 20)) {
    log_line("settings: line %u: %s wants KB from 0 to 1048576, not '%s'; kept %u", line, key, v, *out);
    return false;
  }
  *out = (unsigned)n;
  return true;
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = '\0';
  return s;
}

static bool flag(const char *key, const char *v, unsigned line, bool *out) {
  if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0) *out = true;
  else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0) *out = false;
  else {
    log_line("settings: line %u: %s wants 0 or 1, not '%s'; kept %d", line, key, v, *out);
    return false;
  }
  return true;
}

void settings_load(settings_t *s) {
  *s = (settings_t){.enabled = true, .gameheap = true, .crt = true, .scrap = true, .early = true, .stats = true};
  char path[600];
  snprintf(path, sizeof path, "%sreheap_nvse.ini", plugin_dir());
  static char text[16 << 10];
  long len = os_read_small_file(path, text, sizeof text - 1);
  if (len < 0) {
    log_line("settings: no %s; the defaults apply", path);
    return;
  }
  text[len] = '\0';
  unsigned line = 0;
  for (char *p = text, *next; p != NULL; p = next) {
    next = strchr(p, '\n');
    if (next != NULL) *next++ = '\0';
    line++;
    char *c = strchr(p, ';');
    if (c != NULL) *c = '\0';
    p = trim(p);
    if (*p == '\0' || *p == '[') continue;
    char *eq = strchr(p, '=');
    if (eq == NULL) {
      log_line("settings: line %u: '%s' is not key = value; ignored", line, p);
      continue;
    }
    *eq = '\0';
    char *k = trim(p), *v = trim(eq + 1);
    if (strcmp(k, "enabled") == 0) flag(k, v, line, &s->enabled);
    else if (strcmp(k, "gameheap") == 0) flag(k, v, line, &s->gameheap);
    else if (strcmp(k, "crt") == 0) flag(k, v, line, &s->crt);
    else if (strcmp(k, "scrap") == 0) flag(k, v, line, &s->scrap);
    else if (strcmp(k, "early") == 0) flag(k, v, line, &s->early);
    else if (strcmp(k, "stats") == 0) flag(k, v, line, &s->stats);
    else if (strcmp(k, "quarantine") == 0) kbytes(k, v, line, &s->quarantine);
    else if (strcmp(k, "profile") == 0) {
      if (strlen(v) >= sizeof s->profile) log_line("settings: line %u: the profile path is too long; ignored", line);
      else memcpy(s->profile, v, strlen(v) + 1);
    } else log_line("settings: line %u: unknown key '%s'; ignored", line, k);
  }
  log_line("settings: enabled=%d gameheap=%d crt=%d scrap=%d early=%d stats=%d quarantine=%u KB profile=%s", s->enabled,
           s->gameheap, s->crt, s->scrap, s->early, s->stats, s->quarantine, s->profile[0] ? s->profile : "(built in)");
}
