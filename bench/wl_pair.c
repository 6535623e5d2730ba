/* pair: the cost of one malloc+free pair of a small block (16..128 B,
 * sizes cycling 16, 32, ..., 128) in a tight single-threaded loop. */
#include "wl_common.h"

#define WL "pair"

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long iters = wl_scaled(scale, 50000000, 100000);
    static const size_t sizes[8] = {16, 32, 48, 64, 80, 96, 112, 128};

    /* Warm up: let the heap initialise itself outside the timed loop. */
    for (int i = 0; i < 1000; i++) {
        void *p = wl_xmalloc(WL, sizes[i & 7]);
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }

    uint64_t t0 = wl_now_ns();
    for (long i = 0; i < iters; i++) {
        unsigned char *p = malloc(sizes[i & 7]);
        if (__builtin_expect(p == NULL, 0))
            wl_die(WL, "malloc returned NULL");
        *(volatile unsigned char *)p = (unsigned char)i;
        __asm__ volatile("" : : "r"(p) : "memory");
        free(p);
    }
    uint64_t t1 = wl_now_ns();
    printf("ok pair_ns=%.3f iters=%ld\n", (double)(t1 - t0) / (double)iters, iters);
    return 0;
}
