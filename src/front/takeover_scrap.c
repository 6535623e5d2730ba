/* Scrap heaps on reheap's heap. A scrap heap is a stack: a block is put on
 * top, and the memory under a freed block comes back once every block
 * above it is freed too (the program frees them about in the reverse
 * order it made them). Its memory is chunks from the takeover's heap, the
 * newest on top; a block is the next place in the top chunk with room,
 * after a header of two words:
 *
 *   prev  the block under it (or NULL), its low bit set once it is freed
 *   end   the first byte after it: where the next block may start
 *
 * The record over the program's object is {tag, top chunk, last block}.
 * Invariants: the last block lies in the top chunk or in the one under
 * it, and then the top chunk is empty (a spare, kept so that a block
 * made and freed at a chunk's end does not get and give back a chunk each
 * time); with no block, at most one chunk is kept.
 *
 * A scrap heap belongs to one thread (the engine gives each its own), so
 * nothing here takes a lock. */
#include "front/takeover_scrap.h"

#include <stdint.h>

#include "front/takeover_home.h"

#define TAG ((uintptr_t)0x5C4A9E11u)
#define FREED ((uintptr_t)1)
#define MIN_ALIGN (2 * sizeof(void *))
#define CHUNK ((size_t)128 << 10) /* a chunk's usual size, with its header */

typedef struct chunk {
  struct chunk *prev;
  char *limit; /* the end of its memory */
  uintptr_t pad[2];
} chunk_t;

typedef struct block {
  uintptr_t prev; /* struct block *, FREED */
  char *end;
} block_t;

typedef struct record {
  uintptr_t tag; /* TAG ^ the object's address */
  chunk_t *top;
  block_t *last;
} record_t;
_Static_assert(sizeof(record_t) == SCRAP_OBJECT_WORDS * sizeof(void *), "the record fits the words it claims");
_Static_assert(sizeof(chunk_t) % MIN_ALIGN == 0 && sizeof(block_t) == MIN_ALIGN, "headers keep blocks aligned");

static char *start(chunk_t *c) { return (char *)(c + 1); }
static bool inside(chunk_t *c, const void *p) { return (const char *)p >= start(c) && (const char *)p < c->limit; }
static block_t *under(const block_t *b) { return (block_t *)(b->prev & ~FREED); }

bool scrap_ours(const void *heap) {
  return heap != NULL && ((const record_t *)heap)->tag == (TAG ^ (uintptr_t)heap);
}

void scrap_purge(void *heap) {
  record_t *r = heap;
  for (chunk_t *c = r->top, *prev; c != NULL; c = prev) {
    prev = c->prev;
    home_free(c);
  }
  r->top = NULL;
  r->last = NULL;
}

void scrap_init(void *heap) {
  record_t *r = heap;
  /* one initialized again without a purge: its chunks go (if its words
   * only happen to look like a record, they do not point into the heap) */
  if (scrap_ours(heap) && r->top != NULL && home_owns(r->top)) scrap_purge(heap);
  r->tag = TAG ^ (uintptr_t)heap;
  r->top = NULL;
  r->last = NULL;
}

static char *align_up(char *p, size_t align) {
  return (char *)(((uintptr_t)p + (align - 1)) & ~(uintptr_t)(align - 1));
}

void *scrap_alloc(void *heap, size_t size, size_t align) {
  record_t *r = heap;
  if (align < MIN_ALIGN || (align & (align - 1)) != 0) align = MIN_ALIGN;
  if (size == 0) size = 1;
  if (size > SIZE_MAX / 4 || align > SIZE_MAX / 4) return NULL;
  if (r->top != NULL) {
    char *from = r->last != NULL && inside(r->top, r->last) ? r->last->end : start(r->top);
    char *p = align_up(from + sizeof(block_t), align);
    if (p <= r->top->limit && size <= (size_t)(r->top->limit - p)) {
      block_t *b = (block_t *)p - 1;
      b->prev = (uintptr_t)r->last;
      b->end = p + size;
      r->last = b;
      return p;
    }
  }
  size_t want = sizeof(chunk_t) + sizeof(block_t) + align + size;
  want = want < CHUNK ? CHUNK : (want + 4095) & ~(size_t)4095;
  chunk_t *c = home_malloc(want);
  if (c == NULL) return NULL;
  c->prev = r->top;
  c->limit = (char *)c + want;
  r->top = c;
  char *p = align_up(start(c) + sizeof(block_t), align);
  block_t *b = (block_t *)p - 1;
  b->prev = (uintptr_t)r->last;
  b->end = p + size;
  r->last = b;
  return p;
}

/* After the stack shrank: the chunks over the one that holds the last
 * block go, but for one spare of the usual size. */
static void trim(record_t *r) {
  chunk_t *holder = r->top; /* the chunks over it are empty: a few at most */
  while (holder != NULL && (r->last == NULL || !inside(holder, r->last))) holder = holder->prev;
  if (r->top == holder) return;
  while (r->top->prev != holder) {
    chunk_t *c = r->top;
    r->top = c->prev;
    home_free(c);
  }
  if ((size_t)(r->top->limit - (char *)r->top) != CHUNK) {
    chunk_t *c = r->top;
    r->top = c->prev;
    home_free(c);
  }
}

bool scrap_free(void *heap, void *p) {
  record_t *r = heap;
  if (((uintptr_t)p & (MIN_ALIGN - 1)) != 0) return false;
  block_t *b = (block_t *)p - 1;
  if (b != r->last) {
    /* not the top: check it is a block of this heap's before writing to it */
    chunk_t *c = r->top;
    while (c != NULL && !inside(c, b)) c = c->prev;
    if (c == NULL || b->end < (char *)p || b->end > c->limit || (b->prev & FREED) != 0) return false;
    b->prev |= FREED;
    return true;
  }
  b->prev |= FREED;
  while (r->last != NULL && (r->last->prev & FREED) != 0) r->last = under(r->last);
  trim(r);
  return true;
}
