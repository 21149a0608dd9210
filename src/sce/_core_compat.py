# TEMPORARY: the new _core logistic API on top of the old functions, until the kernels branch lands.
import numpy as np
import scipy.sparse as sp

from . import _core

if not hasattr(_core, "logistic_eval"):
    def _csr(X):
        return X.data, X.indices, X.indptr, X.shape[1]

    def logistic_eval(X, targets, sw, W, b, grad, curvature, n_threads):
        K = W.shape[0]
        if K > 1:
            if sp.issparse(X):
                return _core.multinomial_csr(*_csr(X), targets, sw, W, b, grad, curvature, n_threads)
            return _core.multinomial_dense(X, targets, sw, W, b, grad, curvature, n_threads)
        if sp.issparse(X):
            return _core.logistic_csr(*_csr(X), targets, sw, W[0], float(b[0]), grad, curvature, n_threads)
        return _core.logistic_dense(X, targets, sw, W[0], float(b[0]), grad, curvature, n_threads)

    def logistic_hessp(X, sw, curvature, V, vb, out, n_threads):
        K = V.shape[0]
        if K > 1:
            if sp.issparse(X):
                return _core.multinomial_hessp_csr(*_csr(X), sw, curvature, V, vb, out, n_threads)
            return _core.multinomial_hessp_dense(X, sw, curvature, V, vb, out, n_threads)
        if sp.issparse(X):
            return _core.logistic_hessp_csr(*_csr(X), curvature, V[0], float(vb[0]), out, n_threads)
        return _core.logistic_hessp_dense(X, curvature, V[0], float(vb[0]), out, n_threads)

    def logistic_gram(X, weights, fit_intercept, out, n_threads):
        if sp.issparse(X):
            return _core.gram_csr(*_csr(X), weights, fit_intercept, bool(X.has_sorted_indices), out, n_threads)
        return _core.gram_dense(X, weights, fit_intercept, out, n_threads)

    def logistic_sq_colsums(X, C, out, n_threads):
        if sp.issparse(X):
            return _core.sq_colsums_csr(*_csr(X), C, out, n_threads)
        K, d = C.shape[1], X.shape[1]
        Xf = np.asarray(X, dtype=np.float64)
        out[:K * d] = ((Xf * Xf).T @ C).T.ravel()
        out[K * d:] = C.sum(axis=0)

    _core.logistic_eval = logistic_eval
    _core.logistic_hessp = logistic_hessp
    _core.logistic_gram = logistic_gram
    _core.logistic_sq_colsums = logistic_sq_colsums
