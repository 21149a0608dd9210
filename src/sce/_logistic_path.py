"""Regularization paths of logistic regression over cross-validation folds, for LogisticClassifierCV.

A fold's training set is X itself with the held-out rows' sample weights set to 0: every objective of
sce._logistic_objective is a weighted sum over rows, so that is exactly the objective on the
training rows, and no fold copies X (the folds share it, and the row subsample Newton-CG copies).
Along a path the penalty decreases (C increases) and each fit starts from the previous solution,
or from the minimum of the next objective's quadratic model there when the solver left its Hessian
(predicted_start), so after the first point a few Newton steps suffice.  Paths run in threads: the
kernels release the GIL, and the fits running at once share the cores (sce._threads).  The held-out rows are copied to
score them, one fold at a time, so that at most one such copy exists.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np
import scipy.linalg

from ._convex_solvers import SERIAL_BLAS_MAX_PARAMS
from ._logistic_objective import LogisticObjective, SharedSubsamples
from ._logistic_params import max_iter_message, penalty_of, smooth_solver
from ._solve import solve
from ._threads import running_fit, serial_blas


class PathProblem(NamedTuple):
    """What every path of one CV fit shares: the data (X, the objective's targets, the sample
    weights with the class weights in them), the model and the solver settings."""
    X: object
    targets: np.ndarray
    sample_weight: np.ndarray
    n_classes: int
    fit_intercept: bool
    intercept_scaling: float
    solver: str           # the name the user gave (scikit-learn's meaning of the objective)
    tol: float
    max_iter: int
    verbose: int
    n_threads: object
    subsamples: SharedSubsamples


def objective(problem, C, l1_ratio, sample_weight=None, sums_at_zero=None):
    """The objective at (C, l1_ratio), over the rows weighted by sample_weight (default: all)."""
    penalty = penalty_of(C, l1_ratio, problem.solver, problem.fit_intercept, problem.intercept_scaling)
    sw = problem.sample_weight if sample_weight is None else sample_weight
    return LogisticObjective(problem.X, problem.targets, sw, C, problem.fit_intercept, problem.n_classes,
                             problem.n_threads, penalty, subsamples=problem.subsamples,
                             sums_at_zero=sums_at_zero)


def fit_point(problem, obj, x0, choose_solver, on_iteration=None, start_hessian=None, path_point=False):
    """Minimize obj from x0 with the solver the problem names (proximal Newton with an L1 term);
    start_hessian: see predicted_start; path_point: see sce._newton_cg.newton_cg (the refit is no
    path point).  The caller counts the fit among the running ones
    (sce._threads.running_fit)."""
    if obj.l1_weights is not None:
        name = "proximal-newton"
    else:
        name = choose_solver(smooth_solver(problem.solver), obj)
    return solve(name, obj, x0, problem.tol, problem.max_iter, problem.verbose,
                 max_iter_message(problem.solver, problem.max_iter), on_iteration, start_hessian,
                 path_point=path_point)


def fit_path(problem, train_weights, Cs, l1_ratio, choose_solver, stop, on_point=None):
    """The solutions (len(Cs), size) and iteration counts at every C (in the order given), fitted
    from the strongest penalty to the weakest, the first from null_model, each next one from the
    previous solution (or near it, see predicted_start and secant_start).  Stops early (None) when ``stop`` is set."""
    order = np.argsort(Cs, kind="stable")
    solutions, n_iter = [None] * len(Cs), np.zeros(len(Cs), dtype=np.int32)
    at_zero, last = None, None  # last: (objective, result) of the previous point
    last_C, before = None, None  # the previous point's C; (C, solution) of the one before
    with running_fit():  # the whole path: its passes share the cores with the other paths'
        for i in order:
            if stop.is_set():
                return None
            obj = objective(problem, Cs[i], l1_ratio, train_weights, at_zero)
            if at_zero is None:  # the sums at 0 (null_model, the solvers' reference gradient), shared
                obj.sums_at_zero = at_zero = obj.block_sums_at_zero()
            start, model = (null_model(obj), None) if last is None else predicted_start(*last, obj)
            if model is None and before is not None:
                start = secant_start(before, (last_C, last), obj, Cs[i])
            res = fit_point(problem, obj, start, choose_solver, start_hessian=model, path_point=True)
            solutions[i], n_iter[i] = res.x, res.n_iter
            if on_point is not None:
                on_point(i, obj, res.x)
            before = None if last is None else (last_C, last[1].x)
            last, last_C = (obj, res), Cs[i]
    return np.array(solutions), n_iter


def null_model(obj):
    """The first path point's start: W = 0 with each intercept at the log-odds of its class's
    weight (the unpenalized intercept-only optimum), from the gradient sums at 0
    (``obj.sums_at_zero``): at 0 every row has p = 1/K, so the intercepts' sums there are
    S/K - T_k, T_k the weight of class k and S the total.  Zeros without an intercept or when a
    class carries no weight (its log-odds are infinite)."""
    x = np.zeros(obj.size)
    if not obj.fit_intercept or obj.sums_at_zero is None:
        return x
    total = obj.sums.weight_total()
    residual = obj.sums_at_zero[1][obj.n_coef:obj.size]
    if obj.multinomial:
        class_weight = total / obj.K - residual
    else:
        positive = 0.5 * total - residual[0]
        class_weight = np.array([total - positive, positive])
    if not np.all(class_weight > 1e-12 * total):  # (an absent class's weight is rounding of S/K)
        return x
    log_weight = np.log(class_weight)
    x[obj.n_coef:] = log_weight - log_weight.mean() if obj.multinomial else log_weight[1] - log_weight[0]
    return x


def predicted_start(obj, res, next_obj):
    """The start of the fit of next_obj (the path's next penalty, same rows) after res, the fit of
    obj: the minimum of next_obj's quadratic model at x = res.x, with the Hessian the solver left
    (newton-cholesky; else x itself).  With f = s L + x'Px / 2 (s the loss scale, P the L2
    penalty's diagonal) and H = s A + P, A the loss's Hessian, x's optimality s grad L(x) = -P x
    makes that minimum

        z = (s'/s) (s' A + P')^-1 H x,   s' A + P' = (s'/s) H + P' - (s'/s) P.

    Exact for a quadratic loss, and it follows the path where the path bends: at small C, where x
    grows like C, the tangent x + log(C'/C) dx/dlog C (its first-order part) fell short by about
    the factor C'/C, and the next fit took a Newton step more.  Returns (z, (s' A + P', its
    Cholesky factor, the curvature A was formed at)): the model's Hessian, with which newton-cholesky
    tells whether z is converged already; (x, None) when the solver left no Hessian."""
    x = res.x
    if res.hessian is None or obj.l1_weights is not None or next_obj.l1_weights is not None:
        return x, None
    H, _, curvature = res.hessian
    ratio = next_obj.loss_scale / obj.loss_scale
    H_next = ratio * H
    H_next.reshape(-1)[:: obj.size + 1] += next_obj.penalty_diagonal() - ratio * obj.penalty_diagonal()
    c, info = scipy.linalg.lapack.dpotrf(H_next, lower=0, clean=0)
    if info != 0:
        return x, None
    z, info = scipy.linalg.lapack.dpotrs(c, ratio * (H @ x), lower=0)
    return (z, (H_next, c, curvature)) if info == 0 and np.isfinite(z).all() else (x, None)


def secant_start(before, last, next_obj, C):
    """The start of next_obj's fit (at C) when the solver left no Hessian (newton-cg, lbfgs): from
    the last two solutions, x1 at C1 (``before``) and x2 at C2 (``last``: C2, (objective, result)),
    the secant in log C, z = x2 + t (x2 - x1) with t = log(C / C2) / log(C2 / C1), when next_obj is
    lower there than at x2, else x2.  Why: at large C on nearly separable data the solution keeps
    growing along about the same direction by about the same step per factor of C, and from x2
    each fit took 4-7 Newton steps of up to 30 CG steps (reuters_moneyfx, 5 folds: 2926 -> 2200
    Hessian products over the path).  f at x2 comes from the last fit's value and the penalties'
    diagonals (f = s L + x'Px / 2 at both C), so only z costs a pass over X."""
    (C1, x1), (C2, (obj, res)) = before, last
    x2 = res.x
    if obj.l1_weights is not None or next_obj.l1_weights is not None or not C2 != C1:
        return x2
    t = np.log(C / C2) / np.log(C2 / C1)
    z = x2 + t * (x2 - x1)
    with np.errstate(all="ignore"):
        fz = next_obj.loss_grad(z)[0] if np.isfinite(z).all() else np.inf
    return z if fz < value_at(obj, res, next_obj) else x2


def value_at(obj, res, next_obj):
    """next_obj's value at res.x, from res.f = obj's there: f = s L + x'Px / 2 with the same loss L
    (the same rows), so no pass over X."""
    x = res.x
    ratio = next_obj.loss_scale / obj.loss_scale
    return ratio * (res.f - 0.5 * x @ (obj.penalty_diagonal() * x)) + 0.5 * x @ (next_obj.penalty_diagonal() * x)


def serial_blas_for_search(problem):
    """BLAS on one thread for a whole search (but for newton-cholesky's large factorizations, see
    sce._convex_solvers.SERIAL_BLAS_MAX_PARAMS): OpenBLAS threads left spinning by the scores'
    products, or by the solvers' own limits coming and going, slowed the passes over X on the same
    cores twofold (synthetic 20000 x 50; reuters_moneyfx from its second search on)."""
    K = problem.n_classes if problem.n_classes > 2 else 1
    size = K * (problem.X.shape[1] + problem.fit_intercept)
    return serial_blas(size <= SERIAL_BLAS_MAX_PARAMS or problem.solver != "newton-cholesky")


def run_paths(tasks, n_workers):
    """Run the callables ``tasks(stop)`` on n_workers threads (inline for one) and return their
    results in order.  When one raises (or the caller is interrupted), the others stop at their next
    path point and the exception propagates."""
    stop = threading.Event()
    if n_workers <= 1 or len(tasks) <= 1:
        return [task(stop) for task in tasks]
    pool = ThreadPoolExecutor(max_workers=n_workers)
    try:
        futures = [pool.submit(task, stop) for task in tasks]
        return [f.result() for f in futures]
    except BaseException:
        stop.set()
        for f in futures:
            f.cancel()
        raise
    finally:
        pool.shutdown(wait=True)
