/* rh-bench: one run of a workload under a heap (fork+exec with the heap's
 * LD_PRELOAD, its output drained, its exit and "ok ..." line checked), and
 * the log of the runs that failed. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rh_bench.h"

int nfail;
/* Failures of reheap or glibc fail the run; a comparison heap's own bug
 * (Debian's mimalloc 2.0.9 misaligns aligned_alloc(512, 512), upstream
 * issue #700) is reported and its cells left empty, but is not ours. */
int nfail_own;
char fail_log[64][512];

double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
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

void run_one(const char *exe, const char *scale, int timeout_s, int rep, int w, int h, struct run *out)
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
