/* rh-bench: the results as tables: medians over the repetitions, ratios
 * to a reference heap with their geomeans, and reheap's targets. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rh_bench.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return NAN;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double field_of(const struct run *r, enum field f)
{
    switch (f) {
    case F_MS: return r->ms;
    case F_RSS: return r->rss_mib;
    case F_P50: return r->p50_us;
    case F_P99: return r->p99_us;
    case F_PAIR: return r->pair_ns;
    }
    return NAN;
}

/* Median of a field over the successful repetitions; NAN if none. */
double med(int w, int h, enum field f)
{
    double v[nreps > 0 ? nreps : 1];
    int n = 0;
    for (int rep = 0; rep < nreps; rep++) {
        const struct run *r = R(rep, w, h);
        double x = field_of(r, f);
        if (r->ok && !isnan(x))
            v[n++] = x;
    }
    return median(v, n);
}

/* ---- output ------------------------------------------------------------------------- */

#define COL0 15
#define COLW 9

static void print_header(const char *first, const char *suffix)
{
    printf("| %-*s |", COL0, first);
    for (int h = 0; h < NHEAP; h++) {
        if (!heap_on[h])
            continue;
        char c[64];
        snprintf(c, sizeof c, "%s%s", heap_names[h], suffix);
        printf(" %*s |", COLW + 3, c);
    }
    printf("\n|-");
    for (int i = 0; i < COL0; i++)
        putchar('-');
    printf("-|");
    for (int h = 0; h < NHEAP; h++) {
        if (!heap_on[h])
            continue;
        putchar('-');
        for (int i = 0; i < COLW + 3; i++)
            putchar('-');
        printf(":|");
    }
    putchar('\n');
}

static void print_cell(double v, const char *fmt)
{
    char c[64];
    if (isnan(v))
        snprintf(c, sizeof c, "-");
    else
        snprintf(c, sizeof c, fmt, v);
    printf(" %*s |", COLW + 3, c);
}

/* Geomean over enabled workloads of med(w,h)/med(w,ref); NAN if none. */
double geomean_ratio(int h, int ref, enum field f)
{
    double s = 0;
    int n = 0;
    for (int w = 0; w < NWL; w++) {
        if (!wl_on[w])
            continue;
        double a = med(w, h, f), b = med(w, ref, f);
        if (isnan(a) || isnan(b) || a <= 0 || b <= 0)
            continue;
        s += log(a / b);
        n++;
    }
    return n ? exp(s / n) : NAN;
}

/* A table of medians, or of ratios to ref (ref >= 0), with a geomean row. */
void print_table(const char *title, enum field f, int ref, const char *unit_suffix, const char *fmt)
{
    printf("\n### %s\n\n", title);
    print_header("workload", unit_suffix);
    for (int w = 0; w < NWL; w++) {
        if (!wl_on[w])
            continue;
        printf("| %-*s |", COL0, wl_names[w]);
        for (int h = 0; h < NHEAP; h++) {
            if (!heap_on[h])
                continue;
            double v = med(w, h, f);
            if (ref >= 0) {
                double b = med(w, ref, f);
                v = (isnan(v) || isnan(b) || b <= 0) ? NAN : v / b;
            }
            print_cell(v, fmt);
        }
        putchar('\n');
    }
    if (ref >= 0) {
        printf("| %-*s |", COL0, "geomean");
        for (int h = 0; h < NHEAP; h++)
            if (heap_on[h])
                print_cell(geomean_ratio(h, ref, f), fmt);
        putchar('\n');
    }
}

void print_target(const char *what, double v, double goal, const char *why_na)
{
    char m[32];
    const char *status;
    if (isnan(v)) {
        snprintf(m, sizeof m, "n/a");
        status = why_na;
    } else {
        snprintf(m, sizeof m, "%.2f", v);
        status = v <= goal ? "met" : "MISSED";
    }
    char g[32];
    snprintf(g, sizeof g, "<= %.2f", goal);
    printf("| %-32s | %8s | %7s | %-22s |\n", what, m, g, status);
}

void print_first_line(void)
{
    char date[64] = "?";
    time_t t = time(NULL);
    struct tm tm;
    if (localtime_r(&t, &tm))
        strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S %Z", &tm);
    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *c = strchr(line, ':');
                if (c) {
                    c++;
                    while (*c == ' ' || *c == '\t')
                        c++;
                    c[strcspn(c, "\n")] = '\0';
                    snprintf(cpu, sizeof cpu, "%s", c);
                }
                break;
            }
        }
        fclose(f);
    }
    printf("rh-bench %s | nproc %ld | CPU: %s\n", date, sysconf(_SC_NPROCESSORS_ONLN), cpu);
}
