/* sce_glm_dense_tmpl.h -- the logistic-regression row workers for dense row-major X, one precision.
 * Included by sce_kernels.c after sce_glm_tmpl.h (which describes the conventions) with T and F(name). */

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

/* ---- multinomial tiles ------------------------------------------------------------------------- */

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

/* ---- binary ------------------------------------------------------------------------------------ */

SCE_CLONES static int F(sce_binary_eval_dense_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                                    double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, B = F(sce_glm_block_rows)(d);
    T z[SCE_GLM_MAX_BLOCK], r[SCE_GLM_MAX_BLOCK];
    double loss = 0;
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot)(nb, d, Xb, c->W, c->b[0], z);
        loss += F(sce_binary_block)(nb, z, c->y + s, c->sw + s, r, c->curvature_out + s);
        F(sce_dense_rows_axpy)(nb, d, Xb, r, acc, acc + d);
    }
    *loss_sum += loss;
    return SCE_OK;
}

/* Hessian of the loss sum times (v, vb): X^T (curvature (X v + vb)) and its sum. */
SCE_CLONES static int F(sce_binary_hessp_dense_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                                     double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, B = F(sce_glm_block_rows)(d);
    T t[SCE_GLM_MAX_BLOCK];
    (void)loss_sum;
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot)(nb, d, Xb, c->W, c->b[0], t);
        for (sce_int i = 0; i < nb; i++)
            t[i] *= c->curvature[s + i];
        F(sce_dense_rows_axpy)(nb, d, Xb, t, acc, acc + d);
    }
    return SCE_OK;
}

/* ---- multinomial ------------------------------------------------------------------------------- */

SCE_CLONES static int F(sce_multinomial_eval_dense_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                         double *acc, double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->K, B = F(sce_glm_block_rows)(d);
    const sce_int rows = r1 - r0 < B ? r1 - r0 : B;
    T *Z = F(sce_multi_scratch)(K, rows, d);
    if (Z == NULL)
        return SCE_ERR_NOMEM;
    T *R = Z + K * rows;
    double *junk = (double *)(R + K * rows);
    double loss = 0;
    int bad = 0;
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot_multi)(nb, d, K, Xb, c->W, c->b, Z);
        loss += F(sce_multinomial_block)(nb, K, Z, c->labels + s, c->sw + s, R, c->curvature_out + s * K,
                                         &bad);
        F(sce_dense_rows_axpy_multi)(nb, d, K, Xb, R, acc, junk);
    }
    free(Z);
    *loss_sum += bad ? __builtin_nan("") : loss; /* a label outside [0, K) */
    return SCE_OK;
}

SCE_CLONES static int F(sce_multinomial_hessp_dense_rows)(const void *vctx, sce_int r0, sce_int r1,
                                                          double *acc, double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->K, B = F(sce_glm_block_rows)(d);
    const sce_int rows = r1 - r0 < B ? r1 - r0 : B;
    T *Z = F(sce_multi_scratch)(K, rows, d);
    if (Z == NULL)
        return SCE_ERR_NOMEM;
    double *junk = (double *)(Z + 2 * K * rows);
    (void)loss_sum;
    for (sce_int s = r0; s < r1; s += B) {
        sce_int nb = s + B < r1 ? B : r1 - s;
        const T *Xb = c->X + s * d;
        F(sce_dense_rows_dot_multi)(nb, d, K, Xb, c->W, c->b, Z);
        F(sce_multinomial_hessp_block)(nb, K, c->sw + s, c->curvature + s * K, Z);
        F(sce_dense_rows_axpy_multi)(nb, d, K, Xb, Z, acc, junk);
    }
    free(Z);
    return SCE_OK;
}

/* ---- weighted Gram matrix (the Hessian blocks of Newton-Cholesky) ------------------------------ */

/* Upper triangle of sum_i c_i x~_i x~_i^T (x~_i = [x_i, 1] with an intercept, c = the weights) into
 * acc as a row-major (dd, dd) matrix; four rows share each load and store of an accumulator row (the
 * last group repeats rows with weight 0 where fewer than four are left). */
SCE_CLONES static int F(sce_gram_dense_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                             double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, dd = d + (c->fit_intercept ? 1 : 0);
    const T *cw = c->curvature;
    (void)loss_sum;
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
    return SCE_OK;
}

/* ---- diagonal of the Hessian blocks ------------------------------------------------------------ */

/* acc[k d + j] += sum_i C[i, k] x_ij^2 and acc[K d + k] += sum_i C[i, k] for the row-major (n, K)
 * weights C; four rows share each load and store of an accumulator row. */
SCE_CLONES static int F(sce_sq_colsums_dense_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                                   double *loss_sum)
{
    const F(sce_glm_ctx) *c = (const F(sce_glm_ctx) *)vctx;
    const sce_int d = c->d, K = c->K;
    const double *C = c->C;
    (void)loss_sum;
    sce_int i = r0;
    for (; i + 4 <= r1; i += 4) {
        const T *x0 = c->X + i * d, *x1 = x0 + d, *x2 = x1 + d, *x3 = x2 + d;
        for (sce_int k = 0; k < K; k++) {
            const double c0 = C[i * K + k], c1 = C[(i + 1) * K + k], c2 = C[(i + 2) * K + k],
                         c3 = C[(i + 3) * K + k];
            double *row = acc + k * d;
            SCE_SIMD()
            for (sce_int j = 0; j < d; j++) {
                const double v0 = (double)x0[j], v1 = (double)x1[j], v2 = (double)x2[j], v3 = (double)x3[j];
                row[j] += (c0 * (v0 * v0) + c1 * (v1 * v1)) + (c2 * (v2 * v2) + c3 * (v3 * v3));
            }
            acc[K * d + k] += (c0 + c1) + (c2 + c3);
        }
    }
    for (; i < r1; i++) {
        const T *x0 = c->X + i * d;
        for (sce_int k = 0; k < K; k++) {
            const double c0 = C[i * K + k];
            double *row = acc + k * d;
            SCE_SIMD()
            for (sce_int j = 0; j < d; j++) {
                const double v0 = (double)x0[j];
                row[j] += c0 * (v0 * v0);
            }
            acc[K * d + k] += c0;
        }
    }
    return SCE_OK;
}
