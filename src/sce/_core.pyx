# Typed bridge to csrc/: picks the float32 or float64 kernel from the memoryview type, passes
# pointers, releases the GIL.  No formulas here (they live in csrc/), no validation beyond what a
# pointer needs (that is sce/_functional.py's job).
from cython cimport floating
from libc.math cimport INFINITY
from libc.stdint cimport int32_t, int64_t

cdef extern from "sce_kernels.h" nogil:
    ctypedef int64_t sce_int
    int sce_max_threads()
    int sce_has_openmp()
    const char *sce_simd_path()
    int SCE_BAD_TARGET, SCE_BAD_SAMPLE_WEIGHT, SCE_BAD_POS_WEIGHT, SCE_BAD_LABEL

    void sce_exp_array_f64(sce_int n, const double *x, double *out, int n_threads)
    void sce_exp_array_f32(sce_int n, const float *x, float *out, int n_threads)
    void sce_log1p_array_f64(sce_int n, const double *x, double *out, int n_threads)
    void sce_log1p_array_f32(sce_int n, const float *x, float *out, int n_threads)
    void sce_sigmoid_f64(sce_int n, const double *x, double *out, int n_threads)
    void sce_sigmoid_f32(sce_int n, const float *x, float *out, int n_threads)
    void sce_log_sigmoid_f64(sce_int n, const double *x, double *out, int n_threads)
    void sce_log_sigmoid_f32(sce_int n, const float *x, float *out, int n_threads)
    void sce_softplus_f64(sce_int n, const double *x, double *out, int n_threads)
    void sce_softplus_f32(sce_int n, const float *x, float *out, int n_threads)

    double sce_bce_logits_loss_grad_f64(sce_int n, const double *z, const double *y,
                                        const double *sw, double sw_scalar,
                                        const double *pw, double pw_scalar, double grad_scale,
                                        double *loss, double *grad, int n_threads, int *status)
    double sce_bce_logits_loss_grad_f32(sce_int n, const float *z, const float *y,
                                        const float *sw, float sw_scalar,
                                        const float *pw, float pw_scalar, float grad_scale,
                                        float *loss, float *grad, int n_threads, int *status)
    double sce_softmax_xent_loss_grad_f64(sce_int n_rows, sce_int n_classes, const double *z,
                                          const int64_t *labels, const double *target,
                                          const double *sw, double grad_scale, double *loss,
                                          double *grad, int n_threads, int *status)
    double sce_softmax_xent_loss_grad_f32(sce_int n_rows, sce_int n_classes, const float *z,
                                          const int64_t *labels, const float *target,
                                          const float *sw, float grad_scale, float *loss,
                                          float *grad, int n_threads, int *status)

    double sce_logistic_loss_grad_dense_f64(sce_int n, sce_int d, const double *X, const double *y, const double *sw, const double *w, double b, double *grad, double *hdiag, int n_threads)
    double sce_logistic_loss_grad_dense_f32(sce_int n, sce_int d, const float *X, const float *y, const float *sw, const float *w, float b, double *grad, float *hdiag, int n_threads)
    void sce_logistic_hessp_dense_f64(sce_int n, sce_int d, const double *X, const double *hdiag, const double *v, double vb, double *out, int n_threads)
    void sce_logistic_hessp_dense_f32(sce_int n, sce_int d, const float *X, const float *hdiag, const float *v, float vb, double *out, int n_threads)
    double sce_multinomial_loss_grad_dense_f64(sce_int n, sce_int d, sce_int K, const double *X, const int64_t *labels, const double *sw, const double *W, const double *b, double *grad, double *prob, int n_threads)
    double sce_multinomial_loss_grad_dense_f32(sce_int n, sce_int d, sce_int K, const float *X, const int64_t *labels, const float *sw, const float *W, const float *b, double *grad, float *prob, int n_threads)
    double sce_multinomial_hessp_dense_f64(sce_int n, sce_int d, sce_int K, const double *X, const double *sw, const double *prob, const double *V, const double *vb, double *out, int n_threads)
    double sce_multinomial_hessp_dense_f32(sce_int n, sce_int d, sce_int K, const float *X, const float *sw, const float *prob, const float *V, const float *vb, double *out, int n_threads)
    double sce_logistic_loss_grad_csr_i32_f64(sce_int n, sce_int d, const double *data, const int32_t *indices, const int32_t *indptr, const double *y, const double *sw, const double *w, double b, double *grad, double *hdiag, int n_threads)
    void sce_logistic_hessp_csr_i32_f64(sce_int n, sce_int d, const double *data, const int32_t *indices, const int32_t *indptr, const double *hdiag, const double *v, double vb, double *out, int n_threads)
    double sce_multinomial_loss_grad_csr_i32_f64(sce_int n, sce_int d, sce_int K, const double *data, const int32_t *indices, const int32_t *indptr, const int64_t *labels, const double *sw, const double *W, const double *b, double *grad, double *prob, int n_threads)
    double sce_multinomial_hessp_csr_i32_f64(sce_int n, sce_int d, sce_int K, const double *data, const int32_t *indices, const int32_t *indptr, const double *sw, const double *prob, const double *V, const double *vb, double *out, int n_threads)
    double sce_logistic_loss_grad_csr_i32_f32(sce_int n, sce_int d, const float *data, const int32_t *indices, const int32_t *indptr, const float *y, const float *sw, const float *w, float b, double *grad, float *hdiag, int n_threads)
    void sce_logistic_hessp_csr_i32_f32(sce_int n, sce_int d, const float *data, const int32_t *indices, const int32_t *indptr, const float *hdiag, const float *v, float vb, double *out, int n_threads)
    double sce_multinomial_loss_grad_csr_i32_f32(sce_int n, sce_int d, sce_int K, const float *data, const int32_t *indices, const int32_t *indptr, const int64_t *labels, const float *sw, const float *W, const float *b, double *grad, float *prob, int n_threads)
    double sce_multinomial_hessp_csr_i32_f32(sce_int n, sce_int d, sce_int K, const float *data, const int32_t *indices, const int32_t *indptr, const float *sw, const float *prob, const float *V, const float *vb, double *out, int n_threads)
    double sce_logistic_loss_grad_csr_i64_f64(sce_int n, sce_int d, const double *data, const int64_t *indices, const int64_t *indptr, const double *y, const double *sw, const double *w, double b, double *grad, double *hdiag, int n_threads)
    void sce_logistic_hessp_csr_i64_f64(sce_int n, sce_int d, const double *data, const int64_t *indices, const int64_t *indptr, const double *hdiag, const double *v, double vb, double *out, int n_threads)
    double sce_multinomial_loss_grad_csr_i64_f64(sce_int n, sce_int d, sce_int K, const double *data, const int64_t *indices, const int64_t *indptr, const int64_t *labels, const double *sw, const double *W, const double *b, double *grad, double *prob, int n_threads)
    double sce_multinomial_hessp_csr_i64_f64(sce_int n, sce_int d, sce_int K, const double *data, const int64_t *indices, const int64_t *indptr, const double *sw, const double *prob, const double *V, const double *vb, double *out, int n_threads)
    double sce_logistic_loss_grad_csr_i64_f32(sce_int n, sce_int d, const float *data, const int64_t *indices, const int64_t *indptr, const float *y, const float *sw, const float *w, float b, double *grad, float *hdiag, int n_threads)
    void sce_logistic_hessp_csr_i64_f32(sce_int n, sce_int d, const float *data, const int64_t *indices, const int64_t *indptr, const float *hdiag, const float *v, float vb, double *out, int n_threads)
    double sce_multinomial_loss_grad_csr_i64_f32(sce_int n, sce_int d, sce_int K, const float *data, const int64_t *indices, const int64_t *indptr, const int64_t *labels, const float *sw, const float *W, const float *b, double *grad, float *prob, int n_threads)
    double sce_multinomial_hessp_csr_i64_f32(sce_int n, sce_int d, sce_int K, const float *data, const int64_t *indices, const int64_t *indptr, const float *sw, const float *prob, const float *V, const float *vb, double *out, int n_threads)
    void sce_sq_colsums_csr_i32_f64(sce_int n, sce_int d, sce_int K, const double *data, const int32_t *indices, const int32_t *indptr, const double *C, double *out, int n_threads)
    void sce_sq_colsums_csr_i64_f64(sce_int n, sce_int d, sce_int K, const double *data, const int64_t *indices, const int64_t *indptr, const double *C, double *out, int n_threads)
    void sce_sq_colsums_csr_i32_f32(sce_int n, sce_int d, sce_int K, const float *data, const int32_t *indices, const int32_t *indptr, const double *C, double *out, int n_threads)
    void sce_sq_colsums_csr_i64_f32(sce_int n, sce_int d, sce_int K, const float *data, const int64_t *indices, const int64_t *indptr, const double *C, double *out, int n_threads)
    void sce_gram_dense_f64(sce_int n, sce_int d, const double *X, const double *weights, int fit_intercept, double *out, int n_threads)
    void sce_gram_dense_f32(sce_int n, sce_int d, const float *X, const float *weights, int fit_intercept, double *out, int n_threads)
    void sce_gram_csr_i32_f64(sce_int n, sce_int d, const double *data, const int32_t *indices, const int32_t *indptr, const double *weights, int fit_intercept, int sorted_indices, double *out, int n_threads)
    void sce_gram_csr_i32_f32(sce_int n, sce_int d, const float *data, const int32_t *indices, const int32_t *indptr, const float *weights, int fit_intercept, int sorted_indices, double *out, int n_threads)
    void sce_gram_csr_i64_f64(sce_int n, sce_int d, const double *data, const int64_t *indices, const int64_t *indptr, const double *weights, int fit_intercept, int sorted_indices, double *out, int n_threads)
    void sce_gram_csr_i64_f32(sce_int n, sce_int d, const float *data, const int64_t *indices, const int64_t *indptr, const float *weights, int fit_intercept, int sorted_indices, double *out, int n_threads)

    void sce_bias_sigmoid_f64(sce_int n, sce_int h, double *Z, const double *b, int n_threads)
    void sce_bias_sigmoid_f32(sce_int n, sce_int h, float *Z, const float *b, int n_threads)
    void sce_add_bias_f64(sce_int n, sce_int h, double *Z, const double *b, int n_threads)
    void sce_add_bias_f32(sce_int n, sce_int h, float *Z, const float *b, int n_threads)
    int sce_sigmoid_backprop_f64(sce_int n, sce_int h, double *D, const double *A, double *db, int n_threads)
    int sce_sigmoid_backprop_f32(sce_int n, sce_int h, float *D, const float *A, float *db, int n_threads)
    double sce_adam_step_f64(sce_int n, sce_int n_penalized, double l2, double *p, const double *g, double *m, double *v, double lr_t, double b1, double b2, double eps)
    double sce_adam_step_f32(sce_int n, sce_int n_penalized, float l2, float *p, const float *g, float *m, float *v, float lr_t, float b1, float b2, float eps)
    double sce_sgd_step_f64(sce_int n, sce_int n_penalized, double l2, double *p, const double *g, double *u, double lr, double mu, int nesterov)
    double sce_sgd_step_f32(sce_int n, sce_int n_penalized, float l2, float *p, const float *g, float *u, float lr, float mu, int nesterov)

BAD_TARGET = SCE_BAD_TARGET
BAD_SAMPLE_WEIGHT = SCE_BAD_SAMPLE_WEIGHT
BAD_POS_WEIGHT = SCE_BAD_POS_WEIGHT
BAD_LABEL = SCE_BAD_LABEL

ctypedef void (*map_f64)(sce_int, const double *, double *, int) noexcept nogil
ctypedef void (*map_f32)(sce_int, const float *, float *, int) noexcept nogil

# Index of each elementwise map in the tables below.
MAPS = {"exp": 0, "log1p": 1, "sigmoid": 2, "log_sigmoid": 3, "softplus": 4}
cdef map_f64[5] _MAPS_F64 = [sce_exp_array_f64, sce_log1p_array_f64, sce_sigmoid_f64,
                             sce_log_sigmoid_f64, sce_softplus_f64]
cdef map_f32[5] _MAPS_F32 = [sce_exp_array_f32, sce_log1p_array_f32, sce_sigmoid_f32,
                             sce_log_sigmoid_f32, sce_softplus_f32]


def max_threads():
    """omp_get_max_threads() (honours OMP_NUM_THREADS and threadpoolctl), 1 without OpenMP."""
    return sce_max_threads()


def has_openmp():
    return bool(sce_has_openmp())


def simd_path():
    """Which compiled clone of the vectorized kernels runs on this CPU."""
    return sce_simd_path().decode()


def elementwise(int which, const floating[::1] x, floating[::1] out, int n_threads):
    """out[i] = f(x[i]) for the map number `which` (see MAPS); out may be x's own buffer."""
    cdef sce_int n = x.shape[0]
    if n == 0:
        return
    with nogil:
        if floating is double:
            _MAPS_F64[which](n, &x[0], &out[0], n_threads)
        else:
            _MAPS_F32[which](n, &x[0], &out[0], n_threads)


def bce_logits(const floating[::1] z, const floating[::1] y, const floating[::1] sw,
               double sw_scalar, const floating[::1] pw, double pw_scalar, double grad_scale,
               floating[::1] loss, floating[::1] grad, int n_threads):
    """Returns (sum of weighted losses, status bits).  sw / pw: arrays of len(z) or None (then the
    scalar is used for every element); loss / grad: outputs of len(z) or None."""
    cdef sce_int n = z.shape[0]
    cdef int status = 0
    cdef double total = 0.0
    if n == 0:
        return 0.0, 0
    cdef const floating *swp = &sw[0] if sw is not None else NULL
    cdef const floating *pwp = &pw[0] if pw is not None else NULL
    cdef floating *lp = &loss[0] if loss is not None else NULL
    cdef floating *gp = &grad[0] if grad is not None else NULL
    with nogil:
        if floating is double:
            total = sce_bce_logits_loss_grad_f64(n, &z[0], &y[0], swp, sw_scalar, pwp, pw_scalar,
                                                 grad_scale, lp, gp, n_threads, &status)
        else:
            total = sce_bce_logits_loss_grad_f32(n, &z[0], &y[0], swp, <float>sw_scalar, pwp,
                                                 <float>pw_scalar, <float>grad_scale, lp, gp,
                                                 n_threads, &status)
    return total, status


def softmax_xent(const floating[:, ::1] z, const int64_t[::1] labels,
                 const floating[:, ::1] target, const floating[::1] sw, double grad_scale,
                 floating[::1] loss, floating[:, ::1] grad, int n_threads):
    """Returns (sum of weighted row losses, status bits).  Exactly one of labels / target given."""
    cdef sce_int n_rows = z.shape[0], n_classes = z.shape[1]
    cdef int status = 0
    cdef double total = 0.0
    if n_rows == 0 or n_classes == 0:
        return 0.0, 0
    cdef const int64_t *lab = &labels[0] if labels is not None else NULL
    cdef const floating *tp = &target[0, 0] if target is not None else NULL
    cdef const floating *swp = &sw[0] if sw is not None else NULL
    cdef floating *lp = &loss[0] if loss is not None else NULL
    cdef floating *gp = &grad[0, 0] if grad is not None else NULL
    with nogil:
        if floating is double:
            total = sce_softmax_xent_loss_grad_f64(n_rows, n_classes, &z[0, 0], lab, tp, swp,
                                                   grad_scale, lp, gp, n_threads, &status)
        else:
            total = sce_softmax_xent_loss_grad_f32(n_rows, n_classes, &z[0, 0], lab, tp, swp,
                                                   <float>grad_scale, lp, gp, n_threads, &status)
    return total, status


# ---- logistic regression passes (csrc/sce_glm_tmpl.h) ------------------------------------------
# Binary: coef w (d,), intercept b, y in {0, 1}; out / grad: float64 (d + 1,) = [X^T r, sum r].
# Multinomial: W (K, d), b (K,), labels in [0, K); out / grad: float64 (K * (d + 1),) =
# [X^T R as (K, d) row-major, column sums of R].  Returns the loss sum sum_i sw_i l_i.
ctypedef fused index_t:
    int32_t
    int64_t


def logistic_dense(const floating[:, ::1] X, const floating[::1] y, const floating[::1] sw,
                   const floating[::1] w, double b, double[::1] grad, floating[::1] hdiag,
                   int n_threads):
    cdef sce_int n = X.shape[0], d = X.shape[1]
    cdef double loss
    with nogil:
        if floating is double:
            loss = sce_logistic_loss_grad_dense_f64(n, d, &X[0, 0], &y[0], &sw[0], &w[0], b,
                                                    &grad[0], &hdiag[0], n_threads)
        else:
            loss = sce_logistic_loss_grad_dense_f32(n, d, &X[0, 0], &y[0], &sw[0], &w[0], <float>b,
                                                    &grad[0], &hdiag[0], n_threads)
    return loss


def logistic_hessp_dense(const floating[:, ::1] X, const floating[::1] hdiag,
                         const floating[::1] v, double vb, double[::1] out, int n_threads):
    cdef sce_int n = X.shape[0], d = X.shape[1]
    with nogil:
        if floating is double:
            sce_logistic_hessp_dense_f64(n, d, &X[0, 0], &hdiag[0], &v[0], vb, &out[0], n_threads)
        else:
            sce_logistic_hessp_dense_f32(n, d, &X[0, 0], &hdiag[0], &v[0], <float>vb, &out[0],
                                         n_threads)


def logistic_csr(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
                 sce_int d, const floating[::1] y, const floating[::1] sw, const floating[::1] w,
                 double b, double[::1] grad, floating[::1] hdiag, int n_threads):
    cdef sce_int n = indptr.shape[0] - 1
    cdef double loss
    cdef const floating *dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            if index_t is int32_t:
                loss = sce_logistic_loss_grad_csr_i32_f64(n, d, dp, ip, &indptr[0], &y[0], &sw[0],
                                                          &w[0], b, &grad[0], &hdiag[0], n_threads)
            else:
                loss = sce_logistic_loss_grad_csr_i64_f64(n, d, dp, ip, &indptr[0], &y[0], &sw[0],
                                                          &w[0], b, &grad[0], &hdiag[0], n_threads)
        else:
            if index_t is int32_t:
                loss = sce_logistic_loss_grad_csr_i32_f32(n, d, dp, ip, &indptr[0], &y[0], &sw[0],
                                                          &w[0], <float>b, &grad[0], &hdiag[0],
                                                          n_threads)
            else:
                loss = sce_logistic_loss_grad_csr_i64_f32(n, d, dp, ip, &indptr[0], &y[0], &sw[0],
                                                          &w[0], <float>b, &grad[0], &hdiag[0],
                                                          n_threads)
    return loss


def logistic_hessp_csr(const floating[::1] data, const index_t[::1] indices,
                       const index_t[::1] indptr, sce_int d, const floating[::1] hdiag,
                       const floating[::1] v, double vb, double[::1] out, int n_threads):
    cdef sce_int n = indptr.shape[0] - 1
    cdef const floating *dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            if index_t is int32_t:
                sce_logistic_hessp_csr_i32_f64(n, d, dp, ip, &indptr[0], &hdiag[0], &v[0], vb,
                                               &out[0], n_threads)
            else:
                sce_logistic_hessp_csr_i64_f64(n, d, dp, ip, &indptr[0], &hdiag[0], &v[0], vb,
                                               &out[0], n_threads)
        else:
            if index_t is int32_t:
                sce_logistic_hessp_csr_i32_f32(n, d, dp, ip, &indptr[0], &hdiag[0], &v[0],
                                               <float>vb, &out[0], n_threads)
            else:
                sce_logistic_hessp_csr_i64_f32(n, d, dp, ip, &indptr[0], &hdiag[0], &v[0],
                                               <float>vb, &out[0], n_threads)


def multinomial_dense(const floating[:, ::1] X, const int64_t[::1] labels,
                      const floating[::1] sw, const floating[:, ::1] W, const floating[::1] b,
                      double[::1] grad, floating[:, ::1] prob, int n_threads):
    cdef sce_int n = X.shape[0], d = X.shape[1], K = W.shape[0]
    cdef double loss
    with nogil:
        if floating is double:
            loss = sce_multinomial_loss_grad_dense_f64(n, d, K, &X[0, 0], &labels[0], &sw[0],
                                                       &W[0, 0], &b[0], &grad[0], &prob[0, 0],
                                                       n_threads)
        else:
            loss = sce_multinomial_loss_grad_dense_f32(n, d, K, &X[0, 0], &labels[0], &sw[0],
                                                       &W[0, 0], &b[0], &grad[0], &prob[0, 0],
                                                       n_threads)
    if loss == -INFINITY:
        raise MemoryError("a kernel could not allocate its scratch memory")
    return loss


def multinomial_hessp_dense(const floating[:, ::1] X, const floating[::1] sw,
                            const floating[:, ::1] prob, const floating[:, ::1] V,
                            const floating[::1] vb, double[::1] out, int n_threads):
    cdef sce_int n = X.shape[0], d = X.shape[1], K = V.shape[0]
    cdef double status = 0.0
    with nogil:
        if floating is double:
            status = sce_multinomial_hessp_dense_f64(n, d, K, &X[0, 0], &sw[0], &prob[0, 0], &V[0, 0],
                                                     &vb[0], &out[0], n_threads)
        else:
            status = sce_multinomial_hessp_dense_f32(n, d, K, &X[0, 0], &sw[0], &prob[0, 0], &V[0, 0],
                                                     &vb[0], &out[0], n_threads)
    if status == -INFINITY:
        raise MemoryError("a kernel could not allocate its scratch memory")


def multinomial_csr(const floating[::1] data, const index_t[::1] indices,
                    const index_t[::1] indptr, sce_int d, const int64_t[::1] labels,
                    const floating[::1] sw, const floating[:, ::1] W, const floating[::1] b,
                    double[::1] grad, floating[:, ::1] prob, int n_threads):
    cdef sce_int n = indptr.shape[0] - 1, K = W.shape[0]
    cdef double loss
    cdef const floating *dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            if index_t is int32_t:
                loss = sce_multinomial_loss_grad_csr_i32_f64(n, d, K, dp, ip, &indptr[0],
                                                             &labels[0], &sw[0], &W[0, 0], &b[0],
                                                             &grad[0], &prob[0, 0], n_threads)
            else:
                loss = sce_multinomial_loss_grad_csr_i64_f64(n, d, K, dp, ip, &indptr[0],
                                                             &labels[0], &sw[0], &W[0, 0], &b[0],
                                                             &grad[0], &prob[0, 0], n_threads)
        else:
            if index_t is int32_t:
                loss = sce_multinomial_loss_grad_csr_i32_f32(n, d, K, dp, ip, &indptr[0],
                                                             &labels[0], &sw[0], &W[0, 0], &b[0],
                                                             &grad[0], &prob[0, 0], n_threads)
            else:
                loss = sce_multinomial_loss_grad_csr_i64_f32(n, d, K, dp, ip, &indptr[0],
                                                             &labels[0], &sw[0], &W[0, 0], &b[0],
                                                             &grad[0], &prob[0, 0], n_threads)
    if loss == -INFINITY:
        raise MemoryError("a kernel could not allocate its scratch memory")
    return loss


def multinomial_hessp_csr(const floating[::1] data, const index_t[::1] indices,
                          const index_t[::1] indptr, sce_int d, const floating[::1] sw,
                          const floating[:, ::1] prob, const floating[:, ::1] V,
                          const floating[::1] vb, double[::1] out, int n_threads):
    cdef sce_int n = indptr.shape[0] - 1, K = V.shape[0]
    cdef const floating *dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef double status = 0.0
    with nogil:
        if floating is double:
            if index_t is int32_t:
                status = sce_multinomial_hessp_csr_i32_f64(n, d, K, dp, ip, &indptr[0], &sw[0], &prob[0, 0],
                                                           &V[0, 0], &vb[0], &out[0], n_threads)
            else:
                status = sce_multinomial_hessp_csr_i64_f64(n, d, K, dp, ip, &indptr[0], &sw[0], &prob[0, 0],
                                                           &V[0, 0], &vb[0], &out[0], n_threads)
        else:
            if index_t is int32_t:
                status = sce_multinomial_hessp_csr_i32_f32(n, d, K, dp, ip, &indptr[0], &sw[0], &prob[0, 0],
                                                           &V[0, 0], &vb[0], &out[0], n_threads)
            else:
                status = sce_multinomial_hessp_csr_i64_f32(n, d, K, dp, ip, &indptr[0], &sw[0], &prob[0, 0],
                                                           &V[0, 0], &vb[0], &out[0], n_threads)
    if status == -INFINITY:
        raise MemoryError("a kernel could not allocate its scratch memory")


def sq_colsums_csr(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
                   sce_int d, const double[:, ::1] C, double[::1] out, int n_threads):
    """out = [sum_i C[i, k] x_ij^2 as (K, d), sum_i C[i, k] (K)] for weights C (n, K)."""
    cdef sce_int n = indptr.shape[0] - 1, K = C.shape[1]
    cdef const floating *dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    cdef const double *cp = &C[0, 0] if n > 0 else NULL
    with nogil:
        if floating is double:
            if index_t is int32_t:
                sce_sq_colsums_csr_i32_f64(n, d, K, dp, ip, &indptr[0], cp, &out[0], n_threads)
            else:
                sce_sq_colsums_csr_i64_f64(n, d, K, dp, ip, &indptr[0], cp, &out[0], n_threads)
        else:
            if index_t is int32_t:
                sce_sq_colsums_csr_i32_f32(n, d, K, dp, ip, &indptr[0], cp, &out[0], n_threads)
            else:
                sce_sq_colsums_csr_i64_f32(n, d, K, dp, ip, &indptr[0], cp, &out[0], n_threads)


def gram_dense(const floating[:, ::1] X, const floating[::1] weights, bint fit_intercept,
               double[:, ::1] out, int n_threads):
    """X~^T diag(weights) X~ (X~ = [X, 1] with an intercept) into out (dd, dd)."""
    cdef sce_int n = X.shape[0], d = X.shape[1]
    cdef const floating *xp = &X[0, 0] if n > 0 and d > 0 else NULL
    cdef const floating *wp = &weights[0] if n > 0 else NULL
    with nogil:
        if floating is double:
            sce_gram_dense_f64(n, d, xp, wp, fit_intercept, &out[0, 0], n_threads)
        else:
            sce_gram_dense_f32(n, d, xp, wp, fit_intercept, &out[0, 0], n_threads)


def gram_csr(const floating[::1] data, const index_t[::1] indices, const index_t[::1] indptr,
             sce_int d, const floating[::1] weights, bint fit_intercept, bint sorted_indices,
             double[:, ::1] out, int n_threads):
    """X~^T diag(weights) X~ (X~ = [X, 1] with an intercept) into out (dd, dd)."""
    cdef sce_int n = indptr.shape[0] - 1
    cdef const floating *dp = &data[0] if data.shape[0] > 0 else NULL
    cdef const index_t *ip = &indices[0] if indices.shape[0] > 0 else NULL
    with nogil:
        if floating is double:
            if index_t is int32_t:
                sce_gram_csr_i32_f64(n, d, dp, ip, &indptr[0], &weights[0], fit_intercept,
                                     sorted_indices, &out[0, 0], n_threads)
            else:
                sce_gram_csr_i64_f64(n, d, dp, ip, &indptr[0], &weights[0], fit_intercept,
                                     sorted_indices, &out[0, 0], n_threads)
        else:
            if index_t is int32_t:
                sce_gram_csr_i32_f32(n, d, dp, ip, &indptr[0], &weights[0], fit_intercept,
                                     sorted_indices, &out[0, 0], n_threads)
            else:
                sce_gram_csr_i64_f32(n, d, dp, ip, &indptr[0], &weights[0], fit_intercept,
                                     sorted_indices, &out[0, 0], n_threads)


# ---- sigmoid MLP (csrc/sce_mlp_tmpl.h) ------------------------------------------------------------
# Layer buffers are C-contiguous (n, h), updated in place; biases (h,).

def bias_layer(floating[:, ::1] Z, const floating[::1] b, bint sigmoid, int n_threads):
    """Z = sigmoid(Z + b) (a hidden layer), or Z = Z + b (the output layer), in place."""
    cdef sce_int n = Z.shape[0], h = Z.shape[1]
    if n == 0 or h == 0:
        return
    with nogil:
        if floating is double:
            if sigmoid:
                sce_bias_sigmoid_f64(n, h, &Z[0, 0], &b[0], n_threads)
            else:
                sce_add_bias_f64(n, h, &Z[0, 0], &b[0], n_threads)
        else:
            if sigmoid:
                sce_bias_sigmoid_f32(n, h, &Z[0, 0], &b[0], n_threads)
            else:
                sce_add_bias_f32(n, h, &Z[0, 0], &b[0], n_threads)


def sigmoid_backprop(floating[:, ::1] D, const floating[:, ::1] A, floating[::1] db,
                     int n_threads):
    """D *= A (1 - A) in place when A is not None; db = column sums of D."""
    cdef sce_int n = D.shape[0], h = D.shape[1]
    cdef int rc = 0
    if h == 0:
        return
    cdef floating *dp = &D[0, 0] if n > 0 else NULL
    cdef const floating *ap = &A[0, 0] if A is not None and n > 0 else NULL
    with nogil:
        if floating is double:
            rc = sce_sigmoid_backprop_f64(n, h, dp, ap, &db[0], n_threads)
        else:
            rc = sce_sigmoid_backprop_f32(n, h, dp, ap, &db[0], n_threads)
    if rc != 0:
        raise MemoryError()


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
              sce_int n_penalized, double l2, double lr_t, double b1, double b2, double eps):
    """One Adam step over the flat parameters p; returns sum of p[:n_penalized]^2 before it."""
    cdef sce_int n = p.shape[0]
    cdef double sq
    with nogil:
        if floating is double:
            sq = sce_adam_step_f64(n, n_penalized, l2, &p[0], &g[0], &m[0], &v[0], lr_t, b1, b2,
                                   eps)
        else:
            sq = sce_adam_step_f32(n, n_penalized, <float>l2, &p[0], &g[0], &m[0], &v[0],
                                   <float>lr_t, <float>b1, <float>b2, <float>eps)
    return sq


def sgd_step(floating[::1] p, const floating[::1] g, floating[::1] u, sce_int n_penalized,
             double l2, double lr, double momentum, bint nesterov):
    """One SGD-with-momentum step over the flat parameters p; returns sum of p[:n_penalized]^2
    before it."""
    cdef sce_int n = p.shape[0]
    cdef double sq
    with nogil:
        if floating is double:
            sq = sce_sgd_step_f64(n, n_penalized, l2, &p[0], &g[0], &u[0], lr, momentum, nesterov)
        else:
            sq = sce_sgd_step_f32(n, n_penalized, <float>l2, &p[0], &g[0], &u[0], <float>lr,
                                  <float>momentum, nesterov)
    return sq


# ---- sparse input (csrc/sce_kernels.c) ------------------------------------------------------------

cdef extern from "sce_kernels.h" nogil:
    int sce_csr_check_i32(sce_int n, sce_int d, sce_int len, const int32_t *indices,
                          const int32_t *indptr, int *canonical)
    int sce_csr_check_i64(sce_int n, sce_int d, sce_int len, const int64_t *indices,
                          const int64_t *indptr, int *canonical)


def csr_check(const index_t[::1] indices, const index_t[::1] indptr, sce_int d):
    """(problem code, canonical) of a CSR matrix with len(indptr) - 1 rows and d columns (see
    sce_csr_check_* in csrc/sce_kernels.h; code 0: well formed)."""
    cdef sce_int n = indptr.shape[0] - 1, length = indices.shape[0]
    cdef int canonical = 0, code = 0
    cdef const index_t *ip = &indices[0] if length > 0 else NULL
    if n < 0:
        raise ValueError("indptr must not be empty")
    with nogil:
        if index_t is int32_t:
            code = sce_csr_check_i32(n, d, length, ip, &indptr[0], &canonical)
        else:
            code = sce_csr_check_i64(n, d, length, ip, &indptr[0], &canonical)
    return code, bool(canonical)
