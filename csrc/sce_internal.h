/* sce_internal.h -- what the kernels share and the bridge does not see: block sizes, CPU dispatch and
 * SIMD macros, and the two runners that split a pass into pieces for threads (csrc/sce_runner.c). */
#ifndef SCE_INTERNAL_H
#define SCE_INTERNAL_H

#include "sce_kernels.h"

/* Elements per chunk: 64 KiB of float64 per stream stays in L2 while a chunk is processed, and
 * chunks are the unit of work for threads and of the deterministic summation order. */
#define SCE_CHUNK 8192
/* Within a chunk, elements go through the two halves of the logistic work (e^{-|z|}, then the
 * division and logarithm) in separate loops over strips of this many elements kept in L1: each
 * loop has a short enough dependency chain for the out-of-order core to overlap iterations. */
#define SCE_STRIP 256

/* Row blocks of the GLM passes: about this many bytes of X stay in L2 between the two uses. */
#define SCE_GLM_BLOCK_BYTES (128 * 1024)
#define SCE_GLM_MAX_BLOCK 256

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

/* Names of the per-type functions: F(name) = name_f64 with SUF f64 (the templates' suffixes). */
#define SCE_CAT_(a, b) a##_##b
#define SCE_CAT(a, b) SCE_CAT_(a, b)

/* A chunk worker processes elements (or rows) [start, stop), writes its loss sum into *partial and
 * returns SCE_BAD_* bits. */
typedef int (*sce_chunk_fn)(const void *ctx, sce_int start, sce_int stop, double *partial);

/* Runs fn over [0, n) in chunks of `chunk`; *total = the chunk partials added in chunk order, the
 * chunks' SCE_BAD_* bits OR-ed into *bad (when not NULL).  Returns SCE_OK / SCE_ERR_*. */
int sce_run_chunks(sce_chunk_fn fn, const void *ctx, sce_int n, sce_int chunk, int n_threads, int *bad,
                   double *total);

/* A row worker processes rows [r0, r1): adds into the vector acc and its loss sum into *loss;
 * returns SCE_OK or SCE_ERR_NOMEM. */
typedef int (*sce_rows_fn)(const void *ctx, sce_int r0, sce_int r1, double *acc, double *loss);

/* Runs fn over rows [0, n) and sums into out (m doubles, zeroed first) and *loss.  work_per_row
 * (multiply-adds, roughly) and m alone decide how the rows are split, so that the result is the
 * same for every n_threads.  Returns SCE_OK / SCE_ERR_*. */
int sce_run_rows(sce_rows_fn fn, const void *ctx, sce_int n, double work_per_row, sce_int m, int n_threads,
                 double *out, double *loss);

#endif /* SCE_INTERNAL_H */
