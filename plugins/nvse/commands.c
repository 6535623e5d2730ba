/* The console commands, under the names players know from the earlier
 * heap replacers, and one summary line. Each returns its number in
 * *result (what a script reads); typed in the console, it also prints it
 * through NVSE's console interface. */
#include <stdio.h>
#include <string.h>

#include "front/takeover.h"
#include "plugin.h"
#include "reheap/alloc.h"

static nvse_console_interface_t *console;

static void print(const char *text) {
  if (console == NULL || console->run_script_line2 == NULL) return;
  /* print "...": the text may hold no quote of its own */
  char line[600];
  size_t n = (size_t)snprintf(line, sizeof line, "print \"");
  for (const char *c = text; *c != '\0' && n + 3 < sizeof line; c++) line[n++] = *c == '"' ? '\'' : *c;
  line[n++] = '"';
  line[n] = '\0';
  console->run_script_line2(line, NULL, false);
}

static void say_number(const char *what, double v) {
  char line[128];
  snprintf(line, sizeof line, "%s >> %.0f", what, v);
  print(line);
}

#define ARGS                                                                                               \
  nvse_param_info_t *params, void *script_data, void *this_obj, void *containing_obj, void *script,      \
      void *event_list, double *result, uint32_t *opcode_offset
#define UNUSED                                                                                             \
  (void)params, (void)script_data, (void)this_obj, (void)containing_obj, (void)script, (void)event_list, \
      (void)opcode_offset

/* The game's frees count the blocks the quarantine holds: it freed them,
 * the heap has not had them back yet. */
static rh_heap_stats_t stats(void) {
  rh_heap_stats_t st;
  rh_heap_stats(&st, NULL, 0);
  st.frees += takeover_quarantine_held();
  return st;
}

static _Bool cmd_active(ARGS) {
  UNUSED;
  *result = game_taken_over() ? 1 : 0;
  say_number("IsMemoryPoolActive", *result);
  return 1;
}
static _Bool cmd_patched(ARGS) {
  UNUSED;
  *result = takeover_count() > 0 ? 1 : 0;
  say_number("IsMemoryPoolPatched", *result);
  return 1;
}
static _Bool cmd_count(ARGS) {
  UNUSED;
  *result = (double)takeover_count();
  say_number("GetPatchedFunctionCount", *result);
  return 1;
}
static _Bool cmd_allocs(ARGS) {
  UNUSED;
  *result = (double)stats().allocations;
  say_number("GetMemoryPoolAllocations", *result);
  return 1;
}
static _Bool cmd_frees(ARGS) {
  UNUSED;
  *result = (double)stats().frees;
  say_number("GetMemoryPoolFrees", *result);
  return 1;
}
static _Bool cmd_summary(ARGS) {
  UNUSED;
  char line[512];
  game_summary(line, sizeof line);
  print(line);
  *result = (double)stats().live_bytes;
  return 1;
}

static nvse_command_info_t commands[] = {
    {"IsMemoryPoolActive", "", 0, "1 when reheap's heap serves the game", 0, 0, NULL, cmd_active, NULL, NULL, 0},
    {"IsMemoryPoolPatched", "", 0, "1 when the game's heap functions are patched", 0, 0, NULL, cmd_patched, NULL,
     NULL, 0},
    {"GetPatchedFunctionCount", "", 0, "how many functions reheap patched", 0, 0, NULL, cmd_count, NULL, NULL, 0},
    {"GetMemoryPoolAllocations", "", 0, "blocks reheap's heap handed out", 0, 0, NULL, cmd_allocs, NULL, NULL, 0},
    {"GetMemoryPoolFrees", "", 0, "blocks of reheap's the game freed", 0, 0, NULL, cmd_frees, NULL, NULL, 0},
    {"ReheapStats", "", 0, "prints reheap's summary line; returns its live bytes", 0, 0, NULL, cmd_summary, NULL,
     NULL, 0},
};

bool commands_register(const nvse_interface_t *nvse) {
  if (nvse->query_interface != NULL)
    console = (nvse_console_interface_t *)nvse->query_interface(NVSE_INTERFACE_CONSOLE);
  nvse->set_opcode_base(NVSE_OPCODE_DEVELOPMENT);
  for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
    if (!nvse->register_command(&commands[i])) {
      log_line("load: NVSE refused the command %s", commands[i].long_name);
      return false;
    }
  log_line("load: %zu console commands registered (IsMemoryPoolActive, IsMemoryPoolPatched, "
           "GetPatchedFunctionCount, GetMemoryPoolAllocations, GetMemoryPoolFrees, ReheapStats)",
           sizeof commands / sizeof *commands);
  return true;
}
