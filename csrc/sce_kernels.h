/* sce_kernels.h -- public C API of the sce kernels (what src/sce/_core.pyx calls).
 *
 * Conventions
 *  - n / n_rows / n_classes count elements; arrays are contiguous; outputs are passed in by the caller.
 *  - Optional inputs and outputs are NULL when absent.
 *  - Functions that run over many elements or rows return a status: SCE_OK, SCE_ERR_NOMEM (scratch
 *    memory could not be allocated) or SCE_ERR_INTERRUPTED (the interrupt hook asked to stop); the
 *    outputs are unspecified unless SCE_OK.  Their sums are returned through a pointer.
 *  - Results are bitwise identical for every n_threads >= 1 and from run to run: the work is split
 *    into pieces chosen from the problem alone, and their partial sums are added in piece order.
 *  - n_threads <= 1 runs on the calling thread; OpenMP is used when the build has it.
 *  - Kernels that validate their input report problems through *bad (SCE_BAD_* bits, 0 when all is
 *    well) instead of stopping: outputs are then unspecified, inputs are never written.
 */
#ifndef SCE_KERNELS_H
#define SCE_KERNELS_H

#include <stdint.h>

typedef int64_t sce_int;

enum {
    SCE_OK = 0,
    SCE_ERR_NOMEM = 1,       /* an allocation failed */
    SCE_ERR_INTERRUPTED = 2, /* the interrupt hook returned nonzero */
    SCE_ERR_INVALID = 3      /* a description of the input that no kernel takes (unknown dtype, ...) */
};

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

/* Interrupts.  A long pass asks the hook, from the calling thread only and at most every 50 ms,
 * whether to stop; nonzero makes every thread stop at its next piece of work and the pass return
 * SCE_ERR_INTERRUPTED.  The hook is process-wide; NULL (the default) never stops a pass. */
typedef int (*sce_interrupt_fn)(void);
void sce_set_interrupt_hook(sce_interrupt_fn hook);

/* ---- logistic regression: one pass over a block of rows ------------------------------------ */

enum { SCE_F32 = 1, SCE_F64 = 2 };

/* A block of n rows of d features: dense (index_bytes 0, X row-major (n, d)) or CSR (index_bytes 4 or
 * 8: data, indices and indptr, both index arrays int32_t or both int64_t, structure already checked
 * by sce_csr_check_*).  dtype is that of the values; every other array of X's dtype below ("X dtype")
 * is float for SCE_F32 and double for SCE_F64. */
typedef struct {
    int dtype;       /* SCE_F32 or SCE_F64 */
    int index_bytes; /* 0: dense; 4, 8: CSR */
    sce_int n, d;
    const void *X;
    const void *data, *indices, *indptr;
} sce_rows;

/* K == 1: binary cross-entropy with logits z_i = x_i . W_0 + b_0 and targets y (n,) of X dtype in
 * [0, 1].  K >= 2: softmax cross-entropy of the logits z_i = W x_i + b with labels (n,) int64 in
 * [0, K) (a label outside makes the loss NaN).  sw (n,), W (K, d), b (K,): X dtype.
 * grad: K (d + 1) doubles, [X^T R as (K, d), column sums of R (K)], with R_ik = sw_i dl_i/dz_ik.
 * curvature (out, X dtype): K == 1 (n,) sw_i sigma_i (1 - sigma_i); K >= 2 (n, K) the probabilities.
 * *loss_sum = sum_i sw_i l_i.  The penalty and the C factor are the caller's. */
int sce_logistic_eval(const sce_rows *X, sce_int K, const void *targets, const void *sw, const void *W,
                      const void *b, double *grad, void *curvature, int n_threads, double *loss_sum);

/* The Hessian of the loss sum at the point whose curvature sce_logistic_eval returned, times
 * (V (K, d), vb (K,)), X dtype, into out (K (d + 1) doubles, laid out as grad).  K == 1: X^T u with
 * u_i = curvature_i (x_i . V_0 + vb_0) (sw is not read: the curvature holds it); K >= 2: with
 * t_i = V x_i + vb, u_ik = sw_i p_ik (t_ik - sum_l p_il t_il). */
int sce_logistic_hessp(const sce_rows *X, sce_int K, const void *sw, const void *curvature,
                       const void *V, const void *vb, double *out, int n_threads);

/* sum_i w_i x~_i x~_i^T (x~ = [x, 1] with an intercept) into the full row-major (dd, dd) out,
 * dd = d + (fit_intercept ? 1 : 0); weights (n,) X dtype.  sorted_indices (CSR): the column
 * indices strictly increase within each row (no repeated index), which halves the work.
 * column_map (CSR only; NULL: every column): for each of the d columns its position among the
 * n_columns kept (-1: left out), increasing with the column; the matrix is then that of the kept
 * columns, dd = n_columns + (fit_intercept ? 1 : 0). */
int sce_logistic_gram(const sce_rows *X, const void *weights, int fit_intercept, int sorted_indices,
                      const int64_t *column_map, sce_int n_columns, double *out, int n_threads);

/* [sum_i C[i, k] x_ij^2 as (K, d), sum_i C[i, k] (K)] into out (K (d + 1) doubles) for the
 * row-major (n, K) weights C: the diagonal of the Hessian blocks. */
int sce_logistic_sq_colsums(const sce_rows *X, sce_int K, const double *C, double *out, int n_threads);

/* Proximal Newton's subproblem: min over z of g'z + 1/2 z'Hz + sum_j w_j |x_j + z_j| for a dense
 * symmetric positive semi-definite row-major (m, m) H, by cyclic coordinate descent from the given z
 * (with occasional exact steps on the face of the current signs, csrc/sce_prox.c), with Hz = H z
 * kept up to date (pass it consistent with z).  Stops when no coordinate changed the
 * model by more than tol (the change of a coordinate step is H_jj delta^2) or after max_sweeps
 * sweeps; returns the number of sweeps, -1 when its scratch memory could not be allocated. */
int sce_l1_quadratic_cd(sce_int m, const double *H, const double *g, const double *x, const double *w,
                        double *z, double *Hz, int max_sweeps, double tol);

/* ---- elementwise maps and fused losses (float64: _f64, float32: _f32) ------------------------ */

/* out[i] = f(x[i]); out may be x. */
int sce_exp_array_f64(sce_int n, const double *x, double *out, int n_threads);
int sce_log1p_array_f64(sce_int n, const double *x, double *out, int n_threads);
int sce_sigmoid_f64(sce_int n, const double *z, double *out, int n_threads);
int sce_log_sigmoid_f64(sce_int n, const double *z, double *out, int n_threads);
int sce_softplus_f64(sce_int n, const double *z, double *out, int n_threads);
int sce_exp_array_f32(sce_int n, const float *x, float *out, int n_threads);
int sce_log1p_array_f32(sce_int n, const float *x, float *out, int n_threads);
int sce_sigmoid_f32(sce_int n, const float *z, float *out, int n_threads);
int sce_log_sigmoid_f32(sce_int n, const float *z, float *out, int n_threads);
int sce_softplus_f32(sce_int n, const float *z, float *out, int n_threads);

/* Binary cross-entropy with logits.  sw: per-element sample weight, pw: per-element pos_weight (when
 * NULL, sw_scalar / pw_scalar serve every element).  loss (per element, weighted) and grad
 * (= grad_scale * w * dl/dz) may be NULL.  *loss_sum = sum_i w_i l_i. */
int sce_bce_logits_loss_grad_f64(sce_int n, const double *z, const double *y, const double *sw,
                                 double sw_scalar, const double *pw, double pw_scalar, double grad_scale,
                                 double *loss, double *grad, int n_threads, int *bad, double *loss_sum);
int sce_bce_logits_loss_grad_f32(sce_int n, const float *z, const float *y, const float *sw,
                                 float sw_scalar, const float *pw, float pw_scalar, float grad_scale,
                                 float *loss, float *grad, int n_threads, int *bad, double *loss_sum);

/* Softmax cross-entropy over rows of a C-contiguous (n_rows, n_classes) z.  Exactly one of labels
 * (n_rows integers) and target ((n_rows, n_classes) probabilities) is given.  sw: per row.  loss:
 * per row (weighted); grad: (n_rows, n_classes), = grad_scale * w * (p sum(t) - t).
 * *loss_sum = sum_i w_i l_i. */
int sce_softmax_xent_loss_grad_f64(sce_int n_rows, sce_int n_classes, const double *z,
                                   const int64_t *labels, const double *target, const double *sw,
                                   double grad_scale, double *loss, double *grad, int n_threads,
                                   int *bad, double *loss_sum);
int sce_softmax_xent_loss_grad_f32(sce_int n_rows, sce_int n_classes, const float *z,
                                   const int64_t *labels, const float *target, const float *sw,
                                   float grad_scale, float *loss, float *grad, int n_threads,
                                   int *bad, double *loss_sum);

/* ---- sigmoid MLP passes and optimizer steps (csrc/sce_mlp_tmpl.h) ---------------------------- */
/* Layer buffers are row-major (n, h); b, db have h entries; p, g, m, v, u are flat parameter
 * vectors of n entries whose first n_penalized carry the L2 term l2 p.  The steps return
 * sum_{k < n_penalized} p_k^2 before the step. */

/* Z = sigma(Z + b) (a hidden layer) / Z = Z + b (the output layer), in place. */
int sce_bias_sigmoid_f64(sce_int n, sce_int h, double *Z, const double *b, int n_threads);
int sce_add_bias_f64(sce_int n, sce_int h, double *Z, const double *b, int n_threads);
/* D *= A (1 - A) when A is given; db = column sums of (the new) D. */
int sce_sigmoid_backprop_f64(sce_int n, sce_int h, double *D, const double *A, double *db, int n_threads);
double sce_adam_step_f64(sce_int n, sce_int n_penalized, double l2, double *p, const double *g, double *m,
                         double *v, double lr_t, double b1, double b2, double eps);
double sce_sgd_step_f64(sce_int n, sce_int n_penalized, double l2, double *p, const double *g, double *u,
                        double lr, double mu, int nesterov);

int sce_bias_sigmoid_f32(sce_int n, sce_int h, float *Z, const float *b, int n_threads);
int sce_add_bias_f32(sce_int n, sce_int h, float *Z, const float *b, int n_threads);
int sce_sigmoid_backprop_f32(sce_int n, sce_int h, float *D, const float *A, float *db, int n_threads);
double sce_adam_step_f32(sce_int n, sce_int n_penalized, float l2, float *p, const float *g, float *m,
                         float *v, float lr_t, float b1, float b2, float eps);
double sce_sgd_step_f32(sce_int n, sce_int n_penalized, float l2, float *p, const float *g, float *u,
                        float lr, float mu, int nesterov);

#endif /* SCE_KERNELS_H */
