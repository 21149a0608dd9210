"""MLP suite: sce.SigmoidMLPClassifier against scikit-learn's MLPClassifier(activation="logistic")
and, when importable, an equivalent PyTorch CPU network — epoch time, test accuracy, GFLOP/s.

Configuration, identical for every library: hidden layers (128, 64), logistic activations, softmax
output with cross-entropy, adam (lr 1e-3, betas 0.9 / 0.999, eps 1e-8), L2 alpha = 1e-4 on weights
only (sklearn adds alpha·W / batch to the weight gradient; torch: weight_decay = alpha / 200 on the
weights, 0 on the biases), batch 200, shuffled every epoch, random_state 0, Glorot-uniform
initialisation as sklearn does it for logistic units (bound sqrt(2 / (fan_in + fan_out)), weights
and biases).  sce / sklearn run with tol=0 and n_iter_no_change > max_iter, so every fit runs
exactly max_iter epochs (ConvergenceWarning suppressed).  Threads: all usable cores for everyone
(BLAS / OpenMP pools and torch.set_num_threads via limit_threads; sce's n_threads default).

Datasets (float64 and float32 each):
  fashion_mnist   with --data-dir: the first 10000 of 60000 × 784 training rows (X / 255; --full all,
                  --quick 2000), the 10000-row test split.  Without a data directory a synthetic
                  stand-in of the same width takes its place: 10 classes, 16-d Gaussian latent,
                  pixels = sigmoid(latent @ A) in [0, 1]; 10000 (--quick 1000, --full 60000) rows.
  digits          sklearn's bundled 8×8 digits / 16, 75/25 stratified split (overhead-bound).

Epoch time = median over repeats of (fit with E epochs) / E, after a 1-epoch warm-up fit (up to 3 repeats
within 2 s per library and dataset; --quick 1, --full 7 within 40 s); torch's loop does the same
work (gather a shuffled batch, forward, backward, Adam step, running loss with the L2 term as in
sklearn's loss_curve_).  E: fashion 2 (--quick 1, --full 5); digits 20 (2, 100).
Test accuracy is that of the timed fits; with --full separate fits of 20 (fashion) / 200 (digits)
epochs give the accuracy and the loss curves.

GEMM floor: numpy matmul timed at the actual batch shapes (forward X·W, weight gradient Aᵀ·δ, and
δ·Wᵀ for every layer but the input one), epoch FLOPs = Σ 2·n·fan_in·fan_out over those GEMMs,
floor = Σ FLOPs / measured rate.  Achieved GFLOP/s = epoch FLOPs / epoch time.
Between libraries the suite pauses briefly (as the logistic suite does) so spinning idle BLAS /
OpenMP workers of one library do not slow the next; it reports when other processes were busy.
"""
import gc
import math
import time
import warnings
from functools import partial

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from sce import SigmoidMLPClassifier

from ._data import available_datasets, load_dataset
from ._format import fmt_num, fmt_ratio, markdown_table, paragraph
from ._harness import (
    Report,
    Timing,
    cpu_count,
    get_torch,
    limit_threads,
    load_note,
    load_summary,
    reset_load,
    settle,
    time_call,
)

NAME = "mlp"
DESCRIPTION = "SigmoidMLPClassifier vs sklearn MLPClassifier(logistic) and torch CPU: epoch time, accuracy, GFLOP/s"
PEERS = ("torch",)

HIDDEN = (128, 64)
BATCH = 200
LR = 1e-3
ALPHA = 1e-4
BETAS = (0.9, 0.999)
EPS = 1e-8
SEED = 0
LIBS = ("sce", "sklearn", "torch")

MODES = {  # rows: training rows (None = all); E: timed epochs; acc: epochs of the accuracy fits
    "quick": dict(fashion_rows=2000, synth_rows=1000, fashion_E=1, digits_E=2, acc=None, repeats=1,
                  budget=0.5),
    "default": dict(fashion_rows=10000, synth_rows=10000, fashion_E=2, digits_E=20, acc=None, repeats=3,
                    budget=2.0),
    "full": dict(fashion_rows=None, synth_rows=60000, fashion_E=5, digits_E=100,
                 acc={"fashion": 20, "digits": 200}, repeats=7, budget=40.0),
}

_SHORT = {"float64": "f64", "float32": "f32"}


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------

def _synthetic(n, n_test=2000, d=784, k=10, latent=16, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, latent))
    y = rng.integers(0, k, n + n_test)
    A = rng.standard_normal((latent, d)) / math.sqrt(latent)
    X = 1.0 / (1.0 + np.exp(-(centers[y] + rng.standard_normal((y.size, latent))) @ A))
    return X[:n], y[:n], X[n:], y[n:]


def _problems(ctx, cfg):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    sets = []
    if "fashion_mnist" in available_datasets(ctx.data_dir):
        with ctx.step(NAME, "data: load fashion_mnist") as s:
            X, y, Xt, yt = load_dataset("fashion_mnist", ctx.data_dir)
            m = cfg["fashion_rows"] or X.shape[0]
            # exact /255 in float64: the harness scaled the uint8 pixels in float32
            X, Xt = (np.rint(a.astype(np.float64) * 255.0) / 255.0 for a in (X[:m], Xt))
            sets.append(("fashion_mnist", "fashion", X, y[:m], Xt, yt, "X / 255"))
            s.result = f"{m}×{X.shape[1]}, test {Xt.shape[0]}"
    else:
        if ctx.data_dir is not None:
            ctx.log(NAME, f"fashion_mnist.npz not in {ctx.data_dir}: synthetic stand-in")
        X, y, Xt, yt = _synthetic(cfg["synth_rows"])
        sets.append(("synthetic", "fashion", X, y, Xt, yt, "fashion_mnist stand-in (sigmoid of a 16-d latent)"))
    Xd, yd = load_digits(return_X_y=True)
    Xa, Xb, ya, yb = train_test_split(Xd / 16.0, yd, test_size=0.25, stratify=yd, random_state=0)
    sets.append(("digits", "digits", Xa, ya, Xb, yb, "X / 16, 75/25 split"))
    probs = []
    for name, kind, X, y, Xt, yt, note in sets:
        for dt in (np.float64, np.float32):
            probs.append(dict(name=name, kind=kind, dtype=np.dtype(dt).name, note=note,
                              X=np.ascontiguousarray(X, dtype=dt), y=np.asarray(y, np.int64),
                              X_test=np.ascontiguousarray(Xt, dtype=dt), y_test=np.asarray(yt, np.int64),
                              epochs=cfg[f"{kind}_E"], acc_epochs=(cfg["acc"] or {}).get(kind)))
    return probs


# ----------------------------------------------------------------------------------------------
# Libraries: each fit returns {"time_s", "loss" (per epoch), "t" (cumulative s), "acc", "n_iter"}
# ----------------------------------------------------------------------------------------------

def _sk_params(epochs):
    return dict(hidden_layer_sizes=HIDDEN, activation="logistic", solver="adam", alpha=ALPHA,
                batch_size=BATCH, learning_rate_init=LR, max_iter=epochs, shuffle=True,
                random_state=SEED, tol=0.0, n_iter_no_change=epochs + 1, beta_1=BETAS[0],
                beta_2=BETAS[1], epsilon=EPS)


def _fit_estimator(cls, p, epochs):
    est = cls(**_sk_params(epochs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est.fit(p["X"], p["y"])
        dt = time.perf_counter() - t0
    loss = [float(v) for v in est.loss_curve_]
    return {"time_s": dt, "loss": loss, "t": [dt * (i + 1) / len(loss) for i in range(len(loss))],
            "acc": float(est.score(p["X_test"], p["y_test"])), "n_iter": int(est.n_iter_),
            "dtype": str(est.coefs_[0].dtype)}


def _fit_torch(torch, p, epochs):
    tdt = {"float64": torch.float64, "float32": torch.float32}[p["dtype"]]
    torch.manual_seed(SEED)
    sizes = (p["X"].shape[1], *HIDDEN, int(p["y"].max()) + 1)
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        lin = torch.nn.Linear(a, b, dtype=tdt)
        bound = math.sqrt(2.0 / (a + b))  # sklearn's init for logistic units
        torch.nn.init.uniform_(lin.weight, -bound, bound)
        torch.nn.init.uniform_(lin.bias, -bound, bound)
        layers += [lin, torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers[:-1])
    weights = [m.weight for m in model if isinstance(m, torch.nn.Linear)]
    biases = [m.bias for m in model if isinstance(m, torch.nn.Linear)]
    opt = torch.optim.Adam([{"params": weights, "weight_decay": ALPHA / BATCH},
                            {"params": biases, "weight_decay": 0.0}], lr=LR, betas=BETAS, eps=EPS)
    xent = torch.nn.CrossEntropyLoss()
    X, y = torch.from_numpy(p["X"]), torch.from_numpy(p["y"])
    n = X.shape[0]
    gen = torch.Generator().manual_seed(SEED)
    losses, stamps = [], []
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for i in range(0, n, BATCH):
            idx = perm[i:i + BATCH]
            opt.zero_grad(set_to_none=True)
            loss = xent(model(X[idx]), y[idx])
            loss.backward()
            opt.step()
            with torch.no_grad():  # the running loss as sklearn's loss_curve_ reports it
                pen = sum(float(torch.sum(w * w)) for w in weights)
            total += (loss.item() + 0.5 * ALPHA * pen / idx.numel()) * idx.numel()
        losses.append(total / n)
        stamps.append(time.perf_counter() - t0)
    with torch.no_grad():
        pred = model(torch.from_numpy(p["X_test"])).argmax(1).numpy()
    return {"time_s": stamps[-1], "loss": losses, "t": stamps, "acc": float(np.mean(pred == p["y_test"])),
            "n_iter": epochs, "dtype": p["dtype"]}


def _time_fits(fn, repeats, budget, warm):
    """time_call for whole fits: one warm-up call of warm() (a 1-epoch fit: it loads the code,
    the BLAS / OpenMP pools and the data into cache as a full fit does), then up to `repeats`
    timed calls, stopping once `budget` seconds are spent (at least one), so a busy machine cannot
    stretch the run ~100x."""
    t0 = time.perf_counter()
    warm()
    warm, times = time.perf_counter() - t0, []
    while len(times) < repeats and (not times or sum(times) + times[-1] <= budget):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return Timing(times=times, warmup=warm)


# ----------------------------------------------------------------------------------------------
# GEMM floor
# ----------------------------------------------------------------------------------------------

def _gemm_floor(p, timing):
    """Per-GEMM measured GFLOP/s at batch shape; epoch FLOPs and floor seconds for p's n."""
    dt, n = np.dtype(p["dtype"]), p["X"].shape[0]
    sizes = (p["X"].shape[1], *HIDDEN, int(p["y"].max()) + 1)
    rng = np.random.default_rng(0)
    gemms = []
    for li, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        A, W, D = (rng.random(s).astype(dt) for s in ((BATCH, a), (a, b), (BATCH, b)))
        ops = [("fwd", partial(np.matmul, A, W, out=np.empty((BATCH, b), dt))),
               ("wgrad", partial(np.matmul, A.T, D, out=np.empty((a, b), dt)))]
        if li > 0:
            ops.append(("delta", partial(np.matmul, D, W.T, out=np.empty((BATCH, a), dt))))
        for kind, fn in ops:
            t = time_call(fn, **timing)
            gf = 2.0 * BATCH * a * b / t.median / 1e9
            gemms.append({"layer": li, "op": kind, "shape": f"{BATCH}×{a}·{a}×{b}" if kind != "wgrad"
                          else f"{a}×{BATCH}·{BATCH}×{b}", "gflops": gf,
                          "epoch_flop": 2.0 * n * a * b})
    flop = sum(g["epoch_flop"] for g in gemms)
    floor = sum(g["epoch_flop"] / (g["gflops"] * 1e9) for g in gemms)
    return {"gemms": gemms, "epoch_gflop": flop / 1e9, "floor_s": floor, "gemm_gflops": flop / floor / 1e9}


# ----------------------------------------------------------------------------------------------
# Run
# ----------------------------------------------------------------------------------------------

def _measure(ctx, p, tag, lib, fit, repeats, cfg, mode):
    """Epoch time (median of whole fits / epochs), accuracy and loss curve of one library."""
    last = {}

    def one_fit():
        last.update(fit(p, p["epochs"]))

    settle(mode)
    with ctx.step(NAME, f"{tag}: {lib} {p['epochs']} epochs") as s:
        gc.collect()
        t = _time_fits(one_fit, repeats, cfg["budget"], partial(fit, p, 1))
        res = {"epoch_s": t.median / p["epochs"], "fit": t.as_dict(), **last}
        res["t"] = [x * t.median / last["time_s"] for x in last["t"]]  # plot at the median
        s.result = f"{res['epoch_s'] * 1e3:.1f} ms/epoch, test acc {res['acc']:.4f}"
    if res["n_iter"] != p["epochs"] or res["dtype"] != p["dtype"]:
        ctx.log(NAME, f"warning: {lib} ran {res['n_iter']} epochs in {res['dtype']} "
                      f"(asked: {p['epochs']} in {p['dtype']})")
    if p["acc_epochs"]:
        settle(mode)
        with ctx.step(NAME, f"{tag}: {lib} {p['acc_epochs']} epochs (accuracy)") as s:
            long = fit(p, p["acc_epochs"])
            res.update(acc=long["acc"], loss=long["loss"], t=long["t"], n_iter=long["n_iter"])
            s.result = f"test acc {long['acc']:.4f}"
    return res


def run(ctx):
    mode = ctx.mode
    cfg = MODES[mode]
    repeats = ctx.repeats or cfg["repeats"]
    torch = get_torch()
    fitters = {"sce": partial(_fit_estimator, SigmoidMLPClassifier),
               "sklearn": partial(_fit_estimator, MLPClassifier)}
    if torch is not None:
        fitters["torch"] = partial(_fit_torch, torch)
    n_all = cpu_count()
    gemm_timing = dict(repeats=repeats, budget=0.05 if ctx.quick else 0.2, max_repeats=200)
    reset_load()
    have_fashion = "fashion_mnist" in available_datasets(ctx.data_dir)
    ctx.progress(NAME, int(have_fashion) + 4 * (1 + len(fitters) * (2 if cfg["acc"] else 1)))
    rows = []
    with limit_threads(n_all):
        for p in _problems(ctx, cfg):
            tag = f"{p['name']} {_SHORT[p['dtype']]}"
            row = {k: p[k] for k in ("name", "kind", "dtype", "note", "epochs", "acc_epochs")}
            row.update(n=p["X"].shape[0], d=p["X"].shape[1], n_test=p["X_test"].shape[0], libs={})
            with ctx.step(NAME, f"{tag}: GEMM floor") as s:
                row["floor"] = _gemm_floor(p, gemm_timing)
                s.result = (f"{row['floor']['epoch_gflop']:.2f} GFLOP/epoch at "
                            f"{row['floor']['gemm_gflops']:.1f} GFLOP/s")
            for lib, fit in fitters.items():
                res = _measure(ctx, p, tag, lib, fit, repeats, cfg, mode)
                res["gflops"] = row["floor"]["epoch_gflop"] / res["epoch_s"]
                row["libs"][lib] = res
            rows.append(row)
    load = load_summary()
    if load and load["share_over_0.5_core"] > 0.1:
        ctx.log(NAME, f"warning: other processes kept {load['mean_cores']:.2f} cores busy on average "
                      f"(max {load['max_cores']:.2f}): timings are noisy")
    results = {"mode": mode, "config": {"hidden": HIDDEN, "batch": BATCH, "lr": LR, "alpha": ALPHA,
                                        "betas": BETAS, "eps": EPS, "seed": SEED, "threads": n_all},
               "torch": torch is not None, "other_processes_cpu": load, "rows": rows}
    return Report(markdown=_markdown(rows, mode, n_all, load, torch),
                  results=results, plot=lambda plt: _plot(plt, rows))


# ----------------------------------------------------------------------------------------------
# Tables, plot
# ----------------------------------------------------------------------------------------------

def _ratio(row, a, b):
    la, lb = row["libs"].get(a), row["libs"].get(b)
    return la["epoch_s"] / lb["epoch_s"] if la and lb else None


def _acc_pp(row, lib):
    r = row["libs"].get(lib)
    return None if r is None else 100.0 * (r["acc"] - row["libs"]["sklearn"]["acc"])


def _ms(row, lib):
    r = row["libs"].get(lib)
    return None if r is None else r["epoch_s"] * 1e3


def _tag(r):
    return f"{r['name']} {r['n']}×{r['d']}"


def _align(rows):
    return "ll" + "r" * (len(rows[0]) - 2) if rows else None


def _markdown(rows, mode, n_all, load, torch):
    libs = [lib for lib in LIBS if lib in rows[0]["libs"]] if rows else []
    t_rows = [[_tag(r), r["dtype"], r["epochs"], fmt_num(r["floor"]["floor_s"] * 1e3)]
              + [fmt_num(_ms(r, lib)) for lib in libs]
              + [fmt_ratio(_ratio(r, "sce", lib)) for lib in libs[1:]]
              + [fmt_ratio(r["libs"]["sce"]["epoch_s"] / r["floor"]["floor_s"])] for r in rows]
    g_rows = [[_tag(r), r["dtype"], fmt_num(r["floor"]["epoch_gflop"]), fmt_num(r["floor"]["gemm_gflops"])]
              + [fmt_num(r["libs"][lib]["gflops"]) for lib in libs] for r in rows]
    a_rows = [[_tag(r), r["dtype"], r["acc_epochs"] or r["epochs"], r["n_test"]]
              + [f"{100 * r['libs'][lib]['acc']:.2f}" for lib in libs]
              + [f"{_acc_pp(r, lib):+.2f}" for lib in libs if lib != "sklearn"]
              + [f"{r['libs'][lib]['loss'][-1]:.4f}" for lib in libs] for r in rows]
    epochs = {"quick": "--quick: 1 epoch on the fashion / stand-in rows, digits 2 epochs.",
              "default": "fashion / stand-in 2 epochs, digits 20.",
              "full": "fashion / stand-in 5 epochs, digits 100; accuracy from separate 20 / 200-epoch fits."}
    stand_in = next((f"{r['name']}: {r['note']}." for r in rows if r["name"] == "synthetic"), "")
    parts = [
        paragraph(f"Hidden (128, 64), logistic units, softmax output, adam lr {LR:g}, alpha {ALPHA:g}, "
                  f"batch {BATCH}, shuffle, random_state {SEED}; the same for sklearn "
                  "`MLPClassifier(activation=\"logistic\")`"
                  + (" and torch (Linear-Sigmoid stack, CrossEntropyLoss, Adam with weight_decay = "
                     f"alpha/batch on the weights only, sklearn's Glorot init; torch {torch.__version__})"
                     if torch is not None else "")
                  + f". All {n_all} cores for everyone. {epochs[mode]} {stand_in} {load_note(load)}"),
        "", "### Epoch time (ms, median of repeats; lower is better)", "",
        markdown_table(["dataset", "dtype", "epochs", "GEMM floor"] + libs
                       + [f"sce/{lib}" for lib in libs[1:]] + ["sce/floor"], t_rows, _align(t_rows), keys=2),
        "", paragraph("GEMM floor = the epoch's matmul FLOPs (forward, weight gradients, and the deltas "
                      "of every layer but the input one) at numpy's measured rate for each batch-200 shape."),
        "", "### Achieved GFLOP/s (epoch GEMM FLOPs / epoch time)", "",
        markdown_table(["dataset", "dtype", "GFLOP/epoch", "numpy GEMM rate"] + libs, g_rows, _align(g_rows),
                       keys=2),
        "", "### Test accuracy (%) and final training loss", "",
        markdown_table(["dataset", "dtype", "epochs", "n test"] + libs
                       + [f"{lib} − sklearn (pp)" for lib in libs if lib != "sklearn"]
                       + [f"loss {lib}" for lib in libs], a_rows, _align(a_rows), keys=2),
    ]
    if torch is not None:
        parts += ["", paragraph("torch draws its own initial weights and batch order (same distributions "
                                "as sklearn), so early in training its accuracy differs from sklearn's by "
                                "chance.")]
    return "\n".join(parts) + "\n"


def _plot(plt, rows):
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FormatStrFormatter, MaxNLocator

    ncols = 2
    nrows = max(1, math.ceil(len(rows) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(12, 4.2 * nrows), squeeze=False)
    used = []
    for ax, r in zip(axes.ravel(), rows):
        for i, lib in enumerate(LIBS):
            res = r["libs"].get(lib)
            if res:
                ax.plot(res["t"], res["loss"], marker="o" if len(res["t"]) <= 30 else None, ms=4,
                        color=f"C{i}", lw=2.2 if lib == "sce" else 1.5)
                if lib not in used:
                    used.append(lib)
        losses = [v for res in r["libs"].values() for v in res["loss"]]
        lo, hi = min(losses), max(losses)
        if hi > 5 * lo:
            ax.set_yscale("log")
        else:  # a narrow range: linear axis, plain tick labels, at least 0.2% of range shown
            pad = max(0.0, 0.002 * hi - (hi - lo)) / 2
            ax.set_ylim(lo - pad - 0.05 * (hi - lo), hi + pad + 0.05 * (hi - lo))
            ax.yaxis.set_major_formatter(FormatStrFormatter("%.4g"))
            ax.yaxis.set_major_locator(MaxNLocator(5))
        ax.set_title(f"{_tag(r)} {r['dtype']}", fontsize=12)
        ax.set_xlabel("wall time (s)", fontsize=11)
        ax.set_ylabel("training loss", fontsize=11)
        ax.grid(True, which="both", alpha=0.3)
        ax.tick_params(labelsize=10)
    for ax in axes.ravel()[len(rows):]:
        ax.axis("off")
    handles = [Line2D([], [], color=f"C{LIBS.index(lib)}", lw=2, marker="o", label=lib) for lib in used]
    fig.suptitle("Training loss (sklearn's loss_curve_: mean batch loss + L2 term) vs wall time\n"
                 "sce / sklearn: fit time spread evenly over the epochs", fontsize=13)
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), frameon=False, fontsize=11)
    fig.tight_layout(rect=(0, 0.06 / nrows, 1, 1))
    return fig
