/* cache-scratch: passive false sharing, after the Hoard benchmark. The main
 * thread allocates one small (8 B) object per thread, so the objects are
 * likely to share a cache line, and hands one to each thread. Each thread
 * frees its object, then repeatedly mallocs a small object, writes to it
 * many times and frees it. A heap that hands the freed (remote) object
 * back to the thread makes the threads write to one cache line: slow. */
#include <pthread.h>

#include "wl_common.h"

#define WL "cache-scratch"
#define THREADS 2
#define OBJ 8
#define WRITES 10000

static long iterations;

struct arg {
    unsigned char *obj;
    uint64_t sum;
};

static void *worker(void *p)
{
    struct arg *a = p;
    free(a->obj);
    uint64_t sum = 0;
    for (long i = 0; i < iterations; i++) {
        unsigned char *o = wl_xmalloc(WL, OBJ);
        volatile unsigned char *v = o;
        for (int j = 0; j < WRITES; j++)
            for (int k = 0; k < OBJ; k++)
                v[k] = (unsigned char)(i + j + k);
        sum += v[OBJ - 1];
        free(o);
    }
    a->sum = sum;
    return NULL;
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    iterations = wl_scaled(scale, 4000, 10);
    struct arg args[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i].obj = wl_xmalloc(WL, OBJ);
        memset(args[i].obj, i, OBJ);
        args[i].sum = 0;
    }
    for (int i = 0; i < THREADS; i++)
        if (pthread_create(&t[i], NULL, worker, &args[i]) != 0)
            wl_die(WL, "pthread_create failed");
    uint64_t sum = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        sum += args[i].sum;
    }
    printf("ok checksum=%llu\n", (unsigned long long)sum);
    return 0;
}
