/* sce_softmax_tmpl.h -- softmax cross-entropy for one precision: the row formula, the strip version
 * for rows of few classes, and the chunk worker.  Included by sce_precision_tmpl.h after
 * sce_kernels_tmpl.h (whose SCE_OUTSIDE it uses) with T, T_MAX, T_INT and F(name). */

/* ------------------------------------------------------------------------------------------ */
/* Softmax cross-entropy                                                                       */
/* ------------------------------------------------------------------------------------------ */

/* One row, K logits z, targets t (t_k >= 0, T_sum = sum_k t_k; hard label y means t = onehot(y)):
 *   l = -sum_k t_k log p_k = sum_k t_k (m - z_k) + T_sum log1p(rest)
 *   with m = z_j the maximum (j its first index), rest = sum_{k != j} e^{z_k - m}, S = 1 + rest.
 * Both terms are non-negative, and log1p(rest) keeps its digits for a confident row (z = [40, 0],
 * y = 0 gives e^{-40}, not 0).  Gradient p T_sum - t with p_k = e^{z_k - m} / S, except at j where
 * p_j T_sum - t_j = (T_sum - t_j) - T_sum rest / S avoids the cancellation 1/S - 1. */
/* p_j T_sum - t_j at the arg-max j, p_j = 1/S = 1 - rest/S: when t_j carries most of the target
 * mass the result is near 0 and (T_sum - t_j) - T_sum rest/S keeps its digits; otherwise the
 * plain form does (1 - rest/S would cancel when p_j is small, i.e. for many classes). */
SCE_INLINE T F(sce_softmax_grad_at_max)(T t_sum, T t_j, T rest, T inv_s)
{
    return t_j >= (T)0.5 * t_sum ? (t_sum - t_j) - t_sum * (rest * inv_s) : t_sum * inv_s - t_j;
}

typedef struct {
    sce_int n_classes;
    const T *z;
    const int64_t *labels;
    const T *target, *sw;
    T grad_scale;
    T *loss, *grad;
} F(sce_softmax_ctx);

/* One row of softmax cross-entropy.  Targets: the label y (when tr is NULL) or the row tr.
 * Returns the unweighted loss; when gr is given, writes gw * (p T_sum - t) into it, and when prob
 * is given also p = softmax(z) into it.  Problems are OR-ed into *bad. */
SCE_INLINE T F(sce_softmax_xent_row)(sce_int K, const T *zr, int64_t y, const T *tr, T gw, T *gr,
                                     T *prob, int *bad)
{
    /* m = z_j, the maximum at its first index j.  For long rows the maximum, then its first index,
     * each as a vector reduction (a running arg-max is a branch per element); short rows keep the
     * running arg-max, which the vector loops' set-up would cost more than.  Both give the same m
     * and j without NaN; with a NaN in the row every output is NaN whichever m and j are found (a
     * NaN m matches no element: j = 0 then). */
    sce_int j = 0;
    T m = zr[0];
    if (K < 32) {
        for (sce_int k = 1; k < K; k++)
            if (zr[k] > m) {
                m = zr[k];
                j = k;
            }
    } else {
        SCE_SIMD(reduction(max : m))
        for (sce_int k = 1; k < K; k++)
            m = zr[k] > m ? zr[k] : m;
        j = K;
        SCE_SIMD(reduction(min : j))
        for (sce_int k = 0; k < K; k++)
            j = zr[k] == m && k < j ? k : j;
        j = j == K ? 0 : j;
    }
    /* rest = sum_{k != j} e^{z_k - m} (z_k - m <= 0); the exponentials go into the gradient row
     * when asked. */
    T rest = 0;
    if (gr) {
        SCE_SIMD(reduction(+ : rest))
        for (sce_int k = 0; k < K; k++) {
            T ek = k == j ? (T)0 : F(sce_exp_nonpos)(zr[k] - m);
            gr[k] = ek;
            rest += ek;
        }
    } else {
        SCE_SIMD(reduction(+ : rest))
        for (sce_int k = 0; k < K; k++)
            rest += k == j ? (T)0 : F(sce_exp_nonpos)(zr[k] - m);
    }
    T log_s = F(sce_log1p)(rest);
    T inv_s = (T)1 / ((T)1 + rest);
    T li, t_sum, t_j;
    if (tr == NULL) {
        if (y < 0 || y >= K) {
            *bad |= SCE_BAD_LABEL;
            y = 0;
        }
        li = (y == j ? (T)0 : m - zr[y]) + log_s;
        t_sum = 1;
        t_j = y == j ? (T)1 : (T)0;
    } else {
        T lin = 0;
        int tbad = 0;
        t_sum = 0;
        SCE_SIMD(reduction(+ : lin, t_sum) reduction(| : tbad))
        for (sce_int k = 0; k < K; k++) {
            tbad |= SCE_OUTSIDE(tr[k], (T)0, (T)1) ? SCE_BAD_TARGET : 0;
            lin += tr[k] * (k == j ? (T)0 : m - zr[k]);
            t_sum += tr[k];
        }
        *bad |= tbad;
        li = lin + t_sum * log_s;
        t_j = tr[j];
    }
    if (gr) {
        if (prob) {
            for (sce_int k = 0; k < K; k++)
                prob[k] = gr[k] * inv_s;
            prob[j] = inv_s;
        }
        if (tr == NULL) {
            for (sce_int k = 0; k < K; k++)
                gr[k] = gw * (gr[k] * inv_s);
            if (y != j)
                gr[y] -= gw;
        } else {
            for (sce_int k = 0; k < K; k++)
                gr[k] = gw * (t_sum * (gr[k] * inv_s) - tr[k]);
        }
        gr[j] = gw * F(sce_softmax_grad_at_max)(t_sum, t_j, rest, inv_s);
    }
    return li;
}

/* Rows of fewer than SCE_SOFTMAX_WIDE classes go through the strip version: the per-row work (the
 * maximum and its first index, log1p(rest), the division, the loss and the gradient's scaling) is
 * then as much vector work as the exponentials, and short rows leave the lanes of a per-row vector
 * loop mostly idle, so it runs across the rows of a strip instead, on structure-of-arrays scratch
 * (class k of the strip's row i at [k * SCE_SOFTMAX_ROWS + i]). */
#define SCE_SOFTMAX_WIDE 32
#define SCE_SOFTMAX_ROWS 16

/* The strip's rows (row-major, nb rows of K) into columns (class k of row i at [k * ROWS + i]), rows
 * past nb as zeros, and back.  Four rows at a time: their four elements of a class are one short
 * vector in the scratch, so each class costs four scalar loads and one vector store (or the
 * reverse), from four row pointers that share the class index (vector strided loads over all the
 * strip's rows need an address register per row, more than there are). */
SCE_INLINE void F(sce_strip_to_columns)(sce_int nb, sce_int K, const T *x, T *xt)
{
    enum { R = SCE_SOFTMAX_ROWS };
    sce_int i = 0;
    for (; i + 4 <= nb; i += 4) {
        const T *x0 = x + i * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
        for (sce_int k = 0; k < K; k++) {
            T *o = xt + k * R + i;
            o[0] = x0[k];
            o[1] = x1[k];
            o[2] = x2[k];
            o[3] = x3[k];
        }
    }
    for (; i < R; i++)
        for (sce_int k = 0; k < K; k++)
            xt[k * R + i] = i < nb ? x[i * K + k] : (T)0;
}

SCE_INLINE void F(sce_strip_to_rows)(sce_int nb, sce_int K, const T *xt, T *x)
{
    enum { R = SCE_SOFTMAX_ROWS };
    sce_int i = 0;
    for (; i + 4 <= nb; i += 4) {
        T *x0 = x + i * K, *x1 = x0 + K, *x2 = x1 + K, *x3 = x2 + K;
        for (sce_int k = 0; k < K; k++) {
            const T *o = xt + k * R + i;
            x0[k] = o[0];
            x1[k] = o[1];
            x2[k] = o[2];
            x3[k] = o[3];
        }
    }
    for (; i < nb; i++)
        for (sce_int k = 0; k < K; k++)
            x[i * K + k] = xt[k * R + i];
}

/* Softmax cross-entropy of nb <= SCE_SOFTMAX_ROWS rows of K < SCE_SOFTMAX_WIDE classes (row-major z),
 * the same formulas as sce_softmax_xent_row: the unweighted losses into li; when g is given,
 * gw_i (p T_sum - t) into its rows, and when prob is given also p.  Targets: labels (when tg is NULL)
 * or the rows of tg.  Sums over a row's classes are taken in class order.  Rows past nb are zeros
 * in the scratch (a harmless row) so that every vector loop runs over the whole strip. */
SCE_INLINE void F(sce_softmax_xent_strip)(sce_int nb, sce_int K, const T *z, const int64_t *labels,
                                          const T *tg, const T *gw, T *g, T *prob, T *li, int *bad)
{
    enum { R = SCE_SOFTMAX_ROWS };
    T zt[SCE_SOFTMAX_WIDE * R], et[SCE_SOFTMAX_WIDE * R], tt[SCE_SOFTMAX_WIDE * R];
    T m[R], rest[R], inv_s[R], lin[R], t_sum[R], t_j[R], gws[R];
    T_INT j[R], y[R];
    F(sce_strip_to_columns)(nb, K, z, zt);
    /* m = z_j, the maximum at its first index j: the running arg-max of sce_softmax_xent_row, one
     * lane per row (a NaN z_0 gives m = NaN, j = 0; a NaN elsewhere is passed over; either way every
     * output of the row is NaN). */
    for (sce_int i = 0; i < R; i++) {
        m[i] = zt[i];
        j[i] = 0;
    }
    for (sce_int k = 1; k < K; k++) {
        SCE_SIMD()
        for (sce_int i = 0; i < R; i++) {
            T v = zt[k * R + i];
            int up = v > m[i];
            j[i] = up ? (T_INT)k : j[i];
            m[i] = up ? v : m[i];
        }
    }
    /* rest = sum_{k != j} e^{z_k - m} */
    for (sce_int i = 0; i < R; i++)
        rest[i] = 0;
    for (sce_int k = 0; k < K; k++) {
        SCE_SIMD()
        for (sce_int i = 0; i < R; i++) {
            T ek = (T_INT)k == j[i] ? (T)0 : F(sce_exp_nonpos)(zt[k * R + i] - m[i]);
            et[k * R + i] = ek;
            rest[i] += ek;
        }
    }
    if (tg == NULL) {
        T zy[R];
        for (sce_int i = 0; i < R; i++) {
            int64_t yi = i < nb ? labels[i] : 0;
            if (yi < 0 || yi >= K) {
                *bad |= SCE_BAD_LABEL;
                yi = 0;
            }
            y[i] = (T_INT)yi;
            zy[i] = zt[yi * R + i];
        }
        SCE_SIMD()
        for (sce_int i = 0; i < R; i++) {
            lin[i] = y[i] == j[i] ? (T)0 : m[i] - zy[i];
            t_sum[i] = 1;
            t_j[i] = y[i] == j[i] ? (T)1 : (T)0;
        }
    } else {
        F(sce_strip_to_columns)(nb, K, tg, tt);
        T_INT tbad = 0;
        for (sce_int i = 0; i < R; i++)
            lin[i] = t_sum[i] = t_j[i] = 0;
        for (sce_int k = 0; k < K; k++) {
            SCE_SIMD(reduction(| : tbad))
            for (sce_int i = 0; i < R; i++) {
                T t = tt[k * R + i];
                tbad |= SCE_OUTSIDE(t, (T)0, (T)1) ? SCE_BAD_TARGET : 0;
                int at_j = (T_INT)k == j[i];
                lin[i] += t * (at_j ? (T)0 : m[i] - zt[k * R + i]);
                t_sum[i] += t;
                t_j[i] = at_j ? t : t_j[i];
            }
        }
        *bad |= (int)tbad;
    }
    SCE_SIMD()
    for (sce_int i = 0; i < R; i++) {
        T log_s = F(sce_log1p)(rest[i]);
        inv_s[i] = (T)1 / ((T)1 + rest[i]);
        li[i] = lin[i] + t_sum[i] * log_s;
    }
    if (g == NULL)
        return;
    if (prob) {
        T pt[SCE_SOFTMAX_WIDE * R];
        for (sce_int k = 0; k < K; k++) {
            SCE_SIMD()
            for (sce_int i = 0; i < R; i++)
                pt[k * R + i] = (T_INT)k == j[i] ? inv_s[i] : et[k * R + i] * inv_s[i];
        }
        F(sce_strip_to_rows)(nb, K, pt, prob);
    }
    /* gw (p T_sum - t), at j by sce_softmax_grad_at_max; for a label, gw (e_y / S) - gw at y != j as
     * sce_softmax_xent_row computes it. */
    for (sce_int i = 0; i < R; i++)
        gws[i] = i < nb ? gw[i] : (T)0;
    for (sce_int k = 0; k < K; k++) {
        if (tg == NULL) {
            SCE_SIMD()
            for (sce_int i = 0; i < R; i++) {
                T q = gws[i] * (et[k * R + i] * inv_s[i]);
                q = (T_INT)k == y[i] ? q - gws[i] : q;
                et[k * R + i] = (T_INT)k == j[i]
                                    ? gws[i] * F(sce_softmax_grad_at_max)(t_sum[i], t_j[i], rest[i], inv_s[i])
                                    : q;
            }
        } else {
            SCE_SIMD()
            for (sce_int i = 0; i < R; i++) {
                T q = gws[i] * (t_sum[i] * (et[k * R + i] * inv_s[i]) - tt[k * R + i]);
                et[k * R + i] = (T_INT)k == j[i]
                                    ? gws[i] * F(sce_softmax_grad_at_max)(t_sum[i], t_j[i], rest[i], inv_s[i])
                                    : q;
            }
        }
    }
    F(sce_strip_to_rows)(nb, K, et, g);
}

/* Rows [start, stop) of the chunk worker in strips; returns their weighted loss sum (in row order).
 * tg: c->target or NULL, passed by the caller as a constant so that each kind of target gets its
 * own copy. */
SCE_INLINE double F(sce_softmax_strips)(const F(sce_softmax_ctx) *c, sce_int start, sce_int stop,
                                        const T *tg, int *bad)
{
    const sce_int K = c->n_classes;
    double acc = 0.0;
    for (sce_int s0 = start; s0 < stop; s0 += SCE_SOFTMAX_ROWS) {
        sce_int nb = s0 + SCE_SOFTMAX_ROWS < stop ? SCE_SOFTMAX_ROWS : stop - s0;
        T w[SCE_SOFTMAX_ROWS], gw[SCE_SOFTMAX_ROWS], li[SCE_SOFTMAX_ROWS];
        for (sce_int i = 0; i < nb; i++) {
            w[i] = c->sw ? c->sw[s0 + i] : (T)1;
            *bad |= SCE_OUTSIDE(w[i], (T)0, T_MAX) ? SCE_BAD_SAMPLE_WEIGHT : 0;
            gw[i] = c->grad_scale * w[i];
        }
        F(sce_softmax_xent_strip)(nb, K, c->z + s0 * K, tg ? NULL : c->labels + s0, tg ? tg + s0 * K : NULL,
                                  gw, c->grad ? c->grad + s0 * K : NULL, NULL, li, bad);
        for (sce_int i = 0; i < nb; i++) {
            T lw = w[i] * li[i];
            if (c->loss)
                c->loss[s0 + i] = lw;
            acc += (double)lw;
        }
    }
    return acc;
}

SCE_CLONES static int F(sce_softmax_chunk)(const void *vctx, sce_int start, sce_int stop,
                                           double *partial)
{
    const F(sce_softmax_ctx) *c = (const F(sce_softmax_ctx) *)vctx;
    const sce_int K = c->n_classes;
    double acc = 0.0;
    int bad = 0;
    if (K < SCE_SOFTMAX_WIDE && (c->labels != NULL || c->target != NULL)) {
        /* one copy of the strips per kind of target: with both in one body GCC leaves the loop of
         * log1p(rest) and 1 / S scalar (the C API takes neither as label 0: the row loop below) */
        *partial = c->target == NULL ? F(sce_softmax_strips)(c, start, stop, NULL, &bad)
                                     : F(sce_softmax_strips)(c, start, stop, c->target, &bad);
        return bad;
    }
    for (sce_int i = start; i < stop; i++) {
        T w = c->sw ? c->sw[i] : (T)1;
        bad |= SCE_OUTSIDE(w, (T)0, T_MAX) ? SCE_BAD_SAMPLE_WEIGHT : 0;
        T li = w * F(sce_softmax_xent_row)(K, c->z + i * K, c->labels ? c->labels[i] : 0,
                                           c->target ? c->target + i * K : NULL,
                                           c->grad_scale * w, c->grad ? c->grad + i * K : NULL,
                                           NULL, &bad);
        if (c->loss)
            c->loss[i] = li;
        acc += (double)li;
    }
    *partial = acc;
    return bad;
}

int F(sce_softmax_xent_loss_grad)(sce_int n_rows, sce_int n_classes, const T *z, const int64_t *labels,
                                  const T *target, const T *sw, T grad_scale, T *loss, T *grad, int n_threads,
                                  int *bad, double *loss_sum)
{
    F(sce_softmax_ctx) c = {n_classes, z, labels, target, sw, grad_scale, loss, grad};
    sce_int rows_per_chunk = n_classes < SCE_CHUNK ? SCE_CHUNK / n_classes : 1;
    return sce_run_chunks(F(sce_softmax_chunk), &c, n_rows, rows_per_chunk, n_threads, bad, loss_sum);
}
