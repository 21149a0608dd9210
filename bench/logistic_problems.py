"""The logistic suite's problems: the objective every library is asked to minimize, the datasets
(synthetic, bundled, real), the gap measure, and one loss + gradient evaluation against one
streaming read of X.

Objective (L2 penalty, C = 1, unpenalized intercept, unit sample weights):

    f(coef, intercept) = C * sum_i loss_i + 1/2 ||coef||^2

always evaluated in float64 with sce's LogisticObjective on a float64 copy of X.  f* is the lowest
objective seen for the problem over all fits, including a tight sce reference fit; the relative gap
of a fit is (f - f*) / f*.
"""
import math
import warnings
from dataclasses import dataclass
from functools import partial

import numpy as np
import scipy.sparse as sp

from sce._logistic_objective import LogisticObjective

from ._data import available_datasets, load_dataset
from ._harness import time_call

NAME = "logistic"
GAP = 1e-6                      # the gap a fit must reach
C = 1.0
REF = dict(tol=1e-7, solver="newton-cg", max_iter=1000)
SYNTH_D = 100
SYNTH_N = {"quick": 2_000, "default": 20_000, "full": 200_000}
FASHION_N = {"quick": 500, "default": 2_500, "full": 60_000}
QUICK_REAL_ROWS = 2_000         # --quick: the other real sets shrunk to this many rows
QUICK_BUNDLED_ROWS = 500        # --quick: digits' first rows (its multinomial Newton fits are slow)
REAL_SETS = ("a9a", "w8a", "ijcnn1", "reuters_moneyfx", "mushrooms", "banknote", "fashion_mnist")


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


def encode(y):
    classes, y_enc = np.unique(np.asarray(y), return_inverse=True)
    return y_enc.astype(np.int64), classes.size


def short_dtype(dt):
    return {"float64": "f64", "float32": "f32"}[np.dtype(dt).name]


def fmt_n(n):
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def synthetic(n, d=SYNTH_D):
    from sklearn.datasets import make_classification
    from sklearn.preprocessing import StandardScaler

    X, y = make_classification(n_samples=n, n_features=d, n_informative=50, n_redundant=10,
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    return np.ascontiguousarray(X), y


def problems(ctx, mode):
    from sklearn.datasets import load_breast_cancer, load_digits
    from sklearn.preprocessing import StandardScaler

    probs = []
    n = SYNTH_N[mode]
    X, y = synthetic(n)
    y_enc, k = encode(y)
    for dt in (np.float64, np.float32):
        probs.append(Problem(f"synthetic {fmt_n(n)}×{SYNTH_D} {short_dtype(dt)}",
                             f"synthetic_{short_dtype(dt)}", np.ascontiguousarray(X, dtype=dt),
                             y_enc, k, "synthetic", f"synthetic_{short_dtype(dt)}"))
    for loader, key in ((load_breast_cancer, "breast_cancer"), (load_digits, "digits")):
        Xb, yb = loader(return_X_y=True)
        note = "standardized"
        if mode == "quick" and Xb.shape[0] > QUICK_BUNDLED_ROWS:
            Xb, yb = Xb[:QUICK_BUNDLED_ROWS], yb[:QUICK_BUNDLED_ROWS]
            note = f"first {QUICK_BUNDLED_ROWS} rows, standardized"
        Xb = np.ascontiguousarray(StandardScaler().fit_transform(Xb))
        y_enc, k = encode(yb)
        probs.append(Problem(key, key, Xb, y_enc, k, "bundled", key, note=note))
    data_dir = ctx.data_dir
    have = set(available_datasets(data_dir))
    missing = [name for name in REAL_SETS if name not in have]
    if data_dir is not None and missing:
        ctx.log(NAME, f"not in {data_dir}: {', '.join(missing)} (skipped)")
    for name in REAL_SETS:
        if name not in have:
            continue
        X, y, _, _ = load_dataset(name, data_dir)
        y_enc, k = encode(y)
        if name == "fashion_mnist":
            m = min(FASHION_N[mode], X.shape[0])
            note = "X/255; " + ("all rows" if m == X.shape[0] else f"first {m} of {X.shape[0]} rows")
            X32 = np.ascontiguousarray(X[:m], dtype=np.float32)
            y_enc = y_enc[:m]
            probs.append(Problem(f"fashion_mnist {fmt_n(m)} f32", "fashion_mnist_f32", X32, y_enc, k,
                                 "real", "fashion_mnist", note=note))
            if mode == "full":  # the float64 copy too (the slowest problem of the suite)
                probs.append(Problem(f"fashion_mnist {fmt_n(m)} f64", "fashion_mnist_f64",
                                     X32.astype(np.float64), y_enc, k, "real", "fashion_mnist", note=note))
        elif mode == "quick" and X.shape[0] > QUICK_REAL_ROWS:  # evenly spaced rows: both classes
            rows = np.linspace(0, X.shape[0] - 1, QUICK_REAL_ROWS).astype(np.int64)
            probs.append(Problem(f"{name} {fmt_n(QUICK_REAL_ROWS)}", name, X[rows], y_enc[rows], k, "real", name,
                                 note=f"{QUICK_REAL_ROWS} evenly spaced rows of {X.shape[0]}"))
        else:
            probs.append(Problem(name, name, X, y_enc, k, "real", name, note="as given"))
    return probs


def x_bytes(X):
    if sp.issparse(X):
        return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    return X.nbytes


# ----------------------------------------------------------------------------------------------
# Scoring a fit
# ----------------------------------------------------------------------------------------------

def params(model):
    """Flat float64 [coef.ravel(), intercept] as LogisticObjective expects."""
    coef = np.asarray(model.coef_, dtype=np.float64).ravel()
    b = np.atleast_1d(np.asarray(model.intercept_, dtype=np.float64)).ravel()
    return np.concatenate([coef, b])


def n_iter_of(model):
    n = getattr(model, "n_iter_", None)
    if n is None:
        return None
    return int(np.max(n))


def objective(prob, model):
    f, _ = prob.obj64.loss_grad(params(model))
    return float(f)


def rel_gap(f, f_star):
    return (f - f_star) / abs(f_star)


def prepare(prob, n_threads):
    """The float64 copy of X and its objective, used to score every fit of prob."""
    X = prob.X
    prob.X64 = X.astype(np.float64) if X.dtype != np.float64 else X
    y_obj = prob.y.astype(np.float64) if prob.binary else prob.y
    prob.obj64 = LogisticObjective(prob.X64, y_obj, np.ones(X.shape[0]), C, True, prob.n_classes, n_threads)


# ----------------------------------------------------------------------------------------------
# Loss + gradient vs one read of X
# ----------------------------------------------------------------------------------------------

def reader(X, n_threads, pool):
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


def loss_grad_row(prob, caps, mode, n_all, pool):
    x = prob.ref["x"]
    budget = 0.05 if mode == "quick" else 0.4
    kw = dict(repeats=caps.repeats if mode != "quick" else 3, budget=budget, min_repeats=3, max_repeats=300)
    row = {"dataset": prob.name, "x_mb": x_bytes(prob.X) / 1e6}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for nt in sorted({n_all, 1}, reverse=True):
            y = prob.y.astype(np.float64) if prob.binary else prob.y
            obj = LogisticObjective(prob.X, y, np.ones(prob.X.shape[0]), C, True, prob.n_classes, nt)
            row[f"loss_grad_{nt}t_s"] = time_call(partial(obj.loss_grad, x), **kw).median
            row[f"read_{nt}t_s"] = time_call(reader(prob.X, nt, pool), **kw).median
    row["threads"] = n_all
    return row
