/* realloc: VECTORS buffers grow interleaved, one realloc step at a time,
 * from 16 B to a random target of 1..4 MiB, then are freed; repeat. Even
 * buffers grow like strings (small appends of ~1/16 of the size plus up to
 * 255 B), odd buffers like vectors (x1.5). After each step the new tail is
 * written and the old contents are checked. */
#include "wl_common.h"

#define WL "realloc"
#define VECTORS 8

int main(int argc, char **argv)
{
    double scale = wl_scale(WL, argc, argv);
    long rounds = wl_scaled(scale, 40, 1);
    wl_rng r;
    wl_seed(&r, 0x4EA1u);
    uint64_t sum = 0, steps = 0;

    for (long round = 0; round < rounds; round++) {
        unsigned char *p[VECTORS];
        size_t n[VECTORS], target[VECTORS];
        int live = VECTORS;
        for (int v = 0; v < VECTORS; v++) {
            n[v] = 16;
            target[v] = wl_range(&r, (size_t)1 << 20, (size_t)4 << 20);
            p[v] = wl_xmalloc(WL, n[v]);
            memset(p[v], v + 1, n[v]);
        }
        while (live > 0) {
            for (int v = 0; v < VECTORS; v++) {
                if (n[v] >= target[v])
                    continue;
                size_t old = n[v], grow;
                if (v & 1)
                    grow = old / 2;
                else
                    grow = old / 16 + (size_t)(wl_next(&r) & 255) + 1;
                size_t nn = old + grow;
                if (nn > target[v])
                    nn = target[v];
                unsigned char *q = realloc(p[v], nn);
                if (!q)
                    wl_die(WL, "realloc returned NULL");
                if (q[0] != (unsigned char)(v + 1) || q[old - 1] != (unsigned char)(v + 1) ||
                    q[old / 2] != (unsigned char)(v + 1))
                    wl_die(WL, "realloc lost the old contents");
                memset(q + old, v + 1, nn - old);
                p[v] = q;
                n[v] = nn;
                steps++;
                if (nn >= target[v]) {
                    sum += nn + q[nn - 1];
                    live--;
                }
            }
        }
        for (int v = 0; v < VECTORS; v++)
            free(p[v]);
    }
    printf("ok checksum=%llu steps=%llu\n", (unsigned long long)sum, (unsigned long long)steps);
    return 0;
}
