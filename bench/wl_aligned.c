/* aligned: aligned_alloc and posix_memalign (alternating) with alignments
 * 16..4096 and, rarely, 64 KiB; random sizes; every pointer's alignment is
 * verified; a working set of SLOTS blocks is churned. */
#include "wl_common.h"

#define WL "aligned"
#define SLOTS 2000

static const size_t aligns[9] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

static void new_block(wl_rng *r, wl_block *b, long step)
{
    uint64_t x = wl_next(r);
    size_t a = ((x & 255) == 0) ? (size_t)65536 : aligns[(x >> 8) % 9];
    size_t n = 8 + (size_t)((x >> 16) % 2041);
    void *p = NULL;
    if (step & 1) {
        n = (n + a - 1) / a * a; /* C11: size is a multiple of the alignment */
        p = aligned_alloc(a, n);
        if (!p)
            wl_die(WL, "aligned_alloc returned NULL");
    } else {
        int e = posix_memalign(&p, a, n);
        if (e != 0 || !p)
            wl_die(WL, "posix_memalign failed");
    }
    if ((uintptr_t)p & (a - 1)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s(%zu, %zu) returned %p, not aligned to %zu",
                 (step & 1) ? "aligned_alloc" : "posix_memalign", a, n, p, a);
        wl_die(WL, msg);
    }
    b->p = p;
    b->n = n;
    b->tag = (unsigned char)(x >> 40);
    wl_fill(b->p, n, b->tag);
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long steps = wl_scaled(scale, 2500000, 10000);
    wl_rng r;
    wl_seed(&r, 0xA119u);
    wl_block *slots = calloc(SLOTS, sizeof *slots);
    if (!slots)
        wl_die(WL, "calloc failed");
    uint64_t sum = 0;
    for (size_t i = 0; i < SLOTS; i++)
        new_block(&r, &slots[i], (long)i);
    for (long s = 0; s < steps; s++) {
        size_t k = (size_t)(wl_next(&r) % SLOTS);
        sum += wl_block_free(WL, &slots[k]);
        new_block(&r, &slots[k], s);
    }
    for (size_t i = 0; i < SLOTS; i++)
        sum += wl_block_free(WL, &slots[i]);
    free(slots);
    printf("ok checksum=%llu\n", (unsigned long long)sum);
    return 0;
}
