"""Preconditioned conjugate gradients for the Newton systems H p = -g of sce._convex_solvers, and the
quasi-Newton preconditioner built from the (d, H d) pairs of an earlier solve."""
import numpy as np
import scipy.linalg


def cg(hessp, g, rtol, max_iter, precond=None, n_pairs=0, status=None):
    """Preconditioned conjugate gradients for H p = -g, stopped when the residual r = H p + g has
    ||r||_M^-1 <= rtol ||g||_M^-1, the norm of the preconditioner M ~ H (Euclidean without one):
    -g'p / 2 then underestimates the Newton decrement g'H^-1 g / 2 by r'H^-1 r / 2, about rtol^2 of
    it when M is close to H, whatever the scales of the columns (in the Euclidean norm the residual
    of a column scaled by 1e-4 next to one scaled by 1e4 was never looked at).  precond(r) applies
    M^-1, or is None.  status (a dict), when given, gets "solved": whether the residual test was
    met (or CG ended on a flat direction) before max_iter.  Returns p, the number of
    H-products and up to n_pairs (d, H d) pairs spread over the iterations; p is not finite when
    a product overflowed.

    The system is solved as (H / s) p = -g / s with s = max|g|: the same p, with residuals of order
    1 whatever the scale of the objective (C = 1e120 or large values in X made d'Hd overflow to inf
    and the solve return NaN).  Preconditioned CG is unchanged by a constant factor on M."""
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    if not (0.0 < scale < np.inf):
        scale = 1.0
    g = g / scale
    p = np.zeros_like(g)
    r = -g.copy()
    z = precond(r) if precond is not None else r
    d = z.copy()
    rz = float(r @ z)
    stop = (rtol ** 2) * rz
    pairs = []
    k = 0
    solved = False
    if status is not None:
        status["solved"] = False
    while k < max_iter:
        Hd_unscaled = hessp(d)
        Hd = Hd_unscaled / scale
        k += 1
        curv = float(d @ Hd)
        if not np.isfinite(curv):  # the product overflowed float64: no direction from here
            return np.full_like(g, np.nan), k, []
        if curv <= 0:  # flat direction (only possible without penalty): take what we have
            solved = True
            break
        if n_pairs:
            pairs.append((d, Hd_unscaled))
            if len(pairs) == 2 * n_pairs:  # keep every other pair: evenly spread, bounded memory
                pairs = pairs[1::2]
        alpha = rz / curv
        p += alpha * d
        r -= alpha * Hd
        z = precond(r) if precond is not None else r
        rz_new = float(r @ z)
        if rz_new <= stop:
            solved = True
            break
        d = z + (rz_new / rz) * d
        rz = rz_new
    if status is not None:
        status["solved"] = solved
    return (p if np.any(p) else -g * scale), k, pairs[-n_pairs:] if n_pairs else []


class QuasiNewtonPreconditioner:
    """M^-1 ~ H^-1 from the pairs (s, y = H s) of a previous CG solve: the inverse BFGS matrix of
    those pairs over an initial H0^-1 (the inverse Jacobi diagonal when given, else the scalar
    s'y / y'y of the last pair), in the compact form of Byrd, Nocedal and Schnabel (1994):

        M^-1 = H0^-1 + [S, H0^-1 Y] [[R^-T (D + Y' H0^-1 Y) R^-1, -R^-T], [-R^-1, 0]] [S'; Y' H0^-1]

    with R = triu(S'Y), D = diag(S'Y): symmetric positive definite for any pairs with s'y > 0, and
    a few matrix-vector products of m = len(pairs) rows per application."""

    def __init__(self, pairs, jacobi=None):
        self.S = np.array([s for s, _ in pairs])
        Y = np.array([y for _, y in pairs])
        if jacobi is not None:
            self.h0 = 1.0 / jacobi
        else:
            self.h0 = float(self.S[-1] @ Y[-1]) / float(Y[-1] @ Y[-1])
        self.H0Y = Y * self.h0
        SY = self.S @ Y.T
        Rinv = scipy.linalg.solve_triangular(np.triu(SY), np.eye(len(pairs)))
        m = len(pairs)
        self.M = np.zeros((2 * m, 2 * m))
        self.M[:m, :m] = Rinv.T @ (np.diag(np.diag(SY)) + Y @ self.H0Y.T) @ Rinv
        self.M[:m, m:] = -Rinv.T
        self.M[m:, :m] = -Rinv
        self.SH0Y = np.vstack([self.S, self.H0Y])

    def __call__(self, r):
        return self.h0 * r + (self.M @ (self.SH0Y @ r)) @ self.SH0Y
