/* The report as a pprof profile (--format pprof): a gzipped profile.proto
 * (github.com/google/pprof, proto/profile.proto), which `go tool pprof`
 * reads, and through it Pyroscope, Parca and speedscope. One sample per
 * call stack with four values: alloc_objects and alloc_space (allocated
 * over the run, frees not subtracted) and inuse_objects and inuse_space
 * (live at exit); under sampling, the estimates. Frames are named here
 * (functions, files, lines), so the profile needs no binaries to read;
 * mappings carry each module's range, path and build ID.
 *
 * It runs where the tracker lets allocations through (the report), so it
 * builds the message with malloc, and zlib compresses it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "os/os.h"
#include "track/symbols.h"
#include "track/track_internal.h"

#define STACKS_MAX 65536

/* ---- protobuf encoding into growing buffers ---- */

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
  bool failed;
} buf_t;

static void put_bytes(buf_t *b, const void *src, size_t n) {
  if (b->failed) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (p == NULL) {
      b->failed = true;
      return;
    }
    b->p = p;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}

static void put_varint(buf_t *b, uint64_t v) {
  uint8_t t[10];
  size_t n = 0;
  do {
    t[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
  put_bytes(b, t, n);
}

static void put_tag(buf_t *b, unsigned field, unsigned wire) { put_varint(b, (uint64_t)field << 3 | wire); }
static void put_int(buf_t *b, unsigned field, uint64_t v) {
  if (v == 0) return; /* proto3: a zero is left out */
  put_tag(b, field, 0);
  put_varint(b, v);
}
static void put_len(buf_t *b, unsigned field, const void *p, size_t n) {
  put_tag(b, field, 2);
  put_varint(b, n);
  put_bytes(b, p, n);
}
static void put_msg(buf_t *b, unsigned field, buf_t *m) {
  put_len(b, field, m->p, m->n);
  b->failed |= m->failed;
  m->n = 0;
}

/* ---- the string table ---- */

typedef struct strings {
  buf_t out; /* the encoded string_table entries, field 6 */
  char **s;       /* the strings kept for lookup, by index */
  uint32_t *slot; /* hash -> index + 1 */
  size_t n;       /* strings in the table */
  size_t kept, cap, slots;
  bool failed;
} strings_t;

static uint64_t hash_str(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
  return h;
}

static int64_t str_id(strings_t *t, const char *s) {
  if (t->slots == 0) {
    t->slots = 1u << 16;
    t->slot = calloc(t->slots, sizeof *t->slot);
    if (t->slot == NULL) t->failed = true;
  }
  if (t->failed) return 0;
  size_t k = hash_str(s) & (t->slots - 1);
  for (; t->slot[k] != 0; k = (k + 1) & (t->slots - 1))
    if (strcmp(t->s[t->slot[k] - 1], s) == 0) return t->slot[k] - 1;
  if (t->kept + 1 >= t->slots / 2 || t->kept != t->n) { /* full: new strings are written, not shared */
    put_len(&t->out, 6, s, strlen(s));
    return (int64_t)t->n++;
  }
  if (t->kept == t->cap) {
    size_t cap = t->cap ? 2 * t->cap : 1024;
    char **p = realloc(t->s, cap * sizeof *p);
    if (p == NULL) {
      t->failed = true;
      return 0;
    }
    t->s = p;
    t->cap = cap;
  }
  t->s[t->kept] = strdup(s);
  if (t->s[t->kept] == NULL) {
    t->failed = true;
    return 0;
  }
  t->kept++;
  t->slot[k] = (uint32_t)t->n + 1;
  put_len(&t->out, 6, s, strlen(s));
  return (int64_t)t->n++;
}

static void strings_free(strings_t *t) {
  for (size_t i = 0; i < t->kept; i++) free(t->s[i]);
  free(t->s);
  free(t->slot);
  free(t->out.p);
}

/* ---- ids for addresses, functions and modules ---- */

typedef struct ids {
  uint64_t *key; /* 0: empty */
  uint32_t *id;
  size_t slots, n;
} ids_t;

/* The id of key, made (1, 2, ...) if new; *made says so. 0 when full. */
static uint32_t id_of(ids_t *t, uint64_t key, bool *made) {
  *made = false;
  if (t->slots == 0) {
    t->slots = 1u << 18;
    t->key = calloc(t->slots, sizeof *t->key);
    t->id = calloc(t->slots, sizeof *t->id);
  }
  if (t->key == NULL || t->id == NULL || key == 0) return 0;
  size_t k = (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 46) & (t->slots - 1);
  for (; t->key[k] != 0; k = (k + 1) & (t->slots - 1))
    if (t->key[k] == key) return t->id[k];
  if (t->n + 1 >= t->slots / 2) return 0;
  t->key[k] = key;
  t->id[k] = (uint32_t)++t->n;
  *made = true;
  return t->id[k];
}

static void ids_free(ids_t *t) {
  free(t->key);
  free(t->id);
}

/* ---- the values per stack ---- */

typedef struct values {
  double alloc_objects, alloc_space, inuse_objects, inuse_space;
} values_t;

static void add_allocated(uint32_t id, int64_t bytes, int64_t blocks, void *arg) {
  values_t *v = arg;
  if (id > STACKS_MAX) return;
  v[id].alloc_space += (double)bytes;
  v[id].alloc_objects += (double)blocks;
}

static void add_live(const track_record_t *r, void *arg) {
  values_t *v = arg;
  if (r->stack_id > STACKS_MAX) return;
  double w = track_sample_weight(r->size);
  v[r->stack_id].inuse_space += (double)r->size * w;
  v[r->stack_id].inuse_objects += w;
}

static int64_t rounded(double v) { return v > 0 ? (int64_t)(v + 0.5) : 0; }

/* ---- the profile ---- */

typedef struct profile {
  buf_t out, m, sub;
  strings_t str;
  ids_t locations, functions, mappings;
} profile_t;

static uint32_t mapping_of(profile_t *p, uintptr_t pc) {
  uintptr_t lo = 0, hi = 0;
  char path[512], build_id[128];
  if (!track_module_of(pc, &lo, &hi, path, sizeof path, build_id, sizeof build_id)) return 0;
  bool made;
  uint32_t id = id_of(&p->mappings, (uint64_t)lo | 1, &made);
  if (!made) return id;
  put_int(&p->m, 1, id);
  put_int(&p->m, 2, lo);
  put_int(&p->m, 3, hi);
  put_int(&p->m, 5, (uint64_t)str_id(&p->str, path));
  put_int(&p->m, 6, (uint64_t)str_id(&p->str, build_id));
  put_int(&p->m, 7, 1); /* has_functions, has_filenames, has_line_numbers */
  put_int(&p->m, 8, 1);
  put_int(&p->m, 9, 1);
  put_msg(&p->out, 3, &p->m);
  return id;
}

static uint32_t function_of(profile_t *p, const track_symbol_t *sym, uintptr_t pc) {
  char unnamed[32];
  const char *name = sym->function;
  if (name[0] == '\0') {
    snprintf(unnamed, sizeof unnamed, "0x%llx", (unsigned long long)pc);
    name = unnamed;
  }
  int64_t name_id = str_id(&p->str, name), file_id = str_id(&p->str, sym->file);
  bool made;
  uint32_t id = id_of(&p->functions, (uint64_t)name_id << 32 | (uint64_t)file_id | 1ULL << 63, &made);
  if (!made) return id;
  put_int(&p->m, 1, id);
  put_int(&p->m, 2, (uint64_t)name_id);
  put_int(&p->m, 3, (uint64_t)name_id);
  put_int(&p->m, 4, (uint64_t)file_id);
  put_msg(&p->out, 5, &p->m);
  return id;
}

static uint32_t location_of(profile_t *p, uintptr_t pc) {
  bool made;
  uint32_t id = id_of(&p->locations, pc, &made);
  if (!made) return id;
  track_symbol_t sym;
  track_symbolize(pc, &sym);
  uint32_t mapping = mapping_of(p, pc), function = function_of(p, &sym, pc);
  /* (the functions and mapping went out first: p->m is free again) */
  put_int(&p->m, 1, id);
  put_int(&p->m, 2, mapping);
  put_int(&p->m, 3, pc - 1); /* the call, as the frames are named */
  put_int(&p->sub, 1, function);
  put_int(&p->sub, 2, sym.line);
  put_msg(&p->m, 4, &p->sub);
  put_msg(&p->out, 4, &p->m);
  return id;
}

static void value_type(profile_t *p, unsigned field, const char *type, const char *unit) {
  put_int(&p->sub, 1, (uint64_t)str_id(&p->str, type));
  put_int(&p->sub, 2, (uint64_t)str_id(&p->str, unit));
  put_msg(&p->out, field, &p->sub);
}

static bool gzip_out(int fd, const buf_t *b) {
  z_stream z;
  memset(&z, 0, sizeof z);
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return false;
  uint8_t chunk[16384];
  z.next_in = b->p;
  z.avail_in = (uInt)b->n;
  int rc;
  do {
    z.next_out = chunk;
    z.avail_out = sizeof chunk;
    rc = deflate(&z, Z_FINISH);
    os_write_all(fd, (const char *)chunk, sizeof chunk - z.avail_out);
  } while (rc == Z_OK);
  deflateEnd(&z);
  return rc == Z_STREAM_END;
}

bool track_report_pprof(int fd) {
  values_t *v = calloc(STACKS_MAX + 1, sizeof *v);
  profile_t p;
  memset(&p, 0, sizeof p);
  if (v == NULL) return false;
  track_stack_each(add_allocated, v);
  track_live_each(add_live, v);
  str_id(&p.str, ""); /* string 0 is "" */
  value_type(&p, 1, "alloc_objects", "count");
  value_type(&p, 1, "alloc_space", "bytes");
  value_type(&p, 1, "inuse_objects", "count");
  value_type(&p, 1, "inuse_space", "bytes");
  for (uint32_t id = 0; id <= STACKS_MAX; id++) {
    values_t *s = &v[id];
    if (s->alloc_objects == 0 && s->inuse_objects == 0) continue;
    const uintptr_t *frames = NULL;
    size_t n = id != 0 ? track_stack_get(id, &frames) : 0;
    uint32_t loc[64];
    size_t nloc = 0;
    for (size_t k = 0; k < n && nloc < 64; k++) {
      uint32_t l = location_of(&p, frames[k]);
      if (l != 0) loc[nloc++] = l;
    }
    /* packed: the leaf first, as pprof wants */
    buf_t packed = {0};
    for (size_t k = 0; k < nloc; k++) put_varint(&packed, loc[k]);
    if (nloc > 0) put_len(&p.sub, 1, packed.p, packed.n);
    packed.n = 0;
    int64_t vals[4] = {rounded(s->alloc_objects), rounded(s->alloc_space), rounded(s->inuse_objects),
                       rounded(s->inuse_space)};
    for (int k = 0; k < 4; k++) put_varint(&packed, (uint64_t)vals[k]);
    put_len(&p.sub, 2, packed.p, packed.n);
    p.sub.failed |= packed.failed;
    free(packed.p);
    put_msg(&p.out, 2, &p.sub);
  }
  int64_t comment = str_id(&p.str, track_sample_mean != 0 ? "reheap track, sampled: the values are estimates"
                                                          : "reheap track: every block recorded");
  int64_t space = str_id(&p.str, "space"), bytes = str_id(&p.str, "bytes");
  int64_t inuse = str_id(&p.str, "inuse_space");
  put_int(&p.sub, 1, (uint64_t)space);
  put_int(&p.sub, 2, (uint64_t)bytes);
  put_msg(&p.out, 11, &p.sub); /* period_type */
  put_int(&p.out, 12, track_sample_mean != 0 ? track_sample_mean : 1);
  put_int(&p.out, 13, (uint64_t)comment);
  put_int(&p.out, 14, (uint64_t)inuse);
  /* the string table last: every string is known by now */
  put_bytes(&p.out, p.str.out.p, p.str.out.n);
  bool ok = !p.out.failed && !p.str.failed && !p.str.out.failed && gzip_out(fd, &p.out);
  free(p.out.p);
  free(p.m.p);
  free(p.sub.p);
  strings_free(&p.str);
  ids_free(&p.locations);
  ids_free(&p.functions);
  ids_free(&p.mappings);
  free(v);
  return ok;
}
