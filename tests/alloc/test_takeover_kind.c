/* The takeover's blocks (alloc_front.h): told from every other block by
 * their address alone, with no header, at every size (class, large,
 * huge), through realloc, from another thread, and counted live. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "alloc/alloc_front.h"
#include "common/check.h"
#include "reheap/alloc.h"

static const size_t sizes[] = {1, 16, 48, 96, 100, 1024, 1025, 5000, 65536, 65537, 300000, 3u << 20};

static void *freer(void *arg) {
  void **blocks = arg;
  for (size_t i = 0; i < 1000; i++) {
    CHECK(heap_takeover_owns(blocks[i]));
    CHECK(heap_takeover_free(blocks[i]));
  }
  return NULL;
}

int main(void) {
  size_t live0 = heap_takeover_live();
  CHECK(live0 == 0);
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    size_t n = sizes[i];
    void *t = heap_takeover_malloc(n), *plain = rh_malloc(n);
    CHECK(t != NULL && plain != NULL && ((uintptr_t)t & 15) == 0);
    CHECKF(heap_takeover_owns(t) && !heap_takeover_owns(plain), "size %zu", n);
    /* no header: a class block is exactly its class, as a plain one */
    CHECKF(rh_usable_size(t) == rh_usable_size(plain) || n > 65536, "size %zu: %zu vs %zu", n,
           rh_usable_size(t), rh_usable_size(plain));
    CHECK(rh_usable_size(t) >= n);
    memset(t, 0x5a, n);
    CHECK(heap_takeover_live() == live0 + 1);
    /* a plain block the program's own allocator carved up is never ours,
     * at its start or inside */
    CHECK(!heap_takeover_free(plain));
    if (n >= 64) CHECK(!heap_takeover_owns((char *)plain + 32));
    /* grown and shrunk, it stays of its kind, contents kept */
    void *g = heap_takeover_realloc(t, n * 3 + 7);
    CHECK(g != NULL && heap_takeover_owns(g) && ((unsigned char *)g)[n - 1] == 0x5a);
    void *s = heap_takeover_realloc(g, n / 2 + 1);
    CHECK(s != NULL && heap_takeover_owns(s) && ((unsigned char *)s)[n / 2] == 0x5a);
    CHECK(heap_takeover_live() == live0 + 1);
    CHECK(heap_takeover_free(s));
    CHECK(heap_takeover_live() == live0);
    rh_free(plain);
  }
  /* zeroed and aligned forms */
  unsigned char *z = heap_takeover_calloc(100, 37);
  CHECK(z != NULL && heap_takeover_owns(z));
  for (size_t k = 0; k < 3700; k++) CHECK(z[k] == 0);
  for (size_t align = 16; align <= (1u << 21); align <<= 1) {
    void *a = heap_takeover_aligned(align, 200);
    CHECKF(a != NULL && ((uintptr_t)a & (align - 1)) == 0 && heap_takeover_owns(a), "align %zu", align);
    rh_free(a); /* the plain free takes them like any */
  }
  CHECK(heap_takeover_aligned(48, 10) == NULL);
  rh_free(z);
  CHECK(heap_takeover_live() == live0);
  /* freed by another thread */
  static void *blocks[1000];
  for (size_t i = 0; i < 1000; i++) CHECK((blocks[i] = heap_takeover_malloc(i * 7 + 1)) != NULL);
  CHECK(heap_takeover_live() == live0 + 1000);
  pthread_t th;
  CHECK(pthread_create(&th, NULL, freer, blocks) == 0);
  CHECK(pthread_join(th, NULL) == 0);
  CHECK(heap_takeover_live() == live0);
  /* the heap's statistics count both kinds of a class as one */
  rh_heap_stats_t st;
  rh_class_stats_t cls[128];
  rh_heap_stats(&st, cls, rh_size_class_count());
  CHECK(rh_size_class_count() <= 128 && st.allocations >= 1000);
  puts("takeover_kind: ok");
  return 0;
}
