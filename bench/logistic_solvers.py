"""The logistic suite's solvers: which estimators run (sce, scikit-learn, and the optional peers
scikit-learn-intelex and glum), the tolerance sweep that finds each solver's time to reach the gap,
its default-settings fit, and its peak memory.

time to gap <= 1e-6   the solver is fitted with tolerances from loose to tight (sklearn, sklearnex,
                      glum: tol / gradient_tol 1e-2 ... 1e-10; sce: tol 1e-2, 1e-3, 1e-4 [, 1e-5,
                      1e-6]); the first fit runs at the solver's default max_iter, later ones with as
                      many iterations as fit in the per-fit time cap (a fit stopped by max_iter is
                      repeated with more).  The first (loosest) tolerance whose fit reaches the gap is
                      timed again (median of repeats; the sweep's single timing for slow fits).  A
                      sweep stops early when a fit exceeds the per-fit cap, the solver's time budget
                      would be exceeded, the iteration cap is hit, or the gap stalls ("> t" in the
                      tables: not reached, t = the longest fit tried, a lower bound).
gap at default        the solver's default tol / max_iter.
peak MB               tracemalloc peak (Python + numpy allocations) during a separate run of the
                      selected fit (else the default fit; a 5-iteration fit of those settings when
                      that fit is slow).  Memory malloc'ed in C by liblinear, oneDAL or tabmat is
                      not seen.
"""
import contextlib
import gc
import logging
import math
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import sce

from ._harness import settle, time_call
from .logistic_problems import GAP, C, n_iter_of, objective, rel_gap

TOLS = tuple(10.0 ** -k for k in range(2, 11))          # 1e-2 ... 1e-10
QUICK_TOLS = (1e-2, 1e-4, 1e-6, 1e-8)
SCE_TOLS = (1e-2, 1e-3, 1e-4)
SCE_EXTRA_TOLS = (1e-5, 1e-6)   # only when the first three do not reach the gap
QUICK_SCE_TOLS = (1e-2, 1e-4)
HESSIAN_MAX = 2000              # newton-cholesky only when the Hessian has at most this many rows
# the default run and --quick leave out digits' 650-row multinomial Hessian (seconds per fit)
DEFAULT_HESSIAN_MAX = {"quick": 300, "default": 600}


@dataclass
class Caps:
    fit_cap: float          # stop a sweep after a fit longer than this (s)
    budget: float           # a solver's sweep may take this long in total (s)
    slow: float             # fits longer than this are timed once (no repeats)
    rep_budget: float       # time_call budget for re-timing a selected fit
    extra_below: float      # after reaching the gap, add up to 2 curve points if the fit was faster
    repeats: int


CAPS = {
    "quick": Caps(fit_cap=0.3, budget=0.6, slow=0.1, rep_budget=0.2, extra_below=0.0, repeats=1),
    "default": Caps(fit_cap=1.5, budget=4.0, slow=0.5, rep_budget=1.0, extra_below=0.1, repeats=3),
    "full": Caps(fit_cap=25.0, budget=60.0, slow=3.0, rep_budget=8.0, extra_below=1.0, repeats=5),
}
# fashion_mnist (multinomial, 784 features) is the slow set: every solver there gets longer fits
SLOW_SET_CAPS = {"default": dict(fit_cap=4.0, budget=8.0), "full": dict(fit_cap=60.0, budget=150.0)}


class _SklearnexLog(logging.Handler):
    """Collects sklearnex's dispatch messages ('running accelerated version' / 'fallback to
    original Scikit-learn') while silencing its own stderr handler."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def _capture_sklearnex():
    lg = logging.getLogger("sklearnex")
    handler = _SklearnexLog()
    old = (lg.level, list(lg.handlers), lg.propagate)
    lg.handlers = [handler]
    lg.setLevel(logging.INFO)
    lg.propagate = False
    try:
        yield handler
    finally:
        lg.setLevel(old[0])
        lg.handlers = old[1]
        lg.propagate = old[2]


@dataclass
class Spec:
    key: str                # "sklearn lbfgs"
    lib: str                # sklearn / sklearnex / glum / sce
    solver: str
    make: object            # make(tol, max_iter) -> unfitted estimator
    tols: tuple
    max_iter: int           # upper bound of max_iter in the sweep
    default_tol: float = 1e-4
    default_max_iter: int = 100
    make_default: object = None
    extra_tols: tuple = ()
    notes: list = field(default_factory=list)


def specs_for(prob, mode, sklearnex_mod, glum_mod):
    """(specs to run, {key: reason} skipped) for one problem."""
    from sklearn.linear_model import LogisticRegression

    tols = QUICK_TOLS if mode == "quick" else TOLS
    sce_tols = QUICK_SCE_TOLS if mode == "quick" else SCE_TOLS
    specs, skipped = [], {}
    hess_max = DEFAULT_HESSIAN_MAX.get(mode, HESSIAN_MAX)
    big_hessian = prob.n_params > hess_max
    hess_reason = (f"skipped: Hessian of {prob.n_params} rows > {hess_max} (forming and factoring "
                   "it per Newton step is " + ("slow; --full runs it)" if hess_max < HESSIAN_MAX else "pathological)"))

    def sce_spec(solver):
        def make(tol, max_iter, solver=solver):
            return sce.LogisticClassifier(C=C, tol=tol, max_iter=max_iter, solver=solver)
        return Spec(f"sce {solver}", "sce", solver, make, sce_tols, 1000 if solver != "lbfgs" else 10000,
                    make_default=lambda solver=solver: sce.LogisticClassifier(solver=solver),
                    extra_tols=() if mode == "quick" else SCE_EXTRA_TOLS)

    specs.append(sce_spec("auto"))
    specs.append(sce_spec("newton-cg"))
    if big_hessian:
        skipped["sce newton-cholesky"] = hess_reason
    else:
        specs.append(sce_spec("newton-cholesky"))
    specs.append(sce_spec("lbfgs"))

    sk_solvers = ["lbfgs", "newton-cg", "newton-cholesky", "liblinear", "saga"]
    for solver in sk_solvers:
        key = f"sklearn {solver}"
        if solver == "newton-cholesky" and big_hessian:
            skipped[key] = hess_reason
            continue
        if solver == "liblinear" and not prob.binary:
            skipped[key] = "skipped: binary only (one-vs-rest for more classes)"
            continue
        max_iter = {"lbfgs": 10000, "newton-cg": 1000, "newton-cholesky": 1000, "liblinear": 10000,
                    "saga": 10000}[solver]

        def make(tol, max_iter, solver=solver):
            return LogisticRegression(C=C, solver=solver, tol=tol, max_iter=max_iter, random_state=0)
        spec = Spec(key, "sklearn", solver, make, tols, max_iter,
                    make_default=lambda solver=solver: LogisticRegression(solver=solver, random_state=0))
        if solver == "liblinear":
            spec.notes.append("penalizes the intercept (intercept_scaling=1)")
        specs.append(spec)

    if sklearnex_mod is not None:
        XLR = sklearnex_mod.LogisticRegression
        for solver in ("lbfgs", "newton-cg"):
            def make(tol, max_iter, solver=solver):
                return XLR(C=C, solver=solver, tol=tol, max_iter=max_iter)
            specs.append(Spec(f"sklearnex {solver}", "sklearnex", solver, make, tols,
                              10000 if solver == "lbfgs" else 1000,
                              make_default=lambda solver=solver: XLR(solver=solver)))
    if glum_mod is not None:
        if not prob.binary:
            skipped["glum"] = "skipped: no multinomial family"
        else:
            GLR = glum_mod.GeneralizedLinearRegressor
            alpha = 1.0 / (C * prob.X.shape[0])  # glum: mean deviance/2 + alpha/2 ||w||^2
            for solver in ("irls-ls", "lbfgs"):
                if solver == "irls-ls" and big_hessian:
                    skipped["glum irls-ls"] = hess_reason
                    continue

                def make(tol, max_iter, solver=solver):
                    return GLR(family="binomial", alpha=alpha, l1_ratio=0.0, solver=solver,
                               gradient_tol=tol, max_iter=max_iter)
                specs.append(Spec(f"glum {solver}", "glum", solver, make, tols,
                                  1000 if solver == "irls-ls" else 10000,
                                  make_default=lambda solver=solver: GLR(family="binomial", alpha=alpha,
                                                                        l1_ratio=0.0, solver=solver)))
    return specs, skipped


def fit_once(est, prob):
    """Fit once; returns (model, seconds, warnings, sklearnex messages)."""
    gc.collect()
    with warnings.catch_warnings(record=True) as wlist, _capture_sklearnex() as xlog:
        warnings.simplefilter("always")
        t0 = time.perf_counter()
        est.fit(prob.X, prob.y)
        dt = time.perf_counter() - t0
    from sklearn.exceptions import ConvergenceWarning

    notes = sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:160]}" for w in wlist
                    if not issubclass(w.category, (ConvergenceWarning, FutureWarning, DeprecationWarning))})
    return est, dt, notes, list(xlog.messages)


def fallback(messages):
    return any("fallback" in m for m in messages)

def timed(make, prob, caps, probe_time):
    """Median of repeats for a fit (fresh estimator per call); single timing for slow fits."""
    if probe_time > caps.slow or caps.repeats <= 1:
        return None

    def fn():
        with warnings.catch_warnings(), _capture_sklearnex():
            warnings.simplefilter("ignore")
            make().fit(prob.X, prob.y)

    # the fit just made with the same settings was the warm-up
    return time_call(fn, repeats=caps.repeats, warmup=0, estimate=probe_time, budget=caps.rep_budget,
                     min_repeats=1, max_repeats=caps.repeats)


def peak_mb(make, prob):
    gc.collect()
    with warnings.catch_warnings(), _capture_sklearnex():
        warnings.simplefilter("ignore")
        tracemalloc.start()
        try:
            make().fit(prob.X, prob.y)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    return peak / 1e6


def sweep(ctx, prob, spec, caps):
    """Fit spec with tolerances loose -> tight until the gap (against the provisional f*, the
    reference objective) is reached or a cap stops it.  Returns the solver's result dict."""
    fits, status = [], "not reached"
    selected = None
    warn_notes, fallback = set(), False
    t_start = time.perf_counter()
    # the first fit runs at the solver's default max_iter; later ones get about fit_cap seconds'
    # worth of iterations at the measured cost per iteration (within [default, spec.max_iter])
    max_iter = min(spec.max_iter, spec.default_max_iter)
    tols = list(spec.tols)
    best_gap, stall = math.inf, 0
    i = 0
    while i < len(tols):
        tol = tols[i]
        if fits:
            est_next = fits[-1]["time_s"] * 1.5
            if time.perf_counter() - t_start + est_next > caps.budget:
                status = f"not reached: budget {caps.budget:g} s"
                break
        try:
            model, dt, notes, xmsg = fit_once(spec.make(tol, max_iter), prob)
        except Exception as exc:  # a solver failing on a dataset is a result, not a crash
            status = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            break
        warn_notes.update(notes)
        if spec.lib == "sklearnex" and fallback(xmsg):
            fallback = True
        n_iter = n_iter_of(model)
        f = objective(prob, model)
        gap = rel_gap(f, prob.f_star)
        fits.append({"tol": tol, "max_iter": max_iter, "time_s": dt, "n_iter": n_iter, "f": f,
                     "repeats": 1, "extra": False, "solver_": getattr(model, "solver_", None)})
        if fallback:
            status = "falls back to sklearn (not accelerated): stopped"
            break
        if gap <= GAP:
            selected = fits[-1]
            selected["selected"] = True
            break
        if dt > caps.fit_cap:
            status = f"not reached: fit took {dt:.3g} s > cap {caps.fit_cap:g} s"
            break
        next_max_iter = max_iter
        if n_iter:
            next_max_iter = int(min(spec.max_iter, max(spec.default_max_iter, caps.fit_cap * n_iter / dt)))
        if n_iter is not None and n_iter >= max_iter:  # stopped by max_iter, not by its tolerance
            if next_max_iter > 1.2 * max_iter:
                max_iter = next_max_iter  # same tolerance again with more iterations
                continue
            status = f"not reached: iteration cap {max_iter}" + (" (time-limited)" if max_iter < spec.max_iter else "")
            break
        if gap > 0.9 * best_gap:
            stall += 1
            if stall >= 2:
                status = f"not reached: gap stalled at {gap:.1e}"
                break
        else:
            stall = 0
        best_gap = min(best_gap, gap)
        max_iter = next_max_iter
        i += 1
        if i == len(tols) and spec.extra_tols and tols[-1] > spec.extra_tols[-1]:
            tols.extend(spec.extra_tols)
    if selected is not None:
        timing = timed(lambda: spec.make(selected["tol"], selected["max_iter"]), prob, caps, selected["time_s"])
        if timing is not None:
            selected["probe_s"] = selected["time_s"]
            selected["time_s"] = timing.median
            selected["repeats"] = timing.repeats
        status = "reached"
        # a few more points for the gap-vs-time curve when cheap
        k = tols.index(selected["tol"]) + 1
        for tol in tols[k:k + 2]:
            if selected["time_s"] > caps.extra_below:
                break
            try:
                model, dt, notes, _ = fit_once(spec.make(tol, selected["max_iter"]), prob)
            except Exception:
                break
            fits.append({"tol": tol, "max_iter": selected["max_iter"], "time_s": dt, "n_iter": n_iter_of(model),
                         "f": objective(prob, model), "repeats": 1, "extra": True})
    return {"key": spec.key, "lib": spec.lib, "solver": spec.solver, "fits": fits, "status": status,
            "selected_tol": selected["tol"] if selected else None, "warnings": sorted(warn_notes),
            "fallback": fallback, "notes": list(spec.notes), "sweep_s": time.perf_counter() - t_start}


def selected_fit(res):
    return next((f for f in res["fits"] if f.get("selected")), None)


def default_fit(prob, spec, res):
    """The solver at its default tol / max_iter: reuse an identical sweep fit, else fit once."""
    for fit in res["fits"]:
        if (fit["tol"] == spec.default_tol and fit["max_iter"] >= spec.default_max_iter
                and fit["n_iter"] is not None and fit["n_iter"] < spec.default_max_iter):
            return {"time_s": fit["time_s"], "f": fit["f"], "n_iter": fit["n_iter"], "reused": True}
    model, dt, _, _ = fit_once(spec.make_default(), prob)
    return {"time_s": dt, "f": objective(prob, model), "n_iter": n_iter_of(model), "reused": False,
            "solver_": getattr(model, "solver_", None)}


def defaults_timing(prob, spec, caps, default, mode):
    """Default-settings fit (LogisticRegression() / LogisticClassifier()) timed with repeats
    (the single default fit already made, when it was slow)."""
    if default["time_s"] > caps.slow or caps.repeats <= 1:
        return {**default, "repeats": 1, "max_iter": spec.default_max_iter}
    settle(mode)
    timing = timed(spec.make_default, prob, caps, default["time_s"])
    return {**default, "time_s": timing.median, "repeats": timing.repeats, "max_iter": spec.default_max_iter}
