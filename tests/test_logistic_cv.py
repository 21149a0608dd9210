"""LogisticClassifierCV against scikit-learn's LogisticRegressionCV and against tight fits of each
path point; its folds share X and its result does not depend on how many paths run at once."""
import tracemalloc
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn
from sklearn.datasets import load_breast_cancer, load_iris, make_classification
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from sce import LogisticClassifier, LogisticClassifierCV

NEW = dict(scoring="neg_log_loss", use_legacy_attributes=False)


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _reference(**params):
    """scikit-learn's LogisticRegressionCV converged tightly (its defaults stop early)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegressionCV(tol=1e-10, max_iter=10000, solver="newton-cg", **params)


@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
def test_matches_scikit_learn(loader, class_weight):
    X, y = _scaled(loader)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    params = dict(Cs=8, l1_ratios=(0,), class_weight=class_weight, **NEW)
    ours = LogisticClassifierCV(**params).fit(X, y, sample_weight=sw)
    ref = _reference(**params).fit(X, y, sample_weight=sw)
    assert ours.C_ == ref.C_ and ours.l1_ratio_ == ref.l1_ratio_
    np.testing.assert_allclose(ours.Cs_, ref.Cs_)
    for name in ("coefs_paths_", "scores_", "n_iter_"):
        assert getattr(ours, name).shape == getattr(ref, name).shape, name
    np.testing.assert_allclose(ours.scores_, ref.scores_, rtol=1e-5, atol=1e-6)
    # multinomial intercepts are defined up to a common shift: compare the centred paths
    paths, ref_paths = ours.coefs_paths_, ref.coefs_paths_
    if paths.shape[3] > 1:
        paths = paths - paths.mean(axis=3, keepdims=True)
        ref_paths = ref_paths - ref_paths.mean(axis=3, keepdims=True)
    np.testing.assert_allclose(paths, ref_paths, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=1e-5)


@pytest.mark.parametrize("l1_ratios", [None, (0,), (0.5, 1.0)])
@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_legacy_attributes_have_scikit_learns_layout(loader, l1_ratios):
    X, y = _scaled(loader)
    params = dict(Cs=3, cv=3, l1_ratios=l1_ratios, use_legacy_attributes=True, scoring="accuracy")
    if l1_ratios is not None and l1_ratios != (0,):
        params["solver"] = "saga"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = LogisticClassifierCV(**params).fit(X, y)
        ref = LogisticRegressionCV(**params, max_iter=20).fit(X, y)
    assert list(ours.coefs_paths_) == list(ref.coefs_paths_) and list(ours.scores_) == list(ref.scores_)
    for key in ref.coefs_paths_:
        assert ours.coefs_paths_[key].shape == ref.coefs_paths_[key].shape
        assert ours.scores_[key].shape == ref.scores_[key].shape
    for name in ("n_iter_", "C_", "l1_ratio_", "l1_ratios_", "Cs_", "coef_", "intercept_"):
        assert np.shape(getattr(ours, name)) == np.shape(getattr(ref, name)), name


def _path_objectives(cv, X, y, folds, Cs, l1_ratio=0.0):
    """The objective of every path point of ``cv`` on its fold's training rows, and that of a tight
    fit of LogisticClassifier there."""
    gaps = []
    for f, (train, _) in enumerate(folds):
        for c, C in enumerate(Cs):
            tight = LogisticClassifier(C=C, l1_ratio=l1_ratio, tol=1e-10, max_iter=1000).fit(X[train], y[train])
            point = LogisticClassifier(C=C, l1_ratio=l1_ratio, max_iter=0, warm_start=True)
            x = cv.coefs_paths_[f, 0, c]
            point.coef_, point.intercept_ = x[:, :-1].copy(), x[:, -1].copy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                point.fit(X[train], y[train])  # max_iter=0: evaluates the objective at the start
            gaps.append((point.objective_ - tight.objective_) / abs(tight.objective_))
    return np.array(gaps)


@pytest.mark.parametrize("n_redundant", [0, 2])  # 2: collinear columns, an ill-conditioned Hessian
@pytest.mark.parametrize("l1_ratio, solver", [(0.0, "auto"), (1.0, "auto"),
                                              # path points whose last CG solve ends early
                                              (0.0, "newton-cg"), (0.0, "newton-cg-csr")])
def test_every_path_point_is_converged(l1_ratio, solver, n_redundant):
    X, y = make_classification(2000, 30, n_informative=8, n_redundant=n_redundant, random_state=0)
    if solver.endswith("-csr"):  # half the entries zero: CG with the Jacobi preconditioner
        X, solver = sp.csr_matrix(np.where(np.abs(X) < 0.7, 0.0, X)), solver[:-4]
    folds = list(StratifiedKFold(4).split(X, y))
    Cs = np.logspace(-3, 2, 6)
    cv = LogisticClassifierCV(Cs=Cs, l1_ratios=(l1_ratio,), cv=folds, solver=solver, **NEW).fit(X, y)
    gaps = _path_objectives(cv, X, y, folds, Cs, l1_ratio)
    assert gaps.max() <= 1e-6 and gaps.min() >= -1e-9, gaps


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_same_result_for_any_number_of_parallel_paths(sparse, dtype):
    X, y = make_classification(3000, 40, n_informative=10, n_classes=3, random_state=1)
    X = X.astype(dtype)
    if sparse:
        X[np.abs(X) < 1.0] = 0
        X = sp.csr_matrix(X)
    fits = [LogisticClassifierCV(Cs=4, l1_ratios=(0,), n_jobs=n, **NEW).fit(X, y) for n in (1, 2, 3)]
    for other in fits[1:]:
        np.testing.assert_array_equal(other.coefs_paths_, fits[0].coefs_paths_)
        np.testing.assert_array_equal(other.coef_, fits[0].coef_)
    assert fits[0].coef_.dtype == dtype


def test_folds_do_not_copy_X():
    X, y = make_classification(20000, 100, random_state=0)  # 16 MB
    LogisticClassifierCV(Cs=2, l1_ratios=(0,), **NEW).fit(X[:500], y[:500])  # warm imports and caches
    tracemalloc.start()
    LogisticClassifierCV(Cs=4, l1_ratios=(0,), n_jobs=2, **NEW).fit(X, y)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the held-out rows of one fold (a fifth of X), Newton-CG's row subsample (an eighth) and vectors
    # of the rows' length; a copy of a fold's training rows would be 0.8 X
    assert peak <= 0.5 * X.nbytes, peak / X.nbytes


def test_l1_path_support_matches_a_single_fit():
    X, y = make_classification(1500, 60, n_informative=6, random_state=2)
    cv = LogisticClassifierCV(Cs=5, l1_ratios=(1.0,), tol=1e-8, **NEW).fit(X, y)
    single = LogisticClassifier(C=cv.C_, l1_ratio=1.0, tol=1e-8).fit(X, y)
    np.testing.assert_array_equal(cv.coef_ != 0, single.coef_ != 0)
    np.testing.assert_allclose(cv.coef_, single.coef_, atol=1e-6)
    assert 0 < np.count_nonzero(cv.coef_) < X.shape[1]


def test_groups_reach_the_splitter():
    X, y = make_classification(600, 8, random_state=3)
    groups = np.repeat(np.arange(6), 100)
    with sklearn.config_context(enable_metadata_routing=True):
        ours = LogisticClassifierCV(Cs=3, l1_ratios=(0,), cv=GroupKFold(3), **NEW).fit(X, y, groups=groups)
        ref = _reference(Cs=3, l1_ratios=(0,), cv=GroupKFold(3), **NEW).fit(X, y, groups=groups)
    np.testing.assert_allclose(ours.scores_, ref.scores_, rtol=1e-6)


def test_refit_false_averages_the_folds():
    X, y = _scaled(load_breast_cancer)
    ours = LogisticClassifierCV(Cs=5, l1_ratios=(0,), refit=False, **NEW).fit(X, y)
    ref = _reference(Cs=5, l1_ratios=(0,), refit=False, **NEW).fit(X, y)
    assert ours.C_ == pytest.approx(ref.C_)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-4, atol=1e-5)


def test_progress_bar_and_scoring_monitor():
    from sklearn.callback import ScoringMonitor

    X, y = make_classification(500, 10, random_state=0)
    monitor = ScoringMonitor(scoring="neg_log_loss")
    cv = LogisticClassifierCV(Cs=3, cv=3, l1_ratios=(0,), **NEW).set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    assert len([r for r in rows if r["task_name"] == "C"]) == 9  # 3 folds x 3 Cs
    assert cv.coef_.shape == (1, 10)
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    LogisticClassifierCV(Cs=3, cv=3, l1_ratios=(0,), **NEW).set_callbacks(ProgressBar()).fit(X, y)


def test_bad_input_raises_scikit_learns_errors():
    X, y = make_classification(100, 4, random_state=0)
    with pytest.raises(ValueError, match="l1_ratios must be an array-like of numbers between 0 and 1"):
        LogisticClassifierCV(l1_ratios=(0.5, 2.0), **NEW).fit(X, y)
    with pytest.raises(ValueError, match="class_weight dict must have the class labels as keys"):
        LogisticClassifierCV(class_weight={7: 1.0}, l1_ratios=(0,), **NEW).fit(X, y)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticClassifierCV(l1_ratios=(0,), **NEW).fit(Xn, y)
    with pytest.warns(FutureWarning, match="l1_ratios will change"):
        LogisticClassifierCV(Cs=2, scoring="accuracy", use_legacy_attributes=False).fit(X, y)


@pytest.mark.parametrize("name", [None, "accuracy", "neg_log_loss"])
@pytest.mark.parametrize("loader", [load_breast_cancer, load_iris])
def test_builtin_scores_equal_scikit_learns_scorers(name, loader):
    """The built-in scorers, computed for a whole path at once, give the scorers' values (here for
    nearly separated classes too, where probabilities saturate)."""
    from sklearn.metrics import get_scorer

    from sce.linear_cv import _builtin_scores

    X, y = _scaled(loader)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    test = np.arange(0, len(y), 3)
    models = [LogisticClassifier(C=C).fit(X, y) for C in (1e-3, 1.0, 1e4)]
    ours = _builtin_scores(name, X[test], np.searchsorted(models[0].classes_, y[test]), sw[test],
                           [(m.coef_, m.intercept_) for m in models])
    for m, value in zip(models, ours):
        if name is None:
            expected = m.score(X[test], y[test], sample_weight=sw[test])
        else:
            expected = get_scorer(name)(m, X[test], y[test], sample_weight=sw[test])
        assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)


@parametrize_with_checks([LogisticClassifierCV(Cs=3, cv=2, l1_ratios=(0,), scoring="neg_log_loss",
                                               use_legacy_attributes=False),
                          LogisticClassifierCV(Cs=2, cv=2, l1_ratios=(0.5,), scoring="accuracy",
                                               use_legacy_attributes=True)])
# the balanced class-weight check sets cv=3 on a class of 2 members: scikit-learn's splitter warns
@pytest.mark.filterwarnings("ignore:The least populated class in y:UserWarning")
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
