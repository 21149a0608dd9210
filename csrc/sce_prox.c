/* sce_prox.c -- the inner solve of the proximal Newton method for L1 / elastic-net objectives. */
#include <math.h>
#include <stdlib.h>

#include "sce_internal.h"

/* soft(u, t) = sign(u) max(|u| - t, 0): the proximal map of t |.| */
static double sce_soft_threshold(double u, double t)
{
    return u > t ? u - t : (u < -t ? u + t : 0.0);
}

/* v += a * col over m entries: the update of Hz that every coordinate step pays (vectorized). */
SCE_CLONES static void sce_axpy(sce_int m, double a, const double *col, double *v)
{
    for (sce_int k = 0; k < m; k++)
        v[k] += a * col[k];
}

/* a'b over n entries (the Cholesky factorization's inner products; vectorized in a fixed order). */
SCE_CLONES static double sce_dot(sce_int n, const double *a, const double *b)
{
    double s = 0.0;
    SCE_SIMD(reduction(+ : s))
    for (sce_int k = 0; k < n; k++)
        s += a[k] * b[k];
    return s;
}

/* z_j + delta, the new z_j of a step to u_j = x_j + z_j = target: -x_j exactly when the target is 0,
 * since z_j + delta can round to a u_j of 1e-17 or so, a non-zero coefficient for nothing. */
static double sce_step_to(double x, double z, double delta, double target)
{
    return target == 0.0 ? -x : z + delta;
}

/* One sweep over the coordinates j of `order` (all of them when order is NULL): returns the largest
 * change of the model, H_jj delta^2, that a coordinate step made. */
static double sce_cd_sweep(sce_int m, sce_int count, const sce_int *order, const double *H, const double *g,
                           const double *x, const double *w, double *z, double *Hz)
{
    double largest = 0.0;
    for (sce_int t = 0; t < count; t++) {
        const sce_int j = order ? order[t] : t;
        const double a = H[j * m + j];
        if (!(a > 0.0)) /* no curvature (an unused feature without L2): the step stays 0 */
            continue;
        const double b = g[j] + Hz[j], u = x[j] + z[j];
        /* a coordinate at 0 whose slope the L1 weight covers stays at 0: no update to pay */
        if (u == 0.0 && fabs(b) <= w[j])
            continue;
        const double target = sce_soft_threshold(u - b / a, w[j] / a), delta = target - u;
        if (delta == 0.0)
            continue;
        z[j] = sce_step_to(x[j], z[j], delta, target);
        sce_axpy(m, delta, H + j * m, Hz); /* H is symmetric: row j is column j */
        const double change = a * delta * delta;
        largest = change > largest ? change : largest;
    }
    return largest;
}

/* In place lower Cholesky factor L (L L^T = A) of the row-major (p, p) A; 0 when a pivot is not
 * clearly positive (A singular to working precision: the caller keeps to coordinate steps). */
static int sce_cholesky(sce_int p, double *A)
{
    for (sce_int j = 0; j < p; j++) {
        double *rj = A + j * p;
        const double diag = rj[j], s = diag - sce_dot(j, rj, rj);
        if (!(s > 1e-12 * diag))
            return 0;
        rj[j] = sqrt(s);
        for (sce_int i = j + 1; i < p; i++) {
            double *ri = A + i * p;
            ri[j] = (ri[j] - sce_dot(j, ri, rj)) / rj[j];
        }
    }
    return 1;
}

/* b = (L L^T)^{-1} b for the factor of sce_cholesky. */
static void sce_cholesky_solve(sce_int p, const double *L, double *b)
{
    for (sce_int i = 0; i < p; i++)
        b[i] = (b[i] - sce_dot(i, L + i * p, b)) / L[i * p + i];
    for (sce_int i = p - 1; i >= 0; i--) {
        double t = b[i];
        for (sce_int k = i + 1; k < p; k++)
            t -= L[k * p + i] * b[k];
        b[i] = t / L[i * p + i];
    }
}

/* The change of the model g'z + z'Hz / 2 + sum_j w_j |x_j + z_j| when z moves by step[a] along the
 * coordinates face[a] (p of them): b = g + Hz at z gives the linear part. */
static double sce_model_change(sce_int m, sce_int p, const sce_int *face, const double *step, const double *H,
                               const double *g, const double *x, const double *w, const double *z,
                               const double *Hz)
{
    double change = 0.0;
    for (sce_int a = 0; a < p; a++) {
        const sce_int j = face[a];
        const double *row = H + j * m, u = x[j] + z[j];
        double Hs = 0.0;
        for (sce_int b = 0; b < p; b++)
            Hs += row[face[b]] * step[b];
        change += step[a] * (g[j] + Hz[j] + 0.5 * Hs) + w[j] * (fabs(u + step[a]) - fabs(u));
    }
    return change;
}

/* A step toward the minimizer of the model on its current face: the coordinates F of `order` (all\n * when NULL) where
 * u = x + z is non-zero (or w_j = 0) keep their signs s and the others stay at 0, so that the model
 * is the smooth quadratic g'z + z'Hz / 2 + sum_F w_j s_j u_j there, minimized by the Newton step
 * H_FF D = -(g + Hz + w s)_F.  Coordinate descent needs many sweeps for that when H_FF is badly
 * conditioned (nearly separable data, correlated features); one factorization is exact.  When D
 * takes coordinates across 0, two steps are weighed by their model change: D cut where the first
 * coordinate reaches 0 (the model decreases up to there, as along any segment toward a convex
 * quadratic's minimizer) and D with the crossing coordinates stopped at 0 (the orthant projection,
 * which drops every leaving coordinate at once but may not decrease).  scratch holds
 * count * (count + 3) doubles and face count indices.  Returns 1 when it stepped. */
static int sce_face_step(sce_int m, sce_int count, const sce_int *order, const double *H, const double *g,
                         const double *x, const double *w, double *z, double *Hz, double *scratch,
                         sce_int *face)
{
    sce_int p = 0;
    for (sce_int t = 0; t < count; t++) {
        const sce_int j = order ? order[t] : t;
        if ((x[j] + z[j] != 0.0 || w[j] == 0.0) && H[j * m + j] > 0.0)
            face[p++] = j;
    }
    if (p == 0)
        return 0;
    double *L = scratch, *D = scratch + (size_t)p * p, *r = D + p, *P = r + p;
    for (sce_int a = 0; a < p; a++) {
        const double *row = H + face[a] * m;
        for (sce_int b = 0; b <= a; b++)
            L[a * p + b] = row[face[b]];
        const sce_int j = face[a];
        const double u = x[j] + z[j];
        r[a] = g[j] + Hz[j] + (u > 0.0 ? w[j] : (u < 0.0 ? -w[j] : 0.0));
        D[a] = -r[a];
    }
    if (!sce_cholesky(p, L))
        return 0;
    sce_cholesky_solve(p, L, D);
    double slope = 0.0, t = 1.0;
    int crossing = 0;
    for (sce_int a = 0; a < p; a++) {
        const sce_int j = face[a];
        const double u = x[j] + z[j];
        slope += r[a] * D[a];
        P[a] = D[a];
        /* u_j would cross 0 (w_j = 0: no kink to stop at) at the fraction -u / D of the step */
        if (w[j] != 0.0 && u * (u + D[a]) <= 0.0) {
            t = fmin(t, -u / D[a]);
            P[a] = -u;
            crossing = 1;
        }
    }
    if (!(slope < 0.0) || !(t > 0.0)) /* rounding made the step useless: keep to coordinate steps */
        return 0;
    if (crossing) {
        for (sce_int a = 0; a < p; a++) { /* D becomes the cut step, its blocking coordinate on 0 */
            const double u = x[face[a]] + z[face[a]];
            D[a] = w[face[a]] != 0.0 && u * (u + t * D[a]) <= 0.0 ? -u : t * D[a];
        }
        const double cut = sce_model_change(m, p, face, D, H, g, x, w, z, Hz);
        const double projected = sce_model_change(m, p, face, P, H, g, x, w, z, Hz);
        if (projected < cut)
            D = P;
        else if (!(cut < 0.0))
            return 0;
    }
    for (sce_int a = 0; a < p; a++) {
        const sce_int j = face[a];
        const double u = x[j] + z[j];
        z[j] = sce_step_to(x[j], z[j], D[a], u + D[a]); /* D_j = -u_j: exactly 0 */
        if (D[a] != 0.0)
            sce_axpy(m, D[a], H + j * m, Hz);
    }
    return 1;
}

/* Coordinate descent on the subproblem restricted to its p coordinates `active`, z fixed elsewhere:
 * in y = the change of z there, it is the same subproblem with H_AA, g' = (g + Hz)_A and x' =
 * (x + z)_A, copied to the front of `scratch` so that every step updates p entries of a contiguous
 * (H y)_A instead of m of Hz; z and Hz take y once it settled (p columns of H).  A step to the
 * minimizer on the face (sce_face_step) is taken once the sweeps since the last one have cost
 * about as much as its factorization: it at most doubles the work where coordinate descent
 * converges fast, and replaces most sweeps where it does not.  Returns the sweeps made. */
static int sce_cd_restricted(sce_int m, sce_int p, const sce_int *active, const double *H, const double *g,
                             const double *x, const double *w, double *z, double *Hz, int max_sweeps,
                             double tol, double *scratch, sce_int *face)
{
    double *A = scratch, *gA = A + (size_t)p * p, *xA = gA + p, *wA = xA + p, *y = wA + p, *Hy = y + p;
    double *face_scratch = Hy + p;
    for (sce_int a = 0; a < p; a++) {
        const sce_int j = active[a];
        const double *row = H + j * m;
        for (sce_int b = 0; b < p; b++)
            A[a * p + b] = row[active[b]];
        gA[a] = g[j] + Hz[j];
        xA[a] = x[j] + z[j];
        wA[a] = w[j];
        y[a] = Hy[a] = 0.0;
    }
    const double face_cost = (double)p * p * p / 3.0;
    double spent = 0.0;
    int sweeps = 0;
    while (sweeps < max_sweeps) {
        sweeps++;
        if (sce_cd_sweep(p, p, NULL, A, gA, xA, wA, y, Hy) <= tol)
            break;
        spent += (double)p * p;
        if (spent >= face_cost) {
            spent = 0.0;
            sce_face_step(p, p, NULL, A, gA, xA, wA, y, Hy, face_scratch, face);
        }
    }
    for (sce_int a = 0; a < p; a++)
        if (y[a] != 0.0) {
            z[active[a]] = sce_step_to(x[active[a]], z[active[a]], y[a], xA[a] + y[a]);
            sce_axpy(m, y[a], H + active[a] * m, Hz);
        }
    return sweeps;
}

/* Sweeps alternate between all coordinates and, until those settle, only the non-zero ones (most
 * of an L1 solution's coordinates stay at 0, and checking them every sweep is most of the work). */
int sce_l1_quadratic_cd(sce_int m, const double *H, const double *g, const double *x, const double *w,
                        double *z, double *Hz, int max_sweeps, double tol)
{
    sce_int *active = (sce_int *)malloc((size_t)(m > 0 ? m : 1) * 2 * sizeof(sce_int));
    double *scratch = NULL;
    size_t capacity = 0;
    if (active == NULL)
        return -1;
    int sweep = 0;
    while (sweep < max_sweeps) {
        sweep++;
        if (sce_cd_sweep(m, m, NULL, H, g, x, w, z, Hz) <= tol)
            break;
        sce_int count = 0;
        for (sce_int j = 0; j < m; j++)
            if (x[j] + z[j] != 0.0 || w[j] == 0.0)
                active[count++] = j;
        const size_t need = 2 * (size_t)count * count + 8 * (size_t)count;
        if (need > capacity) {
            free(scratch);
            scratch = (double *)malloc(need * sizeof(double));
            capacity = scratch ? need : 0;
        }
        if (scratch == NULL) {
            free(active);
            return -1;
        }
        sweep += sce_cd_restricted(m, count, active, H, g, x, w, z, Hz, max_sweeps - sweep, tol, scratch,
                                   active + m);
    }
    free(scratch);
    free(active);
    return sweep;
}
