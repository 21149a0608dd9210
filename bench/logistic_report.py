"""The logistic suite's results: gaps against the final f*, the per-library summary, the Markdown
tables (<= 100 columns) and the gap-vs-time plot."""
import math

from ._format import bullets, fmt_gap, fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import load_note
from .logistic_problems import GAP, SYNTH_D, rel_gap

PEER_LIBS = ("sklearnex", "glum")
_SHORT = {"float64": "f64", "float32": "f32"}


def finalize(ds):
    fs = ds["f_star"]
    ds["ref"]["gap"] = rel_gap(ds["ref"]["f"], fs)
    for res in ds["solvers"]:
        if "same_as" in res:
            continue
        for fit in res["fits"]:
            fit["gap"] = rel_gap(fit["f"], fs)
        if res.get("default"):
            res["default"]["gap"] = rel_gap(res["default"]["f"], fs)
        if res.get("defaults_timing"):
            res["defaults_timing"]["gap"] = rel_gap(res["defaults_timing"]["f"], fs)
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


def summary_row(ds):
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


def defaults_row(ds):
    by_key = {r["key"]: r for r in ds["solvers"]}
    sk = by_key.get("sklearn lbfgs", {}).get("defaults_timing")
    sc = by_key.get("sce auto", {}).get("defaults_timing")
    row = {"dataset": ds["name"], "kind": ds["kind"], "dtype": ds["dtype"], "sklearn": sk, "sce": sc}
    row["ratio"] = sc["time_s"] / sk["time_s"] if (sk and sc) else None
    return row


# ----------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------

def _fmt_s(t):
    return "–" if t is None else fmt_num(t)


def _time_cell(res):
    t = res.get("time_to_gap_s")
    if t is not None:
        return fmt_num(t)
    return f"> {fmt_num(res['lower_bound_s'])}" if res.get("lower_bound_s") else "–"


def _dataset_table(ds):
    headers = ["solver", "to gap (s)", "tol", "iters", "def. gap", "def. (s)", "fits", "peak MB"]
    rows, notes = [], []
    for res in ds["solvers"]:
        if "same_as" in res:
            rows.append([res["key"], _time_cell(res)] + ["–"] * 6)
            notes.append(f"{res['key']}: the solver sce auto chose; its fits are sce auto's")
            continue
        if res["key"] == "sce auto" and res.get("auto_solver"):
            notes.append(f"sce auto chose {res['auto_solver']}")
        why = [] if res.get("time_to_gap_s") is not None else [res["status"]]
        why += res.get("notes", []) + list(res.get("warnings", []))
        if why:
            notes.append(f"{res['key']}: " + "; ".join(why))
        d = res.get("default")
        rows.append([res["key"], _time_cell(res),
                     f"{res['time_to_gap_tol']:g}" if res.get("time_to_gap_tol") else "–",
                     res.get("time_to_gap_n_iter") if res.get("time_to_gap_n_iter") is not None else "–",
                     fmt_gap(d["gap"]) if d else "–", _fmt_s(d["time_s"]) if d else "–",
                     len(res["fits"]), _fmt_s(res.get("peak_mb")) + ("*" if res.get("peak_5_iter") else "")])
    notes += [f"{key}: {reason}" for key, reason in ds["skipped"].items()]
    if any(res.get("peak_5_iter") for res in ds["solvers"]):
        notes.append("peak MB*: from a 5-iteration fit of the same settings (the whole fit is slow)")
    table = markdown_table(headers, rows, align="lrrrrrrr")
    return table + ("\n\n" + bullets(notes) if notes else "")


def _lib_cell(b):
    if b is None:
        return "–"
    return f"{b['solver']} {fmt_num(b['time_s'])}" if b["reached"] else f"> {fmt_num(b['time_s'])}"


def _ratio_cell(r, lib):
    b = r[lib]
    if b is None or r["sce_s"] is None:
        return "–"
    v = r["sce_s"] / b["time_s"]
    return fmt_ratio(v) if b["reached"] else f"< {fmt_ratio(v)}"


def _summary_table(summary, peers):
    libs = ["sklearn"] + list(peers)
    headers = ["dataset"] + [f"fastest {lib}" for lib in libs] + ["sce auto", "fastest sce"] \
        + [f"sce/{lib}" for lib in libs]
    rows = []
    for r in summary:
        sce_cell = _fmt_s(r["sce_s"]) if r["sce_s"] is not None else (
            f"> {fmt_num(r['sce_lower_bound_s'])}" if r["sce_lower_bound_s"] else "–")
        rows.append([r["dataset"]] + [_lib_cell(r[lib]) for lib in libs] + [sce_cell, _lib_cell(r["sce_best"])]
                    + [_ratio_cell(r, lib) for lib in libs])
    align = "l" * (len(libs) + 3) + "r" * len(libs)
    return markdown_table(headers, rows, align=align)


def _lossgrad_table(lossgrad, n_all):
    rows = []
    for r in lossgrad:
        lg_n, lg_1 = r[f"loss_grad_{n_all}t_s"], r["loss_grad_1t_s"]
        rd_1, rd_n = r["read_1t_s"], r[f"read_{n_all}t_s"]
        rows.append([r["dataset"], fmt_num(r["x_mb"]), fmt_num(lg_n * 1e3), fmt_num(lg_1 * 1e3),
                     fmt_num(rd_1 * 1e3), fmt_num(rd_n * 1e3), fmt_ratio(lg_n / rd_1), fmt_ratio(lg_1 / rd_1),
                     fmt_ratio(lg_n / rd_n)])
    return markdown_table(["dataset", "X MB", f"lg {n_all}t", "lg 1t", "read 1t", f"read {n_all}t",
                           f"lg {n_all}t/read 1t", "lg 1t/read 1t", f"lg {n_all}t/read {n_all}t"], rows)


def _iters(d):
    if d["n_iter"] is None:
        return "–"
    return f"{d['n_iter']}" + (" (max)" if d["n_iter"] >= d["max_iter"] else "")


def _defaults_table(defaults):
    rows = [[r["dataset"], fmt_num(r["sklearn"]["time_s"]), fmt_num(r["sce"]["time_s"]), fmt_ratio(r["ratio"]),
             fmt_gap(r["sklearn"]["gap"]), fmt_gap(r["sce"]["gap"]), _iters(r["sklearn"]), _iters(r["sce"])]
            for r in defaults if r["sklearn"] and r["sce"]]
    return markdown_table(["dataset", "sklearn (s)", "sce (s)", "sce/sklearn", "sklearn gap", "sce gap",
                           "sklearn iters", "sce iters"], rows)


def markdown(datasets, summary, lossgrad, defaults, mode, caps, versions, n_all, load, threads_text):
    peers = [lib for lib in PEER_LIBS if any(r[lib] is not None for r in summary)]
    synth = next(ds for ds in datasets if ds["kind"] == "synthetic")
    tols = "1e-2, 1e-4, 1e-6, 1e-8" if mode == "quick" else "1e-2 … 1e-10"
    sce_tols = "1e-2, 1e-4" if mode == "quick" else "1e-2, 1e-3, 1e-4, then 1e-5, 1e-6 if needed"
    sizes = {"quick": "--quick: tiny sizes", "default": "--full: 200000 rows", "full": "--full"}[mode]
    parts = [
        paragraph("L2-regularized logistic regression (C = 1, intercept, unit weights), every library "
                  "solving the same problem; each fit is scored by the objective f = C·Σℓᵢ + ½‖coef‖² "
                  "evaluated in float64, against f* = the lowest objective over all fits of the dataset "
                  "(including a tight sce reference fit): gap = (f − f*)/f*. Lower is better everywhere."),
        "",
        bullets([
            "**time to gap ≤ 1e-6**: each solver is fitted with tolerances from loose to tight "
            f"(sklearn / peers: {tols}; sce: {sce_tols}); the loosest tolerance that reaches the gap is "
            f"re-timed (median of up to {caps.repeats}; one timing for fits > {caps.slow:g} s).",
            f"A sweep stops after a fit > {caps.fit_cap:g} s, at {caps.budget:g} s per solver and dataset, "
            "at the iteration cap or when the gap stalls: \"> t\" = not reached, t = the longest fit "
            "tried (a lower bound).",
            "**def. gap / def. (s)**: the solver at its default tol and max_iter. **peak MB**: "
            "tracemalloc peak of Python + numpy allocations during the fit.",
        ]),
        "",
        paragraph(f"Synthetic data: make_classification(n_features={SYNTH_D}, n_informative=50, "
                  f"n_redundant=10, random_state=0), standardized, n = {synth['n']} ({sizes}). Versions: "
                  + ", ".join(f"{k} {v}" for k, v in versions.items()) + ". " + threads_text + " "
                  + load_note(load)),
        "",
        "### Summary: time to gap ≤ 1e-6 (s)",
        "",
        _summary_table(summary, peers),
        "",
        paragraph("sce/x = sce auto's time over the fastest solver of x (\"< r\": x did not reach the gap, "
                  "its time is a lower bound, so the true ratio is smaller)."),
        "",
        "### Default settings: LogisticRegression().fit vs LogisticClassifier().fit",
        "",
        _defaults_table(defaults),
        "",
        paragraph(f"Median of up to {caps.repeats} timed fits (one for fits > {caps.slow:g} s); iters "
                  "with \"(max)\": stopped by max_iter."),
        "",
        "### Datasets",
        "",
        paragraph("f* = the lowest objective seen; ref (s) = the sce reference fit (tol 1e-7)."),
        "",
        markdown_table(["dataset", "n×d", "classes", "format", "X MB", "f*", "ref (s)"],
                       [[ds["name"], f"{ds['n']}×{ds['d']}", ds["classes"],
                         f"{ds['format']} {_SHORT.get(ds['dtype'], ds['dtype'])}"
                         + (f", nnz {ds['nnz']}" if ds["nnz"] is not None else ""),
                         fmt_num(ds["x_mb"]), f"{ds['f_star']:.10g}", fmt_num(ds["ref"]["time_s"])]
                        for ds in datasets], align="lrrlrrr"),
        "",
        bullets([f"{ds['name']}: {ds['note']}" for ds in datasets if ds["note"]]),
    ]
    for ds in datasets:
        parts += ["", f"### {ds['name']}", "", _dataset_table(ds)]
    parts += ["", "### One loss + gradient evaluation vs one streaming read of X (ms)", "",
              _lossgrad_table(lossgrad, n_all), "",
              paragraph(f"lg = `LogisticObjective.loss_grad` at the reference solution, X in the "
                        f"dataset's own dtype; read = `np.add.reduce` over X (CSR: over data and "
                        f"indices); {n_all}t = row blocks in {n_all} threads.")]
    return "\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------------------
# Plot: per dataset at most 6 curves, one per role; the solver's name is written at its curve
# ----------------------------------------------------------------------------------------------

_ROLES = (  # (label, library, pick, colour, line style, marker)
    ("sce auto", "sce", "auto", "#08519c", "-", "o"),
    ("sce, fastest other solver", "sce", "other", "#6baed6", "-", "s"),
    ("sklearn lbfgs (its default)", "sklearn", "lbfgs", "#d94801", "--", "o"),
    ("sklearn, fastest other solver", "sklearn", "other", "#fd8d3c", "--", "s"),
    ("sklearnex, fastest solver", "sklearnex", "best", "#238b45", ":", "^"),
    ("glum, fastest solver", "glum", "best", "#6a51a3", "-.", "v"),
)


def _rank(res):
    """Sort key: reached first by time, then the rest by their best gap."""
    if res.get("time_to_gap_s") is not None:
        return (0, res["time_to_gap_s"])
    return (1, min((f["gap"] for f in res["fits"]), default=math.inf))


def _pick(ds, lib, pick):
    cands = [r for r in ds["solvers"] if r["lib"] == lib and "same_as" not in r and r["fits"]]
    if pick == "auto":
        cands = [r for r in cands if r["key"] == "sce auto"]
    elif pick == "lbfgs":
        cands = [r for r in cands if r["solver"] == "lbfgs"]
    elif pick == "other":
        skip = {"sce auto", "sklearn lbfgs"}
        auto = next((r.get("auto_solver") for r in ds["solvers"] if r["key"] == "sce auto"), None)
        cands = [r for r in cands if r["key"] not in skip and not (lib == "sce" and r["solver"] == auto)]
    return min(cands, key=_rank) if cands else None


def plot(plt, datasets):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    n = len(datasets)
    ncols = 2 if n <= 4 else 3
    nrows = math.ceil(n / ncols)
    legend_rows = math.ceil((sum(1 for r in _ROLES) + 1) / 4)
    title_h, legend_h = 0.6, 0.35 * legend_rows + 0.25      # inches above / below the panels
    height = 4.6 * nrows + title_h + legend_h
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.4 * ncols, height), squeeze=False)
    used = set()
    for ax, ds in zip(axes.ravel(), datasets):
        ax.axhspan(1e-17, GAP, color="#e5f5e0", zorder=0)
        for label, lib, pick, color, ls, marker in _ROLES:
            res = _pick(ds, lib, pick)
            if res is None:
                continue
            used.add(label)
            pts = [(f["time_s"], max(f["gap"], 1e-16)) for f in sorted(res["fits"], key=lambda f: -f["tol"])]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], color=color, ls=ls, marker=marker, ms=6,
                    lw=2.4 if lib == "sce" else 1.8, alpha=0.9)
            name = res.get("auto_solver") or res["solver"] if pick == "auto" else res["solver"]
            ax.annotate(name, pts[-1], textcoords="offset points", xytext=(5, 3), fontsize=9, color=color)
        ax.set_xscale("log")
        # a span of less than a decade gets labelled minor ticks, which overlap: label the decades
        # and a few ticks inside them in plain seconds instead
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_yscale("log")
        ax.set_ylim(5e-17, None)
        ax.set_title(f"{ds['name']} ({ds['n']}×{ds['d']}, {ds['classes']} classes)", fontsize=12)
        ax.set_xlabel("fit time (s)", fontsize=11)
        ax.set_ylabel("relative objective gap", fontsize=11)
        ax.grid(True, which="major", alpha=0.35)
        ax.tick_params(labelsize=10)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    handles = [Line2D([], [], color=c, ls=ls, marker=m, ms=6, lw=2, label=label)
               for label, _, _, c, ls, m in _ROLES if label in used]
    handles.append(plt.Rectangle((0, 0), 1, 1, color="#e5f5e0", label="gap ≤ 1e-6 (the target)"))
    fig.suptitle("Objective gap vs fit time, one point per tolerance (lower left is better; "
                 "gaps < 1e-16 drawn at 1e-16)", fontsize=13)
    fig.legend(handles=handles, loc="lower center", ncol=min(4, len(handles)), frameon=False, fontsize=11)
    fig.tight_layout(rect=(0, legend_h / height, 1, 1 - title_h / height))
    return fig
