"""The logistic-regression objective over the whole data, as the solvers see it.

    f(W, b) = loss_scale * sum_i s_i l(x_i W^T + b, y_i) + l2_strength / 2 * ||W||_F^2
              + intercept_l2 / 2 * ||b||^2          (+ sum_j l1_weights_j |x_j|, the L1 part)

is scikit-learn's LogisticRegression objective: by default loss_scale = C, l2_strength = 1 and no
other term, or for C = inf (no penalty) loss_scale = 1 and l2_strength = 0; elastic-net and
liblinear's penalized intercept set the others (sce._logistic_params).  l is the binary
cross-entropy with logits (one coefficient row) or the softmax cross-entropy (K rows).  The L1 part
is not smooth: ``evaluate`` and the Hessians cover f, and the proximal Newton solver the rest.  The
solvers see a flat float64 vector x = [W.ravel(), b] (b present only with an intercept).  Every value
is a sum of per-block evaluations over the rows, scaled and penalized: the sums come from
LocalSums (the rows in this process as one block, split among the kernel's threads) or from
sce._dask's sums over the chunks of a Dask array, each evaluated on its worker.  Nothing is kept
between calls: ``evaluate`` returns the curvature at its point, and the Hessian products take it as
an argument.  The per-block evaluations, and what a block and a curvature are, are in
sce._logistic_blocks.
"""
import threading

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _logistic_blocks as _blocks
from ._conjugate_gradients import LowRankPreconditioner
from ._threads import effective_n_threads, share_among_fits


def _center_over_classes(sums, K, n_coef):
    """Subtract from softmax gradient (or Hessian product) sums their mean over the classes, in place.
    Softmax is unchanged by adding one vector to every class's coefficients and one constant to every
    intercept, so these means are rounding only (sum_k p_ik = 1).  In float32 that rounding, along
    directions the loss does not curve, kept CG from its residual test in the last Newton steps."""
    coef = sums[:n_coef].reshape(K, -1)
    coef -= coef.mean(axis=0)
    if sums.size > n_coef:
        sums[n_coef:] -= sums[n_coef:].mean()


class LocalSums:
    """The sums of the per-block evaluations over rows held in this process: one block, split among
    the kernel's threads.  ``LogisticObjective`` scales and penalizes them; sce._dask has the same
    interface over the chunks of a Dask array, each evaluated on its worker.  A subsample of the rows
    (see ``subsample``) also knows its rows in the parent, ``rows``, and their weight scale."""

    def __init__(self, block, n_threads, rows=None, scale=1.0, subsamples=None):
        self.block, self.n_threads = block, n_threads
        self.subsamples = subsamples if subsamples is not None else SharedSubsamples()
        self._threads = effective_n_threads(n_threads)
        self.sparse = sp.issparse(block.X)
        self.dtype = block.X.dtype
        self.n, self.d = block.X.shape
        self.rows, self.scale = rows, scale

    @property
    def nnz(self):
        return self.block.X.nnz if self.sparse else self.n * self.d

    def threads(self):
        """Threads for the next pass: n_threads, or when it was left to sce (None) the default
        shared with the fits running at the same time in other threads of the process (see
        sce._threads.share_among_fits)."""
        return self._threads if self.n_threads is not None else share_among_fits(self._threads)

    def evaluate(self, W, b):
        return _blocks.block_evaluate(self.block, W, b, self.threads())

    def hessp(self, curvature, V, vb):
        return _blocks.block_hessp(self.block, curvature, V, vb, self.threads())

    def hess_diag(self, curvature):
        return _blocks.block_hess_diag(self.block, curvature, self.threads())

    def hess(self, curvature, fit_intercept, columns=None):
        return _blocks.block_hess(self.block, curvature, fit_intercept, self.threads(), columns)

    def curvature_floor(self, new, old):
        return _blocks.block_curvature_floor(self.block, new, old)

    def dominant_rows(self, curvature, count, fit_intercept, min_share=0.0):
        return _blocks.block_dominant_rows(self.block, curvature, count, fit_intercept,
                                           self.subsamples.sq_norms(self.block.X), min_share)

    def check_finite(self):
        """scikit-learn's error for a NaN or an infinity in X."""
        X = self.block.X
        _assert_all_finite(X.data if self.sparse else X, input_name="X", estimator_name="LogisticClassifier")

    def sample_rows(self, count):
        """About ``count`` rows of (dense) X spread over it, in float64."""
        return np.asarray(self.block.X[:: max(1, self.n // count)], dtype=np.float64)

    def weight_total(self):
        return float(self.block.sample_weight.sum(dtype=np.float64))

    def subsample(self, step, max_step=None):
        """The sums over every step-th row (a copy of them), their sample weights scaled by
        sum(s) / sum(s_sub); None when those rows carry no weight.  (max_step, the largest step the
        caller accepts, lets sums held elsewhere take fewer rows; here the rows are at hand.)"""
        rows = slice(None, None, step)
        sw = self.block.sample_weight[rows]
        sub_total = float(sw.sum(dtype=np.float64))
        if not sub_total > 0:
            return None
        scale = self.weight_total() / sub_total
        X = self.subsamples.rows(self.block.X, rows)
        block = _blocks.RowBlock(X, np.ascontiguousarray(self.block.targets[rows]), sw * self.dtype.type(scale))
        return LocalSums(block, self.n_threads, rows, scale, self.subsamples)

    def curvature(self, full_curvature):
        """A subsample's rows' part of a curvature of its parent."""
        if full_curvature.ndim == 2:  # probabilities; the scaled weights are in the block
            return np.ascontiguousarray(full_curvature[self.rows])
        # s_i sigma_i (1 - sigma_i) with the scaled weight
        return full_curvature[self.rows] * full_curvature.dtype.type(self.scale)


class LogisticObjective:
    """The smooth part f of the objective, and the weights of its L1 part: sum_j l1_weights_j |x_j|
    (None without one), which the proximal Newton solver handles.  ``penalty`` (a
    sce._logistic_params.Penalty), when given, replaces the L2 objective of C.

    The sums over the rows come from ``sums``: LocalSums over X here, or another object with its
    interface (sce._dask's over the chunks of a Dask array) given to ``over``."""

    def __init__(self, X, y, sample_weight, C, fit_intercept, n_classes, n_threads, penalty=None,
                 subsamples=None, sums_at_zero=None):
        sums = LocalSums(_blocks.make_block(X, y, sample_weight, n_classes), n_threads, subsamples=subsamples)
        self._setup(sums, C, fit_intercept, n_classes, penalty)
        self.sums_at_zero = sums_at_zero  # (loss, gradient sums) at 0 of this data, when known

    @classmethod
    def over(cls, sums, C, fit_intercept, n_classes, penalty=None):
        """The objective over the rows whose sums ``sums`` evaluates."""
        obj = cls.__new__(cls)
        obj._setup(sums, C, fit_intercept, n_classes, penalty)
        return obj

    def _setup(self, sums, C, fit_intercept, n_classes, penalty):
        self.sums, self.sums_at_zero = sums, None
        self.sparse, self.dtype = sums.sparse, sums.dtype
        self.n, self.d = sums.n, sums.d
        self.multinomial = n_classes > 2
        self.K = n_classes if self.multinomial else 1
        self.fit_intercept = fit_intercept
        self.loss_scale, self.l2_strength = (float(C), 1.0) if np.isfinite(C) else (1.0, 0.0)
        self.n_coef = self.K * self.d
        self.size = self.n_coef + (self.K if fit_intercept else 0)
        self.intercept_l2, self.l1_weights = 0.0, None  # liblinear's penalized intercept; L1
        if penalty is not None:
            self.loss_scale, self.l2_strength = penalty.loss_scale, penalty.l2_strength
            self.intercept_l2 = penalty.intercept_l2 if fit_intercept else 0.0
            if penalty.l1_strength > 0 or penalty.intercept_l1 > 0:
                self.l1_weights = np.full(self.size, float(penalty.l1_strength))
                self.l1_weights[self.n_coef:] = penalty.intercept_l1
        self.n_passes = 0  # reads of X so far
        self._input_checked = False  # X's values are checked by the first evaluate (see there)

    @property
    def n_threads(self):
        return self.sums.n_threads

    @property
    def subsamples(self):  # in-process sums only
        return self.sums.subsamples

    @property
    def block(self):  # in-process sums only
        return self.sums.block

    @property
    def X(self):  # in-process sums only
        return self.sums.block.X

    def sample_rows(self, count):
        """About ``count`` rows of (dense) X spread over it, in float64 (a look at the columns' scales)."""
        return self.sums.sample_rows(count)

    # -- packing -----------------------------------------------------------------------------
    def unpack(self, x):
        """(W of shape (K, d), b of shape (K,)) in X's dtype."""
        x = np.ascontiguousarray(x, dtype=self.dtype)  # one conversion for both (views of it)
        W = x[: self.n_coef].reshape(self.K, self.d)
        b = x[self.n_coef:] if self.fit_intercept else np.zeros(self.K, dtype=self.dtype)
        return W, b

    def _scaled(self, sums, x_coef, x_b):
        """A gradient (or H v) from the blocks' sums [X^T R, sum R] and the penalty's part."""
        # the same operations as loss_scale * sums + strength * x elementwise, in fewer numpy calls
        # (a factor 1 is exact, so the default L2 strength of 1 multiplies nothing)
        out = sums[: self.size] * self.loss_scale
        if self.multinomial:
            _center_over_classes(out, self.K, self.n_coef)
        out[: self.n_coef] += x_coef if self.l2_strength == 1.0 else self.l2_strength * x_coef
        if self.fit_intercept:
            out[self.n_coef:] += self.intercept_l2 * x_b
        return out

    # -- evaluations ---------------------------------------------------------------------------
    def evaluate(self, x):
        """(f(x), its gradient, the curvature at x for hessp / hess / hess_diag).

        The first call also validates X: a NaN or infinity in X makes f or the gradient non-finite
        (its row's logit is NaN or infinite, since inf * 0 = NaN, and its column's gradient sum gets
        NaN or inf * r), and only then is X scanned for scikit-learn's error.  That spares fit the
        separate pass of check_array's test."""
        W, b = self.unpack(x)
        loss, sums, curvature = self.sums.evaluate(W, b)
        self.n_passes += 1
        x_coef = x[: self.n_coef]
        x_b = x[self.n_coef:]
        f = (self.loss_scale * loss + 0.5 * self.l2_strength * float(x_coef @ x_coef)
             + 0.5 * self.intercept_l2 * float(x_b @ x_b))
        grad = self._scaled(sums, x_coef, x_b)
        if not self._input_checked:
            self._input_checked = True
            if not (np.isfinite(f) and np.isfinite(grad).all()):
                self.sums.check_finite()
        return f, grad, curvature

    def loss_grad(self, x):
        """(f(x), its gradient)."""
        f, grad, _ = self.evaluate(x)
        return f, grad

    def loss_grad_at_zero(self):
        """(f(0), its gradient): from ``sums_at_zero`` when given (they do not depend on the
        penalty: the objectives of a path share them), else by an evaluation."""
        if self.sums_at_zero is None:
            return self.loss_grad(np.zeros(self.size))
        loss, sums = self.sums_at_zero
        zero = np.zeros(self.size)
        return self.loss_scale * loss, self._scaled(sums, zero[: self.n_coef], zero[self.n_coef:])

    def block_sums_at_zero(self):
        """The unscaled (loss, gradient sums) at 0, for ``sums_at_zero`` of objectives over the
        same rows and weights."""
        loss, sums, _ = self.sums.evaluate(*self.unpack(np.zeros(self.size)))
        self.n_passes += 1
        return loss, sums

    def hessp(self, curvature, v):
        """The Hessian at the curvature's point times v."""
        V, vb = self.unpack(v)
        sums = self.sums.hessp(curvature, V, vb)
        self.n_passes += 1
        return self._scaled(sums, v[: self.n_coef], v[self.n_coef:])

    def hess_diag(self, curvature):
        """Diagonal of the Hessian at the curvature's point (float64, like x)."""
        sums = self.sums.hess_diag(curvature)
        self.n_passes += 1
        return self.loss_scale * np.asarray(sums[: self.size], dtype=np.float64) + self.penalty_diagonal()

    def penalty_diagonal(self, n_coef=None):
        """The L2 penalties' curvature: l2_strength on n_coef coefficients (default all), intercept_l2 after."""
        n_coef = self.n_coef if n_coef is None else n_coef
        return np.concatenate([np.full(n_coef, self.l2_strength), np.full(self.size - self.n_coef, self.intercept_l2)])

    def hess(self, curvature):
        """The full Hessian at the curvature's point (Newton-Cholesky)."""
        H = self.sums.hess(curvature, self.fit_intercept)
        self.n_passes += self.K * (self.K + 1) // 2
        self._penalize_hessian(H, self.n_coef)
        return H

    def curvature_floor(self, new, old):
        """The largest m <= 1 with the loss Hessian at the curvature ``new`` at least m times the one at
        ``old`` (sce._logistic_blocks.block_curvature_floor; the penalty's part is the same at both)."""
        return self.sums.curvature_floor(new, old)

    def hess_of(self, curvature, features):
        """(The Hessian at the curvature's point restricted to the coefficients of the given
        features (increasing; all classes) and the intercepts, the indices of those parameters in
        x).  The Gram kernel forms it from X's entries in those columns (dense X: from a copy of
        them), or the whole Hessian is cut down when forming it is as cheap."""
        features = np.asarray(features, dtype=np.intp)
        if len(features) == self.d:
            return self.hess(curvature), np.arange(self.size)
        n_coef = self.K * len(features)
        index = np.concatenate([k * self.d + features for k in range(self.K)]
                               + ([np.arange(self.n_coef, self.size)] if self.fit_intercept else []))
        # dense X: the whole Hessian, cut down, when forming it is cheap anyway (no copy of the
        # columns); CSR X: the Gram kernel pairs only the entries in those columns, never more work
        if self.gram_is_cheap() and not self.sparse:
            return self.hess(curvature)[np.ix_(index, index)], index
        H = self.sums.hess(curvature, self.fit_intercept, features)
        self.n_passes += self.K * (self.K + 1) // 2
        self._penalize_hessian(H, n_coef)
        return H, index

    def _penalize_hessian(self, H, n_coef):
        """Scale the loss Hessian H (coefficients first, n_coef of them, then the intercepts) and
        add the penalties' curvature, in place."""
        if self.loss_scale != 1.0:  # a factor 1 changes nothing
            H *= self.loss_scale
        size = H.shape[0]
        # the diagonal as a view: every (size + 1)-th element of a C-contiguous H
        diag = H.reshape(-1)[:: size + 1] if H.flags.c_contiguous else np.einsum("ii->i", H)
        diag += self.penalty_diagonal(n_coef)
        if self.multinomial and self.fit_intercept:
            # Softmax is unchanged by adding one constant to all intercepts, so H is singular along
            # u = 1_K on the intercepts; every gradient is orthogonal to u.  Adding c u u^T / K
            # makes H definite without changing the Newton step on the gradients' subspace.
            Hbb = H[n_coef:, n_coef:]
            Hbb += max(np.trace(Hbb), 1e-300) / self.K ** 2

    def cg_preconditioner(self, curvature):
        """Diagonal (Jacobi) preconditioner for CG at the curvature's point, or None.  Used for
        CSR X, whose columns typically differ widely in frequency: there it cut CG steps
        1.4-1.7x (a9a, w8a, reuters).  Not for dense X, where it did not pay for its extra pass on
        standardized data (ijcnn1, synthetic) and tripled the CG steps on raw pixels
        (fashion_mnist)."""
        if not self.sparse:
            return None
        diag = self.hess_diag(curvature)
        return np.where(diag > 0, diag, 1.0)

    def offers_dominant_rows(self):
        return not self.multinomial and self.sparse and hasattr(self.sums, "dominant_rows")

    def dominant_rows_preconditioner(self, curvature, jacobi, count, min_share=0.0):
        """For binary CSR X held in this process, or None: M = diag(jacobi of the other rows) + Z'Z,
        Z the ``count`` rows with the most curvature (see _logistic_blocks.block_dominant_rows).

        Why: where a few rows hold most of the curvature (nearly separable text at large C), the
        Hessian is the penalty plus a low-rank part, and Jacobi's diagonal, dominated by those rows,
        misleads CG (reuters_moneyfx, C = 1e4: 861 CG steps with Jacobi, 154 without); M takes
        those rows exactly and the diagonal of the rest (39 steps).  Where the curvature is spread
        over all rows M is about Jacobi (a9a: 81-89 steps against 81-90).  jacobi: the Hessian's
        diagonal at the curvature's point.  None also when the rows hold less than min_share of the
        loss's part of the Hessian's trace."""
        if not self.offers_dominant_rows():
            return None
        Z, _ = self.sums.dominant_rows(curvature, count, self.fit_intercept, min_share)
        if Z is None or Z.shape[0] == 0:
            return None
        Z = Z * np.sqrt(self.loss_scale)
        rest = jacobi - np.asarray(Z.multiply(Z).sum(axis=0)).ravel()
        penalty = self.penalty_diagonal()
        # the other rows' diagonal is the penalty plus non-negative terms: at least the penalty but
        # for rounding in the subtraction, and kept positive where there is none (the intercept)
        base = np.maximum(rest, np.where(penalty > 0, penalty, np.max(jacobi) * 1e-12))
        precond = LowRankPreconditioner(base, Z)
        return precond if precond.ok else None

    def gram_is_cheap(self):
        """Whether forming the full Hessian costs about as much as the Hessian-vector products of a
        CG solve (~5 passes over X) or less:
        - CSR: binary, <= 64 non-zeros per row on average (sum_i nnz_i^2 multiply-adds), at most
          1000 parameters;
        - dense: the K (K + 1) / 2 Gram matrices of d + 1 columns (one for binary) have at most 32
          columns together; one costs about (d + 1) / 5 passes over X."""
        if self.sparse:
            return (not self.multinomial and self.size <= 1000
                    and self.sums.nnz <= 64 * max(self.n, 1))
        n_grams = self.K * (self.K + 1) // 2 if self.multinomial else 1
        return n_grams * (self.d + (1 if self.fit_intercept else 0)) <= 32

    def row_subsample(self, step, max_step=None):
        """RowSubsample over every step-th row (or every step'-th, step <= step' <= max_step, when
        the sums choose: see LocalSums.subsample), or None when those rows carry no weight."""
        sub = self.sums.subsample(step, max_step)
        return None if sub is None else RowSubsample(self, sub)


class RowSubsample:
    """The objective over a subset of rows (a copy of them), its sample weights scaled by
    sum(s) / sum(s_sub) so that its Hessian estimates the whole one's (Byrd, Chin, Neveitt and
    Nocedal, 2011).  ``curvature(full)`` takes the rows' part of a curvature of the whole objective,
    for ``objective.hessp``."""

    def __init__(self, full, sub_sums):
        self.objective = LogisticObjective.over(sub_sums, 1.0, full.fit_intercept,
                                                full.K if full.multinomial else 2)
        self.objective.loss_scale, self.objective.l2_strength = full.loss_scale, full.l2_strength
        self.objective.intercept_l2 = full.intercept_l2
        self.curvature = sub_sums.curvature


class SharedSubsamples:
    """Copies of row subsets of one X, and its rows' squared norms, made once and shared by the
    objectives given this object (the folds and path points of a cross-validation, which differ
    only in their weights)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._copies = {}

    def rows(self, X, rows):
        """X[rows] for a slice of rows, C-contiguous."""
        key = (id(X), rows.start, rows.stop, rows.step)
        with self._lock:
            if key not in self._copies:
                self._copies[key] = X[rows] if sp.issparse(X) else np.ascontiguousarray(X[rows])
            return self._copies[key]

    def sq_norms(self, X):
        """The squared norms of CSR X's rows (see _logistic_blocks.row_sq_norms)."""
        key = ("sq_norms", id(X))
        with self._lock:
            if key not in self._copies:
                self._copies[key] = _blocks.row_sq_norms(X)
            return self._copies[key]

    def clear(self):
        """Drop the copies (they are made again when asked for)."""
        with self._lock:
            self._copies.clear()
