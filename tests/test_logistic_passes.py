"""The logistic-regression passes of the C kernels, called through the bridge (sce._core.logistic_*):
bitwise the same for every thread count, equal to float64 numpy, and the bridge's checks (also those
of the other kernels' bridges).

The sizes are large enough for the row runner to split every pass into several partitions (it adds
their sums in a fixed order, whatever the number of threads that computed them)."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special

from sce import _core

N, D = 20_000, 24  # dense: 16 partitions for most passes; CSR (~7 non-zeros a row): 2 to 16
LAYOUTS = ["dense", "csr-int32", "csr-int64"]
THREADS = (1, 2, 3)  # 3: more threads than this machine's cores, and not a divisor of the partitions


def _matrix(layout, dtype, n=N, d=D, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(dtype)
    if layout == "dense":
        return X
    X[rng.random((n, d)) < 0.7] = 0
    M = sp.csr_matrix(X)
    itype = np.int32 if layout == "csr-int32" else np.int64
    return sp.csr_matrix((M.data, M.indices.astype(itype), M.indptr.astype(itype)), shape=M.shape)


def _dense64(X):
    return X.toarray().astype(np.float64) if sp.issparse(X) else X.astype(np.float64)


def _problem(layout, dtype, K, seed=0):
    X = _matrix(layout, dtype, seed=seed)
    rng = np.random.default_rng(seed + 1)
    n, d = X.shape
    targets = (rng.random(n) < 0.4).astype(dtype) if K == 1 else rng.integers(0, K, n)
    sw = rng.uniform(0, 2, n).astype(dtype)
    W = (0.3 * rng.standard_normal((K, d))).astype(dtype)
    b = (0.3 * rng.standard_normal(K)).astype(dtype)
    V = rng.standard_normal((K, d)).astype(dtype)
    vb = rng.standard_normal(K).astype(dtype)
    return X, targets, sw, W, b, V, vb


def _eval(X, targets, sw, W, b, nt):
    K, d = W.shape
    grad = np.full(K * (d + 1), np.nan)
    curvature = np.full((X.shape[0],) if K == 1 else (X.shape[0], K), np.nan, dtype=W.dtype)
    loss = _core.logistic_eval(X, targets, sw, W, b, grad, curvature, nt)
    return loss, grad, curvature


def _hessp(X, sw, curvature, V, vb, nt):
    out = np.full(V.shape[0] * (V.shape[1] + 1), np.nan)
    _core.logistic_hessp(X, sw, curvature, V, vb, out, nt)
    return out


def _gram(X, weights, fit_intercept, nt):
    dd = X.shape[1] + fit_intercept
    out = np.full((dd, dd), np.nan)
    _core.logistic_gram(X, weights, fit_intercept, out, nt)
    return out


def _sq_colsums(X, C, nt):
    out = np.full(C.shape[1] * (X.shape[1] + 1), np.nan)
    _core.logistic_sq_colsums(X, C, out, nt)
    return out


def _reference_eval(X, targets, sw, W, b):
    X, sw, W, b = _dense64(X), sw.astype(np.float64), W.astype(np.float64), b.astype(np.float64)
    Z = X @ W.T + b
    if W.shape[0] == 1:
        z, y = Z[:, 0], targets.astype(np.float64)
        p = scipy.special.expit(z)
        loss = np.sum(sw * (np.logaddexp(0, z) - y * z))
        R = (sw * (p - y))[:, None]
        curvature = sw * p * (1 - p)
    else:
        P = scipy.special.softmax(Z, axis=1)
        loss = np.sum(sw * (scipy.special.logsumexp(Z, axis=1) - Z[np.arange(len(Z)), targets]))
        R = sw[:, None] * (P - np.eye(W.shape[0])[targets])
        curvature = P
    return loss, np.concatenate([(R.T @ X).ravel(), R.sum(axis=0)]), curvature


def _reference_hessp(X, sw, curvature, V, vb):
    X, V, vb = _dense64(X), V.astype(np.float64), vb.astype(np.float64)
    T = X @ V.T + vb
    c = curvature.astype(np.float64)
    if V.shape[0] == 1:
        U = (c * T[:, 0])[:, None]
    else:
        U = sw.astype(np.float64)[:, None] * c * (T - np.sum(c * T, axis=1, keepdims=True))
    return np.concatenate([(U.T @ X).ravel(), U.sum(axis=0)])


def _close(got, ref, rtol):
    np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * max(1.0, float(np.max(np.abs(ref), initial=0.0))))


def _assert_same_for_every_thread_count(run):
    """run(n_threads) -> tuple of results; all bitwise equal to those of one thread."""
    first = run(1)
    for nt in THREADS[1:]:
        for a, b in zip(first, run(nt)):
            np.testing.assert_array_equal(a, b, err_msg=f"n_threads={nt}")
    return first


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [1, 3])
def test_eval_and_hessp(layout, dtype, K):
    X, targets, sw, W, b, V, vb = _problem(layout, dtype, K)
    loss, grad, curvature = _assert_same_for_every_thread_count(
        lambda nt: _eval(X, targets, sw, W, b, nt))
    hv, = _assert_same_for_every_thread_count(lambda nt: (_hessp(X, sw, curvature, V, vb, nt),))
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    ref_loss, ref_grad, ref_curvature = _reference_eval(X, targets, sw, W, b)
    _close(loss, ref_loss, rtol)
    _close(grad, ref_grad, rtol)
    _close(curvature, ref_curvature, rtol)
    _close(hv, _reference_hessp(X, sw, curvature, V, vb), rtol)
    if K == 1:  # sw is not read: the curvature holds it
        np.testing.assert_array_equal(_hessp(X, None, curvature, V, vb, 2), hv)


@pytest.mark.parametrize("layout", LAYOUTS + ["csr-unsorted"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_gram(layout, dtype, fit_intercept):
    X = _matrix("csr-int32" if layout == "csr-unsorted" else layout, dtype)
    if layout == "csr-unsorted":  # each row's entries reversed: the kernel's path over all pairs
        X = X.copy()
        for i in range(X.shape[0]):
            s, e = X.indptr[i], X.indptr[i + 1]
            X.indices[s:e] = X.indices[s:e][::-1].copy()
            X.data[s:e] = X.data[s:e][::-1].copy()
        X = sp.csr_matrix((X.data, X.indices, X.indptr), shape=X.shape)
        assert not X.has_sorted_indices
    weights = np.random.default_rng(3).uniform(0, 1, X.shape[0]).astype(dtype)
    weights[::7] = 0
    G, = _assert_same_for_every_thread_count(lambda nt: (_gram(X, weights, fit_intercept, nt),))
    Xt = _dense64(X)
    if fit_intercept:
        Xt = np.column_stack([Xt, np.ones(len(Xt))])
    _close(G, Xt.T @ (Xt * weights.astype(np.float64)[:, None]), 1e-12)
    np.testing.assert_array_equal(G, G.T)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [1, 3])
def test_sq_colsums(layout, dtype, K):
    X = _matrix(layout, dtype)
    C = np.random.default_rng(4).uniform(0, 1, (X.shape[0], K))
    out, = _assert_same_for_every_thread_count(lambda nt: (_sq_colsums(X, C, nt),))
    X64 = _dense64(X)
    _close(out, np.concatenate([(C.T @ X64 ** 2).ravel(), C.sum(axis=0)]), 1e-12)


@pytest.mark.parametrize("n, d", [(0, 3), (1, 1), (5, 0), (7, 2)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_small_and_empty_blocks(n, d, layout):
    """Blocks of no rows, no columns or a few rows: the sums of numpy (zero for no rows)."""
    X = _matrix(layout, np.float64, n=n, d=d, seed=n + d)
    rng = np.random.default_rng(n + d)
    sw = rng.uniform(0, 2, n)
    for K in (1, 2):
        targets = (rng.random(n) < 0.5).astype(np.float64) if K == 1 else rng.integers(0, K, n)
        W, V = rng.standard_normal((K, d)), rng.standard_normal((K, d))
        b, vb = rng.standard_normal(K), rng.standard_normal(K)
        loss, grad, curvature = _eval(X, targets, sw, W, b, 2)
        ref_loss, ref_grad, ref_curvature = _reference_eval(X, targets, sw, W, b)
        _close(loss, ref_loss, 1e-12)
        _close(grad, ref_grad, 1e-12)
        _close(curvature, ref_curvature, 1e-12)
        _close(_hessp(X, sw, curvature, V, vb, 2), _reference_hessp(X, sw, curvature, V, vb), 1e-12)
    Xt = np.column_stack([_dense64(X), np.ones(n)])
    _close(_gram(X, sw, True, 2), Xt.T @ (Xt * sw[:, None]), 1e-12)
    C = np.ones((n, 2))
    _close(_sq_colsums(X, C, 2), np.concatenate([(C.T @ _dense64(X) ** 2).ravel(), C.sum(axis=0)]),
           1e-12)


def test_label_outside_the_classes_makes_the_loss_nan():
    X, targets, sw, W, b, _, _ = _problem("dense", np.float64, 3)
    targets = targets.copy()
    targets[5] = 3
    assert np.isnan(_eval(X, targets, sw, W, b, 2)[0])


# ---- the bridge's checks ---------------------------------------------------------------------------

def _eval_args(K=1, layout="dense", dtype=np.float64, n=10, d=3):
    X = _matrix(layout, dtype, n=n, d=d)
    rng = np.random.default_rng(0)
    return dict(X=X, targets=np.zeros(n, dtype=dtype) if K == 1 else rng.integers(0, K, n),
                sw=np.ones(n, dtype=dtype), W=np.zeros((K, d), dtype=dtype), b=np.zeros(K, dtype=dtype),
                grad=np.zeros(K * (d + 1)), curvature=np.zeros((n,) if K == 1 else (n, K), dtype=dtype))


def _call_eval(args):
    return _core.logistic_eval(args["X"], args["targets"], args["sw"], args["W"], args["b"],
                               args["grad"], args["curvature"], 1)


def _readonly(a):
    a = a.copy()
    a.flags.writeable = False
    return a


def _with_index_types(X, indices_type, indptr_type):
    M = sp.csr_matrix(X)
    M.indices, M.indptr = M.indices.astype(indices_type), M.indptr.astype(indptr_type)
    return M


@pytest.mark.parametrize("K", [1, 3])
@pytest.mark.parametrize("name, bad, error", [
    ("X", lambda a: a["X"].tolist(), TypeError),
    ("X", lambda a: a["X"].astype(np.int64), TypeError),
    ("X", lambda a: a["X"].astype(np.float16), TypeError),
    ("X", lambda a: a["X"][:, 0].copy(), ValueError),
    ("X", lambda a: np.asfortranarray(a["X"]), ValueError),
    ("X", lambda a: sp.csc_matrix(a["X"]), TypeError),
    ("X", lambda a: sp.coo_matrix(a["X"]), TypeError),
    ("X", lambda a: _with_index_types(a["X"], np.int32, np.int64), TypeError),
    ("X", lambda a: _with_index_types(a["X"], np.int16, np.int16), TypeError),
    ("X", lambda a: sp.csr_matrix(a["X"].astype(np.complex128)), TypeError),
    ("targets", lambda a: a["targets"][:-1], ValueError),
    ("targets", lambda a: a["targets"].astype(np.int32), TypeError),
    ("sw", lambda a: a["sw"].astype(np.float32), TypeError),
    ("sw", lambda a: np.ones(11), ValueError),
    ("sw", lambda a: None, TypeError),
    ("W", lambda a: a["W"][:, :-1].copy(), ValueError),
    ("W", lambda a: np.zeros((a["W"].shape[0], 6))[:, ::2], ValueError),
    ("W", lambda a: a["W"].ravel(), ValueError),
    ("W", lambda a: np.zeros((0, 3)), ValueError),
    ("b", lambda a: np.zeros(a["b"].size + 1), ValueError),
    ("grad", lambda a: a["grad"][:-1], ValueError),
    ("grad", lambda a: a["grad"].astype(np.float32), TypeError),
    ("grad", lambda a: _readonly(a["grad"]), ValueError),
    ("curvature", lambda a: a["curvature"].ravel()[:-1], ValueError),
    ("curvature", lambda a: _readonly(a["curvature"]), ValueError),
    ("curvature", lambda a: np.zeros((10, 3)) if a["W"].shape[0] == 1 else np.zeros(10), ValueError),
])
def test_eval_rejects(K, name, bad, error):
    args = _eval_args(K)
    args[name] = bad(args)
    with pytest.raises(error):
        _call_eval(args)


def test_eval_rejects_float32_targets_for_float64_x():
    args = _eval_args(1)
    args["targets"] = args["targets"].astype(np.float32)
    with pytest.raises(TypeError, match="targets"):
        _call_eval(args)


def test_csr_whose_indptr_does_not_fit_is_rejected():
    args = _eval_args(1, layout="csr-int32")
    M = args["X"]
    args["X"] = sp.csr_matrix((M.data, M.indices, M.indptr), shape=M.shape)
    args["X"].indptr = M.indptr[:-1].copy()  # one row short
    with pytest.raises(ValueError, match="indptr"):
        _call_eval(args)
    args["X"] = M.copy()
    args["X"].indptr[-1] += 1  # past the index array
    with pytest.raises(ValueError, match="indptr"):
        _call_eval(args)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_hessp_gram_sq_colsums_reject(layout):
    a = _eval_args(3, layout=layout)
    X, sw, P = a["X"], a["sw"], np.full((10, 3), 1 / 3)
    V, vb, out = np.zeros((3, 3)), np.zeros(3), np.zeros(12)
    _core.logistic_hessp(X, sw, P, V, vb, out, 1)  # the arguments below differ in one thing each
    for args, error in [
        ((X, None, P, V, vb, out), TypeError),  # sw is needed for K >= 2
        ((X, sw, P[:, :2].copy(), V, vb, out), ValueError),
        ((X, sw, P, V[:, :2].copy(), vb, out), ValueError),
        ((X, sw, P, V, vb[:2], out), ValueError),
        ((X, sw, P, V, vb, out[:-1]), ValueError),
        ((X, sw, P.astype(np.float32), V, vb, out), TypeError),
    ]:
        with pytest.raises(error):
            _core.logistic_hessp(*args, 1)
    G = np.zeros((4, 4))
    _core.logistic_gram(X, sw, True, G, 1)
    for args, error in [
        ((X, sw, False, G), ValueError),  # (3, 3) without an intercept
        ((X, sw[:-1], True, G), ValueError),
        ((X, sw.astype(np.float32), True, G), TypeError),
        ((X, sw, True, G.astype(np.float32)), TypeError),
        ((X, sw, True, _readonly(G)), ValueError),
    ]:
        with pytest.raises(error):
            _core.logistic_gram(*args, 1)
    C = np.ones((10, 2))
    _core.logistic_sq_colsums(X, C, np.zeros(8), 1)
    for args, error in [
        ((X, C, np.zeros(9)), ValueError),
        ((X, C[:-1], np.zeros(8)), ValueError),
        ((X, C.astype(np.float32), np.zeros(8)), TypeError),
        ((X, np.ones((10, 0)), np.zeros(0)), ValueError),
        ((X, np.asfortranarray(C), np.zeros(8)), ValueError),
    ]:
        with pytest.raises(error):
            _core.logistic_sq_colsums(*args, 1)


def test_other_kernels_reject_mismatched_lengths():
    """The elementwise, fused-loss and MLP bridges check the lengths they index with too."""
    a, b, i = np.zeros(8), np.zeros(7), np.zeros(7, dtype=np.int64)
    Z, Z2 = np.zeros((8, 3)), np.zeros((7, 3))
    calls = [
        lambda: _core.elementwise(_core.MAPS["sigmoid"], a, b, 1),
        lambda: _core.elementwise(7, a, a, 1),
        lambda: _core.bce_logits(a, b, None, 1.0, None, 1.0, 1.0, None, None, 1),
        lambda: _core.bce_logits(a, a, b, 1.0, None, 1.0, 1.0, None, None, 1),
        lambda: _core.bce_logits(a, a, None, 1.0, None, 1.0, 1.0, None, b, 1),
        lambda: _core.softmax_xent(Z, i, None, None, 1.0, None, None, 1),
        lambda: _core.softmax_xent(Z, None, Z2, None, 1.0, None, None, 1),
        lambda: _core.softmax_xent(Z, np.zeros(8, dtype=np.int64), None, None, 1.0, None, Z2, 1),
        lambda: _core.softmax_xent(Z, None, None, None, 1.0, None, None, 1),
        lambda: _core.bias_layer(Z, b, True, 1),
        lambda: _core.sigmoid_backprop(Z, Z2, np.zeros(3), 1),
        lambda: _core.sigmoid_backprop(Z, None, np.zeros(2), 1),
        lambda: _core.adam_step(a, b, a.copy(), a.copy(), 0, 0.0, 0.1, 0.9, 0.999, 1e-8),
        lambda: _core.adam_step(a, a, a.copy(), a.copy(), 9, 0.0, 0.1, 0.9, 0.999, 1e-8),
        lambda: _core.sgd_step(a, a, b.copy(), 0, 0.0, 0.1, 0.9, False),
    ]
    for k, call in enumerate(calls):
        with pytest.raises(ValueError):
            call()
            pytest.fail(f"call {k} was accepted")
