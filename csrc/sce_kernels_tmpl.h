/* sce_kernels_tmpl.h -- kernels for one precision.  Included by sce_kernels.c with
 *   T       the floating type (double or float)
 *   F(name) name suffixed with the precision (_f64 or _f32)
 * Every formula of the library lives here or in sce_math.h, once. */

/* The three quantities every logistic formula is built from, for one logit z:
 *   e = e^{-|z|} in [0, 1]        (never overflows: the exponent is <= 0)
 *   r = 1 / (1 + e) in [1/2, 1]   (so sigma(z) = r for z >= 0 and e r for z < 0)
 *   L = log1p(e) = log(1 + e^{-|z|}), accurate also when e is tiny. */
typedef struct {
    T e, r, L;
} F(sce_logistic);

/* e^{-|z|}: the first half of the work, done in its own loop over a strip (see SCE_STRIP). */
SCE_INLINE T F(sce_exp_neg_abs)(T z)
{
    return F(sce_exp_nonpos)(-SCE_FABS(z)); /* one sign-bit operation */
}

/* sqrt2 - 1: at and above it log1p(e) is reduced by one factor of 2 (1 + e >= sqrt2). */
#define SCE_SQRT2_M1 ((T)0x1.a827999fcef32p-2)

/* The rest, given e = e^{-|z|}, with no integer work and one division:
 * - log(1 + e) = k ln2 + log(1 + f) with k = 0, f = e below sqrt2 - 1 and k = 1, f = (e - 1) / 2 above;
 *   f is exact in both cases (e/2 - 1/2 needs no bit beyond those of e/2), so no correction for the
 *   rounding of 1 + e is needed, and f stays in the range of the log polynomial.  (One comparison
 *   serves k and f: two would let GCC duplicate everything between them, one copy per outcome.)
 * - one division 1 / ((1 + e)(2 + f)) yields both 1 / (1 + e) and 1 / (2 + f) (for s = f / (2 + f)):
 *   the divider is the slowest unit on the wide vectors, and one division per element instead of two
 *   halves its work.  r0 = q (2 + f) carries a few roundings; one Newton step on the unrounded
 *   1 + e, r0 + r0 ((1 - r0) - e r0) (1 - r0 exact for r0 in [1/2, 1]), brings r to within about
 *   half an ULP of 1 / (1 + e).  s needs no such step (see sce_log_reduced). */
SCE_INLINE F(sce_logistic) F(sce_logistic_from_e)(T e)
{
    F(sce_logistic) p;
    int upper = e >= SCE_SQRT2_M1;
    T k = upper ? (T)1 : (T)0;
    T f = upper ? e * (T)0.5 - (T)0.5 : e;
    T u = (T)1 + e, v = (T)2 + f;
    T q = (T)1 / (u * v);
    T r0 = q * v;
    p.e = e;
    p.r = r0 + r0 * (((T)1 - r0) - e * r0);
    p.L = F(sce_log_reduced)(k, f, f * (q * u), k * T_LN2_LO);
    return p;
}

/* The strip stages of the elementwise loss kernels: e = e^{-|z|}, then r and L, each in its own loop
 * (see SCE_STRIP); the caller's loop over the strip finishes the loss.  Three loops instead of one:
 * each has a dependency chain short enough for the out-of-order core to overlap several iterations
 * (the exponential's, then the division's latency, then the polynomial's, would not). */
SCE_INLINE void F(sce_logistic_stages)(sce_int n, const T *z, T *e, T *r, T *L)
{
    for (sce_int i = 0; i < n; i++)
        e[i] = F(sce_exp_neg_abs)(z[i]);
    for (sce_int i = 0; i < n; i++) {
        F(sce_logistic) p = F(sce_logistic_from_e)(e[i]);
        r[i] = p.r;
        L[i] = p.L;
    }
}

/* sigma(z) = 1 / (1 + e^{-z}) */
SCE_INLINE T F(sce_sigmoid_elem)(T z, T e)
{
    F(sce_logistic) p = F(sce_logistic_from_e)(e);
    return z >= 0 ? p.r : p.e * p.r;
}

/* softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^{-|z|}): a sum of two non-negative terms. */
SCE_INLINE T F(sce_softplus_elem)(T z, T e)
{
    return (z > 0 ? z : (T)0) + F(sce_logistic_from_e)(e).L;
}

/* log sigma(z) = -softplus(-z) = -(max(-z, 0) + log1p(e^{-|z|})) */
SCE_INLINE T F(sce_log_sigmoid_elem)(T z, T e)
{
    return -((z < 0 ? -z : (T)0) + F(sce_logistic_from_e)(e).L);
}

/* Elementwise maps: out[i] = f(x[i]).  out may be x itself. */
typedef struct {
    const T *x;
    T *out;
} F(sce_map_ctx);

#define SCE_DEFINE_MAP_DRIVER(NAME)                                                                 \
    int F(NAME)(sce_int n, const T *x, T *out, int n_threads)                                       \
    {                                                                                               \
        F(sce_map_ctx) c = {x, out};                                                                \
        double unused;                                                                              \
        return sce_run_chunks(F(NAME##_chunk), &c, n, SCE_CHUNK, n_threads, NULL, &unused);         \
    }

/* out[i] = ELEM(x[i]) */
#define SCE_DEFINE_MAP(NAME, ELEM)                                                                  \
    SCE_CLONES static int F(NAME##_chunk)(const void *vctx, sce_int start, sce_int stop,            \
                                          double *partial)                                          \
    {                                                                                               \
        const F(sce_map_ctx) *c = (const F(sce_map_ctx) *)vctx;                                     \
        const T *x = c->x;                                                                          \
        T *out = c->out;                                                                            \
        (void)partial;                                                                              \
        for (sce_int i = start; i < stop; i++)                                                      \
            out[i] = F(ELEM)(x[i]);                                                                 \
        return 0;                                                                                   \
    }                                                                                               \
    SCE_DEFINE_MAP_DRIVER(NAME)

/* out[i] = ELEM(x[i], e^{-|x[i]|}), the exponentials computed a strip ahead (see SCE_STRIP). */
#define SCE_DEFINE_LOGISTIC_MAP(NAME, ELEM)                                                         \
    SCE_CLONES static int F(NAME##_chunk)(const void *vctx, sce_int start, sce_int stop,            \
                                          double *partial)                                          \
    {                                                                                               \
        const F(sce_map_ctx) *c = (const F(sce_map_ctx) *)vctx;                                     \
        const T *x = c->x;                                                                          \
        T *out = c->out;                                                                            \
        (void)partial;                                                                              \
        for (sce_int s0 = start; s0 < stop; s0 += SCE_STRIP) {                                      \
            sce_int s1 = s0 + SCE_STRIP < stop ? s0 + SCE_STRIP : stop;                             \
            T ebuf[SCE_STRIP];                                                                      \
            for (sce_int i = s0; i < s1; i++)                                                       \
                ebuf[i - s0] = F(sce_exp_neg_abs)(x[i]);                                            \
            for (sce_int i = s0; i < s1; i++)                                                       \
                out[i] = F(ELEM)(x[i], ebuf[i - s0]);                                               \
        }                                                                                           \
        return 0;                                                                                   \
    }                                                                                               \
    SCE_DEFINE_MAP_DRIVER(NAME)

SCE_DEFINE_MAP(sce_exp_array, sce_exp)
SCE_DEFINE_MAP(sce_log1p_array, sce_log1p)
SCE_DEFINE_LOGISTIC_MAP(sce_sigmoid, sce_sigmoid_elem)
SCE_DEFINE_LOGISTIC_MAP(sce_log_sigmoid, sce_log_sigmoid_elem)
SCE_DEFINE_LOGISTIC_MAP(sce_softplus, sce_softplus_elem)

/* ------------------------------------------------------------------------------------------ */
/* Binary cross-entropy with logits                                                            */
/* ------------------------------------------------------------------------------------------ */

/* One element of BCE with logits, target y in [0, 1], pos_weight pw > 0:
 *   l = -[pw y log sigma(z) + (1 - y) log(1 - sigma(z))] = pw y softplus(-z) + (1 - y) softplus(z).
 * With a = 1 - y, b = pw y and L = log1p(e^{-|z|}) this is
 *   z >= 0:  a z + (a + b) L          z < 0:  b |z| + (a + b) L
 * a sum of non-negative terms, so no digits cancel (a = 1 - y is exact for y in [1/2, 1], which is
 * where max(z, 0) - z y would lose them).
 * The derivative (pw y + 1 - y) sigma(z) - pw y over the common denominator 1 + e:
 *   z >= 0:  (a - b e) / (1 + e)       z < 0:  (a e - b) / (1 + e)
 * which keeps its digits for hard labels: z = 40, y = 1 gives -e^{-40}/(1 + e^{-40}), not 0. */
typedef struct {
    T loss, grad, curv; /* curv = d grad / dz = sigma (1 - sigma) (for pos_weight 1) */
} F(sce_loss_grad);

SCE_INLINE F(sce_loss_grad) F(sce_bce_logits_elem)(T z, F(sce_logistic) p, T y, T pw)
{
    F(sce_loss_grad) out;
    T a = (T)1 - y;
    T b = pw * y;
    /* Both selects on the sign of z side by side: with other selects between them GCC threads the
     * second test into two copies of everything in between and comes out with a longer loop. */
    int zpos = z >= 0;
    T coef = zpos ? a : b;
    T num = zpos ? a - b * p.e : a * p.e - b;
    /* coef * |z| >= 0 is NaN only for coef = 0 and |z| = inf (y = 1 at z = +inf), a perfect fit whose
     * term is 0: the max maps NaN to 0. */
    T lin = coef * SCE_FABS(z);
    lin = lin > 0 ? lin : (T)0;
    /* a + b as a sum of non-negative terms (1 + (pw - 1) y would cancel for pw < 1, y ~ 1).  For
     * pw = 1 it is exactly 1 with no test of pw: fl(1 - y) + y rounds to 1 for every y in [0, 1]
     * (1 - y is exact above 1/2, and below, its rounding error is at most half an ULP of 1 - y, which
     * 1 + error rounds away, ties going to 1).  A test of pw would make GCC version the loop on it
     * and thread the pw = 1 copy into a longer loop (or a scalar one). */
    out.loss = lin + (a + b) * p.L;
    out.grad = num * p.r;
    out.curv = p.e * p.r * p.r; /* sigma (1 - sigma) = e / (1 + e)^2 for either sign of z */
    return out;
}

/* NaN fails every comparison, so !(lo <= v && v <= hi) flags it too. */
#define SCE_OUTSIDE(v, lo, hi) (!((v) >= (lo) && (v) <= (hi)))

typedef struct {
    const T *z, *y, *sw, *pw;
    T sw_scalar, pw_scalar, grad_scale;
    T *loss, *grad;
} F(sce_bce_ctx);

/* Weights come per element or as one scalar; the combinations are separate loops so that each
 * one vectorizes.  (A loop of its own for pos_weight 1 lets GCC thread the selects on the sign of z
 * through each other and comes out longer.)
 * Targets are checked with one maximum per vector: y + 0 turns -0 into +0, and then y is in [0, 1]
 * exactly when its bits, read as an unsigned integer, are at most those of 1 (negatives carry the
 * sign bit, NaN and values above 1 have larger exponent or mantissa bits).  The weights' flags are
 * OR-ed in an integer as wide as T (T_INT), so that the flag lanes line up with the data lanes (an
 * int beside doubles makes the vectorizer pack comparison results across registers).  Outputs the
 * caller did not ask for go to a strip-sized scratch that stays in L1. */
#define SCE_BCE_LOOP(W_EXPR, PW_EXPR, W_FLAGS)                                                      \
    for (sce_int s0 = 0; s0 < len; s0 += SCE_STRIP) {                                               \
        sce_int s1 = s0 + SCE_STRIP < len ? s0 + SCE_STRIP : len;                                   \
        T eb[SCE_STRIP], rb[SCE_STRIP], Lb[SCE_STRIP];                                              \
        T *lo = c->loss ? c->loss + start + s0 : lscratch;                                          \
        T *go = c->grad ? c->grad + start + s0 : gscratch;                                          \
        F(sce_logistic_stages)(s1 - s0, z + s0, eb, rb, Lb);                                        \
        SCE_SIMD(reduction(+ : acc) reduction(max : ymax) reduction(| : bad))                       \
        for (sce_int i = s0; i < s1; i++) {                                                         \
            T w = W_EXPR, pwi = PW_EXPR;                                                            \
            F(sce_logistic) p = {eb[i - s0], rb[i - s0], Lb[i - s0]};                               \
            F(sce_loss_grad) lg = F(sce_bce_logits_elem)(z[i], p, y[i], pwi);                       \
            T_UINT ybits = F(sce_bits)(y[i] + (T)0);                                                \
            ymax = ybits > ymax ? ybits : ymax;                                                     \
            bad |= W_FLAGS;                                                                         \
            T li = w * lg.loss;                                                                     \
            acc += (double)li;                                                                      \
            lo[i - s0] = li;                                                                        \
            go[i - s0] = (gs * w) * lg.grad;                                                        \
        }                                                                                           \
    }

/* Flags of a sample weight and a pos_weight: finite, >= 0, and pos_weight > 0. */
#define SCE_BAD_W(w) (SCE_OUTSIDE(w, (T)0, T_MAX) ? SCE_BAD_SAMPLE_WEIGHT : 0)
#define SCE_BAD_PW(pw) ((SCE_OUTSIDE(pw, (T)0, T_MAX) || (pw) == 0) ? SCE_BAD_POS_WEIGHT : 0)

SCE_CLONES static int F(sce_bce_chunk)(const void *vctx, sce_int start, sce_int stop,
                                       double *partial)
{
    const F(sce_bce_ctx) *c = (const F(sce_bce_ctx) *)vctx;
    sce_int len = stop - start;
    const T *z = c->z + start, *y = c->y + start;
    const T *sw = c->sw ? c->sw + start : NULL, *pw = c->pw ? c->pw + start : NULL;
    const T gs = c->grad_scale;
    T lscratch[SCE_STRIP], gscratch[SCE_STRIP];
    double acc = 0.0;
    const T sws = c->sw_scalar, pws = c->pw_scalar;
    T_INT bad = 0;
    T_UINT ymax = 0;
    if (sw == NULL)
        bad |= SCE_BAD_W(sws);
    if (pw == NULL)
        bad |= SCE_BAD_PW(pws);
    if (sw == NULL && pw == NULL) {
        SCE_BCE_LOOP(sws, pws, 0)
    } else if (pw == NULL) {
        SCE_BCE_LOOP(sw[i], pws, SCE_BAD_W(w))
    } else if (sw == NULL) {
        SCE_BCE_LOOP(sws, pw[i], SCE_BAD_PW(pwi))
    } else {
        SCE_BCE_LOOP(sw[i], pw[i], SCE_BAD_W(w) | SCE_BAD_PW(pwi))
    }
    *partial = acc;
    return (int)bad | (ymax > F(sce_bits)((T)1) ? SCE_BAD_TARGET : 0);
}

int F(sce_bce_logits_loss_grad)(sce_int n, const T *z, const T *y, const T *sw, T sw_scalar, const T *pw,
                                T pw_scalar, T grad_scale, T *loss, T *grad, int n_threads, int *bad,
                                double *loss_sum)
{
    F(sce_bce_ctx) c = {z, y, sw, pw, sw_scalar, pw_scalar, grad_scale, loss, grad};
    return sce_run_chunks(F(sce_bce_chunk), &c, n, SCE_CHUNK, n_threads, bad, loss_sum);
}

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

SCE_CLONES static int F(sce_softmax_chunk)(const void *vctx, sce_int start, sce_int stop,
                                           double *partial)
{
    const F(sce_softmax_ctx) *c = (const F(sce_softmax_ctx) *)vctx;
    const sce_int K = c->n_classes;
    double acc = 0.0;
    int bad = 0;
    if (K < SCE_SOFTMAX_WIDE) {
        for (sce_int s0 = start; s0 < stop; s0 += SCE_SOFTMAX_ROWS) {
            sce_int nb = s0 + SCE_SOFTMAX_ROWS < stop ? SCE_SOFTMAX_ROWS : stop - s0;
            T w[SCE_SOFTMAX_ROWS], gw[SCE_SOFTMAX_ROWS], li[SCE_SOFTMAX_ROWS];
            for (sce_int i = 0; i < nb; i++) {
                w[i] = c->sw ? c->sw[s0 + i] : (T)1;
                bad |= SCE_OUTSIDE(w[i], (T)0, T_MAX) ? SCE_BAD_SAMPLE_WEIGHT : 0;
                gw[i] = c->grad_scale * w[i];
            }
            F(sce_softmax_xent_strip)(nb, K, c->z + s0 * K, c->labels ? c->labels + s0 : NULL,
                                      c->target ? c->target + s0 * K : NULL, gw,
                                      c->grad ? c->grad + s0 * K : NULL, NULL, li, &bad);
            for (sce_int i = 0; i < nb; i++) {
                T lw = w[i] * li[i];
                if (c->loss)
                    c->loss[s0 + i] = lw;
                acc += (double)lw;
            }
        }
        *partial = acc;
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
