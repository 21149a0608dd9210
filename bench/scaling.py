"""Scaling suite: fit time against the number of rows n and of features d, sce's default fit
against scikit-learn's fastest solver, both to a relative objective gap <= 1e-6.

Series (synthetic, binary, C = 1 with intercept):
  dense rows    n = 1e3 ... 1e6 (--quick: 1e3, 1e4), 20 standard normal features, float64
  CSR rows      n = 1e3 ... 1e6 (--quick: 1e3, 1e4), 1000 features, 10 non-zeros per row
  dense columns d = 10 ... 3000 (--quick: 10, 100), n = 10000 (--quick: 2000)
sce runs with default settings (its fits end well below the gap); scikit-learn's lbfgs and
newton-cholesky (the latter up to 2000 parameters) each take the loosest tol of 1e-4, 1e-6, 1e-8
whose fit reaches the gap, and the faster of the two is the row's peer.  f* is the lowest
objective any fit reached, a tight sce fit included.  Times are medians of repeated fits (one fit
where a fit takes over a second).  The plot shows time against size on log axes with a line of
slope 1 (linear cost) for comparison.
"""
import time
import warnings

import numpy as np
import scipy.sparse as sp

import sce

from ._format import fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import Report, finish_markdown, load_summary, reset_load, settle, time_call

NAME = "scaling"
DESCRIPTION = "fit time against n and d, sce vs scikit-learn's fastest solver, at a gap of 1e-6"
PEERS = ()
GAP = 1e-6
TOLS = (1e-4, 1e-6, 1e-8)
SIZES = {"quick": ((1000, 10000), (10, 100), 2000),
         "default": ((1000, 10000, 100000, 1000000), (10, 100, 300, 1000, 3000), 10000)}


def _dense(n, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w = rng.standard_normal(d) * 2.0 / np.sqrt(d)
    return X, (X @ w + rng.logistic(size=n) > 0).astype(np.int64)


def _csr(n, d=1000, per_row=10, seed=0):
    rng = np.random.default_rng(seed)
    indices = np.sort(rng.integers(0, d, (n, per_row)), axis=1).ravel()
    X = sp.csr_matrix((rng.random(n * per_row) + 0.5, indices, np.arange(0, n * per_row + 1, per_row)),
                      shape=(n, d))
    X.sum_duplicates()
    w = rng.standard_normal(d) * 2.0 / np.sqrt(per_row)
    return X, (X @ w - np.median(X @ w) + rng.logistic(size=n) > 0).astype(np.int64)


def _objective(X, y):
    from sce._logistic_objective import LogisticObjective

    obj = LogisticObjective(X, y == 1, np.ones(X.shape[0]), 1.0, True, 2, None)

    def F(m):
        return obj.loss_grad(np.concatenate([np.ravel(m.coef_), np.ravel(m.intercept_)]).astype(np.float64))[0]
    return F


def _quiet_fit(make, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make().fit(X, y)


def _time(make, X, y):
    """(median seconds, fitted model): one fit when it takes over a second, else repeats."""
    t0 = time.perf_counter()
    m = _quiet_fit(make, X, y)
    first = time.perf_counter() - t0
    if first > 1.0:
        return first, m
    timing = time_call(lambda: _quiet_fit(make, X, y), repeats=5, warmup=0, estimate=first, budget=3.0,
                       min_repeats=1, max_repeats=15)
    return timing.median, m


def _point(X, y):
    """One size: sce's time and gap, the peer's (fastest solver reaching the gap) time and gap."""
    from sklearn.linear_model import LogisticRegression

    F = _objective(X, y)
    tight = F(_quiet_fit(lambda: sce.LogisticClassifier(tol=1e-8), X, y))
    settle("default")
    t_sce, m = _time(lambda: sce.LogisticClassifier(), X, y)
    f_sce = F(m)
    peers = {}
    n_params = X.shape[1] + 1
    for solver in ("lbfgs", "newton-cholesky"):
        if solver == "newton-cholesky" and n_params > 2000:
            continue
        for tol in TOLS:
            settle("default")
            t, m = _time(lambda s=solver, tol=tol: LogisticRegression(solver=s, tol=tol, max_iter=10000), X, y)
            peers[solver] = (t, F(m), tol)
            if F(m) - min(tight, f_sce) <= GAP * abs(tight):
                break
    f_star = min([tight, f_sce] + [v[1] for v in peers.values()])
    gap = {k: (v[1] - f_star) / abs(f_star) for k, v in peers.items()}
    reached = {k: v for k, v in peers.items() if gap[k] <= GAP} or peers
    best = min(reached, key=lambda k: reached[k][0])
    return {"sce_s": t_sce, "sce_gap": (f_sce - f_star) / abs(f_star), "peer": best,
            "peer_s": peers[best][0], "peer_gap": gap[best], "peer_tol": peers[best][2],
            "peers": {k: {"time_s": v[0], "gap": gap[k], "tol": v[2]} for k, v in peers.items()}}


def run(ctx):
    rows_n, cols_d, n_for_d = SIZES["quick" if ctx.quick else "default"]
    series = [("dense rows", "n", [(n, lambda n=n: _dense(n, 20)) for n in rows_n]),
              ("CSR rows", "n", [(n, lambda n=n: _csr(n)) for n in rows_n]),
              ("dense columns", "d", [(d, lambda d=d: _dense(n_for_d, d)) for d in cols_d])]
    reset_load()
    ctx.progress(NAME, sum(len(points) for _, _, points in series))
    results = []
    for name, axis, points in series:
        for size, make in points:
            with ctx.step(NAME, f"{name}, {axis} = {size:,}") as s:
                X, y = make()
                row = {"series": name, "axis": axis, "size": size, "shape": list(X.shape), **_point(X, y)}
                del X, y
                s.result = f"sce {fmt_num(row['sce_s'])} s, {row['peer']} {fmt_num(row['peer_s'])} s"
            results.append(row)
    load = load_summary()
    return Report(markdown=_markdown(results, load), results={"gap": GAP, "rows": results, "other_processes_cpu": load},
                  plot=lambda plt: _plot(plt, results))


def _markdown(rows, load):
    md = ["### Fit time against size, to a relative objective gap <= 1e-6 (seconds)", ""]
    table = [[r["series"], f"{r['shape'][0]:,} × {r['shape'][1]:,}", fmt_num(r["sce_s"]),
              f"{r['peer']} (tol {r['peer_tol']:g}) {fmt_num(r['peer_s'])}", fmt_ratio(r["sce_s"] / r["peer_s"]),
              f"{r['sce_gap']:.0e}", f"{r['peer_gap']:.0e}"] for r in rows]
    md.append(markdown_table(["series", "n × d", "sce", "fastest scikit-learn", "sce / sklearn", "gap sce",
                              "gap sklearn"], table, align="llrrrrr"))
    slower = [r for r in rows if r["sce_s"] > r["peer_s"]]
    md += ["", paragraph("sce was slower than scikit-learn's fastest solver at: "
                         + ", ".join(f"{r['series']} {r['axis']} = {r['size']:,}" for r in slower) + ".")
           if slower else "sce was faster than scikit-learn's fastest solver at every size."]
    return finish_markdown(md, load)


def _plot(plt, rows):
    names = list(dict.fromkeys(r["series"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 4))
    for ax, name in zip(np.atleast_1d(axes), names):
        pts = [r for r in rows if r["series"] == name]
        size = np.array([r["size"] for r in pts], dtype=float)
        ax.loglog(size, [r["sce_s"] for r in pts], "o-", label="sce (default)")
        ax.loglog(size, [r["peer_s"] for r in pts], "s--", label="scikit-learn, fastest solver")
        ref = pts[-1]["peer_s"] * size / size[-1]
        ax.loglog(size, ref, ":", color="gray", label="linear (slope 1)")
        ax.set_xlabel(pts[0]["axis"])
        ax.set_ylabel("seconds to a gap of 1e-6")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
