/* sce_mlp_tmpl.h -- the elementwise passes of a sigmoid multilayer perceptron and its stochastic
 * optimizers, for one precision.  Included by sce_kernels.c after sce_kernels_tmpl.h with T, T_MAX
 * and F(name).
 *
 * The matrix products of a layer are the caller's (BLAS); what lies between them is here, one pass
 * each over a row-major (n, h) layer buffer:
 *   forward   A = sigma(Z + b)                      (bias and activation of a hidden layer)
 *             Z = Z + b                             (the output layer; its loss is the fused BCE
 *                                                    kernel of sce_kernels_tmpl.h or the softmax one of
 *                                                    sce_softmax_tmpl.h)
 *   backward  D = D * A (1 - A), db = sum_i D_i     (seed 003: delta_prev = (W^T delta) . a(1 - a))
 *             db = sum_i D_i                        (the output layer's bias gradient)
 * Column sums are accumulated in double in row order within a partition of the rows and the
 * partitions are added in order (sce_run_rows): the same for every thread count. */

typedef struct {
    sce_int h;
    T *Z;
    const T *b;
    int sigmoid; /* 1: Z = sigma(Z + b); 0: Z = Z + b */
} F(sce_bias_ctx);

SCE_CLONES static int F(sce_bias_chunk)(const void *vctx, sce_int r0, sce_int r1, double *partial)
{
    const F(sce_bias_ctx) *c = (const F(sce_bias_ctx) *)vctx;
    const sce_int h = c->h;
    (void)partial;
    for (sce_int i = r0; i < r1; i++) {
        T *z = c->Z + i * h;
        if (!c->sigmoid) {
            SCE_SIMD()
            for (sce_int j = 0; j < h; j++)
                z[j] += c->b[j];
            continue;
        }
        for (sce_int s0 = 0; s0 < h; s0 += SCE_STRIP) {
            sce_int s1 = s0 + SCE_STRIP < h ? s0 + SCE_STRIP : h;
            T tbuf[SCE_STRIP], ebuf[SCE_STRIP];
            for (sce_int j = s0; j < s1; j++) {
                T t = z[j] + c->b[j];
                tbuf[j - s0] = t;
                ebuf[j - s0] = F(sce_exp_neg_abs)(t);
            }
            for (sce_int j = s0; j < s1; j++)
                z[j] = F(sce_sigmoid_elem)(tbuf[j - s0], ebuf[j - s0]);
        }
    }
    return 0;
}

/* One pass over the rows, in chunks of about SCE_CHUNK elements. */
static int F(sce_bias_pass)(sce_int n, sce_int h, T *Z, const T *b, int sigmoid, int n_threads)
{
    F(sce_bias_ctx) c = {h, Z, b, sigmoid};
    double unused;
    if (n <= 0 || h <= 0)
        return SCE_OK;
    return sce_run_chunks(F(sce_bias_chunk), &c, n, h < SCE_CHUNK ? SCE_CHUNK / h : 1, n_threads, NULL,
                          &unused);
}

int F(sce_bias_sigmoid)(sce_int n, sce_int h, T *Z, const T *b, int n_threads)
{
    return F(sce_bias_pass)(n, h, Z, b, 1, n_threads);
}

int F(sce_add_bias)(sce_int n, sce_int h, T *Z, const T *b, int n_threads)
{
    return F(sce_bias_pass)(n, h, Z, b, 0, n_threads);
}

typedef struct {
    sce_int h;
    T *D;
    const T *A; /* NULL: column sums only */
} F(sce_backprop_ctx);

SCE_CLONES static int F(sce_backprop_rows)(const void *vctx, sce_int r0, sce_int r1, double *acc,
                                           double *loss_sum)
{
    const F(sce_backprop_ctx) *c = (const F(sce_backprop_ctx) *)vctx;
    const sce_int h = c->h;
    for (sce_int i = r0; i < r1; i++) {
        T *d = c->D + i * h;
        if (c->A) {
            const T *a = c->A + i * h;
            SCE_SIMD()
            for (sce_int j = 0; j < h; j++) {
                T dj = d[j] * (a[j] * ((T)1 - a[j])); /* sigma' = sigma (1 - sigma) */
                d[j] = dj;
                acc[j] += (double)dj;
            }
        } else {
            SCE_SIMD()
            for (sce_int j = 0; j < h; j++)
                acc[j] += (double)d[j];
        }
    }
    (void)loss_sum;
    return SCE_OK;
}

/* D *= A (1 - A) when A is given; db = column sums of (the new) D. */
int F(sce_sigmoid_backprop)(sce_int n, sce_int h, T *D, const T *A, T *db, int n_threads)
{
    if (h <= 0)
        return SCE_OK;
    /* The sums of a layer of up to 1024 units stay on the stack: no allocation per minibatch. */
    double stack_acc[1024];
    double *acc = h <= 1024 ? stack_acc : (double *)malloc((size_t)h * sizeof(double));
    if (acc == NULL)
        return SCE_ERR_NOMEM;
    F(sce_backprop_ctx) c = {h, D, A};
    double unused;
    const int status = sce_run_rows(F(sce_backprop_rows), &c, n, (double)h, h, n_threads, acc, &unused);
    if (status == SCE_OK)
        for (sce_int j = 0; j < h; j++)
            db[j] = (T)acc[j];
    if (acc != stack_acc)
        free(acc);
    return status;
}

/* ------------------------------------------------------------------------------------------ */
/* Stochastic optimizer steps over a flat parameter vector p whose first n_penalized entries   */
/* (the weights) carry the L2 term: the gradient used is g_k + l2 p_k there and g_k after.     */
/* Both return sum_{k < n_penalized} p_k^2 of the parameters before the step (the penalty of   */
/* the batch the gradient came from), in double.                                               */
/* ------------------------------------------------------------------------------------------ */

/* Adam (Kingma & Ba): m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2, p -= lr_t m / (sqrt(v) + eps),
 * with the bias corrections folded into lr_t by the caller. */
SCE_CLONES static double F(sce_adam_range)(sce_int k0, sce_int k1, T l2, T *p, const T *g, T *m,
                                           T *v, T lr_t, T b1, T b2, T eps)
{
    double sq = 0.0;
    SCE_SIMD(reduction(+ : sq))
    for (sce_int k = k0; k < k1; k++) {
        T pk = p[k];
        T gk = g[k] + l2 * pk;
        T mk = b1 * m[k] + ((T)1 - b1) * gk;
        T vk = b2 * v[k] + ((T)1 - b2) * (gk * gk);
        m[k] = mk;
        v[k] = vk;
        p[k] = pk - lr_t * mk / (SCE_SQRT(vk) + eps);
        sq += (double)(pk * pk);
    }
    return sq;
}

double F(sce_adam_step)(sce_int n, sce_int n_penalized, T l2, T *p, const T *g, T *m, T *v, T lr_t,
                        T b1, T b2, T eps)
{
    double sq = F(sce_adam_range)(0, n_penalized, l2, p, g, m, v, lr_t, b1, b2, eps);
    F(sce_adam_range)(n_penalized, n, (T)0, p, g, m, v, lr_t, b1, b2, eps);
    return sq;
}

/* SGD with momentum mu: u = mu u - lr g; p += u, or with Nesterov's momentum p += mu u - lr g. */
SCE_CLONES static double F(sce_sgd_range)(sce_int k0, sce_int k1, T l2, T *p, const T *g, T *u,
                                          T lr, T mu, int nesterov)
{
    double sq = 0.0;
    SCE_SIMD(reduction(+ : sq))
    for (sce_int k = k0; k < k1; k++) {
        T pk = p[k];
        T step = -lr * (g[k] + l2 * pk);
        T uk = mu * u[k] + step;
        u[k] = uk;
        p[k] = pk + (nesterov ? mu * uk + step : uk);
        sq += (double)(pk * pk);
    }
    return sq;
}

double F(sce_sgd_step)(sce_int n, sce_int n_penalized, T l2, T *p, const T *g, T *u, T lr, T mu,
                       int nesterov)
{
    double sq = F(sce_sgd_range)(0, n_penalized, l2, p, g, u, lr, mu, nesterov);
    F(sce_sgd_range)(n_penalized, n, (T)0, p, g, u, lr, mu, nesterov);
    return sq;
}
