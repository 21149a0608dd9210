# Declarations of csrc/sce_kernels.h for the Cython bridge (sce/_core.pyx): the C API, one line per
# entry point; what each computes is documented in the header.
from libc.stdint cimport int32_t, int64_t


cdef extern from "sce_kernels.h" nogil:
    ctypedef int64_t sce_int
    int SCE_OK, SCE_ERR_NOMEM, SCE_ERR_INTERRUPTED
    int SCE_BAD_TARGET, SCE_BAD_SAMPLE_WEIGHT, SCE_BAD_POS_WEIGHT, SCE_BAD_LABEL
    int SCE_F32, SCE_F64
    int sce_max_threads()
    int sce_has_openmp()
    const char *sce_simd_path()
    ctypedef int (*sce_interrupt_fn)() noexcept nogil
    void sce_set_interrupt_hook(sce_interrupt_fn hook)

    int sce_exp_array_f64(sce_int n, const double *x, double *out, int n_threads)
    int sce_exp_array_f32(sce_int n, const float *x, float *out, int n_threads)
    int sce_log1p_array_f64(sce_int n, const double *x, double *out, int n_threads)
    int sce_log1p_array_f32(sce_int n, const float *x, float *out, int n_threads)
    int sce_sigmoid_f64(sce_int n, const double *x, double *out, int n_threads)
    int sce_sigmoid_f32(sce_int n, const float *x, float *out, int n_threads)
    int sce_log_sigmoid_f64(sce_int n, const double *x, double *out, int n_threads)
    int sce_log_sigmoid_f32(sce_int n, const float *x, float *out, int n_threads)
    int sce_softplus_f64(sce_int n, const double *x, double *out, int n_threads)
    int sce_softplus_f32(sce_int n, const float *x, float *out, int n_threads)

    int sce_bce_logits_loss_grad_f64(sce_int n, const double *z, const double *y, const double *sw, double sw_scalar,
                                     const double *pw, double pw_scalar, double grad_scale, double *loss,
                                     double *grad, int n_threads, int *bad, double *loss_sum)
    int sce_bce_logits_loss_grad_f32(sce_int n, const float *z, const float *y, const float *sw, float sw_scalar,
                                     const float *pw, float pw_scalar, float grad_scale, float *loss, float *grad,
                                     int n_threads, int *bad, double *loss_sum)
    int sce_softmax_xent_loss_grad_f64(sce_int n_rows, sce_int n_classes, const double *z, const int64_t *labels,
                                       const double *target, const double *sw, double grad_scale, double *loss,
                                       double *grad, int n_threads, int *bad, double *loss_sum)
    int sce_softmax_xent_loss_grad_f32(sce_int n_rows, sce_int n_classes, const float *z, const int64_t *labels,
                                       const float *target, const float *sw, float grad_scale, float *loss,
                                       float *grad, int n_threads, int *bad, double *loss_sum)

    ctypedef struct sce_rows:
        int dtype
        int index_bytes
        sce_int n
        sce_int d
        const void *X
        const void *data
        const void *indices
        const void *indptr
    int sce_logistic_eval(const sce_rows *X, sce_int K, const void *targets, const void *sw, const void *W,
                          const void *b, double *grad, void *curvature, int n_threads, double *loss_sum)
    int sce_logistic_hessp(const sce_rows *X, sce_int K, const void *sw, const void *curvature, const void *V,
                           const void *vb, double *out, int n_threads)
    int sce_logistic_gram(const sce_rows *X, const void *weights, int fit_intercept, int sorted_indices,
                          const int64_t *column_map, sce_int n_columns, double *out, int n_threads)
    int sce_logistic_sq_colsums(const sce_rows *X, sce_int K, const double *C, double *out, int n_threads)
    int sce_l1_quadratic_cd(sce_int m, const double *H, const double *g, const double *x, const double *w,
                            double *z, double *Hz, int max_sweeps, double tol)

    int sce_bias_sigmoid_f64(sce_int n, sce_int h, double *Z, const double *b, int n_threads)
    int sce_bias_sigmoid_f32(sce_int n, sce_int h, float *Z, const float *b, int n_threads)
    int sce_add_bias_f64(sce_int n, sce_int h, double *Z, const double *b, int n_threads)
    int sce_add_bias_f32(sce_int n, sce_int h, float *Z, const float *b, int n_threads)
    int sce_sigmoid_backprop_f64(sce_int n, sce_int h, double *D, const double *A, double *db, int n_threads)
    int sce_sigmoid_backprop_f32(sce_int n, sce_int h, float *D, const float *A, float *db, int n_threads)
    double sce_adam_step_f64(sce_int n, sce_int n_penalized, double l2, double *p, const double *g, double *m,
                             double *v, double lr_t, double b1, double b2, double eps)
    double sce_adam_step_f32(sce_int n, sce_int n_penalized, float l2, float *p, const float *g, float *m,
                             float *v, float lr_t, float b1, float b2, float eps)
    double sce_sgd_step_f64(sce_int n, sce_int n_penalized, double l2, double *p, const double *g, double *u,
                            double lr, double mu, int nesterov)
    double sce_sgd_step_f32(sce_int n, sce_int n_penalized, float l2, float *p, const float *g, float *u,
                            float lr, float mu, int nesterov)

    int sce_csr_check_i32(sce_int n, sce_int d, sce_int len, const int32_t *indices, const int32_t *indptr,
                          int *canonical)
    int sce_csr_check_i64(sce_int n, sce_int d, sce_int len, const int64_t *indices, const int64_t *indptr,
                          int *canonical)
