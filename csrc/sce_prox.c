/* sce_prox.c -- the inner solve of the proximal Newton method for L1 / elastic-net objectives. */
#include <math.h>

#include "sce_kernels.h"

/* soft(u, t) = sign(u) max(|u| - t, 0): the proximal map of t |.| */
static double sce_soft_threshold(double u, double t)
{
    return u > t ? u - t : (u < -t ? u + t : 0.0);
}

int sce_l1_quadratic_cd(sce_int m, const double *H, const double *g, const double *x, const double *w,
                        double *z, double *Hz, int max_sweeps, double tol)
{
    int sweep = 0;
    while (sweep < max_sweeps) {
        sweep++;
        double largest = 0.0; /* the largest change of the model along a coordinate this sweep */
        for (sce_int j = 0; j < m; j++) {
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
        if (largest <= tol)
            break;
    }
    return sweep;
}
