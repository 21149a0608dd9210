"""The sums over row chunks persisted on Dask workers, for sce._dask: the tasks that run on the
workers (a chunk's RowBlock, its evaluations and Hessian products, its rows of a subsample) and
DaskSums, which offers the interface of sce._logistic_objective.LocalSums over them.

The chunks are grouped by the worker that holds them, and a pass is one task per group that runs the
per-block function on each of its chunks; the chunks' sums are added by the binary tree over the
chunks (fixed by their number, so the result does not depend on where they live or on timing): each
worker adds the subtrees it holds whole, the client the few sums left.  A chunk's curvature stays on
its worker: the "curvature" the solvers hand back for Hessian products is the list of the groups'
evaluation futures, and a Hessian-vector product ships the vector to each worker and a few vectors
back.  The exception is the row subsample of newton-cg's approximate Hessian: a small copy of it is
held by the client, and each evaluation brings back its rows of the curvature.
"""
import threading
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _logistic_blocks as _blocks
from . import _logistic_objective as _lo
from ._sparse import canonical_csr
from ._threads import effective_n_threads

# -- the tasks run on the workers ----------------------------------------------------------------------

def _chunk_block(X, y, sw, classes, class_weight, n_classes, dtype):
    """The chunk's RowBlock, converted as LogisticClassifier.fit converts in-memory data (n_classes
    None: those in classes)."""
    n_classes = len(classes) if n_classes is None else n_classes
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
    return _blocks.make_block(X, y_enc if n_classes > 2 else (y_enc == 1), sw, n_classes)


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
    unit_weights: bool  # every row's weight is 1


def _chunk_summary(block, with_max=False):
    X = block.X
    sparse = sp.issparse(X)
    top = -np.inf
    if with_max and X.shape[0]:
        top = float(X.max())
    nnz = X.nnz if sparse else X.size
    sw = block.sample_weight
    return _Summary(X.shape[0], X.shape[1], nnz, sparse, float(sw.sum(dtype=np.float64)), top, X.dtype.str,
                    bool((sw == 1).all()))


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
    return _blocks.RowBlock(X, _aligned(block.targets), _aligned(block.sample_weight))


def _chunk_evaluate(block, W, b, n_threads):
    return _blocks.block_evaluate(_local(block), _aligned(W), _aligned(b), effective_n_threads(n_threads))


def _chunk_hessp(block, evaluation, V, vb, n_threads):
    return _blocks.block_hessp(_local(block), _aligned(evaluation[2]), _aligned(V), _aligned(vb),
                           effective_n_threads(n_threads))


def _chunk_hess_diag(block, evaluation, n_threads):
    return _blocks.block_hess_diag(_local(block), _aligned(evaluation[2]), effective_n_threads(n_threads))


def _chunk_hess(block, evaluation, fit_intercept, n_threads, columns):
    return _blocks.block_hess(_local(block), _aligned(evaluation[2]), fit_intercept, effective_n_threads(n_threads),
                          columns)


def _group_curvature_floor(blocks, new, old):
    """block_curvature_floor over one worker's chunks, from two of their evaluations."""
    return min((_blocks.block_curvature_floor(_local(block), _aligned(e_new[2]), _aligned(e_old[2]))
                for block, e_new, e_old in zip(blocks, new, old)), default=1.0)


def _chunk_check_finite(block):
    X = block.X
    _assert_all_finite(X.data if sp.issparse(X) else X, input_name="X", estimator_name="LogisticClassifier")


def _chunk_rows(block, start, step):
    return np.asarray(block.X[start::step], dtype=np.float64)


def _chunk_sub_weight(block, start, step):
    return float(block.sample_weight[start::step].sum(dtype=np.float64))


def _chunk_sub_rows(block, start, step):
    """The chunk's rows start, start + step, ...: copies of their X, targets and sample weights."""
    rows = slice(start, None, step)
    return tuple(a[rows] if sp.issparse(a) else np.ascontiguousarray(a[rows]) for a in block)


def _sub_curvatures(evaluations, starts, step):
    """Of each of a group's evaluations, the curvature's rows start, start + step, ..."""
    return [np.ascontiguousarray(e[2][start::step]) for e, start in zip(evaluations, starts)]


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


def _group_sums_and_rows(results, chunks, n, starts, step):
    """_group_sums of a group's evaluations, and the subsample's rows of their curvatures."""
    return _group_sums(results, chunks, n), _sub_curvatures(results, starts, step)


def _group_call_sums(func, items, extra, chunks, n, *args):
    return _group_sums(_group_call(func, items, extra, *args), chunks, n)


def _group_items(results):
    return [_travelling(r) for r in results]


def _as_list(*items):
    return list(items)


# -- the sums over the chunks, as sce._logistic_objective.LocalSums ---------------------------------

class Traffic:
    """What a fit sent through the cluster: tasks submitted, bytes of parameters and partial sums
    moved (an upper bound: every vector counted as if it crossed between processes), and round
    trips (the client waiting for results)."""

    def __init__(self):
        self.tasks, self.bytes, self.round_trips = 0, 0, 0


class DaskSums:
    """The sums of the per-block evaluations over blocks persisted on Dask workers.  The chunks are
    grouped by the worker that holds them, and a pass is one task per group (``groups``: per worker,
    its address, its chunks' indices and the future of the list of their blocks) that runs the
    per-block function on each of its chunks and adds what it can of the binary tree over the chunks
    (see the module docstring).  One task per worker rather than per chunk: the scheduler's cost per
    task and the hops of a tree of addition tasks made most of a pass's latency.  Once a subsample
    was copied to the client (see ``subsample``), ``client_rows`` holds per group, per chunk, the
    first of its rows and the step, and every evaluation gathers those rows of its curvature."""

    def __init__(self, client, groups, summaries, n_threads, traffic):
        self.client, self.groups, self.n_threads, self.traffic = client, groups, n_threads, traffic
        self.chunk_rows = [s.n for s in summaries]
        self.offsets = np.concatenate([[0], np.cumsum(self.chunk_rows)])
        self.n, self.d = int(self.offsets[-1]), summaries[0].d
        self.nnz = sum(s.nnz for s in summaries)
        self.sparse = summaries[0].sparse
        self._weight = float(sum(s.weight for s in summaries))
        self._unit_weights = all(s.unit_weights for s in summaries)
        self.dtype = np.dtype(summaries[0].dtype)
        self.client_sub, self.client_rows = None, None  # a subsample held by the client, its rows

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
        return self._in_chunk_order(self._wait([self.client.submit(_group_items, f, pure=False) for f in futures]))

    def _wait(self, futures):
        """The futures' results: one round trip."""
        self.traffic.round_trips += 1
        return self.client.gather(futures)

    def _in_chunk_order(self, per_group):
        """Per-group lists of per-chunk results as one list in the chunks' order."""
        out = [None] * len(self.chunk_rows)
        for (_, chunks, _), results in zip(self.groups, per_group):
            for i, r in zip(chunks, results):
                out[i] = r
        return out

    def _reduce(self, futures, nbytes):
        """The sum of the evaluations' (loss, gradient sums) in the groups' futures (see _total), and
        when the client holds a subsample, its rows of the evaluations' curvatures (see subsample)."""
        n = len(self.chunk_rows)
        partial = []
        for g, (f, (w, chunks, _)) in enumerate(zip(futures, self.groups)):
            if self.client_rows is None:
                partial.append(self.client.submit(_group_sums, f, chunks, n, pure=False, **_placement(w)))
            else:
                starts, step = self.client_rows
                partial.append(self.client.submit(_group_sums_and_rows, f, chunks, n, starts[g], step, pure=False,
                                                  **_placement(w)))
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
        their element size (see _aligned).  With the subsample's curvature rows (see _reduce):
        (total, those rows in the chunks' order)."""
        n = len(self.chunk_rows)
        self.traffic.tasks += len(partial)
        nodes, rows = {}, []
        for group in self._wait(partial):
            if isinstance(group, tuple):
                group, sub = group
                rows.append(sub)
            nodes.update(group)
        self.traffic.bytes += nbytes * len(nodes)
        total = _node_sum((_tree_levels(n), 0), nodes, n)
        if isinstance(total, tuple):
            total = total[0], _aligned(total[1])
        else:
            total = _aligned(total)
        if not rows:
            return total
        rows = self._in_chunk_order(rows)
        self.traffic.bytes += sum(r.nbytes for r in rows)
        return total, np.concatenate(rows)

    def evaluate(self, W, b):
        futures = self._map(_chunk_evaluate, W, b, self.n_threads, sent=W.nbytes + b.nbytes)
        total = self._reduce(futures, 8 * (W.size + b.size + 1))
        if self.client_rows is None:
            return total + (futures,)
        (loss, grad), sub = total
        return loss, grad, _Curvature(futures, sub)

    def hessp(self, curvature, V, vb):
        return self._sum(8 * (V.size + vb.size), _chunk_hessp, V, vb, self.n_threads, per_group=curvature,
                         sent=V.nbytes + vb.nbytes)

    def curvature_floor(self, new, old):
        futures = [self.client.submit(_group_curvature_floor, blocks, a, b, pure=False, **_placement(worker))
                   for (worker, _, blocks), a, b in zip(self.groups, new, old)]
        self.traffic.tasks += len(futures)
        return min(self._wait(futures), default=1.0)

    def hess_diag(self, curvature):
        return self._sum(8 * (self.d + 1), _chunk_hess_diag, self.n_threads, per_group=curvature)

    def hess(self, curvature, fit_intercept, columns=None):
        columns = None if columns is None else np.asarray(columns)
        size = (self.d if columns is None else len(columns)) + 1
        return self._sum(8 * size * size, _chunk_hess, fit_intercept, self.n_threads, columns, per_group=curvature,
                         sent=0 if columns is None else columns.nbytes)

    def check_finite(self):
        self._wait(self._map(_chunk_check_finite))

    def _starts(self, step):
        """Per group, per chunk, the first of its rows whose global index is a multiple of step."""
        return self._per_group([int(-o % step) for o in self.offsets[:-1]])

    def sample_rows(self, count):
        if self.client_sub is not None:  # about count of the rows the client holds: no round trip
            X = self.client_sub.block.X
            return np.asarray(X[:: max(1, len(X) // count)], dtype=np.float64)
        step = max(1, self.n // count)
        return np.vstack(self._gather(self._map(_chunk_rows, step, per_group=self._starts(step))))

    def weight_total(self):
        return self._weight

    def subsample(self, step, max_step=None):
        """The sums over the rows whose index is a multiple of step' (as LocalSums.subsample), copied
        to the client: a ClientSubsample.  step' is step, raised towards _CLIENT_SUB_MIN_STEP as far
        as max_step allows, so that the copy is a small part of X (the client must stay small).

        Why on the client: the Hessian products of a CG solve on the subsample are then local
        (about a millisecond each on the copy) instead of round trips to the workers (about 25 ms
        each, latency); the subsample's part of the curvature comes with each full evaluation's
        sums (see _reduce), one vector of its rows."""
        if max_step is not None:
            step = max(step, min(max_step, _CLIENT_SUB_MIN_STEP))
        starts = self._starts(step)
        n = sum(len(range(start, size, step)) for start, size in zip(sum(starts, []), self._group_sizes()))
        if self._unit_weights:  # the rows' weight is their number: no round trip for it
            sub_total = float(n)
        else:
            sub_total = float(sum(self._in_chunk_order(self._wait(self._map(_chunk_sub_weight, step,
                                                                           per_group=starts)))))
        if not sub_total > 0:
            return None
        rows = self._map(_chunk_sub_rows, step, per_group=starts)
        self.client_sub = ClientSubsample(self, rows, n, self._weight / sub_total)
        self.client_rows = (starts, step)
        return self.client_sub

    def _group_sizes(self):
        """The chunks' row counts in the order of the groups' chunks."""
        return [self.chunk_rows[i] for _, chunks, _ in self.groups for i in chunks]

    def sub_curvature(self, curvature):
        """The client subsample's rows of a full evaluation's curvature: gathered with it, or for one
        evaluated before the subsample was made, now."""
        sub = getattr(curvature, "sub", None)
        if sub is None:
            starts, step = self.client_rows
            futures = [self.client.submit(_sub_curvatures, f, starts[g], step, pure=False, **_placement(w))
                       for g, (f, (w, _, _)) in enumerate(zip(curvature, self.groups))]
            self.traffic.tasks += len(futures)
            sub = np.concatenate(self._in_chunk_order(self._wait(futures)))
        return sub


class _Curvature(list):
    """A full evaluation's curvature on Dask: per group, the future of its chunks' evaluations (left
    on the workers), and ``sub``, the rows of it that the client's subsample holds (gathered)."""

    def __init__(self, futures, sub):
        super().__init__(futures)
        self.sub = sub


class ClientSubsample(_lo.LocalSums):
    """The sums over a subsample of a DaskSums' rows, copied to the client (see DaskSums.subsample):
    LocalSums, whose ``curvature`` takes the rows gathered with a full evaluation.

    The copy is gathered by a thread while the fit goes on (the first evaluation runs on the
    workers meanwhile), and waited for when its rows are first needed."""

    def __init__(self, parent, rows, n, scale):  # (no block yet: not LocalSums.__init__)
        self.parent, self.n_threads, self.subsamples = parent, parent.n_threads, None
        self._threads = effective_n_threads(parent.n_threads)
        self.sparse, self.dtype, self.n, self.d = parent.sparse, parent.dtype, n, parent.d
        self.rows, self.scale = slice(None), scale  # its rows are all of the gathered ones
        self._block, self._error = None, None
        self._fetching = threading.Thread(target=self._fetch, args=(rows,), daemon=True)
        self._fetching.start()

    def _fetch(self, rows):
        try:
            parts = self.parent._in_chunk_order(self.parent.client.gather(rows))
            del rows
            X = (sp.vstack([p[0] for p in parts], format="csr") if self.sparse
                 else np.concatenate([p[0] for p in parts]))
            targets, sw = (np.concatenate([p[j] for p in parts]) for j in (1, 2))
            self._block = _blocks.RowBlock(X, targets, sw * self.dtype.type(self.scale))
        except BaseException as e:  # raised where the rows are needed
            self._error = e

    @property
    def block(self):
        if self._fetching is not None:
            self._fetching.join()
            if self._error is not None:
                raise self._error
            self._fetching = None
            self.parent.traffic.round_trips += 1
            self.parent.traffic.bytes += self._block.X.data.nbytes if self.sparse else self._block.X.nbytes
        return self._block

    def curvature(self, full_curvature):
        return super().curvature(self.parent.sub_curvature(full_curvature))


# A subsample copied to the client takes at most one row in this many of X.
_CLIENT_SUB_MIN_STEP = 64


def _placement(worker):
    """Run where the group's chunks live; elsewhere (fetching or recomputing them) when that worker
    is gone, so that a lost worker does not leave its tasks waiting for it."""
    return {"workers": [worker], "allow_other_workers": True} if worker else {}
