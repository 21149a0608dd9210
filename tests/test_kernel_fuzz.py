"""hypothesis over the logistic regression kernels (dense and CSR, binary and multinomial, float32
and float64, 1 and 2 threads): loss, gradient, Hessian-vector product and Hessian against float64
numpy on every shape the kernels' tiles leave a remainder of (rows in groups of 4 and blocks,
classes in tiles of 4 and 2, empty rows and columns).  The sanitizer build of CI runs this file too, where an
out-of-bounds access in a remainder loop is an error."""
import numpy as np
import scipy.sparse as sp
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from sce._logistic_objective import LogisticObjective


@st.composite
def problems(draw):
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    n = draw(st.one_of(st.integers(1, 12), st.sampled_from([63, 64, 65, 255, 256, 257, 1023])))
    d = draw(st.integers(1, 19))
    K = draw(st.sampled_from([2, 3, 4, 5, 6, 7, 9]))
    sparse = draw(st.booleans())
    fit_intercept = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if sparse:
        X[rng.random((n, d)) < draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))] = 0
    y = rng.integers(0, K, n)
    sw = rng.random(n) + draw(st.sampled_from([0.0, 0.5]))
    return dtype, X.astype(dtype), y, sw.astype(dtype), K, sparse, fit_intercept, rng


def _reference(X, y, sw, C, K, fit_intercept, x, v):
    """f, gradient and H v in float64 numpy, parameters packed as the objective packs them."""
    n, d = X.shape
    rows = 1 if K == 2 else K
    W = x[: rows * d].reshape(rows, d)
    b = x[rows * d:] if fit_intercept else np.zeros(rows)
    V = v[: rows * d].reshape(rows, d)
    vb = v[rows * d:] if fit_intercept else np.zeros(rows)
    Z = X @ W.T + b
    T = X @ V.T + vb
    if K == 2:
        z, t, yy = Z[:, 0], T[:, 0], (y == 1).astype(float)
        loss = np.logaddexp(0, z) - yy * z
        p = scipy.special.expit(z)
        R = (sw * (p - yy))[:, None]
        U = (sw * p * (1 - p) * t)[:, None]
    else:
        loss = scipy.special.logsumexp(Z, axis=1) - Z[np.arange(n), y]
        P = scipy.special.softmax(Z, axis=1)
        R = sw[:, None] * (P - np.eye(K)[y])
        U = sw[:, None] * P * (T - np.sum(P * T, axis=1, keepdims=True))
    f = C * np.sum(sw * loss) + 0.5 * np.sum(W * W)
    g = np.concatenate([(C * R.T @ X + W).ravel()] + ([C * R.sum(axis=0)] if fit_intercept else []))
    hv = np.concatenate([(C * U.T @ X + V).ravel()] + ([C * U.sum(axis=0)] if fit_intercept else []))
    return f, g, hv


@settings(max_examples=150, deadline=None)
@given(problems(), st.sampled_from([1, 2]))
def test_logistic_kernels_against_numpy(problem, n_threads):
    dtype, X, y, sw, K, sparse, fit_intercept, rng = problem
    Xk = sp.csr_matrix(X) if sparse else X
    labels = y if K > 2 else (y == 1)
    obj = LogisticObjective(Xk, labels, sw, 0.7, fit_intercept, K, n_threads)
    x = 0.5 * rng.standard_normal(obj.size)
    v = rng.standard_normal(obj.size)
    if K > 2 and fit_intercept:
        # hess() adds c u u^T on the intercepts (u = ones: the softmax's free common shift) to make
        # H definite; on v with intercepts summing to 0 it is the exact Hessian
        v[-K:] -= v[-K:].mean()
    f, g, curvature = obj.evaluate(x)
    hv = obj.hessp(curvature, v)
    ref_f, ref_g, ref_hv = _reference(X.astype(np.float64), y, sw.astype(np.float64), 0.7, K,
                                      fit_intercept, x, v)
    rtol = 1e-10 if dtype == np.float64 else 2e-4
    np.testing.assert_allclose(f, ref_f, rtol=rtol, atol=rtol)
    # the whole Hessian (the Gram kernels of newton-cholesky) times v is the same product
    H = obj.hess(curvature)
    for got, ref in ((g, ref_g), (hv, ref_hv), (H @ v, ref_hv)):
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * (1 + np.max(np.abs(ref))))
