"""newton-cg's dominant-rows preconditioner (LogisticObjective.dominant_rows_preconditioner): the
rows of most curvature taken exactly (Woodbury), the diagonal of the rest; and CG from a start."""
import numpy as np
import pytest
import scipy.sparse as sp

from sce import _newton_cg
from sce._conjugate_gradients import LowRankPreconditioner, cg
from sce._logistic_blocks import RowBlock, block_dominant_rows, row_sq_norms
from sce._logistic_objective import LogisticObjective
from sce._solve import solve


def _text_like(n=600, d=3000, seed=0):
    """Sparse positive rows of varied length, labels from a sparse linear model: nearly separable."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(3, 60, n)
    rows = np.repeat(np.arange(n), lengths)
    cols = rng.zipf(1.3, lengths.sum()) % d
    X = sp.csr_matrix((rng.uniform(0.1, 1.0, lengths.sum()), (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    w = np.where(rng.random(d) < 0.05, rng.standard_normal(d) * 3, 0.0)
    y = (X @ w + 0.3 * rng.standard_normal(n) > np.median(X @ w)).astype(np.float64)
    return X, y


@pytest.mark.parametrize("sparse", [True, False])
def test_low_rank_preconditioner_is_the_inverse_of_diag_plus_ztz(sparse):
    rng = np.random.default_rng(1)
    base = rng.uniform(1e-3, 10.0, 40)
    Z = rng.standard_normal((7, 40)) * (rng.random((7, 40)) < 0.3)
    M = np.diag(base) + Z.T @ Z
    r = rng.standard_normal(40)
    pc = LowRankPreconditioner(base, sp.csr_matrix(Z) if sparse else Z)
    assert pc.ok
    np.testing.assert_allclose(pc(r), np.linalg.solve(M, r), rtol=1e-10)
    with np.errstate(invalid="ignore"):
        assert not LowRankPreconditioner(base, Z * np.inf).ok


def test_row_sq_norms_with_empty_rows():
    # empty rows first, inside and last; one large row before small ones (digits a running sum lost)
    X = sp.csr_matrix(np.array([[0, 0, 0], [1e8, 0, 0], [0, 0, 0], [3e-4, 0, 4e-4], [0, 0, 0]], np.float32))
    expected = (X.toarray().astype(np.float64) ** 2).sum(axis=1)
    np.testing.assert_allclose(row_sq_norms(X), expected, rtol=1e-15)
    assert np.array_equal(row_sq_norms(sp.csr_matrix((4, 3), dtype=np.float32)), np.zeros(4))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dominant_rows_are_those_of_most_curvature(fit_intercept):
    X, _ = _text_like(200, 500)
    X = X.astype(np.float32)
    rng = np.random.default_rng(2)
    curvature = (rng.random(200) * (rng.random(200) < 0.8)).astype(np.float32)  # some rows without
    block = RowBlock(X, np.zeros(200, np.float32), np.ones(200, np.float32))
    sq = row_sq_norms(X)
    np.testing.assert_allclose(sq, np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel(), rtol=1e-6)
    Z, share = block_dominant_rows(block, curvature, 30, fit_intercept, sq)
    Xt = X.toarray().astype(np.float64)
    if fit_intercept:
        Xt = np.column_stack([Xt, np.ones(200)])
    share_all = curvature * (Xt ** 2).sum(axis=1)
    chosen = np.sort(np.argsort(-share_all)[:30])
    expected = Xt[chosen] * np.sqrt(curvature[chosen].astype(np.float64))[:, None]
    assert Z.shape == expected.shape
    np.testing.assert_allclose(Z.toarray(), expected, rtol=1e-6)
    np.testing.assert_allclose(share, share_all[chosen].sum() / share_all.sum(), rtol=1e-6)
    # more rows asked for than have curvature: only those with some
    Z, share = block_dominant_rows(block, curvature, 500, fit_intercept, sq)
    assert Z.shape[0] == np.count_nonzero(curvature) and share == pytest.approx(1.0)
    # 5 rows hold less than 0.9 of the trace: no Z
    Z, share = block_dominant_rows(block, curvature, 5, fit_intercept, sq, min_share=0.9)
    assert Z is None and 0 < share < 0.9


def test_cg_from_a_start_solves_the_same_system():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((30, 30))
    H = A @ A.T + 0.1 * np.eye(30)
    g = rng.standard_normal(30)
    exact = -np.linalg.solve(H, g)
    p, steps, _ = cg(lambda v: H @ v, g, 1e-10, 200)
    status = {}
    q, more, _ = cg(lambda v: H @ v, g, 1e-10, 200, x0=p * 0.5 + exact * 0.5, status=status)
    assert status["solved"]
    np.testing.assert_allclose(q, exact, rtol=1e-7)
    q, more, _ = cg(lambda v: H @ v, g, 1e-8, 200, x0=exact, status=status)  # solved at the start
    assert status["solved"] and more == 1


def _objective(X, y, C):
    return LogisticObjective(X, y, np.ones(len(y)), C, True, 2, None)


def _counting(obj):
    calls = []
    hessp = obj.hessp

    def counted(curvature, v):
        calls.append(1)
        return hessp(curvature, v)
    obj.hessp = counted
    return calls


@pytest.mark.parametrize("C", [10.0, 1e4])
def test_newton_cg_with_dominant_rows_converges_with_fewer_products(C, monkeypatch):
    """Nearly separable sparse rows at large C: the fit reaches the optimum, and where the Jacobi
    solves were long the switch cuts the Hessian products."""
    X, y = _text_like()
    f_star = solve("lbfgs", _objective(X, y, C), np.zeros(X.shape[1] + 1), 1e-12, 20000).f
    runs = {}
    for switch in (30, 10 ** 9):  # the default, and never
        monkeypatch.setattr(_newton_cg, "_ROWS_MIN_CG", switch)
        monkeypatch.setattr(_newton_cg, "_ROWS_MIN_SHARE", 0.5 if switch == 30 else np.inf)
        obj = _objective(X, y, C)
        products = _counting(obj)
        res = solve("newton-cg", obj, np.zeros(obj.size), 1e-4, 100)
        assert res.converged
        assert (res.f - f_star) / abs(f_star) <= 1e-8
        runs[switch] = len(products)
    if C == 1e4:
        assert runs[30] < 0.7 * runs[10 ** 9]  # (measured: 217 against 449)
