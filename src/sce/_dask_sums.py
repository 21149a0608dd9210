"""The sums over row chunks persisted on Dask workers, for sce._dask: DaskSums, which offers the
interface of sce._logistic_objective.LocalSums over them (what runs on the workers is in
sce._dask_chunks).

The chunks are grouped by the worker that holds them, and a GroupHost actor on that worker holds
the group's blocks for the fit: a pass is one call per group, straight from the client to the worker,
that runs the per-block function on each of its chunks; the chunks' sums are added by the binary
tree over the chunks (fixed by their number, so the result does not depend on where they live or on
timing): each worker adds the subtrees it holds whole, the client the few sums left.  A chunk's
curvature stays on its worker: the hosts keep each evaluation under a key, the "curvature" the
solvers hand back for Hessian products is that key, and a Hessian-vector product ships the vector to
each worker and a few vectors back.  The exception is the row subsample of newton-cg's approximate
Hessian: a small copy of it is held by the client, and each evaluation brings back its rows of the
curvature.
"""
import collections
import itertools
import threading
import weakref

import numpy as np
import scipy.sparse as sp

from . import _logistic_blocks as _blocks
from . import _logistic_objective as _lo
from ._checks import kernel_ready
from ._dask_chunks import (
    GroupHost,
    chunk_check_finite,
    chunk_hess,
    chunk_hess_diag,
    chunk_hessp,
    chunk_rows,
    chunk_sub_rows,
    chunk_sub_weight,
    node_sum,
    tree_levels,
)
from ._threads import effective_n_threads

# -- the sums over the chunks, as sce._logistic_objective.LocalSums ---------------------------------

class Traffic:
    """What a fit sent through the cluster: calls to the workers' hosts (``tasks``), bytes of
    parameters and partial sums moved (an upper bound: every vector counted as if it crossed between
    processes), and round trips (the client waiting for results)."""

    def __init__(self):
        self.tasks, self.bytes, self.round_trips = 0, 0, 0


class DaskSums:
    """The sums of the per-block evaluations over blocks persisted on Dask workers.  The chunks are
    grouped by the worker that holds them (``groups``: per worker, its address, its chunks' indices
    and the GroupHost actor holding their blocks), and a pass is one call per group that runs the
    per-block function on each of its chunks and adds what it can of the binary tree over the chunks
    (see the module docstring).  One call per worker rather than a task per chunk: the scheduler's
    cost per task, and its round trips, made most of a pass's time.  Once a subsample was copied to
    the client (see ``subsample``), ``client_rows`` holds per group, per chunk, the first of its rows
    and the step, and every evaluation brings back those rows of its curvature."""

    def __init__(self, client, groups, n_threads):
        self.client, self.groups, self.n_threads, self.traffic = client, groups, n_threads, Traffic()
        self.client_sub, self.client_rows = None, None  # a subsample held by the client, its rows
        self._encoding = None  # the encoding the hosts apply at the next call (see encode)
        self._keys = itertools.count()  # of the evaluations the hosts keep
        # keys of curvatures no longer referenced: their finalizers append, in whichever thread or
        # collection frees them, and the client takes them from the left; a deque needs no lock for that
        self._released = collections.deque()

    def _describe(self, summaries):
        """The data's shape, size and weight from the chunks' summaries (see chunk_summary)."""
        self.summaries = summaries
        self.chunk_rows = [s.n for s in summaries]
        self.offsets = np.concatenate([[0], np.cumsum(self.chunk_rows)])
        self.n, self.d = int(self.offsets[-1]), summaries[0].d
        self.nnz = sum(s.nnz for s in summaries)
        self.sparse = summaries[0].sparse
        self._weight = float(sum(s.weight for s in summaries))
        self._unit_weights = all(s.unit_weights for s in summaries)
        self.dtype = np.dtype(summaries[0].dtype)

    @classmethod
    def over_chunks(cls, client, parts, dtype, n_threads):
        """DaskSums over row chunks, one GroupHost per worker holding chunks, on that worker.  parts:
        per chunk, (X, y, sample_weight or None), each a future or a delayed object.  When every
        chunk's parts are futures held together by one worker (a persisted collection), the hosts
        start from them where they are; otherwise one task per chunk first brings its parts
        together on a worker.  The hosts convert their chunks (chunk_raw_block).  Before any pass:
        ``labels`` and ``encode``."""
        import distributed
        from dask import delayed
        held = all(isinstance(v, distributed.Future) for part in parts for v in part if v is not None)
        owners = None
        if held:
            holders = client.who_has([v for part in parts for v in part if v is not None])
            owners = []
            for part in parts:
                common = set.intersection(*(set(holders.get(v.key) or ()) for v in part if v is not None))
                owners.append(min(common) if common else None)
        if owners is None or None in owners:  # not held, or split between workers: gathered per chunk
            parts = client.compute([delayed(tuple)(part) for part in parts])
            distributed.wait(parts)
            holders = client.who_has(parts)
            owners = [min(holders.get(f.key) or ("",)) for f in parts]
        by_worker = {}
        for i, owner in enumerate(owners):
            by_worker.setdefault(owner, []).append(i)
        by_worker = sorted(by_worker.items())
        hosts = [client.submit(GroupHost, [parts[i] for i in chunks], dtype, chunks, len(parts), actor=True,
                               pure=False, **({"workers": [w]} if w else {}))
                 for w, chunks in by_worker]
        groups = [(w, chunks, host.result()) for (w, chunks), host in zip(by_worker, hosts)]
        return cls(client, groups, n_threads)

    def labels(self, with_max):
        """Of each chunk in order, its distinct labels and their weights (see chunk_labels); with_max:
        the chunks' summaries have X's maximum."""
        self._raw_labels = self._in_chunk_order(self._wait(self._call("labels", with_max)))
        return [(values, weights) for values, weights, _ in self._raw_labels]

    def encode(self, classes, class_weight):
        """The hosts encode their chunks' labels and apply the class weights (GroupHost.encode) at the
        start of the next call, which saves that step a round trip of its own.  The chunks'
        summaries describe the data from here on, their weights with the class weights (from the
        labels' weights).  The traffic counted from here is the fit's."""
        summaries = []
        for values, weights, summary in self._raw_labels:
            if class_weight is not None:
                cw = np.asarray(class_weight, dtype=np.float64)[np.searchsorted(classes, values)]
                summary = summary._replace(weight=float(weights @ cw),
                                           unit_weights=summary.unit_weights and bool((cw == 1).all()))
            summaries.append(summary)
        self._describe(summaries)
        self._encoding = ("encode", (classes, class_weight))
        self.traffic = Traffic()

    def _per_group(self, per_chunk):
        return [[per_chunk[i] for i in chunks] for _, chunks, _ in self.groups]

    def _release_list(self):
        """The keys of the evaluations the solver dropped since the last call (see _Curvature)."""
        keys = []
        while self._released:
            keys.append(self._released.popleft())
        return keys

    def _call(self, method, *args, per_group=(), sent=0):
        """host.method(*args, *per_group[g]) on every group's host: their futures.  The first call
        after encode runs the encoding first (GroupHost.in_turn)."""
        encoding, self._encoding = self._encoding, None
        futures = []
        for g, (_, _, host) in enumerate(self.groups):
            call_args = args + tuple(extra[g] for extra in per_group)
            futures.append(getattr(host, method)(*call_args) if encoding is None
                           else host.in_turn(encoding, (method, call_args)))
        self.traffic.tasks += len(futures)
        self.traffic.bytes += sent * len(futures)
        return futures

    def _wait(self, futures):
        """The futures' results: one round trip.  A host's worker lost in the fit takes the chunks'
        blocks and the kept evaluations with it: the fit stops with a RuntimeError saying so."""
        self.traffic.round_trips += 1
        try:
            return [f.result() for f in futures]
        except (OSError, RuntimeError) as e:
            if "Actor" not in str(e):
                raise
            raise RuntimeError("A Dask worker holding chunks of X was lost during the fit (" + str(e) + "); "
                               "its chunks' data went with it: fit again on the remaining workers.") from e

    def _in_chunk_order(self, per_group):
        """Per-group lists of per-chunk results as one list in the chunks' order."""
        out = [None] * sum(len(chunks) for _, chunks, _ in self.groups)
        for (_, chunks, _), results in zip(self.groups, per_group):
            for i, r in zip(chunks, results):
                out[i] = r
        return out

    def _total(self, groups, nbytes):
        """The total of the groups' partial sums: each worker added the subtrees of the binary tree
        over the chunks that it holds whole, the client adds the rest.  Arrays received may start
        off their element size (see kernel_ready)."""
        n = len(self.chunk_rows)
        nodes = {}
        for group in groups:
            nodes.update(group)
        self.traffic.bytes += nbytes * len(nodes)
        total = node_sum((tree_levels(n), 0), nodes, n)
        return (total[0], kernel_ready(total[1])) if isinstance(total, tuple) else kernel_ready(total)

    def _sum(self, nbytes, func, *args, curvature=None, sent=0):
        """The sum of func's results over the chunks (given the curvature's evaluations)."""
        key = None if curvature is None else curvature.key
        return self._total(self._wait(self._call("sums", func, args, key, self._release_list(), sent=sent)), nbytes)

    def evaluate(self, W, b):
        key = next(self._keys)
        rows = ((None,) * len(self.groups) if self.client_rows is None
                else [(starts, self.client_rows[1]) for starts in self.client_rows[0]])
        release = [self._release_list()] * len(self.groups)
        results = self._wait(self._call("evaluate", key, W, b, self.n_threads, per_group=(rows, release),
                                        sent=W.nbytes + b.nbytes))
        sub = None
        if self.client_rows is not None:
            results, sub = zip(*results)
            sub = np.concatenate(self._in_chunk_order(sub))
            self.traffic.bytes += sub.nbytes
        loss, grad = self._total(results, 8 * (W.size + b.size + 1))
        return loss, grad, _Curvature(self, key, sub)

    def hessp(self, curvature, V, vb):
        return self._sum(8 * (V.size + vb.size), chunk_hessp, V, vb, self.n_threads, curvature=curvature,
                         sent=V.nbytes + vb.nbytes)

    def curvature_floor(self, new, old):
        return min(self._wait(self._call("curvature_floor", new.key, old.key)), default=1.0)

    def hess_diag(self, curvature):
        return self._sum(8 * (self.d + 1), chunk_hess_diag, self.n_threads, curvature=curvature)

    def hess(self, curvature, fit_intercept, columns=None):
        columns = None if columns is None else np.asarray(columns)
        size = (self.d if columns is None else len(columns)) + 1
        return self._sum(8 * size * size, chunk_hess, fit_intercept, self.n_threads, columns, curvature=curvature,
                         sent=0 if columns is None else columns.nbytes)

    def check_finite(self):
        self._wait(self._call("items", chunk_check_finite, ()))

    def _starts(self, step):
        """Per group, per chunk, the first of its rows whose global index is a multiple of step."""
        return self._per_group([int(-o % step) for o in self.offsets[:-1]])

    def sample_rows(self, count):
        if self.client_sub is not None:  # about count of the rows the client holds: no round trip
            X = self.client_sub.block.X
            return np.asarray(X[:: max(1, len(X) // count)], dtype=np.float64)
        step = max(1, self.n // count)
        rows = self._wait(self._call("items", chunk_rows, (step,), per_group=(self._starts(step),)))
        return np.vstack(self._in_chunk_order(rows))

    def weight_total(self):
        return self._weight

    def subsample(self, step, max_step=None):
        """The sums over the rows whose index is a multiple of step' (as LocalSums.subsample), copied
        to the client: a ClientSubsample.  step' is step, raised towards _CLIENT_SUB_MIN_STEP as far
        as max_step allows, so that the copy is a small part of X (the client must stay small).

        Why on the client: the Hessian products of a CG solve on the subsample are then local
        (about a millisecond each on the copy) instead of round trips to the workers; the
        subsample's part of the curvature comes with each full evaluation's sums (see evaluate),
        one vector of its rows."""
        if max_step is not None:
            step = max(step, min(max_step, _CLIENT_SUB_MIN_STEP))
        starts = self._starts(step)
        n = sum(len(range(start, size, step)) for start, size in zip(sum(starts, []), self._group_sizes()))
        if self._unit_weights:  # the rows' weight is their number: no round trip for it
            sub_total = float(n)
        else:
            weights = self._wait(self._call("items", chunk_sub_weight, (step,), per_group=(starts,)))
            sub_total = float(sum(self._in_chunk_order(weights)))
        if not sub_total > 0:
            return None
        rows = self._call("items", chunk_sub_rows, (step,), per_group=(starts,))
        self.client_sub = ClientSubsample(self, rows, n, self._weight / sub_total)
        self.client_rows = (starts, step)
        return self.client_sub

    def _group_sizes(self):
        """The chunks' row counts in the order of the groups' chunks."""
        return [self.chunk_rows[i] for _, chunks, _ in self.groups for i in chunks]

    def sub_curvature(self, curvature):
        """The client subsample's rows of a full evaluation's curvature: brought back with it, or for
        one evaluated before the subsample was made, now."""
        sub = curvature.sub
        if sub is None:
            starts, step = self.client_rows
            rows = self._wait(self._call("sub_curvature", curvature.key, per_group=(starts, [step] * len(starts))))
            sub = np.concatenate(self._in_chunk_order(rows))
        return sub


class _Curvature:
    """A full evaluation's curvature on Dask: the key under which the hosts keep their chunks'
    evaluations, and ``sub``, the rows of it that the client's subsample holds (brought back).  When
    the solver drops it, its key goes to the hosts with the next call, which then drop theirs."""

    def __init__(self, sums, key, sub):
        self.key, self.sub = key, sub
        weakref.finalize(self, _release, sums, key)


def _release(sums, key):
    sums._released.append(key)


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
            parts = self.parent._in_chunk_order([f.result() for f in rows])
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
