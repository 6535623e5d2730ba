/* legacy-game: a program written the way an old game engine is, with its
 * own memory managers called directly (not through malloc):
 *
 *  - a heap manager: first fit over one big block, one global lock, a
 *    header per block, methods taking the heap object first;
 *  - a pool for entities: fixed-size slots, a free list;
 *  - an asset allocator for large buffers, in two phases (the buffer is
 *    reserved when a load starts and released after the level drops it);
 *  - an aligned allocator for SIMD buffers.
 *
 * A frame loop spawns and frees entities, runs "scripts" that build
 * strings on the heap manager, streams assets and fills SIMD buffers; it
 * checks every byte it reads back, then prints its frame times and its
 * allocators' own counters. The same binary runs on its own managers, or,
 * with `reheap run --profile profiles/legacy-game`, on reheap's heap.
 * usage: legacy-game [FRAMES] */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* noipa: as if each manager were built apart from its callers (an engine's
 * allocators live in their own files): the compiler may assume nothing of
 * what a call does, so the functions can be stood in for */
#define EXPORT __attribute__((visibility("default"), noipa))

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
  return posix_memalign(&p, align, size) == 0 ? p : NULL;
}

EXPORT void Simd_Free(void *p) {
  if (p == NULL) return;
  simd_frees++;
  free(p);
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

int main(int argc, char **argv) {
  int frames = argc > 1 ? atoi(argv[1]) : 600;
  if (frames < 1) frames = 1;
  heap.cap = 64u << 20;
  heap.base = malloc(heap.cap); /* the engine grabs its arena once, at start */
  pthread_mutex_init(&heap.lock, NULL);
  pool.slot = ENTITY_SIZE;
  pool.count = ENTITIES;
  pool.slots = malloc(pool.slot * pool.count);
  for (size_t i = 0; i < pool.count; i++) Pool_Free(&pool, pool.slots + i * pool.slot);
  pool.frees = 0;
  if (heap.base == NULL || pool.slots == NULL) return 1;

  static entity_t *ents[ENTITIES];
  static char *strings[256];
  void *asset = NULL;
  size_t asset_size = 0;
  double *ft = malloc(sizeof(double) * (size_t)frames);
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
      if (asset != NULL) memset(asset, (int)(unsigned char)asset_size, asset_size);
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
  for (int i = 0; i < ENTITIES; i++) Pool_Free(&pool, ents[i]);
  for (int s = 0; s < 256; s++) Heap_Free(&heap, strings[s]);
  Asset_Free(asset);
  qsort(ft, (size_t)frames, sizeof *ft, cmp_double);
  printf("legacy-game: %d frames %s, frame p50 %.1f us p99 %.1f us\n", frames, failed ? "CORRUPTED" : "ok",
         ft[frames / 2], ft[frames * 99 / 100]);
  printf("legacy-game: own allocators served: heap %lu/%lu, pool %lu/%lu, assets %lu/%lu, simd %lu/%lu "
         "(allocations/frees)\n",
         heap.allocs, heap.frees, pool.allocs, pool.frees, asset_allocs, asset_frees, simd_allocs, simd_frees);
  free(ft);
  return failed != 0;
}
