"""L1 suite: L1-penalized logistic regression, sce against scikit-learn's saga and liblinear (and
skglm when installed), at equal final objective.

Problems: a dense synthetic set (make_classification, 20 of 200 features informative) and, with
--data-dir, a9a, w8a, reuters_moneyfx and mushrooms (binary).  C is chosen per problem so that
5-20 % of the coefficients are non-zero at the optimum (a bisection on log C with tight sce fits).

Two objectives, each with its own reference (a tight sce fit, f* the lowest value any fit reached):
  standard   C sum_i l_i + ||w||_1, intercept not penalized (saga's, skglm's): sce vs saga, skglm
  liblinear  the same with the intercept penalized as liblinear does (intercept_scaling = 1):
             sce(solver="liblinear") vs liblinear
Every solver runs a tolerance sweep from loose to tight; "time to gap" is the median time of the
loosest tolerance whose fit reaches a relative objective gap <= 1e-6, "> t" when none did within
the caps.  "support" compares the non-zero pattern of that fit with the reference's.
"""
import time
import warnings

import numpy as np

import sce
from sce._logistic_objective import LogisticObjective
from sce._logistic_params import Penalty

from ._data import available_datasets, binary_targets, load_dataset
from ._format import fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import Report, finish_markdown, get_peer, load_summary, reset_load, settle, time_call

NAME = "l1"
DESCRIPTION = "L1 logistic regression vs scikit-learn saga / liblinear (and skglm) at equal gap"
PEERS = ("skglm",)
GAP = 1e-6
REAL_SETS = ("a9a", "w8a", "reuters_moneyfx", "mushrooms")
TOLS = {"sce": (1e-2, 1e-3, 1e-4, 1e-5), "saga": (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7),
        "liblinear": (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-8), "skglm": (1e-4, 1e-6, 1e-8)}
CAP = {"quick": 2.0, "default": 20.0, "full": 60.0}  # seconds one fit may take


def _problems(ctx):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    n = 2000 if ctx.quick else 20000
    X, y = make_classification(n, 200, n_informative=20, n_redundant=0, random_state=0)
    out = [(f"synthetic {n}×200", np.ascontiguousarray(StandardScaler().fit_transform(X)), y)]
    for name in REAL_SETS:
        if name in available_datasets(ctx.data_dir):
            X, y, _, _ = load_dataset(name, ctx.data_dir)
            y = binary_targets(y)
            if ctx.quick:
                rows = np.linspace(0, X.shape[0] - 1, 2000).astype(np.int64)
                X, y = X[rows], y[rows]
            out.append((name, X.astype(np.float64), y))
    return out


def _objective(X, y, C, liblinear):
    penalty = Penalty(C, 0.0, 1.0, 0.0, 1.0 if liblinear else 0.0)
    obj = LogisticObjective(X, y == y.max(), np.ones(X.shape[0]), C, True, 2, None, penalty)

    def F(coef, intercept):
        coef = np.asarray(coef.toarray() if hasattr(coef, "toarray") else coef, dtype=np.float64)
        x = np.concatenate([coef.ravel(), np.atleast_1d(np.asarray(intercept, dtype=np.float64))])
        return obj.loss_grad(x)[0] + float(obj.l1_weights @ np.abs(x))
    return F


def _choose_C(X, y):
    """C whose L1 solution has 5-20 % non-zero coefficients (aiming at 10 %)."""
    lo, hi = -4.0, 2.0  # C up to 100: beyond, reuters_moneyfx is nearly separable
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        m = sce.LogisticClassifier(C=10 ** mid, l1_ratio=1.0, tol=1e-6).fit(X, y)
        share = np.count_nonzero(m.coef_) / m.coef_.size
        if 0.05 <= share <= 0.2 and abs(share - 0.1) < 0.04:
            return 10 ** mid, share
        lo, hi = (mid, hi) if share < 0.1 else (lo, mid)
    return 10 ** mid, share


def _makers(C, liblinear, skglm, n):
    from sklearn.linear_model import LogisticRegression

    if liblinear:
        return {"sce": lambda tol: sce.LogisticClassifier(C=C, l1_ratio=1.0, solver="liblinear", tol=tol),
                "liblinear": lambda tol: LogisticRegression(C=C, l1_ratio=1.0, solver="liblinear", tol=tol,
                                                            max_iter=100000)}
    makers = {"sce": lambda tol: sce.LogisticClassifier(C=C, l1_ratio=1.0, tol=tol),
              "saga": lambda tol: LogisticRegression(C=C, l1_ratio=1.0, solver="saga", tol=tol, max_iter=100000)}
    if skglm is not None:
        # skglm's objective is the mean loss + alpha ||w||_1: the same minimizer for alpha = 1 / (C n)
        makers["skglm"] = lambda tol: skglm.SparseLogisticRegression(alpha=1.0 / (C * n), tol=tol, max_iter=1000)
    return makers


def _sweep(make, tols, X, y, F, f_ref, repeats, cap):
    """(seconds, gap, nnz pattern) of the loosest tolerance reaching GAP, or (None, best gap, None)."""
    best = np.inf
    for tol in tols:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = make(tol).fit(X, y)
        first = time.perf_counter() - t0
        gap = (F(m.coef_, m.intercept_) - f_ref) / abs(f_ref)
        best = min(best, gap)
        if gap <= GAP:
            if first < cap / 4:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    first = time_call(lambda tol=tol: make(tol).fit(X, y), repeats, warmup=0,
                                      estimate=first, budget=min(cap, 5.0)).median
            coef = m.coef_.toarray() if hasattr(m.coef_, "toarray") else m.coef_
            return first, gap, np.asarray(coef).ravel() != 0
        if first > cap:
            break
    return None, best, None


def run(ctx):
    repeats = ctx.repeats or (1 if ctx.quick else 3)
    cap = CAP[ctx.mode]
    skglm = get_peer("skglm")
    reset_load()
    probs = _problems(ctx)
    ctx.progress(NAME, 2 * len(probs))
    rows = []
    for name, X, y in probs:
        C, share = _choose_C(X, y)
        for liblinear in (False, True):
            kind = "liblinear" if liblinear else "standard"
            with ctx.step(NAME, f"{name}: {kind} objective, C = {C:.3g}") as s:
                settle(ctx.mode)
                F = _objective(X, y, C, liblinear)
                ref_model = sce.LogisticClassifier(C=C, l1_ratio=1.0, tol=1e-8, max_iter=1000,
                                                   solver="liblinear" if liblinear else "auto").fit(X, y)
                f_ref = F(ref_model.coef_, ref_model.intercept_)
                support_ref = np.asarray(ref_model.coef_).ravel() != 0
                row = {"dataset": name, "shape": f"{X.shape[0]}×{X.shape[1]}", "objective": kind, "C": C,
                       "nnz_share": float(support_ref.mean()), "fits": {}}
                for lib, make in _makers(C, liblinear, skglm, X.shape[0]).items():
                    t, gap, support = _sweep(make, TOLS[lib], X, y, F, f_ref, repeats, cap)
                    row["fits"][lib] = {"time_s": t, "gap": float(gap),
                                        "same_support": None if support is None else bool(
                                            np.array_equal(support, support_ref))}
                peers = {k: v["time_s"] for k, v in row["fits"].items() if k != "sce" and v["time_s"] is not None}
                row["fastest_peer"] = min(peers, key=peers.get) if peers else None
                rows.append(row)
                s.result = ", ".join(f"{k} {fmt_num(v['time_s']) if v['time_s'] else '-'} s"
                                     for k, v in row["fits"].items())
    load = load_summary()
    return Report(markdown=_markdown(rows, skglm, load),
                  results={"gap": GAP, "rows": rows, "other_processes_cpu": load})


def _markdown(rows, skglm, load):
    table = []
    for r in rows:
        ours = r["fits"]["sce"]
        peer = r["fastest_peer"]
        peer_t = r["fits"][peer]["time_s"] if peer else None
        ratio = fmt_ratio(ours["time_s"] / peer_t) if peer and ours["time_s"] else "-"
        table.append([r["dataset"], r["objective"], f"{r['C']:.3g}", f"{100 * r['nnz_share']:.1f}%",
                      f"{peer} {fmt_num(peer_t)}" if peer else "none reached the gap",
                      fmt_num(ours["time_s"]) if ours["time_s"] else f"not reached ({ours['gap']:.1e})",
                      ratio, {True: "same", False: "differs", None: "-"}[ours["same_support"]]])
    md = ["### Time to relative objective gap ≤ 1e-6 (s), L1 penalty", "",
          markdown_table(["dataset", "objective", "C", "non-zero", "fastest peer", "sce", "sce/peer", "support"],
                         table, align="lllrlrrl"), "",
          paragraph("standard: C Σℓᵢ + ‖w‖₁ with the intercept free (sce vs saga" + (", skglm" if skglm else "")
                    + "); liblinear: the intercept penalized as liblinear does (sce with solver='liblinear' vs "
                    "liblinear). support: sce's non-zero pattern against a tight reference fit's.")]
    others = [f"{r['dataset']} {r['objective']}: " + ", ".join(
        f"{k} {fmt_num(v['time_s']) if v['time_s'] else 'not reached'}" for k, v in r["fits"].items() if k != "sce")
        for r in rows]
    md += ["", paragraph("Every peer's time to the gap: " + "; ".join(others) + ".")]
    return finish_markdown(md, load, ("skglm", "skglm") if skglm is None else None)
