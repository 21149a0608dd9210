"""What scikit-learn 1.9's LogisticRegression parameters mean, turned into the objective sce fits.

scikit-learn fits, for every solver but liblinear,

    C * sum_i s_i l_i + (1 - l1_ratio) / 2 * ||W||^2 + l1_ratio * ||W||_1      (b not penalized)

and with liblinear the same with the intercept as the weight w_b of an extra column of X holding
intercept_scaling, so that b = intercept_scaling * w_b is penalized like a coefficient:
+ 1/2 (b / intercept_scaling)^2 for L2, + |b| / intercept_scaling for L1.  C = inf means no penalty.
sce reaches the same optimum by its own solvers, whatever the solver name.
"""
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.linear_model._logistic import _check_solver


class Penalty(NamedTuple):
    """f = loss_scale * sum_i s_i l_i + l2_strength / 2 ||W||^2 + l1_strength ||W||_1
    + intercept_l2 / 2 ||b||^2 + intercept_l1 ||b||_1."""
    loss_scale: float
    l2_strength: float
    l1_strength: float = 0.0
    intercept_l2: float = 0.0
    intercept_l1: float = 0.0


def resolve(est):
    """(Penalty, the sce solver to run) for the estimator's parameters, with scikit-learn's
    FutureWarnings, warnings and errors for the same settings."""
    penalty, l1_ratio = _penalty_name(est)
    solver = est.solver
    if solver != "auto":
        _check_solver(solver, penalty, est.dual)
    elif est.dual:
        raise ValueError(f"Solver {solver} supports only dual=False, got dual={est.dual}")
    if penalty != "elasticnet" and (l1_ratio is not None and 0 < l1_ratio < 1):
        warnings.warn(f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got (penalty={penalty})",
                      stacklevel=3)
    if (est.penalty == "l2" and l1_ratio != 0) or (est.penalty == "l1" and l1_ratio != 1):
        warnings.warn(f"Inconsistent values: penalty={est.penalty} with l1_ratio={l1_ratio}. penalty is "
                      "deprecated. Please use l1_ratio only.", stacklevel=3)
    if penalty == "elasticnet" and l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    C = est.C
    if est.penalty is None:
        if est.C != 1.0:
            warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters", stacklevel=3)
        C, penalty = np.inf, "l2"
    if est.n_jobs is not None:
        warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. You provided "
                      f"'n_jobs={est.n_jobs}', please leave it unspecified.", FutureWarning, stacklevel=3)
    share = {"l2": 0.0, "l1": 1.0}.get(penalty, l1_ratio)
    spec = penalty_of(C, share, solver, est.fit_intercept, est.intercept_scaling)
    return spec, (smooth_solver(solver) if spec.l1_strength == 0 else "proximal-newton")


def penalty_of(C, l1_ratio, solver, fit_intercept, intercept_scaling):
    """The Penalty of scikit-learn's objective for C (inf: none) and l1_ratio, with the solver
    named (liblinear penalizes the intercept through intercept_scaling)."""
    if not np.isfinite(C):
        return Penalty(1.0, 0.0)
    spec = Penalty(float(C), 1.0 - l1_ratio, float(l1_ratio))
    if solver == "liblinear" and fit_intercept:
        s = float(intercept_scaling)
        spec = spec._replace(intercept_l2=spec.l2_strength / s ** 2, intercept_l1=spec.l1_strength / s)
    return spec


def _penalty_name(est):
    """scikit-learn's mapping of the deprecated ``penalty`` and of ``l1_ratio`` / ``C``."""
    l1_ratio = est.l1_ratio
    if est.penalty == "deprecated":
        if l1_ratio == 0 or l1_ratio is None:
            penalty = "l2"
            if l1_ratio is None:
                warnings.warn("'l1_ratio=None' was deprecated in version 1.8 and will trigger an error in "
                              "1.10. Use 0<=l1_ratio<=1 instead.", FutureWarning, stacklevel=4)
        elif l1_ratio == 1:
            penalty = "l1"
        else:
            penalty = "elasticnet"
        if est.C == np.inf:
            penalty = None
        return penalty, l1_ratio
    warnings.warn(
        "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this warning, "
        "leave 'penalty' set to its default value and use 'l1_ratio' or 'C' instead. Use l1_ratio=0 "
        "instead of penalty='l2', l1_ratio=1 instead of penalty='l1', l1_ratio set to a float between 0 "
        "and 1 instead of penalty='elasticnet', and C=np.inf instead of penalty=None.", FutureWarning, stacklevel=4)
    return est.penalty, l1_ratio


def smooth_solver(solver):
    """sce's solver for a smooth objective: the one named, or sce's choice ("auto") for the names of
    scikit-learn's solvers that sce does not have (liblinear, sag, saga)."""
    return solver if solver in ("auto", "newton-cg", "newton-cholesky", "lbfgs") else "auto"


def max_iter_message(solver, max_iter):
    """The ConvergenceWarning text scikit-learn gives when its solver of that name reaches
    max_iter (so that warning filters written for it keep working), as a function of the result;
    None for sce's own "auto"."""
    messages = {
        "newton-cg": lambda r: f"newton-cg failed to converge at loss = {r.f}. Increase the number of iterations.",
        "newton-cholesky": lambda r: (f"Newton solver did not converge after {r.n_iter} iterations. Increase "
                                      "the number of iterations (max_iter) or scale the data."),
        "lbfgs": lambda r: (f"lbfgs failed to converge after {r.n_iter} iteration(s). Increase the number of "
                            f"iterations to improve the convergence (max_iter={max_iter}), or scale the data."),
        "liblinear": lambda r: "Liblinear failed to converge, increase the number of iterations.",
        "sag": lambda r: "The max_iter was reached which means the coef_ did not converge",
    }
    messages["saga"] = messages["sag"]
    return messages.get(solver)
