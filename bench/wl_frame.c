/* frame: a game's frame loop. Per frame: despawn and spawn many small
 * entity objects (32..256 B) and update the live ones; create, grow
 * (realloc) and drop script strings (8..200 B); allocate 16- and 64-byte
 * aligned SIMD scratch buffers (aligned_alloc) and free them at frame end;
 * every ~30 frames unload an asset buffer and load another (256 KiB..8 MiB,
 * fully written). Each frame is timed with CLOCK_MONOTONIC; the output is
 * the frame count and the median (p50) and 99th percentile frame times. */
#include "wl_common.h"

#define WL "frame"
#define MAX_ENT 4096
#define SPAWN 300
#define STRINGS 512
#define STRING_OPS 200
#define SIMD_BUFS 8
#define ASSETS 4
#define ASSET_PERIOD 30

struct entity {
    uint32_t id;
    uint32_t size;
    float pos[3], vel[3];
    unsigned char payload[]; /* up to size - header */
};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long frames = wl_scaled(scale, 10000, 20);
    wl_rng r;
    wl_seed(&r, 0xF4A3Eu);
    uint64_t *ft = wl_xmalloc(WL, (size_t)frames * sizeof *ft);
    struct entity **ent = calloc(MAX_ENT, sizeof *ent);
    char **str = calloc(STRINGS, sizeof *str);
    size_t *str_len = calloc(STRINGS, sizeof *str_len);
    wl_block assets[ASSETS];
    if (!ent || !str || !str_len)
        wl_die(WL, "calloc failed");
    memset(assets, 0, sizeof assets);
    int nent = 0;
    uint32_t next_id = 1;
    uint64_t sum = 0;

    for (long f = 0; f < frames; f++) {
        uint64_t t0 = wl_now_ns();

        /* Despawn: about SPAWN random entities once the world is full. */
        int kill = nent > MAX_ENT - SPAWN ? SPAWN : (int)(wl_next(&r) % (SPAWN / 2));
        for (int i = 0; i < kill && nent > 0; i++) {
            int k = (int)(wl_next(&r) % (uint64_t)nent);
            struct entity *e = ent[k];
            if (e->payload[0] != (unsigned char)e->id ||
                e->payload[e->size - sizeof *e - 1] != (unsigned char)e->id)
                wl_die(WL, "entity corrupted");
            sum += e->id;
            free(e);
            ent[k] = ent[--nent];
        }
        /* Spawn. */
        for (int i = 0; i < SPAWN && nent < MAX_ENT; i++) {
            size_t n = wl_range(&r, sizeof(struct entity) + 1, 256);
            struct entity *e = wl_xmalloc(WL, n);
            e->id = next_id++;
            e->size = (uint32_t)n;
            for (int j = 0; j < 3; j++) {
                e->pos[j] = 0.0f;
                e->vel[j] = (float)(j + 1);
            }
            memset(e->payload, (unsigned char)e->id, n - sizeof *e);
            ent[nent++] = e;
        }
        /* Update. */
        for (int i = 0; i < nent; i++) {
            struct entity *e = ent[i];
            for (int j = 0; j < 3; j++)
                e->pos[j] += e->vel[j] * 0.016f;
        }
        /* Script strings. */
        for (int i = 0; i < STRING_OPS; i++) {
            uint64_t x = wl_next(&r);
            size_t k = (size_t)(x % STRINGS);
            size_t n = 8 + (size_t)((x >> 20) % 193);
            if (!str[k]) {
                str[k] = wl_xmalloc(WL, n);
                memset(str[k], 'a' + (int)(k % 26), n - 1);
                str[k][n - 1] = '\0';
                str_len[k] = n - 1;
            } else if ((x >> 40) % 4 == 0) {
                if (str[k][0] != 'a' + (int)(k % 26))
                    wl_die(WL, "string corrupted");
                sum += str_len[k];
                free(str[k]);
                str[k] = NULL;
            } else {
                char *q = realloc(str[k], n);
                if (!q)
                    wl_die(WL, "realloc returned NULL");
                if (q[0] != 'a' + (int)(k % 26))
                    wl_die(WL, "string corrupted by realloc");
                memset(q, 'a' + (int)(k % 26), n - 1);
                q[n - 1] = '\0';
                str[k] = q;
                str_len[k] = n - 1;
            }
        }
        /* SIMD scratch buffers. */
        float *simd[2 * SIMD_BUFS];
        for (int i = 0; i < 2 * SIMD_BUFS; i++) {
            size_t a = i < SIMD_BUFS ? 16 : 64;
            size_t n = a * wl_range(&r, 1, 64);
            simd[i] = aligned_alloc(a, n);
            if (!simd[i])
                wl_die(WL, "aligned_alloc returned NULL");
            if ((uintptr_t)simd[i] & (a - 1))
                wl_die(WL, "misaligned SIMD buffer");
            for (size_t j = 0; j < n / sizeof(float); j++)
                simd[i][j] = (float)j;
        }
        for (int i = 0; i < 2 * SIMD_BUFS; i++) {
            sum += (uint64_t)simd[i][0];
            free(simd[i]);
        }
        /* Asset streaming. */
        if (f % ASSET_PERIOD == 0) {
            size_t k = (size_t)(wl_next(&r) % ASSETS);
            sum += wl_block_free(WL, &assets[k]);
            size_t n = wl_logrange(&r, (size_t)256 << 10, (size_t)8 << 20);
            unsigned char tag = (unsigned char)wl_next(&r);
            assets[k].p = wl_xmalloc(WL, n);
            assets[k].n = n;
            assets[k].tag = tag;
            memset(assets[k].p, tag, n);
        }

        ft[f] = wl_now_ns() - t0;
    }

    for (int i = 0; i < nent; i++)
        free(ent[i]);
    for (size_t k = 0; k < STRINGS; k++)
        free(str[k]);
    for (int k = 0; k < ASSETS; k++)
        sum += wl_block_free(WL, &assets[k]);
    free(ent);
    free(str);
    free(str_len);

    qsort(ft, (size_t)frames, sizeof *ft, cmp_u64);
    size_t i50 = (size_t)(frames - 1) / 2;
    size_t i99 = (size_t)((double)(frames - 1) * 0.99);
    printf("ok frames=%ld p50_us=%.1f p99_us=%.1f checksum=%llu\n", frames, (double)ft[i50] / 1000.0,
           (double)ft[i99] / 1000.0, (unsigned long long)sum);
    free(ft);
    return 0;
}
