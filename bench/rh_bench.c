/* rh-bench: runs the rh-wl-* workloads under several heaps and compares.
 *
 * For each repetition, each workload, and each heap (heap order rotated per
 * repetition so the heaps interleave), fork+exec the workload with
 * LD_PRELOAD naming the heap's library (unset for glibc), measure wall time
 * around fork..wait4 and peak RSS from wait4's rusage, and check the exit
 * status and the "ok ..." line. Then print median tables, geomeans, frame
 * and pair results, and reheap's targets. Exits 1 if any run failed, 2 on a
 * bad command line.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rh_bench.h"

/* ---- workloads and heaps --------------------------------------------------- */

const char *const wl_names[] = {
    "churn", "larson", "xmalloc", "mstress", "waves", "cache-scratch",
    "realloc", "aligned", "large", "frame", "pair",
};

const char *const heap_names[NHEAP] = {"glibc", "reheap", "mimalloc", "jemalloc", "tcmalloc"};
const char *heap_lib[NHEAP] = {
    NULL, /* glibc: no preload */
    NULL, /* reheap: resolved at run time */
    "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
    "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
};

#define QUICK_SCALE "0.1"
#define FULL_TIMEOUT_S 600
#define QUICK_TIMEOUT_S 60

/* ---- results ------------------------------------------------------------------ */

struct run *runs; /* [rep][wl][heap] */
int nreps = 7;
int wl_on[NWL], heap_on[NHEAP];

struct run *R(int rep, int w, int h)
{
    return &runs[((size_t)rep * NWL + (size_t)w) * NHEAP + (size_t)h];
}

/* ---- small helpers ---------------------------------------------------------------- */

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "rh-bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (try --help)\n");
    return 2;
}

static void print_help(void)
{
    printf("usage: rh-bench [--quick] [--reps=N] [--only=WL,...] [--heaps=HEAP,...] [--scale=X] [--strict]\n"
           "\n"
           "Runs each workload (build/bin/rh-wl-*) under each heap via LD_PRELOAD and\n"
           "prints median wall time and peak RSS, ratios to glibc and mimalloc, and\n"
           "reheap's targets.\n"
           "\n"
           "  --quick       one repetition at a small scale (" QUICK_SCALE "); a smoke test (< 20 s)\n"
           "  --reps=N      repetitions (default 7; heaps interleaved, order rotated)\n"
           "  --only=LIST   workloads, comma separated (default all)\n"
           "  --heaps=LIST  heaps, comma separated (default all available)\n"
           "  --scale=X     workload scale (default 1; --quick uses " QUICK_SCALE ")\n"
           "  --strict      a requested heap whose library is missing is an error\n"
           "  --help        this text\n"
           "\n"
           "workloads:");
    for (int w = 0; w < NWL; w++)
        printf(" %s", wl_names[w]);
    printf("\nheaps:    ");
    for (int h = 0; h < NHEAP; h++)
        printf(" %s", heap_names[h]);
    printf("\nenvironment: REHEAP_LIB overrides the reheap library "
           "(default <exe dir>/../lib/libreheap.so)\n");
}

/* Parse a comma-separated list of names into on[]; returns 0 or the index+1
 * of nothing on error (prints). */
static int parse_list(const char *opt, const char *list, const char *const *names, int n, int *on)
{
    char buf[1024];
    if (strlen(list) >= sizeof buf || !*list)
        return usage_error("bad value for %s", opt);
    strcpy(buf, list);
    for (int i = 0; i < n; i++)
        on[i] = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int found = 0;
        for (int i = 0; i < n; i++) {
            if (strcmp(tok, names[i]) == 0) {
                on[i] = 1;
                found = 1;
            }
        }
        if (!found) {
            fprintf(stderr, "rh-bench: unknown name '%s' in %s (try --help)\n", tok, opt);
            return 2;
        }
    }
    return 0;
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    int quick = 0, strict = 0, reps_set = 0, heaps_set = 0;
    const char *scale = NULL;
    for (int w = 0; w < NWL; w++)
        wl_on[w] = 1;
    for (int h = 0; h < NHEAP; h++)
        heap_on[h] = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            print_help();
            return 0;
        } else if (strcmp(a, "--quick") == 0) {
            quick = 1;
        } else if (strcmp(a, "--strict") == 0) {
            strict = 1;
        } else if (strncmp(a, "--reps=", 7) == 0) {
            char *end;
            errno = 0;
            long v = strtol(a + 7, &end, 10);
            if (errno || end == a + 7 || *end || v < 1 || v > 1000)
                return usage_error("bad --reps value '%s' (want 1..1000)", a + 7);
            nreps = (int)v;
            reps_set = 1;
        } else if (strncmp(a, "--scale=", 8) == 0) {
            char *end;
            errno = 0;
            double v = strtod(a + 8, &end);
            if (errno || end == a + 8 || *end || !(v > 0) || v > 1e6)
                return usage_error("bad --scale value '%s' (want a positive number)", a + 8);
            scale = a + 8;
        } else if (strncmp(a, "--only=", 7) == 0) {
            if (parse_list("--only", a + 7, wl_names, NWL, wl_on))
                return 2;
        } else if (strncmp(a, "--heaps=", 8) == 0) {
            if (parse_list("--heaps", a + 8, heap_names, NHEAP, heap_on))
                return 2;
            heaps_set = 1;
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (quick && !reps_set)
        nreps = 1;
    if (!scale)
        scale = quick ? QUICK_SCALE : "1";
    int timeout_s = quick ? QUICK_TIMEOUT_S : FULL_TIMEOUT_S;

    /* Where we live: workloads are next to us, reheap in ../lib. */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        fprintf(stderr, "rh-bench: readlink /proc/self/exe: %s\n", strerror(errno));
        return 1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    const char *dir = exe;
    static char reheap_path[PATH_MAX + 32];
    const char *env_lib = getenv("REHEAP_LIB");
    if (env_lib && *env_lib)
        snprintf(reheap_path, sizeof reheap_path, "%s", env_lib);
    else
        snprintf(reheap_path, sizeof reheap_path, "%s/../lib/libreheap.so", dir);
    heap_lib[H_REHEAP] = reheap_path;

    print_first_line();

    int missing_required = 0;
    for (int h = 0; h < NHEAP; h++) {
        if (!heap_on[h] || !heap_lib[h])
            continue;
        if (access(heap_lib[h], R_OK) != 0) {
            printf("note: heap %s skipped: library %s not found%s\n", heap_names[h], heap_lib[h],
                   h == H_REHEAP ? " (build target reheap_preload, or set REHEAP_LIB)" : "");
            if (strict && heaps_set) {
                fprintf(stderr, "rh-bench: --strict: required heap %s is missing (%s)\n", heap_names[h],
                        heap_lib[h]);
                missing_required = 1;
            }
            heap_on[h] = 0;
        }
    }
    if (missing_required)
        return 1;

    static char wl_path[NWL][PATH_MAX + 32];
    for (int w = 0; w < NWL; w++) {
        snprintf(wl_path[w], sizeof wl_path[w], "%s/rh-wl-%s", dir, wl_names[w]);
        if (wl_on[w] && access(wl_path[w], X_OK) != 0) {
            fprintf(stderr, "rh-bench: workload %s not found at %s\n", wl_names[w], wl_path[w]);
            return 1;
        }
    }

    int order[NHEAP], nh = 0, nw = 0;
    for (int h = 0; h < NHEAP; h++)
        if (heap_on[h])
            order[nh++] = h;
    for (int w = 0; w < NWL; w++)
        nw += wl_on[w];
    if (nh == 0) {
        fprintf(stderr, "rh-bench: no heap to run\n");
        return 1;
    }
    printf("reps %d | scale %s | heaps:", nreps, scale);
    for (int i = 0; i < nh; i++)
        printf(" %s", heap_names[order[i]]);
    printf(" | workloads: %d\n", nw);
    fflush(stdout);

    runs = calloc((size_t)nreps * NWL * NHEAP, sizeof *runs);
    if (!runs) {
        fprintf(stderr, "rh-bench: out of memory\n");
        return 1;
    }
    double start = now_s();
    for (int rep = 0; rep < nreps; rep++) {
        for (int w = 0; w < NWL; w++) {
            if (!wl_on[w])
                continue;
            char prog[512];
            int pl = snprintf(prog, sizeof prog, "[rep %d/%d] %-14s", rep + 1, nreps, wl_names[w]);
            for (int i = 0; i < nh; i++) {
                int h = order[(i + rep) % nh];
                struct run *r = R(rep, w, h);
                run_one(wl_path[w], scale, timeout_s, rep, w, h, r);
                if (pl > 0 && (size_t)pl < sizeof prog) {
                    if (r->ok)
                        pl += snprintf(prog + pl, sizeof prog - (size_t)pl, " %s %.0fms", heap_names[h], r->ms);
                    else
                        pl += snprintf(prog + pl, sizeof prog - (size_t)pl, " %s FAIL", heap_names[h]);
                }
            }
            fprintf(stderr, "%s\n", prog);
        }
    }
    double total = now_s() - start;

    int have_g = heap_on[H_GLIBC], have_m = heap_on[H_MIMALLOC];
    printf("\n## Results (median of %d; time = wall ms of the whole process, RSS = peak MiB)\n", nreps);
    printf("\n'-' = no successful run; a geomean uses the workloads where both heaps succeeded.\n");
    print_table("Time (ms)", F_MS, -1, " ms", "%.1f");
    if (have_g)
        print_table("Time ratio to glibc (lower is better)", F_MS, H_GLIBC, " /g", "%.2f");
    if (have_m)
        print_table("Time ratio to mimalloc (lower is better)", F_MS, H_MIMALLOC, " /mi", "%.2f");
    print_table("Peak RSS (MiB)", F_RSS, -1, " MiB", "%.1f");
    if (have_g)
        print_table("Peak RSS ratio to glibc (lower is better)", F_RSS, H_GLIBC, " /g", "%.2f");
    if (have_m)
        print_table("Peak RSS ratio to mimalloc (lower is better)", F_RSS, H_MIMALLOC, " /mi", "%.2f");

    int fw = -1, pw = -1;
    for (int w = 0; w < NWL; w++) {
        if (strcmp(wl_names[w], "frame") == 0)
            fw = w;
        if (strcmp(wl_names[w], "pair") == 0)
            pw = w;
    }
    if (fw >= 0 && wl_on[fw]) {
        printf("\n### frame: frame time (us, median over reps)\n\n");
        printf("| %-10s | %10s | %10s |\n|------------|-----------:|-----------:|\n", "heap", "p50 us", "p99 us");
        for (int i = 0; i < NHEAP; i++) {
            if (!heap_on[i])
                continue;
            printf("| %-10s |", heap_names[i]);
            double p50 = med(fw, i, F_P50), p99 = med(fw, i, F_P99);
            char a[32], b[32];
            snprintf(a, sizeof a, isnan(p50) ? "-" : "%.1f", p50);
            snprintf(b, sizeof b, isnan(p99) ? "-" : "%.1f", p99);
            printf(" %10s | %10s |\n", a, b);
        }
    }
    if (pw >= 0 && wl_on[pw]) {
        printf("\n### pair: malloc+free pair (ns, median over reps)\n\n");
        printf("| %-10s | %10s | %10s |\n|------------|-----------:|-----------:|\n", "heap", "pair ns",
               "x mimalloc");
        double mref = have_m ? med(pw, H_MIMALLOC, F_PAIR) : NAN;
        for (int i = 0; i < NHEAP; i++) {
            if (!heap_on[i])
                continue;
            double v = med(pw, i, F_PAIR);
            double ratio = (isnan(v) || isnan(mref) || mref <= 0) ? NAN : v / mref;
            char a[32], b[32];
            snprintf(a, sizeof a, isnan(v) ? "-" : "%.2f", v);
            snprintf(b, sizeof b, isnan(ratio) ? "-" : "%.2f", ratio);
            printf("| %-10s | %10s | %10s |\n", heap_names[i], a, b);
        }
    }

    printf("\n### Targets (reheap)\n\n");
    if (!heap_on[H_REHEAP]) {
        printf("reheap was not measured (not selected or library missing).\n");
    } else {
        printf("| %-32s | %8s | %7s | %-22s |\n", "target", "measured", "goal", "status");
        printf("|----------------------------------|---------:|--------:|------------------------|\n");
        print_target("geomean time / glibc", have_g ? geomean_ratio(H_REHEAP, H_GLIBC, F_MS) : NAN, 0.65,
                     have_g ? "n/a (no data)" : "n/a (glibc not run)");
        print_target("geomean time / mimalloc", have_m ? geomean_ratio(H_REHEAP, H_MIMALLOC, F_MS) : NAN, 0.95,
                     have_m ? "n/a (no data)" : "n/a (mimalloc not run)");
        print_target("geomean peak RSS / glibc", have_g ? geomean_ratio(H_REHEAP, H_GLIBC, F_RSS) : NAN, 1.00,
                     have_g ? "n/a (no data)" : "n/a (glibc not run)");
        print_target("geomean peak RSS / mimalloc", have_m ? geomean_ratio(H_REHEAP, H_MIMALLOC, F_RSS) : NAN, 0.90,
                     have_m ? "n/a (no data)" : "n/a (mimalloc not run)");
        /* the slowest workload against glibc, named */
        double worst = NAN;
        int worst_w = -1;
        for (int w = 0; have_g && w < NWL; w++) {
            if (!wl_on[w])
                continue;
            double a = med(w, H_REHEAP, F_MS), b = med(w, H_GLIBC, F_MS);
            if (!isnan(a) && !isnan(b) && b > 0 && (isnan(worst) || a / b > worst)) {
                worst = a / b;
                worst_w = w;
            }
        }
        char what[64];
        snprintf(what, sizeof what, "slowest / glibc: %s", worst_w >= 0 ? wl_names[worst_w] : "-");
        print_target(what, worst, 1.20, have_g ? "n/a (no data)" : "n/a (glibc not run)");
        double pr = NAN;
        if (have_m && pw >= 0 && wl_on[pw]) {
            double a = med(pw, H_REHEAP, F_PAIR), b = med(pw, H_MIMALLOC, F_PAIR);
            if (!isnan(a) && !isnan(b) && b > 0)
                pr = a / b;
        }
        print_target("pair ns / mimalloc", pr, 1.20,
                     !have_m ? "n/a (mimalloc not run)" : (pw >= 0 && wl_on[pw]) ? "n/a (no data)" : "n/a (pair not run)");
    }

    printf("\nTotal bench time: %.1f s\n", total);
    if (nfail) {
        printf("\nFAILED RUNS: %d\n", nfail);
        int shown = nfail < (int)(sizeof fail_log / sizeof fail_log[0]) ? nfail : (int)(sizeof fail_log / sizeof fail_log[0]);
        for (int i = 0; i < shown; i++)
            printf("- %s\n", fail_log[i]);
        if (nfail_own)
            return 1;
        printf("(only comparison heaps failed: their cells are left empty)\n");
    }
    return 0;
}
