/* The public allocation functions and their fast paths.
 *
 * Fast path of rh_malloc (size <= 1 KiB): thread heap, class table, current
 * page, pop its free list. Fast path of rh_free: the block's segment by
 * masking, owner check against the thread's heap, push on the page's free
 * list. Neither takes a lock or does an atomic read-modify-write. */
#include <errno.h>
#include <string.h>

#include "alloc/alloc_front.h"
#include "alloc/heap_free.h"

static inline void count_alloc(heap_t *h, size_t cls, size_t bs) {
  heap_count_own(&h->allocs[cls], 1);
  h->live_delta += (int64_t)bs;
}

/* Every allocation that missed the fast path. align is 0, or a power of two
 * above 16 that alloc_aligned could not serve from a size class: then the
 * block comes from a page run (64 KiB aligned) or a huge mapping. */
/* asked: the bytes the caller asked for, which the recording build
 * records (an aligned request asks less than the size served) */
static void *alloc_generic(size_t size, size_t asked, size_t align, bool *zeroed, unsigned kind) {
  (void)asked;
  heap_t *h = heap_tl_get();
  if (unlikely(h->state != HEAP_ACTIVE)) {
    h = heap_thread_init();
    if (h == NULL) goto oom;
  }
  if (size > HEAP_MAX_REQUEST) goto oom;
  void *p;
  if (align == 0 && size <= CLASS_MAX_SIZE) {
    size_t cls = heap_class_of(size) + kind * CLASS_COUNT;
    heap_page_t *pg = h->current[cls];
    heap_block_t *b = pg->free;
    if (b != NULL) {
      pg->free = b->next;
      pg->used++;
      count_alloc(h, cls, pg->block_size);
      return HEAP_HANDED(h, pg, b, asked, kind);
    }
    p = heap_class_alloc_slow(h, cls);
  } else if (size + (align > SLICE_SIZE ? align - SLICE_SIZE : 0) <= LARGE_MAX_SIZE) {
    p = heap_large_alloc(h, size, align, kind);
    if (p != NULL && zeroed) *zeroed = heap_page_of(heap_segment_of(p), p)->is_zero;
  } else {
    heap_slow_tick(h);
    p = heap_huge_alloc(size, align, zeroed, kind);
  }
  if (p == NULL) goto oom;
  return HEAP_HANDED_SLOW(h, p, asked, kind);
oom:
  errno = ENOMEM;
  return NULL;
}

static inline __attribute__((always_inline)) void *malloc_asked(size_t size, size_t asked, unsigned kind) {
  (void)asked;
  if (likely(size <= SMALL_DIRECT_MAX)) {
    heap_t *h = heap_tl_get();
    size_t cls = heap_small_class[(size + 15) >> 4];
    heap_page_t *pg = h->current[cls + kind * CLASS_COUNT];
    heap_block_t *b = pg->free;
    if (likely(b != NULL)) {
      pg->free = b->next;
      pg->used++;
      count_alloc(h, cls + kind * CLASS_COUNT, heap_class_size[cls]);
      return HEAP_HANDED(h, pg, b, asked, kind);
    }
  }
  return alloc_generic(size, asked, 0, NULL, kind);
}

static inline __attribute__((always_inline)) void *malloc_kind(size_t size, unsigned kind) {
  return malloc_asked(size, size, kind);
}

RH_API void *rh_malloc(size_t size) { return malloc_kind(size, KIND_PLAIN); }

RH_API void rh_free(void *p) {
  if (unlikely(p == NULL)) return;
  heap_free_block(p);
}

/* The preload front's free(). A pointer from anywhere else (the dynamic
 * loader's early allocations, a block handed over by another allocator)
 * must not be touched, and finding that out costs one bitmap load; the
 * front's foreign handlers, once it has given them, take it. */
static void (*foreign_free)(void *p);
static void *(*foreign_realloc)(void *p, size_t size);

void heap_set_foreign(void (*free_fn)(void *p), void *(*realloc_fn)(void *p, size_t size)) {
  __atomic_store_n(&foreign_free, free_fn, __ATOMIC_RELEASE);
  __atomic_store_n(&foreign_realloc, realloc_fn, __ATOMIC_RELEASE);
}

static void free_foreign(void *p) {
  void (*fn)(void *) = __atomic_load_n(&foreign_free, __ATOMIC_ACQUIRE);
  if (fn != NULL) fn(p);
}

void heap_free_front(void *p) {
#if RH_HEAP_RECORDS
  /* a segment's or huge mapping's header granule is the heap's: one
   * bitmap load tells both that p is the heap's and where its header is */
  heap_segment_t *seg = heap_segment_of(p);
  if (likely(heap_is_head(seg))) {
    heap_free_at(seg, p);
    return;
  }
  if (heap_owns(p)) { /* inside a huge block, past its first granule */
    heap_rec_bad_free(p);
    return;
  }
  if (p != NULL && heap_rec_foreign_free(p)) free_foreign(p);
#else
  if (likely(heap_owns(p))) {
    heap_free_block(p);
  } else if (p != NULL) {
    free_foreign(p);
  }
#endif
}

RH_API void rh_free_sized(void *p, size_t size) {
  (void)size; /* the block's page knows its size better than the caller */
  rh_free(p);
}

static inline void *calloc_kind(size_t count, size_t size, unsigned kind) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  if (total <= SMALL_DIRECT_MAX) {
    void *p = malloc_kind(total, kind);
    if (p != NULL) memset(p, 0, total);
    return p;
  }
  bool zeroed = false;
  void *p = alloc_generic(total, total, 0, &zeroed, kind);
  if (p != NULL && !zeroed) memset(p, 0, total);
  return p;
}

RH_API void *rh_calloc(size_t count, size_t size) { return calloc_kind(count, size, KIND_PLAIN); }

static void *alloc_aligned(size_t align, size_t size, unsigned kind) {
  if (align <= RH_MIN_ALIGN) return malloc_kind(size, kind);
  if (size > HEAP_MAX_REQUEST) {
    errno = ENOMEM;
    return NULL;
  }
  if (align <= SLICE_SIZE) {
    /* A class whose block size is a multiple of align has every block
     * aligned (pages start on 64 KiB), and a size rounded up to align always
     * lands on such a class (see size_class.c). */
    size_t rounded = (size + align - 1) & ~(align - 1);
    if (rounded == 0) rounded = align;
    if (rounded <= CLASS_MAX_SIZE) {
      void *p = malloc_asked(rounded, size, kind);
      heap_assert(p == NULL || ((uintptr_t)p & (align - 1)) == 0);
      return p;
    }
  }
  return alloc_generic(size, size, align, NULL, kind);
}

static bool is_pow2(size_t v) { return v != 0 && (v & (v - 1)) == 0; }

RH_API void *rh_aligned_alloc(size_t align, size_t size) {
  if (!is_pow2(align) || align > RH_MAX_ALIGN) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_aligned(align, size, KIND_PLAIN);
}

RH_API int rh_posix_memalign(void **out, size_t align, size_t size) {
  if (!is_pow2(align) || align % sizeof(void *) != 0 || align > RH_MAX_ALIGN) return EINVAL;
  int saved = errno;
  void *p = alloc_aligned(align, size, KIND_PLAIN);
  errno = saved;
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

RH_API size_t rh_usable_size(const void *p) {
  if (p == NULL) return 0;
  return heap_block_usable(heap_segment_of(p), p);
}

/* A block keeps its kind when it is resized in place; one that moves
 * takes the kind asked for. */
static inline void *realloc_kind(void *p, size_t size, unsigned kind) {
  if (p == NULL) return malloc_kind(size, kind);
  if (size == 0) {
    /* glibc's behaviour, which programs preloaded with reheap expect */
    rh_free(p);
    return NULL;
  }
  if (size > HEAP_MAX_REQUEST) {
    errno = ENOMEM;
    return NULL;
  }
#if RH_HEAP_RECORDS
  /* a pointer that is no live block never reaches the heap's lists */
  if (unlikely(heap_rec_live(p) == NULL)) {
    errno = EINVAL;
    return NULL;
  }
#define RESIZED(q, size) heap_rec_resized((q), (size))
#else
#define RESIZED(q, size) ((void)0)
#endif
  heap_segment_t *seg = heap_segment_of(p);
#if RH_HEAP_SAMPLING
  /* a sample resized is forgotten: its record would keep the old size, or
   * the old address */
  if (unlikely(seg->kind == SEG_HUGE ? seg->huge_sampled != 0 : (heap_page_of(seg, p)->flags & PAGE_SAMPLED) != 0))
    heap_sample_forget(seg, p, false);
#endif
  size_t usable = heap_block_usable(seg, p);
  size_t want = size;
  if (seg->kind == SEG_HUGE) {
    void *q = heap_huge_realloc(seg, size);
    if (q != NULL) {
      RESIZED(q, size);
      return q;
    }
  } else if (size <= usable && size >= usable / 2) {
    RESIZED(p, size);
    return p; /* fits, and not so much smaller that memory would be wasted */
  } else if (size > usable && usable > CLASS_MAX_SIZE) {
    /* A large block growing: into the free slices after it if its owner
     * is the caller, else to a new run with room for the next steps, so
     * that a buffer grown a little at a time is not copied every time. */
    heap_t *h = heap_tl_get();
    heap_page_t *pg = heap_page_of(seg, p);
    if (atomic_load_explicit(&seg->heap, memory_order_relaxed) == h &&
        heap_large_grow(h, pg, p, size)) {
      RESIZED(p, size);
      return p;
    }
    if (size <= LARGE_MAX_SIZE) {
      want = size + size / 4;
      if (want > LARGE_MAX_SIZE) want = LARGE_MAX_SIZE;
    }
  }
  void *q = malloc_asked(want, size, kind);
  if (q == NULL) return NULL;
  memcpy(q, p, usable < size ? usable : size);
  rh_free(p);
#if RH_HEAP_RECORDS
  heap_rec_moved(q);
#endif
  return q;
}
#undef RESIZED

RH_API void *rh_realloc(void *p, size_t size) { return realloc_kind(p, size, KIND_PLAIN); }

/* The preload front's realloc(): foreign blocks go to the front's handler
 * (without one, they cannot be grown: NULL, ENOMEM). */
void *heap_realloc_front(void *p, size_t size) {
  if (likely(p == NULL || heap_owns(p))) return rh_realloc(p, size);
  void *(*fn)(void *, size_t) = __atomic_load_n(&foreign_realloc, __ATOMIC_ACQUIRE);
  if (fn != NULL) return fn(p, size);
  errno = ENOMEM;
  return NULL;
}

RH_API void *rh_reallocarray(void *p, size_t count, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(count, size, &total)) {
    errno = ENOMEM;
    return NULL;
  }
  return rh_realloc(p, total);
}

/* The takeover's blocks (alloc_front.h). */
void *heap_takeover_malloc(size_t size) { return malloc_kind(size, KIND_TAKEOVER); }
void *heap_takeover_calloc(size_t count, size_t size) { return calloc_kind(count, size, KIND_TAKEOVER); }
void *heap_takeover_aligned(size_t align, size_t size) {
  if (!is_pow2(align) || align > RH_MAX_ALIGN) {
    errno = EINVAL;
    return NULL;
  }
  return alloc_aligned(align, size, KIND_TAKEOVER);
}
void *heap_takeover_realloc(void *p, size_t size) { return realloc_kind(p, size, KIND_TAKEOVER); }
