/* Shared helpers for the rh-wl-* benchmark workloads.
 *
 * Every workload uses only the standard allocation calls (malloc, free,
 * realloc, aligned_alloc, posix_memalign); the heap under test is swapped in
 * by LD_PRELOAD. Helpers here: a fixed-seed xorshift64 PRNG, the scale
 * argument, a monotonic clock, and "tagged blocks" that are written when
 * allocated and verified before being freed, so the memory is really touched
 * (RSS is real) and a heap that corrupts data is caught.
 */
#ifndef RH_WL_COMMON_H
#define RH_WL_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WL_PAGE 4096u

/* ---- PRNG: xorshift64, seeded through a splitmix64 step ---------------- */

typedef struct {
    uint64_t s;
} wl_rng;

static inline void wl_seed(wl_rng *r, uint64_t seed)
{
    uint64_t z = seed + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545F4914F6CDD1Dull;
}

static inline uint64_t wl_next(wl_rng *r)
{
    uint64_t x = r->s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    r->s = x;
    return x;
}

/* Uniform in [lo, hi] (inclusive). */
static inline size_t wl_range(wl_rng *r, size_t lo, size_t hi)
{
    return lo + (size_t)(wl_next(r) % (uint64_t)(hi - lo + 1));
}

/* Roughly log-uniform in [lo, hi): pick a power-of-two band, then a point in
 * it. lo and hi should be powers of two. */
static inline size_t wl_logrange(wl_rng *r, size_t lo, size_t hi)
{
    unsigned elo = 0, ehi = 0;
    while (((size_t)1 << elo) < lo)
        elo++;
    while (((size_t)1 << ehi) < hi)
        ehi++;
    unsigned e = elo + (unsigned)(wl_next(r) % (ehi - elo));
    size_t base = (size_t)1 << e;
    return base + (size_t)(wl_next(r) % base);
}

/* ---- errors ------------------------------------------------------------- */

static inline void wl_die(const char *wl, const char *what)
{
    fprintf(stderr, "rh-wl-%s: FAILED: %s\n", wl, what);
    fflush(stderr);
    exit(1);
}

static inline void *wl_xmalloc(const char *wl, size_t n)
{
    void *p = malloc(n);
    if (!p)
        wl_die(wl, "malloc returned NULL");
    return p;
}

/* ---- scale argument ------------------------------------------------------ */

/* argv[1], if present, is the scale: 1 = full run; the driver passes a
 * smaller (fractional, e.g. 0.05) value in quick mode. Integers > 1 make the
 * run proportionally longer. */
static inline double wl_scale(const char *wl, int argc, char **argv)
{
    if (argc < 2)
        return 1.0;
    if (argc > 2)
        wl_die(wl, "usage: rh-wl-<name> [scale]");
    char *end = NULL;
    errno = 0;
    double s = strtod(argv[1], &end);
    if (errno || end == argv[1] || *end != '\0' || !(s > 0.0) || s > 1e6) {
        fprintf(stderr, "rh-wl-%s: bad scale '%s' (want a positive number)\n", wl, argv[1]);
        exit(2);
    }
    return s;
}

/* base * scale, at least lo. */
static inline long wl_scaled(double scale, long base, long lo)
{
    double v = (double)base * scale;
    if (v < (double)lo)
        return lo;
    return (long)v;
}

/* ---- time ----------------------------------------------------------------- */

static inline uint64_t wl_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- tagged blocks ---------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n;
    unsigned char tag;
} wl_block;

/* Write the first bytes (up to 64), one byte in every page, and the last
 * byte of [p, p+n) with tag. */
static inline void wl_fill(unsigned char *p, size_t n, unsigned char tag)
{
    memset(p, tag, n < 64 ? n : 64);
    for (size_t off = WL_PAGE; off < n; off += WL_PAGE)
        p[off] = tag;
    p[n - 1] = tag;
}

/* Verify what wl_fill wrote; returns a small checksum contribution. */
static inline uint64_t wl_verify(const char *wl, const unsigned char *p, size_t n, unsigned char tag)
{
    size_t head = n < 64 ? n : 64;
    if (p[0] != tag || p[head - 1] != tag || p[n - 1] != tag)
        wl_die(wl, "block contents corrupted");
    if (n > WL_PAGE && p[WL_PAGE] != tag)
        wl_die(wl, "block contents corrupted (page)");
    return (uint64_t)tag + (uint64_t)n;
}

static inline void wl_block_new(const char *wl, wl_block *b, size_t n, unsigned char tag)
{
    b->p = wl_xmalloc(wl, n);
    b->n = n;
    b->tag = tag;
    wl_fill(b->p, n, tag);
}

/* Verify and free; returns the checksum contribution. */
static inline uint64_t wl_block_free(const char *wl, wl_block *b)
{
    uint64_t c = 0;
    if (b->p) {
        c = wl_verify(wl, b->p, b->n, b->tag);
        free(b->p);
    }
    b->p = NULL;
    b->n = 0;
    return c;
}

#endif /* RH_WL_COMMON_H */
