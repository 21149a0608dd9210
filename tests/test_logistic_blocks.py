"""The per-block evaluations of sce._logistic_objective: summed over any split of the rows they give the
whole data's loss, gradient, curvature, Hessian products, Hessian and its diagonal; nothing is kept
between calls."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification

from sce import _logistic_blocks as blocks
from sce._logistic_objective import LogisticObjective


def _data(n_classes, sparse, dtype=np.float64, n=1500, d=13, seed=0):
    X, y = make_classification(n, d, n_informative=6, n_classes=n_classes, random_state=seed)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < 0.6] = 0.0
    X = X.astype(dtype)
    sw = (rng.random(n) + 0.5).astype(dtype)
    targets = y if n_classes > 2 else (y == 1)
    K = n_classes if n_classes > 2 else 1
    W = (0.4 * rng.standard_normal((K, d))).astype(dtype)
    b = (0.2 * rng.standard_normal(K)).astype(dtype)
    V = rng.standard_normal((K, d)).astype(dtype)
    vb = rng.standard_normal(K).astype(dtype)
    return (sp.csr_matrix(X) if sparse else X), targets, sw, W, b, V, vb


def _splits(n, rng):
    """Row boundaries of a few splits: halves, uneven pieces, single rows at the ends, and an
    empty block."""
    cuts = sorted(set(rng.integers(1, n, 5).tolist()))
    return [[0, n // 2, n], [0, *cuts, n], [0, 1, n - 1, n], [0, 0, 7, n]]


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_blocks_sum_to_the_whole(sparse, n_classes, n_threads):
    X, targets, sw, W, b, V, vb = _data(n_classes, sparse)
    n = X.shape[0]
    whole = blocks.make_block(X, targets, sw, n_classes)
    loss, grad, curvature = blocks.block_evaluate(whole, W, b, n_threads)
    hv = blocks.block_hessp(whole, curvature, V, vb, n_threads)
    H = blocks.block_hess(whole, curvature, True, n_threads)
    diag = blocks.block_hess_diag(whole, curvature, n_threads)
    for bounds in _splits(n, np.random.default_rng(n_classes)):
        parts = [blocks.make_block(X[a:c], targets[a:c], sw[a:c], n_classes)
                 for a, c in zip(bounds[:-1], bounds[1:])]
        evaluations = [blocks.block_evaluate(p, W, b, n_threads) for p in parts]
        np.testing.assert_allclose(sum(e[0] for e in evaluations), loss, rtol=1e-12)
        np.testing.assert_allclose(sum(e[1] for e in evaluations), grad, rtol=1e-12,
                                   atol=1e-12 * np.abs(grad).max())
        np.testing.assert_array_equal(np.concatenate([e[2] for e in evaluations]), curvature)
        for name, whole_value, part_value in (
                ("hessp", hv, lambda p, c: blocks.block_hessp(p, c, V, vb, n_threads)),
                ("hess", H, lambda p, c: blocks.block_hess(p, c, True, n_threads)),
                ("hess_diag", diag, lambda p, c: blocks.block_hess_diag(p, c, n_threads))):
            total = sum(part_value(p, e[2]) for p, e in zip(parts, evaluations))
            np.testing.assert_allclose(total, whole_value, rtol=1e-12,
                                       atol=1e-12 * np.abs(whole_value).max(), err_msg=name)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_blocks_against_numpy(sparse, n_classes):
    """One block's sums against a float64 numpy evaluation of the formulas."""
    X, targets, sw, W, b, V, vb = _data(n_classes, sparse, n=300)
    block = blocks.make_block(X, targets, sw, n_classes)
    loss, grad, curvature = blocks.block_evaluate(block, W, b)
    Xd = X.toarray() if sparse else X
    Xt = np.column_stack([Xd, np.ones(len(Xd))])
    Wt, Vt = np.column_stack([W, b]), np.column_stack([V, vb])
    Z, T = Xt @ Wt.T, Xt @ Vt.T
    if n_classes > 2:
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        Y = np.eye(n_classes)[targets]
        ref_loss = np.sum(sw * -np.log(np.sum(P * Y, axis=1)))
        R = sw[:, None] * (P - Y)
        U = sw[:, None] * P * (T - np.sum(P * T, axis=1, keepdims=True))
        np.testing.assert_allclose(curvature, P, rtol=1e-13, atol=1e-15)
    else:
        p = 1 / (1 + np.exp(-Z[:, 0]))
        ref_loss = np.sum(sw * (np.logaddexp(0, Z[:, 0]) - targets * Z[:, 0]))
        R = (sw * (p - targets))[:, None]
        U = (sw * p * (1 - p) * T[:, 0])[:, None]
        np.testing.assert_allclose(curvature, sw * p * (1 - p), rtol=1e-12)
    as_flat = lambda G: np.concatenate([G[:, :-1].ravel(), G[:, -1]])  # noqa: E731
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, as_flat(R.T @ Xt), rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(blocks.block_hessp(block, curvature, V, vb), as_flat(U.T @ Xt), rtol=1e-11,
                               atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_evaluate_into_an_old_curvature(sparse, n_classes):
    """An earlier evaluation's curvature array, given as ``curvature``, is written over: the same
    loss, gradient and curvature bits as a fresh evaluation, in that array."""
    X, targets, sw, W, b, V, vb = _data(n_classes, sparse, n=300)
    block = blocks.make_block(X, targets, sw, n_classes)
    fresh = blocks.block_evaluate(block, W, b)
    old = blocks.block_evaluate(block, 2 * W, -b)[2]
    reused = blocks.block_evaluate(block, W, b, curvature=old)
    assert reused[2] is old
    assert reused[0] == fresh[0]
    np.testing.assert_array_equal(reused[1], fresh[1])
    np.testing.assert_array_equal(reused[2], fresh[2])


def test_objective_holds_no_curvature_state():
    """Hessian products at two points evaluated in either order are the products at those points:
    the curvature is an argument, not what the last evaluation left behind."""
    X, targets, sw, *_ = _data(3, False)
    obj = LogisticObjective(X, targets, sw, 0.5, True, 3, 2)
    rng = np.random.default_rng(1)
    x1, x2, v = (rng.standard_normal(obj.size) for _ in range(3))
    c1 = obj.evaluate(x1)[2]
    c2 = obj.evaluate(x2)[2]
    hv1, hv2 = obj.hessp(c1, v), obj.hessp(c2, v)
    fresh = LogisticObjective(X, targets, sw, 0.5, True, 3, 2)
    np.testing.assert_array_equal(hv1, fresh.hessp(fresh.evaluate(x1)[2], v))
    np.testing.assert_array_equal(hv2, fresh.hessp(fresh.evaluate(x2)[2], v))
    assert not np.allclose(hv1, hv2)


@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky", "lbfgs"])
def test_no_pass_restores_state(solver):
    """A warm-started fit evaluates its start, the zero vector (the gradient reference) and one
    point per line-search trial; no pass goes back to an earlier point."""
    from sce._solve import solve
    X, targets, sw, *_ = _data(2, False)
    obj = LogisticObjective(X, targets, sw, 1.0, True, 2, 1)
    seen = []
    original = obj.evaluate

    def evaluate(x):
        seen.append(x.copy())
        return original(x)
    obj.evaluate = evaluate
    x0 = np.full(obj.size, 0.01)
    res = solve(solver, obj, x0, 1e-6, 100)
    assert res.converged
    if solver != "lbfgs":  # scipy's L-BFGS-B may evaluate a point twice
        assert not any(np.array_equal(a, c) for i, a in enumerate(seen) for c in seen[:i])
