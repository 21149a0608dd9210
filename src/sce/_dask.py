"""LogisticClassifier on Dask input: the rows stay on the workers.

A row-chunked dask array (dense or with scipy CSR chunks) or dask DataFrame is turned, chunk by chunk
and on the workers, into the kernels' RowBlocks (labels encoded, sample and class weights applied),
which are persisted there for the whole fit.  DaskSums then offers the interface of
sce._logistic_objective.LocalSums over those blocks: every evaluation submits one task per chunk
running the per-block function on that chunk, and the partial sums are added pairwise by tasks on
the workers (a tree of fixed shape, so the result does not depend on timing); only the final vector
(or small matrix) reaches the client.  A chunk's curvature stays on its worker: the "curvature" the
solvers hand back for Hessian products is the list of the evaluation tasks' futures, and a
Hessian-vector product ships the vector to each chunk and one vector back.  LogisticObjective scales
and penalizes the sums as for in-memory data, and the same solvers run.

Predictions on Dask input are lazy dask arrays: the in-memory methods mapped over the chunks.

Nothing here imports dask at module level: sce.linear imports this module, and dask only gets
imported once dask input is given (is_dask_collection only looks at the object's type).
"""
import copy
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _assert_all_finite, _check_feature_names, check_is_fitted

from . import _logistic_objective as _lo
from ._sparse import canonical_csr
from ._threads import effective_n_threads


def is_dask_collection(X):
    """Whether X is a dask collection (array, DataFrame, Series), without importing dask."""
    return hasattr(X, "__dask_graph__") and type(X).__module__.split(".")[0] == "dask"


# -- the tasks run on the workers, one per chunk --------------------------------------------------------

def _chunk_block(X, y, sw, classes, class_weight, n_classes, dtype):
    """The chunk's RowBlock, converted as LogisticClassifier.fit converts in-memory data."""
    if sp.issparse(X):
        X = canonical_csr(X.tocsr().astype(dtype, copy=False))
    else:
        X = np.ascontiguousarray(X, dtype=dtype)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != X.shape[0]:
        raise ValueError(f"y's chunk has shape {y.shape}, X's chunk {X.shape[0]} rows: chunk y like X's rows")
    y_enc = np.searchsorted(classes, y)
    if sw is None:
        sw = np.ones(X.shape[0], dtype=dtype)
    else:
        sw = np.asarray(sw, dtype=dtype).ravel() if np.ndim(sw) else np.full(X.shape[0], sw, dtype=dtype)
        if len(sw) != X.shape[0]:
            raise ValueError("sample_weight's chunks must have the rows of X's chunks")
        if (sw < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
    if class_weight is not None:
        sw = sw * class_weight[y_enc].astype(dtype)
    return _lo.make_block(X, y_enc if n_classes > 2 else (y_enc == 1), sw, n_classes)


def _chunk_class_weights(y, sw, classes):
    """Per class, the chunk's total sample weight (its row count without weights)."""
    y_enc = np.searchsorted(classes, np.asarray(y))
    weights = None if sw is None else np.broadcast_to(np.asarray(sw, dtype=np.float64).ravel(), y_enc.shape)
    return np.bincount(y_enc, weights=weights, minlength=len(classes)).astype(np.float64)


class _Summary(NamedTuple):
    n: int
    d: int
    nnz: int
    sparse: bool
    weight: float
    max: float
    dtype: str


def _chunk_summary(block, with_max=False):
    X = block.X
    sparse = sp.issparse(X)
    top = -np.inf
    if with_max and X.shape[0]:
        top = float(X.max())
    nnz = X.nnz if sparse else X.size
    return _Summary(X.shape[0], X.shape[1], nnz, sparse, float(block.sample_weight.sum(dtype=np.float64)), top,
                    X.dtype.str)


def _aligned(a):
    """a itself, or an aligned copy: arrays unpickled from a message may start off their element size
    (pickle protocol 5 buffers), and the kernels' vectorized loads need aligned ones."""
    return np.require(a, requirements=["C", "A"])


def _local(block):
    """The block as the kernels read it, also after it travelled between workers."""
    X = block.X
    if sp.issparse(X):
        X = X if all(a.flags.aligned for a in (X.data, X.indices, X.indptr)) else X.copy()
    else:
        X = _aligned(X)
    return _lo.RowBlock(X, _aligned(block.targets), _aligned(block.sample_weight))


def _chunk_evaluate(block, W, b, n_threads):
    return _lo.block_evaluate(_local(block), _aligned(W), _aligned(b), effective_n_threads(n_threads))


def _chunk_hessp(block, evaluation, V, vb, n_threads):
    return _lo.block_hessp(_local(block), _aligned(evaluation[2]), _aligned(V), _aligned(vb),
                           effective_n_threads(n_threads))


def _chunk_hess_diag(block, evaluation, n_threads):
    return _lo.block_hess_diag(_local(block), _aligned(evaluation[2]), effective_n_threads(n_threads))


def _chunk_hess(block, evaluation, fit_intercept, n_threads, columns):
    return _lo.block_hess(_local(block), _aligned(evaluation[2]), fit_intercept, effective_n_threads(n_threads),
                          columns)


def _chunk_check_finite(block):
    X = block.X
    _assert_all_finite(X.data if sp.issparse(X) else X, input_name="X", estimator_name="LogisticClassifier")


def _chunk_rows(block, start, step):
    return np.asarray(block.X[start::step], dtype=np.float64)


def _chunk_sub_weight(block, start, step):
    return float(block.sample_weight[start::step].sum(dtype=np.float64))


def _chunk_subsample(block, start, step, scale):
    """The block of the chunk's rows start, start + step, ...; weights scaled as in LocalSums.subsample."""
    rows = slice(start, None, step)
    X = block.X[rows] if sp.issparse(block.X) else np.ascontiguousarray(block.X[rows])
    return _lo.RowBlock(X, np.ascontiguousarray(block.targets[rows]),
                        block.sample_weight[rows] * block.X.dtype.type(scale))


def _chunk_sub_curvature(evaluation, start, step, scale):
    """The subsample's part of a chunk's curvature (as LocalSums.curvature), as an evaluation tuple."""
    curvature = evaluation[2][start::step]
    if curvature.ndim == 2:
        return None, None, np.ascontiguousarray(curvature)
    return None, None, curvature * curvature.dtype.type(scale)


def _add(*parts):
    """The sum of partial sums, in their order; an evaluation (loss, gradient sums, curvature) leaves
    its curvature behind."""
    if isinstance(parts[0], tuple):
        return sum(p[0] for p in parts[1:]) + parts[0][0], sum((p[1] for p in parts[1:]), parts[0][1].copy())
    total = parts[0].copy()
    for p in parts[1:]:
        total += p
    return total


# -- the sums over the chunks, as sce._logistic_objective.LocalSums ---------------------------------

class Traffic:
    """What a fit sent through the cluster: tasks submitted, and bytes of parameters and partial sums
    moved (an upper bound: every vector counted as if it crossed between processes)."""

    def __init__(self):
        self.tasks, self.bytes = 0, 0


class DaskSums:
    """The sums of the per-block evaluations over blocks persisted on Dask workers (futures), one task
    per chunk and a tree of additions per evaluation.  A subsample (see ``subsample``) also knows,
    per chunk, its first row and step in the parent chunk and the weight scale."""

    def __init__(self, client, blocks, summaries, n_threads, traffic, rows=None, scale=1.0):
        self.client, self.blocks, self.n_threads, self.traffic = client, blocks, n_threads, traffic
        self.chunk_rows = [s.n for s in summaries]
        self.offsets = np.concatenate([[0], np.cumsum(self.chunk_rows)])
        self.n, self.d = int(self.offsets[-1]), summaries[0].d
        self.nnz = sum(s.nnz for s in summaries)
        self.sparse = summaries[0].sparse
        self._weight = float(sum(s.weight for s in summaries))
        self.dtype = np.dtype(summaries[0].dtype)
        self.rows, self.scale = rows, scale

    def _map(self, func, *args, per_chunk=None, sent=0):
        """One task per chunk: func(block, [per_chunk[i]], *args); futures, left on the workers."""
        futures = []
        for i, block in enumerate(self.blocks):
            extra = () if per_chunk is None else (per_chunk[i],)
            futures.append(self.client.submit(func, block, *extra, *args, pure=False))
        self.traffic.tasks += len(futures)
        self.traffic.bytes += sent * len(futures)
        return futures

    def _reduce(self, parts, nbytes):
        """The sum of the parts, added by a tree of tasks on the workers whose shape depends only on
        the number of parts (so the result does not depend on where chunks live or on timing): groups
        of about sqrt(n) consecutive parts, then those groups' sums.  Two levels keep the latency of a
        pass to two task hops for any number of chunks; each add task fetches a few vectors.  Only
        the result is gathered (of evaluations, the loss and gradient sums)."""
        fan_in = max(2, int(np.ceil(np.sqrt(len(parts)))))
        while True:
            self.traffic.bytes += nbytes * len(parts)  # each part may travel to its add task
            parts = [self.client.submit(_add, *parts[i:i + fan_in], pure=False)
                     for i in range(0, len(parts), fan_in)]
            self.traffic.tasks += len(parts)
            if len(parts) == 1:
                break
        self.traffic.bytes += nbytes
        # gathered arrays may start off their element size, like the workers' (see _aligned)
        result = parts[0].result()
        if isinstance(result, tuple):
            return result[0], _aligned(result[1])
        return _aligned(result)

    def evaluate(self, W, b):
        futures = self._map(_chunk_evaluate, W, b, self.n_threads, sent=W.nbytes + b.nbytes)
        loss, grad = self._reduce(futures, 8 * (W.size + b.size + 1))
        return loss, grad, futures

    def hessp(self, curvature, V, vb):
        parts = self._map(_chunk_hessp, V, vb, self.n_threads, per_chunk=curvature, sent=V.nbytes + vb.nbytes)
        return self._reduce(parts, 8 * (V.size + vb.size))

    def hess_diag(self, curvature):
        parts = self._map(_chunk_hess_diag, self.n_threads, per_chunk=curvature)
        return self._reduce(parts, 8 * (self.d + 1))

    def hess(self, curvature, fit_intercept, columns=None):
        columns = None if columns is None else np.asarray(columns)
        parts = self._map(_chunk_hess, fit_intercept, self.n_threads, columns, per_chunk=curvature,
                          sent=0 if columns is None else columns.nbytes)
        size = (self.d if columns is None else len(columns)) + 1
        return self._reduce(parts, 8 * size * size)

    def check_finite(self):
        self.client.gather(self._map(_chunk_check_finite))

    def _starts(self, step):
        """Per chunk, the first of its rows whose global index is a multiple of step."""
        return [int(-o % step) for o in self.offsets[:-1]]

    def sample_rows(self, count):
        step = max(1, self.n // count)
        return np.vstack(self.client.gather(self._map(_chunk_rows, step, per_chunk=self._starts(step))))

    def weight_total(self):
        return self._weight

    def subsample(self, step):
        """The sums over the rows whose index is a multiple of step (as LocalSums.subsample), their
        blocks copied and persisted on the chunks' workers."""
        starts = self._starts(step)
        sub_total = sum(self.client.gather(self._map(_chunk_sub_weight, step, per_chunk=starts)))
        if not sub_total > 0:
            return None
        scale = self._weight / sub_total
        blocks = self._map(_chunk_subsample, step, scale, per_chunk=starts)
        summaries = self.client.gather([self.client.submit(_chunk_summary, b, pure=False) for b in blocks])
        return DaskSums(self.client, blocks, summaries, self.n_threads, self.traffic, (starts, step), scale)

    def curvature(self, full_curvature):
        """A subsample's part of its parent's curvature, left on the workers."""
        starts, step = self.rows
        futures = [self.client.submit(_chunk_sub_curvature, c, start, step, self.scale, pure=False)
                   for c, start in zip(full_curvature, starts)]
        self.traffic.tasks += len(futures)
        return futures


# -- input --------------------------------------------------------------------------------------------

def _as_array(X, lengths=False):
    """X as a dask array of one column chunk (a DataFrame or Series by its values)."""
    import dask.array as da
    if not isinstance(X, da.Array):
        X = X.to_dask_array(lengths=True if lengths else None)
    if X.ndim == 2 and X.numblocks[1] > 1:
        X = X.rechunk({1: -1})
    return X


def _like_rows(v, X, name):
    """v (dask, numpy or None) as a 1-d dask array chunked like X's rows, or None."""
    import dask.array as da
    if v is None:
        return None
    if not is_dask_collection(v):
        v = np.asarray(v)
        if v.ndim == 0:
            return da.full(X.shape[0], v, chunks=X.chunks[0])
        if v.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {v.shape[0]} rows, X has {X.shape[0]}")
        return da.from_array(v, chunks=(X.chunks[0],) + v.shape[1:])
    v = _as_array(v, lengths=not np.isnan(X.shape[0]))
    if v.ndim == 2 and v.shape[1] == 1:
        v = v[:, 0]
    if v.ndim != 1:
        raise ValueError(f"{name} must be 1-d, got shape {v.shape}")
    if v.numblocks[0] != X.numblocks[0] or v.chunks[0] != X.chunks[0]:
        if np.isnan(X.shape[0]) or np.isnan(v.shape[0]):
            raise ValueError(f"{name} and X have different or unknown row chunks; chunk them alike")
        if v.shape[0] != X.shape[0]:
            raise ValueError(f"{name} has {v.shape[0]} rows, X has {X.shape[0]}")
        v = v.rechunk((X.chunks[0],))
    return v


def _client():
    from distributed import get_client
    try:
        return get_client()
    except ValueError as e:
        raise ValueError("LogisticClassifier fits dask input on a dask.distributed cluster: create a "
                         "distributed.Client first") from e


def fit(est, X, y, sample_weight=None):
    """LogisticClassifier.fit on dask input (see the module docstring)."""
    from dask import delayed

    from ._convex_solvers import solve
    from ._logistic_params import max_iter_message
    from ._logistic_params import resolve as resolve_penalty

    est._validate_params()
    penalty, solver = resolve_penalty(est)
    client = _client()
    _check_feature_names(est, getattr(X, "_meta", X), reset=True)  # a DataFrame's meta: its columns
    X = _as_array(X, lengths=True)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2D array, got a {X.ndim}D dask array")
    if X.dtype.kind not in "biuf":
        raise ValueError(f"X's dtype must be numeric, got {X.dtype}")
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    y = _like_rows(y, X, "y")
    sw = _like_rows(sample_weight, X, "sample_weight")
    import dask.array as da
    classes = np.asarray(da.unique(y).compute())
    if classes.dtype.kind not in "biu":
        check_classification_targets(classes)
    n_classes = len(classes)
    if n_classes < 2:
        raise ValueError("This solver needs samples of at least 2 classes in the data, but the data "
                         f"contains only one class: {classes[0] if n_classes else None!r}")
    if est.solver == "liblinear" and n_classes > 2:
        raise ValueError("The 'liblinear' solver does not support multiclass classification (n_classes >= 3).")
    y_parts = y.to_delayed().ravel()
    sw_parts = [None] * len(y_parts) if sw is None else sw.to_delayed().ravel()
    class_weight = None
    if est.class_weight is not None:
        from sklearn.utils.class_weight import compute_class_weight
        counts = np.zeros(n_classes)
        if est.class_weight == "balanced":
            parts = [delayed(_chunk_class_weights)(yp, sp_, classes) for yp, sp_ in zip(y_parts, sw_parts)]
            counts = np.sum(client.gather(client.compute(parts)), axis=0)
        # the counts as the weights of one sample per class: scikit-learn's own arithmetic
        class_weight = compute_class_weight(est.class_weight, classes=classes, y=classes,
                                            sample_weight=counts if est.class_weight == "balanced" else None)
    X_parts = X.to_delayed().ravel()
    if len(X_parts) != len(y_parts):
        raise ValueError("X and y must have the same row chunks")
    blocks = client.compute([delayed(_chunk_block)(xp, yp, sp_, classes, class_weight, n_classes, dtype)
                             for xp, yp, sp_ in zip(X_parts, y_parts, sw_parts)])
    summaries = client.gather([client.submit(_chunk_summary, b, est.solver == "liblinear", pure=False)
                               for b in blocks])
    if len({s.sparse for s in summaries}) > 1:
        raise ValueError("X's chunks must be all dense or all sparse")
    if est.solver == "liblinear" and max(s.max for s in summaries) > 1e30:
        raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results "
                         "in a frozen fit. Please choose another solver or rescale the input X.")
    est.n_features_in_ = int(X.shape[1])
    est.classes_ = classes
    sums = DaskSums(client, blocks, summaries, est.n_threads, Traffic())
    obj = _lo.LogisticObjective.over(sums, est.C, est.fit_intercept, n_classes, penalty)
    from .linear import solution, warm_start_point  # linear imports this module for dask input

    x0 = warm_start_point(est, obj)
    if solver != "proximal-newton":
        solver = est._choose_solver(solver, obj)
    res = solve(solver, obj, x0, est.tol, est.max_iter, est.verbose, max_iter_message(est.solver, est.max_iter))
    est.coef_, est.intercept_ = solution(obj, res.x)
    est.n_iter_ = np.array([res.n_iter], dtype=np.int32)
    est.solver_ = solver
    est.objective_ = res.f
    est._dask_traffic = {"tasks": sums.traffic.tasks, "bytes": sums.traffic.bytes, "passes": obj.n_passes}
    client.cancel(blocks)  # the data leave the workers' memory with the fit
    return est


# -- predictions ------------------------------------------------------------------------------------

def predict_method(est, X, method):
    """est.<method>(X) over X's chunks, as a lazy dask array."""
    check_is_fitted(est)
    _check_feature_names(est, getattr(X, "_meta", X), reset=False)
    X = _as_array(X)
    if X.ndim != 2 or X.shape[1] != est.n_features_in_:
        raise ValueError(f"X has {X.shape[-1]} features, but {type(est).__name__} is expecting "
                         f"{est.n_features_in_} features as input.")
    plain = copy.copy(est)  # the chunks are numpy arrays: the names were checked above
    plain.__dict__.pop("feature_names_in_", None)
    plain.__dict__.pop("_dask_traffic", None)
    func = getattr(plain, method)
    scores_dtype = np.result_type(X.dtype, est.coef_.dtype)
    if method == "predict":
        return X.map_blocks(func, drop_axis=1, dtype=est.classes_.dtype, meta=np.empty(0, est.classes_.dtype))
    if method == "decision_function" and est.coef_.shape[0] == 1:
        return X.map_blocks(func, drop_axis=1, dtype=scores_dtype, meta=np.empty(0, scores_dtype))
    width = (est.coef_.shape[0] if method == "decision_function" else len(est.classes_),)
    return X.map_blocks(func, chunks=(X.chunks[0], width), dtype=scores_dtype,
                        meta=np.empty((0, 0), scores_dtype))


def score(est, X, y, sample_weight=None):
    """Mean accuracy on dask input, computed on the workers."""
    import dask.array as da
    X = _as_array(X, lengths=True)
    y = _like_rows(y, X, "y")
    correct = (predict_method(est, X, "predict") == y).astype(np.float64)
    if sample_weight is None:
        return float(correct.mean().compute())
    w = _like_rows(sample_weight, X, "sample_weight").astype(np.float64)
    num, den = da.compute((correct * w).sum(), w.sum())
    return float(num / den)
