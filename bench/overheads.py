"""Overheads suite: what sce's safety costs around the kernels, and fits running concurrently.

  sparse check     the structure check of a CSR X (indices within [0, n_features), indptr
                   non-decreasing and ending within the arrays, canonical or not) that every fit
                   and prediction runs before a kernel indexes with X, against one default
                   LogisticClassifier().fit of the same X (a9a and reuters_moneyfx with --data-dir,
                   a synthetic CSR set always).
  concurrent fits  a joblib threading backend with as many jobs as usable cores, each job fitting
                   LogisticClassifier() (default n_threads: fits running at once share the cores),
                   n_threads=1, and n_threads=<cores> (every fit takes every core), against the same
                   fits one after another with the default.  Wall time of the whole batch.
"""
import numpy as np
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_classification
from sklearn.preprocessing import StandardScaler

import sce
from sce._sparse import check_csr

from ._data import available_datasets, binary_targets, load_dataset
from ._format import fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import Report, cpu_count, finish_markdown, load_summary, reset_load, settle, time_call

NAME = "overheads"
DESCRIPTION = "the sparse input check's share of a fit; concurrent fits in threads"
PEERS = ()

SPARSE_SETS = ("a9a", "reuters_moneyfx")


def _synthetic_csr(n, d, density, seed=0):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=rng, dtype=np.float64)
    w = rng.standard_normal(d)
    y = (X @ w + 0.3 * rng.standard_normal(n) > 0).astype(int)
    return X, y


def _sparse_problems(ctx):
    n = 2000 if ctx.quick else 50000
    out = [("synthetic CSR", *_synthetic_csr(n, 2000, 0.01))]
    for name in SPARSE_SETS:
        if name in available_datasets(ctx.data_dir):
            X, y, _, _ = load_dataset(name, ctx.data_dir)
            if ctx.quick:
                X, y = X[:: max(1, X.shape[0] // 2000)], y[:: max(1, X.shape[0] // 2000)]
            out.append((name, X, binary_targets(y)))
    return out


def _concurrent_problems(ctx):
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    n = 2000 if ctx.quick else 20000
    Xs, ys = make_classification(n, 100, n_informative=20, random_state=0)
    return [("digits", X, y), (f"synthetic {n}×100", Xs, ys)]


def _batch(X, y, n_jobs, n_fits, n_threads, sequential=False):
    from joblib import Parallel, delayed

    def fit():
        return sce.LogisticClassifier(n_threads=n_threads).fit(X, y)
    if sequential:
        return [fit() for _ in range(n_fits)]
    return Parallel(n_jobs=n_jobs, backend="threading")(delayed(fit)() for _ in range(n_fits))


def run(ctx):
    repeats = ctx.repeats or (3 if ctx.quick else 7)
    cores = cpu_count()
    reset_load()
    sparse_sets = _sparse_problems(ctx)
    concurrent = _concurrent_problems(ctx)
    ctx.progress(NAME, len(sparse_sets) + len(concurrent))
    check_rows = []
    for name, X, y in sparse_sets:
        with ctx.step(NAME, f"{name}: sparse check vs default fit") as s:
            settle(ctx.mode)
            t_check = time_call(lambda X=X: check_csr(X), repeats, budget=1.0).median
            t_fit = time_call(lambda X=X, y=y: sce.LogisticClassifier().fit(X, y), repeats,
                              budget=5.0).median
            check_rows.append({"dataset": name, "shape": f"{X.shape[0]}×{X.shape[1]}", "nnz": int(X.nnz),
                               "check_s": t_check, "fit_s": t_fit, "share": t_check / t_fit})
            s.result = f"{100 * t_check / t_fit:.2f}% of a fit"
    n_jobs = max(2, cores)
    n_fits = 2 * n_jobs
    conc_rows = []
    for name, X, y in concurrent:
        with ctx.step(NAME, f"{name}: {n_fits} fits, {n_jobs} threads") as s:
            settle(ctx.mode)
            row = {"dataset": name, "n_jobs": n_jobs, "n_fits": n_fits}
            for key, kw in (("sequential", {"n_threads": None, "sequential": True}),
                            ("default", {"n_threads": None}), ("one", {"n_threads": 1}),
                            ("all", {"n_threads": cores})):
                row[key + "_s"] = time_call(lambda kw=kw, X=X, y=y: _batch(X, y, n_jobs, n_fits, **kw), repeats,
                                            budget=10.0).median
            conc_rows.append(row)
            s.result = f"default {row['default_s'] * 1e3:.0f} ms, all cores each {row['all_s'] * 1e3:.0f} ms"
    load = load_summary()
    md = [
        "### Sparse input check vs one default fit", "",
        markdown_table(["dataset", "shape", "nnz", "check ms", "fit ms", "check / fit"],
                       [[r["dataset"], r["shape"], f"{r['nnz']:,}", fmt_num(r["check_s"] * 1e3),
                         fmt_num(r["fit_s"] * 1e3), f"{100 * r['share']:.2f}%"] for r in check_rows],
                       align="lllrrr"), "",
        f"### Concurrent fits in threads (joblib threading backend, {n_jobs} jobs)", "",
        markdown_table(["dataset", "fits", "one after another", "default", "n_threads=1",
                        f"n_threads={cores}", "default / n_threads=1"],
                       [[r["dataset"], str(r["n_fits"]), fmt_num(r["sequential_s"] * 1e3),
                         fmt_num(r["default_s"] * 1e3), fmt_num(r["one_s"] * 1e3),
                         fmt_num(r["all_s"] * 1e3), fmt_ratio(r["default_s"] / r["one_s"])]
                        for r in conc_rows], align="lrrrrrr"), "",
        paragraph("Wall time (ms) of the whole batch, median of repeats.  default: fits running at "
                  "once share the usable cores; n_threads given explicitly is used as given, so "
                  f"n_threads={cores} runs {n_jobs} x {cores} threads on {cores} cores."),
    ]
    return Report(markdown=finish_markdown(md, load),
                  results={"sparse_check": check_rows, "concurrent": conc_rows, "cores": cores,
                           "other_processes_cpu": load})
