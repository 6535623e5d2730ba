/* churn: single-threaded small-object churn. A working set of SLOTS blocks
 * of random sizes 8..512 B; each step frees a random slot and refills it
 * with a new random-size block. */
#include "wl_common.h"

#define WL "churn"
#define SLOTS 10000

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long steps = wl_scaled(scale, 16000000, 10000);
    wl_rng r;
    wl_seed(&r, 0xC4u);
    wl_block *slots = calloc(SLOTS, sizeof *slots);
    if (!slots)
        wl_die(WL, "calloc failed");
    uint64_t sum = 0;

    for (size_t i = 0; i < SLOTS; i++)
        wl_block_new(WL, &slots[i], wl_range(&r, 8, 512), (unsigned char)wl_next(&r));
    for (long s = 0; s < steps; s++) {
        uint64_t x = wl_next(&r);
        size_t k = (size_t)(x % SLOTS);
        sum += wl_block_free(WL, &slots[k]);
        wl_block_new(WL, &slots[k], 8 + (size_t)((x >> 20) % 505), (unsigned char)(x >> 40));
    }
    for (size_t i = 0; i < SLOTS; i++)
        sum += wl_block_free(WL, &slots[i]);
    free(slots);
    printf("ok checksum=%llu\n", (unsigned long long)sum);
    return 0;
}
