"""Shared benchmark machinery: optional peers, threads, timing, progress, output.

Every suite (bench/kernels.py, bench/logistic.py, bench/mlp.py) is a module with

    NAME = "kernels"
    DESCRIPTION = "one line"
    PEERS = ("torch",)          # optional libraries it compares against when installed
    def run(ctx: Context) -> Report

and is listed in ``bench.SUITES``.  The suite measures, announcing its number of steps with
``ctx.progress(NAME, total)`` and reporting each through ``ctx.step``; the entry point
(bench/__main__.py) prints ``Report.markdown`` to stdout and writes ``<out>/<NAME>.json`` (results +
machine info) and ``<out>/<NAME>.png`` (when matplotlib is there).
"""
import contextlib
import gc
import importlib
import json
import math
import os
import shutil
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._format import WIDTH

# ----------------------------------------------------------------------------------------------
# Optional libraries.  SCE_BENCH_NO_<X>=1 makes the harness behave as if <X> were not installed.
# ----------------------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_optional_cache = {}

# peer -> (module to import, environment switch, what to pip install)
PEERS = {
    "torch": ("torch", "SCE_BENCH_NO_TORCH", "sce[peers]"),
    "glum": ("glum", "SCE_BENCH_NO_GLUM", "sce[peers]"),
    "scikit-learn-intelex": ("sklearnex.linear_model", "SCE_BENCH_NO_SKLEARNEX", "sce[peers]"),
    "skglm": ("skglm", "SCE_BENCH_NO_SKGLM", "sce[peers]"),
    "dask-ml": ("dask_ml.linear_model", "SCE_BENCH_NO_DASKML", "sce[peers]"),
}


def _disabled(var):
    return os.environ.get(var, "").strip().lower() in _TRUE


def get_peer(name):
    """The module of optional peer `name` (see PEERS), or None when it is not importable or its
    SCE_BENCH_NO_* switch is set."""
    if name not in _optional_cache:
        modname, env, _ = PEERS[name]
        mod = None
        if not _disabled(env):
            try:
                mod = importlib.import_module(modname)
            except Exception:  # ImportError, or a broken install (sklearnex checks sklearn's version)
                mod = None
        _optional_cache[name] = mod
    return _optional_cache[name]


def get_torch():
    return get_peer("torch")


def missing_peers_line(names):
    """'not installed (optional peers): torch, glum — pip install 'sce[peers]'', or None."""
    missing = [n for n in dict.fromkeys(names) if get_peer(n) is None]
    if not missing:
        return None
    installs = list(dict.fromkeys(PEERS[n][2] for n in missing))
    pip = " ".join(f"'{x}'" if "[" in x else x for x in installs)
    line = f"not installed (optional peers): {', '.join(missing)} — pip install {pip}"
    if len(line) > WIDTH:
        line = line.replace(" — pip", "\n— pip")
    return line


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


def time_call(fn, repeats=7, *, warmup=1, budget=None, min_repeats=3, max_repeats=None, setup=None,
              estimate=None):
    """Median-of-repeats timing of ``fn()`` with time.perf_counter, after ``warmup`` untimed calls.

    repeats      nominal number of timed calls.
    budget       seconds a measurement may take: an expensive call runs fewer repeats (never below
                 min_repeats); a cheap one runs more, up to max_repeats (default: repeats), to cut
                 noise.  The warm-up call's time is the estimate.
    estimate     with warmup=0: the seconds one call is known to take (e.g. from an identical
                 call just made, which then served as the warm-up).
    setup        called (untimed) before every call, e.g. to reset a gradient.
    GC is disabled while timing, as in timeit.
    """
    t_warm = estimate or 0.0
    for _ in range(warmup if estimate is not None else max(1, warmup)):
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
# Run context, progress, output
# ----------------------------------------------------------------------------------------------

@dataclass
class Report:
    """What a suite hands back.

    markdown  printed to stdout (Markdown tables and notes, lines <= 100 characters).
    results   JSON-serialisable; written to <out>/<name>.json together with machine info.
    plot      optional callable(plt) -> matplotlib Figure, saved to <out>/<name>.png.
    """

    markdown: str
    results: dict
    plot: object = None


class Progress:
    """One suite's progress on stderr: name, steps done / total, elapsed time, current step.

    On a terminal a bar redrawn in place; otherwise one plain line per finished step."""

    def __init__(self, suite, total, stream, tty):
        self.suite, self.total, self.stream, self.tty = suite, max(1, int(total)), stream, tty
        self.done, self.t0, self.label = 0, time.perf_counter(), ""

    def _elapsed(self):
        s = int(time.perf_counter() - self.t0)
        return f"{s // 60}:{s % 60:02d}"

    def _width(self):
        return min(WIDTH, shutil.get_terminal_size((WIDTH, 20)).columns) - 1

    def draw(self):
        if not self.tty:
            return
        n = 20
        fill = min(n, n * self.done // self.total)
        head = (f"[{self.suite}] |{'#' * fill}{'.' * (n - fill)}| {self.done}/{self.total} "
                f"{self._elapsed()} ")
        line = (head + self.label)[:self._width()]
        self.stream.write("\r\x1b[K" + line)
        self.stream.flush()

    def clear(self):
        if self.tty:
            self.stream.write("\r\x1b[K")

    def finish_step(self, text):
        self.done = min(self.total, self.done + 1)
        if not self.tty:
            line = f"[{self.suite} {self.done}/{self.total} {self._elapsed()}] {text}"
            self.stream.write(line[:WIDTH] + "\n")
            self.stream.flush()
        self.draw()

    def close(self, text):
        self.clear()
        self.stream.write(f"[{self.suite}] {text}\n")
        self.stream.flush()


class _Step:
    def __init__(self, ctx, suite, label):
        self.ctx, self.suite, self.label = ctx, suite, label
        self.result = None

    def __enter__(self):
        self.t0 = time.perf_counter()
        bar = self.ctx.bar(self.suite)
        bar.label = self.label
        bar.draw()
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.perf_counter() - self.t0
        if exc_type is None:
            text = f"{self.label} ({dt:.1f} s)" + (f": {self.result}" if self.result else "")
        else:
            text = f"{self.label}: FAILED ({exc_type.__name__}: {exc})"
            self.ctx.log(self.suite, text)
        self.ctx.bar(self.suite).finish_step(text)
        return False


@dataclass
class Context:
    out_dir: Path
    full: bool = False
    quick: bool = False
    repeats: int = None          # None: the suite's default
    data_dir: Path = None
    stream: object = field(default=sys.stderr)
    tty: bool = None             # None: stream.isatty()
    _bars: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.tty is None:
            self.tty = bool(getattr(self.stream, "isatty", lambda: False)())

    @property
    def mode(self):
        return "quick" if self.quick else ("full" if self.full else "default")

    def progress(self, suite, total):
        """Announce that `suite` will run `total` steps (ctx.step calls)."""
        self._bars[suite] = Progress(suite, total, self.stream, self.tty)
        self._bars[suite].draw()

    def add_steps(self, suite, n):
        self.bar(suite).total += n

    def bar(self, suite):
        if suite not in self._bars:
            self._bars[suite] = Progress(suite, 1, self.stream, self.tty)
        return self._bars[suite]

    def finish(self, suite, text):
        self.bar(suite).close(text)
        self._bars.pop(suite, None)

    def step(self, suite, label):
        """``with ctx.step("kernels", "f64 1e6 1 thread: sce") as s: ...; s.result = "2.4 ns/elem"``
        advances the suite's progress bar (a line '[kernels 3/24 0:05] f64 1e6 ...' off a tty)."""
        return _Step(self, suite, label)

    def log(self, suite, msg):
        bar = self._bars.get(suite)
        if bar is not None:
            bar.clear()
        self.stream.write(f"[{suite}] {msg}\n")
        self.stream.flush()
        if bar is not None:
            bar.draw()


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
    payload = {"suite": name, "machine": machine or {}, "args": args or {}, "results": results}
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
# Pauses between libraries, and how busy other processes keep the machine meanwhile
# ----------------------------------------------------------------------------------------------

_OTHERS = []  # cores kept busy by other processes, sampled while a suite sleeps in settle()


def _cpu_times():
    """(busy, total) jiffies of the machine and this process's own CPU jiffies (Linux)."""
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:9]]
    with open("/proc/self/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return sum(vals) - vals[3] - vals[4], sum(vals), int(fields[11]) + int(fields[12])


def reset_load():
    _OTHERS.clear()


def settle(mode):
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
    time.sleep(0.05 if mode == "quick" else 0.2)
    if b0 is not None:
        try:
            b1, t1, s1 = _cpu_times()
            if t1 > t0:
                _OTHERS.append(max(0.0, (b1 - b0) - (s1 - s0)) / (t1 - t0) * (os.cpu_count() or 1))
        except (OSError, ValueError, IndexError):
            pass


def load_summary():
    """Cores other processes kept busy during the pauses: mean, max, share of samples > 0.5."""
    if not _OTHERS:
        return None
    v = sorted(_OTHERS)
    return {"samples": len(v), "mean_cores": sum(v) / len(v), "max_cores": v[-1],
            "share_over_0.5_core": sum(1 for x in v if x > 0.5) / len(v)}


def load_note(load):
    """A sentence for the report ('' when nothing was sampled)."""
    if not load:
        return ""
    text = (f"Cores busy with other processes (sampled in the pauses between libraries): mean "
            f"{load['mean_cores']:.2f}, max {load['max_cores']:.2f}")
    if load["share_over_0.5_core"] > 0.1:
        return text + "; **other processes were running: timings are noisy**."
    return text + "."


def finish_markdown(md, load, missing=None):
    """A suite's Markdown lines joined into its report: a line naming the optional peer that is
    not installed (``missing``: (name, pip name), or None), then the load sentence when sampled."""
    md = list(md)
    if missing is not None:
        name, package = missing
        md += ["", f"{name} is not installed (pip install {package}): not compared."]
    note = load_note(load)
    if note:
        md += ["", note]
    return "\n".join(md) + "\n"

