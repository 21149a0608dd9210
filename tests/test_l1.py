"""L1 and elastic-net fits (proximal Newton) against scikit-learn's saga and liblinear run to tight
tolerances: the same objective value and the same non-zero pattern; the coordinate-descent kernel
against the optimality conditions of its subproblem."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from sce import LogisticClassifier, _core
from sce._logistic_objective import LogisticObjective
from sce._logistic_params import Penalty


def _objective(model, X, y, C, l1_ratio, n_classes, sample_weight=None):
    """F at the model's coefficients, evaluated in float64."""
    penalty = Penalty(C, 1 - l1_ratio, l1_ratio)
    sw = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    labels = y if n_classes > 2 else y == 1
    obj = LogisticObjective(X.astype(np.float64), labels, sw, C, True, n_classes, 1, penalty)
    coef = model.coef_.toarray() if sp.issparse(model.coef_) else model.coef_
    x = np.concatenate([np.asarray(coef, dtype=np.float64).ravel(), model.intercept_])
    return obj.loss_grad(x)[0] + obj.l1_weights @ np.abs(x)


def _problem(n_classes, sparse=False, seed=0):
    X, y = make_classification(600, 30, n_informative=8, n_classes=n_classes, random_state=seed)
    if sparse:
        X[np.abs(X) < 0.7] = 0.0
        X = sp.csr_matrix(X)
    return X, y


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5])
@pytest.mark.parametrize("sparse", [False, True])
def test_l1_and_elastic_net_match_saga(n_classes, l1_ratio, sparse):
    X, y = _problem(n_classes, sparse)
    C = 0.05
    sw = np.random.default_rng(0).random(X.shape[0]) + 0.5
    ours = LogisticClassifier(C=C, l1_ratio=l1_ratio, tol=1e-6).fit(X, y, sample_weight=sw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(C=C, l1_ratio=l1_ratio, solver="saga", tol=1e-12, max_iter=100000)
        ref.fit(X, y, sample_weight=sw)
    f_ours, f_ref = (_objective(m, X.toarray() if sparse else X, y, C, l1_ratio, n_classes, sw)
                     for m in (ours, ref))
    assert (f_ours - f_ref) / f_ref <= 1e-9
    np.testing.assert_array_equal(ours.coef_ != 0, np.abs(ref.coef_) > 1e-8)
    assert 0 < np.count_nonzero(ours.coef_) < ours.coef_.size  # a real selection happened
    assert ours.solver_ == "proximal-newton"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l1_default_fit_is_converged_and_keeps_the_dtype(dtype):
    X, y = _problem(2)
    m = LogisticClassifier(C=0.05, l1_ratio=1.0).fit(X.astype(dtype), y)
    tight = LogisticClassifier(C=0.05, l1_ratio=1.0, tol=1e-7).fit(X, y)
    assert m.coef_.dtype == dtype
    f, f_tight = (_objective(e, X, y, 0.05, 1.0, 2) for e in (m, tight))
    assert (f - f_tight) / f_tight <= (1e-6 if dtype == np.float32 else 1e-7)


@pytest.mark.parametrize("l1_ratio", [0.0, 1.0])
@pytest.mark.parametrize("intercept_scaling", [0.1, 1.0, 10.0])
def test_liblinear_penalizes_the_intercept_as_liblinear(l1_ratio, intercept_scaling):
    X, y = _problem(2, seed=1)
    params = dict(C=0.5, l1_ratio=l1_ratio, solver="liblinear", intercept_scaling=intercept_scaling)
    ours = LogisticClassifier(**params, tol=1e-7).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = LogisticRegression(**params, tol=1e-12, max_iter=100000).fit(X, y)
    np.testing.assert_allclose(ours.coef_, ref.coef_, atol=1e-6)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, atol=1e-6)


def test_l1_warm_start_and_sparsify():
    X, y = _problem(3)
    m = LogisticClassifier(C=0.05, l1_ratio=1.0, warm_start=True, tol=1e-7).fit(X, y)
    first = m.coef_.copy()
    m.sparsify()
    assert sp.issparse(m.coef_)
    np.testing.assert_array_equal(m.predict(X), LogisticClassifier(C=0.05, l1_ratio=1.0).fit(X, y).predict(X))
    m.fit(X, y)  # from the sparse coefficients of the last fit
    np.testing.assert_allclose(m.coef_, first, atol=1e-6)
    assert m.n_iter_[0] <= 2


@pytest.mark.parametrize("m", [1, 2, 7, 40])
def test_coordinate_descent_reaches_the_subproblem_optimum(m):
    rng = np.random.default_rng(m)
    A = rng.standard_normal((3 * m, m))
    H = A.T @ A + 1e-3 * np.eye(m)
    g = 5 * rng.standard_normal(m)
    x = rng.standard_normal(m) * (rng.random(m) < 0.5)
    w = np.full(m, 2.0)
    w[0] = 0.0  # an unpenalized coordinate (an intercept)
    z, Hz = np.zeros(m), np.zeros(m)
    _core.l1_quadratic_cd(H, g, x, w, z, Hz, 10000, 1e-30)
    np.testing.assert_allclose(Hz, H @ z, rtol=1e-10, atol=1e-10)
    grad, u = g + H @ z, x + z
    optimality = np.where(u != 0, grad + w * np.sign(u), np.maximum(np.abs(grad) - w, 0.0))
    assert np.abs(optimality).max() <= 1e-9 * max(1.0, np.abs(g).max())


def test_coordinate_descent_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        _core.l1_quadratic_cd(np.eye(3), np.zeros(3), np.zeros(2), np.zeros(3), np.zeros(3), np.zeros(3),
                              10, 0.0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("density, n_columns", [(0.2, 40), (0.9, 1200)])  # 0.9: rows beyond the gather buffer
@pytest.mark.parametrize("canonical", [True, False])
def test_gram_of_a_column_subset(dtype, index_dtype, density, n_columns, canonical):
    rng = np.random.default_rng(n_columns)
    X = sp.random(300, n_columns, density=density, format="csr", random_state=1, dtype=dtype)
    X.indices, X.indptr = X.indices.astype(index_dtype), X.indptr.astype(index_dtype)
    if not canonical:  # reversed rows: the kernel must not take the sorted path
        for i in range(X.shape[0]):
            lo, hi = X.indptr[i], X.indptr[i + 1]
            X.indices[lo:hi], X.data[lo:hi] = X.indices[lo:hi][::-1].copy(), X.data[lo:hi][::-1].copy()
        X.has_sorted_indices = False
    w = rng.random(300).astype(dtype)
    columns = np.sort(rng.choice(n_columns, min(n_columns, 700), replace=False))
    Xd = X.toarray().astype(np.float64)[:, columns]
    for fit_intercept in (True, False):
        Xt = np.column_stack([Xd, np.ones(300)]) if fit_intercept else Xd
        ref = Xt.T @ (Xt * w.astype(np.float64)[:, None])
        G = np.zeros((len(columns) + fit_intercept,) * 2)
        _core.logistic_gram(X, w, fit_intercept, G, 2, columns=columns)
        rtol = 1e-12 if dtype == np.float64 else 1e-5
        np.testing.assert_allclose(G, ref, rtol=rtol, atol=rtol * np.abs(ref).max())
    with pytest.raises(ValueError):
        _core.logistic_gram(X, w, False, G, 1, columns=columns[::-1])
