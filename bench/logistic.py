"""Logistic suite: sce.LogisticClassifier against scikit-learn's LogisticRegression (every applicable
solver) and, when installed, the optional peers scikit-learn-intelex and glum, compared at equal
final objective gap.

What is measured, per dataset and solver (details in bench/logistic_solvers.py):

  time to gap <= 1e-6   a tolerance sweep loose -> tight; the loosest tolerance that reaches the gap
                        is re-timed (median of repeats); "> t" when not reached within the caps.
  gap at default        the solver's default tol / max_iter.
  peak MB               tracemalloc peak during the selected (or default) fit.

plus one loss + gradient evaluation against one streaming read of X, and the default-settings fits
LogisticRegression() vs LogisticClassifier().  The objective, f* and the gap are defined in
bench/logistic_problems.py; tables and plot in bench/logistic_report.py.

Between libraries the suite sleeps briefly (spinning idle OpenBLAS / OpenMP / TBB workers of the
previous library otherwise slow the next one down) and samples meanwhile how many cores other
processes keep busy; the output says when they did (timings are then noisy).

Sizes: default make_classification 20000x100 and, with --data-dir, fashion_mnist's first 2500 rows
(float32 as stored); --full 200000x100 and all 60000 rows (float32 and float64); --quick 2000x100,
fashion_mnist's first 500 rows and 2000 evenly spaced rows of each larger real set, fewer
tolerances, short caps.
"""
import concurrent.futures
import math
import time
import warnings
from functools import partial

import scipy.sparse as sp

import sce
from sce._threads import effective_n_threads

from ._harness import Report, cpu_count, get_peer, load_summary, reset_load, settle
from .logistic_problems import GAP, NAME, REF, C, loss_grad_row, n_iter_of, params, prepare, x_bytes
from .logistic_problems import problems as make_problems
from .logistic_report import defaults_row, finalize, markdown, plot, summary_row
from .logistic_solvers import (
    CAPS,
    SLOW_SET_CAPS,
    Caps,
    default_fit,
    defaults_timing,
    peak_mb,
    selected_fit,
    specs_for,
    sweep,
)

DESCRIPTION = "LogisticClassifier vs sklearn LogisticRegression (all solvers) and peers at equal objective gap"
PEERS = ("scikit-learn-intelex", "glum")
DEFAULTS_KEYS = ("sklearn lbfgs", "sce auto")  # LogisticRegression() and LogisticClassifier()


def _versions(sklearnex_mod, glum_mod):
    import sklearn

    out = {"sklearn": sklearn.__version__, "sce": sce.__version__}
    if sklearnex_mod is not None:
        try:
            from importlib.metadata import version

            out["scikit-learn-intelex"] = version("scikit-learn-intelex")
        except Exception:
            out["scikit-learn-intelex"] = "?"
    if glum_mod is not None:
        out["glum"] = getattr(glum_mod, "__version__", "?")
    return out


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info

        ns = sorted({p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"})
        return "/".join(map(str, ns)) or "?"
    except Exception:
        return "?"


def run(ctx):
    mode = ctx.mode
    caps = CAPS[mode]
    if ctx.repeats:
        caps = Caps(**{**caps.__dict__, "repeats": ctx.repeats})
    n_all = cpu_count()
    sklearnex_lm = get_peer("scikit-learn-intelex")
    glum_mod = get_peer("glum")
    versions = _versions(sklearnex_lm, glum_mod)
    reset_load()
    probs = make_problems(ctx, mode)
    # steps: per problem its solvers, the loss+grad row and (once per group) the reference fit
    n_steps = sum(len(specs_for(p, mode, sklearnex_lm, glum_mod)[0]) + 1 for p in probs)
    ctx.progress(NAME, n_steps + len({p.group for p in probs}))

    datasets, lossgrad, defaults = [], [], []
    groups = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=n_all) if n_all > 1 else None
    try:
        for prob in probs:
            ds = _run_problem(ctx, prob, caps, mode, sklearnex_lm, glum_mod, groups)
            datasets.append(ds)
            with ctx.step(NAME, f"{prob.name}: loss+grad vs read of X") as s:
                settle(mode)
                row = loss_grad_row(prob, caps, mode, n_all, pool)
                lossgrad.append(row)
                s.result = f"{row[f'loss_grad_{n_all}t_s'] * 1e3:.3f} ms vs read {row['read_1t_s'] * 1e3:.3f} ms"
            prob.X = prob.X64 = prob.obj64 = None  # free memory before the next dataset
    finally:
        if pool is not None:
            pool.shutdown()
    # f* per group is the minimum over all fits of all its problems (fashion_mnist f32 and f64 share it)
    for ds in datasets:
        ds["f_star"] = groups[ds["group"]]["f_star"]
    for ds in datasets:
        finalize(ds)
        defaults.append(defaults_row(ds))
    summary = [summary_row(ds) for ds in datasets]
    load = load_summary()
    if load and load["share_over_0.5_core"] > 0.1:
        ctx.log(NAME, f"warning: other processes kept {load['mean_cores']:.2f} cores busy on average "
                      f"(max {load['max_cores']:.2f}): timings are noisy")
    results = {
        "other_processes_cpu": load,
        "mode": mode, "gap_target": GAP, "C": C, "versions": versions, "caps": caps.__dict__,
        "threads": _thread_info(n_all), "datasets": datasets, "summary": summary,
        "loss_grad": lossgrad, "defaults": defaults,
    }
    threads_text = (f"Threads: sce {effective_n_threads(None)} (its default: the usable cores); "
                    f"sklearn lbfgs / newton-cg / newton-cholesky use OpenBLAS ({_blas_threads()} "
                    "threads); liblinear and saga are single-threaded.")
    md = markdown(datasets, summary, lossgrad, defaults, mode, caps, versions, n_all, load, threads_text)
    return Report(markdown=md, results=results, plot=lambda plt: plot(plt, datasets))


def _thread_info(n_all):
    info = {"usable_cores": n_all, "sce": effective_n_threads(None)}
    try:
        from threadpoolctl import threadpool_info

        info["pools"] = [{k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "prefix")}
                         for p in threadpool_info()]
    except Exception:
        info["pools"] = None
    return info


def _run_problem(ctx, prob, caps, mode, sklearnex_lm, glum_mod, groups):
    if prob.slow and mode in SLOW_SET_CAPS:
        caps = Caps(**{**caps.__dict__, **SLOW_SET_CAPS[mode]})
    X = prob.X
    prepare(prob, effective_n_threads(None))
    shape = f"{X.shape[0]}×{X.shape[1]}"
    ds = {"name": prob.name, "key": prob.key, "kind": prob.kind, "group": prob.group, "note": prob.note,
          "n": X.shape[0], "d": X.shape[1], "classes": prob.n_classes, "dtype": prob.dtype,
          "format": "CSR" if sp.issparse(X) else "dense", "nnz": int(X.nnz) if sp.issparse(X) else None,
          "x_mb": x_bytes(X) / 1e6, "n_params": prob.n_params, "caps": caps.__dict__}
    # reference fit (float64 copy; shared by the problems of one group)
    group = groups.setdefault(prob.group, {"f_star": math.inf, "ref": None})
    if group["ref"] is None:
        with ctx.step(NAME, f"{prob.name} ({shape}, {prob.n_classes} classes): reference fit") as s:
            settle(mode)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                m = sce.LogisticClassifier(C=C, **REF).fit(prob.X64, prob.y)
                dt = time.perf_counter() - t0
            x = params(m)
            f = float(prob.obj64.loss_grad(x)[0])
            group["ref"] = {"x": x, "f": f, "time_s": dt, "n_iter": n_iter_of(m), **REF}
            s.result = f"f = {f:.10g}, {dt:.2f} s"
    prob.ref = group["ref"]
    prob.f_star = min(group["f_star"], prob.ref["f"])
    ds["ref"] = {k: v for k, v in prob.ref.items() if k != "x"}
    specs, skipped = specs_for(prob, mode, sklearnex_lm, glum_mod)
    ds["skipped"] = skipped
    solvers = []
    auto_solver = None
    for spec in specs:
        if spec.lib == "sce" and spec.solver == auto_solver:
            with ctx.step(NAME, f"{prob.name}: {spec.key} = sce auto's choice"):
                solvers.append({"key": spec.key, "lib": "sce", "solver": spec.solver, "same_as": "sce auto"})
            continue
        with ctx.step(NAME, f"{prob.name}: {spec.key}") as s:
            settle(mode)
            res = sweep(ctx, prob, spec, caps)
            if spec.key == "sce auto" and res["fits"]:
                auto_solver = res["auto_solver"] = res["fits"][0].get("solver_")
            res["default"] = res["peak_mb"] = None
            if res["fits"] and not res["status"].startswith("error") and not res["fallback"]:
                try:
                    slowest = max(f["time_s"] for f in res["fits"])
                    if spec.key in DEFAULTS_KEYS or slowest <= caps.fit_cap:
                        res["default"] = default_fit(prob, spec, res)
                    else:  # the default fit (tol 1e-4) would take longer than the cap as well
                        res["notes"].append(f"default fit not run (its sweep fits took > {caps.fit_cap:g} s)")
                    if spec.key in DEFAULTS_KEYS:
                        res["defaults_timing"] = defaults_timing(prob, spec, caps, res["default"], mode)
                    # peak memory of the selected fit, else of the default fit; a 5-iteration fit
                    # of the same settings when that is slow (the peak comes from the set-up and
                    # the per-iteration temporaries, not from the number of iterations)
                    sel = selected_fit(res)
                    tol, max_iter = (sel["tol"], sel["max_iter"]) if sel else (spec.default_tol, spec.default_max_iter)
                    t_mem = sel["time_s"] if sel else (res["default"] or {"time_s": slowest})["time_s"]
                    res["peak_5_iter"] = t_mem > caps.slow
                    if res["peak_5_iter"]:
                        max_iter = min(max_iter, 5)
                    res["peak_mb"] = peak_mb(partial(spec.make, tol, max_iter), prob)
                except Exception as exc:
                    res["warnings"].append(f"default / memory fit failed: {type(exc).__name__}: {exc}"[:200])
            sel = selected_fit(res)
            s.result = (f"gap ≤ {GAP:g} at tol {sel['tol']:g} in {sel['time_s']:.3g} s" if sel
                        else res["status"]) + f" ({len(res['fits'])} fits)"
        solvers.append(res)
        for fit in res["fits"]:
            prob.f_star = min(prob.f_star, fit["f"])
        for extra in (res.get("default"), res.get("defaults_timing")):
            if extra:
                prob.f_star = min(prob.f_star, extra["f"])
    group["f_star"] = prob.f_star
    ds["solvers"] = solvers
    return ds
