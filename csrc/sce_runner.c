/* sce_runner.c -- how a pass is split into pieces for threads, and the interrupt check between pieces.
 *
 * Both runners make their results independent of the thread count: the pieces and the order their
 * partial sums are added in follow from the problem alone (its size, work per row, accumulator
 * length), and threads only decide who computes which piece. */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, sched_yield */
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <windows.h>
#else
#include <sched.h>
#include <time.h>
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

#include "sce_internal.h"

int sce_has_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

const char *sce_simd_path(void)
{
#ifdef SCE_X86_DISPATCH
#ifndef SCE_NO_X86_64_V4
    if (__builtin_cpu_supports("x86-64-v4"))
        return "x86-64-v4 (AVX-512)";
#endif
    if (__builtin_cpu_supports("x86-64-v3"))
        return "x86-64-v3 (AVX2+FMA)";
    return "x86-64 baseline (SSE2)";
#else
    return "compiler default";
#endif
}

int sce_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* ---- interrupts -------------------------------------------------------------------------------- */

static sce_interrupt_fn sce_hook = NULL;

void sce_set_interrupt_hook(sce_interrupt_fn hook)
{
    sce_hook = hook;
}

/* The calling thread asks the hook at most this often (the hook of _core takes Python's GIL): a
 * Ctrl-C stops a pass within this time plus one piece of work. */
#define SCE_POLL_SECONDS 0.05

/* Seconds on a monotonic clock (a vDSO call on Linux: cheap enough to read between pieces). */
static double sce_now(void)
{
#ifdef _WIN32
    return (double)GetTickCount64() * 1e-3;
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
#endif
}


/* What the threads of one pass share about stopping. */
typedef struct {
    double next; /* when the calling thread asks the hook next */
    int stop;    /* 0, or the SCE_ERR_* that makes every thread stop at its next piece */
} sce_pass;

static void sce_pass_init(sce_pass *pass)
{
    pass->stop = SCE_OK;
    pass->next = sce_hook != NULL ? sce_now() + SCE_POLL_SECONDS : 0.0;
}

static int sce_stopped(const sce_pass *pass)
{
    int s;
#ifdef _OPENMP
#pragma omp atomic read
#endif
    s = pass->stop;
    return s;
}

static void sce_set_stop(sce_pass *pass, int code)
{
    (void)code; /* GCC 12 wrongly reports it unused under an atomic write */
#ifdef _OPENMP
#pragma omp atomic write
#endif
    pass->stop = code;
}

/* Called by the calling thread only (the hook may run Python code): asks the hook when its time has
 * come and stops the pass on a nonzero answer.  Returns nonzero when the pass is to stop. */
static int sce_poll(sce_pass *pass)
{
    if (sce_hook == NULL)
        return 0;
    const double now = sce_now();
    if (now < pass->next)
        return 0;
    pass->next = now + SCE_POLL_SECONDS;
    if (sce_hook() == 0)
        return 0;
    sce_set_stop(pass, SCE_ERR_INTERRUPTED);
    return 1;
}

/* ---- elementwise passes ------------------------------------------------------------------------ */

int sce_run_chunks(sce_chunk_fn fn, const void *ctx, sce_int n, sce_int chunk, int n_threads, int *bad,
                   double *total)
{
    const sce_int n_chunks = n > 0 ? (n + chunk - 1) / chunk : 0;
    double sum = 0.0;
    int flags = 0;
    sce_pass pass;
    sce_pass_init(&pass);
#ifdef _OPENMP
    if (n_threads > 1 && n_chunks > 1) {
        double *partials = (double *)malloc((size_t)n_chunks * sizeof(double));
        if (partials == NULL)
            return SCE_ERR_NOMEM;
        const int nt = (sce_int)n_threads < n_chunks ? n_threads : (int)n_chunks;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(| : flags)
        for (sce_int c = 0; c < n_chunks; c++) {
            double p = 0.0;
            if (!sce_stopped(&pass) && !(omp_get_thread_num() == 0 && sce_poll(&pass))) {
                const sce_int stop = (c + 1) * chunk < n ? (c + 1) * chunk : n;
                flags |= fn(ctx, c * chunk, stop, &p);
            }
            partials[c] = p;
        }
        for (sce_int c = 0; c < n_chunks; c++)
            sum += partials[c];
        free(partials);
    } else
#endif
    {
        (void)n_threads;
        for (sce_int c = 0; c < n_chunks && !sce_poll(&pass); c++) {
            double p = 0.0;
            const sce_int stop = (c + 1) * chunk < n ? (c + 1) * chunk : n;
            flags |= fn(ctx, c * chunk, stop, &p);
            sum += p;
        }
    }
    if (pass.stop != SCE_OK)
        return pass.stop;
    if (bad)
        *bad |= flags;
    *total = sum;
    return SCE_OK;
}

/* ---- row passes -------------------------------------------------------------------------------- */

/* Partitions of a row pass: each sums into a vector of its own, and the vectors are added in
 * partition order.  At most SCE_MAX_PARTS, so that threads can balance (one slowed by another
 * process on its core takes fewer); at least SCE_PART_MIN_WORK multiply-adds each, below which
 * starting a piece costs more than it saves; the P m elements of the vectors at most
 * 1/SCE_REDUCE_SHARE of the work (an element of a vector is zeroed, missed in cache, and added: it
 * costs several multiply-adds, and with CSR X wide vectors made a pass slower on one thread), but
 * two always (on two or more cores two halves pay for one extra vector); the extra vectors within
 * SCE_PART_MAX_BYTES; a power of two. */
#define SCE_MAX_PARTS 16
#define SCE_PART_MIN_WORK 65536.0
#define SCE_REDUCE_SHARE 32.0
#define SCE_PART_MAX_BYTES 8388608.0
/* Multiply-adds of a piece, between two interrupt checks: little work against the SCE_POLL_SECONDS
 * between questions to the hook, much against the clock read that gates them. */
#define SCE_PIECE_WORK 1048576.0
#define SCE_LINE 64

static int sce_partitions(sce_int n, double work_per_row, sce_int m)
{
    const double work = (double)n * work_per_row, mm = m > 0 ? (double)m : 1.0;
    double p = work / SCE_PART_MIN_WORK;
    double by_reduction = work / (SCE_REDUCE_SHARE * mm);
    by_reduction = by_reduction > 2.0 ? by_reduction : 2.0; /* two halves always pay on 2+ cores */
    const double by_memory = 1.0 + SCE_PART_MAX_BYTES / ((double)sizeof(double) * mm);
    p = p < by_reduction ? p : by_reduction;
    p = p < by_memory ? p : by_memory;
    p = p < (double)SCE_MAX_PARTS ? p : (double)SCE_MAX_PARTS;
    p = p < (double)n ? p : (double)n;
    /* a power of two, so that 2, 4, 8 or 16 threads get equal shares */
    int parts = 1;
    while (2.0 * parts <= p) /* false for a NaN estimate */
        parts *= 2;
    return parts;
}

/* Rows per piece of a partition: a multiple of the GLM passes' largest block, or of four rows (the
 * groups of the dense kernels). */
static sce_int sce_piece_rows(double work_per_row)
{
    const double r = SCE_PIECE_WORK / (work_per_row > 1.0 ? work_per_row : 1.0);
    sce_int rows = r < 1.0 ? 1 : (sce_int)r; /* r <= 2^20 */
    if (rows >= SCE_GLM_MAX_BLOCK)
        rows -= rows % SCE_GLM_MAX_BLOCK;
    else if (rows >= 4)
        rows -= rows % 4;
    return rows;
}

/* Rows [r0, r1) piece by piece into acc; the pieces' losses added in order into *loss.  The calling
 * thread asks the hook between pieces; every thread stops at the next piece once the pass stops. */
static void sce_run_partition(sce_rows_fn fn, const void *ctx, sce_int r0, sce_int r1, sce_int piece,
                              double *acc, double *loss, sce_pass *pass, int caller)
{
    double sum = 0.0;
    for (sce_int s = r0; s < r1; s += piece) {
        if (sce_stopped(pass) || (caller && sce_poll(pass)))
            return;
        double part = 0.0;
        const int status = fn(ctx, s, s + piece < r1 ? s + piece : r1, acc, &part);
        if (status != SCE_OK) {
            sce_set_stop(pass, status);
            return;
        }
        sum += part;
    }
    *loss = sum;
}

#ifdef _OPENMP
static void sce_yield(void)
{
#ifdef _WIN32
    SwitchToThread();
#else
    sched_yield();
#endif
}

/* The calling thread, out of partitions, keeps asking the hook until the others have finished theirs
 * (the last partitions of a long pass can take seconds). */
static void sce_wait_for_team(sce_pass *pass, const int *done, int n_parts)
{
    if (sce_hook == NULL)
        return;
    for (;;) {
        int finished;
#pragma omp atomic read
        finished = *done;
        if (finished >= n_parts || sce_stopped(pass) || sce_poll(pass))
            return;
        sce_yield();
    }
}
#endif

static void sce_add_into(double *out, const double *acc, sce_int m)
{
    for (sce_int j = 0; j < m; j++)
        out[j] += acc[j];
}

int sce_run_rows(sce_rows_fn fn, const void *ctx, sce_int n, double work_per_row, sce_int m, int n_threads,
                 double *out, double *loss)
{
    for (sce_int j = 0; j < m; j++)
        out[j] = 0.0;
    *loss = 0.0;
    if (n <= 0)
        return SCE_OK;
    const int n_parts = sce_partitions(n, work_per_row, m);
    const sce_int piece = sce_piece_rows(work_per_row);
    /* Partition 0 sums into out, the others into zeroed vectors that start on cache lines of their
     * own, a whole line away from anything else: out's last line shared with the next vector (the
     * malloc'ed block right after it, as happened in some processes) made the Gram kernel's two
     * threads slower than one. */
    const sce_int per_line = SCE_LINE / (sce_int)sizeof(double);
    const sce_int stride = (m + per_line - 1) / per_line * per_line + per_line; /* + a gap line */
    const int nt = n_threads < n_parts ? n_threads : n_parts;
    /* One thread runs the partitions in turn and adds each into out as soon as it is done, the same
     * additions in the same order as below: one extra vector is enough.  (A vector per partition, up
     * to SCE_MAX_PARTS - 1 of them, is fresh memory at each pass where the allocator hands pages
     * back to the system, as Dask's workers are set up to: page faults at every pass.) */
    const size_t n_vectors = nt > 1 ? (size_t)(n_parts - 1) : 1;
    void *block = NULL;
    double *extra = NULL;
    if (n_parts > 1) {
        block = calloc(n_vectors * (size_t)stride + 2 * (size_t)per_line, sizeof(double));
        if (block == NULL)
            return SCE_ERR_NOMEM;
        /* first vector: past the first whole line of the block */
        extra = (double *)(((uintptr_t)block + 2 * SCE_LINE - 1) & ~(uintptr_t)(SCE_LINE - 1));
    }
    double losses[SCE_MAX_PARTS] = {0.0};
    sce_pass pass;
    sce_pass_init(&pass);
    int status;
#ifdef _OPENMP
    if (nt > 1) {
        int done = 0;
#pragma omp parallel num_threads(nt)
        {
            const int caller = omp_get_thread_num() == 0;
#pragma omp for schedule(dynamic, 1) nowait
            for (int p = 0; p < n_parts; p++) {
                sce_run_partition(fn, ctx, n * p / n_parts, n * (p + 1) / n_parts, piece,
                                  p == 0 ? out : extra + (size_t)(p - 1) * (size_t)stride, &losses[p], &pass,
                                  caller);
#pragma omp atomic update
                done++;
            }
            if (caller)
                sce_wait_for_team(&pass, &done, n_parts);
        }
        status = pass.stop;
        if (status == SCE_OK)
            for (int p = 1; p < n_parts; p++)
                sce_add_into(out, extra + (size_t)(p - 1) * (size_t)stride, m);
    } else
#endif
    {
        (void)nt;
        for (int p = 0; p < n_parts && pass.stop == SCE_OK; p++) {
            if (p > 1)
                memset(extra, 0, (size_t)m * sizeof(double));
            sce_run_partition(fn, ctx, n * p / n_parts, n * (p + 1) / n_parts, piece, p == 0 ? out : extra,
                              &losses[p], &pass, 1);
            if (p > 0 && pass.stop == SCE_OK)
                sce_add_into(out, extra, m);
        }
        status = pass.stop;
    }
    if (status == SCE_OK) {
        double sum = 0.0;
        for (int p = 0; p < n_parts; p++)
            sum += losses[p];
        *loss = sum;
    }
    free(block);
    return status;
}
