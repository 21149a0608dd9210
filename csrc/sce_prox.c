/* sce_prox.c -- the inner solve of the proximal Newton method for L1 / elastic-net objectives. */
#include <math.h>
#include <stdlib.h>

#include "sce_kernels.h"

/* soft(u, t) = sign(u) max(|u| - t, 0): the proximal map of t |.| */
static double sce_soft_threshold(double u, double t)
{
    return u > t ? u - t : (u < -t ? u + t : 0.0);
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
        const double delta = sce_soft_threshold(u - b / a, w[j] / a) - u;
        if (delta == 0.0)
            continue;
        z[j] += delta;
        const double *col = H + j * m; /* H is symmetric: row j is column j */
        for (sce_int k = 0; k < m; k++)
            Hz[k] += delta * col[k];
        const double change = a * delta * delta;
        largest = change > largest ? change : largest;
    }
    return largest;
}

/* Sweeps alternate between all coordinates and, until those settle, only the non-zero ones (most
 * of an L1 solution's coordinates stay at 0, and checking them every sweep is most of the work). */
int sce_l1_quadratic_cd(sce_int m, const double *H, const double *g, const double *x, const double *w,
                        double *z, double *Hz, int max_sweeps, double tol)
{
    sce_int *active = (sce_int *)malloc((size_t)(m > 0 ? m : 1) * sizeof(sce_int));
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
        while (sweep < max_sweeps) {
            sweep++;
            if (sce_cd_sweep(m, count, active, H, g, x, w, z, Hz) <= tol)
                break;
        }
    }
    free(active);
    return sweep;
}
