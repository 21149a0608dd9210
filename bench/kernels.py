"""Kernel suite: fused BCE-with-logits forward + backward, in ns per element.

Per dtype (float64, float32), size n (1e5, 1e6, 1e7; --full adds 1e8; --quick runs 1e4, 1e5) and
thread count (1 and all usable cores) it times

  sce      sce.bce_with_logits(z, y, reduction="mean", return_grad=True, n_threads=nt), and the same
           writing the gradient into a reused array (grad_out=g)
  numpy    loss = mean(logaddexp(0, z) - y*z); grad = (expit(z) - y) / n   (single-threaded ufuncs:
           measured once per dtype/size, shown on every thread row)
  torch    F.binary_cross_entropy_with_logits(zt, yt) + loss.backward(), torch.set_num_threads(nt)
           (an optional peer: skipped when torch is absent or SCE_BENCH_NO_TORCH=1)
  floor    np.add(z, y, out=g): the same three memory streams (read z, y; write g), single thread
  floor+alloc  np.add(z, y): the same with a freshly allocated output, as sce and the others have

and reports ns/element, the ratios numpy/sce, torch/sce, sce/floor and the thread speedup of sce;
then softmax cross-entropy + gradient (10 classes, integer labels, grad_out=g) against its floor
np.negative(z, out=g).
Accuracy (sce against the float64 numpy composite) is checked on the first 1e6 elements.
"""
import numpy as np
import scipy.special

import sce

from ._format import fmt_count, fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import (
    Report,
    cpu_count,
    get_torch,
    limit_threads,
    load_note,
    load_summary,
    reset_load,
    settle,
    time_call,
)

NAME = "kernels"
DESCRIPTION = "fused BCE-with-logits fwd+bwd vs numpy, torch and the memory-traffic floor"
PEERS = ("torch",)

DTYPES = (np.float64, np.float32)
SIZES = {"quick": (10**4, 10**5), "default": (10**5, 10**6, 10**7),
         "full": (10**5, 10**6, 10**7, 10**8)}
ACCURACY_N = 10**6
SOFTMAX_CLASSES = 10

_SHORT = {"float64": "f64", "float32": "f32"}


def _data(n, seed=0):
    """Logits ~ 3 N(0,1), labels ~ Bernoulli(sigmoid(z)); float64 (cast per dtype by the caller)."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(n)
    z *= 3.0
    y = (rng.random(n) < scipy.special.expit(z)).astype(np.float64)
    return z, y


def numpy_bce(z, y):
    n = z.size
    loss = np.mean(np.logaddexp(0, z) - y * z)
    grad = (scipy.special.expit(z) - y) / n
    return loss, grad


def _accuracy(z, y, z64, y64):
    """sce vs the float64 numpy composite: relative loss error, max |grad error| in units of 1/n."""
    loss_ref, grad_ref = numpy_bce(z64, y64)
    loss, grad = sce.bce_with_logits(z, y, reduction="mean", return_grad=True)
    n = z.size
    return {"n": n, "loss_rel_err": abs(float(loss) - float(loss_ref)) / abs(float(loss_ref)),
            "grad_max_abs_err_times_n": float(np.max(np.abs(grad.astype(np.float64) - grad_ref))) * n}


def _sce_call(z, y, nt, g=None):
    return lambda: sce.bce_with_logits(z, y, reduction="mean", return_grad=True, grad_out=g, n_threads=nt)


def _softmax_rows(ctx, dtype, n, thread_counts, fast):
    """Softmax cross-entropy with integer labels over K = SOFTMAX_CLASSES classes, n elements in all,
    the gradient written into a reused buffer, against its floor np.negative(z, out=g) (one read and
    one write stream of the logits; the labels are 1/K of that)."""
    rng = np.random.default_rng(1)
    z = (3.0 * rng.standard_normal((n // SOFTMAX_CLASSES, SOFTMAX_CLASSES))).astype(dtype)
    labels = rng.integers(0, SOFTMAX_CLASSES, z.shape[0])
    g = np.empty_like(z)
    tag = f"softmax {_SHORT[dtype.name]} {fmt_count(n)}"
    with limit_threads(1), ctx.step(NAME, f"{tag}: floor") as s:
        floor = time_call(lambda: np.negative(z, out=g), **fast).as_dict(n)
        s.result = f"{floor['ns_per_elem']:.3f} ns/elem"
    rows = []
    for nt in thread_counts:
        with limit_threads(nt), ctx.step(NAME, f"{tag} {nt} thread(s): sce") as s:
            t = time_call(lambda nt=nt: sce.softmax_cross_entropy(z, labels, return_grad=True, grad_out=g,
                                                                  n_threads=nt), **fast).as_dict(n)
            s.result = f"{t['ns_per_elem']:.3f} ns/elem"
        rows.append({"dtype": dtype.name, "n": n, "threads": nt, "classes": SOFTMAX_CLASSES, "sce_out": t,
                     "floor": floor, "sce_out/floor": t["ns_per_elem"] / floor["ns_per_elem"]})
    return rows


def _torch_calls(F, zt, yt):
    def reset():
        zt.grad = None

    def fwd_bwd():
        F.binary_cross_entropy_with_logits(zt, yt).backward()

    return fwd_bwd, reset


def run(ctx):
    torch = get_torch()
    F = None
    if torch is not None:
        import torch.nn.functional as F
    quick = ctx.quick
    sizes = SIZES[ctx.mode]
    repeats = ctx.repeats or (3 if quick else 5)
    # Cheap calls (sce, floor) get extra repeats up to the budget; expensive composites fewer.
    fast = dict(repeats=repeats, budget=0.03 if quick else 0.25, max_repeats=10 if quick else 200)
    slow = dict(repeats=repeats, budget=0.1 if quick else 0.6, min_repeats=2 if quick else 3,
                max_repeats=5 if quick else 30)
    n_all = cpu_count()
    thread_counts = (1,) if n_all == 1 else (1, n_all)
    per_size = 1 + 2 + len(thread_counts) * (2 if torch is not None else 1) + 1 + len(thread_counts)
    ctx.progress(NAME, len(DTYPES) * len(sizes) * per_size)

    rows, accuracy = [], []
    reset_load()
    for dtype in DTYPES:
        for n in sizes:
            r, acc = _one_size(ctx, F if torch is not None else None, np.dtype(dtype), n, thread_counts,
                               fast, slow)
            rows += r
            accuracy.append(acc)
    softmax_rows = [row for dtype in DTYPES for n in sizes
                    for row in _softmax_rows(ctx, np.dtype(dtype), n, thread_counts, fast)]

    speedups = _speedups(rows, thread_counts)
    have_torch = torch is not None
    load = load_summary()
    results = {"sizes": list(sizes), "dtypes": [np.dtype(d).name for d in DTYPES],
               "thread_counts": list(thread_counts), "torch": have_torch,
               "rows": rows, "speedups": speedups, "accuracy": accuracy, "softmax_rows": softmax_rows,
               "other_processes_cpu": load}
    return Report(markdown=_markdown(rows, speedups, have_torch, n_all, load, softmax_rows), results=results,
                  plot=lambda plt: _plot(plt, rows, thread_counts, have_torch))


def _one_size(ctx, F, dtype, n, thread_counts, fast, slow):
    """Rows (one per thread count) and the accuracy check of one dtype and size; F is
    torch.nn.functional or None."""
    dname = dtype.name
    z64, y64 = _data(n)
    z, y = z64.astype(dtype), y64.astype(dtype)
    g = np.empty_like(z)
    tag = f"{_SHORT[dname]} {fmt_count(n)}"
    with ctx.step(NAME, f"{tag}: accuracy check") as s:
        m = min(n, ACCURACY_N)
        acc = {"dtype": dname, **_accuracy(z[:m], y[:m], z64[:m], y64[:m])}
        s.result = f"loss rel err {acc['loss_rel_err']:.1e}"
    del z64, y64
    settle(ctx.mode)  # samples how busy other processes keep the cores
    shared = {}  # single-threaded baselines, measured once per dtype/size
    with limit_threads(1), ctx.step(NAME, f"{tag}: floor") as s:
        shared["floor"] = time_call(lambda: np.add(z, y, out=g), **fast).as_dict(n)
        shared["floor_alloc"] = time_call(lambda: np.add(z, y), **fast).as_dict(n)
        s.result = f"{shared['floor']['ns_per_elem']:.3f} ns/elem"
    with limit_threads(1), ctx.step(NAME, f"{tag}: numpy") as s:
        shared["numpy"] = time_call(lambda: numpy_bce(z, y), **slow).as_dict(n)
        s.result = f"{shared['numpy']['ns_per_elem']:.2f} ns/elem"
    if F is not None:
        import torch

        zt = torch.from_numpy(z).requires_grad_(True)
        yt = torch.from_numpy(y)
    rows = []
    for nt in thread_counts:
        label = f"{tag} {nt} thread{'s' if nt > 1 else ''}"
        row = {"dtype": dname, "n": n, "threads": nt, **shared, "torch": None}
        with limit_threads(nt):
            with ctx.step(NAME, f"{label}: sce") as s:
                t = time_call(_sce_call(z, y, nt), **fast)
                t_out = time_call(_sce_call(z, y, nt, g), **fast)
                s.result = f"{t.median / n * 1e9:.3f} ns/elem, {t_out.median / n * 1e9:.3f} into g"
            row["sce"], row["sce_out"] = t.as_dict(n), t_out.as_dict(n)
            if F is not None:
                fwd_bwd, reset = _torch_calls(F, zt, yt)
                with ctx.step(NAME, f"{label}: torch") as s:
                    t = time_call(fwd_bwd, setup=reset, **slow)
                    s.result = f"{t.median / n * 1e9:.2f} ns/elem"
                row["torch"] = t.as_dict(n)
        sce_ns = row["sce"]["ns_per_elem"]
        row["ratios"] = {
            "numpy/sce": row["numpy"]["ns_per_elem"] / sce_ns,
            "torch/sce": row["torch"]["ns_per_elem"] / sce_ns if row["torch"] else None,
            "sce/floor": sce_ns / row["floor"]["ns_per_elem"],
            "sce/floor_alloc": sce_ns / row["floor_alloc"]["ns_per_elem"],
            "sce_out/floor": row["sce_out"]["ns_per_elem"] / row["floor"]["ns_per_elem"],
        }
        rows.append(row)
    return rows, acc


def _ns(entry):
    return None if entry is None else entry["ns_per_elem"]


def _speedups(rows, thread_counts):
    if len(thread_counts) < 2:
        return []
    out = []
    nt_all = thread_counts[-1]
    by_key = {(r["dtype"], r["n"], r["threads"]): r for r in rows}
    for (dname, n, nt), r1 in by_key.items():
        if nt != 1:
            continue
        ra = by_key[(dname, n, nt_all)]
        torch_sp = None
        if r1["torch"] and ra["torch"]:
            torch_sp = r1["torch"]["median_s"] / ra["torch"]["median_s"]
        out.append({"dtype": dname, "n": n, "threads": nt_all,
                    "sce_1t_ns": _ns(r1["sce"]), "sce_all_ns": _ns(ra["sce"]),
                    "sce_speedup": r1["sce"]["median_s"] / ra["sce"]["median_s"],
                    "torch_speedup": torch_sp})
    return out


def _markdown(rows, speedups, have_torch, n_all, load, softmax_rows):
    headers = ["dtype", "n", "threads", "sce", "sce, g", "floor", "floor+alloc", "numpy"]
    headers += ["torch"] if have_torch else []
    headers += ["numpy/sce"] + (["torch/sce"] if have_torch else []) + ["sce, g / floor"]
    body = []
    for r in rows:
        ra = r["ratios"]
        body.append([r["dtype"], fmt_count(r["n"]), r["threads"], fmt_num(_ns(r["sce"])), fmt_num(_ns(r["sce_out"])),
                     fmt_num(_ns(r["floor"])), fmt_num(_ns(r["floor_alloc"])), fmt_num(_ns(r["numpy"]))]
                    + ([fmt_num(_ns(r["torch"]))] if have_torch else [])
                    + [fmt_ratio(ra["numpy/sce"])] + ([fmt_ratio(ra["torch/sce"])] if have_torch else [])
                    + [fmt_ratio(ra["sce_out/floor"])])
    parts = [
        paragraph("Fused BCE-with-logits forward + backward (loss with reduction=\"mean\" and its "
                  "gradient): median wall time in ns per element; lower is better."),
        "",
        markdown_table(headers, body, align="lll" + "r" * (len(headers) - 3), keys=3),
        "",
        paragraph("floor = `np.add(z, y, out=g)` (the same three memory streams, 1 thread); floor+alloc "
                  "= `np.add(z, y)` with a fresh output array, as sce's default call returns one; "
                  "\"sce, g\" writes the gradient into the reused array g (`grad_out=g`), as the "
                  "floor does. numpy = `logaddexp` / `expit` ufuncs, 1 thread, measured once per dtype "
                  "and size. " + load_note(load)),
        "",
        paragraph(f"Softmax cross-entropy + gradient ({SOFTMAX_CLASSES} classes, integer labels, "
                  "`grad_out=g`), ns per logit; floor = `np.negative(z, out=g)`, 1 thread:"),
        "",
        markdown_table(["dtype", "n", "threads", "sce into g", "floor", "sce / floor"],
                       [[r["dtype"], fmt_count(r["n"]), r["threads"], fmt_num(_ns(r["sce_out"])),
                         fmt_num(_ns(r["floor"])), fmt_ratio(r["sce_out/floor"])] for r in softmax_rows],
                       align="lllrrr", keys=3),
    ]
    if speedups:
        sp_rows = [[s["dtype"], fmt_count(s["n"]), fmt_num(s["sce_1t_ns"]), fmt_num(s["sce_all_ns"]),
                    fmt_ratio(s["sce_speedup"])] + ([fmt_ratio(s["torch_speedup"])] if have_torch else [])
                   for s in speedups]
        parts += ["", f"Thread speedup, t(1 thread) / t({n_all} threads):", "",
                  markdown_table(["dtype", "n", "sce 1t ns/elem", f"sce {n_all}t ns/elem", "sce speedup"]
                                 + (["torch speedup"] if have_torch else []), sp_rows, align="llrrrr")]
    return "\n".join(parts) + "\n"


def _plot(plt, rows, thread_counts, have_torch):
    from matplotlib.ticker import FuncFormatter

    n_all = thread_counts[-1]
    fig, axes = plt.subplots(1, len(DTYPES), figsize=(11, 4.6))
    axes = np.atleast_1d(axes)
    for ax, dtype in zip(axes, DTYPES):
        dname = np.dtype(dtype).name

        def series(key, nt=1, dname=dname):
            pts = [(r["n"], _ns(r[key])) for r in rows
                   if r["dtype"] == dname and r["threads"] == nt and r[key] is not None]
            return [p[0] for p in pts], [p[1] for p in pts]

        # at most 6 series: sce and torch at 1 and all threads, the floor, numpy
        ax.plot(*series("sce", 1), "o-", color="C0", lw=2.2, label="sce, 1 thread")
        if n_all > 1:
            ax.plot(*series("sce", n_all), "o--", color="C0", lw=2.2, label=f"sce, {n_all} threads")
        if have_torch:
            ax.plot(*series("torch", 1), "v-", color="C2", label="torch, 1 thread")
            if n_all > 1:
                ax.plot(*series("torch", n_all), "v--", color="C2", label=f"torch, {n_all} threads")
        ax.plot(*series("numpy", 1), "^-", color="C1", label="numpy + scipy ufuncs")
        ax.plot(*series("floor", 1), "s:", color="0.4", label="memory floor np.add(out=g)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(dname, fontsize=12)
        ax.set_xlabel("elements n", fontsize=11)
        ax.set_ylabel("ns per element (lower is better)", fontsize=11)
        ax.tick_params(labelsize=10)
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_num(v, 2)))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.suptitle("Fused BCE-with-logits forward + backward: median time per element", fontsize=13)
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False, fontsize=10,
               bbox_to_anchor=(0.5, -0.02))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
