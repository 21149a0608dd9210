/* sce_glm_csr_tmpl.h -- the logistic-regression row workers for CSR X, one precision and one index
 * type.  Included by sce_kernels.c after sce_glm_tmpl.h (which describes the conventions) with T,
 * F(name), ITYPE (int32_t or int64_t: indices and indptr, as scipy keeps them) and FI(name) (name
 * suffixed with the index type and the precision, e.g. _i32_f64). */

/* z_i = b + sum_k data_k w[idx_k] over the rows of a block (z with stride wstride) */
SCE_INLINE void FI(sce_csr_rows_dot)(sce_int r, sce_int nb, const F(sce_glm_ctx) * c, const T *w, T b,
                                     sce_int wstride, T *z)
{
    const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;
    for (sce_int i = 0; i < nb; i++) {
        T s = 0;
        for (int64_t k = ptr[r + i]; k < ptr[r + i + 1]; k++)
            s += c->data[k] * w[idx[k]];
        z[i * wstride] = b + s;
    }
}

/* acc[idx_k] += r_i data_k, *acc_b += r_i (r with stride rstride) */
SCE_INLINE void FI(sce_csr_rows_axpy)(sce_int r, sce_int nb, const F(sce_glm_ctx) * c, const T *rv,
                                      sce_int rstride, double *acc, double *acc_b)
{
    const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;
    double rsum = 0;
    for (sce_int i = 0; i < nb; i++) {
        const T ri = rv[i * rstride];
        for (int64_t k = ptr[r + i]; k < ptr[r + i + 1]; k++)
            acc[idx[k]] += (double)(ri * c->data[k]);
        rsum += (double)ri;
    }
    *acc_b += rsum;
}

/* ---- binary ------------------------------------------------------------------------------------ */

SCE_CLONES static int FI(sce_binary_eval_csr_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                                   double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    T z[SCE_GLM_MAX_BLOCK], r[SCE_GLM_MAX_BLOCK];
    double loss = 0;
    for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {
        sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;
        FI(sce_csr_rows_dot)(s, nb, c, c->W, c->b[0], 1, z);
        loss += F(sce_binary_block)(nb, z, c->y + s, c->sw + s, r, c->curvature_out + s);
        FI(sce_csr_rows_axpy)(s, nb, c, r, 1, acc, acc + c->d);
    }
    *loss_sum += loss;
    return SCE_OK;
}

SCE_CLONES static int FI(sce_binary_hessp_csr_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                                    double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    T t[SCE_GLM_MAX_BLOCK];
    (void)loss_sum;
    for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {
        sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;
        FI(sce_csr_rows_dot)(s, nb, c, c->W, c->b[0], 1, t);
        for (sce_int i = 0; i < nb; i++)
            t[i] *= c->curvature[s + i];
        FI(sce_csr_rows_axpy)(s, nb, c, t, 1, acc, acc + c->d);
    }
    return SCE_OK;
}

/* ---- multinomial ------------------------------------------------------------------------------- */

SCE_CLONES static int FI(sce_multinomial_eval_csr_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                        double *acc, double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->K;
    const sce_int rows = r1 - r0 < SCE_GLM_MAX_BLOCK ? r1 - r0 : SCE_GLM_MAX_BLOCK;
    T *Z = F(sce_multi_scratch)(K, rows, 0);
    if (Z == NULL)
        return SCE_ERR_NOMEM;
    T *R = Z + K * rows;
    double loss = 0;
    int bad = 0;
    for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {
        sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;
        for (sce_int k = 0; k < K; k++)
            FI(sce_csr_rows_dot)(s, nb, c, c->W + k * d, c->b[k], K, Z + k);
        loss += F(sce_multinomial_block)(nb, K, Z, c->labels + s, c->sw + s, R, c->curvature_out + s * K,
                                         &bad);
        for (sce_int k = 0; k < K; k++)
            FI(sce_csr_rows_axpy)(s, nb, c, R + k, K, acc + k * d, acc + K * d + k);
    }
    free(Z);
    *loss_sum += bad ? __builtin_nan("") : loss; /* a label outside [0, K) */
    return SCE_OK;
}

SCE_CLONES static int FI(sce_multinomial_hessp_csr_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                         double *acc, double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->K;
    const sce_int rows = r1 - r0 < SCE_GLM_MAX_BLOCK ? r1 - r0 : SCE_GLM_MAX_BLOCK;
    T *Z = F(sce_multi_scratch)(K, rows, 0);
    if (Z == NULL)
        return SCE_ERR_NOMEM;
    (void)loss_sum;
    for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {
        sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;
        for (sce_int k = 0; k < K; k++)
            FI(sce_csr_rows_dot)(s, nb, c, c->W + k * d, c->b[k], K, Z + k);
        F(sce_multinomial_hessp_block)(nb, K, c->sw + s, c->curvature + s * K, Z);
        for (sce_int k = 0; k < K; k++)
            FI(sce_csr_rows_axpy)(s, nb, c, Z + k, K, acc + k * d, acc + K * d + k);
    }
    free(Z);
    return SCE_OK;
}

/* ---- weighted Gram matrix ---------------------------------------------------------------------- */

/* Upper triangle of sum_i c_i x~_i x~_i^T, x~_i = [x_i, 1 (with an intercept)], into acc as a
 * row-major (dd, dd) matrix: sum over pairs of a row's non-zeros, so the cost is sum_i nnz_i^2. */
/* The Gram matrix of the columns j with map[j] >= 0, at position map[j] (increasing with j), into
 * acc (dd, dd).  A row's kept entries are gathered first, so that the pairs cost only what the kept
 * columns hold; a row with more kept entries than the gather buffer pairs its entries in place. */
#define SCE_GRAM_GATHER 512
SCE_INLINE int FI(sce_gram_csr_mapped_rows)(const F(sce_glm_ctx) * c, sce_int r0, sce_int r1, double *acc,
                                            const int64_t *map, sce_int d, sce_int dd)
{
    const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;
    sce_int pos[SCE_GRAM_GATHER];
    double val[SCE_GRAM_GATHER];
    for (sce_int i = r0; i < r1; i++) {
        const double ci = (double)c->curvature[i];
        if (ci == 0.0)
            continue;
        sce_int m = 0;
        for (int64_t a = ptr[i]; a < ptr[i + 1] && m <= SCE_GRAM_GATHER; a++) {
            const sce_int j = (sce_int)map[idx[a]];
            if (j >= 0 && m < SCE_GRAM_GATHER) {
                pos[m] = j;
                val[m] = (double)c->data[a];
            }
            m += j >= 0;
        }
        if (m <= SCE_GRAM_GATHER) {
            for (sce_int p = 0; p < m; p++) {
                const double vp = ci * val[p];
                double *row = acc + pos[p] * dd;
                if (c->sorted_indices) { /* positions increase: the upper triangle is the rest */
                    for (sce_int q = p; q < m; q++)
                        row[pos[q]] += vp * val[q];
                } else {
                    for (sce_int q = 0; q < m; q++)
                        if (pos[q] >= pos[p])
                            row[pos[q]] += vp * val[q];
                }
                if (dd > d)
                    row[d] += vp;
            }
        } else {
            for (int64_t a = ptr[i]; a < ptr[i + 1]; a++) {
                const sce_int ja = (sce_int)map[idx[a]];
                if (ja < 0)
                    continue;
                const double va = ci * (double)c->data[a];
                double *row = acc + ja * dd;
                for (int64_t b = ptr[i]; b < ptr[i + 1]; b++) {
                    const sce_int jb = (sce_int)map[idx[b]];
                    if (jb >= ja)
                        row[jb] += va * (double)c->data[b];
                }
                if (dd > d)
                    row[d] += va;
            }
        }
        if (dd > d)
            acc[d * dd + d] += ci;
    }
    return SCE_OK;
}
#undef SCE_GRAM_GATHER

SCE_CLONES static int FI(sce_gram_csr_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                            double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;
    const int64_t *map = c->column_map;
    const sce_int d = map ? c->n_columns : c->d, dd = d + (c->fit_intercept ? 1 : 0);
    const T *cw = c->curvature;
    (void)loss_sum;
    if (map) /* the Gram matrix of some columns: entries of the others are skipped */
        return FI(sce_gram_csr_mapped_rows)(c, r0, r1, acc, map, d, dd);
    for (sce_int i = r0; i < r1; i++) {
        const double ci = (double)cw[i];
        if (ci == 0.0)
            continue;
        for (int64_t a = ptr[i]; a < ptr[i + 1]; a++) {
            const double va = ci * (double)c->data[a];
            const sce_int ja = (sce_int)idx[a];
            double *row = acc + ja * dd;
            if (c->sorted_indices) { /* the upper triangle is the rest of the row */
                for (int64_t b = a; b < ptr[i + 1]; b++)
                    row[idx[b]] += va * (double)c->data[b];
            } else {
                for (int64_t b = ptr[i]; b < ptr[i + 1]; b++) {
                    const sce_int jb = (sce_int)idx[b];
                    if (jb >= ja)
                        row[jb] += va * (double)c->data[b];
                }
            }
            if (dd > d)
                row[d] += va;
        }
        if (dd > d)
            acc[d * dd + d] += ci;
    }
    return SCE_OK;
}

/* ---- diagonal of the Hessian blocks ------------------------------------------------------------ */

/* acc[k d + j] += sum_i C[i, k] x_ij^2 and acc[K d + k] += sum_i C[i, k] for the row-major (n, K)
 * weights C. */
SCE_CLONES static int FI(sce_sq_colsums_csr_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                                  double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;
    const sce_int d = c->d, K = c->K;
    const double *C = c->C;
    (void)loss_sum;
    for (sce_int i = r0; i < r1; i++) {
        for (sce_int k = 0; k < K; k++) {
            const double cik = C[i * K + k];
            double *row = acc + k * d;
            for (int64_t a = ptr[i]; a < ptr[i + 1]; a++) {
                const double v = (double)c->data[a];
                row[idx[a]] += cik * (v * v);
            }
            acc[K * d + k] += cik;
        }
    }
    return SCE_OK;
}
