"""Logistic suite: sce.LogisticClassifier against scikit-learn's LogisticRegression (every applicable
solver) and, when importable, scikit-learn-intelex and glum, compared at equal final objective.

Objective (every library is asked for the same problem: L2 penalty, C = 1, unpenalized intercept,
unit sample weights):

    f(coef, intercept) = C * sum_i loss_i + 1/2 ||coef||^2

always evaluated in float64 with sce's LogisticObjective on a float64 copy of X.  f* is the lowest
objective seen for the problem over all fits, including a tight sce reference fit
(LogisticClassifier(tol=1e-7, solver="newton-cg", max_iter=1000) on the float64 copy); the relative
gap of a fit is (f - f*) / f*.

Per dataset and solver:

  time to gap <= 1e-6   the solver is fitted with tolerances from loose to tight (sklearn, sklearnex,
                        glum: tol / gradient_tol 1e-2 ... 1e-10; sce: tol 1e-2, 1e-3, 1e-4 [, 1e-5,
                        1e-6]); the first fit runs at the solver's default max_iter, later ones with
                        as many iterations as fit in the per-fit time cap (a fit stopped by max_iter
                        is repeated with more).  The first (loosest) tolerance whose fit reaches the
                        gap is timed again (median of repeats; a single timing for slow fits).  A
                        sweep stops early when a fit exceeds the per-fit cap, the solver's time
                        budget would be exceeded, the iteration cap is hit, or the gap stalls ("> t"
                        in the tables: not reached, t = the longest fit tried, a lower bound).
                        Every fit is a (time, gap) point of the gap-vs-time plot.
  gap at default        the solver's default tol / max_iter (sklearn LogisticRegression(solver=s),
                        LogisticClassifier(solver=s), ...).
  peak MB               tracemalloc peak (Python + numpy allocations, which numpy reports to
                        tracemalloc) during a separate run of the selected fit (or, when the gap was
                        not reached, the default fit; a 5-iteration fit of those settings when that
                        fit is slow).  Memory malloc'ed in C by liblinear, oneDAL or tabmat is not seen.

plus one loss + gradient evaluation (LogisticObjective.loss_grad, all cores and 1 thread) against one
streaming read of X, and the default-settings fits LogisticRegression() vs LogisticClassifier().
PASS/MISS lines for the targets (a benchmark, not a test).

Between libraries the suite sleeps 0.25 s (spinning idle OpenBLAS / OpenMP / TBB workers of the
previous library otherwise slow the next one down ~10x on 2 cores) and samples meanwhile how many
cores other processes keep busy; the output says when they did (timings are then noisy).

Sizes: default make_classification 50000x100 and fashion_mnist's first 10000 rows; --full 200000x100
and all 60000 rows; --quick 5000x100 and 3000 rows, fewer tolerances, short caps.
"""
import concurrent.futures
import contextlib
import gc
import logging
import math
import os
import time
import tracemalloc
import warnings
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

import sce
from sce._objectives import LogisticObjective
from sce._threads import effective_n_threads

from ._harness import (Report, available_datasets, cpu_count, fmt_num, fmt_ratio, load_dataset,
                       markdown_table, time_call)

NAME = "logistic"
DESCRIPTION = "LogisticClassifier vs sklearn LogisticRegression (all solvers), sklearnex, glum at equal objective gap"

GAP = 1e-6                      # the gap a fit must reach
C = 1.0
TOLS = tuple(10.0 ** -k for k in range(2, 11))          # 1e-2 ... 1e-10
QUICK_TOLS = (1e-2, 1e-4, 1e-6, 1e-8)
SCE_TOLS = (1e-2, 1e-3, 1e-4)
SCE_EXTRA_TOLS = (1e-5, 1e-6)   # only when the first three do not reach the gap
QUICK_SCE_TOLS = (1e-2, 1e-4)
HESSIAN_MAX = 2000              # newton-cholesky only when the Hessian has at most this many rows
REF = dict(tol=1e-7, solver="newton-cg", max_iter=1000)
DEFAULTS_KEYS = ("sklearn lbfgs", "sce auto")  # LogisticRegression() and LogisticClassifier()

SYNTH_D = 100
SYNTH_N = {"quick": 5_000, "default": 50_000, "full": 200_000}
FASHION_N = {"quick": 3_000, "default": 10_000, "full": 60_000}
REAL_SETS = ("a9a", "w8a", "ijcnn1", "reuters_moneyfx", "mushrooms", "banknote", "fashion_mnist")


@dataclass
class Caps:
    fit_cap: float          # stop a sweep after a fit longer than this (s)
    budget: float           # a solver's sweep may take this long in total (s)
    slow: float             # fits longer than this are timed once (no repeats)
    rep_budget: float       # time_call budget for re-timing a selected fit
    extra_below: float      # after reaching the gap, add up to 2 curve points if the fit was faster
    repeats: int


CAPS = {
    "quick": Caps(fit_cap=0.5, budget=1.0, slow=0.2, rep_budget=0.3, extra_below=0.0, repeats=1),
    "default": Caps(fit_cap=8.0, budget=16.0, slow=1.5, rep_budget=3.0, extra_below=0.3, repeats=3),
    "full": Caps(fit_cap=25.0, budget=60.0, slow=3.0, rep_budget=8.0, extra_below=1.0, repeats=5),
}
# fashion_mnist (multinomial, 784 features) is the slow set: every solver there gets longer fits
SLOW_SET_CAPS = {"default": dict(fit_cap=20.0, budget=40.0), "full": dict(fit_cap=60.0, budget=150.0)}

# Targets (issue "Benchmark (bench/logistic)"); times = time to reach gap <= 1e-6.
T_SYNTH_SKLEARN = {"float64": 0.25, "float32": 0.15}
T_SYNTH_SKLEARNEX = 0.5
T_LOSSGRAD_READ = 1.3
T_REAL_SKLEARN = 0.5
T_DEFAULTS = 0.3


# ----------------------------------------------------------------------------------------------
# Optional competitors
# ----------------------------------------------------------------------------------------------

def _optional(modname, env):
    if os.environ.get(env, "").strip().lower() in {"1", "true", "yes", "on"}:
        return None
    try:
        import importlib

        return importlib.import_module(modname)
    except Exception:  # ImportError, or a broken install (sklearnex checks its sklearn version)
        return None


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


# ----------------------------------------------------------------------------------------------
# Problems
# ----------------------------------------------------------------------------------------------

@dataclass
class Problem:
    name: str               # table label, e.g. "synthetic 50k×100 f64"
    key: str                # short key for JSON / files
    X: object
    y: np.ndarray           # 0/1 (binary) or 0..K-1 (multinomial), int64
    n_classes: int
    kind: str               # "synthetic", "bundled", "real"
    group: str              # problems of one group share the float64 objective (and f*)
    note: str = ""
    X64: object = None      # float64 copy used for the objective
    obj64: object = None
    f_star: float = math.inf
    ref: dict = None

    @property
    def dtype(self):
        return np.dtype(self.X.dtype).name

    @property
    def slow(self):
        return self.group == "fashion_mnist"

    @property
    def binary(self):
        return self.n_classes == 2

    @property
    def n_params(self):
        K = 1 if self.binary else self.n_classes
        return K * (self.X.shape[1] + 1)


def _encode(y):
    classes, y_enc = np.unique(np.asarray(y), return_inverse=True)
    return y_enc.astype(np.int64), classes.size


def _short_dtype(dt):
    return {"float64": "f64", "float32": "f32"}[np.dtype(dt).name]


def _fmt_n(n):
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def _synthetic(n, d=SYNTH_D):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=n, n_features=d, n_informative=50, n_redundant=10,
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    return np.ascontiguousarray(X), y


def _problems(ctx, mode):
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.preprocessing import StandardScaler

    probs = []
    n = SYNTH_N[mode]
    with ctx.step(NAME, f"data: make_classification {n}×{SYNTH_D}, standardized") as s:
        X, y = _synthetic(n)
        y_enc, k = _encode(y)
        for dt in (np.float64, np.float32):
            probs.append(Problem(f"synthetic {_fmt_n(n)}×{SYNTH_D} {_short_dtype(dt)}",
                                 f"synthetic_{_short_dtype(dt)}", np.ascontiguousarray(X, dtype=dt),
                                 y_enc, k, "synthetic", f"synthetic_{_short_dtype(dt)}"))
        s.result = f"{X.nbytes / 1e6:.0f} MB (f64)"
    for loader, key in ((load_breast_cancer, "breast_cancer"), (load_digits, "digits")):
        Xb, yb = loader(return_X_y=True)
        Xb = np.ascontiguousarray(StandardScaler().fit_transform(Xb))
        y_enc, k = _encode(yb)
        probs.append(Problem(key, key, Xb, y_enc, k, "bundled", key, note="standardized"))
    data_dir = ctx.data_dir
    have = set(available_datasets(data_dir))
    missing = [name for name in REAL_SETS if name not in have]
    if data_dir is not None and missing:
        ctx.log(NAME, f"not in {data_dir}: {', '.join(missing)} (skipped)")
    for name in REAL_SETS:
        if name not in have:
            continue
        with ctx.step(NAME, f"data: load {name}") as s:
            X, y, _, _ = load_dataset(name, data_dir)
            y_enc, k = _encode(y)
            if name == "fashion_mnist":
                m = min(FASHION_N[mode], X.shape[0])
                note = "X/255; " + ("all rows" if m == X.shape[0] else f"first {m} of {X.shape[0]} rows")
                X32 = np.ascontiguousarray(X[:m], dtype=np.float32)
                y_enc = y_enc[:m]
                probs.append(Problem(f"fashion_mnist {_fmt_n(m)} f32", "fashion_mnist_f32", X32, y_enc, k,
                                     "real", "fashion_mnist", note=note))
                probs.append(Problem(f"fashion_mnist {_fmt_n(m)} f64", "fashion_mnist_f64",
                                     X32.astype(np.float64), y_enc, k, "real", "fashion_mnist", note=note))
            else:
                probs.append(Problem(name, name, X, y_enc, k, "real", name, note="as given"))
            s.result = f"{X.shape[0]}×{X.shape[1]} {np.dtype(X.dtype).name}" + (" CSR" if sp.issparse(X) else "")
    return probs


def _x_bytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


# ----------------------------------------------------------------------------------------------
# Solvers
# ----------------------------------------------------------------------------------------------

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


def _specs(prob, mode, sklearnex_mod, glum_mod):
    """(specs to run, {key: reason} skipped) for one problem."""
    from sklearn.linear_model import LogisticRegression

    tols = QUICK_TOLS if mode == "quick" else TOLS
    sce_tols = QUICK_SCE_TOLS if mode == "quick" else SCE_TOLS
    specs, skipped = [], {}
    big_hessian = prob.n_params > HESSIAN_MAX
    hess_reason = (f"skipped: Hessian of {prob.n_params} rows > {HESSIAN_MAX} (forming and factoring "
                   "it per Newton step is pathological)")

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


def _params(model, prob):
    """Flat float64 [coef.ravel(), intercept] as LogisticObjective expects."""
    coef = np.asarray(model.coef_, dtype=np.float64).ravel()
    b = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64)).ravel()
    return np.concatenate([coef, b])


def _n_iter(model):
    n = getattr(model, "n_iter_", None)
    if n is None:
        return None
    return int(np.max(n))


_OTHERS = []  # cores kept busy by other processes, sampled while the suite sleeps in _settle


def _cpu_times():
    """(busy, total) jiffies of the machine and this process's own CPU jiffies (Linux)."""
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:9]]
    with open("/proc/self/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(vals) - vals[3] - vals[4], sum(vals), int(fields[11]) + int(fields[12])


def _settle(mode):
    """Let idle worker threads of the previous library go to sleep before timing the next one.

    OpenBLAS workers spin for a while after a BLAS call (and TBB / OpenMP workers after a parallel
    region); on 2 cores the next library's threads then share the cores with spinning threads and
    the first calls run ~10x slower.  A short sleep between libraries removes that cross-talk.
    Meanwhile it samples how many cores other processes keep busy (our own spinning threads
    excluded): timings taken while others compute are not to be trusted."""
    try:
        b0, t0, s0 = _cpu_times()
    except (OSError, ValueError, IndexError):
        b0 = None
    time.sleep(0.05 if mode == "quick" else 0.25)
    if b0 is not None:
        try:
            b1, t1, s1 = _cpu_times()
            if t1 > t0:
                _OTHERS.append(max(0.0, (b1 - b0) - (s1 - s0)) / (t1 - t0) * (os.cpu_count() or 1))
        except (OSError, ValueError, IndexError):
            pass


def _others_summary():
    if not _OTHERS:
        return None
    v = sorted(_OTHERS)
    return {"samples": len(v), "mean_cores": sum(v) / len(v), "max_cores": v[-1],
            "share_over_0.5_core": sum(1 for x in v if x > 0.5) / len(v)}


def _fit(est, prob):
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


def _fallback(messages):
    return any("fallback" in m for m in messages)


def _objective(prob, model):
    f, _ = prob.obj64.loss_grad(_params(model, prob))
    return float(f)


def _gap(f, f_star):
    return (f - f_star) / abs(f_star)


def _timed(make, prob, caps, probe_time):
    """Median of repeats for a fit (fresh estimator per call); single timing for slow fits."""
    if probe_time > caps.slow or caps.repeats <= 1:
        return None

    def fn():
        with warnings.catch_warnings(), _capture_sklearnex():
            warnings.simplefilter("ignore")
            make().fit(prob.X, prob.y)

    return time_call(fn, repeats=caps.repeats, warmup=1, budget=caps.rep_budget, min_repeats=1,
                     max_repeats=caps.repeats)


def _peak_mb(make, prob):
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


def _sweep(ctx, prob, spec, caps):
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
            model, dt, notes, xmsg = _fit(spec.make(tol, max_iter), prob)
        except Exception as exc:  # a solver failing on a dataset is a result, not a crash
            status = f"error: {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
            break
        warn_notes.update(notes)
        if spec.lib == "sklearnex" and _fallback(xmsg):
            fallback = True
        n_iter = _n_iter(model)
        f = _objective(prob, model)
        gap = _gap(f, prob.f_star)
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
        timing = _timed(lambda: spec.make(selected["tol"], selected["max_iter"]), prob, caps, selected["time_s"])
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
                model, dt, notes, _ = _fit(spec.make(tol, selected["max_iter"]), prob)
            except Exception:
                break
            fits.append({"tol": tol, "max_iter": selected["max_iter"], "time_s": dt, "n_iter": _n_iter(model),
                         "f": _objective(prob, model), "repeats": 1, "extra": True})
    return {"key": spec.key, "lib": spec.lib, "solver": spec.solver, "fits": fits, "status": status,
            "selected_tol": selected["tol"] if selected else None, "warnings": sorted(warn_notes),
            "fallback": fallback, "notes": list(spec.notes), "sweep_s": time.perf_counter() - t_start}


def _selected_fit(res):
    return next((f for f in res["fits"] if f.get("selected")), None)


def _default_fit(prob, spec, res):
    """The solver at its default tol / max_iter: reuse an identical sweep fit, else fit once."""
    for fit in res["fits"]:
        if (fit["tol"] == spec.default_tol and fit["max_iter"] >= spec.default_max_iter
                and fit["n_iter"] is not None and fit["n_iter"] < spec.default_max_iter):
            return {"time_s": fit["time_s"], "f": fit["f"], "n_iter": fit["n_iter"], "reused": True}
    model, dt, _, _ = _fit(spec.make_default(), prob)
    return {"time_s": dt, "f": _objective(prob, model), "n_iter": _n_iter(model), "reused": False,
            "solver_": getattr(model, "solver_", None)}


# ----------------------------------------------------------------------------------------------
# Loss + gradient vs one read of X
# ----------------------------------------------------------------------------------------------

def _reader(X, n_threads, pool):
    """A function doing one streaming read of X: dense, np.add.reduce over rows into a preallocated
    vector; CSR, np.add.reduce of data and of indices.  With n_threads > 1, row blocks in a thread
    pool (numpy releases the GIL in reductions)."""
    n = X.shape[0]
    bounds = np.linspace(0, n, n_threads + 1).astype(int)
    if sp.issparse(X):
        data, indices, indptr = X.data, X.indices, X.indptr

        def part(k):
            a, b = indptr[bounds[k]], indptr[bounds[k + 1]]
            return np.add.reduce(data[a:b]), np.add.reduce(indices[a:b])
    else:
        outs = [np.empty(X.shape[1], dtype=X.dtype) for _ in range(n_threads)]

        def part(k):
            return np.add.reduce(X[bounds[k]:bounds[k + 1]], axis=0, out=outs[k])
    if n_threads == 1:
        return lambda: part(0)
    return lambda: list(pool.map(part, range(n_threads)))


def _loss_grad_row(ctx, prob, caps, mode, n_all, pool):
    x = prob.ref["x"]
    budget = 0.2 if mode == "quick" else 1.0
    kw = dict(repeats=caps.repeats if mode != "quick" else 3, budget=budget, min_repeats=3, max_repeats=500)
    row = {"dataset": prob.name, "x_mb": _x_bytes(prob.X) / 1e6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for nt in sorted({n_all, 1}, reverse=True):
            y = prob.y.astype(np.float64) if prob.binary else prob.y
            obj = LogisticObjective(prob.X, y, np.ones(prob.X.shape[0]), C, True, prob.n_classes, nt)
            row[f"loss_grad_{nt}t_s"] = time_call(lambda: obj.loss_grad(x), **kw).median
            row[f"read_{nt}t_s"] = time_call(_reader(prob.X, nt, pool), **kw).median
    row["threads"] = n_all
    return row


# ----------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------

def _mode(ctx):
    return "quick" if ctx.quick else ("full" if ctx.full else "default")


def run(ctx):
    mode = _mode(ctx)
    caps = CAPS[mode]
    if ctx.repeats:
        caps = Caps(**{**caps.__dict__, "repeats": ctx.repeats})
    n_all = cpu_count()
    sklearnex_lm = _optional("sklearnex.linear_model", "SCE_BENCH_NO_SKLEARNEX")
    glum_mod = _optional("glum", "SCE_BENCH_NO_GLUM")
    if sklearnex_lm is None:
        ctx.log(NAME, "scikit-learn-intelex not importable (or SCE_BENCH_NO_SKLEARNEX set): skipped")
    if glum_mod is None:
        ctx.log(NAME, "glum not importable (or SCE_BENCH_NO_GLUM set): skipped")
    versions = _versions(sklearnex_lm, glum_mod)
    _OTHERS.clear()
    probs = _problems(ctx, mode)

    datasets, lossgrad, defaults = [], [], []
    groups = {}
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=n_all) if n_all > 1 else None
    try:
        for prob in probs:
            ds = _run_problem(ctx, prob, caps, mode, sklearnex_lm, glum_mod, groups)
            datasets.append(ds)
            with ctx.step(NAME, f"{prob.name}: loss+grad vs read of X") as s:
                _settle(mode)
                row = _loss_grad_row(ctx, prob, caps, mode, n_all, pool)
                lossgrad.append(row)
                s.result = (f"{row[f'loss_grad_{n_all}t_s'] * 1e3:.3f} ms vs read {row['read_1t_s'] * 1e3:.3f} ms")
            prob.X = prob.X64 = prob.obj64 = None  # free memory before the next dataset
    finally:
        if pool is not None:
            pool.shutdown()
    # f* per group is the minimum over all fits of all its problems (fashion_mnist f32 and f64 share it)
    for ds in datasets:
        ds["f_star"] = groups[ds["group"]]["f_star"]
    for ds in datasets:
        _finalize(ds)
        defaults.append(_defaults_row(ds))
    summary = [_summary_row(ds) for ds in datasets]
    targets = _targets(summary, lossgrad, defaults, n_all)
    load = _others_summary()
    if load and load["share_over_0.5_core"] > 0.1:
        ctx.log(NAME, f"warning: other processes kept {load['mean_cores']:.2f} cores busy on average "
                      f"(max {load['max_cores']:.2f}): timings are noisy")
    results = {
        "other_processes_cpu": load,
        "mode": mode, "gap_target": GAP, "C": C, "versions": versions, "caps": caps.__dict__,
        "threads": _thread_info(n_all), "datasets": datasets, "summary": summary,
        "loss_grad": lossgrad, "defaults": defaults, "target_checks": targets,
    }
    md = _markdown(datasets, summary, lossgrad, defaults, targets, mode, caps, versions, n_all, load)
    return Report(markdown=md, results=results, plot=lambda plt: _plot(plt, datasets))


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
    prob.X64 = X.astype(np.float64) if X.dtype != np.float64 else X
    y_obj = prob.y.astype(np.float64) if prob.binary else prob.y
    prob.obj64 = LogisticObjective(prob.X64, y_obj, np.ones(X.shape[0]), C, True, prob.n_classes,
                                   effective_n_threads(None))
    shape = f"{X.shape[0]}×{X.shape[1]}"
    ds = {"name": prob.name, "key": prob.key, "kind": prob.kind, "group": prob.group, "note": prob.note,
          "n": X.shape[0], "d": X.shape[1], "classes": prob.n_classes, "dtype": prob.dtype,
          "format": "CSR" if sp.issparse(X) else "dense", "nnz": int(X.nnz) if sp.issparse(X) else None,
          "x_mb": _x_bytes(X) / 1e6, "n_params": prob.n_params, "caps": caps.__dict__}
    # reference fit (float64 copy; shared by the problems of one group)
    group = groups.setdefault(prob.group, {"f_star": math.inf, "ref": None})
    if group["ref"] is None:
        with ctx.step(NAME, f"{prob.name} ({shape}, {prob.n_classes} classes): reference fit") as s:
            _settle(mode)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                t0 = time.perf_counter()
                m = sce.LogisticClassifier(C=C, **REF).fit(prob.X64, prob.y)
                dt = time.perf_counter() - t0
            x = _params(m, prob)
            f = float(prob.obj64.loss_grad(x)[0])
            group["ref"] = {"x": x, "f": f, "time_s": dt, "n_iter": _n_iter(m), **REF}
            s.result = f"f = {f:.10g}, {dt:.2f} s"
    prob.ref = group["ref"]
    prob.f_star = min(group["f_star"], prob.ref["f"])
    ds["ref"] = {k: v for k, v in prob.ref.items() if k != "x"}
    specs, skipped = _specs(prob, mode, sklearnex_lm, glum_mod)
    ds["skipped"] = skipped
    solvers = []
    auto_solver = None
    for spec in specs:
        if spec.lib == "sce" and spec.solver == auto_solver:
            solvers.append({"key": spec.key, "lib": "sce", "solver": spec.solver, "same_as": "sce auto"})
            continue
        with ctx.step(NAME, f"{prob.name}: {spec.key}") as s:
            _settle(mode)
            res = _sweep(ctx, prob, spec, caps)
            if spec.key == "sce auto" and res["fits"]:
                auto_solver = res["auto_solver"] = res["fits"][0].get("solver_")
            res["default"] = res["peak_mb"] = None
            if res["fits"] and not res["status"].startswith("error") and not res["fallback"]:
                try:
                    res["default"] = _default_fit(prob, spec, res)
                    if spec.key in DEFAULTS_KEYS:
                        res["defaults_timing"] = _defaults_timing(prob, spec, caps, res["default"], mode)
                    # peak memory of the selected fit, else of the default fit; a 5-iteration fit
                    # of the same settings when that is slow (the peak comes from the set-up and
                    # the per-iteration temporaries, not from the number of iterations)
                    sel = _selected_fit(res)
                    tol, max_iter = (sel["tol"], sel["max_iter"]) if sel else (spec.default_tol, spec.default_max_iter)
                    t_mem = sel["time_s"] if sel else res["default"]["time_s"]
                    if t_mem > caps.slow:
                        max_iter = min(max_iter, 5)
                        res["notes"].append("peak MB from a 5-iteration fit")
                    res["peak_mb"] = _peak_mb(lambda: spec.make(tol, max_iter), prob)
                except Exception as exc:
                    res["warnings"].append(f"default / memory fit failed: {type(exc).__name__}: {exc}"[:200])
            sel = _selected_fit(res)
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


def _defaults_timing(prob, spec, caps, default, mode):
    """Default-settings fit (LogisticRegression() / LogisticClassifier()) timed with repeats
    (the single default fit already made, when it was slow)."""
    if default["time_s"] > caps.slow or caps.repeats <= 1:
        return {**default, "repeats": 1, "max_iter": spec.default_max_iter}
    _settle(mode)
    timing = _timed(spec.make_default, prob, caps, default["time_s"])
    return {**default, "time_s": timing.median, "repeats": timing.repeats, "max_iter": spec.default_max_iter}


# ----------------------------------------------------------------------------------------------
# Post-processing: gaps, summary, targets
# ----------------------------------------------------------------------------------------------

def _finalize(ds):
    fs = ds["f_star"]
    ds["ref"]["gap"] = _gap(ds["ref"]["f"], fs)
    for res in ds["solvers"]:
        if "same_as" in res:
            continue
        for fit in res["fits"]:
            fit["gap"] = _gap(fit["f"], fs)
        if res.get("default"):
            res["default"]["gap"] = _gap(res["default"]["f"], fs)
        if res.get("defaults_timing"):
            res["defaults_timing"]["gap"] = _gap(res["defaults_timing"]["f"], fs)
        cands = [f for f in res["fits"] if not f["extra"] and f["gap"] <= GAP]
        best = min(cands, key=lambda f: f["time_s"]) if cands else None
        res["time_to_gap_s"] = best["time_s"] if best else None
        res["time_to_gap_tol"] = best["tol"] if best else None
        res["time_to_gap_n_iter"] = best["n_iter"] if best else None
        res["time_to_gap_repeats"] = best["repeats"] if best else None
        # lower bound when not reached: the longest fit that did not get there
        res["lower_bound_s"] = None if best else max((f["time_s"] for f in res["fits"]), default=None)
    by_key = {r["key"]: r for r in ds["solvers"]}
    for res in ds["solvers"]:
        if "same_as" in res:
            src = by_key[res["same_as"]]
            for k in ("time_to_gap_s", "time_to_gap_tol", "lower_bound_s", "peak_mb", "status"):
                res[k] = src.get(k)


def _best(ds, lib):
    rs = [r for r in ds["solvers"] if r["lib"] == lib and "same_as" not in r]
    reached = [r for r in rs if r.get("time_to_gap_s") is not None and not r.get("fallback")]
    if reached:
        r = min(reached, key=lambda r: r["time_to_gap_s"])
        return {"solver": r["solver"], "time_s": r["time_to_gap_s"], "reached": True}
    bounds = [r["lower_bound_s"] for r in rs if r.get("lower_bound_s") is not None and not r.get("fallback")]
    if bounds:  # none reached: the fastest is slower than the smallest of the longest tries
        return {"solver": None, "time_s": min(bounds), "reached": False}
    return None


def _summary_row(ds):
    sce_auto = next(r for r in ds["solvers"] if r["key"] == "sce auto")
    row = {"dataset": ds["name"], "kind": ds["kind"], "dtype": ds["dtype"],
           "sce_auto_solver": sce_auto.get("auto_solver"),
           "sce_s": sce_auto.get("time_to_gap_s"), "sce_lower_bound_s": sce_auto.get("lower_bound_s"),
           "sce_best": _best(ds, "sce"), "sklearn": _best(ds, "sklearn"),
           "sklearnex": _best(ds, "sklearnex"), "glum": _best(ds, "glum")}
    for lib in ("sklearn", "sklearnex", "glum"):
        b = row[lib]
        row[f"sce/{lib}"] = (row["sce_s"] / b["time_s"]) if (b and row["sce_s"] is not None) else None
    return row


def _defaults_row(ds):
    by_key = {r["key"]: r for r in ds["solvers"]}
    sk = by_key.get("sklearn lbfgs", {}).get("defaults_timing")
    sc = by_key.get("sce auto", {}).get("defaults_timing")
    row = {"dataset": ds["name"], "kind": ds["kind"], "dtype": ds["dtype"], "sklearn": sk, "sce": sc}
    row["ratio"] = sc["time_s"] / sk["time_s"] if (sk and sc) else None
    return row


def _status(ok):
    return "PASS" if ok else "MISS"


def _ratio_check(name, row, lib, limit, strict_slower=False):
    b = row[lib]
    if row["sce_s"] is None:
        return {"name": name, "status": "MISS", "detail": "sce auto did not reach the gap"}
    if b is None:
        return {"name": name, "status": "N/A", "detail": f"{lib} not run"}
    if not b["reached"]:
        # the competitor did not get there within its budget: its time is > lower bound
        ok = row["sce_s"] <= limit * b["time_s"]
        return {"name": name, "status": _status(ok),
                "detail": f"sce {fmt_num(row['sce_s'])} s; {lib} did not reach 1e-6 (> {fmt_num(b['time_s'])} s), "
                          f"ratio < {fmt_num(row['sce_s'] / b['time_s'])}"}
    r = row["sce_s"] / b["time_s"]
    detail = f"sce {fmt_num(row['sce_s'])} s vs {lib} {b['solver']} {fmt_num(b['time_s'])} s: {fmt_num(r)}×"
    if strict_slower and r > 1:
        detail += " — slower"
    return {"name": name, "status": _status(r <= limit), "detail": detail}


def _targets(summary, lossgrad, defaults, n_all):
    checks = []
    for row in summary:
        if row["kind"] == "synthetic":
            lim = T_SYNTH_SKLEARN[row["dtype"]]
            checks.append(_ratio_check(f"{row['dataset']}: time to gap ≤ {lim} × fastest sklearn", row, "sklearn", lim))
            if row["sklearnex"] is not None:
                checks.append(_ratio_check(f"{row['dataset']}: time to gap ≤ {T_SYNTH_SKLEARNEX} × sklearnex",
                                           row, "sklearnex", T_SYNTH_SKLEARNEX))
        else:
            c = _ratio_check(f"{row['dataset']}: time to gap ≤ {T_REAL_SKLEARN} × fastest sklearn, never slower",
                             row, "sklearn", T_REAL_SKLEARN, strict_slower=True)
            checks.append(c)
    for row in lossgrad:
        if not row["dataset"].startswith("synthetic"):
            continue
        r = row[f"loss_grad_{n_all}t_s"] / row["read_1t_s"]
        checks.append({"name": f"{row['dataset']}: one loss+grad ({n_all} threads) ≤ {T_LOSSGRAD_READ} × one read of X (1 thread)",
                       "status": _status(r <= T_LOSSGRAD_READ),
                       "detail": f"{row[f'loss_grad_{n_all}t_s'] * 1e3:.3f} ms vs {row['read_1t_s'] * 1e3:.3f} ms: {r:.2f}×"})
    for row in defaults:
        sk, sc = row["sklearn"], row["sce"]
        if not (sk and sc):
            continue
        ok = row["ratio"] <= T_DEFAULTS and sc["gap"] <= GAP
        checks.append({"name": f"{row['dataset']}: LogisticClassifier().fit ≤ {T_DEFAULTS} × LogisticRegression().fit, gap ≤ 1e-6",
                       "status": _status(ok),
                       "detail": f"{fmt_num(sc['time_s'])} s vs {fmt_num(sk['time_s'])} s: {fmt_num(row['ratio'])}×, "
                                 f"sce gap {_fmt_gap(sc['gap'])} (sklearn gap {_fmt_gap(sk['gap'])})"})
    return checks


# ----------------------------------------------------------------------------------------------
# Output
# ----------------------------------------------------------------------------------------------

def _fmt_gap(g):
    if g is None:
        return "–"
    if g <= 0:
        return "0"
    return f"{g:.1e}"


def _fmt_s(t):
    return "–" if t is None else fmt_num(t)


def _solver_label(res):
    label = res["key"]
    if res["key"] == "sce auto" and res.get("auto_solver"):
        label += f" (→ {res['auto_solver']})"
    return label


def _dataset_table(ds):
    headers = ["solver", "time to gap ≤ 1e-6 (s)", "at tol", "iters", "gap at default", "default fit (s)",
               "fits", "peak MB", "notes"]
    rows = []
    for res in ds["solvers"]:
        if "same_as" in res:
            rows.append([res["key"], _fmt_s(res.get("time_to_gap_s")), "–", "–", "–", "–", "–", "–",
                         f"= {res['same_as']}"])
            continue
        notes = []
        if res["time_to_gap_s"] is None:
            notes.append(res["status"])
        notes += res.get("notes", [])
        notes += [w for w in res.get("warnings", [])]
        t = res["time_to_gap_s"]
        tcell = _fmt_s(t) if t is not None else (f"> {fmt_num(res['lower_bound_s'])}" if res.get("lower_bound_s") else "–")
        d = res.get("default")
        rows.append([_solver_label(res), tcell, f"{res['time_to_gap_tol']:g}" if res["time_to_gap_tol"] else "–",
                     res.get("time_to_gap_n_iter") if res.get("time_to_gap_n_iter") is not None else "–",
                     _fmt_gap(d["gap"]) if d else "–", _fmt_s(d["time_s"]) if d else "–",
                     len(res["fits"]), _fmt_s(res.get("peak_mb")), "; ".join(notes)])
    for key, reason in ds["skipped"].items():
        rows.append([key, "–", "–", "–", "–", "–", 0, "–", reason])
    return markdown_table(headers, rows, align="lrrrrrrrl")


def _markdown(datasets, summary, lossgrad, defaults, targets, mode, caps, versions, n_all, load):
    synth = next(ds for ds in datasets if ds["kind"] == "synthetic")
    size_note = {"quick": "--quick: tiny sizes", "default": "default run; --full uses 200000×100",
                 "full": "--full"}[mode]
    vers = ", ".join(f"{k} {v}" for k, v in versions.items())
    missing = [lib for lib in ("scikit-learn-intelex", "glum") if lib not in versions]
    parts = [
        "L2-regularized logistic regression, C = 1, intercept, unit weights; objective "
        "f = C·Σℓᵢ + ½‖coef‖² evaluated in float64 (sce's LogisticObjective on a float64 copy of X). "
        "f* = the lowest objective over all fits of a dataset, including an sce reference fit "
        "(tol=1e-7, newton-cg); gap = (f − f*)/f*. **Time to gap ≤ 1e-6**: each solver is fitted with "
        "tolerances from loose to tight (sklearn / sklearnex tol, glum gradient_tol: "
        + ("1e-2, 1e-4, 1e-6, 1e-8" if mode == "quick" else "1e-2 … 1e-10")
        + "; sce tol: " + ("1e-2, 1e-4" if mode == "quick" else "1e-2, 1e-3, 1e-4, then 1e-5, 1e-6 if needed")
        + "), the loosest tolerance whose fit reaches the gap is re-timed "
        f"(median of up to {caps.repeats} after a warm-up; one timing for fits > {caps.slow:g} s). The first fit "
        "runs at the solver's default max_iter, later ones with as many iterations as fit in the per-fit cap "
        "(a fit stopped by max_iter is repeated with more). A sweep stops "
        f"after a fit > {caps.fit_cap:g} s, at {caps.budget:g} s per solver and dataset"
        + (f" (fashion_mnist: {SLOW_SET_CAPS[mode]['fit_cap']:g} s / {SLOW_SET_CAPS[mode]['budget']:g} s)"
           if mode in SLOW_SET_CAPS and any(ds["key"].startswith("fashion") for ds in datasets) else "")
        + ", at the iteration cap or when the gap stalls: \"> t\" = not reached, t the longest fit tried. "
        "\"gap at default\" = the solver's default tol / max_iter. peak MB = tracemalloc peak during the fit "
        "(Python + numpy allocations; malloc in liblinear / oneDAL / tabmat not seen). Lower is better everywhere.",
        "",
        f"Synthetic data: make_classification(n_features={SYNTH_D}, n_informative=50, n_redundant=10, "
        f"random_state=0), standardized, n = {synth['n']} ({size_note}). "
        + (f"fashion_mnist: {next(ds['note'] for ds in datasets if ds['key'].startswith('fashion'))}"
           + ("" if mode == "full" else " (--full: all 60000)") + ". "
           if any(ds["key"].startswith("fashion") for ds in datasets) else "")
        + f"Versions: {vers}."
        + (f" Not installed: {', '.join(missing)}." if missing else ""),
        "",
        f"Threads: sce {effective_n_threads(None)} (its default = usable cores, {n_all}); sklearn lbfgs / "
        "newton-cg / newton-cholesky use BLAS (OpenBLAS) with its default threads "
        f"({_blas_threads()}); liblinear and saga are single-threaded; sklearnex uses TBB on all cores, "
        "glum OpenMP with its default threads. Between libraries the suite sleeps briefly (0.25 s) so that spinning "
        "idle workers (OpenBLAS, OpenMP, TBB) of the previous one do not steal the cores."
        + (f" Cores busy with other processes (sampled in those pauses): mean {load['mean_cores']:.2f}, "
           f"max {load['max_cores']:.2f}"
           + (f"; **{load['share_over_0.5_core']:.0%} of the samples over half a core: other processes were "
              "running, timings are noisy**." if load["share_over_0.5_core"] > 0.1 else ".")
           if load else ""),
        "",
        "### Datasets",
        "",
        markdown_table(["dataset", "n×d", "classes", "dtype", "format", "X MB", "f*", "ref fit (s)", "note"],
                       [[ds["name"], f"{ds['n']}×{ds['d']}", ds["classes"], ds["dtype"],
                         ds["format"] + (f" (nnz {ds['nnz']})" if ds["nnz"] is not None else ""),
                         fmt_num(ds["x_mb"]), f"{ds['f_star']:.10g}", fmt_num(ds["ref"]["time_s"]), ds["note"]]
                        for ds in datasets], align="lrrllrrrl"),
    ]
    for ds in datasets:
        parts += ["", f"### {ds['name']}", "", _dataset_table(ds)]
    # summary
    rows = []
    tmap = {}
    for c in targets:
        tmap.setdefault(c["name"].split(":")[0], []).append(c["status"])
    for r in summary:
        def lib_cell(b):
            if b is None:
                return "–"
            return (f"{b['solver']} {fmt_num(b['time_s'])}" if b["reached"] else f"> {fmt_num(b['time_s'])}")
        sce_cell = _fmt_s(r["sce_s"]) if r["sce_s"] is not None else (
            f"> {fmt_num(r['sce_lower_bound_s'])}" if r["sce_lower_bound_s"] else "–")
        st = [s for s in tmap.get(r["dataset"], []) if s != "N/A"]
        rows.append([r["dataset"], lib_cell(r["sklearn"]), lib_cell(r["sklearnex"]), lib_cell(r["glum"]),
                     sce_cell, lib_cell(r["sce_best"]), _ratio_cell(r, "sklearn"), _ratio_cell(r, "sklearnex"),
                     ("MISS" if "MISS" in st else "PASS") if st else "–"])
    parts += ["", "### Summary: time to gap ≤ 1e-6 (s)", "",
              markdown_table(["dataset", "fastest sklearn", "fastest sklearnex", "fastest glum", "sce auto",
                              "fastest sce", "sce/sklearn", "sce/sklearnex", "targets"], rows, align="llllllrrl"),
              "", "sce/x = sce auto over the fastest solver of x; \"< r\" when x did not reach the gap "
              "(its time is a lower bound). targets = all PASS/MISS lines of the dataset below (incl. defaults)."]
    # loss + grad
    lg_rows = []
    for r in lossgrad:
        lg_rows.append([r["dataset"], fmt_num(r["x_mb"]), fmt_num(r[f"loss_grad_{n_all}t_s"] * 1e3),
                        fmt_num(r["loss_grad_1t_s"] * 1e3), fmt_num(r["read_1t_s"] * 1e3),
                        fmt_num(r[f"read_{n_all}t_s"] * 1e3),
                        fmt_ratio(r[f"loss_grad_{n_all}t_s"] / r["read_1t_s"]),
                        fmt_ratio(r["loss_grad_1t_s"] / r["read_1t_s"]),
                        fmt_ratio(r[f"loss_grad_{n_all}t_s"] / r[f"read_{n_all}t_s"]),
                        f"{r['x_mb'] / 1e3 / r['read_1t_s']:.1f}"])
    parts += ["", "### One loss + gradient evaluation vs one streaming read of X (ms)", "",
              markdown_table(["dataset", "X MB", f"loss+grad {n_all}t", "loss+grad 1t", "read 1t",
                              f"read {n_all}t", f"lg {n_all}t / read 1t", "lg 1t / read 1t",
                              f"lg {n_all}t / read {n_all}t", "read 1t GB/s"], lg_rows),
              "", "loss+grad = `LogisticObjective(X, ...).loss_grad(x)` at the reference solution, X in the dataset's "
              "own dtype (as the fit sees it). read = dense: `np.add.reduce(X, axis=0, out=v)` (every element once, "
              "into a preallocated vector); CSR: `np.add.reduce(X.data)` + `np.add.reduce(X.indices)`; "
              f"{n_all}t = row blocks in {n_all} Python threads (numpy releases the GIL)."]
    # defaults
    d_rows = []
    for r in defaults:
        sk, sc = r["sklearn"], r["sce"]
        if not (sk and sc):
            continue
        d_rows.append([r["dataset"], fmt_num(sk["time_s"]), _fmt_gap(sk["gap"]),
                       f"{sk['n_iter']}" + (" (max_iter)" if sk["n_iter"] is not None and sk["n_iter"] >= sk["max_iter"] else ""),
                       fmt_num(sc["time_s"]), _fmt_gap(sc["gap"]),
                       f"{sc['n_iter']}" + (" (max_iter)" if sc["n_iter"] is not None and sc["n_iter"] >= sc["max_iter"] else ""),
                       fmt_ratio(r["ratio"])])
    parts += ["", "### Default settings: LogisticRegression().fit vs LogisticClassifier().fit", "",
              markdown_table(["dataset", "sklearn (s)", "sklearn gap", "sklearn iters", "sce (s)", "sce gap",
                              "sce iters", "sce/sklearn"], d_rows),
              "", f"Median of up to {caps.repeats} after a warm-up (one timing for fits > {caps.slow:g} s)."]
    parts += ["", "### Targets (benchmark, not a test)", ""]
    parts += [f"- {c['status']}: {c['name']} ({c['detail']})" for c in targets]
    return "\n".join(parts) + "\n"


def _ratio_cell(r, lib):
    b = r[lib]
    if b is None or r["sce_s"] is None:
        return "–"
    v = r["sce_s"] / b["time_s"]
    return fmt_ratio(v) if b["reached"] else f"< {fmt_ratio(v)}"


def _blas_threads():
    try:
        from threadpoolctl import threadpool_info

        ns = sorted({p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"})
        return "/".join(map(str, ns)) or "?"
    except Exception:
        return "?"


# one colour per solver; line style per library
_STYLE = {
    "sce auto": ("#08306b", "o"), "sce newton-cg": ("#2171b5", "s"), "sce newton-cholesky": ("#4292c6", "^"),
    "sce lbfgs": ("#6baed6", "v"),
    "sklearn lbfgs": ("#e6550d", "o"), "sklearn newton-cg": ("#a63603", "s"),
    "sklearn newton-cholesky": ("#fd8d3c", "^"), "sklearn liblinear": ("#d62728", "D"),
    "sklearn saga": ("#8c564b", "P"),
    "sklearnex lbfgs": ("#31a354", "o"), "sklearnex newton-cg": ("#74c476", "s"),
    "glum irls-ls": ("#756bb1", "o"), "glum lbfgs": ("#bc80bd", "s"),
}
_LINE = {"sce": ("-", 2.2), "sklearn": ("--", 1.3), "sklearnex": (":", 1.6), "glum": ("-.", 1.3)}


def _plot(plt, datasets):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import NullFormatter

    n = len(datasets)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows), squeeze=False)
    styles = {}
    for ax, ds in zip(axes.ravel(), datasets):
        for res in ds["solvers"]:
            if "same_as" in res or not res["fits"]:
                continue
            # in sweep order (loose -> tight tolerance)
            pts = [(f["time_s"], max(f["gap"], 1e-16)) for f in sorted(res["fits"], key=lambda f: -f["tol"])]
            color, marker = _STYLE.get(res["key"], ("k", "x"))
            ls, lw = _LINE.get(res["lib"], ("-", 1))
            styles.setdefault(res["key"], dict(color=color, marker=marker, ls=ls, lw=lw))
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ms=4, alpha=0.9, **styles[res["key"]])
        ax.axhline(GAP, color="red", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(5e-17, None)
        ax.set_title(f"{ds['name']} ({ds['n']}×{ds['d']}, {ds['classes']} cl.)", fontsize=9)
        ax.grid(True, which="major", alpha=0.35)
        ax.tick_params(labelsize=8)
        ax.xaxis.set_minor_formatter(NullFormatter())
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("relative objective gap", fontsize=8)
    for ax in axes[-1, :]:
        ax.set_xlabel("fit time (s)", fontsize=8)
    order = list(_STYLE)
    handles = [Line2D([], [], **styles[key], label=key)
               for key in sorted(styles, key=lambda k: order.index(k) if k in order else len(order))]
    handles.append(Line2D([], [], color="red", ls=":", label="gap 1e-6"))
    fig.legend(handles=handles, loc="lower center", ncol=min(6, len(handles)), frameon=False,
               bbox_to_anchor=(0.5, -0.02 - 0.025 * math.ceil(len(handles) / 6)), fontsize=8)
    fig.suptitle("Objective gap vs fit time, one point per tolerance (lower left is better; gaps < 1e-16 drawn at 1e-16)")
    fig.tight_layout()
    return fig
