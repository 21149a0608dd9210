/* sce_glm_passes_tmpl.h -- the logistic-regression passes of one precision: the row worker for X's
 * layout and the number of classes, an estimate of the work per row (which, with the accumulator's
 * length, decides how sce_run_rows splits the rows), and the run.  Included by sce_kernels.c after
 * sce_glm_dense_tmpl.h and both instances of sce_glm_csr_tmpl.h, with T and F(name). */

static F(sce_glm_ctx) F(sce_glm_context)(const sce_rows *X, sce_int K)
{
    F(sce_glm_ctx) c;
    memset(&c, 0, sizeof c);
    c.d = X->d;
    c.K = K;
    c.X = (const T *)X->X;
    c.data = (const T *)X->data;
    c.indices = X->indices;
    c.indptr = X->indptr;
    return c;
}

/* The worker for X's layout among the dense, CSR int32 and CSR int64 ones. */
static sce_rows_fn F(sce_pick)(const sce_rows *X, sce_rows_fn dense, sce_rows_fn csr_i32, sce_rows_fn csr_i64)
{
    return X->index_bytes == 0 ? dense : X->index_bytes == 4 ? csr_i32 : csr_i64;
}

static int F(sce_logistic_eval)(const sce_rows *X, sce_int K, const void *targets, const void *sw,
                                const void *W, const void *b, double *grad, void *curvature, int n_threads,
                                double *loss_sum)
{
    F(sce_glm_ctx) c = F(sce_glm_context)(X, K);
    c.y = K == 1 ? (const T *)targets : NULL;
    c.labels = K > 1 ? (const int64_t *)targets : NULL;
    c.sw = (const T *)sw;
    c.W = (const T *)W;
    c.b = (const T *)b;
    c.curvature_out = (T *)curvature;
    const sce_rows_fn fn = K == 1 ? F(sce_pick)(X, F(sce_binary_eval_dense_rows), F(sce_binary_eval_csr_rows_i32),
                                                F(sce_binary_eval_csr_rows_i64))
                                  : F(sce_pick)(X, F(sce_multinomial_eval_dense_rows),
                                                F(sce_multinomial_eval_csr_rows_i32),
                                                F(sce_multinomial_eval_csr_rows_i64));
    /* per class: the two products with the row, and the exponential and logarithm of the logit */
    const double work = (double)K * (2.0 * sce_row_entries(X) + 16.0);
    return sce_run_rows(fn, &c, X->n, work, K * (X->d + 1), n_threads, grad, loss_sum);
}

static int F(sce_logistic_hessp)(const sce_rows *X, sce_int K, const void *sw, const void *curvature,
                                 const void *V, const void *vb, double *out, int n_threads)
{
    F(sce_glm_ctx) c = F(sce_glm_context)(X, K);
    c.sw = (const T *)sw;
    c.curvature = (const T *)curvature;
    c.W = (const T *)V;
    c.b = (const T *)vb;
    const sce_rows_fn fn = K == 1 ? F(sce_pick)(X, F(sce_binary_hessp_dense_rows), F(sce_binary_hessp_csr_rows_i32),
                                                F(sce_binary_hessp_csr_rows_i64))
                                  : F(sce_pick)(X, F(sce_multinomial_hessp_dense_rows),
                                                F(sce_multinomial_hessp_csr_rows_i32),
                                                F(sce_multinomial_hessp_csr_rows_i64));
    const double work = (double)K * (2.0 * sce_row_entries(X) + 4.0);
    double unused;
    return sce_run_rows(fn, &c, X->n, work, K * (X->d + 1), n_threads, out, &unused);
}

static int F(sce_logistic_gram)(const sce_rows *X, const void *weights, int fit_intercept, int sorted_indices,
                                const int64_t *column_map, sce_int n_columns, double *out, int n_threads)
{
    F(sce_glm_ctx) c = F(sce_glm_context)(X, 1);
    c.curvature = (const T *)weights;
    c.fit_intercept = fit_intercept;
    c.sorted_indices = sorted_indices;
    c.column_map = column_map;
    c.n_columns = n_columns;
    const sce_int dd = (column_map ? n_columns : X->d) + (fit_intercept ? 1 : 0);
    const sce_rows_fn fn = F(sce_pick)(X, F(sce_gram_dense_rows), F(sce_gram_csr_rows_i32),
                                       F(sce_gram_csr_rows_i64));
    /* the upper triangle of the pairs of a row's entries; every pair for a CSR row not known sorted */
    const double e = sce_row_entries(X);
    const double work = (X->index_bytes != 0 && !sorted_indices ? e * e : 0.5 * e * (e + 1.0)) + e + 1.0;
    double unused;
    const int status = sce_run_rows(fn, &c, X->n, work, dd * dd, n_threads, out, &unused);
    if (status == SCE_OK)
        sce_mirror_upper(dd, out);
    return status;
}

static int F(sce_logistic_sq_colsums)(const sce_rows *X, sce_int K, const double *C, double *out, int n_threads)
{
    F(sce_glm_ctx) c = F(sce_glm_context)(X, K);
    c.C = C;
    const sce_rows_fn fn = F(sce_pick)(X, F(sce_sq_colsums_dense_rows), F(sce_sq_colsums_csr_rows_i32),
                                       F(sce_sq_colsums_csr_rows_i64));
    const double work = (double)K * (sce_row_entries(X) + 1.0);
    double unused;
    return sce_run_rows(fn, &c, X->n, work, K * (X->d + 1), n_threads, out, &unused);
}
