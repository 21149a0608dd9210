"""What runs on the Dask workers for sce._dask_sums: a chunk's RowBlock, its evaluations and Hessian
products, its rows of a subsample, the partial sums of a worker's chunks over the fixed binary tree
(see sce._dask_sums), and GroupHost, the actor that holds one worker's chunks for a fit."""
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import _assert_all_finite

from . import _logistic_blocks as _blocks
from ._checks import kernel_ready
from ._sparse import canonical_csr
from ._threads import effective_n_threads


def chunk_raw_block(X, y, sw, dtype):
    """The chunk as a RowBlock still holding its labels (encoded by GroupHost once the classes are
    known): X converted as LogisticClassifier.fit converts in-memory data, the sample weights
    checked."""
    if sp.issparse(X):
        X = canonical_csr(X.tocsr().astype(dtype, copy=False))
    else:
        X = np.ascontiguousarray(X, dtype=dtype)
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != X.shape[0]:
        raise ValueError(f"y's chunk has shape {y.shape}, X's chunk {X.shape[0]} rows: chunk y like X's rows")
    if sw is None:
        sw = np.ones(X.shape[0], dtype=dtype)
    else:
        sw = np.asarray(sw, dtype=dtype).ravel() if np.ndim(sw) else np.full(X.shape[0], sw, dtype=dtype)
        if len(sw) != X.shape[0]:
            raise ValueError("sample_weight's chunks must have the rows of X's chunks")
        if (sw < 0).any():
            raise ValueError("Negative values in data passed to `sample_weight`")
    return _blocks.RowBlock(X, y, sw)


def chunk_labels(y, sw):
    """The chunk's distinct labels (sorted) and each one's total sample weight (its row count
    without weights)."""
    values, index = _blocks.encode_labels(np.asarray(y))
    return values, np.bincount(index, weights=np.asarray(sw, dtype=np.float64), minlength=len(values))


def _encoded_block(raw, classes, class_weight, n_classes):
    """A chunk_raw_block with its labels encoded as the kernels' targets and the class weights
    applied."""
    y_enc = np.searchsorted(classes, raw.targets)
    sw = raw.sample_weight
    if class_weight is not None:
        sw = sw * class_weight[y_enc].astype(sw.dtype)
    return _blocks.make_block(raw.X, _blocks.kernel_targets(y_enc, n_classes), sw, n_classes)


class _Summary(NamedTuple):
    n: int
    d: int
    nnz: int
    sparse: bool
    weight: float
    max: float
    dtype: str
    unit_weights: bool  # every row's weight is 1


def chunk_summary(block, with_max=False):
    X = block.X
    sparse = sp.issparse(X)
    top = -np.inf
    if with_max and X.shape[0]:
        top = float(X.max())
    nnz = X.nnz if sparse else X.size
    sw = block.sample_weight
    return _Summary(X.shape[0], X.shape[1], nnz, sparse, float(sw.sum(dtype=np.float64)), top, X.dtype.str,
                    bool((sw == 1).all()))


def _chunk_evaluate(block, W, b, n_threads, curvature=None):
    return _blocks.block_evaluate(block, kernel_ready(W), kernel_ready(b), effective_n_threads(n_threads), curvature)


def chunk_hessp(block, evaluation, V, vb, n_threads):
    return _blocks.block_hessp(block, kernel_ready(evaluation[2]), kernel_ready(V), kernel_ready(vb),
                           effective_n_threads(n_threads))


def chunk_hess_diag(block, evaluation, n_threads):
    return _blocks.block_hess_diag(block, kernel_ready(evaluation[2]), effective_n_threads(n_threads))


def chunk_hess(block, evaluation, fit_intercept, n_threads, columns):
    return _blocks.block_hess(block, kernel_ready(evaluation[2]), fit_intercept, effective_n_threads(n_threads),
                          columns)


def _group_curvature_floor(blocks, new, old):
    """block_curvature_floor over one worker's chunks, from two of their evaluations."""
    return min((_blocks.block_curvature_floor(block, kernel_ready(e_new[2]), kernel_ready(e_old[2]))
                for block, e_new, e_old in zip(blocks, new, old)), default=1.0)


def chunk_check_finite(block):
    X = block.X
    _assert_all_finite(X.data if sp.issparse(X) else X, input_name="X", estimator_name="LogisticClassifier")


def chunk_rows(block, start, step):
    return np.asarray(block.X[start::step], dtype=np.float64)


def chunk_sub_weight(block, start, step):
    return float(block.sample_weight[start::step].sum(dtype=np.float64))


def chunk_sub_rows(block, start, step):
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


def tree_levels(n):
    return max(0, int(n - 1).bit_length())


def node_sum(node, parts, n):
    """The sum over the leaves (chunks) under node (level, index) of the binary tree over n leaves,
    added pairwise by the tree's shape: the same rounding wherever it is computed.  parts maps
    chunks, or whole nodes, to their sums."""
    if node in parts:
        return parts[node]
    level, a = node
    if level == 0:
        return parts[a]
    left = node_sum((level - 1, 2 * a), parts, n)
    if (2 * a + 1) << (level - 1) >= n:  # no leaves on the right
        return left
    return _plus(left, node_sum((level - 1, 2 * a + 1), parts, n))


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

    visit(tree_levels(n), 0)
    return out


def _travelling(result):
    """What of a chunk's result leaves its worker: an evaluation (a plain tuple: loss, gradient sums,
    curvature) leaves its curvature there."""
    return result[:2] if type(result) is tuple else result


def group_sums(results, chunks, n):
    """A group's partial sums, per largest node of the chunks' tree that it holds whole."""
    parts = {i: _travelling(r) for i, r in zip(chunks, results)}
    return {node: node_sum(node, parts, n) for node in _held_nodes(chunks, n)}


def _group_call_sums(func, items, extra, chunks, n, *args):
    return group_sums(_group_call(func, items, extra, *args), chunks, n)


class GroupHost:
    """One worker's chunks for the length of a fit, as a Dask actor (sce._dask_sums): the client calls
    its methods on the worker directly, one round trip of a few milliseconds where a task through
    the scheduler took 12-20 ms here (a 2-core LocalCluster), and it keeps the evaluations whose
    curvature later Hessian products take, under keys the client gives (``release``: keys the client
    no longer needs, dropped before the call).  Every method returns partial sums of the chunks'
    tree (see group_sums), or per-chunk results in the group's order."""

    def __init__(self, parts, dtype, chunks, n):
        """parts: of each chunk, (X, y, sample_weight or None) on this worker."""
        self.blocks = [chunk_raw_block(*part, dtype) for part in parts]  # labels not encoded yet (see encode)
        self.chunks, self.n = chunks, n
        self.kept = {}
        # the curvature arrays of released evaluations, written over by the next ones: Dask's nanny
        # starts workers with MALLOC_TRIM_THRESHOLD_=65536, so a freed array goes back to the system
        # and a new one faults its pages in again, at every pass
        self.spare = []

    def labels(self, with_max):
        """Of each chunk: its distinct labels, their weights (see chunk_labels) and its summary
        before class weights."""
        return [chunk_labels(block.targets, block.sample_weight) + (chunk_summary(block, with_max),)
                for block in self.blocks]

    def encode(self, classes, class_weight):
        """Encode the chunks' labels by the classes and apply the class weights."""
        self.blocks = [_encoded_block(raw, classes, class_weight, len(classes)) for raw in self.blocks]

    def in_turn(self, first, then):
        """Two calls in one round trip, first = (method name, args) and then then: then's result."""
        getattr(self, first[0])(*first[1])
        return getattr(self, then[0])(*then[1])

    def _release(self, keys):
        for key in keys:
            results = self.kept.pop(key, None)
            if results is not None:
                self.spare.append([r[2] for r in results])

    def evaluate(self, key, W, b, n_threads, sub=None, release=()):
        """The chunks' (loss, gradient sums) at (W, b), their evaluations kept under key; with
        sub = (starts, step), also those rows of the curvature (for the client's subsample)."""
        self._release(release)
        spare = self.spare.pop() if self.spare else [None] * len(self.blocks)
        results = self.kept[key] = [_chunk_evaluate(block, W, b, n_threads, c) for block, c in zip(self.blocks, spare)]
        sums = group_sums(results, self.chunks, self.n)
        return sums if sub is None else (sums, _sub_curvatures(results, *sub))

    def sums(self, func, args, key=None, release=()):
        """The sums of func over the chunks, given the evaluations kept under key when there is one."""
        self._release(release)
        return _group_call_sums(func, self.blocks, None if key is None else self.kept[key], self.chunks, self.n,
                                *args)

    def items(self, func, args, per_chunk=None):
        """func's result for each chunk (with per_chunk[i] as its second argument when given)."""
        return _group_call(func, self.blocks, per_chunk, *args)

    def sub_curvature(self, key, starts, step):
        return _sub_curvatures(self.kept[key], starts, step)

    def curvature_floor(self, new, old):
        return _group_curvature_floor(self.blocks, self.kept[new], self.kept[old])

    def kept_keys(self):
        return sorted(self.kept)
