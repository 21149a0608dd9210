"""Solvers for the smooth convex objectives of sce._logistic_objective: the Newton loop with its line
search and stopping rule, Newton-Cholesky and L-BFGS (Newton-CG's directions are in sce._newton_cg).
They only call the objective: evaluate(x) -> (f, gradient, curvature), and hessp / hess / hess_diag
at a curvature it returned.

Stopping rules (scale-free, the same meaning of ``tol`` for every solver: a relative objective gap
of about tol**2, i.e. 1e-8 for the default tol = 1e-4):

- Newton solvers: stop after the step at which the Newton decrement estimate of the objective
  gap before it, 1/2 g^T H^-1 g (exact for a quadratic, and accurate in Newton's quadratic-convergence
  regime), is at most tol**2 * |f| (that last step leaves a gap of about its square; a step from
  newton-cg's subsampled Hessian leaves a fraction of it, 3-7% on the synthetic benchmark); also
  when it is below what float64 resolves (16 eps |f|, or 16 eps |f(0)| when the infimum is not
  attained and f itself tends to 0), where more steps would only chase rounding.
- L-BFGS (no Hessian): stop when max|grad f(x)| <= tol**2 * max|grad f(0)|, 0 being the all-zero
  parameter vector.
"""
import time

import numpy as np
import scipy.linalg
import scipy.optimize

from ._core import check_signals
from ._threads import serial_blas_for

_ARMIJO = 1e-4
_MAX_HALVINGS = 40
_EPS = float(np.finfo(float).eps)


class SolverResult:
    """x, f(x), iterations run, whether the stopping rule was met, max|grad f(x)|, and when it was
    not met for another reason than max_iter, what stopped the solver (``stop_reason``)."""

    def __init__(self, x, f, n_iter, converged, grad_norm, stop_reason=None):
        self.x, self.f, self.n_iter, self.converged, self.grad_norm = x, f, n_iter, converged, grad_norm
        self.stop_reason = stop_reason
        # newton-cholesky's last Hessian when it was definite: (H, its Cholesky factor, the
        # curvature it was formed at); else None
        self.hessian = None


def _check_finite_start(f, g):
    """A non-finite objective or gradient at the starting point (X itself being finite) is an
    overflow of float64: no step can be measured from there."""
    if not (np.isfinite(f) and np.isfinite(g).all()):
        raise ValueError(
            "The objective or its gradient overflows float64 at the starting point (objective "
            f"{f!r}); the values of X (or C, or the initial coefficients) are too large: scale the "
            "data."
        )


class _Monitor:
    """Reference gradient max|grad f(0)| and the per-iteration log line of verbose mode."""

    def __init__(self, obj, x0, f0, g0, verbose, name, on_iteration=None):
        if np.any(x0 != 0):
            f_zero, g_zero = obj.loss_grad_at_zero()
        else:
            f_zero, g_zero = f0, g0
        self.g_ref = float(np.max(np.abs(g_zero))) if g_zero.size else 0.0
        self.f_ref = abs(float(f_zero))
        self.verbose, self.on_iteration = verbose, on_iteration
        self.start = time.perf_counter()
        self.name = name
        self.log(0, f0, g0)

    def log(self, it, f, g, extra="", x=None):
        check_signals()
        if self.on_iteration is not None and x is not None:
            self.on_iteration(x)
        if self.verbose:
            gn = float(np.max(np.abs(g))) if g.size else 0.0
            print(f"[{self.name}] iter {it:3d}  objective {f:.12e}  |grad|_inf {gn:.3e}{extra}  "
                  f"elapsed {time.perf_counter() - self.start:.3f}s", flush=True)


def _line_search(obj, x, f, slope, p, max_halvings=_MAX_HALVINGS, slack=0.0, expand=False):
    """Backtracking (Armijo) along p, of slope g @ p, from the full step, halving at most max_halvings
    times; returns (x, f, g, curvature) at the accepted point, or None when no step tried decreased f
    enough (``slack``: by that much more than the Armijo condition allows).  With ``expand``, a full
    step that gained clearly more than the quadratic model promised is doubled while f keeps falling.

    Why: far from the optimum the logistic loss is nearly linear in the margins of the rows it
    already classifies well, so the Hessian overstates the curvature along p and the full Newton
    step falls short; the damped phase then shrank the gap only 2-3 times per step (w8a, from 0).
    The model promises -g'p / 2 for the full step (exact Newton, and CG's iterates, for which
    p'Hp = -g'p); while the decrease reached at step t exceeds _EXPAND_MARGIN t times that, f is
    still falling at the rate the model expected, and twice the step is tried (one pass each).
    Newton steps from 0 went 11 -> 8 (w8a), 10 -> 7 (mushrooms, banknote), 7 -> 6 (a9a, ijcnn1),
    9 -> 8 (reuters_moneyfx), with 1-4 more passes."""
    if not slope < 0:
        return None
    t = 1.0
    for _ in range(max_halvings + 1):
        x_new = x + p if t == 1.0 else x + t * p  # the full step exactly, one operation fewer
        f_new, g_new, curvature = obj.evaluate(x_new)
        if f_new <= f + _ARMIJO * t * slope + slack:  # a non-finite f_new never passes
            step = x_new, f_new, g_new, curvature
            while expand and f - step[1] > -0.5 * _EXPAND_MARGIN * t * slope and t < _MAX_EXPANSION:
                t *= 2.0
                x_new = x + t * p
                f_new, g_new, curvature = obj.evaluate(x_new)
                if not f_new < step[1]:
                    break
                step = x_new, f_new, g_new, curvature
            return step
        t *= 0.5
        expand = False
    return None


# The line search doubles a full step while its decrease exceeds this factor times t times the
# quadratic model's promise for the full step (a margin over rounding and over a quadratic
# objective, where the model is exact), up to a step of _MAX_EXPANSION.
_EXPAND_MARGIN = 1.1
_MAX_EXPANSION = 64.0


def gap_tolerance(tol):
    """The Newton solvers' bound on the relative objective gap estimate (see the module's doc)."""
    return max(tol * tol, 16 * _EPS)


def _newton(obj, x0, tol, max_iter, verbose, direction, name, on_iteration=None):
    x = np.array(x0, dtype=np.float64)
    f, g, curvature = obj.evaluate(x)
    _check_finite_start(f, g)
    mon = _Monitor(obj, x, f, g, verbose, name, on_iteration)
    gap_tol = gap_tolerance(tol)
    it, stop_reason = 0, None
    rounding = _F_ROUNDING * np.finfo(obj.dtype).eps  # f's rounding per unit of |f|
    converged = not g.size or not np.any(g)
    while not converged and it <= max_iter:
        p = direction(f, g, curvature, mon)
        if not np.isfinite(p).all():
            stop_reason = ("the Newton direction is not finite (the Hessian overflows float64: the "
                           "values of X or C are too large); scale the data")
            break
        slope = float(g @ p)
        gap = -0.5 * slope  # Newton decrement estimate of f - f*
        # relative to f, or below float64 resolution of the objective at 0 (when the infimum is
        # not attained, e.g. one effective class, f and the gap shrink together towards 0)
        converged = gap <= gap_tol * abs(f) or gap <= 16 * _EPS * mon.f_ref
        # A CG solve cut off by its step limit gives no bound on the decrement: not converged, unless
        # the gradient itself meets L-BFGS's rule or the estimate is below float64's resolution of f
        # (near a nearly separable optimum CG cannot meet its residual test in rounding, and Newton
        # steps went on to max_iter with estimates of 1e-29).
        if converged and not getattr(direction, "solved", True):
            small_gradient = g.size and float(np.max(np.abs(g))) <= gap_tol * mon.g_ref
            converged = small_gradient or gap <= 16 * _EPS * abs(f)
        if it == max_iter:
            break
        # Within tolerance, the step is computed already: taking it (one more pass) squares the
        # remaining gap (exact Hessian), which is what makes fits reproducible to ~1e-7 in
        # predict_proba.  A step from an approximate Hessian is taken at full length or not at all.
        approximate = getattr(direction, "approximate", False)
        resolution = rounding * abs(f)
        if converged:
            # The last step: a decrease below f's rounding cannot be seen, and halving it would
            # only repeat passes; it is taken unless f visibly increases.
            step = _line_search(obj, x, f, slope, p, max_halvings=0, slack=resolution)
        else:
            step = _line_search(obj, x, f, slope, p, max_halvings=0 if approximate else _MAX_HALVINGS,
                                expand=not approximate)
        if step is None and approximate:  # the approximate Hessian misled: exact from here on
            direction.approximate = converged = False
            continue
        if step is None:
            # No decrease at all along a descent direction: at the optimum when the decrease the
            # step promised is within the rounding of f (a sum of n losses computed in X's dtype),
            # else a failure to report, not convergence.
            if not converged and not gap <= resolution:
                stop_reason = (f"the line search could not decrease the objective (Newton decrement "
                               f"estimate {gap:.3g}, objective {f:.6g}); the problem may be badly "
                               "scaled")
            converged = converged or gap <= resolution
            break
        it += 1
        x, f, g, curvature = step
        mon.log(it, f, g, verbose and f"  gap estimate before step {gap / max(abs(f), 1e-300):.2e}", x)
    return SolverResult(x, f, it, converged, float(np.max(np.abs(g))) if g.size else 0.0,
                        stop_reason)


# A failed line search counts as convergence when the decrease the Newton step promised is at most
# this many ulps of X's dtype times |f|: below that, f's own rounding hides the decrease.
_F_ROUNDING = 64


# Newton-Cholesky runs its BLAS calls (the Hessian's blocks, the factorization) on one thread up to
# this many parameters.  Between those calls the OpenMP workers of the passes over X are still
# spinning, and waking BLAS workers next to them costs more than a small factorization gains from
# threads (w8a, 301 parameters, ran about 4 times slower with two BLAS threads on 2 cores).
SERIAL_BLAS_MAX_PARAMS = 2000


def newton_cholesky(obj, x0, tol, max_iter, verbose=0, on_iteration=None, start_hessian=None):
    """Exact Newton steps from the full Hessian (small number of parameters).  start_hessian, when
    given, is (H, its upper Cholesky factor), H close to the Hessian near x0 (a path's predicted
    start has one), used like the last Hessian formed (see _newton_cholesky)."""
    with serial_blas_for(obj.size, up_to=SERIAL_BLAS_MAX_PARAMS):
        return _newton_cholesky(obj, x0, tol, max_iter, verbose, on_iteration, start_hessian)


def _newton_cholesky(obj, x0, tol, max_iter, verbose, on_iteration, start_hessian):
    """Each step solves with the Hessian at the current point, unless the last factored Hessian
    already proves the point converged: that step (a chord step) is then the last, and it saves
    forming the Hessian, the cost of a step, at the end of every fit (one Gram matrix of X; a
    path point started near its optimum forms none).

    The proof: the loss Hessian is a sum over rows of x_i x_i^T times a per-row curvature matrix,
    which at the current point is at least ``floor`` times the one the factored Hessian was formed
    with (obj.curvature_floor), so H >= floor * H_last (the penalty does not change), and the
    Newton decrement g'H^-1 g / 2 is at most the chord's g'H_last^-1 g / 2 divided by floor."""
    # (the last Hessian formed, its Cholesky factor, the curvature it was formed at) when it was
    # definite, else the start's
    last = [start_hessian]
    gap_tol = gap_tolerance(tol)

    def direction(f, g, curvature, mon):
        if last[0] is not None:
            p, info = scipy.linalg.lapack.dpotrs(last[0][1], g, lower=0)
            chord_gap, bound = 0.5 * float(g @ p), gap_tol * abs(f)
            # the floor (a pass over the curvature; a round trip on Dask) only when it can decide
            if info == 0 and chord_gap <= bound and chord_gap <= obj.curvature_floor(curvature, last[0][2]) * bound:
                return -p
        H = obj.hess(curvature)
        last[0] = None
        if not np.isfinite(H).all():  # overflow: _newton reports it
            return np.full_like(g, np.nan)
        # LAPACK directly: scipy.linalg's checked wrappers cost more than the solve on small systems
        c, info = scipy.linalg.lapack.dpotrf(H, lower=0, clean=0)
        if info == 0:
            p, info = scipy.linalg.lapack.dpotrs(c, g, lower=0)
            if info == 0:
                last[0] = H, c, curvature
                return -p
        # Not positive definite (singular without penalty, or so badly scaled that it looks so):
        # least squares on D H D with D = diag(H)^-1/2, so that blocks of very different scales
        # (X * 1e150: coefficients' curvature 1e302, intercepts' 1e2) are not dropped as
        # rank-deficient noise.
        diag = np.diag(H)
        D = 1.0 / np.sqrt(np.where(diag > 0, diag, 1.0))
        Hs = H * D[:, None] * D[None, :]
        gs = g * D
        c, info = scipy.linalg.lapack.dpotrf(Hs, lower=0, clean=0)
        if info == 0:
            p, info = scipy.linalg.lapack.dpotrs(c, gs, lower=0)
            if info == 0:
                return -p * D
        return -scipy.linalg.lstsq(Hs, gs, check_finite=False)[0] * D
    res = _newton(obj, x0, tol, max_iter, verbose, direction, "newton-cholesky", on_iteration)
    res.hessian = last[0]
    return res


def lbfgs(obj, x0, tol, max_iter, verbose=0, on_iteration=None):
    """scipy's L-BFGS-B with the fused loss + gradient, stopped by the shared rule.  BLAS on one
    thread meanwhile: L-BFGS-B's own vector operations call it between the threaded passes, and
    BLAS workers left spinning there took the cores of the passes' OpenMP workers and theirs
    BLAS's (mushrooms, 113 parameters: 0.6 s where 18 ms with one BLAS thread)."""
    with serial_blas_for(obj.size):
        return _lbfgs(obj, x0, tol, max_iter, verbose, on_iteration)


def _lbfgs(obj, x0, tol, max_iter, verbose, on_iteration):
    x0 = np.array(x0, dtype=np.float64)
    f0, g0 = obj.loss_grad(x0)
    _check_finite_start(f0, g0)
    mon = _Monitor(obj, x0, f0, g0, verbose, "lbfgs", on_iteration)
    gtol = tol * tol * mon.g_ref
    state = {"it": 0}

    def callback(intermediate_result):
        state["it"] += 1
        mon.log(state["it"], intermediate_result.fun, obj_grad[0], x=intermediate_result.x)

    obj_grad = [g0]

    def fun(x):
        check_signals()
        f, g = obj.loss_grad(x)
        obj_grad[0] = g
        return f, g

    res = scipy.optimize.minimize(
        fun, x0, jac=True, method="L-BFGS-B", callback=callback if verbose or on_iteration else None,
        options={"maxiter": max_iter, "gtol": gtol, "ftol": 64 * _EPS,
                 "maxcor": 30, "maxls": 50},
    )
    f, g = obj.loss_grad(res.x)
    converged = (g.size == 0 or float(np.max(np.abs(g))) <= gtol) or res.status == 0
    stop_reason = None
    if not converged and res.status != 1:  # 1: iteration or evaluation limit
        stop_reason = f"scipy's L-BFGS-B stopped: {res.message}"
    return SolverResult(res.x, f, min(int(res.nit), max_iter), converged,
                        float(np.max(np.abs(g))) if g.size else 0.0, stop_reason)
