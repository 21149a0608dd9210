/* sce_glm_tmpl.h -- what the one-pass logistic-regression kernels of one precision share: their
 * context and the per-block loss formulas.  Included by sce_kernels.c after sce_kernels_tmpl.h with
 * T and F(name); the passes are in sce_glm_dense_tmpl.h (dense X), sce_glm_csr_tmpl.h (CSR X) and
 * sce_glm_passes_tmpl.h (the entry points).
 *
 * Every pass reads X once: rows are processed in blocks small enough to stay in L2
 * (SCE_GLM_BLOCK_BYTES); for a block, the logits are computed, the fused loss / gradient formula runs
 * on them, and X_block^T r is accumulated before the block leaves cache.  The row runner
 * (sce_run_rows) splits the rows into partitions summed into vectors of their own and added in a
 * fixed order: the result does not depend on the thread count.
 *
 * Conventions.  Binary (K = 1): targets y in [0, 1], coefficients W (1, d), intercept b (1); the
 * accumulator holds [X^T r (d), sum r].  Multinomial (K >= 2): labels in [0, K), W (K, d) row-major,
 * b (K); the accumulator holds [X^T R as (K, d), column sums of R (K)].  A worker adds its loss sum
 * sum_i sw_i l_i; penalties and the C factor are the caller's. */

typedef struct {
    sce_int d, K;
    const T *X;                   /* dense: row-major (n, d) */
    const T *data;                /* CSR values ... */
    const void *indices, *indptr; /* ... and index arrays, of the type of the CSR template */
    const T *y;                   /* binary targets */
    const int64_t *labels;        /* multinomial labels */
    const T *sw;                  /* sample weights */
    const T *W, *b;               /* coefficients and intercepts (the direction V, vb in hessp) */
    const T *curvature;           /* hessp: the curvature of eval; Gram: the weights */
    T *curvature_out;             /* eval: sw sigma (1 - sigma) (binary) / the probabilities */
    const double *C;              /* sq_colsums: row-major (n, K) weights */
    int sorted_indices;           /* CSR: column indices strictly increasing within each row */
    int fit_intercept;            /* Gram: append the column of ones */
    const int64_t *column_map;    /* CSR Gram: position of each column in the matrix (-1: left out), or NULL */
    sce_int n_columns;            /* CSR Gram with a column map: columns kept */
} F(sce_glm_ctx);

/* Rows per block: X_block of about SCE_GLM_BLOCK_BYTES stays in L2 between the two uses. */
static inline sce_int F(sce_glm_block_rows)(sce_int d)
{
    sce_int rows = SCE_GLM_BLOCK_BYTES / ((d > 0 ? d : 1) * (sce_int)sizeof(T));
    rows -= rows % 4; /* whole groups of four rows */
    return rows < 4 ? 4 : rows > SCE_GLM_MAX_BLOCK ? SCE_GLM_MAX_BLOCK : rows;
}

/* Binary logistic loss on a block of logits z: loss sum, r = sw (sigma - y) and the curvature
 * sw sigma (1 - sigma). */
SCE_INLINE double F(sce_binary_block)(sce_int nb, const T *z, const T *y, const T *sw, T *r,
                                      T *curvature)
{
    T e[SCE_GLM_MAX_BLOCK];
    double loss = 0;
    for (sce_int i = 0; i < nb; i++)
        e[i] = F(sce_exp_neg_abs)(z[i]);
    SCE_SIMD(reduction(+ : loss))
    for (sce_int i = 0; i < nb; i++) {
        F(sce_loss_grad) lg = F(sce_bce_logits_elem)(z[i], F(sce_logistic_from_e)(e[i]), y[i], (T)1);
        loss += (double)(sw[i] * lg.loss);
        r[i] = sw[i] * lg.grad;
        curvature[i] = sw[i] * lg.curv;
    }
    return loss;
}

/* Multinomial logistic loss on a block of logits Z (nb, K): the loss sum sum_i sw_i l_i,
 * R = sw (p - onehot(y)) and the probabilities p into P; label problems OR-ed into *bad.  Fewer
 * than SCE_SOFTMAX_WIDE classes go through the strips of rows (see sce_softmax_xent_strip). */
SCE_INLINE double F(sce_multinomial_block)(sce_int nb, sce_int K, const T *Z, const int64_t *labels,
                                           const T *sw, T *R, T *P, int *bad)
{
    double loss = 0;
    if (K < SCE_SOFTMAX_WIDE) {
        for (sce_int s = 0; s < nb; s += SCE_SOFTMAX_ROWS) {
            sce_int m = s + SCE_SOFTMAX_ROWS < nb ? SCE_SOFTMAX_ROWS : nb - s;
            T li[SCE_SOFTMAX_ROWS];
            F(sce_softmax_xent_strip)(m, K, Z + s * K, labels + s, NULL, sw + s, R + s * K, P + s * K, li,
                                      bad);
            for (sce_int i = 0; i < m; i++)
                loss += (double)(sw[s + i] * li[i]);
        }
        return loss;
    }
    for (sce_int i = 0; i < nb; i++)
        loss += (double)(sw[i] * F(sce_softmax_xent_row)(K, Z + i * K, labels[i], NULL, sw[i], R + i * K,
                                                         P + i * K, bad));
    return loss;
}

/* Hessian-vector product of the multinomial loss sum: with t_i = V x_i + vb (in Z on entry),
 * u_ik = sw_i p_ik (t_ik - sum_l p_il t_il) (in Z on return). */
SCE_INLINE void F(sce_multinomial_hessp_block)(sce_int nb, sce_int K, const T *sw, const T *P, T *Z)
{
    for (sce_int i = 0; i < nb; i++) {
        const T *p = P + i * K;
        T *t = Z + i * K;
        T a = 0;
        for (sce_int k = 0; k < K; k++)
            a += p[k] * t[k];
        for (sce_int k = 0; k < K; k++)
            t[k] = sw[i] * p[k] * (t[k] - a);
    }
}

/* Scratch of the multinomial passes for blocks of up to `rows` rows: Z and R (rows, K), then d
 * doubles (a junk row).  Sized by the rows a worker is given, so that a short range of rows with
 * many classes does not allocate for a whole block. */
static T *F(sce_multi_scratch)(sce_int K, sce_int rows, sce_int d)
{
    return (T *)malloc((size_t)2 * (size_t)K * (size_t)rows * sizeof(T) + (size_t)d * sizeof(double));
}
