/* A program's scrap heaps (the scratch heaps of stack discipline a game
 * engine gives each thread) served from reheap's heap. The program keeps
 * each heap's object; reheap writes its own record of three words over
 * the object's storage when the program initializes it, and knows it
 * again by a tag in the first word. An object whose storage does not
 * carry the tag (initialized before the takeover, or by a path the
 * profile does not cover) is not ours: the caller sends it to the
 * original function. */
#ifndef REHEAP_FRONT_TAKEOVER_SCRAP_H
#define REHEAP_FRONT_TAKEOVER_SCRAP_H

#include <stdbool.h>
#include <stddef.h>

/* The words of the program's object that reheap uses. */
#define SCRAP_OBJECT_WORDS 3

/* Whether heap's storage holds reheap's record. */
bool scrap_ours(const void *heap);
/* Makes heap's storage reheap's record of an empty scrap heap (letting
 * go of the memory of one it held already). */
void scrap_init(void *heap);
/* A block of size bytes aligned to align (a power of two; anything else,
 * or less, is the least: two words), on top of heap's stack; NULL when
 * memory ran out. heap is ours. */
void *scrap_alloc(void *heap, size_t size, size_t align);
/* Frees p, a block of heap's (heap is ours); the stack shrinks past every
 * freed block on its top. False, nothing done, if p is no block of it. */
bool scrap_free(void *heap, void *p);
/* Lets go of every block of heap's and of its memory; heap stays ours,
 * empty. */
void scrap_purge(void *heap);

#endif
