/* waves: threads come and go in waves, many more of them than cores, and
 * their blocks outlive them. Each wave starts THREADS threads; each keeps
 * SLOTS blocks (mostly small, some to 64 KiB, rarely to 1 MiB), replaces
 * random ones, and trades blocks with a shared array of TRANSFER slots (an
 * atomic exchange: the block it takes, made by any thread of this wave or
 * of an earlier one, it frees later). When a thread ends, it leaves a
 * quarter of its blocks in a retained list that the next wave's threads
 * free. This is the shape of a server's worker pool, or of a game's job
 * threads: the heap must serve threads that are short-lived, take back
 * blocks freed far from where they were made, and not keep what the dead
 * threads held. */
#include <pthread.h>
#include <stdatomic.h>

#include "wl_common.h"

#define WL "waves"
#define THREADS 32
#define SLOTS 500
#define TRANSFER 1024
#define RETAIN_MAX (THREADS * SLOTS)

static _Atomic(wl_block *) transfer[TRANSFER];
static wl_block *retained[RETAIN_MAX], *retained_old[RETAIN_MAX];
static int nretained, nretained_old;
static pthread_mutex_t retain_mu = PTHREAD_MUTEX_INITIALIZER;
static long steps_per_thread;
static _Atomic uint64_t total;

static size_t pick_size(wl_rng *r)
{
    uint64_t x = wl_next(r);
    unsigned c = (unsigned)(x % 10000);
    if (c < 9000)
        return 8 + (size_t)((x >> 20) % 249);
    if (c < 9990)
        return 257 + (size_t)((x >> 20) % (65536 - 256));
    return 65537 + (size_t)((x >> 20) % (1048576 - 65536));
}

static wl_block *block_new(wl_rng *r)
{
    wl_block *b = wl_xmalloc(WL, sizeof *b);
    wl_block_new(WL, b, pick_size(r), (unsigned char)wl_next(r));
    return b;
}

static uint64_t block_free(wl_block *b)
{
    if (!b)
        return 0;
    uint64_t c = wl_block_free(WL, b);
    free(b);
    return c;
}

static void *worker(void *arg)
{
    wl_rng r;
    wl_seed(&r, 0xA7E5u + (uint64_t)(uintptr_t)arg);
    wl_block *slots[SLOTS];
    uint64_t sum = 0;
    for (int i = 0; i < SLOTS; i++)
        slots[i] = block_new(&r);
    /* the blocks an earlier wave left behind, a share of them each */
    pthread_mutex_lock(&retain_mu);
    int take = nretained_old < SLOTS / 4 ? nretained_old : SLOTS / 4;
    wl_block *old[SLOTS / 4];
    for (int i = 0; i < take; i++)
        old[i] = retained_old[--nretained_old];
    pthread_mutex_unlock(&retain_mu);
    for (int i = 0; i < take; i++)
        sum += block_free(old[i]);

    for (long s = 0; s < steps_per_thread; s++) {
        size_t k = (size_t)(wl_next(&r) % SLOTS);
        if (wl_next(&r) % 8 == 0) {
            /* trade: ours goes out, whatever was in the slot comes in */
            size_t t = (size_t)(wl_next(&r) % TRANSFER);
            wl_block *in = atomic_exchange(&transfer[t], slots[k]);
            slots[k] = in ? in : block_new(&r);
        } else {
            sum += block_free(slots[k]);
            slots[k] = block_new(&r);
        }
    }
    pthread_mutex_lock(&retain_mu);
    int i = 0;
    for (; i < SLOTS / 4 && nretained < RETAIN_MAX; i++)
        retained[nretained++] = slots[i];
    pthread_mutex_unlock(&retain_mu);
    for (; i < SLOTS; i++)
        sum += block_free(slots[i]);
    atomic_fetch_add(&total, sum);
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long waves = wl_scaled(scale, 40, 2);
    steps_per_thread = 4000;
    for (long w = 0; w < waves; w++) {
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
            if (pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(w * THREADS + i)) != 0)
                wl_die(WL, "pthread_create failed");
        for (int i = 0; i < THREADS; i++)
            pthread_join(t[i], NULL);
        /* what this wave kept, the next one frees; what is left of the
         * wave before goes now */
        uint64_t sum = 0;
        while (nretained_old > 0)
            sum += block_free(retained_old[--nretained_old]);
        for (int i = 0; i < nretained; i++)
            retained_old[i] = retained[i];
        nretained_old = nretained;
        nretained = 0;
        atomic_fetch_add(&total, sum);
    }
    uint64_t sum = 0;
    while (nretained_old > 0)
        sum += block_free(retained_old[--nretained_old]);
    for (int i = 0; i < TRANSFER; i++)
        sum += block_free(atomic_exchange(&transfer[i], NULL));
    printf("ok checksum=%llu\n", (unsigned long long)(atomic_load(&total) + sum));
    return 0;
}
