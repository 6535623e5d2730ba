/* larson: server-style workload after Larson & Krishnan. LINEAGES threads
 * run at once; each owns an array of slots and replaces random slots with
 * new random-size blocks (16..1000 B). At the end of a round the thread
 * starts a successor thread, hands it the slots array and exits; the
 * successor frees the blocks its predecessor allocated, so blocks
 * regularly move between threads. */
#include <pthread.h>

#include "wl_common.h"

#define WL "larson"
#define LINEAGES 4
#define SLOTS 1000
#define PER_ROUND 10000

struct lineage {
    wl_block slots[SLOTS];
    long rounds_left;
    uint64_t seed;
    uint64_t sum;
};

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static int done_count;
static pthread_attr_t detached;

static void *larson_thread(void *arg)
{
    struct lineage *L = arg;
    wl_rng r;
    wl_seed(&r, L->seed++);
    for (long i = 0; i < PER_ROUND; i++) {
        uint64_t x = wl_next(&r);
        size_t k = (size_t)(x % SLOTS);
        L->sum += wl_block_free(WL, &L->slots[k]);
        wl_block_new(WL, &L->slots[k], 16 + (size_t)((x >> 20) % 985), (unsigned char)(x >> 40));
    }
    if (--L->rounds_left > 0) {
        pthread_t t;
        if (pthread_create(&t, &detached, larson_thread, L) != 0)
            wl_die(WL, "pthread_create failed");
    } else {
        pthread_mutex_lock(&done_mu);
        done_count++;
        pthread_cond_signal(&done_cv);
        pthread_mutex_unlock(&done_mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long rounds = wl_scaled(scale, 350, 2);
    struct lineage *lin = calloc(LINEAGES, sizeof *lin);
    if (!lin)
        wl_die(WL, "calloc failed");
    pthread_attr_init(&detached);
    pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

    wl_rng r;
    wl_seed(&r, 0x1A75u);
    for (int l = 0; l < LINEAGES; l++) {
        for (size_t i = 0; i < SLOTS; i++)
            wl_block_new(WL, &lin[l].slots[i], wl_range(&r, 16, 1000), (unsigned char)wl_next(&r));
        lin[l].rounds_left = rounds;
        lin[l].seed = 1000u * (uint64_t)(l + 1);
    }
    for (int l = 0; l < LINEAGES; l++) {
        pthread_t t;
        if (pthread_create(&t, &detached, larson_thread, &lin[l]) != 0)
            wl_die(WL, "pthread_create failed");
    }
    pthread_mutex_lock(&done_mu);
    while (done_count < LINEAGES)
        pthread_cond_wait(&done_cv, &done_mu);
    pthread_mutex_unlock(&done_mu);

    uint64_t sum = 0;
    for (int l = 0; l < LINEAGES; l++) {
        for (size_t i = 0; i < SLOTS; i++)
            sum += wl_block_free(WL, &lin[l].slots[i]);
        sum += lin[l].sum;
    }
    free(lin);
    printf("ok checksum=%llu rounds=%ld\n", (unsigned long long)sum, rounds);
    return 0;
}
