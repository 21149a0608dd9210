"""Per-block evaluations of the logistic-regression loss (see sce._logistic_objective for the
objective they make up).

A block is a range of rows: X (a C-contiguous float32/float64 array or a CSR
matrix of that dtype), their targets and their sample weights.  The block_* functions return
unscaled, unpenalized sums over the block's rows, so that the sum over any split of the rows is the
value on the whole data: LogisticObjective evaluates the data as one block with the kernel's
threads, a fold is a block of its rows, and a chunk on a Dask worker is a block evaluated where it
lives.  Parameters are W of shape (K, d) and b of shape (K,), in X's dtype.  K == 1: binary
cross-entropy with logits, targets y in [0, 1] in X's dtype; K >= 2: softmax cross-entropy, targets
int64 labels in [0, K).  Gradient-shaped sums are float64 vectors [X^T R as (K, d) row-major,
sum_i R_i (K)], R being the weighted residuals.  The curvature is, in X's dtype, s_i sigma_i
(1 - sigma_i) of shape (n,) for K == 1 and the probabilities p_ik of shape (n, K) for K >= 2 (the
Hessian weights s_i p_ik (delta_km - p_im) follow from them and the block's sample weights).
Labels become targets by encode_labels and kernel_targets, for in-memory data and for Dask chunks alike.
"""
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.preprocessing import LabelEncoder

from . import _core
from ._checks import kernel_ready


class RowBlock(NamedTuple):
    """Rows of a logistic-regression problem: X, targets (see the module docstring), sample_weight."""
    X: object
    targets: np.ndarray
    sample_weight: np.ndarray


def make_block(X, targets, sample_weight, n_classes):
    """A RowBlock over X as the kernels read it: targets and weights converted to their dtypes, X
    itself unless one of its arrays starts off its element size (a view built on a byte buffer at
    an odd offset, or an unpickled one), which is copied so that vectorized loads stay aligned;
    targets and weights likewise."""
    if sp.issparse(X):
        if not all(a.flags.aligned for a in (X.data, X.indices, X.indptr)):
            X = X.copy()
    else:
        X = kernel_ready(X)
    targets = kernel_ready(targets, np.dtype(np.int64) if n_classes > 2 else X.dtype)
    return RowBlock(X, targets, kernel_ready(sample_weight, X.dtype))


def encode_labels(y):
    """(classes, y as indices into classes), as LabelEncoder; integer labels in a range of at most
    about len(y) values are counted (O(n)) instead of sorted (np.unique's O(n log n))."""
    small_int = y.dtype.kind == "i" or (y.dtype.kind == "u" and y.dtype.itemsize < 8)
    if y.ndim == 1 and y.size and small_int:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= max(y.size, 1024):
            shifted = y.astype(np.int64) - lo
            present = np.bincount(shifted) > 0
            index = np.cumsum(present) - 1
            return (np.flatnonzero(present) + lo).astype(y.dtype), index[shifted]
    le = LabelEncoder()
    y_enc = le.fit_transform(y)
    return le.classes_, y_enc


def kernel_targets(y_enc, n_classes):
    """The objective's targets: class indices for more than two classes, else 0/1."""
    return y_enc if n_classes > 2 else (y_enc == 1)


def new_curvature(block, K):
    """An uninitialized curvature array for the block (see the module docstring)."""
    shape = block.X.shape[:1] if K == 1 else (block.X.shape[0], K)
    return np.empty(shape, dtype=block.X.dtype)


def block_evaluate(block, W, b, n_threads=1, curvature=None):
    """(sum_i s_i l_i, gradient sums, curvature) at the parameters (W, b); the curvature written into
    ``curvature`` when given (an earlier evaluation's, no longer needed)."""
    K, d = W.shape
    grad = np.empty(K * (d + 1))
    if curvature is None:
        curvature = new_curvature(block, K)
    loss = _core.logistic_eval(block.X, block.targets, block.sample_weight, W, b, grad, curvature,
                               n_threads)
    return loss, grad, curvature


def block_hessp(block, curvature, V, vb, n_threads=1):
    """Sums of the loss Hessian at the curvature's point times (V, vb), shaped like a gradient."""
    K, d = V.shape
    out = np.empty(K * (d + 1))
    _core.logistic_hessp(block.X, block.sample_weight, curvature, V, vb, out, n_threads)
    return out


def class_curvature(block, curvature, k, m):
    """Per-row weights of the (k, m) block of the loss Hessian, float64: s_i p_ik (delta_km - p_im)
    (binary: the curvature itself)."""
    if curvature.ndim == 1:
        return curvature.astype(np.float64)
    pk = curvature[:, k].astype(np.float64)
    pm = curvature[:, m].astype(np.float64)
    return block.sample_weight.astype(np.float64) * pk * (float(k == m) - pm)


def block_hess_diag(block, curvature, n_threads=1):
    """Diagonal of the loss Hessian's sums, shaped like a gradient: sum_i c_ik x_ij^2 for the
    coefficients and sum_i c_ik for the intercepts, c_ik = s_i p_ik (1 - p_ik)."""
    K = 1 if curvature.ndim == 1 else curvature.shape[1]
    if K == 1:
        C = curvature.astype(np.float64)[:, None]
    else:
        C = np.column_stack([class_curvature(block, curvature, k, k) for k in range(K)])
    out = np.empty(K * (block.X.shape[1] + 1))
    _core.logistic_sq_colsums(block.X, C, out, n_threads)
    return out


def block_hess(block, curvature, fit_intercept, n_threads=1, columns=None):
    """The loss Hessian's sums over the block, ordered like the solvers' parameter vector: the
    coefficients of all classes (K * d), then the intercepts (K) when fitted; with ``columns``
    (increasing feature indices) only the coefficients of those features.

    Built from the weighted Gram matrices H[(k,:), (m,:)] = X~^T diag(c_km) X~ with X~ = [X, 1]
    (the column of ones only with an intercept)."""
    if curvature.ndim == 1:  # one Gram matrix, weighted by the curvature in X's dtype
        return weighted_gram(block.X, curvature, fit_intercept, n_threads, columns)
    K = curvature.shape[1]
    d = block.X.shape[1] if columns is None else len(columns)
    dd = d + 1 if fit_intercept else d
    H = np.zeros((K * dd, K * dd))
    for k in range(K):
        for m in range(k, K):
            G = weighted_gram(block.X, class_curvature(block, curvature, k, m), fit_intercept,
                              n_threads, columns)
            H[k * dd:(k + 1) * dd, m * dd:(m + 1) * dd] = G
            if k != m:
                H[m * dd:(m + 1) * dd, k * dd:(k + 1) * dd] = G.T
    if fit_intercept:  # coefficients first, intercepts last
        order = np.concatenate([np.arange(k * dd, k * dd + d) for k in range(K)]
                               + [np.arange(d, K * dd, dd)])
        H = H[np.ix_(order, order)]
    return H


def weighted_gram(X, weights, fit_intercept, n_threads=1, columns=None):
    """X~^T diag(weights) X~ in float64 (X~ = [X, 1] with an intercept), of the given columns of X
    (increasing; None: all): one pass of the Gram kernel for CSR X (which skips the other columns'
    entries) and for dense X up to GRAM_KERNEL_MAX_COLS columns (a copy of the columns asked for);
    BLAS on float64 row blocks beyond, where its blocked products win."""
    if columns is not None and not sp.issparse(X):
        X, columns = np.ascontiguousarray(X[:, columns]), None
    n, d = X.shape[0], X.shape[1] if columns is None else len(columns)
    dd = d + 1 if fit_intercept else d
    G = np.zeros((dd, dd))
    if sp.issparse(X) or dd <= GRAM_KERNEL_MAX_COLS:
        _core.logistic_gram(X, np.ascontiguousarray(weights, dtype=X.dtype), fit_intercept, G,
                            n_threads, columns)
        return G
    c = np.asarray(weights, dtype=np.float64)
    step = max(1, (1 << 22) // max(d, 1))  # 32 MB of float64 per block of rows: no copy of X
    for s in range(0, n, step):
        Xb = np.asarray(X[s:s + step], dtype=np.float64)
        Xw = Xb * c[s:s + step, None]
        G[:d, :d] += Xb.T @ Xw
        if fit_intercept:
            col = Xw.sum(axis=0)
            G[:d, d] += col
            G[d, :d] += col
    if fit_intercept:
        G[d, d] = c.sum()
    return G


# Dense X: the Gram kernel (csrc/) up to this many columns of [X, 1], BLAS beyond.
GRAM_KERNEL_MAX_COLS = 320


def block_curvature_floor(block, new, old):
    """The largest m <= 1 with every row's curvature matrix at ``new`` at least m times its matrix at
    ``old`` (in the order of positive semidefinite matrices), so that the loss Hessians over the block
    satisfy H_new >= m H_old.  Binary: the ratio of the curvatures s_i sigma_i (1 - sigma_i).  Softmax:
    a row's matrix s_i (diag(p) - p p^T) is s_i times the covariance of the class indicator under p, and
    a variance min_c sum_k p_k (v_k - c)^2 shrinks at most by min_k p'_k / p_k when p becomes p', so
    that ratio bounds it, over the classes with p_k > 0 (the others add nothing to the old matrix).
    Rows without curvature at ``old`` (no weight; an underflow) bound nothing and are skipped."""
    new = np.asarray(new, dtype=np.float64)
    old = np.asarray(old, dtype=np.float64)
    if new.ndim == 2:
        rows = block.sample_weight > 0
        new, old = new[rows], old[rows]
    held = old > 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = new[held] / old[held]
    return float(min(1.0, ratio.min())) if ratio.size else 1.0


def row_sq_norms(X):
    """||x_i||^2 of CSR X's rows, float64: a sum per row, not differences of a running sum (which
    lose the small rows' digits to the total, and numpy's cumsum took 5 ms of a 35 ms fit on
    reuters_moneyfx's 340k entries); reduceat only over non-empty rows, as it gives an empty row its
    next entry."""
    squares = np.square(X.data, dtype=np.float64)
    starts = X.indptr[:-1]
    filled = X.indptr[1:] > starts
    out = np.zeros(X.shape[0])
    if squares.size:
        out[filled] = np.add.reduceat(squares, starts[filled])
    return out


def block_dominant_rows(block, curvature, count, fit_intercept, sq_norms, min_share=0.0):
    """Z = [sqrt(c_i) x_i, sqrt(c_i) (with an intercept)] for the at most ``count`` rows with the
    largest c_i ||[x_i, 1]||^2 (sq_norms: the ||x_i||^2, see row_sq_norms), c the binary curvature:
    the rows that carry most of the Hessian's trace (float64 CSR, rows with c_i = 0 never among
    them); and their share of sum_i c_i ||[x_i, 1]||^2, the loss's part of that trace.  Z is None
    when that share is below min_share."""
    X = block.X
    share = curvature.astype(np.float64) * (sq_norms + (1.0 if fit_intercept else 0.0))
    count = min(count, int(np.count_nonzero(share > 0)))
    rows = np.sort(np.argpartition(-share, count - 1)[:count]) if count else np.zeros(0, dtype=np.intp)
    total = float(share.sum())
    fraction = float(share[rows].sum()) / total if total > 0 else 0.0
    if not fraction >= min_share:
        return None, fraction
    root = np.sqrt(curvature[rows].astype(np.float64))
    sub = X[rows]
    lengths = np.diff(sub.indptr)
    extra = 1 if fit_intercept else 0
    indptr = sub.indptr.astype(np.int64) + extra * np.arange(count + 1)
    data = np.empty(indptr[-1])
    indices = np.empty(indptr[-1], dtype=np.int64)
    coef = np.ones(indptr[-1], dtype=bool)
    if extra:  # each row's last entry: the intercept's column
        coef[indptr[1:] - 1] = False
        data[~coef], indices[~coef] = root, X.shape[1]
    data[coef] = sub.data * np.repeat(root, lengths)
    indices[coef] = sub.indices
    return sp.csr_matrix((data, indices, indptr), shape=(count, X.shape[1] + extra)), fraction
