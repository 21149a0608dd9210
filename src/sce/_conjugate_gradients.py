"""Preconditioned conjugate gradients for the Newton systems H p = -g of sce._newton_cg, and the
quasi-Newton preconditioner built from the (d, H d) pairs of an earlier solve."""
import numpy as np
import scipy.linalg
import scipy.sparse as sp

from ._logistic_blocks import weighted_gram


def cg(hessp, g, rtol, max_iter, precond=None, n_pairs=0, status=None, x0=None, enough_decrement=None):
    """Preconditioned conjugate gradients for H p = -g, stopped when the residual r = H p + g has
    ||r||_M^-1 <= rtol ||g||_M^-1, the norm of the preconditioner M ~ H (Euclidean without one):
    -g'p / 2 then underestimates the Newton decrement g'H^-1 g / 2 by r'H^-1 r / 2, about rtol^2 of
    it when M is close to H, whatever the scales of the columns (in the Euclidean norm the residual
    of a column scaled by 1e-4 next to one scaled by 1e4 was never looked at).  precond(r) applies
    M^-1, or is None.  status (a dict), when given, gets "solved": whether the residual test was
    met (or CG ended on a flat direction) before max_iter.  Returns p, the number of
    H-products and up to n_pairs (d, H d) pairs spread over the iterations; p is not finite when
    a product overflowed.  x0: a starting point (an earlier solve's p; one more product).

    enough_decrement (with a preconditioner M ~ H, and no x0): also stop, as solved, once the
    iterate proves the Newton decrement g'H^-1 g / 2 at most this: it is -g'p / 2 + r'H^-1 r / 2
    for a CG iterate p (the second term, the gap the step p leaves on the quadratic model, taken as
    r'M^-1 r / 2).  A Newton solver that only needs to know that it has converged then stops CG
    long before the residual test, with a step that leaves a gap of at most that bound instead of
    about its square.

    The system is solved as (H / s) p = -g / s with s = max|g|: the same p, with residuals of order
    1 whatever the scale of the objective (C = 1e120 or large values in X made d'Hd overflow to inf
    and the solve return NaN).  Preconditioned CG is unchanged by a constant factor on M."""
    scale = float(np.max(np.abs(g))) if g.size else 0.0
    if not (0.0 < scale < np.inf):
        scale = 1.0
    g = g / scale
    k = 0
    if x0 is None:
        p = np.zeros_like(g)
        r = -g.copy()
    else:
        p = np.array(x0, dtype=g.dtype)
        r = -g - hessp(p) / scale
        k = 1
    z = precond(r) if precond is not None else r
    d = z.copy()
    rz = float(r @ z)
    if x0 is None:
        stop = (rtol ** 2) * rz
    else:  # relative to g as from p = 0
        stop = (rtol ** 2) * float(g @ (precond(g) if precond is not None else g))
    # enough_decrement in the scaled system's units: -g'p / 2 + r'M^-1 r (scale) / 2 <= it / scale
    enough = enough_decrement / scale if enough_decrement is not None and precond is not None and x0 is None else None
    pairs = []
    solved = rz <= stop and x0 is not None  # (from an earlier solve's p: maybe solved already)
    if status is not None:
        status["solved"] = solved
    while k < max_iter and not solved:
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
        if rz_new <= stop or (enough is not None and -float(g @ p) + scale * rz_new <= 2.0 * enough):
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


class LowRankPreconditioner:
    """M^-1 for M = diag(base) + Z'Z, Z a few rows (m x n, sparse or dense), by the Woodbury identity:

        M^-1 r = B^-1 r - B^-1 Z' (I + Z B^-1 Z')^-1 Z B^-1 r,    B = diag(base) > 0,

    one m x m Cholesky factor (of a matrix whose eigenvalues are at least 1) and two products with Z
    per application.  ``ok``: whether the factorization succeeded (it fails only on NaN or inf)."""

    def __init__(self, base, Z):
        self.inv = 1.0 / base
        self.Z = sp.csr_matrix(Z) if sp.issparse(Z) else np.asarray(Z)
        self.Zt = self.Z.T.tocsr() if sp.issparse(Z) else self.Z.T
        if sp.issparse(Z):  # Z B^-1 Z' as the Gram matrix of Z' (a sum over its rows), by the Gram kernel
            self.Zt.sum_duplicates()
            K = weighted_gram(self.Zt, self.inv, False)
        else:
            K = (self.Z * self.inv) @ self.Z.T
        K[np.diag_indices_from(K)] += 1.0
        # I + a positive semi-definite matrix: only NaN or an overflow fail (the caller then goes on
        # without this preconditioner); LAPACK does not look for them
        self.ok = bool(np.isfinite(K).all() and np.isfinite(self.inv).all())
        if self.ok:
            self.factor, info = scipy.linalg.lapack.dpotrf(K, lower=0, clean=0)
            self.ok = info == 0

    def __call__(self, r):
        u = self.inv * r
        s, _ = scipy.linalg.lapack.dpotrs(self.factor, self.Z @ u, lower=0)
        return u - self.inv * (self.Zt @ s)
