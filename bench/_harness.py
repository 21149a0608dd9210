"""Shared benchmark machinery: timing, thread control, optional dependencies, output, datasets.

Every suite (bench/kernels.py, later bench/logistic.py, bench/mlp.py) is a module with

    NAME = "kernels"
    DESCRIPTION = "one line"
    def run(ctx: Context) -> Report

and is listed in ``bench.SUITES``.  The suite measures, reporting progress through ``ctx.step``;
the entry point (bench/__main__.py) prints ``Report.markdown`` to stdout and writes
``<out>/<NAME>.json`` (results + machine info) and ``<out>/<NAME>.png`` (when matplotlib is there).
"""
import contextlib
import datetime
import gc
import importlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------------------------
# Optional dependencies (torch, matplotlib).  SCE_BENCH_NO_TORCH=1 / SCE_BENCH_NO_MATPLOTLIB=1
# make the harness behave as if they were not installed.
# ----------------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_optional_cache = {}


def _disabled(var):
    return os.environ.get(var, "").strip().lower() in _TRUE


def get_torch():
    """The torch module, or None when it is not installed or SCE_BENCH_NO_TORCH is set."""
    if "torch" not in _optional_cache:
        mod = None
        if not _disabled("SCE_BENCH_NO_TORCH"):
            try:
                mod = importlib.import_module("torch")
            except ImportError:
                mod = None
        _optional_cache["torch"] = mod
    return _optional_cache["torch"]


def get_pyplot():
    """matplotlib.pyplot on the Agg backend, or None (not installed / SCE_BENCH_NO_MATPLOTLIB)."""
    if "pyplot" not in _optional_cache:
        plt = None
        if not _disabled("SCE_BENCH_NO_MATPLOTLIB"):
            try:
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot as plt
            except ImportError:
                plt = None
        _optional_cache["pyplot"] = plt
    return _optional_cache["pyplot"]


# ----------------------------------------------------------------------------------------------
# Threads
# ----------------------------------------------------------------------------------------------

def cpu_count():
    """Cores this process may run on (sched_getaffinity), the 'all threads' of the benchmarks."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


@contextlib.contextmanager
def limit_threads(n_threads):
    """Run the block with numpy/scipy BLAS + OpenMP pools and torch's intra-op pool at n_threads.

    sce calls should still pass ``n_threads=`` explicitly; this limits everything else.
    """
    from threadpoolctl import threadpool_limits

    torch = _optional_cache.get("torch")  # only touch torch if a suite already imported it
    old_torch = None
    if torch is not None:
        old_torch = torch.get_num_threads()
        torch.set_num_threads(int(n_threads))
    try:
        with threadpool_limits(limits=int(n_threads)):
            yield
    finally:
        if torch is not None:
            torch.set_num_threads(old_torch)


# ----------------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------------

@dataclass
class Timing:
    """Wall-clock seconds of repeated calls; ``median`` is the number to report."""

    times: list
    warmup: float

    @property
    def median(self):
        return statistics.median(self.times)

    @property
    def min(self):
        return min(self.times)

    @property
    def repeats(self):
        return len(self.times)

    def as_dict(self, per=None):
        """JSON form; with per=n also the median in ns per element."""
        d = {"median_s": self.median, "min_s": self.min, "max_s": max(self.times),
             "repeats": self.repeats, "warmup_s": self.warmup}
        if per:
            d["ns_per_elem"] = self.median / per * 1e9
        return d


def time_call(fn, repeats=7, *, warmup=1, budget=None, min_repeats=3, max_repeats=None, setup=None):
    """Median-of-repeats timing of ``fn()`` with time.perf_counter, after ``warmup`` untimed calls.

    repeats      nominal number of timed calls.
    budget       seconds a measurement may take: an expensive call runs fewer repeats (never below
                 min_repeats); a cheap one runs more, up to max_repeats (default: repeats), to cut
                 noise.  The warm-up call's time is the estimate.
    setup        called (untimed) before every call, e.g. to reset a gradient.
    GC is disabled while timing, as in timeit.
    """
    t_warm = 0.0
    for _ in range(max(1, warmup)):
        if setup is not None:
            setup()
        t0 = time.perf_counter()
        fn()
        t_warm = time.perf_counter() - t0
    n = repeats
    if budget is not None and t_warm > 0:
        fit = int(budget // t_warm)
        if fit > n and max_repeats:
            n = min(fit, max_repeats)
        elif fit < n:
            n = max(min_repeats, fit)
    n = max(1, n)
    times = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(n):
            if setup is not None:
                setup()
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(times=times, warmup=t_warm)


# ----------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------

def fmt_num(x, digits=3):
    """A float with ~`digits` significant digits, fixed-point; None/NaN -> an en dash."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    ax = abs(x)
    if ax == 0:
        return "0"
    if ax >= 10 ** (digits - 1):
        return f"{x:.0f}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(ax))))
    return f"{x:.{decimals}f}"


def fmt_ratio(x):
    return "–" if x is None else f"{fmt_num(x)}×"


def fmt_count(n):
    """1e5 for powers of ten, otherwise 3e7-style or the plain integer."""
    n = int(n)
    if n > 0:
        e = int(round(math.log10(n)))
        if 10 ** e == n and e >= 3:
            return f"1e{e}"
        m = n / 10 ** e
        if e >= 3 and m == int(m):
            return f"{int(m)}e{e}"
    return str(n)


def markdown_table(headers, rows, align=None):
    """A GitHub Markdown table. align: string of 'l'/'r' per column (default: first l, rest r)."""
    if align is None:
        align = "l" + "r" * (len(headers) - 1)
    cells = [[str(c) for c in headers]] + [["–" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r):
        return "| " + " | ".join(
            c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)
        ) + " |"

    sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
                         for w, a in zip(widths, align)) + "|"
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


# ----------------------------------------------------------------------------------------------
# Machine information
# ----------------------------------------------------------------------------------------------

def _cpu_model():
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.lower().startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _version(modname):
    try:
        mod = importlib.import_module(modname)
    except ImportError:
        return None
    return getattr(mod, "__version__", "?")


def _git_state():
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head or None, "dirty": bool(dirty)}


def machine_info():
    """CPU, cores, library versions, sce build facts, date — stored with every JSON result."""
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cores_usable": cpu_count(),
        "cores_total": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            "sce": _version("sce"),
            "numpy": np.__version__,
            "scipy": _version("scipy"),
            "sklearn": _version("sklearn"),
            "threadpoolctl": _version("threadpoolctl"),
            "torch": getattr(get_torch(), "__version__", None),
            "matplotlib": _version("matplotlib") if get_pyplot() is not None else None,
        },
        "git": _git_state(),
        "env": {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OMP_PROC_BIND", "OMP_WAIT_POLICY",
                                           "SCE_DATA_DIR", "SCE_BENCH_NO_TORCH") if k in os.environ},
    }
    try:
        from sce import _core

        info["sce_openmp"] = bool(_core.has_openmp())
    except (ImportError, AttributeError):
        info["sce_openmp"] = None
    try:
        from sce import _core

        info["sce_simd_path"] = str(_core.simd_path())
    except (ImportError, AttributeError):
        info["sce_simd_path"] = None
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "prefix")}
            for p in threadpool_info()
        ]
    except Exception:  # informational only
        info["threadpools"] = None
    return info


def machine_summary(info):
    v = info["versions"]
    return (f"{info['cpu_model']}, {info['cores_usable']} usable cores; sce {v['sce']}"
            + (f" ({info['sce_simd_path']})" if info.get("sce_simd_path") else "") + f", numpy {v['numpy']}, "
            f"scipy {v['scipy']}, torch {v['torch'] or 'not installed'}; {info['date']}")


# ----------------------------------------------------------------------------------------------
# Run context, progress, output
# ----------------------------------------------------------------------------------------------

@dataclass
class Report:
    """What a suite hands back.

    markdown  printed to stdout (tables + target lines).
    results   JSON-serialisable; written to <out>/<name>.json together with machine info.
    plot      optional callable(plt) -> matplotlib Figure, saved to <out>/<name>.png.
    """

    markdown: str
    results: dict
    plot: object = None


class _Step:
    def __init__(self, suite, label, stream):
        self.suite, self.label, self.stream = suite, label, stream
        self.result = None

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.stream.write(f"[{self.suite}] {self.label} ... ")
        self.stream.flush()
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.perf_counter() - self.t0
        if exc_type is None:
            extra = f" {self.result}" if self.result else ""
            self.stream.write(f"done{extra} ({dt:.1f} s)\n")
        else:
            self.stream.write(f"FAILED ({exc_type.__name__}: {exc})\n")
        self.stream.flush()
        return False


@dataclass
class Context:
    out_dir: Path
    full: bool = False
    quick: bool = False
    repeats: int = None          # None: the suite's default
    data_dir: Path = None
    stream: object = field(default=sys.stderr)

    def step(self, suite, label):
        """``with ctx.step("kernels", "f64 1e6 1 thread: sce") as s: ...; s.result = "2.4 ns/elem"``
        writes '[kernels] f64 1e6 1 thread: sce ... done 2.4 ns/elem (0.3 s)' to stderr."""
        return _Step(suite, label, self.stream)

    def log(self, suite, msg):
        self.stream.write(f"[{suite}] {msg}\n")
        self.stream.flush()


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def write_json(out_dir, name, results, machine=None, args=None):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    payload = {"suite": name, "machine": machine or machine_info(), "args": args or {}, "results": results}
    with open(path, "w") as fh:
        json.dump(_jsonable(payload), fh, indent=1)
        fh.write("\n")
    return path


def save_plot(out_dir, name, plot_fn):
    """Draw with plot_fn(plt) -> Figure and save <out>/<name>.png; None without matplotlib."""
    plt = get_pyplot()
    if plt is None or plot_fn is None:
        return None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig = plot_fn(plt)
    try:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def resolve_data_dir(arg=None):
    """--data-dir, else $SCE_DATA_DIR, else None.  An explicitly given directory must exist."""
    for src, value in (("--data-dir", arg), ("SCE_DATA_DIR", os.environ.get("SCE_DATA_DIR"))):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"{src}={value!s} is not a directory")
            return path
    return None


def _dataset_path(name, data_dir):
    data_dir = Path(data_dir)
    for cand in (data_dir / f"{name}.npz", data_dir / "npz" / f"{name}.npz"):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"dataset {name!r}: no {name}.npz in {data_dir} (or {data_dir}/npz)")


def available_datasets(data_dir):
    """Names of the .npz datasets in data_dir (or data_dir/npz); [] when data_dir is None."""
    if data_dir is None:
        return []
    data_dir = Path(data_dir)
    names = {p.stem for d in (data_dir, data_dir / "npz") if d.is_dir() for p in d.glob("*.npz")}
    return sorted(names)


def load_dataset(name, data_dir):
    """(X, y, X_test, y_test) from <data_dir>/<name>.npz in the shared format (data/README.md).

    kind "csr": X is a scipy.sparse.csr_matrix; kind "dense": an ndarray, uint8 pixels scaled to
    float32 / 255.  y keeps the stored labels (e.g. -1/+1, 1/2, 0..9; see ``binary_targets``).
    X_test / y_test are None when the set has no test split.
    """
    if data_dir is None:
        raise ValueError("no data directory: pass --data-dir or set SCE_DATA_DIR")
    with np.load(_dataset_path(name, data_dir), allow_pickle=False) as d:
        kind = str(d["kind"])
        files = set(d.files)

        def dense(key):
            X = d[key]
            if X.dtype == np.uint8:
                X = X.astype(np.float32)
                X *= np.float32(1.0 / 255.0)
            return X

        def csr(suffix):
            import scipy.sparse as sp

            shape = tuple(int(s) for s in d["shape" + suffix])
            return sp.csr_matrix((d["data" + suffix], d["indices" + suffix], d["indptr" + suffix]),
                                 shape=shape)

        if kind == "dense":
            X = dense("X")
            X_test = dense("X_test") if "X_test" in files else None
        elif kind == "csr":
            X = csr("")
            X_test = csr("_test") if "data_test" in files else None
        else:
            raise ValueError(f"dataset {name!r}: unknown kind {kind!r}")
        y = d["y"]
        y_test = d["y_test"] if "y_test" in files else None
    if X.shape[0] != y.shape[0] or (X_test is not None and X_test.shape[0] != y_test.shape[0]):
        raise ValueError(f"dataset {name!r}: X and y row counts differ")
    return X, y, X_test, y_test


def binary_targets(y, positive=None):
    """0/1 float64 targets from two-class labels; positive = the larger label unless given."""
    classes = np.unique(y)
    if classes.size > 2:
        raise ValueError(f"expected two classes, got {classes.size}")
    if positive is None:
        positive = classes[-1]
    return (np.asarray(y) == positive).astype(np.float64)
