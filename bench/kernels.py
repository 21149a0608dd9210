"""Kernel suite: fused BCE-with-logits forward + backward, in ns per element.

Per dtype (float64, float32), size n (1e5, 1e6, 1e7; --full adds 1e8; --quick runs 1e5, 1e6) and
thread count (1 and all usable cores) it times

  sce      sce.bce_with_logits(z, y, reduction="mean", return_grad=True, n_threads=nt)
  numpy    loss = mean(logaddexp(0, z) - y*z); grad = (expit(z) - y) / n   (single-threaded ufuncs:
           measured once per dtype/size, shown on every thread row)
  torch    F.binary_cross_entropy_with_logits(zt, yt) + loss.backward(), torch.set_num_threads(nt)
           (skipped when torch is absent or SCE_BENCH_NO_TORCH=1)
  floor    np.add(z, y, out=g): the same three memory streams (read z, y; write g), single thread
  floor+alloc  np.add(z, y): the same with a freshly allocated output, as sce and the others have

and reports ns/element, the ratios numpy/sce, torch/sce, sce/floor, the thread speedup of sce, and
PASS/MISS lines for the performance targets (a benchmark, not a test).
"""
import numpy as np
import scipy.special

import sce

from ._harness import (Report, cpu_count, fmt_count, fmt_num, fmt_ratio, get_torch, limit_threads,
                       markdown_table, time_call)

NAME = "kernels"
DESCRIPTION = "fused BCE-with-logits fwd+bwd vs numpy, torch and the memory-traffic floor"

DTYPES = (np.float64, np.float32)
SIZES = (10**5, 10**6, 10**7)
FULL_SIZES = SIZES + (10**8,)
QUICK_SIZES = (10**5, 10**6)

# Targets on the reference machine (2-core AMD EPYC VM), ns per element, single thread.
TARGET_NS = {"float64": 2.5, "float32": 1.2}
SPEEDUP_TARGET = 1.6
SPEEDUP_AT = 10**7

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
    return {"loss_rel_err": abs(float(loss) - float(loss_ref)) / abs(float(loss_ref)),
            "grad_max_abs_err_times_n": float(np.max(np.abs(grad.astype(np.float64) - grad_ref))) * n}


def run(ctx):
    torch = get_torch()
    F = None
    if torch is not None:
        import torch.nn.functional as F
    quick = ctx.quick
    sizes = QUICK_SIZES if quick else (FULL_SIZES if ctx.full else SIZES)
    repeats = ctx.repeats or (3 if quick else 7)
    # Cheap calls (sce, floor) get extra repeats up to the budget; expensive composites fewer.
    fast = dict(repeats=repeats, budget=0.05 if quick else 1.0, max_repeats=20 if quick else 300)
    slow = dict(repeats=repeats, budget=0.2 if quick else 3.0, min_repeats=2 if quick else 3,
                max_repeats=10 if quick else 50)
    n_all = cpu_count()
    thread_counts = (1,) if n_all == 1 else (1, n_all)
    if torch is None:
        ctx.log(NAME, "torch not available (or SCE_BENCH_NO_TORCH set): torch columns skipped")

    rows = []
    accuracy = []
    for dtype in DTYPES:
        dname = np.dtype(dtype).name
        short = _SHORT[dname]
        for n in sizes:
            z64, y64 = _data(n)
            z = z64.astype(dtype)
            y = y64.astype(dtype)
            g = np.empty_like(z)
            tag = f"{short} {fmt_count(n)}"
            with ctx.step(NAME, f"{tag}: accuracy check") as s:
                acc = _accuracy(z, y, z64, y64)
                accuracy.append({"dtype": dname, "n": n, **acc})
                s.result = f"loss rel err {acc['loss_rel_err']:.1e}, grad err {acc['grad_max_abs_err_times_n']:.1e}/n"
            zt = yt = None
            if torch is not None:
                zt = torch.from_numpy(z).requires_grad_(True)
                yt = torch.from_numpy(y)

            shared = {}  # single-threaded baselines, measured once per dtype/size
            for nt in thread_counts:
                label = f"{tag} {nt} thread{'s' if nt > 1 else ''}"
                row = {"dtype": dname, "n": n, "threads": nt}
                with limit_threads(nt):
                    with ctx.step(NAME, f"{label}: sce") as s:
                        t = time_call(lambda: sce.bce_with_logits(z, y, reduction="mean",
                                                                  return_grad=True, n_threads=nt), **fast)
                        s.result = f"{t.median / n * 1e9:.3f} ns/elem"
                    row["sce"] = t.as_dict(n)
                    if not shared:
                        with ctx.step(NAME, f"{label}: floor") as s:
                            t = time_call(lambda: np.add(z, y, out=g), **fast)
                            shared["floor"] = t.as_dict(n)
                            t = time_call(lambda: np.add(z, y), **fast)
                            shared["floor_alloc"] = t.as_dict(n)
                            s.result = (f"{shared['floor']['ns_per_elem']:.3f} ns/elem "
                                        f"(+alloc {shared['floor_alloc']['ns_per_elem']:.3f})")
                        with ctx.step(NAME, f"{label}: numpy") as s:
                            t = time_call(lambda: numpy_bce(z, y), **slow)
                            shared["numpy"] = t.as_dict(n)
                            s.result = f"{t.median / n * 1e9:.2f} ns/elem"
                    row.update(shared)
                    if torch is not None:
                        def reset():
                            zt.grad = None

                        def torch_fwd_bwd():
                            loss = F.binary_cross_entropy_with_logits(zt, yt)
                            loss.backward()

                        with ctx.step(NAME, f"{label}: torch") as s:
                            t = time_call(torch_fwd_bwd, setup=reset, **slow)
                            s.result = f"{t.median / n * 1e9:.2f} ns/elem"
                        row["torch"] = t.as_dict(n)
                    else:
                        row["torch"] = None
                sce_ns = row["sce"]["ns_per_elem"]
                row["ratios"] = {
                    "numpy/sce": row["numpy"]["ns_per_elem"] / sce_ns,
                    "torch/sce": row["torch"]["ns_per_elem"] / sce_ns if row["torch"] else None,
                    "sce/floor": sce_ns / row["floor"]["ns_per_elem"],
                    "sce/floor_alloc": sce_ns / row["floor_alloc"]["ns_per_elem"],
                }
                rows.append(row)
            del zt, yt, z, y, g, z64, y64

    speedups = _speedups(rows, thread_counts)
    targets = _targets(rows, speedups, sizes, n_all)
    results = {"sizes": list(sizes), "dtypes": [np.dtype(d).name for d in DTYPES],
               "thread_counts": list(thread_counts), "torch": torch is not None,
               "targets_ns": TARGET_NS, "speedup_target": SPEEDUP_TARGET, "speedup_at": SPEEDUP_AT,
               "rows": rows, "speedups": speedups, "target_checks": targets, "accuracy": accuracy}
    return Report(markdown=_markdown(rows, speedups, targets, torch is not None, n_all),
                  results=results,
                  plot=lambda plt: _plot(plt, rows, thread_counts, torch is not None))


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


def _targets(rows, speedups, sizes, n_all):
    checks = []
    for dname, limit in TARGET_NS.items():
        vals = [(r["n"], _ns(r["sce"])) for r in rows if r["dtype"] == dname and r["threads"] == 1]
        misses = [n for n, v in vals if v > limit]
        checks.append({
            "name": f"{_SHORT[dname]} 1 thread ≤ {limit} ns/elem at every size",
            "status": "MISS" if misses else "PASS",
            "detail": ", ".join(f"{fmt_count(n)}: {v:.2f}" for n, v in vals),
        })
    for dname in TARGET_NS:
        name = f"{_SHORT[dname]} {n_all} threads ≥ {SPEEDUP_TARGET}× 1 thread at {fmt_count(SPEEDUP_AT)}"
        sp = [s for s in speedups if s["dtype"] == dname and s["n"] == SPEEDUP_AT]
        if n_all < 2:
            checks.append({"name": name, "status": "N/A", "detail": "only one usable core"})
        elif not sp:
            checks.append({"name": name, "status": "N/A",
                           "detail": f"n={fmt_count(SPEEDUP_AT)} not run (sizes {', '.join(map(fmt_count, sizes))})"})
        else:
            v = sp[0]["sce_speedup"]
            checks.append({"name": name, "status": "PASS" if v >= SPEEDUP_TARGET else "MISS",
                           "detail": f"{v:.2f}×"})
    return checks


def _markdown(rows, speedups, targets, have_torch, n_all):
    headers = ["dtype", "n", "threads", "sce ns/elem", "floor ns/elem", "floor+alloc ns/elem",
               "numpy ns/elem", "torch ns/elem", "numpy/sce", "torch/sce", "sce/floor"]
    body = []
    for r in rows:
        ra = r["ratios"]
        body.append([r["dtype"], fmt_count(r["n"]), r["threads"], fmt_num(_ns(r["sce"])),
                     fmt_num(_ns(r["floor"])), fmt_num(_ns(r["floor_alloc"])), fmt_num(_ns(r["numpy"])),
                     fmt_num(_ns(r["torch"])), fmt_ratio(ra["numpy/sce"]), fmt_ratio(ra["torch/sce"]),
                     fmt_ratio(ra["sce/floor"])])
    parts = [
        "Fused BCE-with-logits forward + backward (loss with reduction=\"mean\" and its gradient), "
        "median wall time per element; lower is better.",
        "",
        markdown_table(headers, body, align="lllrrrrrrrr"),
        "",
        "floor = `np.add(z, y, out=g)` (same three memory streams, 1 thread); floor+alloc = `np.add(z, y)` "
        "with a fresh output array, as every implementation here returns one. numpy (ufuncs, 1 thread) "
        "is measured once per dtype/size."
        + ("" if have_torch else " torch: not installed / disabled."),
    ]
    if speedups:
        sp_rows = [[s["dtype"], fmt_count(s["n"]), fmt_num(s["sce_1t_ns"]), fmt_num(s["sce_all_ns"]),
                    fmt_ratio(s["sce_speedup"]), fmt_ratio(s["torch_speedup"])] for s in speedups]
        parts += ["", f"Thread speedup, t(1 thread) / t({n_all} threads):", "",
                  markdown_table(["dtype", "n", "sce 1t ns/elem", f"sce {n_all}t ns/elem",
                                  "sce speedup", "torch speedup"], sp_rows, align="llrrrr")]
    parts += ["", "Targets (benchmark, not a test):", ""]
    parts += [f"- {c['status']}: {c['name']} ({c['detail']})" for c in targets]
    return "\n".join(parts) + "\n"


def _plot(plt, rows, thread_counts, have_torch):
    from matplotlib.ticker import FuncFormatter

    n_all = thread_counts[-1]
    fig, axes = plt.subplots(1, len(DTYPES), figsize=(12, 4.8), sharey=True)
    axes = np.atleast_1d(axes)
    for ax, dtype in zip(axes, DTYPES):
        dname = np.dtype(dtype).name

        def series(key, nt=1):
            pts = [(r["n"], _ns(r[key])) for r in rows
                   if r["dtype"] == dname and r["threads"] == nt and r[key] is not None]
            return [p[0] for p in pts], [p[1] for p in pts]

        ax.plot(*series("sce", 1), "o-", color="C0", lw=2, label="sce, 1 thread")
        if n_all > 1:
            ax.plot(*series("sce", n_all), "o--", color="C0", lw=2, label=f"sce, {n_all} threads")
        ax.plot(*series("floor", 1), "s-", color="0.45", label="floor np.add(out=g)")
        ax.plot(*series("floor_alloc", 1), "s:", color="0.45", label="floor + alloc np.add")
        ax.plot(*series("numpy", 1), "^-", color="C1", label="numpy + scipy composite")
        if have_torch:
            ax.plot(*series("torch", 1), "v-", color="C2", label="torch, 1 thread")
            if n_all > 1:
                ax.plot(*series("torch", n_all), "v--", color="C2", label=f"torch, {n_all} threads")
        ax.axhline(TARGET_NS[dname], color="C3", ls=":", lw=1, label="target, sce 1 thread")
        ax.annotate(f"target {TARGET_NS[dname]} ns", (0.99, TARGET_NS[dname]), xycoords=("axes fraction", "data"),
                    ha="right", va="bottom", color="C3", fontsize=8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"{dname}")
        ax.set_xlabel("elements n")
        ax.grid(True, which="major", alpha=0.35)
        ax.grid(True, which="minor", alpha=0.12)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_num(v, 2)))
    axes[0].set_ylabel("ns per element (lower is better)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, frameon=False, bbox_to_anchor=(0.5, -0.1))
    fig.suptitle("Fused BCE-with-logits forward + backward: median time per element")
    fig.tight_layout()
    return fig
