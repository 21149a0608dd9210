"""Newton-CG (truncated Newton) for the smooth objectives of sce._logistic_objective: the Newton
loop, line search and stopping rule of sce._convex_solvers with directions from conjugate gradients
on Hessian-vector products, on a row subsample's Hessian or the whole one, with its preconditioners."""
from functools import partial

import numpy as np

from ._conjugate_gradients import QuasiNewtonPreconditioner, cg
from ._convex_solvers import _newton, gap_tolerance
from ._threads import serial_blas_for


def newton_cg(obj, x0, tol, max_iter, verbose=0, on_iteration=None, path_point=False):
    """Truncated Newton: CG on the Hessian-vector products, with forcing term
    min(0.5, sqrt(r), max(10 r, tol, 1e-3)), r = max|g| / max|grad f(0)| (superlinear convergence,
    few CG steps far from the optimum, final steps accurate enough for the stopping rule).  See _NewtonCGDirection for
    the Hessian used and the preconditioners.

    path_point: x0 is the start of a point of a regularization path, near its optimum, and the
    result is only scored and starts the next point, so it needs the relative gap tol**2 but not
    the exact last step that makes a fitted model reproducible to ~1e-7 in predict_proba
    (scikit-learn's sample-weight checks).  Then r = max|g| / max|g(x0)|: against grad f(0), every
    solve of such a start looked like a final one and was solved to 1e-3 (reuters_moneyfx, C = 1e4:
    3 solves of 24 Hessian products each, then the last); and a CG solve ends as soon as it proves
    the point converged (sce._conjugate_gradients.cg's enough_decrement), leaving a gap of at most
    tol**2 rather than about its square."""
    with serial_blas_for(obj.size):  # the preconditioner's small products, between the threaded passes
        return _newton(obj, x0, tol, max_iter, verbose, _NewtonCGDirection(obj, tol, path_point),
                       "newton-cg", on_iteration)


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
    preconditioner of the (d, H d) pairs of the last such solve over it for every later one.

    ``solved`` tells whether the last CG solve met its residual test (see sce._conjugate_gradients.cg); only then does
    its decrement estimate stop the solver."""

    def __init__(self, obj, tol, path_point=False):
        self.obj, self.tol = obj, tol
        self.path_point = path_point
        self.g_start = None  # max|g| at the start (the forcing term's reference of a path point)
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
        if self.g_start is None:
            self.g_start = gn
        ref = self.g_start if self.path_point else mon.g_ref
        r = gn / ref if ref > 0 else 1.0
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
        elif len(self.pairs) > 1:
            precond = QuasiNewtonPreconditioner(self.pairs, jacobi)
        if precond is None:
            precond = (lambda r: r / jacobi) if jacobi is not None else None
        first = min(max_cg, _ROWS_MIN_CG) if rows and not self.dominant_rows else max_cg
        enough = gap_tolerance(self.tol) * abs(f) if self.path_point else None
        p, self.steps, pairs = cg(hessp, g, rtol, first, precond=precond, n_pairs=self.n_pairs, status=status,
                                  enough_decrement=enough)
        if self.steps >= _QN_MIN_CG:
            self.pairs = pairs
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
# Used from the first solve on, it misled the early, fast-changing Newton steps of w8a (93).  Its
# pairs are kept through the quick solves it makes: dropped after each one, it left the next solve
# unpreconditioned, and fashion_mnist 2500 f32 (default fit) took 571 H-products where 482.
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
