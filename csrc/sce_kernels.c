/* sce_kernels.c -- both precisions of the kernels from one set of templates, and the entry points of
 * the logistic-regression passes, which pick the precision (the threads and the interrupt check are
 * in sce_runner.c). */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sce_internal.h"
#include "sce_math.h"

/* ---- CSR structure check, per index type ----------------------------------------------------- */

#define ITYPE int32_t
#define CK(name) SCE_CAT(name, i32)
#include "sce_csr_check_tmpl.h"
#undef CK
#undef ITYPE

#define ITYPE int64_t
#define CK(name) SCE_CAT(name, i64)
#include "sce_csr_check_tmpl.h"
#undef CK
#undef ITYPE

/* ---- helpers of the logistic-regression passes that do not depend on the precision ------------ */

/* Entries per row: d for dense X, the mean number of stored entries for CSR X. */
static double sce_row_entries(const sce_rows *X)
{
    if (X->index_bytes == 0)
        return (double)X->d;
    if (X->n <= 0)
        return 0.0;
    const double nnz = X->index_bytes == 4 ? (double)((const int32_t *)X->indptr)[X->n]
                                           : (double)((const int64_t *)X->indptr)[X->n];
    return nnz / (double)X->n;
}

/* The Gram kernels accumulate the upper triangle of a symmetric row-major (dd, dd) matrix; this
 * copies it onto the lower one. */
static void sce_mirror_upper(sce_int dd, double *G)
{
    for (sce_int a = 1; a < dd; a++)
        for (sce_int b = 0; b < a; b++)
            G[a * dd + b] = G[b * dd + a];
}

/* ---- the kernels, per precision --------------------------------------------------------------- */

#define T double
#define T_MAX DBL_MAX
#define SUF f64
#define SCE_SQRT sqrt
#define SCE_FABS fabs
#define T_LN2_LO SCE_LN2_LO_F64
#define T_INT int64_t
#define T_UINT uint64_t
#define F(name) SCE_CAT(name, SUF)
#include "sce_precision_tmpl.h"
#undef F
#undef T_LN2_LO
#undef T_INT
#undef T_UINT
#undef SCE_SQRT
#undef SCE_FABS
#undef SUF
#undef T_MAX
#undef T

#define T float
#define T_MAX FLT_MAX
#define SUF f32
#define SCE_SQRT sqrtf
#define SCE_FABS fabsf
#define T_LN2_LO SCE_LN2_LO_F32
#define T_INT int32_t
#define T_UINT uint32_t
#define F(name) SCE_CAT(name, SUF)
#include "sce_precision_tmpl.h"
#undef F
#undef T_LN2_LO
#undef T_INT
#undef T_UINT
#undef SCE_SQRT
#undef SCE_FABS
#undef SUF
#undef T_MAX
#undef T

/* ---- entry points of the logistic-regression passes (sce_kernels.h) -------------------------- */

/* A description no kernel takes: the bridge checks these, the C API checks them again. */
static int sce_rows_invalid(const sce_rows *X)
{
    return X == NULL || (X->dtype != SCE_F32 && X->dtype != SCE_F64) ||
           (X->index_bytes != 0 && X->index_bytes != 4 && X->index_bytes != 8) || X->n < 0 || X->d < 0;
}

int sce_logistic_eval(const sce_rows *X, sce_int K, const void *targets, const void *sw, const void *W,
                      const void *b, double *grad, void *curvature, int n_threads, double *loss_sum)
{
    if (sce_rows_invalid(X) || K < 1)
        return SCE_ERR_INVALID;
    return X->dtype == SCE_F64
               ? sce_logistic_eval_f64(X, K, targets, sw, W, b, grad, curvature, n_threads, loss_sum)
               : sce_logistic_eval_f32(X, K, targets, sw, W, b, grad, curvature, n_threads, loss_sum);
}

int sce_logistic_hessp(const sce_rows *X, sce_int K, const void *sw, const void *curvature, const void *V,
                       const void *vb, double *out, int n_threads)
{
    if (sce_rows_invalid(X) || K < 1)
        return SCE_ERR_INVALID;
    return X->dtype == SCE_F64 ? sce_logistic_hessp_f64(X, K, sw, curvature, V, vb, out, n_threads)
                               : sce_logistic_hessp_f32(X, K, sw, curvature, V, vb, out, n_threads);
}

int sce_logistic_gram(const sce_rows *X, const void *weights, int fit_intercept, int sorted_indices,
                      const int64_t *column_map, sce_int n_columns, double *out, int n_threads)
{
    if (sce_rows_invalid(X) || (column_map != NULL && X->index_bytes == 0))
        return SCE_ERR_INVALID;
    return X->dtype == SCE_F64 ? sce_logistic_gram_f64(X, weights, fit_intercept, sorted_indices, column_map,
                                                       n_columns, out, n_threads)
                               : sce_logistic_gram_f32(X, weights, fit_intercept, sorted_indices, column_map,
                                                       n_columns, out, n_threads);
}

int sce_logistic_sq_colsums(const sce_rows *X, sce_int K, const double *C, double *out, int n_threads)
{
    if (sce_rows_invalid(X) || K < 1)
        return SCE_ERR_INVALID;
    return X->dtype == SCE_F64 ? sce_logistic_sq_colsums_f64(X, K, C, out, n_threads)
                               : sce_logistic_sq_colsums_f32(X, K, C, out, n_threads);
}
