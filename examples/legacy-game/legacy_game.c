/* legacy-game: a program written the way an old game engine is, with its
 * own memory managers called directly (not through malloc):
 *
 *  - a heap manager: first fit over one big block, one global lock, a
 *    header per block, methods taking the heap object first;
 *  - a pool for entities: fixed-size slots, a free list;
 *  - a pool behind a lock for the things every thread makes (particles,
 *    messages), as real engines ship theirs (a critical section each);
 *  - an asset allocator for large buffers, in two phases (the buffer is
 *    reserved when a load starts and released after the level drops it);
 *  - an aligned allocator for SIMD buffers.
 *
 * A frame loop spawns and frees entities, runs "scripts" that build
 * strings on the heap manager, streams assets and fills SIMD buffers; it
 * checks every byte it reads back, then prints its frame times and its
 * allocators' own counters. The same binary runs on its own managers, or,
 * with `reheap run --profile profiles/legacy-game`, on reheap's heap.
 *
 * --bench first times each manager on its own (pool, heap manager, large
 * buffers), then the frames, then weighs the memory the game holds against
 * what the process keeps resident; it prints one line of key=value pairs
 * for bench/legacy_bench.sh.
 * usage: legacy-game [FRAMES] | legacy-game --bench [FRAMES] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
#include <windows.h>
/* after windows.h */
#include <psapi.h>
#else
#include <sys/prctl.h>
#endif

/* noipa: as if each manager were built apart from its callers (an engine's
 * allocators live in their own files): the compiler may assume nothing of
 * what a call does, so the functions can be stood in for */
#ifdef LEGACY_LOCAL
/* as most programs ship: the managers local to their file, in no dynamic
 * symbol table (legacy-game-local, which the symbol tests strip) */
#define EXPORT static __attribute__((noipa, used))
#elif defined(_WIN32)
/* the Windows build (bench/windows): exported, as a DLL's functions are */
#define EXPORT __declspec(dllexport) __attribute__((noipa))
#else
#define EXPORT __attribute__((visibility("default"), noipa))
#endif

/* ---- the heap manager: first fit, one lock ---- */

typedef struct block {
  size_t size; /* payload bytes */
  struct block *next_free;
  int free;
  int pad;
} block_t;

typedef struct heap {
  pthread_mutex_t lock;
  unsigned char *base;
  size_t cap, used;
  block_t *free_list;
  unsigned long allocs, frees;
} heap_t;

EXPORT void *Heap_Alloc(heap_t *h, size_t size) {
  size = (size + 15) & ~(size_t)15;
  pthread_mutex_lock(&h->lock);
  block_t **link = &h->free_list, *b = NULL;
  for (; *link != NULL; link = &(*link)->next_free)
    if ((*link)->size >= size) {
      b = *link;
      *link = b->next_free;
      break;
    }
  if (b == NULL && h->used + sizeof(block_t) + size <= h->cap) {
    b = (block_t *)(h->base + h->used);
    h->used += sizeof(block_t) + size;
    b->size = size;
  }
  if (b != NULL) {
    b->free = 0;
    h->allocs++;
  }
  pthread_mutex_unlock(&h->lock);
  return b != NULL ? b + 1 : NULL;
}

EXPORT void Heap_Free(heap_t *h, void *p) {
  if (p == NULL) return;
  block_t *b = (block_t *)p - 1;
  pthread_mutex_lock(&h->lock);
  if ((unsigned char *)b < h->base || (unsigned char *)b >= h->base + h->cap || b->free) abort();
  b->free = 1;
  b->next_free = h->free_list;
  h->free_list = b;
  h->frees++;
  pthread_mutex_unlock(&h->lock);
}

EXPORT size_t Heap_Size(heap_t *h, void *p) {
  (void)h;
  return ((block_t *)p - 1)->size;
}

/* ---- the entity pool: fixed slots ---- */

typedef struct pool {
  size_t slot;
  unsigned char *slots;
  size_t count;
  void *free_list;
  unsigned long allocs, frees;
} pool_t;

EXPORT void *Pool_Alloc(pool_t *pool, size_t size) {
  if (size > pool->slot || pool->free_list == NULL) return NULL;
  void *p = pool->free_list;
  pool->free_list = *(void **)p;
  pool->allocs++;
  return p;
}

EXPORT void Pool_Free(pool_t *pool, void *p) {
  if (p == NULL) return;
  *(void **)p = pool->free_list;
  pool->free_list = p;
  pool->frees++;
}

/* ---- the shared pool: fixed slots behind one lock, for every thread ---- */

typedef struct locked_pool {
  pthread_mutex_t lock;
  pool_t pool;
} locked_pool_t;

EXPORT void *LockedPool_Alloc(locked_pool_t *lp, size_t size) {
  pthread_mutex_lock(&lp->lock);
  void *p = Pool_Alloc(&lp->pool, size);
  pthread_mutex_unlock(&lp->lock);
  return p;
}

EXPORT void LockedPool_Free(locked_pool_t *lp, void *p) {
  if (p == NULL) return;
  pthread_mutex_lock(&lp->lock);
  Pool_Free(&lp->pool, p);
  pthread_mutex_unlock(&lp->lock);
}

/* ---- assets: large buffers, reserved at load, released after ---- */

static unsigned long asset_allocs, asset_frees;

EXPORT void *Asset_Alloc(size_t size) {
  asset_allocs++;
  return calloc(1, size + 64); /* the engine's own: the system heap plus a guard */
}

EXPORT void Asset_Free(void *p) {
  if (p == NULL) return;
  asset_frees++;
  free(p);
}

/* ---- SIMD buffers: aligned ---- */

static unsigned long simd_allocs, simd_frees;

EXPORT void *Simd_Alloc(size_t align, size_t size) {
  void *p = NULL;
  simd_allocs++;
#if defined(_WIN32)
  (void)p;
  return _aligned_malloc(size, align); /* Windows' C runtime has no posix_memalign */
#else
  return posix_memalign(&p, align, size) == 0 ? p : NULL;
#endif
}

EXPORT void Simd_Free(void *p) {
  if (p == NULL) return;
  simd_frees++;
#if defined(_WIN32)
  _aligned_free(p);
#else
  free(p);
#endif
}

/* ---- the game ---- */

#define ENTITIES 2048
#define ENTITY_SIZE 96

typedef struct entity {
  uint32_t id, hp;
  float pos[4];
  char name[ENTITY_SIZE - 24];
} entity_t;

static heap_t heap;
static pool_t pool;
static locked_pool_t shared_pool;
static int failed;

static void check(int ok, const char *what) {
  if (!ok && failed++ == 0) fprintf(stderr, "legacy-game: corrupted: %s\n", what);
}

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* what the frames hold; file scope so that --bench can weigh it after the
 * last frame, before the teardown */
static entity_t *ents[ENTITIES];
static char *strings[256];
static void *asset;
static size_t asset_size;

static void play(int frames, double *ft) {
  unsigned seed = 12345;
  for (int f = 0; f < frames; f++) {
    double t0 = now_us();
    /* entities come and go */
    for (int k = 0; k < 200; k++) {
      seed = seed * 1103515245u + 12345u;
      int i = (int)(seed >> 8) % ENTITIES;
      if (ents[i] != NULL) {
        check(ents[i]->id == (uint32_t)i && ents[i]->name[0] == (char)('A' + i % 26), "entity");
        Pool_Free(&pool, ents[i]);
        ents[i] = NULL;
      } else if ((ents[i] = Pool_Alloc(&pool, sizeof(entity_t))) != NULL) {
        ents[i]->id = (uint32_t)i;
        memset(ents[i]->name, 'A' + i % 26, sizeof ents[i]->name);
      }
    }
    /* scripts build strings */
    for (int k = 0; k < 64; k++) {
      seed = seed * 1103515245u + 12345u;
      int s = (int)(seed >> 8) % 256;
      if (strings[s] != NULL) {
        size_t n = strlen(strings[s]);
        check(n > 0 && strings[s][n - 1] == (char)('a' + s % 26), "string");
        Heap_Free(&heap, strings[s]);
      }
      size_t n = 16 + (seed >> 4) % 2000;
      strings[s] = Heap_Alloc(&heap, n + 1);
      if (strings[s] == NULL) continue;
      check(Heap_Size(&heap, strings[s]) >= n + 1, "heap size");
      memset(strings[s], 'a' + s % 26, n);
      strings[s][n] = '\0';
    }
    /* an asset streams in every 30 frames, the old one goes */
    if (f % 30 == 0) {
      if (asset != NULL) {
        check(((unsigned char *)asset)[asset_size - 1] == (unsigned char)asset_size, "asset");
        Asset_Free(asset);
      }
      asset_size = (size_t)(256 << 10) << (f / 30 % 4);
      asset = Asset_Alloc(asset_size);
      if (asset != NULL) {
        /* the engine's asset buffers come zeroed, and its loaders count on it */
        check(((unsigned char *)asset)[0] == 0 && ((unsigned char *)asset)[asset_size / 2] == 0 &&
                  ((unsigned char *)asset)[asset_size - 1] == 0, "asset not zeroed");
        memset(asset, (int)(unsigned char)asset_size, asset_size);
      }
    }
    /* SIMD buffers for this frame */
    float *v = Simd_Alloc(64, 4096 * sizeof(float));
    if (v != NULL) {
      check(((uintptr_t)v & 63) == 0, "SIMD alignment");
      for (int k = 0; k < 4096; k++) v[k] = (float)k;
      Simd_Free(v);
    }
    ft[f] = now_us() - t0;
  }
}

static void teardown(void) {
  for (int i = 0; i < ENTITIES; i++) Pool_Free(&pool, ents[i]);
  for (int s = 0; s < 256; s++) Heap_Free(&heap, strings[s]);
  Asset_Free(asset);
}

/* ---- --bench: each manager timed on its own ---- */

static unsigned next(unsigned *seed) {
  *seed = *seed * 1103515245u + 12345u;
  return *seed >> 8;
}

/* Entities spawn and die at random over the pool's slots, as in the frames
 * but without the rest of a frame around them. Returns operations per
 * second (Pool_Alloc and Pool_Free each count one); the time includes the
 * loop's own draw, write and check, alike in every configuration. */
static double bench_pool(long ops) {
  static entity_t *slot[ENTITIES];
  unsigned seed = 4242;
  double t0 = now_us();
  for (long k = 0; k < ops; k++) {
    int i = (int)next(&seed) % ENTITIES;
    if (slot[i] != NULL) {
      check(slot[i]->id == (uint32_t)i && slot[i]->name[0] == (char)i, "pool entity");
      Pool_Free(&pool, slot[i]);
      slot[i] = NULL;
    } else if ((slot[i] = Pool_Alloc(&pool, sizeof(entity_t))) != NULL) {
      slot[i]->id = (uint32_t)i;
      slot[i]->name[0] = (char)i;
    } else {
      check(0, "pool exhausted");
    }
  }
  double us = now_us() - t0;
  for (int i = 0; i < ENTITIES; i++) {
    Pool_Free(&pool, slot[i]);
    slot[i] = NULL;
  }
  return (double)ops / (us / 1e6);
}

/* The shared pool from BENCH_THREADS threads at once, each spawning and
 * freeing 64-byte messages over slots of its own at random (so every
 * call takes the lock, and the threads contend for it as an engine's
 * workers do). Returns operations per second, all threads together. */
#define BENCH_THREADS 2
#define MSG_SLOTS 1024
typedef struct msg_work {
  long ops;
  unsigned seed;
} msg_work_t;

static void *msg_worker(void *arg) {
  msg_work_t *w = arg;
  static __thread unsigned char *slot[MSG_SLOTS];
  for (long k = 0; k < w->ops; k++) {
    int i = (int)next(&w->seed) % MSG_SLOTS;
    if (slot[i] != NULL) {
      check(slot[i][0] == (unsigned char)i && slot[i][63] == (unsigned char)(i >> 2), "shared pool message");
      LockedPool_Free(&shared_pool, slot[i]);
      slot[i] = NULL;
    } else if ((slot[i] = LockedPool_Alloc(&shared_pool, 64)) != NULL) {
      slot[i][0] = (unsigned char)i;
      slot[i][63] = (unsigned char)(i >> 2);
    } else {
      check(0, "shared pool exhausted");
    }
  }
  for (int i = 0; i < MSG_SLOTS; i++) {
    LockedPool_Free(&shared_pool, slot[i]);
    slot[i] = NULL;
  }
  return NULL;
}

static double bench_shared_pool(long ops) {
  pthread_t t[BENCH_THREADS];
  msg_work_t w[BENCH_THREADS];
  double t0 = now_us();
  for (int k = 0; k < BENCH_THREADS; k++) {
    w[k] = (msg_work_t){ops / BENCH_THREADS, 31u * (unsigned)k + 7u};
    if (pthread_create(&t[k], NULL, msg_worker, &w[k]) != 0) check(0, "thread");
  }
  for (int k = 0; k < BENCH_THREADS; k++) pthread_join(t[k], NULL);
  return (double)ops / ((now_us() - t0) / 1e6);
}

/* Mostly small blocks, some buffers, a few tables: the mix that keeps a
 * first-fit heap without splitting searching long free lists. Tables up
 * to 16 KB, not more: bigger ones, never split back, run its 64 MB arena
 * out within a million rounds. */
static size_t heap_request(unsigned r) {
  unsigned k = r % 100;
  if (k < 75) return 16 + (r >> 7) % 241;
  if (k < 97) return 257 + (r >> 7) % 3840;
  return 4097 + (r >> 7) % 12288;
}

/* Replaces a random one of 1024 blocks each round: its size asked and its
 * bytes checked, freed, a new one allocated. Only the first and last bytes
 * are written, so that the time is the manager's and not memset's.
 * Returns operations per second (Heap_Alloc, Heap_Free, Heap_Size). */
static double bench_heap(long rounds) {
  enum { SLOTS = 1024 };
  static unsigned char *blk[SLOTS];
  static size_t req[SLOTS];
  unsigned seed = 777;
  long ops = 0;
  double t0 = now_us();
  for (long k = 0; k < rounds; k++) {
    int s = (int)next(&seed) % SLOTS;
    if (blk[s] != NULL) {
      check(Heap_Size(&heap, blk[s]) >= req[s], "heap manager size");
      check(blk[s][0] == (unsigned char)s && blk[s][req[s] - 1] == (unsigned char)req[s], "heap manager block");
      Heap_Free(&heap, blk[s]);
      ops += 2;
    }
    req[s] = heap_request(next(&seed));
    blk[s] = Heap_Alloc(&heap, req[s]);
    ops++;
    if (blk[s] == NULL) {
      check(0, "heap manager out of memory");
      continue;
    }
    blk[s][0] = (unsigned char)s;
    blk[s][req[s] - 1] = (unsigned char)req[s];
  }
  double us = now_us() - t0;
  for (int s = 0; s < SLOTS; s++) {
    Heap_Free(&heap, blk[s]);
    blk[s] = NULL;
  }
  return (double)ops / (us / 1e6);
}

/* Level data streaming: four buffers of 256 KB to 4 MB live, one replaced
 * each round. Every page is written (and read back before the free), so
 * an allocator pays for the memory it maps, not only for the call.
 * Returns MB (10^6 bytes) allocated per second. */
static double bench_large(long rounds) {
  enum { LIVE = 4, PAGE = 4096 };
  static unsigned char *buf[LIVE];
  static size_t len[LIVE];
  unsigned seed = 99;
  double bytes = 0, t0 = now_us();
  for (long k = 0; k < rounds; k++) {
    int s = (int)next(&seed) % LIVE;
    if (buf[s] != NULL) {
      for (size_t o = 0; o < len[s]; o += PAGE) check(buf[s][o] == (unsigned char)(o / PAGE + s), "asset page");
      check(buf[s][len[s] - 1] == (unsigned char)len[s], "asset end");
      Asset_Free(buf[s]);
    }
    len[s] = (size_t)(256 << 10) << (next(&seed) % 5);
    buf[s] = Asset_Alloc(len[s]);
    if (buf[s] == NULL) {
      check(0, "asset allocation failed");
      continue;
    }
    for (size_t o = 0; o < len[s]; o += PAGE) {
      check(buf[s][o] == 0, "asset page not zeroed");
      buf[s][o] = (unsigned char)(o / PAGE + s);
    }
    buf[s][len[s] - 1] = (unsigned char)len[s];
    bytes += (double)len[s];
  }
  double us = now_us() - t0;
  for (int s = 0; s < LIVE; s++) {
    Asset_Free(buf[s]);
    buf[s] = NULL;
  }
  return bytes / us; /* bytes per microsecond = MB per second */
}

static size_t rss_bytes(void) {
#if defined(_WIN32)
  PROCESS_MEMORY_COUNTERS pmc;
  return K32GetProcessMemoryInfo(GetCurrentProcess(), &pmc, sizeof pmc) ? pmc.WorkingSetSize : 0;
#endif
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  size_t kb = 0;
  if (f == NULL) return 0;
  while (fgets(line, sizeof line, f) != NULL)
    if (sscanf(line, "VmRSS: %zu kB", &kb) == 1) break;
  fclose(f);
  return kb * 1024;
}

/* The memory the game holds by its own count: what it asked for and has
 * not given back (entities, strings, the current asset; not the frame
 * times, which are the measurement's), not what its managers reserve
 * around that. Taken after the last frame, with the process's resident
 * memory at the same moment, their ratio says how much of the memory the
 * process keeps is memory the game uses. Both configurations are weighed
 * alike, and the resident memory is whatever is there: what every run has
 * (code, C library, stacks; under reheap run also reheap's library and its
 * tables), what the heap keeps of the phases before (freed, but cached or
 * not given back) and, wherever the heap manager is the game's own, every
 * page of its 64 MB arena it has ever touched, since it never gives one
 * back. Under the profile the arena is still allocated at start, but
 * nothing is carved from it, so its pages are never touched and not
 * resident. */
static size_t live_bytes(void) {
  size_t live = asset != NULL ? asset_size : 0;
  for (int i = 0; i < ENTITIES; i++) live += ents[i] != NULL ? sizeof(entity_t) : 0;
  for (int s = 0; s < 256; s++) live += strings[s] != NULL ? strlen(strings[s]) + 1 : 0;
  return live;
}

int main(int argc, char **argv) {
  int bench = argc > 1 && strcmp(argv[1], "--bench") == 0;
  int frames = argc > 1 + bench ? atoi(argv[1 + bench]) : bench ? 3000 : 600;
  if (frames < 1) frames = 1;
  double start = now_us();
  /* the name it has already, so nothing changes: one system call that
   * strace shows, where the game's own work starts, after the loader's
   * and (under reheap run) reheap's start-up */
#if !defined(_WIN32)
  if (bench) prctl(PR_SET_NAME, "legacy-game", 0, 0, 0);
#endif
  heap.cap = 64u << 20;
  heap.base = malloc(heap.cap); /* the engine grabs its arena once, at start */
  pthread_mutex_init(&heap.lock, NULL);
  pool.slot = ENTITY_SIZE;
  pool.count = ENTITIES;
  pool.slots = malloc(pool.slot * pool.count);
  for (size_t i = 0; i < pool.count; i++) Pool_Free(&pool, pool.slots + i * pool.slot);
  pool.frees = 0;
  pthread_mutex_init(&shared_pool.lock, NULL);
  shared_pool.pool.slot = 64;
  shared_pool.pool.count = BENCH_THREADS * MSG_SLOTS;
  shared_pool.pool.slots = malloc(shared_pool.pool.slot * shared_pool.pool.count);
  if (shared_pool.pool.slots == NULL) return 1;
  for (size_t i = 0; i < shared_pool.pool.count; i++)
    Pool_Free(&shared_pool.pool, shared_pool.pool.slots + i * shared_pool.pool.slot);
  shared_pool.pool.frees = 0;
  if (heap.base == NULL || pool.slots == NULL) return 1;

  double *ft = malloc(sizeof(double) * (size_t)frames);
  if (ft == NULL) return 1;
  double pool_ops = 0, shared_ops = 0, heap_ops = 0, large_mb = 0;
  if (bench) {
    /* each phase's work grows with FRAMES, so that --bench 300 is a
     * tenth of the default --bench run */
    pool_ops = bench_pool(2000L * frames);
    shared_ops = bench_shared_pool(1000L * frames);
    heap_ops = bench_heap(300L * frames);
    large_mb = bench_large(frames / 5 + 1);
  }
  play(frames, ft);
  size_t live = bench ? live_bytes() : 0, rss = bench ? rss_bytes() : 0;
  teardown();
  qsort(ft, (size_t)frames, sizeof *ft, cmp_double);
  if (bench) {
    printf("legacy-game-bench: frames=%d ok=%d pool_ops_per_s=%.0f shared_pool_ops_per_s=%.0f heap_ops_per_s=%.0f large_mb_per_s=%.1f "
           "frame_p50_us=%.1f frame_p99_us=%.1f live_bytes=%zu rss_bytes=%zu mem_efficiency=%.3f "
           "own_heap=%lu/%lu own_pool=%lu/%lu own_shared=%lu/%lu own_assets=%lu/%lu own_simd=%lu/%lu main_s=%.6f\n",
           frames, failed == 0, pool_ops, shared_ops, heap_ops, large_mb, ft[frames / 2], ft[frames * 99 / 100], live, rss,
           rss > 0 ? (double)live / (double)rss : 0.0, heap.allocs, heap.frees, pool.allocs, pool.frees,
           shared_pool.pool.allocs, shared_pool.pool.frees,
           asset_allocs, asset_frees, simd_allocs, simd_frees, (now_us() - start) / 1e6);
    free(ft);
    return failed != 0;
  }
  printf("legacy-game: %d frames %s, frame p50 %.1f us p99 %.1f us\n", frames, failed ? "CORRUPTED" : "ok",
         ft[frames / 2], ft[frames * 99 / 100]);
  printf("legacy-game: own allocators served: heap %lu/%lu, pool %lu/%lu, assets %lu/%lu, simd %lu/%lu "
         "(allocations/frees)\n",
         heap.allocs, heap.frees, pool.allocs, pool.frees, asset_allocs, asset_frees, simd_allocs, simd_frees);
  free(ft);
  return failed != 0;
}
