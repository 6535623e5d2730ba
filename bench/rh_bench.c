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
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- workloads and heaps --------------------------------------------------- */

static const char *const wl_names[] = {
    "churn", "larson", "xmalloc", "mstress", "cache-scratch",
    "realloc", "aligned", "large", "frame", "pair",
};
#define NWL ((int)(sizeof wl_names / sizeof wl_names[0]))

enum { H_GLIBC, H_REHEAP, H_MIMALLOC, H_JEMALLOC, H_TCMALLOC, NHEAP };

static const char *const heap_names[NHEAP] = {"glibc", "reheap", "mimalloc", "jemalloc", "tcmalloc"};
static const char *heap_lib[NHEAP] = {
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

struct run {
    int done; /* attempted */
    int ok;
    double ms, rss_mib;
    double p50_us, p99_us, pair_ns; /* NAN when not reported */
};

static struct run *runs; /* [rep][wl][heap] */
static int nreps = 7;
static int wl_on[NWL], heap_on[NHEAP];
static int nfail;
/* Failures of reheap or glibc fail the run; a comparison heap's own bug
 * (Debian's mimalloc 2.0.9 misaligns aligned_alloc(512, 512), upstream
 * issue #700) is reported and its cells left empty, but is not ours. */
static int nfail_own;
static char fail_log[64][512];

static struct run *R(int rep, int w, int h)
{
    return &runs[((size_t)rep * NWL + (size_t)w) * NHEAP + (size_t)h];
}

/* ---- small helpers ---------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

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

enum field { F_MS, F_RSS, F_P50, F_P99, F_PAIR };

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
static double med(int w, int h, enum field f)
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

/* ---- one run ----------------------------------------------------------------------- */

static void record_failure(const char *fmt, const char *wl, const char *heap, int rep, const char *detail)
{
    char line[512];
    snprintf(line, sizeof line, fmt, wl, heap, rep + 1, detail);
    fprintf(stderr, "  rh-bench: FAIL: %s\n", line);
    if (strcmp(heap, "reheap") == 0 || strcmp(heap, "glibc") == 0)
        nfail_own++;
    if (nfail < (int)(sizeof fail_log / sizeof fail_log[0]))
        snprintf(fail_log[nfail], sizeof fail_log[nfail], "%s", line);
    nfail++;
}

/* Value of "key=" in line, or NAN. */
static double get_field(const char *line, const char *key)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strstr(p, key)) != NULL; p += kl) {
        if ((p == line || p[-1] == ' ') && p[kl] == '=') {
            char *end;
            double v = strtod(p + kl + 1, &end);
            if (end != p + kl + 1)
                return v;
        }
    }
    return NAN;
}

/* Read the child's stdout and stderr until both close. stdout is kept (its
 * first 4 KiB) in out; stderr is echoed to our stderr and its last line kept
 * in last_err. */
static void keep_line(char *dst, size_t dstsz, const char *src, size_t len)
{
    if (len > dstsz - 1)
        len = dstsz - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static void drain(int ofd, int efd, char *out, size_t outsz, char *last_err, size_t errsz, const char *tag)
{
    size_t olen = 0;
    char eline[512];
    size_t elen = 0;
    out[0] = '\0';
    last_err[0] = '\0';
    struct pollfd pf[2] = {{ofd, POLLIN, 0}, {efd, POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            if (pf[i].fd < 0 || !(pf[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            char tmp[4096];
            ssize_t n = read(pf[i].fd, tmp, sizeof tmp);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                pf[i].fd = -1;
                open_fds--;
                continue;
            }
            if (i == 0) {
                size_t take = (size_t)n;
                if (take > outsz - 1 - olen)
                    take = outsz - 1 - olen;
                memcpy(out + olen, tmp, take);
                olen += take;
                out[olen] = '\0';
            } else {
                for (ssize_t k = 0; k < n; k++) {
                    if (tmp[k] == '\n') {
                        if (elen > 0) {
                            keep_line(last_err, errsz, eline, elen);
                            fprintf(stderr, "  (%s stderr) %s\n", tag, last_err);
                        }
                        elen = 0;
                    } else if (elen < sizeof eline - 1) {
                        eline[elen++] = tmp[k];
                    }
                }
            }
        }
    }
    if (elen > 0) {
        keep_line(last_err, errsz, eline, elen);
        fprintf(stderr, "  (%s stderr) %s\n", tag, last_err);
    }
}

static void run_one(const char *exe, const char *scale, int timeout_s, int rep, int w, int h, struct run *out)
{
    const char *wl = wl_names[w], *heap = heap_names[h];
    int ofd[2], efd[2];
    memset(out, 0, sizeof *out);
    out->done = 1;
    out->p50_us = out->p99_us = out->pair_ns = NAN;
    if (pipe(ofd) != 0) {
        record_failure("%s on %s (rep %d): pipe: %s", wl, heap, rep, strerror(errno));
        return;
    }
    if (pipe(efd) != 0) {
        close(ofd[0]);
        close(ofd[1]);
        record_failure("%s on %s (rep %d): pipe: %s", wl, heap, rep, strerror(errno));
        return;
    }
    fflush(stdout);
    fflush(stderr);
    double t0 = now_s();
    pid_t pid = fork();
    if (pid < 0) {
        close(ofd[0]);
        close(ofd[1]);
        close(efd[0]);
        close(efd[1]);
        record_failure("%s on %s (rep %d): fork: %s", wl, heap, rep, strerror(errno));
        return;
    }
    if (pid == 0) {
        close(ofd[0]);
        close(efd[0]);
        if (dup2(ofd[1], STDOUT_FILENO) < 0 || dup2(efd[1], STDERR_FILENO) < 0)
            _exit(126);
        close(ofd[1]);
        close(efd[1]);
        if (heap_lib[h])
            setenv("LD_PRELOAD", heap_lib[h], 1);
        else
            unsetenv("LD_PRELOAD");
        alarm((unsigned)timeout_s); /* survives exec: a hung workload dies of SIGALRM */
        char *argv[] = {(char *)exe, (char *)scale, NULL};
        execv(exe, argv);
        fprintf(stderr, "rh-bench: exec %s: %s\n", exe, strerror(errno));
        _exit(127);
    }
    close(ofd[1]);
    close(efd[1]);
    char buf[4096], last_err[200], tag[64];
    snprintf(tag, sizeof tag, "%s/%s", wl, heap);
    drain(ofd[0], efd[0], buf, sizeof buf, last_err, sizeof last_err, tag);
    close(ofd[0]);
    close(efd[0]);
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    pid_t got;
    do
        got = wait4(pid, &status, 0, &ru);
    while (got < 0 && errno == EINTR);
    double t1 = now_s();
    if (got < 0) {
        record_failure("%s on %s (rep %d): wait4: %s", wl, heap, rep, strerror(errno));
        return;
    }

    char *nl = strchr(buf, '\n');
    if (nl)
        *nl = '\0';
    char detail[400];
    if (WIFSIGNALED(status)) {
        int sig = WTERMSIG(status);
        snprintf(detail, sizeof detail, "killed by signal %d (%s)%s%s%s", sig, strsignal(sig),
                 sig == SIGALRM ? ", timed out" : "", last_err[0] ? ": " : "", last_err);
        record_failure("%s on %s (rep %d): %s", wl, heap, rep, detail);
        return;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(detail, sizeof detail, "exit status %d%s%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                 last_err[0] ? ": " : "", last_err);
        record_failure("%s on %s (rep %d): %s", wl, heap, rep, detail);
        return;
    }
    if (strncmp(buf, "ok", 2) != 0 || (buf[2] != '\0' && buf[2] != ' ')) {
        snprintf(detail, sizeof detail, "no 'ok' line in output (got \"%.100s\")", buf);
        record_failure("%s on %s (rep %d): %s", wl, heap, rep, detail);
        return;
    }
    out->ms = (t1 - t0) * 1000.0;
    out->rss_mib = (double)ru.ru_maxrss / 1024.0;
    out->p50_us = get_field(buf, "p50_us");
    out->p99_us = get_field(buf, "p99_us");
    out->pair_ns = get_field(buf, "pair_ns");
    if (strcmp(wl, "frame") == 0 && (isnan(out->p50_us) || isnan(out->p99_us))) {
        record_failure("%s on %s (rep %d): %s", wl, heap, rep, "missing p50_us/p99_us");
        return;
    }
    if (strcmp(wl, "pair") == 0 && isnan(out->pair_ns)) {
        record_failure("%s on %s (rep %d): %s", wl, heap, rep, "missing pair_ns");
        return;
    }
    out->ok = 1;
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
static double geomean_ratio(int h, int ref, enum field f)
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
static void print_table(const char *title, enum field f, int ref, const char *unit_suffix, const char *fmt)
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

static void print_target(const char *what, double v, double goal, const char *why_na)
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

static void print_first_line(void)
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
        print_target("geomean time / glibc", have_g ? geomean_ratio(H_REHEAP, H_GLIBC, F_MS) : NAN, 0.70,
                     have_g ? "n/a (no data)" : "n/a (glibc not run)");
        print_target("geomean time / mimalloc", have_m ? geomean_ratio(H_REHEAP, H_MIMALLOC, F_MS) : NAN, 1.00,
                     have_m ? "n/a (no data)" : "n/a (mimalloc not run)");
        print_target("geomean peak RSS / glibc", have_g ? geomean_ratio(H_REHEAP, H_GLIBC, F_RSS) : NAN, 1.10,
                     have_g ? "n/a (no data)" : "n/a (glibc not run)");
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
