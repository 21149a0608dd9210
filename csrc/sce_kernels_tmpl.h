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
