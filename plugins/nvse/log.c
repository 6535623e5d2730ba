/* reheap_nvse.log beside the plugin: what was patched, refused and why. A
 * player reads it when something went wrong, so every line says it whole. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "os/os.h"
#include "plugin.h"

static int log_fd = -1;

void log_open(void) {
  if (log_fd >= 0) return;
  char path[600];
  snprintf(path, sizeof path, "%sreheap_nvse.log", plugin_dir());
  log_fd = os_create_private_file(path);
}

void log_line(const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line - 2, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = (size_t)n < sizeof line - 2 ? (size_t)n : sizeof line - 3;
  memcpy(line + len, "\r\n", 2);
  if (log_fd >= 0) os_write_all(log_fd, line, len + 2);
}
