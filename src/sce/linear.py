"""LogisticClassifier: scikit-learn's LogisticRegression model, fitted by sce's one-pass kernels."""
from numbers import Integral, Real

import numpy as np
import scipy.special
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.callback._callback_support import CallbackSupportMixin
from sklearn.linear_model._base import LinearClassifierMixin, SparseCoefMixin
from sklearn.utils._param_validation import Hidden, Interval, Options, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.validation import check_is_fitted

from . import _dask, _functional, _validation
from ._fit_state import restore_state_on_error
from ._logistic_blocks import kernel_targets
from ._logistic_fit import fit_with_callbacks, validated_fit_input, warm_start_point
from ._logistic_objective import LogisticObjective
from ._logistic_params import resolve as resolve_penalty
from ._sparse import check_before_conversion, check_csr

# "auto" uses exact Newton (Cholesky on the full Hessian) up to this many parameters for any X,
# and whenever forming the Hessian is cheap (LogisticObjective.gram_is_cheap: binary CSR with few
# non-zeros per row, dense X with few columns); Newton-CG otherwise.  There one Hessian costs about
# as much as the few Hessian-vector products of a CG solve, and an exact step saves the rest (the
# bench's solver tables on a9a, ijcnn1 and breast_cancer show it).
_CHOLESKY_MAX_PARAMS = 10


class LogisticClassifier(_validation.CachedParams, CallbackSupportMixin, LinearClassifierMixin,
                         SparseCoefMixin, ClassifierMixin, BaseEstimator):
    """Logistic regression (binary and multinomial) with L2, L1 or elastic-net penalty.

    A drop-in for ``sklearn.linear_model.LogisticRegression``: the same parameters with the same
    meaning, the same objective and fitted attributes, the same errors and warnings, and the same
    predictions once both are converged.  It minimizes::

        C * sum_i s_i * loss(x_i @ coef_.T + intercept_, y_i)
            + (1 - l1_ratio) / 2 * ||coef_||^2 + l1_ratio * ||coef_||_1

    with s_i = sample_weight_i * class_weight[y_i], ``loss`` the binary cross-entropy with logits
    for two classes (one coefficient row) and the softmax cross-entropy for more (one row per
    class, multinomial); the intercept is not penalized (except with ``solver="liblinear"``, as
    there).  Each evaluation of loss and gradient, and each Hessian-vector product, reads X once,
    on ``n_threads`` OpenMP threads.  float32 X is fitted in float32 (the solver's own arithmetic
    is float64).

    Parameters
    ----------
    penalty : {"l1", "l2", "elasticnet"} or None, default="deprecated"
        Deprecated in scikit-learn 1.8, with the same FutureWarning here: use ``l1_ratio`` (0:
        L2, 1: L1, between: elastic-net) and ``C=np.inf`` (no penalty) instead.
    C : float, default=1.0
        Inverse regularization strength, > 0; ``np.inf`` fits without penalty.
    l1_ratio : float, default=0.0
        Share of the L1 term in the penalty, in [0, 1]; above 0 the fit uses sce's proximal
        Newton solver (coordinate descent on the quadratic model over a working set of features)
        whatever ``solver`` names, and ``coef_`` has exact zeros.
    dual : bool, default=False
        scikit-learn's liblinear dual formulation: accepted with ``solver="liblinear"`` and the L2
        penalty, where the primal optimum it reaches is the same; an error otherwise, as there.
    tol : float, default=1e-4
        Stopping tolerance; the target is a relative objective gap of about ``tol**2`` (1e-8 by
        default).  The Newton solvers stop when the Newton-decrement estimate of the gap (with L1:
        the decrease of the quadratic model) is at most ``tol**2 * |f|`` (or below what float64
        resolves); L-BFGS stops when max|grad f| <= ``tol**2 * max|grad f(0)|``.  Both rules are
        scale-free.  This is not the meaning of scikit-learn's ``tol`` (a gradient or step
        threshold); sce's default fits are much closer to the optimum.
    fit_intercept : bool, default=True
        Whether to fit an intercept per coefficient row.  Without, ``intercept_`` is all zeros.
    intercept_scaling : float, default=1
        With ``solver="liblinear"`` only, as there: the intercept is the weight of an extra
        column of this constant value, penalized like a coefficient.
    class_weight : dict or "balanced", default=None
        Weights of the classes, multiplying the sample weights, as in scikit-learn: a dict
        {class_label: weight}, or "balanced" for n_samples / (n_classes * count of the class),
        with sample-weighted counts when ``sample_weight`` is given.  None: every class weighs 1.
    random_state : int, RandomState instance or None, default=None
        Accepted for scikit-learn's signature; sce's solvers are deterministic and do not use it.
    solver : {"auto", "lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}, \
            default="auto"
        Algorithm of an L2 fit; ``solver_`` tells which one ran, and all reach the same optimum.
        A name of scikit-learn's selects the objective that solver fits there (liblinear's
        penalized intercept) and its checks and warnings; "liblinear", "sag" and "saga" run
        sce's choice.

        - "auto" picks "newton-cholesky" when forming the Hessian is cheap: at most 10
          parameters, where the number of parameters is n_rows * (n_features + fit_intercept)
          with n_rows = 1 for two classes and n_classes otherwise; or binary sparse X with at
          most 1000 parameters and at most 64 stored non-zeros per row on average; or dense X
          whose Hessian blocks (one for two classes, n_classes * (n_classes + 1) / 2 for more)
          have at most 32 columns of (n_features + fit_intercept) together.  Otherwise
          "newton-cg".
        - "newton-cholesky" forms the full Hessian and solves with its Cholesky factor: the
          fewest iterations (a handful), each costing about (n_features + 1) / 5 passes over X
          per Hessian block and memory quadratic in the number of parameters.
        - "newton-cg" never forms the Hessian: each conjugate-gradient step is one
          Hessian-vector product, one pass over X.  For dense X with many more rows than
          parameters (at least 256 per parameter) its CG first runs on the Hessian of a
          subsample of the rows (a copy of at most a quarter of X).
        - "lbfgs" (scipy's L-BFGS-B) does no Hessian work, one loss + gradient pass per
          iteration, but needs many more iterations than the Newton solvers to reach the same
          ``tol``; it is there for comparison with scikit-learn's default solver.
    max_iter : int, default=100
        Maximum number of solver iterations (Newton steps, or L-BFGS iterations), >= 0.  When it
        is reached before ``tol`` a ``ConvergenceWarning`` is issued.
    verbose : int, default=0
        > 0 prints one line per iteration (objective, max|gradient|, elapsed time).
    warm_start : bool, default=False
        Start from the previous fit's ``coef_`` and ``intercept_`` when their shape still
        matches (same number of features and of coefficient rows); otherwise from zeros.
    n_jobs : int, default=None
        Has no effect, as in scikit-learn 1.9 (with its FutureWarning when set).  The threads of
        a fit are ``n_threads``; to fit several models at once use joblib around the estimator:
        concurrent fits with ``n_threads=None`` share the cores.
    n_threads : int, default=None
        OpenMP threads of the passes over X.  None uses ``min(omp_get_max_threads(), usable
        cores)``, so it follows ``OMP_NUM_THREADS`` and threadpoolctl limits; -1 uses all cores
        this process may run on; a positive int that many.  Without OpenMP one thread.  With
        None, fits running at the same time in several threads of the process (joblib's threading
        backend, a web server) share the cores instead of each taking all of them; the result is
        the same for any number of threads.
        (SigmoidMLPClassifier differs: there None means one thread, see its ``n_threads``.)

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted, in the dtype of ``y``.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients, in X's dtype (float32 or float64).  One row for two classes (the
        decision function is positive for ``classes_[1]``), one per class for more.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts, in X's dtype; zeros when ``fit_intercept=False``.  For more than two classes
        they are centred (sum to 0): the softmax leaves a common shift free.
    n_iter_ : ndarray of shape (1,), dtype int32
        Number of solver iterations taken (Newton steps or L-BFGS iterations); 0 with
        ``max_iter=0``.
    solver_ : str
        The solver that ran: "proximal-newton" with an L1 term; else the choice of
        ``solver="auto"`` (also for "liblinear", "sag" and "saga"), or ``solver`` itself.
    objective_ : float
        The objective above at the returned coefficients (the plain weighted loss sum when
        ``C=np.inf``), evaluated in float64 on X's values.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit; only set when X has string column names (a
        pandas DataFrame, for instance).

    See Also
    --------
    sklearn.linear_model.LogisticRegression : The scikit-learn estimator this one replaces.
    SigmoidMLPClassifier : A multilayer perceptron with sigmoid hidden layers (the same output
        losses behind one or more hidden layers).
    bce_with_logits : The binary loss, as a function.
    softmax_cross_entropy : The multinomial loss, as a function.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sce import LogisticClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = LogisticClassifier().fit(X, y)
    >>> clf.solver_, clf.coef_.shape
    ('newton-cholesky', (3, 4))
    >>> clf.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> np.round(clf.predict_proba(X[:2]), 3)
    array([[0.982, 0.018, 0.   ],
           [0.971, 0.029, 0.   ]])
    >>> round(clf.score(X, y), 3)
    0.973

    The same model as scikit-learn's, fitted to a tight tolerance:

    >>> from sklearn.linear_model import LogisticRegression
    >>> ref = LogisticRegression(solver="newton-cg", tol=1e-10).fit(X, y)
    >>> np.allclose(clf.predict_proba(X), ref.predict_proba(X), atol=1e-6)
    True
    """

    _parameter_constraints = {
        "penalty": [StrOptions({"l1", "l2", "elasticnet"}), None, Hidden(StrOptions({"deprecated"}))],
        "C": [Interval(Real, 0, None, closed="right")],  # np.inf: no penalty
        "l1_ratio": [Interval(Real, 0, 1, closed="both"), None],
        "dual": ["boolean"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "fit_intercept": ["boolean"],
        "intercept_scaling": [Interval(Real, 0, None, closed="neither")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "random_state": ["random_state"],
        "solver": [StrOptions({"auto", "lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"})],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [None, Integral],
        "n_threads": [None, Options(Integral, {-1}), Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, penalty="deprecated", *, C=1.0, l1_ratio=0.0, dual=False, tol=1e-4,
                 fit_intercept=True, intercept_scaling=1, class_weight=None, random_state=None,
                 solver="auto", max_iter=100, verbose=0, warm_start=False, n_jobs=None,
                 n_threads=None):
        self.penalty, self.C, self.l1_ratio, self.dual, self.tol = penalty, C, l1_ratio, dual, tol
        self.fit_intercept, self.intercept_scaling = fit_intercept, intercept_scaling
        self.class_weight, self.random_state, self.solver = class_weight, random_state, solver
        self.max_iter, self.verbose, self.warm_start = max_iter, verbose, warm_start
        self.n_jobs, self.n_threads = n_jobs, n_threads

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @staticmethod
    def _choose_solver(solver, obj):
        if solver != "auto":
            return solver
        if obj.size <= _CHOLESKY_MAX_PARAMS or obj.gram_is_cheap():
            return "newton-cholesky"
        return "newton-cg"

    @restore_state_on_error
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X, y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data.  float32 is kept (and fitted in float32); other dtypes become float64.
            C-contiguous float arrays and CSR matrices are used without a copy (newton-cg may
            copy a subsample of the rows, see ``solver``); other layouts and sparse formats are
            converted once.  NaN or infinity raises ValueError.
        y : array-like of shape (n_samples,)
            Class labels (at least two distinct ones).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples; None weighs every sample 1.

        Returns
        -------
        self : LogisticClassifier
            The fitted estimator.
        """
        if _dask.is_dask_collection(X):  # fitted where its chunks live (sce._dask)
            return _dask.fit(self, X, y, sample_weight)
        self._validate_params()
        penalty, solver = resolve_penalty(self)
        # X's values are checked for NaN / inf by the objective's first evaluation
        X, y, y_enc, sample_weight = validated_fit_input(self, X, y, sample_weight)
        n_classes = len(self.classes_)
        if self.class_weight is not None:
            cw = compute_class_weight(self.class_weight, classes=self.classes_, y=y,
                                      sample_weight=sample_weight)
            sample_weight = sample_weight * cw[y_enc].astype(X.dtype)

        obj = LogisticObjective(X, kernel_targets(y_enc, n_classes), sample_weight, self.C, self.fit_intercept,
                                n_classes, self.n_threads, penalty)
        x0 = warm_start_point(self, obj)
        if solver != "proximal-newton":
            solver = self._choose_solver(solver, obj)
        fit_with_callbacks(self, obj, solver, x0, X, y, sample_weight)
        return self

    def predict_proba(self, X):
        """Class probabilities.

        The sigmoid of the decision function for two classes, its softmax for more.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Probability of each class, columns in the order of ``classes_``.
        """
        if _dask.is_dask_collection(X):
            return _dask.predict_method(self, X, "predict_proba")
        scores = self.decision_function(X)  # checks that self is fitted
        if scores.ndim == 1:
            proba = np.empty((len(scores), 2), dtype=scores.dtype)
            proba[:, 0] = _functional.sigmoid(-scores)
            proba[:, 1] = _functional.sigmoid(scores)
            return proba
        return scipy.special.softmax(scores, axis=1)

    def predict_log_proba(self, X):
        """Logarithm of the class probabilities, computed without underflow.

        Taken from the decision function (log-sigmoid, or log-softmax), so very unlikely classes
        get large negative values instead of ``log(0) = -inf``.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples.

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_classes)
            Log-probability of each class, columns in the order of ``classes_``.
        """
        if _dask.is_dask_collection(X):
            return _dask.predict_method(self, X, "predict_log_proba")
        scores = self.decision_function(X)  # checks that self is fitted
        if scores.ndim == 1:
            return np.column_stack([_functional.log_sigmoid(-scores), _functional.log_sigmoid(scores)])
        return scipy.special.log_softmax(scores, axis=1)

    def decision_function(self, X):
        """Confidence scores: X @ coef_.T + intercept_, shape (n_samples,) for two classes, else
        (n_samples, n_classes).  A malformed sparse X raises scipy's ValueError."""
        if _dask.is_dask_collection(X):
            return _dask.predict_method(self, X, "decision_function")
        if "coef_" not in vars(self) or hasattr(self, "__sklearn_is_fitted__"):  # else fitted, as it says
            check_is_fitted(self)
        check_before_conversion(X)
        X = _validation.predict_X(self, X)
        check_csr(X)
        # a numpy X's product directly: safe_sparse_dot's own for it, after its array-namespace lookup
        product = X @ self.coef_.T if type(X) is np.ndarray else safe_sparse_dot(X, self.coef_.T, dense_output=True)
        scores = product + self.intercept_
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict(self, X):
        """Class labels: those of the largest decision function.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples; a dask array or DataFrame gives a lazy dask array.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
            Predicted class of each sample, from ``classes_``.
        """
        if _dask.is_dask_collection(X):
            return _dask.predict_method(self, X, "predict")
        if type(X) is not np.ndarray:
            return super().predict(X)
        # numpy in, numpy out: LinearClassifierMixin.predict without its array-namespace dispatch
        scores = self.decision_function(X)
        indices = (scores > 0).astype(np.intp) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_.take(indices, axis=0)

    def score(self, X, y, sample_weight=None):
        """Mean accuracy of ``predict(X)`` against y (weighted by ``sample_weight``).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Samples; with a dask array or DataFrame the accuracy is computed on the workers.
        y : array-like of shape (n_samples,)
            True labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples.

        Returns
        -------
        score : float
            The (weighted) share of correctly predicted samples.
        """
        if _dask.is_dask_collection(X):
            return _dask.score(self, X, y, sample_weight)
        return super().score(X, y, sample_weight=sample_weight)
