"""LogisticClassifier on Dask input: the rows stay on the workers.

A row-chunked dask array (dense or with scipy CSR chunks) or dask DataFrame is turned, chunk by chunk
and on the workers, into the kernels' RowBlocks (labels encoded, sample and class weights applied),
which are persisted there for the whole fit.  sce._dask_sums.DaskSums then offers the interface of
sce._logistic_objective.LocalSums over those blocks (one call per worker and pass to the actor that
holds the worker's blocks, the chunks' sums added by a tree of fixed shape); LogisticObjective scales
and penalizes the sums as for in-memory data, and the same solvers run.

Predictions on Dask input are lazy dask arrays: the in-memory methods mapped over the chunks.

Nothing here imports dask at module level: sce.linear imports this module, and dask only gets
imported once dask input is given (is_dask_collection only looks at the object's type).
"""
import copy

import numpy as np
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_feature_names, check_is_fitted

from . import _logistic_objective as _lo
from ._dask_sums import DaskSums
from ._logistic_fit import fit_with_callbacks, warm_start_point


def is_dask_collection(X):
    """Whether X is a dask collection (array, DataFrame, Series), without importing dask."""
    return hasattr(X, "__dask_graph__") and type(X).__module__.split(".")[0] == "dask"


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


def _union(*uniques):
    """The sorted distinct values of the chunks' sorted distinct values (as dask.array.unique)."""
    return np.unique(np.concatenate(uniques))


def _check_classes(est, classes):
    """The number of classes, after scikit-learn's checks of them."""
    if classes.dtype.kind not in "biu":
        check_classification_targets(classes)
    n_classes = len(classes)
    if n_classes < 2:
        raise ValueError("This solver needs samples of at least 2 classes in the data, but the data "
                         f"contains only one class: {classes[0] if n_classes else None!r}")
    if est.solver == "liblinear" and n_classes > 2:
        raise ValueError("The 'liblinear' solver does not support multiclass classification (n_classes >= 3).")
    return n_classes


def _held(part, client):
    """A chunk's delayed object as a future of the value the cluster holds for it already (a
    persisted collection's chunk), else as it is."""
    if part is None:
        return None
    from distributed import Future
    state = client.futures.get(part.key)
    return Future(part.key, client) if state is not None and state.status == "finished" else part


def _client():
    from distributed import get_client
    try:
        return get_client()
    except ValueError as e:
        raise ValueError("LogisticClassifier fits dask input on a dask.distributed cluster: create a "
                         "distributed.Client first") from e


def fit(est, X, y, sample_weight=None):
    """LogisticClassifier.fit on dask input (see the module docstring)."""

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
    y_parts = y.to_delayed().ravel()
    sw_parts = [None] * len(y_parts) if sw is None else sw.to_delayed().ravel()
    X_parts = X.to_delayed().ravel()
    if len(X_parts) != len(y_parts):
        raise ValueError("X and y must have the same row chunks")
    # The chunks stay where they are: one GroupHost actor per worker holding some converts them and
    # holds them for the fit (sce._dask_sums.DaskSums.over_chunks).
    parts = [tuple(_held(v, client) for v in part) for part in zip(X_parts, y_parts, sw_parts)]
    sums = DaskSums.over_chunks(client, parts, dtype, est.n_threads)
    del parts
    labels = sums.labels(with_max=est.solver == "liblinear")
    classes = _union(*[values for values, _ in labels])
    n_classes = _check_classes(est, classes)
    class_weight = None
    if est.class_weight is not None:
        from sklearn.utils.class_weight import compute_class_weight
        counts = np.zeros(n_classes)
        for values, weights in labels:
            counts[np.searchsorted(classes, values)] += weights
        # the counts as the weights of one sample per class: scikit-learn's own arithmetic
        class_weight = compute_class_weight(est.class_weight, classes=classes, y=classes,
                                            sample_weight=counts if est.class_weight == "balanced" else None)
    sums.encode(classes, class_weight)
    summaries = sums.summaries
    if len({s.sparse for s in summaries}) > 1:
        raise ValueError("X's chunks must be all dense or all sparse")
    if est.solver == "liblinear" and max(s.max for s in summaries) > 1e30:
        raise ValueError("Using the 'liblinear' solver while X contains a maximum value > 1e30 results "
                         "in a frozen fit. Please choose another solver or rescale the input X.")
    est.n_features_in_ = int(X.shape[1])
    est.classes_ = classes
    obj = _lo.LogisticObjective.over(sums, est.C, est.fit_intercept, n_classes, penalty)
    x0 = warm_start_point(est, obj)
    if solver != "proximal-newton":
        solver = est._choose_solver(solver, obj)
    fit_with_callbacks(est, obj, solver, x0, X, y, sample_weight)
    est._dask_traffic = {"tasks": sums.traffic.tasks, "bytes": sums.traffic.bytes, "passes": obj.n_passes,
                         "round_trips": sums.traffic.round_trips,
                         "client_rows": 0 if sums.client_sub is None else sums.client_sub.n}
    # The blocks leave the workers when the last future on them is dropped, with this frame.  No
    # client.cancel: cancelling keys the client is releasing at the same moment can trip an assertion
    # in the scheduler that closes the client's connection.
    return est


# -- SigmoidMLPClassifier.partial_fit ---------------------------------------------------------------

def _chunk_partial_fit(est, X, y, sample_weight, classes):
    return est.partial_fit(X, y, sample_weight=sample_weight, classes=classes)


def partial_fit(est, X, y, sample_weight=None, classes=None):
    """est.partial_fit over X's chunks in order, each call a task on the worker holding the chunk:
    the model (parameters and optimizer state) travels from chunk to chunk, the rows stay.  The
    result equals partial_fit called on each chunk in turn; the estimator is updated in place."""
    import dask.array as da
    client = _client()
    _check_feature_names(est, getattr(X, "_meta", X), reset=not hasattr(est, "coefs_"))
    X = _as_array(X, lengths=True)
    if np.ndim(y) == 2 and y.shape[1] > 1:  # a multilabel indicator matrix
        y = (_as_array(y, lengths=True) if is_dask_collection(y) else da.from_array(np.asarray(y)))
        y = y.rechunk((X.chunks[0], -1))
    else:
        y = _like_rows(y, X, "y")
    sw = _like_rows(sample_weight, X, "sample_weight")
    columns = [X, y] if sw is None else [X, y, sw]
    futures = client.compute([p for c in columns for p in c.to_delayed().ravel()])
    k = X.numblocks[0]
    parts = [futures[i * k:(i + 1) * k] for i in range(len(columns))] + ([[None] * k] if sw is None else [])
    model = copy.copy(est)
    model.__dict__.pop("feature_names_in_", None)  # the chunks are numpy arrays: checked above
    for i, (xp, yp, wp) in enumerate(zip(*parts)):
        model = client.submit(_chunk_partial_fit, model, xp, yp, wp, classes if i == 0 else None, pure=False)
    names = getattr(est, "feature_names_in_", None)
    est.__dict__.update(model.result().__dict__)
    if names is not None:
        est.feature_names_in_ = names
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
