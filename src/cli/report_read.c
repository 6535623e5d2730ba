/* A saved JSON track report (docs/track-report.md, versions 1 and 2;
 * reports written before the reachability scan lack its keys, read as 0
 * and empty),
 * parsed with jansson and checked field by field, so that whatever is
 * wrong with a file is said once, with the place in it. */
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/cmd_report.h"

const char *const rh_report_summary_keys[RH_SUM_COUNT] = {
    "allocations",   "frees",        "reallocs",      "bytes_allocated", "peak_live_bytes",
    "unknown_frees", "double_frees", "invalid_frees", "leaked_bytes",    "leaked_blocks",
    "leak_stacks",   "suppressed_bytes", "suppressed_blocks", "reachable_bytes",
    "reachable_blocks", "threads_not_scanned", "sample_bytes",
};

static const char rewrite_hint[] = "'reheap run --track --format json --report FILE'";

int rh_report_fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char with_verb[512];
  snprintf(with_verb, sizeof with_verb, "report: %s", fmt);
  int status = rh_cli_vfail(RH_EXIT_DATA, with_verb, ap);
  va_end(ap);
  return status;
}

/* name: the file as messages call it. where: the JSON path of the object
 * being read ("leaks[3].frames[0]"), "" at the top. */
static bool bad_field(const char *name, const char *where, const char *key, const char *want) {
  rh_report_fail("%s: %s%s%s is not %s; the file is damaged or not reheap's (write it again "
                 "with %s)", name, where, *where && key ? "." : "", key ? key : "", want,
                 rewrite_hint);
  return false;
}

static bool get_count(const char *name, json_t *obj, const char *where, const char *key,
                      uint64_t *out) {
  json_t *v = json_object_get(obj, key);
  *out = 0;
  if (v == NULL) return true;
  if (!json_is_integer(v) || json_integer_value(v) < 0)
    return bad_field(name, where, key, "a whole number from 0 up");
  *out = (uint64_t)json_integer_value(v);
  return true;
}

static bool get_text(const char *name, json_t *obj, const char *where, const char *key,
                     const char **out) {
  json_t *v = json_object_get(obj, key);
  *out = "";
  if (v == NULL) return true;
  if (!json_is_string(v)) return bad_field(name, where, key, "a string");
  *out = json_string_value(v);
  return true;
}

/* *out is NULL when the array is absent. */
static bool get_array(const char *name, json_t *obj, const char *where, const char *key,
                      json_t **out) {
  *out = json_object_get(obj, key);
  if (*out == NULL || json_is_array(*out)) return true;
  return bad_field(name, where, key, "an array");
}

static bool out_of_memory(void) {
  rh_report_fail("out of memory");
  return false;
}

static bool load_frame(const char *name, json_t *jf, const char *where, rh_report_frame_t *f) {
  if (!json_is_object(jf)) return bad_field(name, where, NULL, "an object");
  return get_count(name, jf, where, "address", &f->address) &&
         get_text(name, jf, where, "function", &f->function) &&
         get_count(name, jf, where, "offset", &f->offset) &&
         get_text(name, jf, where, "module", &f->module) &&
         get_text(name, jf, where, "file", &f->file) &&
         get_count(name, jf, where, "line", &f->line);
}

static bool load_group(const char *name, json_t *jg, const char *where, rh_report_group_t *g) {
  if (!json_is_object(jg)) return bad_field(name, where, NULL, "an object");
  json_t *frames;
  if (!get_count(name, jg, where, "bytes", &g->bytes) ||
      !get_count(name, jg, where, "blocks", &g->blocks) ||
      !get_count(name, jg, where, "samples", &g->samples) ||
      !get_array(name, jg, where, "frames", &frames))
    return false;
  size_t n = json_array_size(frames); /* 0 for NULL */
  if (n == 0) return true;
  g->frames = calloc(n, sizeof *g->frames);
  if (g->frames == NULL) return out_of_memory();
  g->nframes = n;
  for (size_t k = 0; k < n; k++) {
    char fwhere[96];
    snprintf(fwhere, sizeof fwhere, "%s.frames[%zu]", where, k);
    if (!load_frame(name, json_array_get(frames, k), fwhere, &g->frames[k])) return false;
  }
  return true;
}

/* Kept in the order stored: the tracker writes them biggest first. */
static bool load_groups(const char *name, json_t *root, const char *key, rh_report_group_t **out,
                        size_t *count) {
  json_t *arr;
  if (!get_array(name, root, "", key, &arr)) return false;
  size_t n = json_array_size(arr);
  if (n == 0) return true;
  *out = calloc(n, sizeof **out);
  if (*out == NULL) return out_of_memory();
  *count = n;
  for (size_t i = 0; i < n; i++) {
    char where[64];
    snprintf(where, sizeof where, "%s[%zu]", key, i);
    if (!load_group(name, json_array_get(arr, i), where, &(*out)[i])) return false;
  }
  return true;
}

/* What a report must say of itself before anything else in it is read. */
static bool check_kind(const char *name, json_t *root, long long *version) {
  json_t *format = json_is_object(root) ? json_object_get(root, "format") : NULL;
  if (!json_is_string(format) || strcmp(json_string_value(format), "reheap-track") != 0) {
    rh_report_fail("%s is JSON but not a reheap track report (it has no \"format\": "
                   "\"reheap-track\"); give a file written by %s", name, rewrite_hint);
    return false;
  }
  json_t *v = json_object_get(root, "version");
  if (!json_is_integer(v)) return bad_field(name, "", "version", "a whole number");
  *version = json_integer_value(v);
  if (*version != 1 && *version != 2) {
    rh_report_fail("%s is a version %lld track report; this reheap reads versions 1 and 2 "
                   "(render it with the reheap that wrote it, or a newer one)", name, *version);
    return false;
  }
  return true;
}

static bool load_report(const char *name, json_t *root, rh_report_t *r) {
  if (!check_kind(name, root, &r->version)) return false;
  json_t *summary = json_object_get(root, "summary");
  if (summary != NULL && !json_is_object(summary))
    return bad_field(name, "", "summary", "an object");
  for (int i = 0; i < RH_SUM_COUNT; i++)
    if (!get_count(name, summary, "summary", rh_report_summary_keys[i], &r->sum[i])) return false;
  return load_groups(name, root, "leaks", &r->leaks, &r->nleaks) &&
         load_groups(name, root, "allocated", &r->allocated, &r->nallocated) &&
         load_groups(name, root, "reachable", &r->reachable, &r->nreachable);
}

/* The parsed document, or NULL after one line on stderr. */
static json_t *read_json(const char *path, const char *name) {
  FILE *f = stdin;
  if (strcmp(path, "-") != 0) {
    f = fopen(path, "r");
    if (f == NULL) {
      rh_report_fail("cannot read %s: %s", name, strerror(errno));
      return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
      fclose(f);
      rh_report_fail("%s is a directory, not a saved report", name);
      return NULL;
    }
  }
  json_error_t err;
  json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &err);
  if (f != stdin) fclose(f);
  if (root == NULL)
    rh_report_fail("%s is not valid JSON (line %d, column %d: %s); give a report written by %s",
                   name, err.line, err.column, err.text, rewrite_hint);
  return root;
}

bool rh_report_read(const char *path, const char *name, rh_report_t *r) {
  memset(r, 0, sizeof *r);
  r->doc = read_json(path, name);
  return r->doc != NULL && load_report(name, r->doc, r);
}

bool rh_report_parse(const char *text, size_t len, const char *name, rh_report_t *r) {
  memset(r, 0, sizeof *r);
  json_error_t err;
  r->doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
  if (r->doc == NULL) {
    rh_report_fail("%s is not valid JSON (line %d, column %d: %s); give a report written by %s", name, err.line,
                   err.column, err.text, rewrite_hint);
    return false;
  }
  return load_report(name, r->doc, r);
}

static void free_groups(rh_report_group_t *g, size_t n) {
  for (size_t i = 0; i < n; i++) free(g[i].frames);
  free(g);
}

void rh_report_free(rh_report_t *r) {
  free_groups(r->leaks, r->nleaks);
  free_groups(r->allocated, r->nallocated);
  free_groups(r->reachable, r->nreachable);
  json_decref(r->doc);
  memset(r, 0, sizeof *r);
}
