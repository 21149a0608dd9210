/* sce_kernels.h -- public C API of the sce kernels (float64: suffix _f64, float32: suffix _f32).
 *
 * Conventions
 *  - n / n_rows / n_classes count elements; arrays are contiguous; outputs are passed in by the caller.
 *  - Optional inputs and outputs are NULL when absent.
 *  - Sums (the returned loss) are accumulated in double in fixed chunks of SCE_CHUNK elements; the
 *    chunk sums are added in chunk order, so the result does not depend on the thread count and is
 *    bitwise reproducible run to run.
 *  - n_threads <= 1 runs serially; OpenMP is used when the build has it and the input is large.
 *  - Kernels that validate their input report problems through *status (SCE_BAD_* bits, 0 when all
 *    is well) instead of stopping: outputs are then unspecified, inputs are never written.
 */
#ifndef SCE_KERNELS_H
#define SCE_KERNELS_H

#include <stdint.h>

typedef int64_t sce_int;

/* Elements per chunk: 64 KiB of float64 per stream stays in L2 while a chunk is processed, and
 * chunks are the unit of work for threads and of the deterministic summation order. */
#define SCE_CHUNK 8192
/* Within a chunk, elements go through the two halves of the logistic work (e^{-|z|}, then the
 * division and logarithm) in separate loops over strips of this many elements kept in L1: each
 * loop has a short enough dependency chain for the out-of-order core to overlap iterations. */
#define SCE_STRIP 256

enum {
    SCE_BAD_TARGET = 1,        /* BCE target outside [0, 1] or NaN / softmax probability target outside [0, 1] */
    SCE_BAD_SAMPLE_WEIGHT = 2, /* sample_weight negative or not finite */
    SCE_BAD_POS_WEIGHT = 4,    /* pos_weight not > 0 or not finite */
    SCE_BAD_LABEL = 8          /* integer label outside [0, n_classes) */
};

/* What sce_csr_check_* found wrong with a compressed sparse matrix (0: nothing). */
enum {
    SCE_CSR_BAD_START = 1,       /* indptr[0] != 0 */
    SCE_CSR_DECREASING = 2,      /* indptr decreases somewhere */
    SCE_CSR_PAST_END = 3,        /* indptr[n] beyond the index array */
    SCE_CSR_NEGATIVE_INDEX = 4,  /* an index < 0 */
    SCE_CSR_INDEX_TOO_LARGE = 5  /* an index >= d */
};
/* Checks a CSR matrix of n rows and d columns (or a CSC one, transposed) whose index array holds len
 * entries; sets *canonical when every row's indices are strictly increasing.  Returns SCE_CSR_*. */
int sce_csr_check_i32(sce_int n, sce_int d, sce_int len, const int32_t *indices, const int32_t *indptr,
                      int *canonical);
int sce_csr_check_i64(sce_int n, sce_int d, sce_int len, const int64_t *indices, const int64_t *indptr,
                      int *canonical);

int sce_max_threads(void);
/* Which compiled clone of the vectorized kernels this CPU runs. */
const char *sce_simd_path(void);
int sce_has_openmp(void);

#define SCE_DECLARE(T, SUF)                                                                        \
    void sce_exp_array_##SUF(sce_int n, const T *x, T *out, int n_threads);                              \
    void sce_log1p_array_##SUF(sce_int n, const T *x, T *out, int n_threads);                            \
    void sce_sigmoid_##SUF(sce_int n, const T *z, T *out, int n_threads);                          \
    void sce_log_sigmoid_##SUF(sce_int n, const T *z, T *out, int n_threads);                      \
    void sce_softplus_##SUF(sce_int n, const T *z, T *out, int n_threads);                         \
    /* Binary cross-entropy with logits.  sw: per-element sample weight, pw: per-element pos_weight \
     * (when NULL, sw_scalar / pw_scalar serve every element).  loss (per element, weighted) and grad (= grad_scale * w * dl/dz) may be  \
     * NULL.  Returns sum_i w_i l_i. */                                                             \
    double sce_bce_logits_loss_grad_##SUF(sce_int n, const T *z, const T *y, const T *sw,          \
                                          T sw_scalar, const T *pw, T pw_scalar, T grad_scale,     \
                                          T *loss, T *grad, int n_threads, int *status);           \
    /* Softmax cross-entropy over rows of a C-contiguous (n_rows, n_classes) z.  Exactly one of    \
     * labels (n_rows integers) and target ((n_rows, n_classes) probabilities) is given.  sw: per  \
     * row.  loss: per row (weighted); grad: (n_rows, n_classes), = grad_scale * w * (p sum(t) - t). \
     * Returns sum_i w_i l_i. */                                                                    \
    double sce_softmax_xent_loss_grad_##SUF(sce_int n_rows, sce_int n_classes, const T *z,         \
                                            const int64_t *labels, const T *target, const T *sw,   \
                                            T grad_scale, T *loss, T *grad, int n_threads,         \
                                            int *status);

/* Row blocks of the GLM passes: about this many bytes of X stay in L2 between the two uses. */
#define SCE_GLM_BLOCK_BYTES (128 * 1024)
#define SCE_GLM_MAX_BLOCK 256

/* Logistic-regression passes (csrc/sce_glm_tmpl.h describes the conventions).  The multinomial
 * passes allocate per-thread scratch; when that fails they return -infinity (a loss sum is never
 * negative, and the Hessian-vector products otherwise return 0) and their outputs are incomplete. */
#define SCE_DECLARE_CSR(T, SUF, ITYPE, ISUF)                                                         \
    double sce_logistic_loss_grad_csr_##ISUF##_##SUF(sce_int n, sce_int d, const T *data,            \
                                                     const ITYPE *indices, const ITYPE *indptr,      \
                                                     const T *y, const T *sw, const T *w, T b,       \
                                                     double *grad, T *hdiag, int n_threads);         \
    void sce_logistic_hessp_csr_##ISUF##_##SUF(sce_int n, sce_int d, const T *data,                  \
                                               const ITYPE *indices, const ITYPE *indptr,            \
                                               const T *hdiag, const T *v, T vb, double *out,        \
                                               int n_threads);                                       \
    double sce_multinomial_loss_grad_csr_##ISUF##_##SUF(                                             \
        sce_int n, sce_int d, sce_int K, const T *data, const ITYPE *indices, const ITYPE *indptr,   \
        const int64_t *labels, const T *sw, const T *W, const T *b, double *grad, T *prob,           \
        int n_threads);                                                                              \
    /* [sum_i C[i, k] x_ij^2 as (K, d), sum_i C[i, k] (K)] for row-major (n, K) weights C. */   \
    void sce_sq_colsums_csr_##ISUF##_##SUF(sce_int n, sce_int d, sce_int K, const T *data,           \
                                           const ITYPE *indices, const ITYPE *indptr,                \
                                           const double *C, double *out, int n_threads);             \
    /* sum_i w_i x~_i x~_i^T (x~ = [x, 1] with an intercept), full row-major (dd, dd).            */ \
    void sce_gram_csr_##ISUF##_##SUF(sce_int n, sce_int d, const T *data, const ITYPE *indices,        \
                                     const ITYPE *indptr, const T *weights, int fit_intercept,         \
                                     int sorted_indices, double *out, int n_threads);                  \
    double sce_multinomial_hessp_csr_##ISUF##_##SUF(                                                 \
        sce_int n, sce_int d, sce_int K, const T *data, const ITYPE *indices, const ITYPE *indptr,   \
        const T *sw, const T *prob, const T *V, const T *vb, double *out, int n_threads);

#define SCE_DECLARE_GLM(T, SUF)                                                                      \
    double sce_logistic_loss_grad_dense_##SUF(sce_int n, sce_int d, const T *X, const T *y,          \
                                              const T *sw, const T *w, T b, double *grad, T *hdiag,  \
                                              int n_threads);                                        \
    void sce_logistic_hessp_dense_##SUF(sce_int n, sce_int d, const T *X, const T *hdiag,            \
                                        const T *v, T vb, double *out, int n_threads);               \
    double sce_multinomial_loss_grad_dense_##SUF(sce_int n, sce_int d, sce_int K, const T *X,        \
                                                 const int64_t *labels, const T *sw, const T *W,     \
                                                 const T *b, double *grad, T *prob, int n_threads);  \
    double sce_multinomial_hessp_dense_##SUF(sce_int n, sce_int d, sce_int K, const T *X,            \
                                           const T *sw, const T *prob, const T *V, const T *vb,      \
                                           double *out, int n_threads);                              \
    /* sum_i w_i x~_i x~_i^T (x~ = [x, 1] with an intercept), full row-major (dd, dd).            */ \
    void sce_gram_dense_##SUF(sce_int n, sce_int d, const T *X, const T *weights, int fit_intercept,  \
                              double *out, int n_threads);                                           \
    SCE_DECLARE_CSR(T, SUF, int32_t, i32)                                                            \
    SCE_DECLARE_CSR(T, SUF, int64_t, i64)

/* Sigmoid MLP passes and optimizer steps (csrc/sce_mlp_tmpl.h describes them).  Layer buffers are
 * row-major (n, h); b, db have h entries; p, g, m, v, u are flat parameter vectors of n entries whose
 * first n_penalized carry the L2 term l2 p. */
#define SCE_DECLARE_MLP(T, SUF)                                                                      \
    void sce_bias_sigmoid_##SUF(sce_int n, sce_int h, T *Z, const T *b, int n_threads);              \
    void sce_add_bias_##SUF(sce_int n, sce_int h, T *Z, const T *b, int n_threads);                  \
    int sce_sigmoid_backprop_##SUF(sce_int n, sce_int h, T *D, const T *A, T *db, int n_threads);    \
    double sce_adam_step_##SUF(sce_int n, sce_int n_penalized, T l2, T *p, const T *g, T *m, T *v,   \
                               T lr_t, T b1, T b2, T eps);                                           \
    double sce_sgd_step_##SUF(sce_int n, sce_int n_penalized, T l2, T *p, const T *g, T *u, T lr,    \
                              T mu, int nesterov);

SCE_DECLARE_MLP(double, f64)
SCE_DECLARE_MLP(float, f32)
#undef SCE_DECLARE_MLP

SCE_DECLARE_GLM(double, f64)
SCE_DECLARE_GLM(float, f32)
#undef SCE_DECLARE_GLM
#undef SCE_DECLARE_CSR

SCE_DECLARE(double, f64)
SCE_DECLARE(float, f32)

#undef SCE_DECLARE

#endif /* SCE_KERNELS_H */
