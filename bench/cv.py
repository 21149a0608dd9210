"""CV suite: choosing C by 5-fold cross-validation, sce's LogisticClassifierCV against scikit-learn's
LogisticRegressionCV (its fastest solver of lbfgs / newton-cholesky, default tol) and against
GridSearchCV(LogisticRegression(), {"C": Cs}, cv=5, n_jobs=2), all with Cs = 10 values in
[1e-4, 1e4] and scoring="neg_log_loss".

Problems: a dense synthetic set, and with --data-dir a9a, w8a, reuters_moneyfx, ijcnn1 and, with
--full, fashion_mnist (10 classes; its first 10000 rows).  For every method: the wall time, the C
chosen, its mean CV score, and the largest relative objective gap of the path points of the first
fold against tight sce fits there.  The time is the median of up to 3 runs (one when the first takes
over REPEAT_BELOW_S seconds), and every method has made one untimed fit of a small problem before,
so that no row pays for a process's first call into a library or its thread or process pool.  An
L1 table does the same for l1_ratios=(1,) against liblinear and saga (smaller problems: saga is
slow).
"""
import time
import warnings

import numpy as np

import sce
from sce._logistic_objective import LogisticObjective
from sce._logistic_params import penalty_of

from ._data import available_datasets, load_dataset
from ._format import fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import Report, finish_markdown, load_summary, reset_load, settle

NAME = "cv"
DESCRIPTION = "LogisticClassifierCV vs LogisticRegressionCV and GridSearchCV (time, chosen C, path gaps)"
REAL_SETS = ("a9a", "w8a", "reuters_moneyfx", "ijcnn1", "fashion_mnist")
SCORING = "neg_log_loss"
REPEAT_BELOW_S = 2.0
CS = np.logspace(-4, 4, 10)  # the grid of every search


def _problems(ctx):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    n = 1500 if ctx.quick else 20000
    X, y = make_classification(n, 50, n_informative=10, random_state=0)
    out = [(f"synthetic {n}×50", np.ascontiguousarray(StandardScaler().fit_transform(X)), y)]
    # fashion_mnist only with --full: its path points at large C (raw pixels, 10 classes, nearly
    # separable) take minutes each to converge
    names = REAL_SETS[:1] if ctx.quick else REAL_SETS if ctx.full else REAL_SETS[:-1]
    for name in names:
        if name in available_datasets(ctx.data_dir):
            X, y, _, _ = load_dataset(name, ctx.data_dir)
            limit = 1500 if ctx.quick else (10000 if name == "fashion_mnist" else None)
            if limit is not None and X.shape[0] > limit:
                X, y = X[:limit], y[:limit]
            out.append((name, X.astype(np.float64), y))
    return out


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        out = fn()
        return out, time.perf_counter() - t0


class _PathGaps:
    """Relative objective gaps of path points of the first fold, against tight sce fits there (made
    once per C and objective, shared by the methods compared)."""

    def __init__(self, X, y, folds):
        train = folds[0][0]
        self.X, self.y = X[train], y[train]
        self.classes = np.unique(y)
        K = len(self.classes)
        self.targets = np.searchsorted(self.classes, self.y) if K > 2 else (self.y == self.classes[1])
        self.refs = {}

    def objective(self, C, l1_ratio, solver):
        penalty = penalty_of(C, l1_ratio, solver, True, 1.0)
        obj = LogisticObjective(self.X, self.targets, np.ones(len(self.y)), C, True, len(self.classes), None,
                                penalty)

        def F(coef, intercept):
            x = np.concatenate([np.asarray(coef, dtype=np.float64).ravel(), np.ravel(intercept)])
            l1 = 0.0 if obj.l1_weights is None else float(obj.l1_weights @ np.abs(x))
            return obj.loss_grad(x)[0] + l1
        return F

    def max_gap(self, Cs, paths, l1_ratio, solver="auto"):
        """paths (n_cs, K, d + 1), the intercept last."""
        gaps = []
        for C, W in zip(Cs, paths):
            F = self.objective(C, l1_ratio, solver)
            key = (C, l1_ratio, solver == "liblinear")
            if key not in self.refs:
                tight, _ = _quiet(lambda C=C: sce.LogisticClassifier(C=C, l1_ratio=l1_ratio, tol=1e-9, max_iter=300,
                                                                 solver=solver).fit(self.X, self.y))
                self.refs[key] = F(tight.coef_, tight.intercept_)
            ref = self.refs[key]
            # the reference may itself stop short on nearly separable data: the lowest value seen
            ref = self.refs[key] = min(ref, F(W[:, :-1], W[:, -1]))
            gaps.append((F(W[:, :-1], W[:, -1]) - ref) / abs(ref))
        return float(max(gaps))


def _timed_fit(make, X, y, repeats):
    """(model, median seconds) of make().fit(X, y) over ``repeats`` runs, one run when the first
    takes over REPEAT_BELOW_S seconds."""
    model, first = _quiet(lambda: make().fit(X, y))
    times = [first]
    while len(times) < repeats and first <= REPEAT_BELOW_S:
        times.append(_quiet(lambda: make().fit(X, y))[1])
    return model, float(np.median(times)), len(times)


def _methods(X, y, folds, l1):
    """{name: callable making the estimator} of the methods compared on (X, y)."""
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import GridSearchCV

    l1_ratios = (1.0,) if l1 else (0.0,)
    common = dict(Cs=CS, cv=folds, scoring=SCORING, l1_ratios=l1_ratios, use_legacy_attributes=False)
    fits = {"sce": lambda: sce.LogisticClassifierCV(**common)}
    n_classes = len(np.unique(y))
    n_params = (X.shape[1] + 1) * (n_classes if n_classes > 2 else 1)
    solvers = ("liblinear", "saga") if l1 else ("lbfgs", "newton-cholesky")
    # liblinear is binary only; newton-cholesky's dense Hessian solve is hopeless beyond a few
    # thousand parameters (fashion_mnist: 7850)
    solvers = tuple(s for s in solvers if (s != "liblinear" or n_classes == 2)
                    and (s != "newton-cholesky" or n_params <= 2000))
    for solver in solvers:
        fits[solver] = lambda solver=solver: LogisticRegressionCV(solver=solver, **common)
    if not l1:
        fits["GridSearchCV"] = lambda: GridSearchCV(LogisticRegression(), {"C": CS}, cv=folds, scoring=SCORING,
                                                    n_jobs=2)
    return fits


def _warm_up():
    """One untimed fit of every method on a small problem (imports, thread and process pools)."""
    from sklearn.datasets import make_classification
    from sklearn.model_selection import StratifiedKFold

    X, y = make_classification(300, 5, random_state=0)
    folds = list(StratifiedKFold(5).split(X, y))
    for l1 in (False, True):
        for make in _methods(X, y, folds, l1).values():
            _quiet(lambda make=make: make().fit(X, y))


def _fit_row(name, X, y, l1, ctx):
    from sklearn.model_selection import StratifiedKFold

    folds = list(StratifiedKFold(5).split(X, y))
    gaps = _PathGaps(X, y, folds)
    l1_ratios = (1.0,) if l1 else (0.0,)
    row = {"dataset": name, "shape": f"{X.shape[0]}×{X.shape[1]}", "penalty": "l1" if l1 else "l2", "fits": {}}
    repeats = ctx.repeats or (1 if ctx.quick else 3)
    for key, make in _methods(X, y, folds, l1).items():
        settle(ctx.mode)
        model, seconds, runs = _timed_fit(make, X, y, repeats)
        if key == "GridSearchCV":
            scores = model.cv_results_["mean_test_score"]
            C, gap = model.best_params_["C"], None
        else:
            scores = model.scores_.mean(axis=0)[0]
            C = model.C_
            gap = gaps.max_gap(CS, model.coefs_paths_[0, 0], l1_ratios[0],
                               "liblinear" if key == "liblinear" else "auto")
        best = int(np.argmin(np.abs(np.log(CS) - np.log(C))))
        row["fits"][key] = {"time_s": seconds, "runs": runs, "C": float(C), "C_index": best,
                            "score": float(scores[best]), "scores": [float(s) for s in scores], "max_path_gap": gap}
    peers = {k: v["time_s"] for k, v in row["fits"].items() if k not in ("sce", "GridSearchCV")}
    row["fastest_cv"] = min(peers, key=peers.get)
    return row


def run(ctx):
    reset_load()
    probs = _problems(ctx)
    l1_probs = [p for p in probs if p[0].startswith(("synthetic", "a9a"))][: 1 if ctx.quick else None]
    ctx.progress(NAME, len(probs) + len(l1_probs) + 1)
    with ctx.step(NAME, "warm-up: one small fit of every method"):
        _warm_up()
    rows = []
    for l1, plist in ((False, probs), (True, l1_probs)):
        for name, X, y in plist:
            with ctx.step(NAME, f"{name}: {'L1' if l1 else 'L2'} path") as s:
                row = _fit_row(name, X, y, l1, ctx)
                rows.append(row)
                s.result = ", ".join(f"{k} {fmt_num(v['time_s'])} s" for k, v in row["fits"].items())
    load = load_summary()
    return Report(markdown=_markdown(rows, load), results={"scoring": SCORING, "rows": rows,
                                                           "other_processes_cpu": load},
                  plot=lambda plt: _plot(plt, rows))


def _choice(ours, ref):
    """How sce's choice of C compares with the reference's: same, adjacent (with the CV score
    difference at sce's choice), or the index distance."""
    step = abs(ours["C_index"] - ref["C_index"])
    if step == 0:
        return "same"
    diff = abs(ours["score"] - ref["scores"][ours["C_index"]])
    return f"adjacent, Δscore {diff:.1e}" if step == 1 else f"{step} apart"


def _markdown(rows, load):
    md = []
    for penalty, title in (("l2", "L2 path"), ("l1", "L1 path")):
        table = []
        for r in (r for r in rows if r["penalty"] == penalty):
            f, peer = r["fits"], r["fastest_cv"]
            grid = f.get("GridSearchCV")
            table.append([r["dataset"], f"{peer} {fmt_num(f[peer]['time_s'])}", fmt_num(f["sce"]["time_s"]),
                          fmt_ratio(f["sce"]["time_s"] / f[peer]["time_s"]),
                          fmt_ratio(f["sce"]["time_s"] / grid["time_s"]) if grid else "-",
                          f"{f['sce']['C']:.3g} ({_choice(f['sce'], f[peer])})",
                          f"{f['sce']['max_path_gap']:.0e}", f"{f[peer]['max_path_gap']:.0e}"])
        if not table:
            continue
        md += [f"### LogisticClassifierCV(Cs=10, cv=5), {title}: time (s), chosen C, path gaps", "",
               markdown_table(["dataset", "fastest sklearn CV", "sce", "sce/CV", "sce/GridSearch", "sce's C",
                               "gap sce", "gap sklearn"], table, align="llrrrlrr"), ""]
    repeats = max(f["runs"] for r in rows for f in r["fits"].values())
    md += [paragraph(f"Median of up to {repeats} runs (one when the first took over {REPEAT_BELOW_S:g} s), after one "
                     f"untimed small fit of every method; scoring={SCORING!r}. sklearn CV: "
                     "LogisticRegressionCV with the faster of its "
                     "solvers (L2: lbfgs, newton-cholesky; L1: liblinear, saga), default tol. GridSearch: "
                     "GridSearchCV(LogisticRegression(), cv=5, n_jobs=2). sce's C against that of the fastest "
                     "sklearn CV. gap: the largest relative objective gap of the first fold's path points against "
                     "tight fits.")]
    md += ["", paragraph("All times: " + "; ".join(
        f"{r['dataset']} {r['penalty']}: " + ", ".join(f"{k} {fmt_num(v['time_s'])}" for k, v in r["fits"].items())
        for r in rows) + ".")]
    return finish_markdown(md, load)


def _plot(plt, rows):
    l2 = [r for r in rows if r["penalty"] == "l2"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for r in l2:
        line, = axes[0].semilogx(CS, r["fits"]["sce"]["scores"], "-o", ms=3, label=f"{r['dataset']} sce")
        peer = r["fits"][r["fastest_cv"]]
        axes[0].semilogx(CS, peer["scores"], "--x", ms=4, color=line.get_color(),
                         label=f"{r['dataset']} {r['fastest_cv']}")
    axes[0].set(xlabel="C", ylabel=f"mean CV score ({SCORING})", title="CV score against C")
    axes[0].legend(fontsize=6)
    names = [r["dataset"] for r in l2]
    x = np.arange(len(names))
    bars = (("sce", "sce"), (None, "sklearn CV (fastest)"), ("GridSearchCV", "GridSearchCV"))
    for i, (key, label) in enumerate(bars):
        times = [r["fits"][key or r["fastest_cv"]]["time_s"] for r in l2]
        axes[1].bar(x + (i - 1) * 0.27, times, width=0.27, label=label)
    axes[1].set_xticks(x, names, rotation=20, fontsize=7)
    axes[1].set(yscale="log", ylabel="seconds", title="Time of the search (Cs=10, cv=5)")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    return fig
