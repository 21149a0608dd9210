"""Objectives: loss + penalty over (X, y, sample weights), evaluated by the one-pass kernels.

LogisticObjective is scikit-learn's LogisticRegression objective

    f(W, b) = C * sum_i s_i l(x_i W^T + b, y_i) + 1/2 ||W||_F^2        (b not penalized)

with l the binary cross-entropy with logits (one coefficient row) or the softmax cross-entropy
(K rows).  C = inf means no penalty; f is then the plain loss sum.  The solvers see a flat float64
vector x = [W.ravel(), b] (b present only with an intercept); X stays in its own dtype and is read
once per loss_grad / hessp call.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _core


def _aligned(X):
    """X with every array the kernels read aligned to its element size: X itself, or a copy in the
    rare case of a view that starts off its element size (e.g. built on a byte buffer at an odd
    offset), whose elements the vectorized loops would load misaligned."""
    if sp.issparse(X):
        if all(a.flags.aligned for a in (X.data, X.indices, X.indptr)):
            return X
        return X.copy()
    return np.require(X, requirements=["C", "A"])


class LogisticObjective:
    def __init__(self, X, y, sample_weight, C, fit_intercept, n_classes, n_threads):
        self.sparse = sp.issparse(X)
        self.X = _aligned(X)
        self.dtype = X.dtype
        self.n, self.d = X.shape
        self.multinomial = n_classes > 2
        self.K = n_classes if self.multinomial else 1
        self.fit_intercept = fit_intercept
        self.n_threads = n_threads
        # f = a * loss_sum + lam/2 ||W||^2
        self.a, self.lam = (float(C), 1.0) if np.isfinite(C) else (1.0, 0.0)
        self.sw = np.ascontiguousarray(sample_weight, dtype=self.dtype)
        if self.multinomial:
            self.y = np.ascontiguousarray(y, dtype=np.int64)
            self.prob = np.empty((self.n, self.K), dtype=self.dtype)
        else:
            self.y = np.ascontiguousarray(y, dtype=self.dtype)
            self.hdiag = np.empty(self.n, dtype=self.dtype)
        self.n_coef = self.K * self.d
        self.size = self.n_coef + (self.K if fit_intercept else 0)
        self._raw = np.empty(self.K * (self.d + 1), dtype=np.float64)
        self.n_passes = 0  # reads of X so far (loss_grad + hessp calls)
        self._input_checked = False  # X's values are checked by the first loss_grad (see there)

    # -- packing -----------------------------------------------------------------------------
    def unpack(self, x):
        """(W of shape (K, d), b of shape (K,)) in X's dtype."""
        W = np.ascontiguousarray(x[: self.n_coef].reshape(self.K, self.d), dtype=self.dtype)
        if self.fit_intercept:
            b = np.ascontiguousarray(x[self.n_coef:], dtype=self.dtype)
        else:
            b = np.zeros(self.K, dtype=self.dtype)
        return W, b

    def _pack_grad(self, raw, x_coef):
        """Gradient (or H v) from the kernel's raw sums [X^T R, sum R] and the penalty part."""
        out = np.empty(self.size, dtype=np.float64)
        out[: self.n_coef] = self.a * raw[: self.n_coef] + self.lam * x_coef
        if self.fit_intercept:
            out[self.n_coef:] = self.a * raw[self.n_coef:]
        return out

    # -- evaluations ---------------------------------------------------------------------------
    def loss_grad(self, x):
        """f(x) and its gradient; keeps the curvature at x for the next hessp / hess.

        The first call also validates X: a NaN or infinity in X makes f or the gradient non-finite
        (its row's logit is NaN or infinite, since inf * 0 = NaN, and its column's gradient sum gets
        NaN or inf * r), and only then is X scanned for scikit-learn's error.  That spares fit the
        separate pass of check_array's test (0.8 ms on 50000 x 100 float32, 15% of a fit)."""
        W, b = self.unpack(x)
        raw = self._raw
        curvature = self.prob if self.multinomial else self.hdiag
        loss = _core.logistic_eval(self.X, self.y, self.sw, W, b, raw, curvature, self.n_threads)
        self.n_passes += 1
        x_coef = x[: self.n_coef]
        f = self.a * loss + 0.5 * self.lam * float(x_coef @ x_coef)
        grad = self._pack_grad(raw, x_coef)
        if not self._input_checked:
            self._input_checked = True
            if not (np.isfinite(f) and np.isfinite(grad).all()):
                _assert_all_finite(self.X.data if self.sparse else self.X, input_name="X",
                                   estimator_name="LogisticClassifier")
        return f, grad

    def hessp(self, v):
        """Hessian at the point of the last loss_grad call, times v."""
        V, vb = self.unpack(v)
        raw = np.empty_like(self._raw)
        curvature = self.prob if self.multinomial else self.hdiag
        _core.logistic_hessp(self.X, self.sw, curvature, V, vb, raw, self.n_threads)
        self.n_passes += 1
        return self._pack_grad(raw, v[: self.n_coef])

    def row_subsample(self, step):
        """The objective over every step-th row (a copy of those rows), its sample weights scaled
        by sum(s) / sum(s_sub) so that its Hessian estimates this one's, or None when those rows
        carry no weight.  Its hessp uses the curvature of this objective's last loss_grad, taken
        over by follow_curvature()."""
        rows = slice(None, None, step)
        sw = self.sw[rows]
        sub_total = float(sw.sum(dtype=np.float64))
        if not sub_total > 0:
            return None
        scale = float(self.sw.sum(dtype=np.float64)) / sub_total
        X = self.X[rows] if self.sparse else np.ascontiguousarray(self.X[rows])
        sub = LogisticObjective(X, self.y[rows], sw * self.dtype.type(scale), 1.0,
                                self.fit_intercept, self.K if self.multinomial else 2,
                                self.n_threads)
        sub.a, sub.lam = self.a, self.lam
        sub._source = (self, rows, scale)
        return sub

    def follow_curvature(self):
        """Copy the curvature of the objective this one subsamples (its last loss_grad point)."""
        source, rows, scale = self._source
        if self.multinomial:
            self.prob[...] = source.prob[rows]
        else:  # hdiag holds s_i sigma_i (1 - sigma_i)
            np.multiply(source.hdiag[rows], self.dtype.type(scale), out=self.hdiag)

    def cg_preconditioner(self):
        """Diagonal (Jacobi) preconditioner for CG at the current point, or None.  Used for CSR X,
        whose columns typically differ widely in frequency: there it cut CG steps 1.4-1.7x here
        (a9a, w8a, reuters).  Not for dense X, where it did not pay for its extra pass on
        standardized data (ijcnn1, synthetic) and tripled the CG steps on raw pixels
        (fashion_mnist: 2339 passes instead of about 800)."""
        if not self.sparse:
            return None
        diag = self.hess_diag()
        return np.where(diag > 0, diag, 1.0)

    def gram_is_cheap(self):
        """Whether forming the full Hessian costs about as much as the Hessian-vector products of a
        CG solve (~5 passes over X) or less:
        - CSR: binary, <= 64 non-zeros per row on average (sum_i nnz_i^2 multiply-adds), at most
          1000 parameters;
        - dense: the K (K + 1) / 2 Gram matrices of d + 1 columns (one for binary) have at most 32
          columns together.  One costs about (d + 1) / 5 passes: ijcnn1 (23 columns) 0.76 ms
          against 0.17 ms for a loss + gradient; 50000 x 100, 7.7 ms against 0.34 ms."""
        if self.sparse:
            return (not self.multinomial and self.size <= 1000
                    and self.X.nnz <= 64 * max(self.n, 1))
        n_grams = self.K * (self.K + 1) // 2 if self.multinomial else 1
        return n_grams * (self.d + (1 if self.fit_intercept else 0)) <= 32

    def _curvature(self, k, m):
        """Per-sample weights of the (k, m) block of the multinomial Hessian at the last loss_grad
        point: s_i p_ik (delta_km - p_im), float64."""
        pk = self.prob[:, k].astype(np.float64)
        pm = self.prob[:, m].astype(np.float64)
        return self.sw.astype(np.float64) * pk * (float(k == m) - pm)

    def hess_diag(self):
        """Diagonal of the Hessian at the point of the last loss_grad call (float64, like x):
        a sum_i c_ik x_ij^2 (+ lam) for the coefficients, a sum_i c_ik for the intercepts, with the
        per-class curvature c_ik = s_i p_ik (1 - p_ik) (binary: the stored s_i sigma (1 - sigma))."""
        if self.multinomial:
            Cw = np.column_stack([self._curvature(k, k) for k in range(self.K)])
        else:
            Cw = self.hdiag.astype(np.float64)[:, None]
        sums = np.empty(self.K * (self.d + 1))
        _core.logistic_sq_colsums(self.X, np.ascontiguousarray(Cw), sums, self.n_threads)
        diag_w = sums[: self.K * self.d].reshape(self.K, self.d)
        self.n_passes += 1
        out = np.empty(self.size)
        out[: self.n_coef] = self.a * diag_w.ravel() + self.lam
        if self.fit_intercept:
            out[self.n_coef:] = self.a * Cw.sum(axis=0)
        return out

    def hess(self):
        """The full Hessian at the point of the last loss_grad call (for Newton-Cholesky).

        Built from per-class curvature weights: H[(k,:),(m,:)] = a X~^T diag(c_km) X~ with X~ = [X, 1]
        (the column of ones only with an intercept), plus lam on the coefficient diagonal.
        Dense X is processed in row blocks so no n-by-d temporary is made."""
        K, d = self.K, self.d
        dd = d + 1 if self.fit_intercept else d
        H = np.zeros((K * dd, K * dd))
        if self.multinomial:
            weights = {(k, m): self._curvature(k, m) for k in range(K) for m in range(k, K)}
        else:
            weights = {(0, 0): self.hdiag}  # the Gram kernel reads X's dtype
        for (k, m), c in weights.items():
            block = self._weighted_gram(c)
            H[k * dd:(k + 1) * dd, m * dd:(m + 1) * dd] = block
            if k != m:
                H[m * dd:(m + 1) * dd, k * dd:(k + 1) * dd] = block.T
        H *= self.a
        if K > 1:  # coefficients first, intercepts last, as in x (already so for one class)
            order = np.concatenate([np.arange(k * dd, k * dd + d) for k in range(K)]
                                   + ([np.arange(d, K * dd, dd)] if self.fit_intercept else []))
            H = H[np.ix_(order, order)]
        H[np.arange(self.n_coef), np.arange(self.n_coef)] += self.lam
        if self.multinomial and self.fit_intercept:
            # Softmax is unchanged by adding one constant to all intercepts, so H is singular along
            # u = 1_K on the intercepts; every gradient is orthogonal to u.  Adding c u u^T / K
            # makes H definite without changing the Newton step on the gradients' subspace.
            Hbb = H[self.n_coef:, self.n_coef:]
            Hbb += max(np.trace(Hbb), 1e-300) / K ** 2
        return H

    def _weighted_gram(self, c):
        """X~^T diag(c) X~ in float64 (X~ = [X, 1] with an intercept): one pass of the Gram kernel
        for CSR X and for dense X up to _GRAM_KERNEL_MAX_COLS columns; BLAS on float64 row blocks
        beyond, where its blocked products win."""
        X = self.X
        d = self.d
        dd = d + 1 if self.fit_intercept else d
        G = np.zeros((dd, dd))
        if self.sparse or dd <= _GRAM_KERNEL_MAX_COLS:
            c = np.ascontiguousarray(c, dtype=self.dtype)
            _core.logistic_gram(X, c, self.fit_intercept, G, self.n_threads)
            self.n_passes += 1
            return G
        c = np.asarray(c, dtype=np.float64)
        step = max(1, (1 << 22) // max(d, 1))  # ~32 MB of float64 per block
        for s in range(0, self.n, step):
            Xb = np.asarray(X[s:s + step], dtype=np.float64)
            cb = c[s:s + step]
            Xw = Xb * cb[:, None]
            G[:d, :d] += Xb.T @ Xw
            if self.fit_intercept:
                col = Xw.sum(axis=0)
                G[:d, d] += col
                G[d, :d] += col
        if self.fit_intercept:
            G[d, d] = c.sum()
        self.n_passes += 1
        return G


# Dense X: the Gram kernel (csrc/sce_glm_dense_tmpl.h) up to this many columns of [X, 1], BLAS beyond.
_GRAM_KERNEL_MAX_COLS = 320
