/* sce_glm_tmpl.h -- one-pass objective kernels for logistic regression (binary and multinomial),
 * for one precision.  Included by sce_kernels.c after sce_kernels_tmpl.h with T, T_MAX and F(name).
 *
 * Every pass reads X once: rows are processed in blocks small enough to stay in L2
 * (SCE_GLM_BLOCK_BYTES); for a block, the logits are computed, the fused loss / gradient kernel of
 * sce_kernels_tmpl.h runs on them, and X_block^T r is accumulated before the block leaves cache.
 * Threads own contiguous row ranges and accumulate into private double vectors that are added in
 * thread order (sce_run_rows): deterministic for a fixed thread count.
 *
 * Conventions.  X: dense row-major (n, d), or CSR (data, indices, indptr).  sw: per-sample weights
 * (required; the caller passes ones).  Binary: y in {0, 1} (any value in [0, 1] works), coef w (d),
 * intercept b; the accumulator holds [X^T r (d), sum r].  Multinomial: labels in [0, K), coef W
 * (K, d) row-major, intercepts b (K); the accumulator holds [X^T R as (K, d), column sums of R (K)].
 * Passes return sum_i sw_i l_i; penalties and the C factor are the caller's. */

/* Rows per block: X_block of about SCE_GLM_BLOCK_BYTES stays in L2 between the two uses. */
static inline sce_int F(sce_glm_block_rows)(sce_int d)
{
    sce_int rows = SCE_GLM_BLOCK_BYTES / ((d > 0 ? d : 1) * (sce_int)sizeof(T));
    rows -= rows % 4; /* whole groups of four rows */
    return rows < 4 ? 4 : rows > SCE_GLM_MAX_BLOCK ? SCE_GLM_MAX_BLOCK : rows;
}

/* z[i] = b + x_i . w for nb rows of a dense block; four rows share each load of w. */
SCE_INLINE void F(sce_dense_rows_dot)(sce_int nb, sce_int d, const T *Xb, const T *w, T b, T *z)
{
    sce_int i = 0;
    for (; i + 4 <= nb; i += 4) {
        const T *x0 = Xb + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        SCE_SIMD(reduction(+ : s0, s1, s2, s3))
        for (sce_int j = 0; j < d; j++) {
            T wj = w[j];
            s0 += x0[j] * wj;
            s1 += x1[j] * wj;
            s2 += x2[j] * wj;
            s3 += x3[j] * wj;
        }
        z[i] = b + s0;
        z[i + 1] = b + s1;
        z[i + 2] = b + s2;
        z[i + 3] = b + s3;
    }
    for (; i < nb; i++) {
        const T *x0 = Xb + i * d;
        T s0 = 0;
        SCE_SIMD(reduction(+ : s0))
        for (sce_int j = 0; j < d; j++)
            s0 += x0[j] * w[j];
        z[i] = b + s0;
    }
}

/* acc[j] += sum_i r[i] x_ij and *acc_b += sum_i r[i] for nb rows of a dense block; four rows share
 * each load and store of acc. */
SCE_INLINE void F(sce_dense_rows_axpy)(sce_int nb, sce_int d, const T *Xb, const T *r, double *acc,
                                       double *acc_b)
{
    sce_int i = 0;
    double rsum = 0;
    for (; i + 4 <= nb; i += 4) {
        const T *x0 = Xb + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        const T r0 = r[i], r1 = r[i + 1], r2 = r[i + 2], r3 = r[i + 3];
        SCE_SIMD()
        for (sce_int j = 0; j < d; j++)
            acc[j] += (double)((r0 * x0[j] + r1 * x1[j]) + (r2 * x2[j] + r3 * x3[j]));
        rsum += ((double)r0 + (double)r1) + ((double)r2 + (double)r3);
    }
    for (; i < nb; i++) {
        const T *x0 = Xb + i * d;
        const T r0 = r[i];
        SCE_SIMD()
        for (sce_int j = 0; j < d; j++)
            acc[j] += (double)(r0 * x0[j]);
        rsum += (double)r0;
    }
    *acc_b += rsum;
}

/* Binary logistic loss on a block of logits z (overwritten by nothing): loss sum, r = sw (sigma - y)
 * and the curvature hdiag = sw sigma (1 - sigma). */
SCE_INLINE double F(sce_logistic_block)(sce_int nb, const T *z, const T *y, const T *sw, T *r,
                                        T *hdiag)
{
    T e[SCE_GLM_MAX_BLOCK];
    double loss = 0;
    for (sce_int i = 0; i < nb; i++)
        e[i] = F(sce_exp_neg_abs)(z[i]);
    SCE_SIMD(reduction(+ : loss))
    for (sce_int i = 0; i < nb; i++) {
        F(sce_loss_grad) lg = F(sce_bce_logits_elem)(z[i], e[i], y[i], (T)1);
        loss += (double)(sw[i] * lg.loss);
        r[i] = sw[i] * lg.grad;
        hdiag[i] = sw[i] * lg.curv;
    }
    return loss;
}

typedef struct {
    sce_int d, n_classes;
    const T *X;                         /* dense */
    const T *data;                      /* CSR */
    const void *indices;                /* CSR: int32_t or int64_t */
    const void *indptr;                 /* CSR: same integer type as indices (as scipy keeps them) */
    const T *y, *sw;                    /* targets (binary), sample weights */
    const int64_t *labels;              /* multinomial */
    const T *w;                         /* coef (d) or (K, d) */
    const T *b;                         /* intercept(s) */
    T *hdiag;                           /* binary curvature out (loss pass) / in (hessp, Gram weights) */
    T *prob;                            /* multinomial probabilities out (loss pass) / in (hessp) */
    int sorted_indices;                 /* CSR: column indices ascending within each row */
    int fit_intercept;                  /* Gram: append the column of ones */
} F(sce_glm_ctx);

/* ---- binary, dense ---------------------------------------------------------------------- */

SCE_CLONES static double F(sce_logistic_dense_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                    double *acc)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, B = F(sce_glm_block_rows)(d);
    T z[SCE_GLM_MAX_BLOCK], r[SCE_GLM_MAX_BLOCK];
    double loss = 0;
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot)(nb, d, Xb, c->w, c->b[0], z);
        loss += F(sce_logistic_block)(nb, z, c->y + s, c->sw + s, r, c->hdiag + s);
        F(sce_dense_rows_axpy)(nb, d, Xb, r, acc, acc + d);
    }
    return loss;
}

/* Hessian of the loss sum times (v, vb): X^T (hdiag (X v + vb)) and its sum. */
SCE_CLONES static double F(sce_logistic_hessp_dense_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                          double *acc)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, B = F(sce_glm_block_rows)(d);
    T t[SCE_GLM_MAX_BLOCK];
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot)(nb, d, Xb, c->w, c->b[0], t);
        for (sce_int i = 0; i < nb; i++)
            t[i] *= c->hdiag[s + i];
        F(sce_dense_rows_axpy)(nb, d, Xb, t, acc, acc + d);
    }
    return 0.0;
}

double F(sce_logistic_loss_grad_dense)(sce_int n, sce_int d, const T *X, const T *y, const T *sw,
                                       const T *w, T b, double *grad, T *hdiag, int n_threads)
{
    F(sce_glm_ctx) c = {d, 1, X, NULL, NULL, NULL, y, sw, NULL, w, &b, hdiag, NULL};
    return sce_run_rows(F(sce_logistic_dense_rows), &c, n, d + 1, sce_glm_threads(n, d, n_threads), grad);
}

void F(sce_logistic_hessp_dense)(sce_int n, sce_int d, const T *X, const T *hdiag, const T *v,
                                 T vb, double *out, int n_threads)
{
    F(sce_glm_ctx) c = {d, 1, X, NULL, NULL, NULL, NULL, NULL, NULL, v, &vb, (T *)hdiag, NULL};
    sce_run_rows(F(sce_logistic_hessp_dense_rows), &c, n, d + 1, sce_glm_threads(n, d, n_threads), out);
}

/* ---- weighted Gram matrix, dense (the Hessian blocks of Newton-Cholesky) ---------------- */

/* Upper triangle of sum_i c_i x~_i x~_i^T (x~_i = [x_i, 1] with an intercept, c = hdiag) into acc
 * as a row-major (dd, dd) matrix; four rows share each load and store of an accumulator row (the
 * last group repeats rows with weight 0 where fewer than four are left). */
SCE_CLONES static double F(sce_gram_dense_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                double *acc)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, dd = d + (c->fit_intercept ? 1 : 0);
    const T *cw = c->hdiag;
    for (sce_int i = r0; i < r1; i += 4) {
        double c0 = cw[i], c1 = 0.0, c2 = 0.0, c3 = 0.0;
        const T *x0 = c->X + i * d, *x1 = x0, *x2 = x0, *x3 = x0;
        if (i + 4 <= r1) {
            x1 = x0 + d, x2 = x1 + d, x3 = x2 + d;
            c1 = cw[i + 1], c2 = cw[i + 2], c3 = cw[i + 3];
        } else if (i + 1 < r1) { /* the last rows: 2 or 3 of them */
            x1 = x0 + d, x2 = i + 2 < r1 ? x1 + d : x1;
            c1 = cw[i + 1], c2 = i + 2 < r1 ? cw[i + 2] : 0.0;
        }
        for (sce_int a = 0; a < d; a++) {
            const double u0 = c0 * x0[a], u1 = c1 * x1[a], u2 = c2 * x2[a], u3 = c3 * x3[a];
            double *row = acc + a * dd;
            SCE_SIMD()
            for (sce_int b = a; b < d; b++)
                row[b] += u0 * x0[b] + u1 * x1[b] + u2 * x2[b] + u3 * x3[b];
            if (dd > d)
                row[d] += (u0 + u1) + (u2 + u3);
        }
        if (dd > d)
            acc[d * dd + d] += (c0 + c1) + (c2 + c3);
    }
    return 0.0;
}

void F(sce_gram_dense)(sce_int n, sce_int d, const T *X, const T *weights, int fit_intercept,
                       double *out, int n_threads)
{
    F(sce_glm_ctx) c = {d, 1, X, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, (T *)weights,
                        NULL, 0, fit_intercept};
    sce_int dd = d + (fit_intercept ? 1 : 0);
    sce_run_rows(F(sce_gram_dense_rows), &c, n, dd * dd,
                 sce_glm_threads(n, dd * dd, dd * dd > (1 << 22) ? 1 : n_threads), out);
    sce_mirror_upper(dd, out);
}

/* ---- multinomial, dense ------------------------------------------------------------------ */

/* The dense multinomial passes work on tiles of four classes, then of two: each load of X (the block
 * lives in L2) serves four (two) products.  With an odd number of classes the last pair repeats
 * class K - 1 in its empty slot (dot: result not stored; axpy: accumulated into a scratch row).
 * Rows past the end of a block repeat its last row (dot: not stored; axpy: coefficient 0). */
#define SCE_ROW(i) (Xb + ((i) < nb ? (i) : nb - 1) * d)

/* Z[i, k + c] = b_k+c + x_i . W_k+c for the c < m stored classes of a tile of four. */
SCE_INLINE void F(sce_dot_tile4)(sce_int nb, sce_int d, sce_int K, const T *Xb, const T *W,
                                 const T *b, T *Z)
{
    const T *w0 = W, *w1 = W + d, *w2 = W + 2 * d, *w3 = W + 3 * d;
    for (sce_int i = 0; i < nb; i += 4) {
        const T *x0 = SCE_ROW(i), *x1 = SCE_ROW(i + 1), *x2 = SCE_ROW(i + 2), *x3 = SCE_ROW(i + 3);
        T a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        T e0 = 0, e1 = 0, e2 = 0, e3 = 0, f0 = 0, f1 = 0, f2 = 0, f3 = 0;
        SCE_SIMD(reduction(+ : a0, a1, a2, a3, c0, c1, c2, c3, e0, e1, e2, e3, f0, f1, f2, f3))
        for (sce_int j = 0; j < d; j++) {
            const T y0 = x0[j], y1 = x1[j], y2 = x2[j], y3 = x3[j];
            const T u = w0[j], v = w1[j], q = w2[j], r = w3[j];
            a0 += y0 * u; a1 += y1 * u; a2 += y2 * u; a3 += y3 * u;
            c0 += y0 * v; c1 += y1 * v; c2 += y2 * v; c3 += y3 * v;
            e0 += y0 * q; e1 += y1 * q; e2 += y2 * q; e3 += y3 * q;
            f0 += y0 * r; f1 += y1 * r; f2 += y2 * r; f3 += y3 * r;
        }
        const T s[4][4] = {{a0, c0, e0, f0}, {a1, c1, e1, f1}, {a2, c2, e2, f2}, {a3, c3, e3, f3}};
        for (sce_int ii = 0; ii < 4 && i + ii < nb; ii++)
            for (sce_int kk = 0; kk < 4; kk++)
                Z[(i + ii) * K + kk] = b[kk] + s[ii][kk];
    }
}

/* The same for a tile of m = 1 or 2 classes. */
SCE_INLINE void F(sce_dot_tile2)(sce_int nb, sce_int d, sce_int K, sce_int m, const T *Xb,
                                 const T *W, const T *b, T *Z)
{
    const T *w0 = W, *w1 = m > 1 ? W + d : W;
    for (sce_int i = 0; i < nb; i += 4) {
        const T *x0 = SCE_ROW(i), *x1 = SCE_ROW(i + 1), *x2 = SCE_ROW(i + 2), *x3 = SCE_ROW(i + 3);
        T a0 = 0, a1 = 0, a2 = 0, a3 = 0, c0 = 0, c1 = 0, c2 = 0, c3 = 0;
        SCE_SIMD(reduction(+ : a0, a1, a2, a3, c0, c1, c2, c3))
        for (sce_int j = 0; j < d; j++) {
            const T y0 = x0[j], y1 = x1[j], y2 = x2[j], y3 = x3[j];
            const T u = w0[j], v = w1[j];
            a0 += y0 * u; a1 += y1 * u; a2 += y2 * u; a3 += y3 * u;
            c0 += y0 * v; c1 += y1 * v; c2 += y2 * v; c3 += y3 * v;
        }
        const T s[4][2] = {{a0, c0}, {a1, c1}, {a2, c2}, {a3, c3}};
        for (sce_int ii = 0; ii < 4 && i + ii < nb; ii++)
            for (sce_int kk = 0; kk < m; kk++)
                Z[(i + ii) * K + kk] = b[kk] + s[ii][kk];
    }
}

/* Z[i, k] = b_k + x_i . W_k for the rows of a block (row-major (nb, K)). */
SCE_INLINE void F(sce_dense_rows_dot_multi)(sce_int nb, sce_int d, sce_int K, const T *Xb,
                                            const T *W, const T *b, T *Z)
{
    sce_int k = 0;
    for (; k + 4 <= K; k += 4)
        F(sce_dot_tile4)(nb, d, K, Xb, W + k * d, b + k, Z + k);
    for (; k < K; k += 2)
        F(sce_dot_tile2)(nb, d, K, K - k < 2 ? K - k : 2, Xb, W + k * d, b + k, Z + k);
}

/* G[c, :] += sum_i R[i, c] x_i and G_b[c] += sum_i R[i, c] for the four classes of a tile
 * (R and G_b with row stride K, G with row stride d). */
SCE_INLINE void F(sce_axpy_tile4)(sce_int nb, sce_int d, sce_int K, const T *Xb, const T *R,
                                  double *G, double *Gb)
{
    double *g0 = G, *g1 = G + d, *g2 = G + 2 * d, *g3 = G + 3 * d;
    for (sce_int i = 0; i < nb; i += 4) {
        T r[4][4] = {{0}};
        for (sce_int ii = 0; ii < 4 && i + ii < nb; ii++)
            for (sce_int kk = 0; kk < 4; kk++)
                r[ii][kk] = R[(i + ii) * K + kk];
        const T *x0 = SCE_ROW(i), *x1 = SCE_ROW(i + 1), *x2 = SCE_ROW(i + 2), *x3 = SCE_ROW(i + 3);
        const T p0 = r[0][0], p1 = r[1][0], p2 = r[2][0], p3 = r[3][0];
        const T q0 = r[0][1], q1 = r[1][1], q2 = r[2][1], q3 = r[3][1];
        const T u0 = r[0][2], u1 = r[1][2], u2 = r[2][2], u3 = r[3][2];
        const T v0 = r[0][3], v1 = r[1][3], v2 = r[2][3], v3 = r[3][3];
        SCE_SIMD()
        for (sce_int j = 0; j < d; j++) {
            const T y0 = x0[j], y1 = x1[j], y2 = x2[j], y3 = x3[j];
            g0[j] += (double)((p0 * y0 + p1 * y1) + (p2 * y2 + p3 * y3));
            g1[j] += (double)((q0 * y0 + q1 * y1) + (q2 * y2 + q3 * y3));
            g2[j] += (double)((u0 * y0 + u1 * y1) + (u2 * y2 + u3 * y3));
            g3[j] += (double)((v0 * y0 + v1 * y1) + (v2 * y2 + v3 * y3));
        }
        for (sce_int kk = 0; kk < 4; kk++)
            Gb[kk] += ((double)r[0][kk] + (double)r[1][kk]) + ((double)r[2][kk] + (double)r[3][kk]);
    }
}

/* The same for a tile of m = 1 or 2 classes; junk: d doubles of scratch for an empty slot. */
SCE_INLINE void F(sce_axpy_tile2)(sce_int nb, sce_int d, sce_int K, sce_int m, const T *Xb,
                                  const T *R, double *G, double *Gb, double *junk)
{
    double *g0 = G, *g1 = m > 1 ? G + d : junk;
    for (sce_int i = 0; i < nb; i += 4) {
        T r[4][2] = {{0}};
        for (sce_int ii = 0; ii < 4 && i + ii < nb; ii++)
            for (sce_int kk = 0; kk < m; kk++)
                r[ii][kk] = R[(i + ii) * K + kk];
        const T *x0 = SCE_ROW(i), *x1 = SCE_ROW(i + 1), *x2 = SCE_ROW(i + 2), *x3 = SCE_ROW(i + 3);
        const T p0 = r[0][0], p1 = r[1][0], p2 = r[2][0], p3 = r[3][0];
        const T q0 = r[0][1], q1 = r[1][1], q2 = r[2][1], q3 = r[3][1];
        SCE_SIMD()
        for (sce_int j = 0; j < d; j++) {
            const T y0 = x0[j], y1 = x1[j], y2 = x2[j], y3 = x3[j];
            g0[j] += (double)((p0 * y0 + p1 * y1) + (p2 * y2 + p3 * y3));
            g1[j] += (double)((q0 * y0 + q1 * y1) + (q2 * y2 + q3 * y3));
        }
        for (sce_int kk = 0; kk < m; kk++)
            Gb[kk] += ((double)r[0][kk] + (double)r[1][kk]) + ((double)r[2][kk] + (double)r[3][kk]);
    }
}
#undef SCE_ROW

/* acc[k, :] += sum_i R[i, k] x_i, acc_b[k] += sum_i R[i, k]; junk: d doubles of scratch. */
SCE_INLINE void F(sce_dense_rows_axpy_multi)(sce_int nb, sce_int d, sce_int K, const T *Xb,
                                             const T *R, double *acc, double *junk)
{
    sce_int k = 0;
    for (; k + 4 <= K; k += 4)
        F(sce_axpy_tile4)(nb, d, K, Xb, R + k, acc + k * d, acc + K * d + k);
    for (; k < K; k += 2)
        F(sce_axpy_tile2)(nb, d, K, K - k < 2 ? K - k : 2, Xb, R + k, acc + k * d, acc + K * d + k,
                          junk);
}

/* Per-block scratch for the multinomial passes: Z and R (nb, K), then d doubles (junk row). */
static T *F(sce_multi_scratch)(sce_int K, sce_int d)
{
    return (T *)malloc((size_t)2 * K * SCE_GLM_MAX_BLOCK * sizeof(T) + (size_t)d * sizeof(double));
}

SCE_CLONES static double F(sce_multinomial_dense_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                       double *acc)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->n_classes, B = F(sce_glm_block_rows)(d);
    T *Z = F(sce_multi_scratch)(K, d);
    if (Z == NULL)
        return -INFINITY; /* allocation failed: see sce_kernels.h */
    T *R = Z + K * SCE_GLM_MAX_BLOCK;
    double *junk = (double *)(R + K * SCE_GLM_MAX_BLOCK);
    double loss = 0;
    int bad = 0;
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot_multi)(nb, d, K, Xb, c->w, c->b, Z);
        for (sce_int i = 0; i < nb; i++) {
            T swi = c->sw[s + i];
            loss += (double)(swi * F(sce_softmax_xent_row)(K, Z + i * K, c->labels[s + i], NULL, swi,
                                                           R + i * K, c->prob + (s + i) * K, &bad));
        }
        F(sce_dense_rows_axpy_multi)(nb, d, K, Xb, R, acc, junk);
    }
    free(Z);
    return bad ? __builtin_nan("") : loss;
}

/* Hessian-vector product of the multinomial loss sum: with t_i = V x_i + vb,
 * u_ik = sw_i p_ik (t_ik - sum_l p_il t_il); accumulates X^T U and the column sums of U. */
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

SCE_CLONES static double F(sce_multinomial_hessp_dense_rows)(const void *vctx, sce_int r0,
                                                             sce_int r1, double *acc)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->n_classes, B = F(sce_glm_block_rows)(d);
    T *Z = F(sce_multi_scratch)(K, d);
    if (Z == NULL)
        return -INFINITY; /* allocation failed: see sce_kernels.h */
    double *junk = (double *)(Z + 2 * K * SCE_GLM_MAX_BLOCK);
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot_multi)(nb, d, K, Xb, c->w, c->b, Z);
        F(sce_multinomial_hessp_block)(nb, K, c->sw + s, c->prob + s * K, Z);
        F(sce_dense_rows_axpy_multi)(nb, d, K, Xb, Z, acc, junk);
    }
    free(Z);
    return 0.0;
}

double F(sce_multinomial_loss_grad_dense)(sce_int n, sce_int d, sce_int K, const T *X,
                                          const int64_t *labels, const T *sw, const T *W,
                                          const T *b, double *grad, T *prob, int n_threads)
{
    F(sce_glm_ctx) c = {d, K, X, NULL, NULL, NULL, NULL, sw, labels, W, b, NULL, prob};
    return sce_run_rows(F(sce_multinomial_dense_rows), &c, n, K * (d + 1),
                        sce_glm_threads(n, d * K, n_threads), grad);
}

double F(sce_multinomial_hessp_dense)(sce_int n, sce_int d, sce_int K, const T *X, const T *sw,
                                      const T *prob, const T *V, const T *vb, double *out,
                                      int n_threads)
{
    F(sce_glm_ctx) c = {d, K, X, NULL, NULL, NULL, NULL, sw, NULL, V, vb, NULL, (T *)prob};
    return sce_run_rows(F(sce_multinomial_hessp_dense_rows), &c, n, K * (d + 1),
                 sce_glm_threads(n, d * K, n_threads), out);
}

/* ---- CSR, for int32 and int64 column indices --------------------------------------------- */

#define SCE_DEFINE_CSR(ITYPE, ISUF)                                                                 \
    /* z_i = b + sum_k data_k w[idx_k] over the rows of a block */                                  \
    SCE_INLINE void F(sce_csr_rows_dot_##ISUF)(sce_int r, sce_int nb, const F(sce_glm_ctx) * c,     \
                                               const T *w, T b, sce_int wstride, T *z)              \
    {                                                                                               \
        const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;             \
        for (sce_int i = 0; i < nb; i++) {                                                          \
            T s = 0;                                                                                \
            for (int64_t k = ptr[r + i]; k < ptr[r + i + 1]; k++)                                   \
                s += c->data[k] * w[idx[k]];                                                        \
            z[i * wstride] = b + s;                                                                 \
        }                                                                                           \
    }                                                                                               \
    /* acc[idx_k] += r_i data_k, *acc_b += r_i */                                                   \
    SCE_INLINE void F(sce_csr_rows_axpy_##ISUF)(sce_int r, sce_int nb, const F(sce_glm_ctx) * c,    \
                                                const T *rv, sce_int rstride, double *acc,          \
                                                double *acc_b)                                      \
    {                                                                                               \
        const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;             \
        double rsum = 0;                                                                            \
        for (sce_int i = 0; i < nb; i++) {                                                          \
            const T ri = rv[i * rstride];                                                           \
            for (int64_t k = ptr[r + i]; k < ptr[r + i + 1]; k++)                                   \
                acc[idx[k]] += (double)(ri * c->data[k]);                                           \
            rsum += (double)ri;                                                                     \
        }                                                                                           \
        *acc_b += rsum;                                                                             \
    }                                                                                               \
    SCE_CLONES static double F(sce_logistic_csr_rows_##ISUF)(const void *vctx, sce_int r0,          \
                                                             sce_int r1, double *acc)               \
    {                                                                                               \
        const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;                                     \
        T z[SCE_GLM_MAX_BLOCK], r[SCE_GLM_MAX_BLOCK];                                               \
        double loss = 0;                                                                            \
        for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {                                      \
            sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;                   \
            F(sce_csr_rows_dot_##ISUF)(s, nb, c, c->w, c->b[0], 1, z);                              \
            loss += F(sce_logistic_block)(nb, z, c->y + s, c->sw + s, r, c->hdiag + s);             \
            F(sce_csr_rows_axpy_##ISUF)(s, nb, c, r, 1, acc, acc + c->d);                           \
        }                                                                                           \
        return loss;                                                                                \
    }                                                                                               \
    SCE_CLONES static double F(sce_logistic_hessp_csr_rows_##ISUF)(const void *vctx, sce_int r0,    \
                                                                   sce_int r1, double *acc)         \
    {                                                                                               \
        const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;                                     \
        T t[SCE_GLM_MAX_BLOCK];                                                                     \
        for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {                                      \
            sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;                   \
            F(sce_csr_rows_dot_##ISUF)(s, nb, c, c->w, c->b[0], 1, t);                              \
            for (sce_int i = 0; i < nb; i++)                                                        \
                t[i] *= c->hdiag[s + i];                                                            \
            F(sce_csr_rows_axpy_##ISUF)(s, nb, c, t, 1, acc, acc + c->d);                           \
        }                                                                                           \
        return 0.0;                                                                                 \
    }                                                                                               \
    SCE_CLONES static double F(sce_multinomial_csr_rows_##ISUF)(const void *vctx, sce_int r0,       \
                                                                sce_int r1, double *acc)            \
    {                                                                                               \
        const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;                                     \
        const sce_int d = c->d, K = c->n_classes;                                                   \
        T *Z = F(sce_multi_scratch)(K, 0);                                                             \
        if (Z == NULL) /* allocation failed: see sce_kernels.h */                                   \
            return -INFINITY;                                                                       \
        T *R = Z + K * SCE_GLM_MAX_BLOCK;                                                           \
        double loss = 0;                                                                            \
        int bad = 0;                                                                                \
        for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {                                      \
            sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;                   \
            for (sce_int k = 0; k < K; k++)                                                         \
                F(sce_csr_rows_dot_##ISUF)(s, nb, c, c->w + k * d, c->b[k], K, Z + k);              \
            for (sce_int i = 0; i < nb; i++) {                                                      \
                T swi = c->sw[s + i];                                                               \
                loss += (double)(swi * F(sce_softmax_xent_row)(K, Z + i * K, c->labels[s + i],      \
                                                               NULL, swi, R + i * K,                \
                                                               c->prob + (s + i) * K, &bad));       \
            }                                                                                       \
            for (sce_int k = 0; k < K; k++)                                                         \
                F(sce_csr_rows_axpy_##ISUF)(s, nb, c, R + k, K, acc + k * d, acc + K * d + k);      \
        }                                                                                           \
        free(Z);                                                                                    \
        return bad ? __builtin_nan("") : loss;                                                      \
    }                                                                                               \
    SCE_CLONES static double F(sce_multinomial_hessp_csr_rows_##ISUF)(                              \
        const void *vctx, sce_int r0, sce_int r1, double *acc)                                      \
    {                                                                                               \
        const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;                                     \
        const sce_int d = c->d, K = c->n_classes;                                                   \
        T *Z = F(sce_multi_scratch)(K, 0);                                                             \
        if (Z == NULL) /* allocation failed: see sce_kernels.h */                                   \
            return -INFINITY;                                                                       \
        for (sce_int s = r0; s < r1; s += SCE_GLM_MAX_BLOCK) {                                      \
            sce_int nb = s + SCE_GLM_MAX_BLOCK < r1 ? SCE_GLM_MAX_BLOCK : r1 - s;                   \
            for (sce_int k = 0; k < K; k++)                                                         \
                F(sce_csr_rows_dot_##ISUF)(s, nb, c, c->w + k * d, c->b[k], K, Z + k);              \
            F(sce_multinomial_hessp_block)(nb, K, c->sw + s, c->prob + s * K, Z);                   \
            for (sce_int k = 0; k < K; k++)                                                         \
                F(sce_csr_rows_axpy_##ISUF)(s, nb, c, Z + k, K, acc + k * d, acc + K * d + k);      \
        }                                                                                           \
        free(Z);                                                                                    \
        return 0.0;                                                                                 \
    }                                                                                               \
    /* Upper triangle of sum_i c_i x~_i x~_i^T, x~_i = [x_i, 1 (with an intercept)], into acc as a   \
     * row-major (dd, dd) matrix: sum over pairs of a row's non-zeros, so the cost is sum_i nnz_i^2. */\
    SCE_CLONES static double F(sce_gram_csr_rows_##ISUF)(const void *vctx, sce_int r0, sce_int r1,  \
                                                         double *acc)                               \
    {                                                                                               \
        const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;                                     \
        const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;             \
        const sce_int d = c->d, dd = d + (c->fit_intercept ? 1 : 0);                               \
        const T *cw = c->hdiag;                                                                     \
        for (sce_int i = r0; i < r1; i++) {                                                         \
            const double ci = (double)cw[i];                                                        \
            if (ci == 0.0)                                                                          \
                continue;                                                                           \
            for (int64_t a = ptr[i]; a < ptr[i + 1]; a++) {                                         \
                const double va = ci * (double)c->data[a];                                          \
                const sce_int ja = (sce_int)idx[a];                                                 \
                double *row = acc + ja * dd;                                                        \
                if (c->sorted_indices) { /* the upper triangle is the rest of the row */            \
                    for (int64_t b = a; b < ptr[i + 1]; b++)                                        \
                        row[idx[b]] += va * (double)c->data[b];                                     \
                } else {                                                                            \
                    for (int64_t b = ptr[i]; b < ptr[i + 1]; b++) {                                 \
                        const sce_int jb = (sce_int)idx[b];                                         \
                        if (jb >= ja)                                                               \
                            row[jb] += va * (double)c->data[b];                                     \
                    }                                                                               \
                }                                                                                   \
                if (dd > d)                                                                         \
                    row[d] += va;                                                                   \
            }                                                                                       \
            if (dd > d)                                                                             \
                acc[d * dd + d] += ci;                                                              \
        }                                                                                           \
        return 0.0;                                                                                 \
    }                                                                                               \
    void F(sce_gram_csr_##ISUF)(sce_int n, sce_int d, const T *data, const ITYPE *indices,          \
                                const ITYPE *indptr, const T *weights, int fit_intercept,           \
                                int sorted_indices, double *out, int n_threads)                     \
    {                                                                                               \
        F(sce_glm_ctx) c = {d, 1, NULL, data, indices, indptr, NULL, NULL, NULL, NULL, NULL,        \
                            (T *)weights, NULL, sorted_indices, fit_intercept};                     \
        sce_int dd = d + (fit_intercept ? 1 : 0);                                                   \
        sce_int nnz_row = (sce_int)indptr[n] / (n > 0 ? n : 1) + 1;                                 \
        sce_run_rows(F(sce_gram_csr_rows_##ISUF), &c, n, dd * dd,                                   \
                     sce_glm_threads(n, nnz_row * nnz_row, dd * dd > (1 << 22) ? 1 : n_threads),    \
                     out);                                                                          \
        sce_mirror_upper(dd, out);                                                                  \
    }                                                                                               \
    /* Diagonal of the Hessian blocks: acc[k d + j] += sum_i C[i, k] x_ij^2 and                  \
     * acc[K d + k] += sum_i C[i, k] for the row-major (n, K) curvature weights C. */             \
    SCE_CLONES static double F(sce_sq_colsums_csr_rows_##ISUF)(const void *vctx, sce_int r0,       \
                                                               sce_int r1, double *acc)            \
    {                                                                                               \
        const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;                                     \
        const ITYPE *idx = (const ITYPE *)c->indices, *ptr = (const ITYPE *)c->indptr;             \
        const sce_int d = c->d, K = c->n_classes;                                                   \
        const double *C = (const double *)c->w;                                                     \
        for (sce_int i = r0; i < r1; i++) {                                                         \
            for (sce_int k = 0; k < K; k++) {                                                       \
                const double cik = C[i * K + k];                                                    \
                double *row = acc + k * d;                                                          \
                for (int64_t a = ptr[i]; a < ptr[i + 1]; a++) {                                     \
                    const double v = (double)c->data[a];                                            \
                    row[idx[a]] += cik * (v * v);                                                   \
                }                                                                                   \
                acc[K * d + k] += cik;                                                              \
            }                                                                                       \
        }                                                                                           \
        return 0.0;                                                                                 \
    }                                                                                               \
    void F(sce_sq_colsums_csr_##ISUF)(sce_int n, sce_int d, sce_int K, const T *data,               \
                                      const ITYPE *indices, const ITYPE *indptr, const double *C,   \
                                      double *out, int n_threads)                                   \
    {                                                                                               \
        F(sce_glm_ctx) c = {d, K, NULL, data, indices, indptr, NULL, NULL, NULL, (const T *)C,      \
                            NULL, NULL, NULL};                                                      \
        sce_run_rows(F(sce_sq_colsums_csr_rows_##ISUF), &c, n, K * (d + 1),                         \
                     sce_glm_threads(n, K * ((sce_int)indptr[n] / (n > 0 ? n : 1) + 1), n_threads), out); \
    }                                                                                               \
    double F(sce_logistic_loss_grad_csr_##ISUF)(sce_int n, sce_int d, const T *data,               \
                                                const ITYPE *indices, const ITYPE *indptr,        \
                                                const T *y, const T *sw, const T *w, T b,           \
                                                double *grad, T *hdiag, int n_threads)              \
    {                                                                                               \
        F(sce_glm_ctx) c = {d, 1, NULL, data, indices, indptr, y, sw, NULL, w, &b, hdiag, NULL};    \
        return sce_run_rows(F(sce_logistic_csr_rows_##ISUF), &c, n, d + 1,                          \
                            sce_glm_threads(n, (sce_int)indptr[n] / (n > 0 ? n : 1) + 1, n_threads), grad);  \
    }                                                                                               \
    void F(sce_logistic_hessp_csr_##ISUF)(sce_int n, sce_int d, const T *data,                      \
                                          const ITYPE *indices, const ITYPE *indptr,              \
                                          const T *hdiag, const T *v, T vb, double *out,            \
                                          int n_threads)                                            \
    {                                                                                               \
        F(sce_glm_ctx) c = {d, 1, NULL, data, indices, indptr, NULL, NULL, NULL, v, &vb,            \
                            (T *)hdiag, NULL};                                                      \
        sce_run_rows(F(sce_logistic_hessp_csr_rows_##ISUF), &c, n, d + 1,                           \
                     sce_glm_threads(n, (sce_int)indptr[n] / (n > 0 ? n : 1) + 1, n_threads), out);          \
    }                                                                                               \
    double F(sce_multinomial_loss_grad_csr_##ISUF)(                                                 \
        sce_int n, sce_int d, sce_int K, const T *data, const ITYPE *indices,                       \
        const ITYPE *indptr, const int64_t *labels, const T *sw, const T *W, const T *b,          \
        double *grad, T *prob, int n_threads)                                                       \
    {                                                                                               \
        F(sce_glm_ctx) c = {d, K, NULL, data, indices, indptr, NULL, sw, labels, W, b, NULL, prob}; \
        return sce_run_rows(F(sce_multinomial_csr_rows_##ISUF), &c, n, K * (d + 1),                 \
                            sce_glm_threads(n, K * ((sce_int)indptr[n] / (n > 0 ? n : 1) + 1), n_threads),   \
                            grad);                                                                  \
    }                                                                                               \
    double F(sce_multinomial_hessp_csr_##ISUF)(sce_int n, sce_int d, sce_int K, const T *data,      \
                                             const ITYPE *indices, const ITYPE *indptr,           \
                                             const T *sw, const T *prob, const T *V, const T *vb,   \
                                             double *out, int n_threads)                            \
    {                                                                                               \
        F(sce_glm_ctx) c = {d, K, NULL, data, indices, indptr, NULL, sw, NULL, V, vb, NULL,         \
                            (T *)prob};                                                             \
        return sce_run_rows(F(sce_multinomial_hessp_csr_rows_##ISUF), &c, n, K * (d + 1),                  \
                     sce_glm_threads(n, K * ((sce_int)indptr[n] / (n > 0 ? n : 1) + 1), n_threads), out);    \
    }

SCE_DEFINE_CSR(int32_t, i32)
SCE_DEFINE_CSR(int64_t, i64)
#undef SCE_DEFINE_CSR
