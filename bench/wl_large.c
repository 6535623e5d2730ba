/* large: blocks of 64 KiB .. 64 MiB, log-distributed with 90% below 4 MiB.
 * SLOTS blocks are kept live; each step frees a random one and allocates a
 * replacement, touching its first and last page. */
#include "wl_common.h"

#define WL "large"
#define SLOTS 8

static void new_block(wl_rng *r, wl_block *b)
{
    size_t n;
    if (wl_next(r) % 10 < 9)
        n = wl_logrange(r, (size_t)64 << 10, (size_t)4 << 20);
    else
        n = wl_logrange(r, (size_t)4 << 20, (size_t)64 << 20);
    unsigned char tag = (unsigned char)wl_next(r);
    b->p = wl_xmalloc(WL, n);
    b->n = n;
    b->tag = tag;
    memset(b->p, tag, 64);
    memset(b->p + n - 64, tag, 64);
}

static uint64_t free_block(wl_block *b)
{
    if (b->p[0] != b->tag || b->p[63] != b->tag || b->p[b->n - 1] != b->tag)
        wl_die(WL, "block contents corrupted");
    uint64_t c = b->n + b->tag;
    free(b->p);
    b->p = NULL;
    return c;
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long steps = wl_scaled(scale, 500000, 200);
    wl_rng r;
    wl_seed(&r, 0x1A46Eu);
    wl_block slots[SLOTS];
    uint64_t sum = 0;
    for (int i = 0; i < SLOTS; i++)
        new_block(&r, &slots[i]);
    for (long s = 0; s < steps; s++) {
        size_t k = (size_t)(wl_next(&r) % SLOTS);
        sum += free_block(&slots[k]);
        new_block(&r, &slots[k]);
    }
    for (int i = 0; i < SLOTS; i++)
        sum += free_block(&slots[i]);
    printf("ok checksum=%llu\n", (unsigned long long)sum);
    return 0;
}
