"""The sums over row chunks persisted on Dask workers, for sce._dask: the tasks that run on the
workers (a chunk's RowBlock, its evaluations and Hessian products, subsamples) and DaskSums, which
offers the interface of sce._logistic_objective.LocalSums over them.

The chunks are grouped by the worker that holds them, and a pass is one task per group that runs the
per-block function on each of its chunks; the chunks' sums are added by the binary tree over the
chunks (fixed by their number, so the result does not depend on where they live or on timing): each
worker adds the subtrees it holds whole, the client the few sums left.  A chunk's curvature stays on
its worker: the "curvature" the solvers hand back for Hessian products is the list of the groups'
evaluation futures, and a Hessian-vector product ships the vector to each worker and a few vectors
back.
"""
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _logistic_objective as _lo
from ._sparse import canonical_csr
from ._threads import effective_n_threads

# -- the tasks run on the workers ----------------------------------------------------------------------

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


def _group_call(func, items, extra, *args):
    """func over one worker's chunks, in their order: [func(item, [extra[i]], *args) for each item]."""
    if extra is None:
        return [func(item, *args) for item in items]
    return [func(item, e, *args) for item, e in zip(items, extra)]


def _plus(a, b):
    """a + b of two partial sums: arrays, or evaluations' (loss, gradient sums)."""
    return (a[0] + b[0], a[1] + b[1]) if isinstance(a, tuple) else a + b


def _tree_levels(n):
    return max(0, int(n - 1).bit_length())


def _node_sum(node, parts, n):
    """The sum over the leaves (chunks) under node (level, index) of the binary tree over n leaves,
    added pairwise by the tree's shape: the same rounding wherever it is computed.  parts maps
    chunks, or whole nodes, to their sums."""
    if node in parts:
        return parts[node]
    level, a = node
    if level == 0:
        return parts[a]
    left = _node_sum((level - 1, 2 * a), parts, n)
    if (2 * a + 1) << (level - 1) >= n:  # no leaves on the right
        return left
    return _plus(left, _node_sum((level - 1, 2 * a + 1), parts, n))


def _held_nodes(chunks, n):
    """The largest nodes of the tree over n leaves whose every leaf is among chunks."""
    held, out = set(chunks), []

    def visit(level, a):
        lo, hi = a << level, min((a + 1) << level, n)
        if lo >= n:
            return
        if all(i in held for i in range(lo, hi)):
            out.append((level, a))
        elif level > 0:
            visit(level - 1, 2 * a)
            visit(level - 1, 2 * a + 1)

    visit(_tree_levels(n), 0)
    return out


def _travelling(result):
    """What of a chunk's result leaves its worker: an evaluation (a plain tuple: loss, gradient sums,
    curvature) leaves its curvature there."""
    return result[:2] if type(result) is tuple else result


def _group_sums(results, chunks, n):
    """A group's partial sums, per largest node of the chunks' tree that it holds whole."""
    parts = {i: _travelling(r) for i, r in zip(chunks, results)}
    return {node: _node_sum(node, parts, n) for node in _held_nodes(chunks, n)}


def _group_call_sums(func, items, extra, chunks, n, *args):
    return _group_sums(_group_call(func, items, extra, *args), chunks, n)


def _group_items(results):
    return [_travelling(r) for r in results]


def _as_list(*items):
    return list(items)


# -- the sums over the chunks, as sce._logistic_objective.LocalSums ---------------------------------

class Traffic:
    """What a fit sent through the cluster: tasks submitted, and bytes of parameters and partial sums
    moved (an upper bound: every vector counted as if it crossed between processes)."""

    def __init__(self):
        self.tasks, self.bytes = 0, 0


class DaskSums:
    """The sums of the per-block evaluations over blocks persisted on Dask workers.  The chunks are
    grouped by the worker that holds them, and a pass is one task per group (``groups``: per worker,
    its address, its chunks' indices and the future of the list of their blocks) that runs the
    per-block function on each of its chunks and adds what it can of the binary tree over the chunks
    (see the module docstring).  One task per worker rather than per chunk: the scheduler's cost per
    task and the hops of a tree of addition tasks made most of a pass's latency.  A subsample (see
    ``subsample``) also knows, per chunk, its first row and step in the parent chunk and the weight
    scale."""

    def __init__(self, client, groups, summaries, n_threads, traffic, rows=None, scale=1.0):
        self.client, self.groups, self.n_threads, self.traffic = client, groups, n_threads, traffic
        self.chunk_rows = [s.n for s in summaries]
        self.offsets = np.concatenate([[0], np.cumsum(self.chunk_rows)])
        self.n, self.d = int(self.offsets[-1]), summaries[0].d
        self.nnz = sum(s.nnz for s in summaries)
        self.sparse = summaries[0].sparse
        self._weight = float(sum(s.weight for s in summaries))
        self.dtype = np.dtype(summaries[0].dtype)
        self.rows, self.scale = rows, scale

    @classmethod
    def over_blocks(cls, client, blocks, summaries, n_threads):
        """DaskSums over per-chunk block futures (computed), grouped by the worker holding each."""
        holders = client.who_has(blocks)
        by_worker = {}
        for i, block in enumerate(blocks):
            addresses = sorted(holders.get(block.key) or ("",))
            by_worker.setdefault(addresses[0], []).append(i)
        groups = [(w, chunks, client.submit(_as_list, *[blocks[i] for i in chunks], pure=False,
                                            **_placement(w)))
                  for w, chunks in sorted(by_worker.items())]
        return cls(client, groups, summaries, n_threads, Traffic())

    def _per_group(self, per_chunk):
        return [[per_chunk[i] for i in chunks] for _, chunks, _ in self.groups]

    def _map(self, func, *args, items=None, per_group=None, sent=0):
        """One task per group: func over the group's blocks (or ``items``: per group, a future of a
        list, e.g. of evaluations); futures of the lists of results, left on the workers."""
        futures = []
        for g, (worker, _, blocks) in enumerate(self.groups):
            extra = None if per_group is None else per_group[g]
            futures.append(self.client.submit(_group_call, func, blocks if items is None else items[g], extra,
                                              *args, pure=False, **_placement(worker)))
        self.traffic.tasks += len(futures)
        self.traffic.bytes += sent * len(futures)
        return futures

    def _gather(self, futures):
        """The groups' results, one per chunk in the chunks' order (small ones: rows, weights)."""
        self.traffic.tasks += len(futures)
        parts = self.client.gather([self.client.submit(_group_items, f, pure=False) for f in futures])
        out = [None] * len(self.chunk_rows)
        for (_, chunks, _), results in zip(self.groups, parts):
            for i, r in zip(chunks, results):
                out[i] = r
        return out

    def _reduce(self, futures, nbytes):
        """The sum of the evaluations' (loss, gradient sums) in the groups' futures (see _total)."""
        n = len(self.chunk_rows)
        partial = [self.client.submit(_group_sums, f, chunks, n, pure=False, **_placement(w))
                   for f, (w, chunks, _) in zip(futures, self.groups)]
        return self._total(partial, nbytes)

    def _sum(self, nbytes, func, *args, per_group=None, sent=0):
        """The sum of func's results over the chunks, with one task per group that runs it and adds
        what it can (see _total)."""
        n = len(self.chunk_rows)
        partial = []
        for g, (worker, chunks, blocks) in enumerate(self.groups):
            extra = None if per_group is None else per_group[g]
            partial.append(self.client.submit(_group_call_sums, func, blocks, extra, chunks, n, *args, pure=False,
                                              **_placement(worker)))
        self.traffic.bytes += sent * len(partial)
        return self._total(partial, nbytes)

    def _total(self, partial, nbytes):
        """The total of the groups' partial sums: each worker added the subtrees of the binary tree
        over the chunks that it holds whole, the client adds the rest.  Arrays gathered may start off
        their element size (see _aligned)."""
        n = len(self.chunk_rows)
        self.traffic.tasks += len(partial)
        nodes = {}
        for group in self.client.gather(partial):
            nodes.update(group)
        self.traffic.bytes += nbytes * len(nodes)
        total = _node_sum((_tree_levels(n), 0), nodes, n)
        if isinstance(total, tuple):
            return total[0], _aligned(total[1])
        return _aligned(total)

    def evaluate(self, W, b):
        futures = self._map(_chunk_evaluate, W, b, self.n_threads, sent=W.nbytes + b.nbytes)
        loss, grad = self._reduce(futures, 8 * (W.size + b.size + 1))
        return loss, grad, futures

    def hessp(self, curvature, V, vb):
        return self._sum(8 * (V.size + vb.size), _chunk_hessp, V, vb, self.n_threads, per_group=curvature,
                         sent=V.nbytes + vb.nbytes)

    def hess_diag(self, curvature):
        return self._sum(8 * (self.d + 1), _chunk_hess_diag, self.n_threads, per_group=curvature)

    def hess(self, curvature, fit_intercept, columns=None):
        columns = None if columns is None else np.asarray(columns)
        size = (self.d if columns is None else len(columns)) + 1
        return self._sum(8 * size * size, _chunk_hess, fit_intercept, self.n_threads, columns, per_group=curvature,
                         sent=0 if columns is None else columns.nbytes)

    def check_finite(self):
        self.client.gather(self._map(_chunk_check_finite))

    def _starts(self, step):
        """Per group, per chunk, the first of its rows whose global index is a multiple of step."""
        return self._per_group([int(-o % step) for o in self.offsets[:-1]])

    def sample_rows(self, count):
        step = max(1, self.n // count)
        return np.vstack(self._gather(self._map(_chunk_rows, step, per_group=self._starts(step))))

    def weight_total(self):
        return self._weight

    def subsample(self, step):
        """The sums over the rows whose index is a multiple of step (as LocalSums.subsample), their
        blocks copied and persisted on the chunks' workers."""
        starts = self._starts(step)
        sub_total = sum(self._gather(self._map(_chunk_sub_weight, step, per_group=starts)))
        if not sub_total > 0:
            return None
        scale = self._weight / sub_total
        blocks = self._map(_chunk_subsample, step, scale, per_group=starts)
        groups = [(w, chunks, b) for (w, chunks, _), b in zip(self.groups, blocks)]
        summaries = self._gather(self._map(_chunk_summary, items=blocks))
        return DaskSums(self.client, groups, summaries, self.n_threads, self.traffic, (starts, step), scale)

    def curvature(self, full_curvature):
        """A subsample's part of its parent's curvature, left on the workers."""
        starts, step = self.rows
        return self._map(_chunk_sub_curvature, step, self.scale, items=full_curvature, per_group=starts)


def _placement(worker):
    """Run where the group's chunks live; elsewhere (fetching or recomputing them) when that worker
    is gone, so that a lost worker does not leave its tasks waiting for it."""
    return {"workers": [worker], "allow_other_workers": True} if worker else {}
