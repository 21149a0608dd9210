"""Bad input gets scikit-learn's exception type and message, wherever it enters, and the caller's
arrays are never modified.  Each case runs on the scikit-learn estimator sce replaces and on sce's,
and the two errors are compared."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import sce

rng = np.random.default_rng(0)
X = rng.standard_normal((40, 3))
y = (X[:, 0] > 0).astype(int)
y3 = np.arange(40) % 3

PAIRS = {
    "logistic": (lambda: LogisticRegression(), lambda: sce.LogisticClassifier()),
    "mlp": (lambda: MLPClassifier((4,), activation="logistic", solver="lbfgs", max_iter=5),
            lambda: sce.SigmoidMLPClassifier((4,), solver="lbfgs", max_iter=5)),
}


def _with(X_, i, j, v):
    X_ = X_.astype(float).copy()
    X_[i, j] = v
    return X_


FIT_CASES = {
    "nan": lambda: ((_with(X, 3, 1, np.nan), y), {}),
    "inf": lambda: ((_with(X, 0, 0, np.inf), y), {}),
    "strings": lambda: ((np.array([["a", "b", "c"]] * 40), y), {}),
    "object": lambda: ((np.array([[object()] * 3] * 40), y), {}),
    "empty": lambda: ((np.empty((0, 3)), np.empty(0)), {}),
    "no-features": lambda: ((np.empty((40, 0)), y), {}),
    "3-d": lambda: ((X.reshape(40, 3, 1), y), {}),
    "1-d": lambda: ((X[:, 0], y), {}),
    "short-y": lambda: ((X, y[:-1]), {}),
    "continuous-y": lambda: ((X, X[:, 0]), {}),
    "one-class": lambda: ((X, np.zeros(40, dtype=int)), {}),
    "2-d-y-column": lambda: ((X, y3.reshape(-1, 1).astype(float) + 0.5), {}),
    "nan-y": lambda: ((X, np.where(np.arange(40) == 5, np.nan, y)), {}),
    "short-weight": lambda: ((X, y), {"sample_weight": np.ones(39)}),
    "complex": lambda: ((X + 1j, y), {}),
}


def _error(fn):
    try:
        fn()
    except Exception as exc:  # the comparison is the point
        return exc
    return None


# the messages name the estimator
RENAMES = {"LogisticRegression": "LogisticClassifier", "MLPClassifier": "SigmoidMLPClassifier"}


def _same_error(ref, ours, case):
    if ref is None:  # scikit-learn accepts it (e.g. one class for MLPClassifier): so does sce
        assert ours is None, f"{case}: sce rejects with {ours!r} what scikit-learn accepts"
        return
    assert ours is not None, f"{case}: sce accepted what scikit-learn rejects with {ref!r}"
    assert type(ours) is type(ref), (case, ref, ours)
    expected = str(ref)
    for theirs, mine in RENAMES.items():
        expected = expected.replace(f"Sigmoid{theirs}", theirs).replace(theirs, mine)
    assert str(ours) == expected, (case, expected, str(ours))


@pytest.mark.parametrize("case", sorted(FIT_CASES))
@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_fit_errors_match_sklearn(kind, case):
    make_ref, make_ours = PAIRS[kind]
    args, kwargs = FIT_CASES[case]()
    copies = [a.copy() for a in args] + [v.copy() for v in kwargs.values()]
    ref = _error(lambda: make_ref().fit(*args, **kwargs))
    ours = _error(lambda: make_ours().fit(*args, **kwargs))
    _same_error(ref, ours, case)
    for before, after in zip(copies, list(args) + list(kwargs.values())):
        np.testing.assert_array_equal(before, after)  # inputs untouched


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_negative_sample_weight_is_rejected_where_sklearn_fits():
    # The one deliberate difference: scikit-learn fits negative sample weights; with them the
    # objective need not be convex, nor bounded below, and a Newton solver has no answer to give.
    # sce raises the error scikit-learn's own weight check gives for negative values.
    sw = np.where(np.arange(40) == 2, -1.0, 1.0)
    for make_ref, make_ours in PAIRS.values():
        assert _error(lambda m=make_ref: m().fit(X, y, sample_weight=sw)) is None
        err = _error(lambda m=make_ours: m().fit(X, y, sample_weight=sw))
        assert isinstance(err, ValueError)
        assert str(err) == "Negative values in data passed to `sample_weight`."


PREDICT_CASES = {
    "nan": lambda: _with(X, 1, 1, np.nan),
    "wrong-features": lambda: X[:, :2],
    "3-d": lambda: X.reshape(40, 3, 1),
    "strings": lambda: np.array([["a", "b", "c"]] * 4),
    "empty": lambda: np.empty((0, 3)),
    "sparse-wrong-features": lambda: sp.csr_matrix(X[:, :2]),
}


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba", "score"])
@pytest.mark.parametrize("case", sorted(PREDICT_CASES))
@pytest.mark.parametrize("kind", sorted(PAIRS))
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_predict_errors_match_sklearn(kind, case, method):
    make_ref, make_ours = PAIRS[kind]
    ref_est, ours_est = make_ref().fit(X, y3), make_ours().fit(X, y3)
    Xp = PREDICT_CASES[case]()

    def call(est):
        f = getattr(est, method)
        return f(Xp, y3[: Xp.shape[0]]) if method == "score" else f(Xp)

    _same_error(_error(lambda: call(ref_est)), _error(lambda: call(ours_est)), case)


def test_unfitted_errors_match_sklearn():
    for make_ref, make_ours in PAIRS.values():
        for method in ("predict", "predict_proba"):
            ref = getattr(make_ref(), method)
            ours = getattr(make_ours(), method)
            _same_error(_error(lambda f=ref: f(X)), _error(lambda f=ours: f(X)), method)


@pytest.mark.parametrize("params", [{"C": -1.0}, {"C": "a"}, {"tol": -1.0}, {"max_iter": -1},
                                    {"class_weight": "sometimes"}, {"fit_intercept": "yes"}])
def test_invalid_logistic_parameters_match_sklearn(params):
    _same_error(_error(lambda: LogisticRegression(**params).fit(X, y)),
                _error(lambda: sce.LogisticClassifier(**params).fit(X, y)), params)


def test_class_weight_label_not_in_y_is_ignored_as_in_sklearn():
    cw = {0: 1.0, 1: 2.0, 7: 3.0}
    ref = LogisticRegression(class_weight=cw, tol=1e-10).fit(X, y)
    ours = sce.LogisticClassifier(class_weight=cw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-5)
