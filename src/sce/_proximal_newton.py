"""Proximal Newton for L1 / elastic-net logistic regression: min_x F(x) = f(x) + sum_j w_j |x_j|,
f the smooth objective of sce._logistic_objective and w its l1_weights.

Each iteration takes the curvature at x from the evaluation there, forms the Hessian restricted to a
working set of features (those with a non-zero coefficient, and the ones whose gradient exceeds
their L1 weight, largest first), and minimizes the quadratic model plus the L1 term over that set by
coordinate descent in C (csrc/sce_prox.c); a backtracking line search on F then takes the step (Lee,
Sun and Saunders 2014; the working set as in glmnet and skglm).

Stopping rule, as for the Newton solvers (sce._convex_solvers): stop after the step whose model
decrease -q(z) = -(g'z + z'Hz/2 + sum_j w_j (|x_j + z_j| - |x_j|)) is at most tol**2 |F|, provided
the model was minimized over every feature that could move (no feature outside the working set
violates its optimality condition |g_j| <= w_j).
"""
import numpy as np

from . import _core
from ._convex_solvers import SolverResult, _check_finite_start, _Monitor
from ._threads import serial_blas_for

_ARMIJO = 1e-4
_MAX_HALVINGS = 30
# Working set: at least this many features, and twice the non-zero ones, of those that can move; at
# most _WS_MAX unless more are non-zero already.
_WS_MIN = 64
_WS_MAX = 1024


def _min_norm_subgradient(x, g, w):
    """The subgradient of F of least magnitude at x, elementwise: 0 exactly at a minimizer."""
    at_zero = np.maximum(np.abs(g) - w, 0.0) * np.sign(g)
    return np.where(x != 0, g + w * np.sign(x), at_zero)


def _feature_scores(obj, x, g, w):
    """Per feature (all classes together): inf when one of its coefficients is non-zero, else by how
    much its gradient exceeds its L1 weight (<= 0: it cannot move)."""
    K, d = obj.K, obj.d
    coef, gc, wc = (v[: obj.n_coef].reshape(K, d) for v in (x, g, w))
    excess = (np.abs(gc) - wc).max(axis=0)
    return np.where((coef != 0).any(axis=0), np.inf, excess)


def _working_set(scores):
    active = np.flatnonzero(np.isinf(scores))
    # only features that can move: one whose gradient its L1 weight covers would only widen the
    # Hessian (the Gram matrix's cost grows with the square of a row's entries in the set)
    movable = np.count_nonzero(scores > 0)
    size = min(max(_WS_MIN, 2 * len(active)), max(_WS_MAX, len(active)), movable)
    if size >= len(scores):
        return np.arange(len(scores))
    if size == 0:  # x is optimal in every feature: the intercepts alone are left
        return np.empty(0, dtype=np.intp)
    return np.sort(np.argpartition(-scores, size - 1)[:size])


def proximal_newton(obj, x0, tol, max_iter, verbose=0, on_iteration=None):
    with serial_blas_for(obj.size):  # small dense products between the threaded passes over X
        return _proximal_newton(obj, x0, tol, max_iter, verbose, on_iteration)


def _proximal_newton(obj, x0, tol, max_iter, verbose, on_iteration):
    w = obj.l1_weights
    x = np.array(x0, dtype=np.float64)
    f, g, curvature = obj.evaluate(x)
    _check_finite_start(f, g)
    mon = _Monitor(obj, x, f, g, verbose, "proximal-newton", on_iteration)
    F = f + float(w @ np.abs(x))
    gap_tol = max(tol * tol, 16 * np.finfo(float).eps)
    last_gap = abs(F)
    it, converged, stop_reason = 0, False, None
    while it <= max_iter:
        scores = _feature_scores(obj, x, g, w)
        features = _working_set(scores)
        complete = len(features) == obj.d or not (np.delete(scores, features) > 0).any()
        H, index = obj.hess_of(curvature, features)
        if not np.isfinite(H).all():
            stop_reason = ("the Hessian is not finite (it overflows float64: the values of X or C are too "
                           "large); scale the data")
            break
        z, Hz = np.zeros(len(index)), np.zeros(len(index))
        gi, xi, wi = g[index], x[index], w[index]
        # The inner solve's accuracy goes to 0 with the relative gap (the forcing term of inexact
        # Newton): a fixed fraction of the gap left the last iterations converging only linearly.
        cd_tol = max(1e-3 * last_gap * min(1.0, last_gap / max(abs(F), 1e-300)), 1e-3 * gap_tol * abs(F))
        _core.l1_quadratic_cd(H, gi, xi, wi, z, Hz, 1000, cd_tol)
        l1_change = float(wi @ (np.abs(xi + z) - np.abs(xi)))
        slope = float(gi @ z) + l1_change  # the directional derivative bound of Lee et al.
        gap = -(float(gi @ z) + 0.5 * float(z @ Hz) + l1_change)
        last_gap = max(gap, 0.0)
        converged = complete and (gap <= gap_tol * abs(F) or gap <= 16 * np.finfo(float).eps * mon.f_ref)
        if it == max_iter or not np.any(z):
            converged = converged or (complete and not np.any(z))
            break
        step = _line_search(obj, x, F, index, z, slope, w)
        if step is None:
            resolution = 64 * np.finfo(obj.dtype).eps * abs(F)
            if not converged and not gap <= resolution:
                stop_reason = (f"the line search could not decrease the objective (model decrease {gap:.3g}, "
                               f"objective {F:.6g}); the problem may be badly scaled")
            converged = converged or (complete and gap <= resolution)
            break
        it += 1
        x, F, f, g, curvature = step
        mon.log(it, F, _min_norm_subgradient(x, g, w),
                f"  working set {len(features)}  gap estimate before step {gap / max(abs(F), 1e-300):.2e}", x)
        if converged:
            break
    kkt = _min_norm_subgradient(x, g, w)
    return SolverResult(x, F, it, converged, float(np.max(np.abs(kkt))) if kkt.size else 0.0, stop_reason)


def _line_search(obj, x, F, index, z, slope, w):
    """Backtracking on F along the working-set step z: (x, F, f, g, curvature) at the accepted point,
    or None."""
    t = 1.0
    for _ in range(_MAX_HALVINGS + 1):
        x_new = x.copy()
        x_new[index] += t * z
        f_new, g_new, curvature = obj.evaluate(x_new)
        F_new = f_new + float(w @ np.abs(x_new))
        if F_new <= F + _ARMIJO * t * slope:
            return x_new, F_new, f_new, g_new, curvature
        t *= 0.5
    return None
