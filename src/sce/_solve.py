"""The solvers by name, for the estimators: run one, and warn as scikit-learn does when it did not
converge."""
import warnings

from sklearn.exceptions import ConvergenceWarning

from ._convex_solvers import lbfgs, newton_cholesky
from ._newton_cg import newton_cg
from ._proximal_newton import proximal_newton

SOLVERS = {"newton-cg": newton_cg, "newton-cholesky": newton_cholesky, "lbfgs": lbfgs,
           "proximal-newton": proximal_newton}


def solve(name, obj, x0, tol, max_iter, verbose=0, max_iter_message=None, on_iteration=None,
          start_hessian=None, path_point=False):
    """Run the solver ``name``; a ConvergenceWarning when it did not converge, saying why, or for
    reaching max_iter the text max_iter_message(result) when given (scikit-learn's wording for the
    solver name the user chose).  on_iteration(x), when given, is called after each iteration.
    start_hessian: see newton_cholesky, path_point: see newton_cg (the other solvers have no use for
    them)."""
    run = SOLVERS[name]
    if start_hessian is not None and run is newton_cholesky:
        res = run(obj, x0, tol, max_iter, verbose, on_iteration, start_hessian)
    elif run is newton_cg:
        res = run(obj, x0, tol, max_iter, verbose, on_iteration, path_point)
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
