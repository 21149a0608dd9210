"""Solvers for the smooth convex objectives of sce._logistic_objective: Newton-CG, Newton-Cholesky and
L-BFGS, with the line search, the CG solve and its preconditioners.  They only call the objective:
evaluate(x) -> (f, gradient, curvature), and hessp / hess / hess_diag at a curvature it returned.

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
import warnings
from functools import partial

import numpy as np
import scipy.linalg
import scipy.optimize
from sklearn.exceptions import ConvergenceWarning

from ._conjugate_gradients import QuasiNewtonPreconditioner, cg
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


def newton_cg(obj, x0, tol, max_iter, verbose=0, on_iteration=None):
    """Truncated Newton: CG on the Hessian-vector products, with forcing term
    min(0.5, sqrt(r), max(10 r, tol, 1e-3)), r = max|g| / max|grad f(0)| (superlinear convergence,
    few CG steps far from the optimum, final steps accurate enough for the stopping rule).  See _NewtonCGDirection for
    the Hessian used and the preconditioners."""
    with serial_blas_for(obj.size):  # the preconditioner's small products, between the threaded passes
        return _newton(obj, x0, tol, max_iter, verbose, _NewtonCGDirection(obj, tol), "newton-cg",
                       on_iteration)


class _NewtonCGDirection:
    """Newton-CG steps.

    Hessian: with many more rows than parameters (dense X, n >= _SUB_MIN_STEP _SUB_ROWS size), CG
    runs on the Hessian of every k-th row (_SUB_MIN_STEP <= k <= _SUB_MAX_STEP, at least _SUB_ROWS
    rows per parameter; their copy is at most a quarter of X), scaled
    to the whole: each CG step then costs 1/k of a pass, and the steps converge linearly at a
    rate set by how well those rows represent the curvature (Byrd, Chin, Neveitt and Nocedal,
    2011).  Such a step is "approximate": it must be accepted at full length, and the solver turns
    to the exact Hessian for good when it is not (curvature concentrated in rows the subsample
    misses) or when the Newton decrement stops shrinking fast (_SUB_MIN_RATE) near the optimum.

    Preconditioner: the Jacobi diagonal when the objective offers one (CSR X, at every step); for
    dense X, the diagonal at the starting point, kept for the whole fit, when the columns' scales
    spread widely (_JACOBI_MIN_SPREAD); and once a CG solve took _QN_MIN_CG steps or more (an
    ill-conditioned Hessian that changes slowly from step to step), the quasi-Newton
    preconditioner of that solve's (d, H d) pairs over it for the next one.

    ``solved`` tells whether the last CG solve met its residual test (see sce._conjugate_gradients.cg); only then does
    its decrement estimate stop the solver."""

    def __init__(self, obj, tol):
        self.obj, self.tol = obj, tol
        # at most 2 n_pairs pairs of vectors are held during a solve: 64 MB at most
        n_pairs = min(_QN_PAIRS, (1 << 21) // max(obj.size, 1))
        self.n_pairs = n_pairs if n_pairs >= 2 else 0
        self.pairs, self.steps = [], 0
        most = obj.n // (_SUB_ROWS * max(obj.size, 1))  # the largest step that keeps _SUB_ROWS
        k = 0 if obj.sparse else min(_SUB_MAX_STEP, most)
        self.sub = obj.row_subsample(k, most) if k >= _SUB_MIN_STEP else None
        self.approximate = self.sub is not None
        self.last_gap = None
        self.solved = True
        self.static_jacobi = None if obj.sparse else False  # False: not decided yet
        self.dominant_rows = None  # whether CG uses obj.dominant_rows_preconditioner (None: undecided)

    def _dense_jacobi(self, curvature):
        """For dense X: the Hessian's diagonal at the first point when the scales of the
        parameters differ widely, else None.  Widely: the columns' mean squares over a sample of
        at most ~512 rows spread over more than _JACOBI_MIN_SPREAD between their 10th and 90th
        percentiles, or their median is that far from 1 (the intercepts' column; X scaled by
        1e150).  Only then is the diagonal computed (from the row subsample when there is one,
        else one pass over X); an overflow gives a non-finite diagonal, which makes the directions
        non-finite."""
        if self.static_jacobi is False:
            obj = self.obj
            self.static_jacobi = None
            rows = obj.sample_rows(512)
            with np.errstate(over="ignore", invalid="ignore"):
                mean_sq = np.einsum("ij,ij->j", rows, rows) / max(len(rows), 1)
            positive = mean_sq[mean_sq > 0]
            spread = 1.0
            if not np.isfinite(mean_sq).all():
                spread = np.inf
            elif positive.size:
                lo, mid, hi = np.percentile(positive, [10, 50, 90])
                spread = max(hi / lo, mid, 1.0 / mid) if obj.fit_intercept else hi / lo
            if spread > _JACOBI_MIN_SPREAD:
                with np.errstate(over="ignore", invalid="ignore"):
                    if self.sub is None:
                        diag = obj.hess_diag(curvature)
                    else:
                        diag = self.sub.objective.hess_diag(self.sub.curvature(curvature))
                self.static_jacobi = np.where(diag > 0, diag, 1.0)
        return self.static_jacobi

    def __call__(self, f, g, curvature, mon):
        obj = self.obj
        gn = float(np.max(np.abs(g)))
        r = gn / mon.g_ref if mon.g_ref > 0 else 1.0
        rtol = min(0.5, np.sqrt(r), max(10.0 * r, self.tol, _CG_RTOL_MIN))
        max_cg = max(20, min(obj.size, 500))
        status = {}
        static = None if obj.sparse else self._dense_jacobi(curvature)
        if static is not None and not np.isfinite(static).all():
            self.solved = False
            return np.full_like(g, np.nan)
        if self.approximate:
            sub_curvature = self.sub.curvature(curvature)
            p, _, _ = cg(partial(self.sub.objective.hessp, sub_curvature), g, rtol, max_cg,
                          precond=(lambda r: r / static) if static is not None else None,
                          status=status)
            self.solved = status["solved"]
            gap = -0.5 * float(g @ p)
            last, self.last_gap = self.last_gap, gap
            if last is None or gap <= _SUB_MIN_RATE * last or (gap <= last and last > 1e-2 * abs(f)):
                return p
            # a growing decrement (curvature the rows missed), or slow linear convergence near the
            # optimum: the exact Hessian from here on
            self.approximate = False
        if obj.sparse:
            with np.errstate(over="ignore", invalid="ignore"):
                jacobi = obj.cg_preconditioner(curvature)
            if jacobi is not None and not np.isfinite(jacobi).all():  # the Hessian overflows
                self.solved = False
                return np.full_like(g, np.nan)
        else:
            jacobi = static
        hessp = partial(obj.hessp, curvature)
        rows = jacobi is not None and obj.offers_dominant_rows()
        precond = None
        if rows and self.dominant_rows is not False:
            # on from the first solve when those rows hold most of the curvature
            with np.errstate(over="ignore", invalid="ignore"):  # (overflow: no preconditioner)
                precond = obj.dominant_rows_preconditioner(curvature, jacobi, _ROWS_PRECOND,
                                                           _ROWS_MIN_SHARE if self.dominant_rows is None else 0.0)
            self.dominant_rows = self.dominant_rows or precond is not None
        elif self.steps >= _QN_MIN_CG and len(self.pairs) > 1:
            precond = QuasiNewtonPreconditioner(self.pairs, jacobi)
        if precond is None:
            precond = (lambda r: r / jacobi) if jacobi is not None else None
        first = min(max_cg, _ROWS_MIN_CG) if rows and not self.dominant_rows else max_cg
        p, self.steps, self.pairs = cg(hessp, g, rtol, first, precond=precond, n_pairs=self.n_pairs, status=status)
        if not status["solved"] and first < max_cg and np.isfinite(p).all():
            # a slow solve: on with the rows of most curvature taken exactly, here and in the
            # later steps of this fit
            self.dominant_rows = True
            with np.errstate(over="ignore", invalid="ignore"):
                precond = obj.dominant_rows_preconditioner(curvature, jacobi, _ROWS_PRECOND) or precond
            p, more, _ = cg(hessp, g, rtol, max_cg - self.steps, precond=precond, status=status, x0=p)
            self.steps += more
        self.solved = status["solved"]
        return p


# The forcing term's floor: solving H p = -g to a relative residual of 1e-3 leaves -g'p / 2 within
# 1e-6 of the Newton decrement and still shrinks the gap about 1e6-fold per step near the optimum, so
# the stopping rule and the last step lose nothing; the tighter solves that tol = 1e-4 asked for only
# spent Hessian products, most of all on float32 data, whose products CG resolves less well.
_CG_RTOL_MIN = 1e-3
# Subsampled Hessian of newton_cg: rows per parameter at least, smallest and largest row step, and
# the factor by which the Newton decrement must shrink per approximate step once it is below 1e-2 |f|.
_SUB_ROWS = 64
_SUB_MIN_STEP = 4
_SUB_MAX_STEP = 8
_SUB_MIN_RATE = 0.25
# Quasi-Newton preconditioner of newton_cg: pairs kept from a CG solve, and the CG steps from which
# on it is used.  Measured (H-products to tol = 1e-2, without -> with): fashion_mnist 10k f32
# 796 -> 531, f64 558 -> 416; a9a 204 -> 115; w8a 70 -> 61; ijcnn1 46 -> 39; reuters 36 -> 30.
# Used from the first solve on, it misled the early, fast-changing Newton steps of w8a (93).
_QN_PAIRS = 20
_QN_MIN_CG = 8
# Dominant-rows preconditioner of newton_cg (LogisticObjective.dominant_rows_preconditioner): the
# rows it takes exactly, and the CG steps after which an unsolved Jacobi solve turns to it (and the
# fit's later solves start with it).  Hessian products of one solve at the optimum, Jacobi -> 256
# rows (measured with 300): reuters_moneyfx C = 100: 112 -> 27, C = 1e4: 861 -> 39; w8a C = 1:
# 45 -> 24, C = 100: 117 -> 47; a9a C = 1, 100: 90 -> 89, 81 -> 81.  Below the threshold the
# factorization (a few ms) would cost more than the steps it saves.  A fit's first solve starts
# with it when those rows hold at least _ROWS_MIN_SHARE of the loss's part of the Hessian's trace
# (reuters_moneyfx at the optimum: 0.26 at C = 1, 0.56 at C = 22, 0.97 at C = 1e4; w8a 0.29-0.35
# and a9a 0.02 at every C).
_ROWS_PRECOND = 256
_ROWS_MIN_CG = 30
_ROWS_MIN_SHARE = 0.5
# Dense X gets a Jacobi preconditioner when the 90th / 10th percentile ratio of its columns' mean
# squares (or their median against the intercept's 1) exceeds this: columns scaled 1e-4 .. 1e4
# (ratio ~1e13) left CG unable to resolve the small ones; standardized data has a ratio near 1,
# fashion_mnist's pixels / 255 about 50.
_JACOBI_MIN_SPREAD = 1e4


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
    """scipy's L-BFGS-B with the fused loss + gradient, stopped by the shared rule."""
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


SOLVERS = {"newton-cg": newton_cg, "newton-cholesky": newton_cholesky, "lbfgs": lbfgs}


def solve(name, obj, x0, tol, max_iter, verbose=0, max_iter_message=None, on_iteration=None,
          start_hessian=None):
    """Run the solver ``name``; a ConvergenceWarning when it did not converge, saying why, or for
    reaching max_iter the text max_iter_message(result) when given (scikit-learn's wording for the
    solver name the user chose).  on_iteration(x), when given, is called after each iteration.
    start_hessian: see newton_cholesky (the other solvers have no use for it)."""
    if name == "proximal-newton":  # the L1 / elastic-net solver builds on this module
        from ._proximal_newton import proximal_newton as run
    else:
        run = SOLVERS[name]
    if start_hessian is not None and run is newton_cholesky:
        res = run(obj, x0, tol, max_iter, verbose, on_iteration, start_hessian)
    else:
        res = run(obj, x0, tol, max_iter, verbose, on_iteration)
    if res.stop_reason is not None:
        warnings.warn(
            f"{name} stopped after {res.n_iter} iteration(s) without converging: "
            f"{res.stop_reason} (|grad|_inf = {res.grad_norm:.3g}).",
            ConvergenceWarning, stacklevel=3,
        )
    elif not res.converged:
        message = max_iter_message(res) if max_iter_message is not None else None
        warnings.warn(
            message or f"{name} did not converge in max_iter={max_iter} iterations (|grad|_inf = "
            f"{res.grad_norm:.3g}); increase max_iter or scale the data.",
            ConvergenceWarning, stacklevel=3,
        )
    return res
