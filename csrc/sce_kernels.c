/* sce_kernels.c -- threading driver, and both precisions of the kernels from one template. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sce_kernels.h"
#include "sce_math.h"

#ifdef _OPENMP
#include <omp.h>
#endif

/* Vectorized workers are compiled for x86-64-v4 (AVX-512), x86-64-v3 (AVX2 + FMA) and the baseline
 * ISA, and the loader picks one by CPU features (GCC ifunc); building with SCE_NO_X86_64_V4 leaves
 * the AVX-512 clone out (to measure the AVX2 path on an AVX-512 machine).  Elsewhere they are
 * compiled once for the target the compiler is given. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12 && defined(__x86_64__) && defined(__linux__)
#define SCE_X86_DISPATCH 1
#ifdef SCE_NO_X86_64_V4
#define SCE_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SCE_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#else
#define SCE_CLONES
#endif

/* OpenMP SIMD pragmas let GCC vectorize the loss reductions without -ffast-math; the summation
 * order is then fixed at compile time (per lane), so it is still deterministic. */
#define SCE_PRAGMA(x) _Pragma(#x)
#if defined(_OPENMP) || defined(SCE_OPENMP_SIMD)
#define SCE_SIMD(...) SCE_PRAGMA(omp simd __VA_ARGS__)
#else
#define SCE_SIMD(...)
#endif

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

/* A worker processes elements/rows [start, stop), adds its loss into *partial, returns status bits. */
typedef int (*sce_chunk_fn)(const void *ctx, sce_int start, sce_int stop, double *partial);

/* Run fn over [0, n) in chunks of `chunk` and return the sum of the chunk partials, added in chunk
 * order whatever the number of threads.  Status bits of all chunks are OR-ed into *status. */
static double sce_run_chunks(sce_chunk_fn fn, const void *ctx, sce_int n, sce_int chunk,
                             int n_threads, int *status)
{
    sce_int n_chunks = (n + chunk - 1) / chunk;
    double total = 0.0;
    int flags = 0;
    double *partials = NULL;
#ifdef _OPENMP
    if (n_threads > 1 && n_chunks > 1)
        partials = (double *)malloc((size_t)n_chunks * sizeof(double));
#endif
    if (partials == NULL) { /* serial (or allocation failed): same order, same result */
        for (sce_int c = 0; c < n_chunks; c++) {
            double p = 0.0;
            sce_int stop = (c + 1) * chunk < n ? (c + 1) * chunk : n;
            flags |= fn(ctx, c * chunk, stop, &p);
            total += p;
        }
    }
#ifdef _OPENMP
    else {
        int nt = (sce_int)n_threads < n_chunks ? n_threads : (int)n_chunks;
#pragma omp parallel for schedule(static) num_threads(nt) reduction(| : flags)
        for (sce_int c = 0; c < n_chunks; c++) {
            double p = 0.0;
            sce_int stop = (c + 1) * chunk < n ? (c + 1) * chunk : n;
            flags |= fn(ctx, c * chunk, stop, &p);
            partials[c] = p;
        }
        for (sce_int c = 0; c < n_chunks; c++)
            total += partials[c];
        free(partials);
    }
#endif
    if (status)
        *status |= flags;
    return total;
}

/* A row worker processes rows [r0, r1), adds into the vector acc and returns its loss sum. */
typedef double (*sce_rows_fn)(const void *ctx, sce_int r0, sce_int r1, double *acc);

/* Threads for a row pass: one below ~1e5 multiply-adds, where starting threads costs more. */
static int sce_glm_threads(sce_int n, sce_int work_per_row, int n_threads)
{
    if (n_threads <= 1 || n * work_per_row < 100000 || n < 2 * n_threads)
        return 1;
    return n_threads;
}

/* Run fn over rows [0, n) split into one contiguous range per thread; each thread accumulates into
 * its own zeroed vector of length m (thread 0 into out).  The vectors and the returned sums are
 * added in thread order: deterministic for a fixed thread count.  The other threads' vectors start
 * on cache lines of their own, a whole line away from anything else: out's last line shared with
 * the next thread's vector (the malloc'ed block right after it, as happened in some processes) made
 * the Gram kernel's two threads slower than one. */
#define SCE_LINE 64
static double sce_run_rows(sce_rows_fn fn, const void *ctx, sce_int n, sce_int m, int n_threads,
                           double *out)
{
    for (sce_int j = 0; j < m; j++)
        out[j] = 0.0;
    const sce_int per_line = SCE_LINE / (sce_int)sizeof(double);
    const sce_int stride = (m + per_line - 1) / per_line * per_line + per_line; /* + a gap line */
    void *block = NULL;
    double *losses = NULL;
#ifdef _OPENMP
    if (n_threads > 1) {
        block = calloc((size_t)(n_threads - 1) * (size_t)stride + 2 * (size_t)per_line,
                       sizeof(double));
        losses = (double *)calloc((size_t)n_threads * (size_t)per_line, sizeof(double));
    }
#endif
    if (block == NULL || losses == NULL) {
        free(block);
        free(losses);
        return fn(ctx, 0, n, out);
    }
    /* first vector: past the first whole line of the block */
    double *extra = (double *)(((uintptr_t)block + 2 * SCE_LINE - 1) & ~(uintptr_t)(SCE_LINE - 1));
    int team = 1;
#ifdef _OPENMP
#pragma omp parallel num_threads(n_threads)
    {
        int t = omp_get_thread_num(), nt = omp_get_num_threads();
        if (t == 0)
            team = nt;
        double *acc = t == 0 ? out : extra + (size_t)(t - 1) * stride;
        losses[t * per_line] = fn(ctx, n * t / nt, n * (t + 1) / nt, acc);
    }
#endif
    double loss = losses[0];
    for (int t = 1; t < team; t++) {
        const double *acc = extra + (size_t)(t - 1) * stride;
        for (sce_int j = 0; j < m; j++)
            out[j] += acc[j];
        loss += losses[t * per_line];
    }
    free(block);
    free(losses);
    return loss;
}

/* The Gram kernels accumulate the upper triangle of a symmetric row-major (dd, dd) matrix; this
 * copies it onto the lower one. */
static void sce_mirror_upper(sce_int dd, double *G)
{
    for (sce_int a = 1; a < dd; a++)
        for (sce_int b = 0; b < a; b++)
            G[a * dd + b] = G[b * dd + a];
}

/* Structure of a compressed sparse matrix (CSR: n rows over d columns; CSC: the transpose), checked
 * before any kernel indexes a coefficient vector with it: scipy checks indices when it builds a
 * matrix, not after a user writes into its arrays.  indptr is checked whole before any index is
 * read through it.  *canonical: column indices strictly increasing within every row (sorted, no
 * duplicate entries, whose values scipy adds). */
#define SCE_DEFINE_CSR_CHECK(ITYPE, ISUF)                                                           \
    int sce_csr_check_##ISUF(sce_int n, sce_int d, sce_int len, const ITYPE *indices,              \
                             const ITYPE *indptr, int *canonical)                                  \
    {                                                                                               \
        *canonical = 0;                                                                             \
        if (indptr[0] != 0)                                                                         \
            return SCE_CSR_BAD_START;                                                               \
        int decreasing = 0;                                                                         \
        for (sce_int i = 0; i < n; i++)                                                             \
            decreasing |= indptr[i + 1] < indptr[i];                                                \
        if (decreasing)                                                                             \
            return SCE_CSR_DECREASING;                                                              \
        if ((sce_int)indptr[n] > len)                                                               \
            return SCE_CSR_PAST_END;                                                                \
        /* Over the whole index array at once (vectorizable): min, max, and the positions where an  \
         * index is not above the one before; such a position is allowed only where a row starts.   \
         * Canonical when every one of them is a row start. */                                     \
        const sce_int nnz = (sce_int)indptr[n];                                                     \
        ITYPE lo = 0, hi = 0;                                                                       \
        sce_int not_above = 0, at_row_starts = 0;                                                   \
        if (nnz > 0)                                                                                \
            lo = hi = indices[0];                                                                   \
        for (sce_int a = 1; a < nnz; a++) {                                                         \
            const ITYPE j = indices[a];                                                             \
            lo = j < lo ? j : lo;                                                                   \
            hi = j > hi ? j : hi;                                                                   \
            not_above += j <= indices[a - 1];                                                       \
        }                                                                                           \
        for (sce_int i = 1; i < n; i++) { /* each start counted once: empty rows share it */        \
            const sce_int a = (sce_int)indptr[i];                                                   \
            at_row_starts += a > (sce_int)indptr[i - 1] && a < nnz && indices[a] <= indices[a - 1]; \
        }                                                                                           \
        const int increasing = not_above == at_row_starts;                                          \
        if (lo < 0)                                                                                 \
            return SCE_CSR_NEGATIVE_INDEX;                                                          \
        if ((sce_int)hi >= d && indptr[n] > 0)                                                      \
            return SCE_CSR_INDEX_TOO_LARGE;                                                         \
        *canonical = increasing;                                                                    \
        return 0;                                                                                   \
    }
SCE_DEFINE_CSR_CHECK(int32_t, i32)
SCE_DEFINE_CSR_CHECK(int64_t, i64)
#undef SCE_DEFINE_CSR_CHECK

#define SCE_CAT_(a, b) a##_##b
#define SCE_CAT(a, b) SCE_CAT_(a, b)

#define T double
#define T_MAX DBL_MAX
#define SUF f64
#define SCE_SQRT sqrt
#define F(name) SCE_CAT(name, SUF)
#include "sce_kernels_tmpl.h"
#include "sce_glm_tmpl.h"
#include "sce_mlp_tmpl.h"
#undef F
#undef SCE_SQRT
#undef SUF
#undef T_MAX
#undef T

#define T float
#define T_MAX FLT_MAX
#define SUF f32
#define SCE_SQRT sqrtf
#define F(name) SCE_CAT(name, SUF)
#include "sce_kernels_tmpl.h"
#include "sce_glm_tmpl.h"
#include "sce_mlp_tmpl.h"
#undef F
#undef SCE_SQRT
#undef SUF
#undef T_MAX
#undef T
