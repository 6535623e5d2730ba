/* What rh-bench's files share: the workloads, the heaps and the results
 * (rh_bench.c), one run (rh_bench_run.c) and the tables (rh_bench_table.c). */
#ifndef RH_BENCH_H
#define RH_BENCH_H

/* ---- workloads and heaps (rh_bench.c) ---- */

#define NWL 11 /* the names below: their definition must have as many */
extern const char *const wl_names[NWL];

enum { H_GLIBC, H_REHEAP, H_MIMALLOC, H_JEMALLOC, H_TCMALLOC, NHEAP };

extern const char *const heap_names[NHEAP];
extern const char *heap_lib[NHEAP];

/* ---- results (rh_bench.c) ---- */

struct run {
    int done; /* attempted */
    int ok;
    double ms, rss_mib;
    double p50_us, p99_us, pair_ns; /* NAN when not reported */
};

extern struct run *runs; /* [rep][wl][heap] */
extern int nreps;
extern int wl_on[NWL], heap_on[NHEAP];
struct run *R(int rep, int w, int h);

/* ---- one run (rh_bench_run.c) ---- */

extern int nfail;
extern int nfail_own; /* of reheap or glibc: these fail the bench */
extern char fail_log[64][512];
double now_s(void);
void run_one(const char *exe, const char *scale, int timeout_s, int rep, int w, int h, struct run *out);

/* ---- tables (rh_bench_table.c) ---- */

enum field { F_MS, F_RSS, F_P50, F_P99, F_PAIR };

double med(int w, int h, enum field f);
double geomean_ratio(int h, int ref, enum field f);
void print_table(const char *title, enum field f, int ref, const char *unit_suffix, const char *fmt);
void print_target(const char *what, double v, double goal, const char *why_na);
void print_first_line(void);

#endif
