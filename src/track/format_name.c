/* The report formats by name, as `reheap run --format`, `reheap dump`,
 * REHEAP_TRACK_FORMAT and rh_track_report spell them (track_region.h). */
#include <string.h>

#include "track/track_region.h"

bool track_format_from_name(const char *name, track_format_t *out) {
  static const struct {
    const char *name;
    track_format_t f;
  } formats[] = {
      {"text", TRACK_FORMAT_TEXT},
      {"json", TRACK_FORMAT_JSON},
      {"folded", TRACK_FORMAT_FOLDED},
      {"folded-allocated", TRACK_FORMAT_FOLDED_ALLOCATED},
      {"pprof", TRACK_FORMAT_PPROF},
      {"svg", TRACK_FORMAT_SVG},
      {"svg-allocated", TRACK_FORMAT_SVG_ALLOCATED},
      {"html", TRACK_FORMAT_HTML},
  };
  for (size_t i = 0; name != NULL && i < sizeof formats / sizeof formats[0]; i++)
    if (strcmp(name, formats[i].name) == 0) {
      *out = formats[i].f;
      return true;
    }
  return false;
}
