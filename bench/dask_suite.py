"""dask suite: LogisticClassifier on a dask.distributed LocalCluster (2 worker processes, 1 thread
each, loopback) against dask-ml's LogisticRegression and against sce's own in-memory fit.

Problems (the chunks are made on the workers and persisted there before any fit):
  dense synthetic float64, 2,000,000 × 100 in 20 chunks (--full; default 400,000 × 50 in 8 chunks)
  a9a tiled to 1,000,000 rows as CSR chunks (--full; default 200,000), with --data-dir
--quick uses tiny sizes so that the whole suite runs in seconds.

Per problem: sce on Dask, the time to a relative objective gap <= 1e-6 (the loosest tol in a sweep
that reaches it; the median of 3 after one untimed fit, since a worker's first fit also pays for its
first kernel calls); dask-ml's fastest solver (newton or lbfgs) to its own stopping point, and its
gap; at the tol chosen, the in-memory sce fit and the Dask fit again, alternating (medians of 5,
after one untimed in-memory fit), so that both meet the machine in the same state; the ratios;
sce's calls to the workers and bytes moved per iteration (bytes of parameters and partial sums,
every one counted as if it crossed between processes: an upper bound); the client's peak memory
above its baseline during the Dask fit, against X's size.  f* is the lowest objective any fit
reached, including a tight in-memory sce fit; every objective is evaluated in float64 by sce's
in-memory LogisticObjective (scikit-learn's objective at that C).
"""
import threading
import time
import warnings

import numpy as np

import sce
from sce._logistic_objective import LogisticObjective

from ._data import available_datasets, binary_targets, load_dataset
from ._format import fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import Report, finish_markdown, get_peer, load_summary, reset_load, settle

NAME = "dask"
DESCRIPTION = "sce on a Dask LocalCluster vs dask-ml LogisticRegression and in-memory sce"
PEERS = ("dask-ml",)
GAP = 1e-6
C = 1.0
TOLS = (1e-3, 1e-4)
PAIRED_REPEATS = 5
SIZES = {"quick": (20_000, 20, 4, 20_000, 4), "default": (400_000, 50, 8, 200_000, 8),
         "full": (2_000_000, 100, 20, 1_000_000, 10)}  # dense rows, cols, chunks; a9a rows, chunks


def _dense_chunk(i, rows, d):
    """Chunk i of the synthetic problem: standard normal features, labels from a fixed linear model
    with logistic noise (the same chunk wherever and whenever it is made)."""
    w = np.random.default_rng(12345).standard_normal(d) / np.sqrt(d) * 2
    rng = np.random.default_rng(1000 + i)
    X = rng.standard_normal((rows, d))
    y = (X @ w + rng.logistic(size=rows) > 0).astype(np.int64)
    return X, y


def _tiled_chunk(base, labels, start, rows):
    idx = (start + np.arange(rows)) % base.shape[0]
    return base[idx], labels[idx]


def _chunks_to_arrays(client, make, specs, d, sparse):
    """(X, y) dask arrays of chunks made on the workers, chunk i on worker i mod 2 (the same balanced
    placement in every run; left to the scheduler, the 10 CSR chunks were once split 6 / 4)."""
    import operator

    import dask
    import dask.array as da
    import distributed
    import scipy.sparse as sp

    workers = sorted(client.scheduler_info()["workers"])
    made = [client.submit(make, *spec, workers=[workers[i % len(workers)]], pure=False)
            for i, spec in enumerate(specs)]
    parts = [(client.submit(operator.getitem, m, 0, workers=[workers[i % len(workers)]], pure=False),
              client.submit(operator.getitem, m, 1, workers=[workers[i % len(workers)]], pure=False))
             for i, m in enumerate(made)]
    distributed.wait([f for p in parts for f in p])
    del made
    meta = sp.csr_matrix((0, d)) if sparse else np.empty((0, d))
    X = da.concatenate([da.from_delayed(dask.delayed(p[0]), (spec[-1], d), np.float64, meta=meta)
                        for p, spec in zip(parts, specs)], axis=0)
    y = da.concatenate([da.from_delayed(dask.delayed(p[1]), (spec[-1],), np.int64) for p, spec in zip(parts, specs)])
    X, y = client.persist([X, y])
    distributed.wait([X, y])  # made before any timing: persist only starts the work
    return X, y


def _problems(ctx, client):
    n, d, k, n_a9a, k_a9a = SIZES[ctx.mode]
    rows = [n // k] * k
    specs = [(i, r, d) for i, r in enumerate(rows)]
    X, y = _chunks_to_arrays(client, _dense_chunk, specs, d, False)

    def local(specs=specs):  # the same rows, made in this process
        parts = [_dense_chunk(*spec) for spec in specs]
        return np.vstack([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    out = [(f"synthetic {n:,}×{d} f64, {k} chunks", X, y, n * d * 8, local)]
    if "a9a" in available_datasets(ctx.data_dir):
        import scipy.sparse as sp
        base, labels, _, _ = load_dataset("a9a", ctx.data_dir)
        base, labels = sp.csr_matrix(base, dtype=np.float64), binary_targets(labels).astype(np.int64)
        b, lab = client.scatter([base, labels], broadcast=True)
        step = n_a9a // k_a9a
        specs = [(b, lab, s, min(step, n_a9a - s)) for s in range(0, n_a9a, step)]
        X, y = _chunks_to_arrays(client, _tiled_chunk, specs, base.shape[1], True)
        nbytes = int(base[np.arange(n_a9a) % base.shape[0]].nnz * 12 + 8 * (n_a9a + 1))
        out.append((f"a9a tiled {n_a9a:,}×{base.shape[1]} CSR, {len(specs)} chunks", X, y, nbytes,
                    lambda: _tiled_chunk(base, labels, 0, n_a9a)))
    return out


class _PeakMemory:
    """The client process's peak resident memory above its level at the start (sampled every 5 ms)."""

    def __init__(self):
        import psutil
        self.process = psutil.Process()

    def __enter__(self):
        self.base = self.peak = self.process.memory_info().rss
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.005)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.increase = self.peak - self.base


def _timed(fn):
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn()
    return time.perf_counter() - t0, out


def _sce_dask(X, y, repeats):
    """Per tol of the sweep: (median seconds, coefficients, traffic, n_iter, client memory increase),
    after an untimed fit."""
    _timed(lambda: sce.LogisticClassifier(C=C, tol=TOLS[0]).fit(X, y))
    runs = []
    for tol in TOLS:
        times, memory = [], 0
        for _ in range(repeats):
            with _PeakMemory() as peak:
                t, m = _timed(lambda tol=tol: sce.LogisticClassifier(C=C, tol=tol).fit(X, y))
            times.append(t)
            memory = max(memory, peak.increase)
        runs.append({"tol": tol, "time_s": float(np.median(times)), "coef": (m.coef_, m.intercept_),
                     "traffic": m._dask_traffic, "n_iter": int(m.n_iter_[0]), "solver": m.solver_,
                     "client_memory": memory})
    return runs


def _dask_ml(X, y, dask_ml, quick):
    """Per solver (newton, lbfgs): seconds and coefficients, or the error it raised (dask_ml: the
    module dask_ml.linear_model)."""
    out = {}
    if not isinstance(X._meta, np.ndarray):
        # dask-ml (2025.1) adds its intercept column with np.concatenate, which fails on scipy CSR
        # chunks and on pydata sparse ones: it gets the chunks densified (on the workers)
        X = X.map_blocks(lambda c: c.toarray(), dtype=X.dtype, meta=np.empty((0, 0), X.dtype)).persist()
    for solver in ("newton",) if quick else ("newton", "lbfgs"):  # --quick: a smoke run of 5 iterations
        try:
            t, m = _timed(lambda s=solver: dask_ml.LogisticRegression(
                solver=s, C=C, max_iter=5 if quick else 100).fit(X, y))
            out[solver] = {"time_s": t, "coef": (np.asarray(m.coef_).reshape(1, -1), np.atleast_1d(m.intercept_))}
        except Exception as e:  # a peer's failure is reported, not fatal
            out[solver] = {"error": f"{type(e).__name__}: {e}"[:200]}
    return out


def run(ctx):
    try:
        import distributed
    except ImportError:
        return Report(markdown='dask / distributed are not installed (pip install "sce[dask]"): skipped.\n',
                      results={"skipped": "dask not installed"})
    dask_ml = get_peer("dask-ml")
    repeats = ctx.repeats or (1 if ctx.quick else 3)  # of sce's fits (dask-ml's: one each)
    reset_load()
    rows = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address="127.0.0.1:0") as cluster, distributed.Client(cluster) as client:
        client.run(lambda: __import__("sce._dask"))  # imports on the workers: not part of the first timing
        probs = _problems(ctx, client)
        ctx.progress(NAME, 3 * len(probs))
        for name, X, y, nbytes, local in probs:
            row = {"problem": name, "x_bytes": nbytes}
            with ctx.step(NAME, f"{name}: sce on dask") as s:
                settle(ctx.mode)
                row["sce_dask"] = _sce_dask(X, y, repeats)
                s.result = ", ".join(f"tol {r['tol']:g} {fmt_num(r['time_s'])} s" for r in row["sce_dask"])
            with ctx.step(NAME, f"{name}: dask-ml") as s:
                settle(ctx.mode)
                row["dask_ml"] = _dask_ml(X, y, dask_ml, ctx.quick) if dask_ml is not None else {}
                s.result = ", ".join(f"{k} {fmt_num(v['time_s']) if 'time_s' in v else 'failed'}"
                                     for k, v in row["dask_ml"].items()) or "not installed"
            with ctx.step(NAME, f"{name}: in-memory sce, alternating with dask") as s:
                Xm, ym = local()
                settle(ctx.mode)
                _finish_row(row, Xm, ym, X, y, repeats)
                del Xm, ym
                s.result = f"{fmt_num(row['sce_memory']['time_s'])} s, dask {fmt_num(row['sce_memory']['dask_s'])} s"
            rows.append(row)
    load = load_summary()
    return Report(markdown=_markdown(rows, dask_ml, load, repeats), results={"gap": GAP, "rows": rows,
                                                                   "other_processes_cpu": load})


def _finish_row(row, X, y, X_dask, y_dask, repeats):
    """f*, every fit's gap, and at the tol the Dask fit needed, the in-memory and Dask fits
    alternating, so that both meet the machine in the same state (this VM's speed drifts over
    minutes, and dask-ml's fits run between the sweep and here)."""
    obj = LogisticObjective(X, y == 1, np.ones(X.shape[0]), C, True, 2, None)

    def f(coef):
        W, b = coef
        return obj.loss_grad(np.concatenate([np.ravel(W), np.ravel(b)]).astype(np.float64))[0]

    ref = sce.LogisticClassifier(C=C, tol=1e-6).fit(X, y)
    values = [ref.objective_] + [f(r["coef"]) for r in row["sce_dask"]]
    values += [f(v["coef"]) for v in row["dask_ml"].values() if "coef" in v]
    f_star = min(values)
    for r in row["sce_dask"]:
        r["gap"] = (f(r.pop("coef")) - f_star) / abs(f_star)
    for v in row["dask_ml"].values():
        if "coef" in v:
            v["gap"] = (f(v.pop("coef")) - f_star) / abs(f_star)
    reached = [r for r in row["sce_dask"] if r["gap"] <= GAP]
    chosen = reached[0] if reached else row["sce_dask"][-1]
    row["chosen_tol"] = chosen["tol"]
    times, dask_times = [], []
    _timed(lambda: sce.LogisticClassifier(C=C, tol=chosen["tol"]).fit(X, y))
    for _ in range(max(repeats, PAIRED_REPEATS)):
        t, _ = _timed(lambda: sce.LogisticClassifier(C=C, tol=chosen["tol"]).fit(X_dask, y_dask))
        dask_times.append(t)
        t, m = _timed(lambda: sce.LogisticClassifier(C=C, tol=chosen["tol"]).fit(X, y))
        times.append(t)
    row["sce_memory"] = {"time_s": float(np.median(times)), "dask_s": float(np.median(dask_times)),
                         "gap": (m.objective_ - f_star) / abs(f_star)}
    row["f_star"] = f_star


def _markdown(rows, dask_ml, load, repeats):
    table, detail = [], []
    for r in rows:
        ours = next(x for x in r["sce_dask"] if x["tol"] == r["chosen_tol"])
        done = {k: v for k, v in r["dask_ml"].items() if "time_s" in v}
        peer = min(done, key=lambda k: done[k]["time_s"]) if done else None
        mem = r["sce_memory"]
        table.append([r["problem"], f"{fmt_num(ours['time_s'])} ({ours['gap']:.0e})",
                      f"{peer} {fmt_num(done[peer]['time_s'])} ({done[peer]['gap']:.0e})" if peer else "-",
                      fmt_ratio(ours["time_s"] / done[peer]["time_s"]) if peer else "-",
                      fmt_num(mem["dask_s"]), fmt_num(mem["time_s"]), fmt_ratio(mem["dask_s"] / mem["time_s"]),
                      f"{ours['traffic']['tasks'] / max(ours['n_iter'], 1):.0f}",
                      f"{ours['traffic']['bytes'] / max(ours['n_iter'], 1) / 1e3:.0f} kB",
                      f"{100 * ours['client_memory'] / r['x_bytes']:.1f}%"])
        failed = [f"{k}: {v['error']}" for k, v in r["dask_ml"].items() if "error" in v]
        detail.append(f"{r['problem']}: sce {ours['solver']}, {ours['n_iter']} iterations at tol "
                      f"{ours['tol']:g}" + (f"; dask-ml failed ({'; '.join(failed)})" if failed else ""))
    md = ["### LogisticClassifier on a Dask LocalCluster (2 workers × 1 thread), seconds (gap)", "",
          markdown_table(["problem", "sce dask", "dask-ml fastest", "sce/dask-ml", "sce dask, paired",
                          "sce in-memory, paired", "dask/in-memory", "calls/iter", "bytes/iter",
                          "client peak / X"], table, align="lrlrrrrrrr"), "",
          paragraph("gap: relative objective gap to f*, the lowest objective any fit reached (scikit-learn's "
                    "L2 objective, C = 1). sce dask: the loosest tol reaching a gap <= 1e-6; dask-ml: its "
                    f"own stopping rule, one run. sce dask: median of {repeats} fits after an untimed one. "
                    f"paired: {max(repeats, PAIRED_REPEATS)} Dask and in-memory fits at that tol, alternating "
                    "(after an untimed in-memory fit), medians; their ratio is dask/in-memory. "
                    "bytes/iter: parameters sent and partial sums moved, counted as if "
                    "all crossed processes. dask-ml gets CSR problems as dense chunks (its intercept "
                    "column fails on sparse ones). client peak: the client's resident memory above its level "
                    "before the fit."), "", paragraph("; ".join(detail) + ".")]
    return finish_markdown(md, load, ("dask-ml", "dask-ml") if dask_ml is None else None)
