"""Malformed and non-canonical sparse input (issue #13, point 1): scipy's ValueError for a broken
structure, never a read out of bounds; the result of the canonical matrix for any valid one."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression

from sce import LogisticClassifier, SigmoidMLPClassifier


def _problem(n=60, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=0.6, format="csr", random_state=seed)
    X.sort_indices()
    y = rng.integers(0, 2, n)
    y[:2] = [0, 1]
    return X, y


def _copy_with(X, **arrays):
    """A CSR matrix sharing X's shape whose arrays are copies of X's, then overwritten (as a user
    writing into a matrix after scipy built it)."""
    M = sp.csr_matrix((X.data.copy(), X.indices.copy(), X.indptr.copy()), shape=X.shape)
    for name, value in arrays.items():
        setattr(M, name, value)
    return M


def _broken(X, kind):
    if kind == "index_too_large":
        M = _copy_with(X)
        M.indices[3] = X.shape[1] + 2
        return M, "indices must be < 5"
    if kind == "index_negative":
        M = _copy_with(X)
        M.indices[3] = -1
        return M, "indices must be >= 0"
    if kind == "indptr_decreasing":
        M = _copy_with(X)
        M.indptr[5] = M.indptr[6] + 1
        return M, "non-decreasing"
    if kind == "indptr_not_from_0":
        M = _copy_with(X)
        M.indptr[0] = 1
        return M, "should start with 0"
    if kind == "indptr_past_end":
        M = _copy_with(X)
        M.indptr[-1] = M.nnz + 7
        return M, "Last value of index pointer"
    if kind == "data_shorter":
        return _copy_with(X, data=X.data[:-1].copy()), "same size"
    if kind == "indices_shorter":
        return _copy_with(X, indices=X.indices[:-1].copy()), "same size"
    raise AssertionError(kind)


BROKEN = ["index_too_large", "index_negative", "indptr_decreasing", "indptr_not_from_0",
          "indptr_past_end", "data_shorter", "indices_shorter"]


@pytest.mark.parametrize("kind", BROKEN)
@pytest.mark.parametrize("multinomial", [False, True])
def test_fit_malformed_csr_raises_scipy_error(kind, multinomial):
    X, y = _problem()
    if multinomial:
        y = np.arange(X.shape[0]) % 3
    M, message = _broken(X, kind)
    with pytest.raises(ValueError, match=message):
        LogisticClassifier().fit(M, y)


@pytest.mark.parametrize("kind", ["index_too_large", "index_negative", "indptr_decreasing",
                                  "indptr_past_end"])
def test_predict_malformed_csr_raises(kind):
    X, y = _problem()
    clf = LogisticClassifier().fit(X, y)
    M, message = _broken(X, kind)
    for method in (clf.decision_function, clf.predict, clf.predict_proba):
        with pytest.raises(ValueError, match=message):
            method(M)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("kind", ["index_too_large", "index_negative"])
def test_mlp_malformed_csr_raises(kind):
    X, y = _problem()
    M, message = _broken(X, kind)
    with pytest.raises(ValueError, match=message):
        SigmoidMLPClassifier(hidden_layer_sizes=(3,), max_iter=5).fit(M, y)
    mlp = SigmoidMLPClassifier(hidden_layer_sizes=(3,), solver="lbfgs", max_iter=5).fit(X, y)
    with pytest.raises(ValueError, match=message):
        mlp.predict_proba(M)


def test_csc_and_coo_with_out_of_range_indices_raise():
    X, y = _problem()
    C = X.tocsc()
    C.indices[2] = X.shape[0] + 5  # a row index of the CSC matrix
    with pytest.raises(ValueError, match="indices must be <"):
        LogisticClassifier().fit(C, y)
    Q = X.tocoo()
    Q.col[4] = X.shape[1]
    with pytest.raises(ValueError, match="column index exceeds"):
        LogisticClassifier().fit(Q, y)


def _duplicated_column0(n=400, d=5, seed=0):
    """The issue's example: column 0 stored as two entries per row, (x + 10) and -10."""
    rng = np.random.default_rng(seed)
    D = rng.normal(size=(n, d))
    y = (D @ rng.normal(size=d) + rng.normal(size=n) > 0).astype(int)
    rows, cols, vals = [], [], []
    for i in range(n):
        rows += [i, i]
        cols += [0, 0]
        vals += [D[i, 0] + 10.0, -10.0]
        for j in range(1, d):
            rows.append(i)
            cols.append(j)
            vals.append(D[i, j])
    order = np.lexsort((cols, rows))
    rows, cols, vals = np.array(rows)[order], np.array(cols)[order], np.array(vals)[order]
    indptr = np.searchsorted(rows, np.arange(n + 1)).astype(np.int32)
    X = sp.csr_matrix((vals, cols.astype(np.int32), indptr), shape=(n, d))
    return X, D, y


@pytest.mark.parametrize("solver", ["auto", "newton-cholesky", "newton-cg", "lbfgs"])
def test_duplicate_entries_are_summed(solver):
    X, D, y = _duplicated_column0()
    before = (X.data.copy(), X.indices.copy(), X.indptr.copy())
    assert not X.has_canonical_format
    ref = LogisticClassifier(solver=solver, tol=1e-6).fit(D, y)
    got = LogisticClassifier(solver=solver, tol=1e-6).fit(X, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got.intercept_, ref.intercept_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got.predict_proba(X), ref.predict_proba(D), atol=1e-8)
    # the caller's matrix is left as it was
    for a, b in zip(before, (X.data, X.indices, X.indptr)):
        np.testing.assert_array_equal(a, b)
    assert X.nnz == 2 * X.shape[0] + 4 * X.shape[0]
    # and the fit is scikit-learn's
    sk = LogisticRegression(tol=1e-10, max_iter=1000).fit(X, y)
    np.testing.assert_allclose(got.predict_proba(X), sk.predict_proba(X), atol=1e-6)


def _variants(X):
    """The same matrix in other valid forms scikit-learn accepts."""
    out = {}
    M = _copy_with(X, indices=X.indices.astype(np.int64), indptr=X.indptr.astype(np.int64))
    out["int64 indices"] = M
    out["int64 indices, int32 indptr"] = _copy_with(X, indices=X.indices.astype(np.int64))
    out["int32 indices, int64 indptr"] = _copy_with(X, indptr=X.indptr.astype(np.int64))
    M = _copy_with(X)
    for i in range(X.shape[0]):  # every row's entries reversed, the sorted flag still claiming sorted
        s, e = M.indptr[i], M.indptr[i + 1]
        M.indices[s:e] = M.indices[s:e][::-1].copy()
        M.data[s:e] = M.data[s:e][::-1].copy()
    out["unsorted rows"] = M
    Z = X.tolil()
    Z[0, 0] = 0.0
    Z = Z.tocsr()
    coo = X.tocoo()
    out["explicit zeros"] = sp.csr_matrix(
        (np.r_[coo.data, 0.0, 0.0], (np.r_[coo.row, 1, 2], np.r_[coo.col, 0, 0])), shape=X.shape)
    out["trailing storage past indptr[-1]"] = _copy_with(
        X, data=np.r_[X.data, 3.0, 7.0], indices=np.r_[X.indices, 99, -3].astype(np.int32))
    out["csc"] = X.tocsc()
    out["coo"] = X.tocoo()
    out["dia"] = X.todia()
    out["lil"] = X.tolil()
    out["csr_array"] = sp.csr_array(X)
    out["float32 data"] = X.astype(np.float32)
    return out


@pytest.mark.parametrize("multinomial", [False, True])
def test_valid_sparse_variants_fit_as_canonical_csr(multinomial):
    X, y = _problem(n=80)
    if multinomial:
        y = np.arange(X.shape[0]) % 3
    ref = LogisticClassifier(tol=1e-6).fit(X, y)
    for name, M in _variants(X).items():
        before = None if not sp.issparse(M) or M.format != "csr" else M.indices.copy()
        got = LogisticClassifier(tol=1e-6).fit(M, y)
        tol = 1e-4 if name == "float32 data" else 1e-6  # fits to tol=1e-6: a relative gap of 1e-12
        np.testing.assert_allclose(got.coef_, ref.coef_, rtol=tol, atol=tol, err_msg=name)
        np.testing.assert_allclose(got.predict_proba(M), ref.predict_proba(X), atol=tol,
                                   err_msg=name)
        if before is not None:
            np.testing.assert_array_equal(M.indices, before, err_msg=name)


def test_stale_sorted_flag_does_not_mislead_the_gram_kernel():
    """A matrix scipy has marked sorted, whose rows the user then reversed in place."""
    X, y = _problem(n=200, d=6)
    M = _copy_with(X)
    assert M.has_sorted_indices  # computed, and cached by scipy
    for i in range(M.shape[0]):
        s, e = M.indptr[i], M.indptr[i + 1]
        M.indices[s:e] = M.indices[s:e][::-1].copy()
        M.data[s:e] = M.data[s:e][::-1].copy()
    ref = LogisticClassifier(solver="newton-cholesky", tol=1e-6).fit(X, y)
    got = LogisticClassifier(solver="newton-cholesky", tol=1e-6).fit(M, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-8, atol=1e-10)


def test_csr_check_canonical_flag_matches_a_row_by_row_reference():
    """The C check's one pass: canonical exactly when every row's indices strictly increase
    (random rows, sorted or not, with and without repeats, empty rows included)."""
    from sce import _core
    rng = np.random.default_rng(0)
    for _ in range(2000):
        n, d = int(rng.integers(1, 8)), int(rng.integers(1, 6))
        M = sp.random(n, d, density=rng.random(), format="csr",
                      random_state=int(rng.integers(1 << 30)))
        indices, indptr = M.indices, M.indptr
        if rng.random() < 0.5 and len(indices):
            indices = rng.integers(0, d, len(indices)).astype(np.int32)
        truth = all(np.all(np.diff(indices[indptr[i]:indptr[i + 1]]) > 0) for i in range(n))
        for itype in (np.int32, np.int64):
            code, canonical = _core.csr_check(indices.astype(itype), indptr.astype(itype), d)
            assert code == 0 and canonical == truth
