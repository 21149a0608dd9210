"""Memory behaviour: kernels on any length / stride / alignment, no copies of X in fit, no leaks,
bit-identical pickle round trips.

The kernels are fuzzed (hypothesis) on the lengths where vector loops and their remainders meet
(0, 1, SIMD widths +/- 1 for float64 and float32 under AVX2 and AVX-512, the 8192-element chunk of
the threaded reductions +/- 1), on strided views and on starts that are not aligned to the element
size, against float64 references computed by numpy.  The sanitizer build of CI (.ci/run) runs these
tests too, where an out-of-bounds access is an error instead of silent garbage.
"""
import gc
import io
import os
import pickle
import tracemalloc

import joblib
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import make_classification

import sce

EDGE_LENGTHS = [0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 8191, 8192, 8193, 16385]
dtypes = st.sampled_from([np.float64, np.float32])
layouts = st.sampled_from(["contiguous", "strided", "unaligned", "offset"])


def _laid_out(values, layout):
    """`values` (1-D) as an array of the requested memory layout, same dtype and contents."""
    n, dtype = values.size, values.dtype
    if layout == "strided":  # every other element of a buffer twice as long
        buf = np.zeros(2 * n, dtype=dtype)
        buf[::2] = values
        return buf[::2]
    if layout == "unaligned":  # start one byte past an aligned address: not aligned to the element
        raw = np.zeros(n * dtype.itemsize + 1, dtype=np.uint8)
        arr = np.ndarray((n,), dtype=dtype, buffer=raw.data, offset=1)
        arr[...] = values
        return arr
    if layout == "offset":  # aligned to the element, not to a vector register
        buf = np.zeros(n + 1, dtype=dtype)
        buf[1:] = values
        return buf[1:]
    return values.copy()


@st.composite
def kernel_inputs(draw):
    dtype = np.dtype(draw(dtypes))
    n = draw(st.one_of(st.sampled_from(EDGE_LENGTHS), st.integers(0, 300)))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1.0, 30.0, 1e4]))
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal(n) * scale).astype(dtype)
    y = rng.random(n).astype(dtype)
    return dtype, z, y, draw(layouts), draw(layouts)


def _tol(dtype):
    return dict(rtol=1e-13, atol=1e-300) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-37)


@settings(max_examples=120, deadline=None)
@given(kernel_inputs(), st.sampled_from([1, 2]))
def test_elementwise_any_length_stride_alignment(data, n_threads):
    dtype, z, _, layout, out_layout = data
    zl = _laid_out(z, layout)
    z_before = zl.copy()
    z64 = z.astype(np.float64)
    refs = {sce.sigmoid: scipy.special.expit(z64), sce.log_sigmoid: scipy.special.log_expit(z64),
            sce.softplus: np.logaddexp(0.0, z64)}
    for f, ref in refs.items():
        got = f(zl, n_threads=n_threads)
        assert got.dtype == dtype and got.shape == z.shape
        np.testing.assert_allclose(got.astype(np.float64), ref, **_tol(dtype))
        out = _laid_out(np.full(z.size, np.nan, dtype=dtype), out_layout)
        assert f(zl, out=out, n_threads=n_threads) is out
        np.testing.assert_array_equal(out, got)
    np.testing.assert_array_equal(zl, z_before)  # the input is never written


@settings(max_examples=120, deadline=None)
@given(kernel_inputs(), st.sampled_from([1, 2]))
def test_bce_any_length_stride_alignment(data, n_threads):
    dtype, z, y, layout, y_layout = data
    zl, yl = _laid_out(z, layout), _laid_out(y, y_layout)
    z64, y64 = z.astype(np.float64), y.astype(np.float64)
    # a sum of non-negative terms (softplus(z) - z y would cancel for large |z| and y near 1)
    ref_loss = (1 - y64) * np.maximum(z64, 0) + y64 * np.maximum(-z64, 0) + np.log1p(np.exp(-np.abs(z64)))
    ref_grad = scipy.special.expit(z64) - y64
    loss, grad = sce.bce_with_logits(zl, yl, reduction="none", return_grad=True, n_threads=n_threads)
    np.testing.assert_allclose(loss.astype(np.float64), ref_loss, rtol=1e-12 if dtype == np.float64 else 2e-5,
                               atol=1e-12 if dtype == np.float64 else 2e-6)
    np.testing.assert_allclose(grad.astype(np.float64), ref_grad, atol=4 * np.finfo(dtype).eps)
    total, g_sum = sce.bce_with_logits(zl, yl, reduction="sum", return_grad=True, n_threads=n_threads)
    np.testing.assert_allclose(total, ref_loss.sum(), rtol=1e-12 if dtype == np.float64 else 2e-5,
                               atol=1e-9 if dtype == np.float64 else 1e-3)
    np.testing.assert_array_equal(g_sum, grad)


@settings(max_examples=80, deadline=None)
@given(dtypes, st.integers(1, 40), st.integers(1, 20), st.sampled_from([1, 2]), st.integers(0, 2**32 - 1),
       layouts)
def test_softmax_any_row_count_and_class_count(dtype, n, k, n_threads, seed, layout):
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((n, k)) * 10).astype(dtype)
    labels = rng.integers(0, k, n)
    zl = _laid_out(z.ravel(), layout).reshape(n, k)
    loss, grad = sce.softmax_cross_entropy(zl, labels, reduction="none", return_grad=True, n_threads=n_threads)
    z64 = z.astype(np.float64)
    lse = scipy.special.logsumexp(z64, axis=1)
    np.testing.assert_allclose(loss, lse - z64[np.arange(n), labels], rtol=1e-12 if dtype == np.float64 else 1e-5,
                               atol=1e-12 if dtype == np.float64 else 1e-5)
    ref_grad = scipy.special.softmax(z64, axis=1)
    ref_grad[np.arange(n), labels] -= 1
    np.testing.assert_allclose(grad, ref_grad, atol=4 * np.finfo(dtype).eps)


# ---- fit makes no copy of X ---------------------------------------------------------------------

def _peak_during(fn):
    """Peak bytes allocated (numpy and Python allocations, as tracemalloc sees them) during fn()."""
    gc.collect()
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _copy_free_budget(X_nbytes, n, n_classes, n_features):
    """What a fit may allocate without copying X: a quarter of X (newton-cg's subsample of every
    k-th row, k >= 4, of dense X), a few float64 vectors per row (weights, labels, curvature,
    probabilities: n_classes + 6 of them) and a dense Hessian of the parameters."""
    n_params = (1 if n_classes == 2 else n_classes) * (n_features + 1)
    return 0.25 * X_nbytes + (n_classes + 6) * n * 8 + n_params**2 * 8


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("solver", ["auto", "newton-cg", "newton-cholesky", "lbfgs"])
def test_fit_does_not_copy_dense_X(dtype, solver):
    X, y = make_classification(20000, 60, n_informative=10, random_state=0)
    X = np.ascontiguousarray(X, dtype=dtype)
    clf = sce.LogisticClassifier(solver=solver, max_iter=500)
    peak = _peak_during(lambda: clf.fit(X, y))
    budget = _copy_free_budget(X.nbytes, *X.shape[:1], 2, X.shape[1])
    assert budget < X.nbytes  # so that a copy of X cannot pass
    assert peak < budget, (peak, budget, X.nbytes)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_fit_does_not_copy_csr_X(dtype, n_classes):
    rng = np.random.default_rng(0)
    X = sp.random(20000, 100, density=0.3, format="csr", random_state=rng, dtype=dtype)
    y = rng.integers(0, n_classes, X.shape[0])
    nbytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    peak = _peak_during(lambda: sce.LogisticClassifier().fit(X, y))
    budget = _copy_free_budget(nbytes, X.shape[0], n_classes, X.shape[1])
    assert budget < X.data.nbytes + 0.25 * nbytes  # a copy of X.data alone cannot pass
    assert peak < budget, (peak, budget, nbytes)


# ---- no growth of resident memory over many fits -----------------------------------------------

def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer keeps freed memory in quarantine: RSS grows by design")
def test_no_rss_growth_over_1000_fits():
    X, y = make_classification(300, 10, n_informative=5, n_classes=3, random_state=0)
    Xs = sp.csr_matrix(np.where(np.abs(X) > 1, X, 0))
    fits = [lambda: sce.LogisticClassifier().fit(X, y),
            lambda: sce.LogisticClassifier(solver="newton-cg").fit(Xs, y),
            lambda: sce.LogisticClassifier(solver="lbfgs").fit(X, y == 1),
            lambda: sce.LogisticClassifier().fit(X.astype(np.float32), y),
            lambda: sce.LogisticClassifier().fit(X, y == 1)]
    for i in range(100):  # warm up: caches, lazy imports, allocator pools
        fits[i % len(fits)]()
    gc.collect()
    before = _rss_bytes()
    for i in range(1000):
        fits[i % len(fits)]()
    gc.collect()
    growth = _rss_bytes() - before
    # a leak of even one small array per fit (~10 KB) would show as ~10 MB
    assert growth < 4 * 2**20, growth


# ---- pickle and joblib round trips ----------------------------------------------------------------

def _fitted_models():
    X, y = make_classification(500, 12, n_informative=6, n_classes=3, random_state=1)
    models = [sce.LogisticClassifier().fit(X, y),
              sce.LogisticClassifier(solver="lbfgs").fit(X.astype(np.float32), y == 2),
              sce.LogisticClassifier().fit(sp.csr_matrix(np.where(X > 0.5, X, 0)), y),
              sce.SigmoidMLPClassifier((8,), solver="lbfgs", max_iter=50, random_state=0).fit(X, y)]
    return X, models


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickle_and_joblib_round_trips_are_bit_identical():
    X, models = _fitted_models()
    for model in models:
        expected = (model.predict_proba(X), model.predict(X))
        copies = [pickle.loads(pickle.dumps(model, protocol=p)) for p in (2, pickle.HIGHEST_PROTOCOL)]
        buf = io.BytesIO()
        joblib.dump(model, buf)
        buf.seek(0)
        copies.append(joblib.load(buf))
        for c in copies:
            np.testing.assert_array_equal(c.predict_proba(X), expected[0])
            np.testing.assert_array_equal(c.predict(X), expected[1])


@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky", "lbfgs"])
@pytest.mark.parametrize("sparse", [False, True])
def test_fit_on_unaligned_X(solver, sparse):
    # X viewed at an odd byte offset: the kernels get an aligned copy (the sanitizer build of CI
    # reports a misaligned load otherwise), and the fit equals the one on the aligned X
    X, y = make_classification(300, 7, n_classes=3, n_informative=4, random_state=0)
    Xu = _laid_out(X.ravel(), "unaligned").reshape(X.shape)
    assert not Xu.flags.aligned
    if sparse:
        X = sp.csr_matrix(np.where(np.abs(X) > 0.5, X, 0))
        Xu = X.copy()
        # each array at an odd offset, as unpickled chunks can be (scipy's constructor would realign)
        Xu.data, Xu.indices, Xu.indptr = (_laid_out(a, "unaligned") for a in (X.data, X.indices, X.indptr))
        assert not any(a.flags.aligned for a in (Xu.data, Xu.indices, Xu.indptr))
    ref = sce.LogisticClassifier(solver=solver).fit(X, y)
    got = sce.LogisticClassifier(solver=solver).fit(Xu, y)
    np.testing.assert_allclose(got.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
