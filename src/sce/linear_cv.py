"""LogisticClassifierCV: scikit-learn's LogisticRegressionCV, its paths warm-started and its folds
fitted in threads over one copy of X (sce._logistic_path)."""
import inspect
import threading
import warnings
from numbers import Integral, Number

import numpy as np
import scipy.special
from joblib import effective_n_jobs
from sklearn.callback._callback_support import callback_management_context
from sklearn.linear_model._logistic import _check_solver
from sklearn.metrics import get_scorer, get_scorer_names, make_scorer
from sklearn.model_selection import check_cv
from sklearn.utils import metadata_routing
from sklearn.utils._param_validation import Hidden, Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.extmath import safe_sparse_dot
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _manual_routing,
    _raise_for_params,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import _check_method_params

from ._cv_attributes import fitted_path_attributes
from ._logistic_blocks import kernel_targets
from ._logistic_fit import solution, validated_fit_input
from ._logistic_objective import SharedSubsamples
from ._logistic_path import PathProblem, fit_path, fit_point, objective, run_paths, serial_blas_for_search
from ._threads import effective_n_threads, running_fit
from .linear import LogisticClassifier


class LogisticClassifierCV(LogisticClassifier):
    """Logistic regression with C (and l1_ratio) chosen by cross-validation.

    A drop-in for ``sklearn.linear_model.LogisticRegressionCV``: the same parameters, fitted
    attributes (legacy and new layouts, see ``use_legacy_attributes``), errors and warnings.  For
    every fold and l1_ratio it fits the path of ``Cs`` from the strongest penalty to the weakest,
    each fit starting from the previous solution, scores every path point on the held-out rows,
    and refits on all rows at the best point.  The folds share X: a fold is X with the held-out
    rows weighted 0, so no fold copies the data; the paths run in threads (the kernels release
    the GIL), not in processes.  Every path point is fitted to the same ``tol`` as
    ``LogisticClassifier``, i.e. close to the optimum, which scikit-learn's path points are not
    always.

    Parameters
    ----------
    Cs : int or array-like of float, default=10
        The grid of C: an int asks for that many values spaced logarithmically between 1e-4 and
        1e4; ``np.inf`` in a list means no penalty.
    l1_ratios : array-like of float in [0, 1], default=None
        The grid of l1_ratio (0: L2, 1: L1, between: elastic-net).  None (with scikit-learn's
        FutureWarning when left at its default) means L2 only.
    fit_intercept : bool, default=True
        Whether to fit an intercept (not penalized, except with ``solver="liblinear"``).
    cv : int, cross-validation generator or iterable, default=None
        As in scikit-learn: None is 5-fold stratified, an int that many stratified folds.
    dual : bool, default=False
        Only False is supported by sce's solvers (as with every scikit-learn solver but
        liblinear).
    penalty : {"l1", "l2", "elasticnet"}, default="deprecated"
        Deprecated in scikit-learn 1.8, with the same FutureWarning: use ``l1_ratios``.
    scoring : str or callable, default=None
        A scorer name or callable ``scorer(estimator, X, y)``; None is accuracy (scikit-learn
        warns that its default will change to "neg_log_loss"; so does this class).
    solver : {"auto", "lbfgs", "liblinear", "newton-cg", "newton-cholesky", "sag", "saga"}, \
            default="auto"
        The objective of that scikit-learn solver (liblinear's penalizes the intercept), fitted
        by sce's solver of the same name or, for "auto", "liblinear", "sag" and "saga", sce's
        choice (see ``LogisticClassifier``); paths with an L1 term by proximal Newton.
    tol : float, default=1e-4
        Stopping tolerance of every fit (see ``LogisticClassifier``).
    max_iter : int, default=100
        Maximum solver iterations of every fit.
    class_weight : dict or "balanced", default=None
        Weights of the classes ("balanced": computed on all of y, as scikit-learn does).
    n_jobs : int, default=None
        Number of paths (fold, l1_ratio) fitted at once, in threads sharing X.  None: as many as
        the cores this process may use (sce's threads are cheap and need no copy); -1 the same.
        The kernels' threads of the fits running at once share the cores, and the result does not
        depend on either number.
    verbose : int, default=0
        > 0 prints one line per solver iteration.
    refit : bool, default=True
        Refit on all rows at the best (C, l1_ratio) of the scores summed over the folds, starting
        from the mean of the folds' solutions there; False averages the folds' solutions at each
        fold's best point instead.
    intercept_scaling : float, default=1
        With ``solver="liblinear"``: the intercept is penalized as a coefficient of a column of
        this value.
    random_state : int, RandomState instance or None, default=None
        Accepted for compatibility; sce's solvers are deterministic.
    use_legacy_attributes : bool, default="warn"
        scikit-learn 1.9's switch between its legacy attribute layout (dicts by class, default,
        with a FutureWarning) and the new one (arrays); the same here.
    n_threads : int, default=None
        OpenMP threads of each pass over X (see ``LogisticClassifier``); None shares the cores
        among the paths running at once.

    Attributes
    ----------
    Cs_ : ndarray of shape (n_cs,)
        The grid of C.
    l1_ratios_ : ndarray of shape (n_l1_ratios,)
        The grid of l1_ratio (``[None]`` when ``l1_ratios`` is None).
    coefs_paths_ : dict or ndarray
        The solutions of every fold and path point, the intercept last (see
        ``use_legacy_attributes`` for the layouts).
    scores_ : dict or ndarray
        The held-out score of every fold and path point.
    C_ : ndarray of shape (1,) or (n_classes,), or float
        The chosen C (legacy layout: repeated per class; new layout: a float).
    l1_ratio_ : ndarray of shape (1,) or (n_classes,), or float
        The chosen l1_ratio, in the same layout.
    n_iter_ : ndarray
        Solver iterations of every fold and path point.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Coefficients of the model refitted at the chosen point (or the folds' average), in X's
        dtype.
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Its intercepts.
    classes_ : ndarray of shape (n_classes,)
        The class labels, sorted.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during fit, when X has string column names.

    See Also
    --------
    sklearn.linear_model.LogisticRegressionCV : The scikit-learn estimator this one replaces.
    LogisticClassifier : The model fitted at each path point, and its solvers.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sce import LogisticClassifierCV
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> clf = LogisticClassifierCV(Cs=10, l1_ratios=(0,), scoring="neg_log_loss",
    ...                            use_legacy_attributes=False).fit(X, y)
    >>> round(clf.C_, 4), clf.scores_.shape
    (0.3594, (5, 1, 10))
    """

    # score's sample_weight goes to the scorer (routed), as in scikit-learn; the class itself does
    # not consume it
    __metadata_request__score = {"sample_weight": metadata_routing.UNUSED}
    _parameter_constraints = {**LogisticClassifier._parameter_constraints}
    for _name in ("C", "warm_start", "l1_ratio"):
        _parameter_constraints.pop(_name)
    _parameter_constraints.update({
        "Cs": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "l1_ratios": ["array-like", None, Hidden(StrOptions({"warn"}))],
        "cv": ["cv_object"],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None, Hidden(StrOptions({"warn"}))],
        "refit": ["boolean"],
        "penalty": [StrOptions({"l1", "l2", "elasticnet"}), Hidden(StrOptions({"deprecated"}))],
        "use_legacy_attributes": ["boolean", Hidden(StrOptions({"warn"}))],
    })
    del _name

    def __init__(self, *, Cs=10, l1_ratios="warn", fit_intercept=True, cv=None, dual=False,
                 penalty="deprecated", scoring="warn", solver="auto", tol=1e-4, max_iter=100,
                 class_weight=None, n_jobs=None, verbose=0, refit=True, intercept_scaling=1.0,
                 random_state=None, use_legacy_attributes="warn", n_threads=None):
        self.Cs, self.l1_ratios, self.fit_intercept, self.cv, self.dual = Cs, l1_ratios, fit_intercept, cv, dual
        self.penalty, self.scoring, self.solver, self.tol, self.max_iter = penalty, scoring, solver, tol, max_iter
        self.class_weight, self.n_jobs, self.verbose, self.refit = class_weight, n_jobs, verbose, refit
        self.intercept_scaling, self.random_state = intercept_scaling, random_state
        self.use_legacy_attributes, self.n_threads = use_legacy_attributes, n_threads

    def fit(self, X, y, sample_weight=None, **params):
        """Fit the paths over the folds, choose (C, l1_ratio), refit.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Training data (float32 is kept; C-contiguous arrays and CSR are not copied).
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples, in the fits and in the scores.
        **params : dict
            Metadata for the splitter (``groups``) and the scorer, routed as scikit-learn does.

        Returns
        -------
        self : LogisticClassifierCV
        """
        _raise_for_params(params, self, "fit")
        self._validate_params()
        l1_ratios, penalty = self._penalty()
        scoring, legacy = self._scoring_and_layout()
        if self.solver != "auto":
            _check_solver(self.solver, penalty, self.dual)
        elif self.dual:
            raise ValueError(f"Solver {self.solver} supports only dual=False, got dual={self.dual}")
        grid = self._l1_ratio_grid(l1_ratios, penalty)
        X, y, y_enc, weights = validated_fit_input(self, X, y, sample_weight, ensure_all_finite=True)
        if _routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
        else:
            score_kwargs = dict(params)
            if sample_weight is not None:
                score_kwargs["sample_weight"] = sample_weight
            routed = _manual_routing({"splitter": {}, "scorer": {"score": score_kwargs}})
        folds = list(check_cv(self.cv, y, classifier=True).split(X, y, **routed.splitter.split))
        weights = weights * self._class_weights(y, weights)[y_enc].astype(X.dtype)
        n_classes = len(self.classes_)
        problem = PathProblem(X, kernel_targets(y_enc, n_classes), weights, n_classes, self.fit_intercept,
                              self.intercept_scaling, self.solver, self.tol, self.max_iter, self.verbose,
                              self.n_threads, SharedSubsamples())
        Cs = np.logspace(-4, 4, self.Cs) if isinstance(self.Cs, Integral) else np.asarray(self.Cs, dtype=float)
        # the l1_ratio each path fits: that of the grid for elastic-net, else the penalty's
        ratios = [r if penalty == "elasticnet" else float(penalty == "l1") for r in grid]

        with callback_management_context(self), serial_blas_for_search(problem):
            progress = _Progress(self, X, y, len(folds) * len(grid), len(Cs), self.refit)
            paths = [(f, r) for f in range(len(folds)) for r in range(len(grid))]

            def task(fold, r):
                train_weights = np.zeros_like(weights)
                train_weights[folds[fold][0]] = weights[folds[fold][0]]
                on_point = progress.path(fold * len(grid) + r)
                return lambda stop: fit_path(problem, train_weights, Cs, ratios[r], self._choose_solver,
                                             stop, on_point)

            workers = effective_n_threads(-1) if self.n_jobs is None else effective_n_jobs(self.n_jobs)
            results = run_paths([task(f, r) for f, r in paths], min(workers, len(paths)))
            coefs = np.array([c for c, _ in results])       # (n_paths, n_cs, size)
            n_iter = np.array([n for _, n in results])      # (n_paths, n_cs)
            problem.subsamples.clear()  # while the held-out rows are copied for scoring
            scorer = _fold_scorer(scoring, self.classes_)
            scores = np.array([
                self._path_scores(X, y, sample_weight, folds[f][1], coefs[i], Cs, scorer,
                                  routed.scorer.score, problem)
                for i, (f, _) in enumerate(paths)])
            shape = (len(folds), len(grid), len(Cs))
            coefs = coefs.reshape(shape + coefs.shape[2:])
            scores, n_iter = scores.reshape(shape), n_iter.reshape(shape)

            if self.refit:
                total = scores.sum(axis=0)                      # (n_l1, n_cs)
                ci, ri = np.unravel_index(np.argmax(total.T), total.T.shape)  # scikit-learn's tie order
                obj = objective(problem, Cs[ci], ratios[ri])
                with running_fit():
                    res = fit_point(problem, obj, coefs[:, ri, ci].mean(axis=0), self._choose_solver,
                                    progress.refit())
                self.coef_, self.intercept_ = solution(obj, res.x)
                best_C, best_ratio = Cs[ci], grid[ri]
            else:
                per_fold = [np.unravel_index(np.argmax(s.T), s.T.shape) for s in scores]
                x = np.mean([coefs[f, ri, ci] for f, (ci, ri) in enumerate(per_fold)], axis=0)
                self.coef_, self.intercept_ = solution(objective(problem, 1.0, 0.0), x)
                best_C = float(np.mean([Cs[ci] for ci, _ in per_fold]))
                best_ratio = (float(np.mean([grid[ri] for _, ri in per_fold]))
                              if penalty == "elasticnet" else 0.0)
            self.Cs_ = Cs
            attrs = fitted_path_attributes(coefs, scores, n_iter, problem, self.classes_, grid, l1_ratios,
                                           best_C, best_ratio, legacy, self.penalty)
            for name, value in attrs.items():
                setattr(self, name, value)
            progress.end()
        return self

    # -- options -------------------------------------------------------------------------------------
    def _penalty(self):
        """(the l1_ratios option, the penalty name), with scikit-learn's warnings."""
        l1_ratios = self.l1_ratios
        if isinstance(l1_ratios, str) and l1_ratios == "warn":
            l1_ratios = None
            warnings.warn("The default value for l1_ratios will change from None to (0.0,) in version 1.10. "
                          "From version 1.10 onwards, only array-like with values in [0, 1] will be allowed, "
                          "None will be forbidden. To avoid this warning, explicitly set a value, e.g. "
                          "l1_ratios=(0,).", FutureWarning, stacklevel=3)
        if self.penalty != "deprecated":
            warnings.warn("'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid this "
                          "warning, leave 'penalty' set to its default value and use 'l1_ratios' and 'Cs' "
                          "instead. Use l1_ratios=(0,) instead of penalty='l2', l1_ratios=(1,) instead of "
                          "penalty='l1', l1_ratios set to floats between 0 and 1 instead of "
                          "penalty='elasticnet', and Cs=(np.inf,) instead of penalty=None.",
                          FutureWarning, stacklevel=3)
            return l1_ratios, self.penalty
        if self.l1_ratios is None:
            warnings.warn("'l1_ratios=None' was deprecated in version 1.8 and will trigger an error in 1.10. "
                          "Use an array-like with valuesin [0, 1] instead.", FutureWarning, stacklevel=3)
        if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
            return l1_ratios, "l2"
        return l1_ratios, "l1" if np.all(np.asarray(l1_ratios) == 1) else "elasticnet"

    def _scoring_and_layout(self):
        scoring, legacy = self.scoring, self.use_legacy_attributes
        if scoring == "warn":
            warnings.warn("The default value of the parameter 'scoring' will change from None, i.e. accuracy, "
                          "to 'neg_log_loss' in version 1.11. To silence this warning, explicitly set the "
                          "scoring parameter: scoring='neg_log_loss' for the new, scoring='accuracy' or "
                          "scoring=None for the old default.", FutureWarning, stacklevel=3)
            scoring = None
        if legacy == "warn":
            name = type(self).__name__
            warnings.warn(f"The fitted attributes of {name} will be simplified in scikit-learn 1.10 to remove "
                          "redundancy. Set`use_legacy_attributes=False` to enable the new behavior now, or set "
                          "it to `True` to silence this warning during the transition period while keeping the "
                          "deprecated behavior for the time being. The default value of use_legacy_attributes "
                          "will change from True to False in scikit-learn 1.10. See the docstring of "
                          f"{name} for more details.", FutureWarning, stacklevel=3)
            legacy = True
        return scoring, legacy

    def _l1_ratio_grid(self, l1_ratios, penalty):
        if penalty == "elasticnet":
            if (l1_ratios is None or len(l1_ratios) == 0
                    or any(not isinstance(r, Number) or r < 0 or r > 1 for r in l1_ratios)):
                raise ValueError("l1_ratios must be an array-like of numbers between 0 and 1; got "
                                 f"(l1_ratios={l1_ratios!r})")
            return list(l1_ratios)
        if l1_ratios is not None and self.penalty != "deprecated":
            warnings.warn(f"l1_ratios parameter is only used when penalty is 'elasticnet'. Got (penalty={penalty})",
                          stacklevel=3)
        return [None] if l1_ratios is None else list(l1_ratios)

    def _class_weights(self, y, sample_weight):
        """Per-class weights (1 without class_weight); "balanced" from all of y, as scikit-learn."""
        cw = self.class_weight
        if isinstance(cw, dict) and not set(cw) <= set(self.classes_):
            raise ValueError("The given class_weight dict must have the class labels as keys; "
                             f"classes={self.classes_} but key={cw.keys()}")
        if cw is None:
            return np.ones(len(self.classes_))
        return compute_class_weight(cw, classes=self.classes_, y=y, sample_weight=sample_weight)

    # -- scores --------------------------------------------------------------------------------------
    def _path_scores(self, X, y, sample_weight, test, path, Cs, scorer, score_params, problem):
        """The held-out score of every point of one path."""
        X_test, y_test = X[test], y[test]
        obj = objective(problem, 1.0, 0.0)
        points = [obj.unpack(x) for x in path]
        if not self.fit_intercept:
            points = [(W, np.zeros_like(b)) for W, b in points]
        if scorer in _BUILTIN and set(score_params) <= {"sample_weight"}:
            sw = score_params.get("sample_weight", sample_weight if scorer is None else None)
            sw = None if sw is None else np.asarray(sw)[test]
            return _builtin_scores(scorer, X_test, np.searchsorted(self.classes_, y_test), sw, points)
        if scorer is None:
            sw_test = None if sample_weight is None else np.asarray(sample_weight)[test]
        else:
            score_params = _check_method_params(X, params=score_params, indices=test)
        est = LogisticClassifier()
        est.classes_, est.n_features_in_ = self.classes_, X.shape[1]
        scores = []
        for (W, b), C in zip(points, Cs):
            est.C, est.coef_, est.intercept_ = C, W, b
            scores.append(est.score(X_test, y_test, sample_weight=sw_test) if scorer is None
                          else scorer(est, X_test, y_test, **score_params))
        return scores

    def _choose_solver(self, solver, obj):
        return LogisticClassifier._choose_solver(solver, obj)

    def score(self, X, y, sample_weight=None, **score_params):
        """The ``scoring`` score (accuracy by default) of the fitted model on X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        **score_params : dict
            Passed to the scorer (with metadata routing).

        Returns
        -------
        score : float
        """
        _raise_for_params(score_params, self, "score")
        if sample_weight is not None:
            score_params["sample_weight"] = sample_weight
        if _routing_enabled():
            routed = process_routing(self, "score", **score_params)
        else:
            sw = score_params.get("sample_weight")
            routed = _manual_routing({"scorer": {"score": {} if sw is None else {"sample_weight": sw}}})
        return self._get_scorer()(self, X, y, **routed.scorer.score)

    def get_metadata_routing(self):
        """The metadata routing of this estimator: ``groups`` to the splitter, scorer metadata."""
        return (MetadataRouter(owner=self).add_self_request(self)
                .add(splitter=self.cv, method_mapping=MethodMapping().add(caller="fit", callee="split"))
                .add(scorer=self._get_scorer(), method_mapping=MethodMapping().add(caller="score", callee="score")
                     .add(caller="fit", callee="score")))

    def _get_scorer(self):
        return get_scorer("accuracy" if self.scoring in ("warn", None) else self.scoring)


_BUILTIN = (None, "accuracy", "neg_log_loss")


def _builtin_scores(name, X_test, y_index, sw, points):
    """The scores that scikit-learn's scorer ``name`` (None: the estimator's accuracy) gives the
    models (W, b) on the held-out rows, for all of them from one product with X_test: accuracy, or
    minus the mean log-loss of the probabilities clipped to [eps, 1 - eps] of their dtype (binary:
    scikit-learn's p = expit(z) and 1 - p for the negative class, whose last bits near 1 decide the
    log-loss of a confidently wrong row: 1 - p is 2.2e-16 or 3.3e-16 by one rounding of p)."""
    K, d = points[0][0].shape
    W = np.concatenate([W for W, _ in points])
    scores = safe_sparse_dot(X_test, W.T, dense_output=True) + np.concatenate([b for _, b in points])
    out = []
    for c in range(len(points)):
        z = scores[:, c * K:(c + 1) * K]
        if name in (None, "accuracy"):
            predicted = (z[:, 0] > 0).astype(np.intp) if K == 1 else z.argmax(axis=1)
            out.append(float(np.average(predicted == y_index, weights=sw)))
            continue
        if K == 1:  # the scorer takes the positive class's column and 1 minus it for the other
            p1 = scipy.special.expit(z[:, 0])
            proba = np.column_stack([1 - p1, p1])
        else:
            proba = scipy.special.softmax(z, axis=1)
        eps = np.finfo(proba.dtype).eps
        p = np.clip(proba[np.arange(len(y_index)), y_index], eps, 1 - eps)
        out.append(float(np.average(np.log(p), weights=sw)))
    return out


def _fold_scorer(scoring, classes):
    """The scorer of the held-out rows (None: the estimator's accuracy); scorers whose metric takes
    ``labels`` get all classes, since a fold may miss some (and ``pos_label`` the positive one).
    scikit-learn's accuracy and neg_log_loss, named as strings, are computed here (_builtin_scores),
    with the same values and without the per-model overhead of the scorer's checks."""
    if scoring in _BUILTIN:
        return scoring
    scorer = get_scorer(scoring)
    func = getattr(scorer, "_score_func", None)
    parameters = inspect.signature(func).parameters if func is not None else {}
    if "labels" not in parameters:
        return scorer
    extra = {"pos_label": classes[-1]} if len(classes) <= 2 and "pos_label" in parameters else {}
    return make_scorer(func, greater_is_better=scorer._sign == 1, response_method=scorer._response_method,
                       labels=classes, **extra, **getattr(scorer, "_kwargs", {}))


class _Progress:
    """The callback API's task tree of a CV fit: a fit task whose subtasks are the paths (fold,
    l1_ratio), run in parallel, and the refit; each path's subtasks are its points.  Hooks are
    called under a lock, from the threads of the paths."""

    def __init__(self, est, X, y, n_paths, n_cs, refit):
        self.active = bool(getattr(est, "_skl_callbacks", None))
        if not self.active:
            return
        self.est, self.X, self.y, self.n_cs = est, X, y, n_cs
        self.lock = threading.Lock()
        self.n_paths = n_paths
        self.root = est._init_callback_context(max_subtasks=n_paths + int(refit), sequential_subtasks=False)
        self.root.call_on_fit_task_begin(estimator=est, X=X, y=y)

    def path(self, task_id):
        """on_point(i, obj, x) for the path task_id, or None without callbacks."""
        if not self.active:
            return None
        with self.lock:
            ctx = self.root.subcontext(task_name="path", task_id=task_id, max_subtasks=self.n_cs)
            ctx.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y)
        done = []

        def on_point(i, obj, x):
            W, b = obj.unpack(x)
            attributes = {"coef_": W, "intercept_": b}
            with self.lock:
                point = ctx.subcontext(task_name="C")
                point.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y)
                point.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y,
                                           reconstruction_attributes=attributes)
                done.append(i)
                if len(done) == self.n_cs:
                    ctx.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y)
        return on_point

    def refit(self):
        if not self.active:
            return None
        self.refit_task = self.root.subcontext(task_name="refit", task_id=self.n_paths, max_subtasks=0)
        self.refit_task.call_on_fit_task_begin(estimator=self.est, X=self.X, y=self.y)
        return None

    def end(self):
        if self.active:
            if hasattr(self, "refit_task"):
                self.refit_task.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y)
            self.root.call_on_fit_task_end(estimator=self.est, X=self.X, y=self.y)
