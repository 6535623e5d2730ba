/* reheap's heap: a thread-caching size-class allocator.
 *
 * Every function here follows its C/POSIX namesake exactly (errno, NULL,
 * zero sizes), so that the preload library can forward to it unchanged. */
#ifndef REHEAP_ALLOC_H
#define REHEAP_ALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RH_API __attribute__((visibility("default")))
#else
#define RH_API
#endif

/* Smallest alignment of every block. */
#define RH_MIN_ALIGN 16
/* Largest alignment rh_aligned_alloc and friends accept (larger ones fail
 * with EINVAL rather than waste a huge mapping). */
#define RH_MAX_ALIGN ((size_t)1 << 30)

RH_API void *rh_malloc(size_t size);
RH_API void *rh_calloc(size_t count, size_t size);
RH_API void *rh_realloc(void *p, size_t size);
RH_API void *rh_reallocarray(void *p, size_t count, size_t size);
RH_API void  rh_free(void *p);
/* free() for a caller that knows the size it asked for (C++ sized delete);
 * the size is only a hint, a wrong one is harmless. */
RH_API void  rh_free_sized(void *p, size_t size);
/* C11 aligned_alloc: align must be a power of two (EINVAL otherwise); size
 * need not be a multiple of align. */
RH_API void *rh_aligned_alloc(size_t align, size_t size);
/* POSIX: align must be a power of two multiple of sizeof(void*); returns
 * EINVAL or ENOMEM, leaves *out untouched on failure. */
RH_API int   rh_posix_memalign(void **out, size_t align, size_t size);
/* Usable bytes of a live block from this heap (>= the size asked for); 0 for
 * NULL. */
RH_API size_t rh_usable_size(const void *p);
/* O(1): does p point into memory that reheap's heap manages? True for every
 * block this heap returned and for pointers inside such blocks; false for
 * anything the system or another allocator handed out. This is the test the
 * front uses to send foreign pointers back to their own allocator. */
RH_API bool  rh_owns(const void *p);
/* Calls fn, in address order, on each range of the heap's own bookkeeping
 * (segment headers, page descriptors) within [lo, hi): memory that holds
 * pointers to blocks without being a block, which a leak checker scanning
 * the heap's memory for pointers must leave out. */
RH_API void  rh_heap_meta_each(uintptr_t lo, uintptr_t hi, void (*fn)(uintptr_t mlo, uintptr_t mhi, void *arg),
                               void *arg);

/* Counts by size class, for rh_heap_stats(). */
typedef struct rh_class_stats_s {
  size_t block_size;   /* bytes of every block of the class */
  uint64_t allocations;
  uint64_t frees;
  uint64_t live_blocks;
} rh_class_stats_t;

typedef struct rh_heap_stats_s {
  uint64_t allocations;     /* blocks handed out, every size */
  uint64_t frees;           /* blocks given back */
  uint64_t live_bytes;      /* usable bytes of the blocks live now */
  uint64_t peak_live_bytes; /* high-water of live_bytes, sampled on the heap's slow paths */
  uint64_t committed_bytes; /* memory backed (or backable) by the OS now */
  uint64_t peak_committed_bytes;
  uint64_t reserved_bytes;  /* address space held */
  uint64_t os_map_calls;    /* mmap calls */
  uint64_t os_unmap_calls;  /* munmap calls */
  uint64_t os_purge_calls;  /* pages given back with madvise */
  uint64_t threads;         /* thread heaps ever made (reused ones count once) */
  uint64_t heaps_reused;    /* times an exited thread's heap was taken over */
  uint64_t purged_bytes;    /* bytes given back to the OS by purges, in all */
} rh_heap_stats_t;

/* Number of size classes (for sizing the array below). */
RH_API size_t rh_size_class_count(void);
/* Fills *out; when classes is not NULL, also fills up to nclasses entries,
 * one per size class. Counts are summed over all threads when read and may
 * lag a little behind threads that are running. */
RH_API void rh_heap_stats(rh_heap_stats_t *out, rh_class_stats_t *classes, size_t nclasses);

/* A sampler inside the heap, for a heap profiler that records one block
 * in about every so many bytes allocated (reheap's tracker under
 * --track=sample): the heap counts down each thread's bytes and calls
 * taken() for the block that takes the count past zero, and freed() for
 * every block freed or resized in a page that holds one. The callbacks run
 * inside malloc and free, on the calling thread; what taken() allocates is
 * not sampled. */
typedef struct rh_heap_sampler_s {
  int64_t (*next)(void);               /* bytes to the calling thread's next sample (>= 1) */
  void (*taken)(void *p, size_t size); /* p, of size bytes asked for, is a sample */
  bool (*freed)(void *p);              /* p goes: true if it was a sample */
} rh_heap_sampler_t;
/* Sets the sampler (copied), before the program's threads start; false in
 * a build of the heap without one (only libreheap_sampled.so has it: the
 * countdown costs every allocation a subtraction). */
RH_API bool rh_heap_set_sampler(const rh_heap_sampler_t *s);

/* Records kept by the heap itself: the recording build
 * (libreheap_recorded.so, which `reheap run --track` loads on reheap's
 * heap) keeps a record of every live block beside the block's page, found
 * from the address by a shift, so a tracker needs no table of its own.
 * Recording starts when a recorder is set; a free of anything that is no
 * live block (a double free, an address inside a block or nowhere) is
 * told to the recorder and goes no further, so the heap stays whole.
 * Blocks allocated before, or by a paused thread, or by the recorder's
 * own stack(), are quiet: neither walked nor counted. */
typedef struct rh_heap_record_s {
  void *block;
  size_t size;       /* bytes asked for */
  uint32_t stack_id; /* the recorder's stack() for it; 0: none */
  uint32_t seq;      /* allocation number in its thread's heap */
} rh_heap_record_t;
enum { RH_HEAP_DOUBLE_FREE = 1, RH_HEAP_INVALID_FREE = 2 };
typedef struct rh_heap_recorder_s {
  /* called for every block allocated, on the allocating thread, inside
   * malloc (what it allocates is quiet, and so is a block it gives
   * RH_HEAP_STACK_UNTRACKED); NULL: no stacks. frame is the
   * heap's innermost frame (from[0]: the next frame out, from[1]: its
   * return address), so a frame-pointer walk may start there rather than
   * walk through the recorder's and the heap's own frames first. */
  uint32_t (*stack)(size_t size, const void *frame);
  /* p was freed (or resized) but is no live block: kind is
   * RH_HEAP_DOUBLE_FREE (p was a block, freed already: was is its last
   * record) or RH_HEAP_INVALID_FREE (was: the live block p points into,
   * or NULL) */
  void (*bad_free)(void *p, int kind, const rh_heap_record_t *was);
} rh_heap_recorder_t;
/* Sets the recorder (copied); false in a build without records. */
RH_API bool rh_heap_set_recorder(const rh_heap_recorder_t *r);
/* While paused, the calling thread's blocks are quiet (a tracker's own
 * memory). Returns whether it was paused. */
#define RH_HEAP_STACK_UNTRACKED UINT32_MAX
#define RH_HEAP_STACK_EARLY (UINT32_MAX - 1) /* (a quiet block from before the recorder) */
RH_API bool rh_heap_record_pause(bool paused);
/* Calls fn for every live block's record, the program's threads going on
 * meanwhile (a block allocated or freed during the walk may be seen or
 * not); fn must not allocate. Returns how many; 0 without records. */
RH_API size_t rh_heap_records_each(void (*fn)(const rh_heap_record_t *r, void *arg), void *arg);
typedef struct rh_heap_record_stats_s {
  uint64_t allocations, frees, reallocs;
  uint64_t bytes_allocated; /* bytes asked for, every allocation */
  uint64_t live_bytes;      /* bytes asked for, of the live blocks */
  uint64_t peak_live_bytes; /* its high-water, as seen on the heap's slow paths */
  uint64_t double_frees, invalid_frees;
  uint64_t unknown_frees;   /* of blocks from before recording, or not the heap's */
  uint64_t size_hist[64];   /* allocations by power of two of the bytes asked for */
} rh_heap_record_stats_t;
/* The recording build's exact counts; false in a build without records. */
RH_API bool rh_heap_record_stats(rh_heap_record_stats_t *out);

/* Gives back to the OS now every idle page the calling thread's heap holds
 * (normally done after a delay). */
RH_API void rh_heap_collect(void);

#ifdef __cplusplus
}
#endif
#endif
