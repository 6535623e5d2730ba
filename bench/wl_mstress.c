/* mstress: mixed sizes under THREADS threads. Sizes are mostly small
 * (8..512 B), some medium (up to 64 KiB), rarely large (up to 1 MiB). Each
 * thread keeps SLOTS live blocks and frees/replaces random ones; every
 * TRANSFER_EVERY steps it moves a few of its blocks to a shared pool and
 * frees blocks that other threads put there. */
#include <pthread.h>

#include "wl_common.h"

#define WL "mstress"
#define THREADS 4
#define SLOTS 2000
#define TRANSFER_EVERY 256
#define TRANSFER_OUT 16
#define TRANSFER_IN 32
#define POOL_CAP 4096

static wl_block pool[POOL_CAP];
static int pool_len;
static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static long steps_per_thread;
static uint64_t sums[THREADS];

static size_t pick_size(wl_rng *r)
{
    uint64_t x = wl_next(r);
    unsigned c = (unsigned)(x % 1000);
    if (c < 900)
        return 8 + (size_t)((x >> 16) % 505);
    if (c < 999)
        return 513 + (size_t)((x >> 16) % (65536 - 512));
    return 65537 + (size_t)((x >> 16) % (1048576 - 65536));
}

static void *worker(void *arg)
{
    int id = (int)(uintptr_t)arg;
    wl_rng r;
    wl_seed(&r, 0x5757u + (uint64_t)id);
    wl_block *slots = calloc(SLOTS, sizeof *slots);
    if (!slots)
        wl_die(WL, "calloc failed");
    uint64_t sum = 0;
    for (size_t i = 0; i < SLOTS; i++)
        wl_block_new(WL, &slots[i], pick_size(&r), (unsigned char)wl_next(&r));

    for (long s = 0; s < steps_per_thread; s++) {
        size_t k = (size_t)(wl_next(&r) % SLOTS);
        sum += wl_block_free(WL, &slots[k]);
        wl_block_new(WL, &slots[k], pick_size(&r), (unsigned char)wl_next(&r));

        if (s % TRANSFER_EVERY == TRANSFER_EVERY - 1) {
            wl_block in[TRANSFER_IN];
            size_t moved[TRANSFER_OUT];
            int nin = 0, nmoved = 0;
            pthread_mutex_lock(&pool_mu);
            for (int t = 0; t < TRANSFER_OUT && pool_len < POOL_CAP; t++) {
                size_t j = (size_t)(wl_next(&r) % SLOTS);
                if (!slots[j].p)
                    continue;
                pool[pool_len++] = slots[j];
                slots[j].p = NULL;
                moved[nmoved++] = j;
            }
            /* Take the oldest entries: mostly blocks of other threads. */
            while (nin < TRANSFER_IN && pool_len > TRANSFER_OUT * THREADS) {
                in[nin++] = pool[0];
                pool[0] = pool[--pool_len];
            }
            pthread_mutex_unlock(&pool_mu);
            for (int t = 0; t < nin; t++)
                sum += wl_block_free(WL, &in[t]);
            for (int t = 0; t < nmoved; t++)
                wl_block_new(WL, &slots[moved[t]], pick_size(&r), (unsigned char)wl_next(&r));
        }
    }
    for (size_t i = 0; i < SLOTS; i++)
        sum += wl_block_free(WL, &slots[i]);
    free(slots);
    sums[id] = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    steps_per_thread = wl_scaled(scale, 1000000, 2000);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i) != 0)
            wl_die(WL, "pthread_create failed");
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    uint64_t sum = 0;
    for (int i = 0; i < THREADS; i++)
        sum += sums[i];
    for (int i = 0; i < pool_len; i++)
        sum += wl_block_free(WL, &pool[i]);
    printf("ok checksum=%llu\n", (unsigned long long)sum);
    return 0;
}
