/* The mark phase that tells lost blocks from reachable ones (see reach.h).
 *
 * The live blocks are copied out of the table, sorted by address (radix
 * sort), and every word of the roots is looked up among them (binary
 * search; a word pointing inside a block counts, as in LeakSanitizer). A
 * block found is marked and queued, and its own words are read in turn:
 * an explicit worklist, each block queued at most once, small blocks read
 * many to a system call. No malloc and no recursion: this runs inside a
 * program whose heap is being watched, perhaps on a small stack.
 *
 * What must not count as a root: the tracker's own memory. Its records
 * hold block addresses scrambled, and the copies made here live in one
 * anonymous mapping that the roots below never include; that mapping is
 * also cut out of any root range it might have merged into. The scan's
 * own state lives there too, not on the stack, since the calling
 * thread's stack is a root. */
#include <stdlib.h>
#include <string.h>

#include "os/os.h"
#include "track/reach.h"

#define CHUNK (64 * 1024) /* bytes read at a time */
#define TLS_BLOCKS_MAX 256
#define SPS_MAX 4096
#define MODS_MAX 2048
#define META_MAX 4096
/* how far into a block a pointer from memory not tracked may point: past
 * headers placed in front of an object (Python's 16-byte GC head), a
 * base class's part of a C++ object */
#define NEAR_START 64
#define NONE ((size_t)-1)
#define DIGIT_BITS 16 /* radix sort: 4 passes over an address, at most */

typedef struct scan {
  track_block_t *b, *tmp; /* tmp: the radix sort's other half */
  size_t *counts;         /* 1 << DIGIT_BITS of them */
  size_t n;
  uintptr_t lo, hi; /* the lowest block start, the highest block end */
  uint32_t *work;
  size_t nwork;
  uintptr_t *chunk;
  uintptr_t own_lo, own_hi; /* this mapping: never a root */
  size_t threads_not_scanned;
  uintptr_t tls_blocks[TLS_BLOCKS_MAX];
  /* gathered before the scan, as finding them takes the loader's lock
   * (which a stopped thread may hold): the modules' data, the loader's
   * range, this thread's TLS */
  uintptr_t mods[MODS_MAX][2];
  bool mods_heap[MODS_MAX];
  size_t nmods, ntls;
  bool loader, area;
  uintptr_t loader_lo, loader_hi, area_lo, area_hi, area_tp;
  uintptr_t sps[SPS_MAX]; /* the stack pointers of the stacks scanned */
  size_t nsps;
  uintptr_t meta[META_MAX][2]; /* a mapping's ranges of heap bookkeeping */
  size_t nmeta;
  bool near_start_only; /* only a word naming one of a block's first bytes marks it */
  size_t cap;   /* room for so many blocks */
  uintptr_t sp; /* this thread's stack, from here up */
  bool ok;
  os_span_t spans[OS_READ_MANY_MAX];
  uint32_t batch[OS_READ_MANY_MAX];
} scan_t;

bool track_reach_enabled(void) {
  const char *s = getenv("REHEAP_TRACK_REACHABLE");
  return s == NULL || strcmp(s, "0") != 0;
}

/* The main thread's TLS and descriptor, noted at load: a report written
 * by another thread (`reheap dump`) cannot learn where they are. */
static uintptr_t main_lo, main_hi, main_tp;

__attribute__((constructor)) static void note_main_thread(void) {
  size_t none = 0;
  uintptr_t lo, hi, tp;
  if (os_is_main_thread() && os_thread_area(&lo, &hi, &tp, NULL, &none)) {
    main_lo = lo;
    main_hi = hi;
    main_tp = tp;
  }
}

/* ---- the blocks ---- */

typedef struct copy {
  track_block_t *b;
  size_t n, cap;
} copy_t;

static void copy_record(const track_record_t *r, void *arg) {
  copy_t *c = arg;
  if (c->n == c->cap) return; /* blocks allocated since the count: a running program */
  c->b[c->n++] = (track_block_t){track_addr(r), r->size, r->stack_id, 0};
}

/* By address, least significant digit first, each pass stable; a pass
 * whose digit every block shares (the high bits, mostly) is skipped.
 * Linear, and kind to the cache, where a comparison sort of millions of
 * blocks is neither. */
static void sort_blocks(scan_t *s) {
  size_t radix = (size_t)1 << DIGIT_BITS, n = s->n;
  for (unsigned shift = 0; shift < sizeof(uintptr_t) * 8; shift += DIGIT_BITS) {
    memset(s->counts, 0, radix * sizeof *s->counts);
    for (size_t i = 0; i < n; i++) s->counts[(s->b[i].addr >> shift) & (radix - 1)]++;
    if (n == 0 || s->counts[(s->b[0].addr >> shift) & (radix - 1)] == n) continue;
    size_t at = 0;
    for (size_t d = 0; d < radix; d++) {
      size_t c = s->counts[d];
      s->counts[d] = at;
      at += c;
    }
    for (size_t i = 0; i < n; i++) {
      size_t d = (s->b[i].addr >> shift) & (radix - 1);
      s->tmp[s->counts[d]++] = s->b[i];
    }
    track_block_t *t = s->b;
    s->b = s->tmp;
    s->tmp = t;
  }
}

/* The block holding p (a block of 0 bytes holds its own address). */
static size_t find(const scan_t *s, uintptr_t p) {
  if (p < s->lo || p >= s->hi) return NONE;
  size_t lo = 0, hi = s->n; /* the last block starting at or below p is in [lo, hi) */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->b[mid].addr <= p) lo = mid;
    else hi = mid;
  }
  const track_block_t *b = &s->b[lo];
  size_t span = b->size ? b->size : 1;
  return p - b->addr < span ? lo : NONE;
}

static void mark(scan_t *s, size_t i) {
  if (s->b[i].reachable) return;
  s->b[i].reachable = 1;
  s->work[s->nwork++] = (uint32_t)i;
}

/* glibc's malloc keeps the headers of free chunks in its own globals (its
 * bins, the top chunk); a chunk's header sits 16 bytes before its memory,
 * where it overlaps the last 8 bytes the block before may use. Such a
 * word, in the heap's own data, is its bookkeeping, not a reference. */
static bool next_chunk_header(const track_block_t *b, uintptr_t p) {
  uintptr_t off = p - b->addr;
  return off != 0 && (off & 15) == 0 && b->size - off <= 8;
}

static void take(scan_t *s, uintptr_t word, bool heap_data) {
  size_t i = find(s, word);
  if (i == NONE || s->b[i].reachable) return;
  if (heap_data && next_chunk_header(&s->b[i], word)) return;
  if (s->near_start_only && word - s->b[i].addr >= NEAR_START) return;
  mark(s, i);
}

/* Every aligned word of [lo, hi), read a chunk at a time; what cannot be
 * read (unmapped meanwhile, a guard page) is skipped a page at a time. */
static void scan_range(scan_t *s, uintptr_t lo, uintptr_t hi, bool heap_data) {
  uintptr_t page = os_page_size();
  lo = (lo + 7) & ~(uintptr_t)7;
  while (lo < hi && hi - lo >= sizeof(uintptr_t)) {
    size_t want = hi - lo > CHUNK ? CHUNK : (size_t)(hi - lo) & ~(size_t)7;
    size_t got = os_read_own((const void *)lo, s->chunk, want);
    for (size_t i = 0; i < got / sizeof(uintptr_t); i++) take(s, s->chunk[i], heap_data);
    if (got < want) lo = ((lo + got) & ~(page - 1)) + page;
    else lo += want;
  }
}

static void scan_root(scan_t *s, uintptr_t lo, uintptr_t hi, bool heap_data) {
  if (hi <= s->own_lo || lo >= s->own_hi) {
    scan_range(s, lo, hi, heap_data);
    return;
  }
  if (lo < s->own_lo) scan_range(s, lo, s->own_lo, heap_data);
  if (hi > s->own_hi) scan_range(s, s->own_hi, hi, heap_data);
}

/* The queued blocks: big ones a chunk at a time, small ones many to a
 * read (a system call per block of 50 bytes would cost more than the
 * rest of the scan). A batch that fails part way (a block freed and its
 * memory unmapped meanwhile) is read again block by block. */
static void drain(scan_t *s) {
  while (s->nwork > 0) {
    const track_block_t *b = &s->b[s->work[s->nwork - 1]];
    if (b->size >= CHUNK / 4 || (b->addr & 7) != 0) {
      s->nwork--;
      scan_range(s, b->addr, b->addr + b->size, false);
      continue;
    }
    size_t n = 0, bytes = 0;
    while (s->nwork > 0 && n < OS_READ_MANY_MAX) {
      b = &s->b[s->work[s->nwork - 1]];
      size_t len = b->size & ~(size_t)7;
      if (b->size >= CHUNK / 4 || (b->addr & 7) != 0 || bytes + len > CHUNK) break;
      s->batch[n] = s->work[--s->nwork];
      s->spans[n++] = (os_span_t){(const void *)b->addr, len};
      bytes += len;
    }
    size_t got = os_read_own_many(s->spans, n, s->chunk), at = 0;
    for (size_t k = 0; k < n; k++) {
      size_t len = s->spans[k].len;
      if (at + len <= got) {
        const uintptr_t *words = s->chunk + at / sizeof(uintptr_t);
        for (size_t w = 0; w < len / sizeof(uintptr_t); w++) take(s, words[w], false);
      } else {
        /* this one and all after it: the chunk is no longer needed */
        b = &s->b[s->batch[k]];
        scan_range(s, b->addr, b->addr + b->size, false);
      }
      at += len;
    }
  }
}

/* ---- the roots ---- */

typedef void (*meta_each_fn)(uintptr_t, uintptr_t, void (*)(uintptr_t, uintptr_t, void *), void *);
static meta_each_fn meta_each; /* reheap's heap's (rh_heap_meta_each), when it is the program's */

static void module_data(uintptr_t lo, uintptr_t hi, bool heap_module, void *arg) {
  scan_t *s = arg;
  if (s->nmods == MODS_MAX) {
    scan_root(s, lo, hi, heap_module); /* (past the room: now) */
    return;
  }
  s->mods[s->nmods][0] = lo;
  s->mods[s->nmods][1] = hi;
  s->mods_heap[s->nmods++] = heap_module;
}

/* What the scan needs that only calls taking the loader's lock tell. */
static void gather(scan_t *s) {
  s->loader = os_loader_range(&s->loader_lo, &s->loader_hi);
  os_module_data_each(module_data, os_symbol_next("malloc"), s);
  s->ntls = TLS_BLOCKS_MAX;
  s->area = os_thread_area(&s->area_lo, &s->area_hi, &s->area_tp, s->tls_blocks, &s->ntls);
  meta_each = track_reach_untracked_roots ? (meta_each_fn)(uintptr_t)os_symbol_lookup("rh_heap_meta_each") : NULL;
}

/* A stack from sp up: to the end of its mapping (the main thread's), or
 * of the thread's own memory within it (stack, TLS, descriptor: another
 * thread's), or of the block holding it (a stack the program allocated,
 * as coroutines do: that block is in use). False when sp is in no
 * mapping. */
static bool scan_stack(scan_t *s, uintptr_t sp) {
  if (s->nsps < SPS_MAX) s->sps[s->nsps++] = sp;
  size_t i = find(s, sp);
  if (i != NONE) {
    mark(s, i);
    scan_root(s, sp, s->b[i].addr + s->b[i].size, false);
    return true;
  }
  os_mapping_t m;
  if (!os_mapping_of(sp, &m)) return false;
  scan_root(s, sp, m.main_stack ? m.hi : os_thread_top(sp, m.hi), false);
  return true;
}

/* A thread's static TLS and descriptor, within the mapping that holds its
 * thread pointer. */
static void scan_thread_area(scan_t *s, uintptr_t lo, uintptr_t hi, uintptr_t tp) {
  os_mapping_t m;
  if (!os_mapping_of(tp, &m)) return;
  if (lo < m.lo) lo = m.lo;
  if (hi > m.hi) hi = m.hi;
  if (lo < hi) scan_root(s, lo, hi, false);
}

static void other_thread(const os_thread_regs_t *t, void *arg) {
  scan_t *s = arg;
  if (t->running || !scan_stack(s, t->sp)) {
    s->threads_not_scanned++;
    return;
  }
  /* the registers holding a system call's arguments: read(fd, buf, n)'s
   * buf may be a block nothing else names */
  for (size_t k = 0; k < t->nargs; k++) take(s, t->args[k], false);
}

static uintptr_t current_sp(void) {
#if defined(__x86_64__)
  uintptr_t sp;
  __asm__ volatile("mov %%rsp, %0" : "=r"(sp));
  return sp;
#else
  return (uintptr_t)__builtin_frame_address(0);
#endif
}

/* What the dynamic loader allocated (the vector of each thread's TLS
 * blocks, TLS blocks of modules loaded later, its records of those
 * modules) is its bookkeeping, reachable through its own structures even
 * where those are not roots: a thread that ended leaves its vector in the
 * descriptor glibc keeps for reuse. As in LeakSanitizer, such blocks count
 * as reachable; the allocating frame tells them (so not without stacks). */
static void loader_blocks(scan_t *s) {
  uintptr_t lo = s->loader_lo, hi = s->loader_hi;
  if (!s->loader) return;
  for (size_t i = 0; i < s->n; i++) {
    const uintptr_t *frames;
    if (track_stack_get(s->b[i].stack_id, &frames) > 0 && frames[0] >= lo && frames[0] < hi)
      mark(s, i);
  }
}

bool track_reach_untracked_roots;

/* The first block starting at or above p. */
static size_t first_from(const scan_t *s, uintptr_t p) {
  size_t lo = 0, hi = s->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (s->b[mid].addr < p) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}


static void meta_one(uintptr_t lo, uintptr_t hi, void *arg) {
  scan_t *s = arg;
  if (s->nmeta == META_MAX) return; /* (past them: scanned, pointers the heap keeps may hide leaks) */
  s->meta[s->nmeta][0] = lo;
  s->meta[s->nmeta++][1] = hi;
}

/* [lo, hi) of a mapping, but the heap's bookkeeping in it: its page
 * descriptors point at blocks in use. */
static void untracked_gap(scan_t *s, uintptr_t lo, uintptr_t hi, size_t *k) {
  while (*k < s->nmeta && s->meta[*k][1] <= lo) (*k)++;
  for (; lo < hi && *k < s->nmeta && s->meta[*k][0] < hi; (*k)++) {
    if (s->meta[*k][0] > lo) scan_root(s, lo, s->meta[*k][0], true);
    if (s->meta[*k][1] > lo) lo = s->meta[*k][1];
  }
  if (lo < hi) scan_root(s, lo, hi, true);
}

/* A mapping of anonymous memory, but the tracked blocks in it; not a
 * thread's stack scanned from its stack pointer up (below lie the dead
 * frames, whose stale pointers would hide leaks): the stack of a thread
 * that was running, whose stack pointer is not known, is scanned whole.
 * Only a pointer near a block's start counts there: the heap's free
 * memory holds what its blocks held before (links of another size class's
 * free lists, old data) at any offset, while a live block that keeps
 * another keeps its start, or an object a header's size into it. */
static void untracked_root(uintptr_t lo, uintptr_t hi, void *arg) {
  scan_t *s = arg;
  for (size_t k = 0; k < s->nsps; k++)
    if (s->sps[k] >= lo && s->sps[k] < hi) return;
  s->nmeta = 0;
  if (meta_each != NULL) meta_each(lo, hi, meta_one, s);
  size_t k = 0;
  uintptr_t at = lo;
  for (size_t i = first_from(s, lo); i < s->n && s->b[i].addr < hi; i++) {
    if (s->b[i].addr > at) untracked_gap(s, at, s->b[i].addr, &k);
    uintptr_t end = s->b[i].addr + s->b[i].size;
    if (end > at) at = end;
  }
  if (at < hi) untracked_gap(s, at, hi, &k);
}

static bool scan_roots(scan_t *s, uintptr_t sp) {
  loader_blocks(s);
  for (size_t k = 0; k < s->nmods; k++) scan_root(s, s->mods[k][0], s->mods[k][1], s->mods_heap[k]);
  if (!scan_stack(s, sp)) return false;
  if (s->area) {
    scan_thread_area(s, s->area_lo, s->area_hi, s->area_tp);
    /* a module loaded later has its TLS in a block of its own */
    for (size_t k = 0; k < s->ntls; k++) take(s, s->tls_blocks[k], false);
  }
  if (main_tp != 0 && !os_is_main_thread()) scan_thread_area(s, main_lo, main_hi, main_tp);
  bool all = os_threads_each(other_thread, s);
  if (track_reach_untracked_roots) { /* (after the stacks, which are then known) */
    s->near_start_only = true;
    os_anon_writable_each(untracked_root, s);
    s->near_start_only = false;
  }
  return all;
}

/* The blocks copied, sorted and told apart (s->ok: the roots could be read). */
static void classify_stopped(void *arg) {
  scan_t *s = arg;
  copy_t c = {s->b, 0, s->cap};
  track_live_each(copy_record, &c);
  s->n = c.n;
  sort_blocks(s);
  s->ok = true;
  if (s->n == 0) return;
  s->lo = s->b[0].addr;
  for (size_t i = 0; i < s->n; i++) {
    uintptr_t end = s->b[i].addr + (s->b[i].size ? s->b[i].size : 1);
    if (end > s->hi) s->hi = end;
  }
  s->ok = scan_roots(s, s->sp);
  if (s->ok) drain(s);
}

/* Below the frame that saved the registers: nothing it holds (block
 * addresses included) lies in the stack range scanned. */
__attribute__((noinline)) static bool classify(track_reach_t *r, uintptr_t sp) {
  memset(r, 0, sizeof *r);
  size_t cap = track_live_count();
  cap += cap / 4 + 256;
  if (cap > UINT32_MAX - 1) cap = UINT32_MAX - 1;
  size_t page = os_page_size();
  size_t head = (sizeof(scan_t) + 63) & ~(size_t)63;
  size_t counts = ((size_t)1 << DIGIT_BITS) * sizeof(size_t);
  size_t bytes = head + counts + CHUNK + 2 * cap * sizeof(track_block_t) + cap * sizeof(uint32_t);
  bytes = (bytes + page - 1) & ~(page - 1);
  char *map = os_map_aligned(bytes, page, 0);
  if (map == NULL) return false;
  scan_t *s = (scan_t *)map;
  s->counts = (size_t *)(map + head);
  s->chunk = (uintptr_t *)(map + head + counts);
  s->b = (track_block_t *)((char *)s->chunk + CHUNK);
  s->tmp = s->b + cap;
  s->work = (uint32_t *)(s->tmp + cap);
  s->own_lo = (uintptr_t)map;
  s->own_hi = (uintptr_t)map + bytes;
  s->cap = cap;
  s->sp = sp;
  gather(s);
  /* Where only some modules are tracked (attach, --only), the program's
   * other threads are stopped for the scan (no lock is taken and nothing
   * allocated meanwhile): blocks they move during a scan would look lost.
   * A thread that cannot be stopped leaves the scan to run beside it. */
  if (!track_reach_untracked_roots || !os_stop_world(classify_stopped, NULL, s)) classify_stopped(s);
  if (!s->ok) {
    os_unmap(map, bytes);
    return false;
  }
  r->blocks = s->b;
  r->n = s->n;
  r->threads_not_scanned = s->threads_not_scanned;
  r->map = map;
  r->map_bytes = bytes;
  return true;
}

bool track_reach_classify(track_reach_t *r) {
  /* the callers' values in callee-saved registers go to this frame, so
   * that the scan of this thread's stack, from here up, sees them */
  __builtin_unwind_init();
  bool ok = classify(r, current_sp());
  __asm__ volatile("" ::: "memory"); /* no tail call: this frame must stay */
  return ok;
}

void track_reach_release(track_reach_t *r) {
  if (r->map != NULL) os_unmap(r->map, r->map_bytes);
  memset(r, 0, sizeof *r);
}
