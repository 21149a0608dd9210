"""What LogisticClassifier and LogisticClassifierCV do around a solver, for in-memory and Dask
input alike: the input validated as scikit-learn does, the start (warm_start), the solver's vector
as fitted attributes, and the fit inside scikit-learn's callback context."""
import numpy as np
import scipy.sparse as sp
from sklearn.callback._callback_support import callback_management_context
from sklearn.utils.multiclass import check_classification_targets

from . import _validation
from ._callbacks import FitCallbacks
from ._logistic_blocks import encode_labels
from ._logistic_params import max_iter_message
from ._solve import solve
from ._sparse import canonical_csr, check_before_conversion
from ._threads import running_fit


def validated_fit_input(est, X, y, sample_weight, ensure_all_finite=False):
    """(X, y, y as indices into est.classes_, sample weights) validated as scikit-learn's
    LogisticRegression does (its errors for one class and for liblinear's limits); sets
    est.classes_ and est.n_features_in_."""
    check_before_conversion(X)
    X, y = _validation.fit_X_y(est, X, y, ensure_all_finite)
    X = canonical_csr(X)
    if not (y.ndim == 1 and y.dtype.kind in "biu"):  # integer labels are always classes
        check_classification_targets(y)
    est.classes_, y_enc = encode_labels(y)
    n_classes = len(est.classes_)
    if n_classes < 2:
        raise ValueError(
            "This solver needs samples of at least 2 classes in the data, but the data "
            f"contains only one class: {est.classes_[0]!r}"
        )
    if est.solver == "liblinear" and X.shape[0] and X.max() > 1e30:
        raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results "
                         "in a frozen fit. Please choose another solver or rescale the input X.")
    if est.solver == "liblinear" and n_classes > 2:
        raise ValueError(
            "The 'liblinear' solver does not support multiclass classification (n_classes >= 3). "
            "Either use another solver or wrap the estimator in a OneVsRestClassifier to keep "
            "applying a one-versus-rest scheme."
        )
    sample_weight = _validation.sample_weight(sample_weight, X)
    return X, y, y_enc, sample_weight


def warm_start_point(est, obj):
    """The solver's starting point: zeros, or with warm_start the previous fit's coefficients, whose
    shape (with the intercept as a last column when fitting one) must be the new problem's
    (scikit-learn's check and message)."""
    x0 = np.zeros(obj.size)
    if est.warm_start and hasattr(est, "coef_"):
        previous = est.coef_.toarray() if sp.issparse(est.coef_) else est.coef_
        if est.fit_intercept:
            previous = np.append(previous, np.asarray(est.intercept_)[:, None], axis=1)
        n_cols = obj.d + int(est.fit_intercept)
        if previous.shape != (obj.K, n_cols):
            expected = f"({n_cols},) or (1, {n_cols})" if obj.K == 1 else f"({obj.K}, {n_cols})"
            raise ValueError(f"Initialization coef is of shape {previous.shape}, expected shape {expected}")
        x0[: obj.n_coef] = previous[:, : obj.d].ravel()
        if est.fit_intercept:
            x0[obj.n_coef:] = est.intercept_
    return x0


def solution(obj, x):
    """(coef_, intercept_) in X's dtype from the solver's vector x."""
    W, b = obj.unpack(x)
    if obj.multinomial and obj.fit_intercept:
        b -= b.mean()  # the softmax leaves a common shift free; report the centred solution
    if obj.multinomial and obj.l2_strength == 0 and obj.l1_weights is None:
        W -= W.mean(axis=0)  # without penalty the same holds for the coefficients
    return W, (b if obj.fit_intercept else np.zeros(obj.K, dtype=obj.dtype))


def fit_with_callbacks(est, obj, solver, x0, X, y, sample_weight):
    """Minimize obj from x0 with the solver named, inside scikit-learn's callback context (the
    callbacks are shown X, y, sample_weight and every iteration's parameters), and set est's fitted
    attributes."""
    with callback_management_context(est):
        def attributes(x):  # a copy: scipy's L-BFGS-B reuses x's buffer
            W, b = obj.unpack(np.array(x))
            return {"coef_": W, "intercept_": b if obj.fit_intercept else np.zeros_like(b)}
        iterations = FitCallbacks(est, X, y, sample_weight, attributes, "newton-iter", max(est.max_iter, 1) + 1, x0)
        with running_fit():
            res = solve(solver, obj, x0, est.tol, est.max_iter, est.verbose,
                        max_iter_message(est.solver, est.max_iter), iterations.step)
        iterations.end_last()
        est.coef_, est.intercept_ = solution(obj, res.x)
        est.n_iter_ = np.array([res.n_iter], dtype=np.int32)
        est.solver_ = solver
        est.objective_ = res.f
        iterations.end_fit()  # the fitted estimator itself is the fit task's result
