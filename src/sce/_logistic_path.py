"""Regularization paths of logistic regression over cross-validation folds, for LogisticClassifierCV.

A fold's training set is X itself with the held-out rows' sample weights set to 0: every objective of
sce._logistic_objective is a weighted sum over rows, so that is exactly the objective on the
training rows, and no fold copies X (the folds share it, and the row subsample Newton-CG copies).
Along a path the penalty decreases (C increases) and each fit starts from the previous solution,
moved along the path's tangent where the solver left its Hessian's factor (predicted_start), so
after the first point a few Newton steps suffice.  Paths run in threads: the kernels release the
GIL, and the fits running at once share the cores (sce._threads).  The held-out rows are copied to
score them, one fold at a time, so that at most one such copy exists.
"""
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numpy as np

from ._convex_solvers import solve
from ._logistic_objective import LogisticObjective, SharedSubsamples
from ._logistic_params import max_iter_message, penalty_of, smooth_solver
from ._threads import running_fit


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


def fit_point(problem, obj, x0, choose_solver, on_iteration=None):
    """Minimize obj from x0 with the solver the problem names (proximal Newton with an L1 term)."""
    if obj.l1_weights is not None:
        name = "proximal-newton"
    else:
        name = choose_solver(smooth_solver(problem.solver), obj)
    with running_fit():
        return solve(name, obj, x0, problem.tol, problem.max_iter, problem.verbose,
                     max_iter_message(problem.solver, problem.max_iter), on_iteration)


def fit_path(problem, train_weights, Cs, l1_ratio, choose_solver, stop, on_point=None):
    """The solutions (len(Cs), size) and iteration counts at every C (in the order given), fitted
    from the strongest penalty to the weakest, each from the previous solution (moved along the
    tangent of the path when the solver factored its Hessian, see predicted_start).  Stops early (None)
    when ``stop`` is set."""
    order = np.argsort(Cs, kind="stable")
    start, solutions, n_iter = None, [None] * len(Cs), np.zeros(len(Cs), dtype=np.int32)
    at_zero = None
    for k, i in enumerate(order):
        if stop.is_set():
            return None
        obj = objective(problem, Cs[i], l1_ratio, train_weights, at_zero)
        if at_zero is None:  # the first fit starts at 0 and evaluates there; the next ones reuse it
            obj.sums_at_zero = at_zero = obj.block_sums_at_zero()
        res = fit_point(problem, obj, np.zeros(obj.size) if start is None else start, choose_solver)
        x = res.x
        solutions[i], n_iter[i] = x, res.n_iter
        if on_point is not None:
            on_point(i, obj, x)
        C_next = Cs[order[k + 1]] if k + 1 < len(order) else Cs[i]
        start = predicted_start(obj, res, Cs[i], C_next) if C_next > Cs[i] else x
    return np.array(solutions), n_iter


def predicted_start(obj, res, C, C_next):
    """The start of the next path point: the solution x at C moved along the path's tangent,
    x + log(C_next / C) dx/dlog C, when the solver left its Hessian's factor (else x itself).
    At the optimum C grad L(x) = -grad P(x) (P the L2 penalty), so differentiating
    C grad L(x(C)) + grad P(x(C)) = 0 in log C gives H dx/dlog C = grad P(x).  Across the usual
    grids (a factor of ~8 in C) this start saved about a quarter of the Newton steps (w8a)."""
    x = res.x
    if res.hessian_solve is None or obj.l1_weights is not None or not np.isfinite(C_next):
        return x
    penalty_grad = np.concatenate([obj.l2_strength * x[: obj.n_coef], obj.intercept_l2 * x[obj.n_coef:]])
    dx = res.hessian_solve(penalty_grad)
    return x + np.log(C_next / C) * dx if np.isfinite(dx).all() else x


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
