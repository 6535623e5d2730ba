/* xmalloc: producer/consumer. PRODUCERS threads malloc blocks (16..256 B),
 * write them, and pass them in batches through a mutex-protected bounded
 * queue to CONSUMERS threads, which verify and free them: every free is a
 * cross-thread free. */
#include <pthread.h>

#include "wl_common.h"

#define WL "xmalloc"
#define PRODUCERS 2
#define CONSUMERS 2
#define BATCH 64
#define QCAP 64

struct batch {
    int n;
    unsigned char *p[BATCH];
};

static struct batch queue[QCAP];
static int q_head, q_len, producers_left = PRODUCERS;
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t q_notempty = PTHREAD_COND_INITIALIZER;
static pthread_cond_t q_notfull = PTHREAD_COND_INITIALIZER;
static long per_producer;
static uint64_t sums[CONSUMERS];

static void push(const struct batch *b)
{
    pthread_mutex_lock(&q_mu);
    while (q_len == QCAP)
        pthread_cond_wait(&q_notfull, &q_mu);
    queue[(q_head + q_len) % QCAP] = *b;
    q_len++;
    pthread_cond_signal(&q_notempty);
    pthread_mutex_unlock(&q_mu);
}

/* Returns 0 when the queue is drained and all producers are done. */
static int pop(struct batch *b)
{
    pthread_mutex_lock(&q_mu);
    while (q_len == 0 && producers_left > 0)
        pthread_cond_wait(&q_notempty, &q_mu);
    if (q_len == 0) {
        pthread_mutex_unlock(&q_mu);
        return 0;
    }
    *b = queue[q_head];
    q_head = (q_head + 1) % QCAP;
    q_len--;
    pthread_cond_signal(&q_notfull);
    pthread_mutex_unlock(&q_mu);
    return 1;
}

static void *producer(void *arg)
{
    wl_rng r;
    wl_seed(&r, (uint64_t)(uintptr_t)arg + 77);
    struct batch b;
    b.n = 0;
    for (long i = 0; i < per_producer; i++) {
        uint64_t x = wl_next(&r);
        size_t n = 16 + (size_t)(x % 241);
        unsigned char *p = wl_xmalloc(WL, n);
        /* Block layout: size in the first 8 bytes, tag in the rest. */
        unsigned char tag = (unsigned char)(n * 7 + 1);
        memcpy(p, &n, sizeof n);
        memset(p + sizeof n, tag, n - sizeof n < 32 ? n - sizeof n : 32);
        p[n - 1] = tag;
        b.p[b.n++] = p;
        if (b.n == BATCH) {
            push(&b);
            b.n = 0;
        }
    }
    if (b.n)
        push(&b);
    pthread_mutex_lock(&q_mu);
    producers_left--;
    pthread_cond_broadcast(&q_notempty);
    pthread_mutex_unlock(&q_mu);
    return NULL;
}

static void *consumer(void *arg)
{
    int id = (int)(uintptr_t)arg;
    struct batch b;
    uint64_t sum = 0;
    while (pop(&b)) {
        for (int i = 0; i < b.n; i++) {
            unsigned char *p = b.p[i];
            size_t n;
            memcpy(&n, p, sizeof n);
            unsigned char tag = (unsigned char)(n * 7 + 1);
            if (n < 16 || n > 256 || p[sizeof n] != tag || p[n - 1] != tag)
                wl_die(WL, "block contents corrupted");
            sum += n;
            free(p);
        }
    }
    sums[id] = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    per_producer = wl_scaled(scale, 2500000, 1000);
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++)
        if (pthread_create(&ct[i], NULL, consumer, (void *)(uintptr_t)i) != 0)
            wl_die(WL, "pthread_create failed");
    for (int i = 0; i < PRODUCERS; i++)
        if (pthread_create(&pt[i], NULL, producer, (void *)(uintptr_t)i) != 0)
            wl_die(WL, "pthread_create failed");
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(ct[i], NULL);
    uint64_t sum = 0;
    for (int i = 0; i < CONSUMERS; i++)
        sum += sums[i];
    printf("ok checksum=%llu blocks=%ld\n", (unsigned long long)sum, per_producer * PRODUCERS);
    return 0;
}
