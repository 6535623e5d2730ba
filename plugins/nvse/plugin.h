/* The reheap_nvse plugin's parts: settings (settings.c), the log
 * (log.c), the takeover of the game's heap (takeover_game.c), the
 * console commands (commands.c); plugin.c holds NVSE's entry points. */
#ifndef REHEAP_NVSE_PLUGIN_H
#define REHEAP_NVSE_PLUGIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h> /* __MINGW_PRINTF_FORMAT: gnu_printf under mingw's own C99 printf */

#include "nvse_abi.h"

#define PLUGIN_NAME "reheap"
#define PLUGIN_VERSION 1u

typedef struct settings {
  bool enabled;  /* [reheap] enabled: take over anything at all */
  bool gameheap; /* the profile's [gameheap] section */
  bool scrap;    /* its [scrap] section */
  bool crt;      /* its [crt] section */
  bool early;    /* at NVSE's Preload, before the exe's CRT and game heap */
  bool stats;    /* a summary line in the log when the game exits */
  unsigned quarantine; /* KB of freed blocks held back from reuse (0: none) */
  char profile[260]; /* a profile file to use instead of the built-in one */
} settings_t;

/* Reads NAME.ini beside the plugin (a missing file: the defaults); each
 * line it cannot use is logged, the rest applies. */
void settings_load(settings_t *s);
/* The folder holding the plugin, with a trailing separator. */
const char *plugin_dir(void);

/* The log file reheap_nvse.log beside the plugin, begun anew each run. */
void log_open(void);
void log_line(const char *fmt, ...) __attribute__((format(__MINGW_PRINTF_FORMAT, 1, 2)));

/* Takes over the game's heap as the settings say, once; logged either way. */
bool game_takeover(const settings_t *s, const char *when);
bool game_taken_over(void);
/* Patched functions per role ("malloc 3, free 2, ..."), into buf. */
void game_roles(char *buf, size_t cap);
/* The one summary line (the console command's, and the log's at exit). */
void game_summary(char *buf, size_t cap);

/* Registers the console commands; false when NVSE refused one. */
bool commands_register(const nvse_interface_t *nvse);

#endif
