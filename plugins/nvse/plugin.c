/* reheap as an NVSE plugin for Fallout: New Vegas 1.4.0.525. NVSE calls
 * NVSEPlugin_Preload (xNVSE's, very early: before the exe's C runtime and
 * game heap exist, so nothing of theirs needs sending back), then
 * NVSEPlugin_Query and NVSEPlugin_Load from its DllMain, under the loader
 * lock, just before WinMain. All three are cdecl and return a one-byte
 * bool. The heap is taken over at Preload when the INI allows (early = 1),
 * else at Load; the commands are registered at Load. */
#include <stdio.h>
#include <stdlib.h>

#include "plugin.h"

static settings_t settings;
static bool ready;

static void start(void) {
  if (ready) return;
  ready = true;
  log_open();
  log_line("reheap_nvse %u: loaded from %s", PLUGIN_VERSION, plugin_dir());
  settings_load(&settings);
}

static void at_exit(void) {
  if (!settings.stats) return;
  char line[512];
  game_summary(line, sizeof line);
  log_line("at exit: %s", line);
}

__declspec(dllexport) _Bool NVSEPlugin_Preload(void) {
  start();
  if (settings.early) game_takeover(&settings, "preload");
  return 1;
}

__declspec(dllexport) _Bool NVSEPlugin_Query(const nvse_interface_t *nvse, nvse_plugin_info_t *info) {
  start();
  info->info_version = NVSE_PLUGIN_INFO_VERSION;
  info->name = PLUGIN_NAME;
  info->version = PLUGIN_VERSION;
  if (nvse->is_editor) {
    log_line("query: the editor (GECK) is not supported; reheap stays off");
    return 0;
  }
  if (nvse->runtime_version != NVSE_RUNTIME_1_4_0_525) {
    log_line("query: runtime 0x%08X is not Fallout: New Vegas 1.4.0.525 (0x%08X); reheap stays off",
             (unsigned)nvse->runtime_version, NVSE_RUNTIME_1_4_0_525);
    return 0;
  }
  log_line("query: NVSE 0x%08X, runtime 1.4.0.525", (unsigned)nvse->nvse_version);
  return 1;
}

__declspec(dllexport) _Bool NVSEPlugin_Load(const nvse_interface_t *nvse) {
  start();
  /* without Preload (an older NVSE, or early = 0): now, after the game's
   * heap was built; its blocks so far go back to it */
  game_takeover(&settings, "load");
  if (!commands_register(nvse)) return 0;
  atexit(at_exit);
  return 1;
}
