"""LogisticClassifier: scikit-learn compatibility, exact derivatives, parity with LogisticRegression."""
import pickle
import re
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.special
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine, make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import sce.linear
from sce import LogisticClassifier
from sce._logistic_objective import LogisticObjective


@parametrize_with_checks([LogisticClassifier(), LogisticClassifier(solver="newton-cg"),
                          LogisticClassifier(solver="newton-cholesky"),
                          LogisticClassifier(solver="lbfgs")])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ---- the objective: derivatives against central finite differences ---------------------------

def _problem(sparse, n_classes, fit_intercept, C=0.7, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 6))
    X[X < 0.2] = 0.0
    y = rng.integers(0, n_classes, 200)
    sw = rng.random(200) + 0.25
    Xm = sp.csr_matrix(X) if sparse else X
    obj = LogisticObjective(Xm, y if n_classes > 2 else y == 1, sw, C, fit_intercept, n_classes, 2)
    return obj, X, y, sw, rng


def _reference_objective(X, y, sw, C, x, n_classes, fit_intercept):
    """The objective written directly with numpy (float64, naive but fine at these sizes)."""
    d = X.shape[1]
    K = n_classes if n_classes > 2 else 1
    W = x[: K * d].reshape(K, d)
    b = x[K * d:] if fit_intercept else np.zeros(K)
    Z = X @ W.T + b
    if K == 1:
        z = Z[:, 0]
        loss = np.logaddexp(0, z) - (y == 1) * z
    else:
        loss = np.logaddexp.reduce(Z, axis=1) - Z[np.arange(len(y)), y]
    pen = 0.5 * np.sum(W * W) if np.isfinite(C) else 0.0
    return (C if np.isfinite(C) else 1.0) * np.sum(sw * loss) + pen


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_objective_value_gradient_hessian(sparse, n_classes, fit_intercept):
    obj, X, y, sw, rng = _problem(sparse, n_classes, fit_intercept)
    x = 0.3 * rng.standard_normal(obj.size)
    f, g = obj.loss_grad(x)
    assert f == pytest.approx(_reference_objective(X, y, sw, 0.7, x, n_classes, fit_intercept), rel=1e-12)
    eps = 1e-6
    g_fd = np.array([(obj.loss_grad(x + eps * e)[0] - obj.loss_grad(x - eps * e)[0]) / (2 * eps)
                     for e in np.eye(obj.size)])
    np.testing.assert_allclose(g, g_fd, rtol=1e-6, atol=1e-6 * np.max(np.abs(g)))
    v = rng.standard_normal(obj.size)
    curvature = obj.evaluate(x)[2]
    obj.loss_grad(x + v)  # no state: the curvature passed in is what counts
    hv = obj.hessp(curvature, v)
    hv_fd = (obj.loss_grad(x + eps * v)[1] - obj.loss_grad(x - eps * v)[1]) / (2 * eps)
    np.testing.assert_allclose(hv, hv_fd, rtol=1e-5, atol=1e-6 * np.max(np.abs(hv)))
    H = obj.hess(curvature)
    if n_classes > 2 and fit_intercept:  # hess() adds c 11^T/K on the intercepts (the softmax's free shift)
        u = np.zeros(obj.size)
        u[obj.n_coef:] = 1.0
        v = v - (v @ u) / (u @ u) * u
        hv = obj.hessp(curvature, v)
    np.testing.assert_allclose(H @ v, hv, rtol=1e-10, atol=1e-10 * np.max(np.abs(hv)))


@pytest.mark.parametrize("n_classes", [3, 4, 5, 6, 9, 10])
@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
def test_multinomial_dense_tiles(n_classes, dtype, rtol):
    """The dense multinomial passes work on tiles of 4 and 2 classes and groups of 4 rows: every
    remainder (odd K, K % 4, rows past a block) against a float64 numpy gradient and H v."""
    rng = np.random.default_rng(n_classes)
    n, d, K = 1003, 37, n_classes
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, K, n)
    sw = rng.random(n) + 0.25
    obj = LogisticObjective(X, y, sw.astype(dtype), 0.7, True, K, 2)
    x = 0.3 * rng.standard_normal(obj.size)
    v = rng.standard_normal(obj.size)
    f, g, curvature = obj.evaluate(x)
    hv = obj.hessp(curvature, v)
    Xt = np.column_stack([X.astype(np.float64), np.ones(n)])
    Wt = np.column_stack([x[: K * d].reshape(K, d), x[K * d:]])
    Vt = np.column_stack([v[: K * d].reshape(K, d), v[K * d:]])
    P = scipy.special.softmax(Xt @ Wt.T, axis=1)
    sw64 = sw.astype(dtype).astype(np.float64)
    G = 0.7 * (sw64[:, None] * (P - np.eye(K)[y])).T @ Xt
    G[:, :d] += Wt[:, :d]
    T = Xt @ Vt.T
    U = sw64[:, None] * P * (T - np.sum(P * T, axis=1, keepdims=True))
    HV = 0.7 * U.T @ Xt
    HV[:, :d] += Vt[:, :d]
    for got, ref in ((g, G), (hv, HV)):
        got = np.column_stack([got[: K * d].reshape(K, d), got[K * d:]])
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=rtol * np.max(np.abs(ref)))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_objective_threads_and_float32(n_classes):
    obj1, X, y, sw, rng = _problem(False, n_classes, True)
    x = 0.3 * rng.standard_normal(obj1.size)
    big = np.tile(X, (200, 1))  # 40000 rows: large enough for the threaded path
    yb, swb = np.tile(y, 200), np.tile(sw, 200)
    lab = yb if n_classes > 2 else yb == 1
    f1, g1 = LogisticObjective(big, lab, swb, 0.7, True, n_classes, 1).loss_grad(x)
    f2, g2 = LogisticObjective(big, lab, swb, 0.7, True, n_classes, 2).loss_grad(x)
    np.testing.assert_allclose([f1], [f2], rtol=1e-13)
    np.testing.assert_allclose(g1, g2, rtol=1e-11, atol=1e-11 * np.max(np.abs(g1)))
    f32, g32 = LogisticObjective(big.astype(np.float32), lab, swb, 0.7, True, n_classes, 2).loss_grad(x)
    np.testing.assert_allclose([f32], [f1], rtol=1e-5)
    np.testing.assert_allclose(g32, g1, rtol=1e-3, atol=1e-4 * np.max(np.abs(g1)))


# ---- parity with scikit-learn ------------------------------------------------------------------

def _objective_of(model, X, y, sample_weight=None, C=1.0):
    """sklearn's objective (float64) at a fitted model's coefficients."""
    classes = model.classes_
    ye = np.searchsorted(classes, y)
    K = len(classes)
    Xd = X.astype(np.float64)
    Xd = Xd.tocsr() if sp.issparse(Xd) else np.ascontiguousarray(Xd)
    sw = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    obj = LogisticObjective(Xd, ye if K > 2 else ye == 1, sw, C, True, K, 2)
    x = np.concatenate([np.asarray(model.coef_, np.float64).ravel(),
                        np.asarray(model.intercept_, np.float64).ravel()])
    return obj.loss_grad(x)[0]


def _assert_parity(X, y, sample_weight=None, class_weight=None, C=1.0, min_agree=0.999,
                   ref_solver="newton-cg"):
    # The reference is fitted on X in float64 (the same values): in float32 sklearn's newton-cg
    # cannot reach tol=1e-10 and its line search fails (scipy LineSearchWarning).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # newton-cg by default: sklearn's lbfgs stops near a 1e-6 relative gap on a9a even at
        # tol=1e-10 (but newton-cg is slow for many classes and features: lbfgs there)
        ref = LogisticRegression(C=C, tol=1e-10, max_iter=10000 if ref_solver == "newton-cg" else 1000,
                                 class_weight=class_weight, solver=ref_solver).fit(
            X.astype(np.float64), y, sample_weight=sample_weight)
    ours = LogisticClassifier(C=C, class_weight=class_weight).fit(X, y, sample_weight=sample_weight)
    sw = sample_weight
    if class_weight is not None:
        from sklearn.utils.class_weight import compute_class_weight
        cw = compute_class_weight(class_weight, classes=ref.classes_, y=y, sample_weight=sample_weight)
        sw = (np.ones(len(y)) if sw is None else np.asarray(sw)) * cw[np.searchsorted(ref.classes_, y)]
    f_ref = _objective_of(ref, X, y, sw, C)
    f_ours = _objective_of(ours, X, y, sw, C)
    assert f_ours - f_ref <= 1e-6 * abs(f_ref), (f_ours, f_ref)  # never worse than sklearn
    if ref_solver == "newton-cg":  # an accurate reference: also not (suspiciously) better
        assert f_ref - f_ours <= 1e-6 * abs(f_ref), (f_ours, f_ref)
    agree = np.mean(ours.predict(X) == ref.predict(X))
    assert agree >= min_agree, agree
    assert ours.coef_.dtype == (X.dtype if X.dtype in (np.float32, np.float64) else np.float64)
    return ours, ref


BUNDLED = {
    "breast_cancer": load_breast_cancer,
    "iris": load_iris,
    "wine": load_wine,
    "digits": load_digits,
}


@pytest.mark.parametrize("name", list(BUNDLED))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_bundled(name, dtype):
    X, y = BUNDLED[name](return_X_y=True)
    X = StandardScaler().fit_transform(X).astype(dtype)
    ours, ref = _assert_parity(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-3 if dtype == np.float32 else 1e-4)


@pytest.mark.parametrize("name", ["breast_cancer", "iris"])
def test_parity_weights(name):
    X, y = BUNDLED[name](return_X_y=True)
    X = StandardScaler().fit_transform(X)
    rng = np.random.default_rng(0)
    sw = rng.random(len(y)) * 3
    _assert_parity(X, y, sample_weight=sw)
    _assert_parity(X, y, class_weight="balanced")
    _assert_parity(X, y, sample_weight=sw, class_weight={k: 1 + k for k in np.unique(y)})
    _assert_parity(X, y, C=0.05)
    _assert_parity(X, y, C=np.inf if name == "iris" else 100.0)


REAL_BINARY = ["a9a", "w8a", "ijcnn1", "reuters_moneyfx", "mushrooms", "banknote"]


def _load(load_dataset, name):
    f = load_dataset(name)
    y = f["y"]
    if str(f["kind"]) == "csr":
        X = sp.csr_matrix((f["data"], f["indices"], f["indptr"]), shape=tuple(f["shape"]))
    else:
        X = f["X"]
        X = X.astype(np.float32) / 255 if X.dtype == np.uint8 else X
    return X, y


@pytest.mark.parametrize("name", REAL_BINARY)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parity_real_binary(load_dataset, name, dtype):
    X, y = _load(load_dataset, name)
    X = X.astype(dtype)
    _assert_parity(X, y)


@pytest.mark.parametrize("name", ["a9a", "ijcnn1"])
def test_parity_real_weighted(load_dataset, name):
    X, y = _load(load_dataset, name)
    sw = np.random.default_rng(1).random(X.shape[0]) * 2
    _assert_parity(X, y, sample_weight=sw, class_weight="balanced")


def test_parity_fashion_mnist_multinomial(load_dataset):
    X, y = _load(load_dataset, "fashion_mnist")
    # 10 classes on a 7 x 7 grid of the 28 x 28 pixels and 5000 images: sklearn's accurate
    # newton-cg needs minutes on all 784 pixels, and its lbfgs does not converge there
    X = X.reshape(-1, 28, 28)[:5000, ::4, ::4].reshape(5000, 49)
    for dtype in (np.float64, np.float32):
        _assert_parity(X.astype(dtype), y[:5000], C=1.0)


# ---- API behaviour -----------------------------------------------------------------------------

def test_sparse_and_dense_agree_and_no_copy(monkeypatch):
    X, y = make_classification(500, 8, random_state=0)
    X[np.abs(X) < 0.5] = 0
    seen = []
    original = sce.linear.LogisticObjective

    def spy(X_, *args, **kwargs):
        seen.append(X_)
        return original(X_, *args, **kwargs)

    monkeypatch.setattr(sce.linear, "LogisticObjective", spy)
    for dtype in (np.float64, np.float32):
        Xd = np.ascontiguousarray(X, dtype=dtype)
        Xs = sp.csr_matrix(Xd)
        md = LogisticClassifier().fit(Xd, y)
        ms = LogisticClassifier().fit(Xs, y)
        assert seen[-2] is Xd  # C-contiguous float X is used as is
        assert seen[-1].data is Xs.data or np.shares_memory(seen[-1].data, Xs.data)  # CSR not copied
        np.testing.assert_allclose(ms.coef_, md.coef_, rtol=1e-4 if dtype == np.float32 else 1e-9)
        assert md.coef_.dtype == dtype and md.intercept_.dtype == dtype
    mc = LogisticClassifier().fit(sp.csc_matrix(X), y)  # CSC is accepted (converted)
    np.testing.assert_allclose(mc.coef_, LogisticClassifier().fit(X, y).coef_, rtol=1e-9)


def test_attributes_and_methods():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]  # string labels
    m = LogisticClassifier().fit(X, names)
    assert list(m.classes_) == ["setosa", "versicolor", "virginica"]
    assert m.coef_.shape == (3, 4) and m.intercept_.shape == (3,)
    assert m.n_iter_.shape == (1,) and m.n_iter_[0] >= 1
    assert m.n_features_in_ == 4
    assert abs(m.intercept_.sum()) < 1e-10  # centred, as sklearn reports it
    P = m.predict_proba(X)
    np.testing.assert_allclose(P.sum(axis=1), 1, rtol=1e-12)
    np.testing.assert_allclose(m.predict_log_proba(X), np.log(P), rtol=1e-10, atol=1e-12)
    assert m.score(X, names) > 0.95
    b = LogisticClassifier().fit(X, y == 1)
    assert b.coef_.shape == (1, 4) and b.intercept_.shape == (1,)
    d = b.decision_function(X)
    np.testing.assert_allclose(b.predict_proba(X)[:, 1], 1 / (1 + np.exp(-d)), rtol=1e-12)
    # far from the boundary log-probabilities stay finite and accurate
    lp = b.predict_log_proba(X * 1e3)
    assert np.all(np.isfinite(lp))


def test_pipeline_grid_clone_pickle():
    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticClassifier())
    gs = GridSearchCV(pipe, {"logisticclassifier__C": [0.1, 1.0]}, cv=3).fit(X, y)
    assert gs.best_score_ > 0.95
    m2 = pickle.loads(pickle.dumps(gs.best_estimator_))
    np.testing.assert_array_equal(m2.predict(X), gs.best_estimator_.predict(X))
    c = clone(LogisticClassifier(C=3.0, n_threads=1))
    assert c.get_params()["C"] == 3.0 and c.get_params()["n_threads"] == 1 and not hasattr(c, "coef_")


def test_feature_names_in():
    pytest.importorskip("pandas")
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    m = LogisticClassifier().fit(X, y)
    assert list(m.feature_names_in_) == list(X.columns)
    with pytest.warns(UserWarning, match="feature names"):
        m.predict(X.to_numpy())


def test_convergence_warning_verbose_and_warm_start(capsys):
    X, y = make_classification(2000, 20, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        m = LogisticClassifier(max_iter=1).fit(X, y)
    assert m.n_iter_[0] == 1
    LogisticClassifier(verbose=1, solver="newton-cg").fit(X, y)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[newton-cg] iter")]
    assert len(lines) >= 2 and all("objective" in line and "elapsed" in line for line in lines)
    m = LogisticClassifier(warm_start=True, solver="newton-cg").fit(X, y)
    first = m.n_iter_[0]
    m.fit(X, y)
    assert m.n_iter_[0] < first


@pytest.mark.parametrize("solver", ["newton-cholesky", "newton-cg", "lbfgs"])
def test_default_fit_reaches_small_gap(solver):
    X, y = make_classification(3000, 30, n_informative=10, random_state=1)
    best = LogisticClassifier(tol=1e-7, solver="newton-cg").fit(X, y)
    m = LogisticClassifier(solver=solver).fit(X, y)
    f_best = _objective_of(best, X, y)
    assert (_objective_of(m, X, y) - f_best) <= 1e-6 * f_best


def _sklearn_error(callable_):
    with pytest.raises(Exception) as exc:
        callable_()
    return type(exc.value), str(exc.value)


@pytest.mark.parametrize("case", ["nan", "inf", "one_class", "one_d", "neg_weight", "n_features",
                                  "C_zero", "C_negative", "bad_solver", "y_continuous"])
def test_errors_match_sklearn(case):
    X, y = make_classification(50, 3, n_informative=2, n_redundant=0, random_state=0)
    Xbad, ybad, sw, kw, predict = X.copy(), y, None, {}, None
    if case == "nan":
        Xbad[3, 1] = np.nan
    elif case == "inf":
        Xbad[3, 1] = np.inf
    elif case == "one_class":
        ybad = np.zeros(50)
    elif case == "one_d":
        Xbad = X[:, 0]
    elif case == "neg_weight":
        sw = np.ones(50)
        sw[0] = -1
    elif case == "n_features":
        predict = X[:, :2]
    elif case == "C_zero":
        kw = {"C": 0.0}
    elif case == "C_negative":
        kw = {"C": -1.0}
    elif case == "bad_solver":
        kw = {"solver": "sag_nonexistent"}
    elif case == "y_continuous":
        ybad = np.linspace(0, 1, 50)

    def run(cls):
        m = cls(**kw).fit(Xbad, ybad, sample_weight=sw)
        if predict is not None:
            m.predict(predict)

    t_ours, msg_ours = _sklearn_error(lambda: run(LogisticClassifier))
    assert issubclass(t_ours, ValueError)
    if case in ("C_zero", "C_negative", "bad_solver"):
        assert "parameter" in msg_ours
        return
    if case == "neg_weight":  # LogisticRegression accepts them; we reject with sklearn's helper's words
        assert "Negative values in data passed to `sample_weight`" in msg_ours
        return
    t_ref, msg_ref = _sklearn_error(lambda: run(LogisticRegression))
    assert t_ours is t_ref
    # same wording, with the class name swapped

    def norm(msg):
        return re.sub(r"LogisticRegression|LogisticClassifier", "<est>", msg).split("\n")[0]

    first = norm(msg_ref)[:40] if case != "one_class" else "This solver needs samples of at least 2 classes"
    assert first in norm(msg_ours), (msg_ours, msg_ref)


def test_inputs_not_modified():
    X, y = make_classification(300, 5, random_state=0)
    sw = np.random.default_rng(0).random(300)
    Xs = sp.csr_matrix(X)
    copies = [a.copy() for a in (X, y, sw)] + [Xs.data.copy(), Xs.indices.copy(), Xs.indptr.copy()]
    LogisticClassifier(class_weight="balanced").fit(X, y, sample_weight=sw)
    LogisticClassifier().fit(Xs, y, sample_weight=sw)
    for a, b in zip((X, y, sw, Xs.data, Xs.indices, Xs.indptr), copies):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_csr_hessian_with_unsorted_indices(fit_intercept):
    obj_sorted, X, y, sw, rng = _problem(True, 2, fit_intercept)
    Xs = sp.csr_matrix(X)
    # the same matrix with the column order shuffled inside every row
    data, indices = Xs.data.copy(), Xs.indices.copy()
    for i in range(Xs.shape[0]):
        lo, hi = Xs.indptr[i], Xs.indptr[i + 1]
        perm = rng.permutation(hi - lo)
        data[lo:hi], indices[lo:hi] = data[lo:hi][perm], indices[lo:hi][perm]
    Xu = sp.csr_matrix((data, indices, Xs.indptr.copy()), shape=Xs.shape)
    Xu.has_sorted_indices = False
    assert any(np.any(np.diff(indices[Xs.indptr[i]:Xs.indptr[i + 1]]) < 0) for i in range(50))
    obj_unsorted = LogisticObjective(Xu, y == 1, sw, 0.7, fit_intercept, 2, 2)
    x = 0.3 * rng.standard_normal(obj_sorted.size)
    H_unsorted = obj_unsorted.hess(obj_unsorted.evaluate(x)[2])
    np.testing.assert_allclose(H_unsorted, obj_sorted.hess(obj_sorted.evaluate(x)[2]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_hessian_diagonal(sparse, n_classes, index_dtype):
    # hess_diag (the Jacobi preconditioner: a one-pass kernel for CSR) equals the diagonal of the
    # Hessian formed by the other path; for the multinomial intercepts hess adds c/K to make H
    # definite, so only the coefficient part is compared there.
    obj, X, y, sw, rng = _problem(sparse, n_classes, True)
    if sparse:
        obj.X.indices = obj.X.indices.astype(index_dtype)
        obj.X.indptr = obj.X.indptr.astype(index_dtype)
    curvature = obj.evaluate(rng.standard_normal(obj.size) * 0.3)[2]
    diag = obj.hess_diag(curvature)
    ref = np.diag(obj.hess(curvature))
    m = obj.n_coef if n_classes > 2 else obj.size
    np.testing.assert_allclose(diag[:m], ref[:m], rtol=1e-12)


# ---- the quasi-Newton preconditioner of newton-cg -----------------------------------------------

@pytest.mark.parametrize("jacobi", [False, True])
def test_quasi_newton_preconditioner(jacobi):
    """From the (d, H d) pairs of a CG solve that explored the whole space, the compact inverse BFGS
    matrix is H^-1 itself; from fewer pairs it is still symmetric positive definite, and exact on
    the span of the H d's."""
    from sce._conjugate_gradients import QuasiNewtonPreconditioner, cg
    rng = np.random.default_rng(0)
    n = 12
    Q = rng.standard_normal((n, n))
    H = Q @ Q.T + 0.5 * np.eye(n)
    g = rng.standard_normal(n)
    diag = np.diag(H).copy() if jacobi else None
    p, steps, pairs = cg(lambda v: H @ v, g, 1e-14, n, n_pairs=n)
    np.testing.assert_allclose(H @ p, -g, atol=1e-8 * np.abs(g).max())
    assert steps == len(pairs) == n
    M = QuasiNewtonPreconditioner(pairs, diag)
    Minv = np.column_stack([M(e) for e in np.eye(n)])
    np.testing.assert_allclose(Minv, np.linalg.inv(H), rtol=1e-6, atol=1e-8)
    _, _, few = cg(lambda v: H @ v, g, 1e-14, 4, n_pairs=4)
    M = QuasiNewtonPreconditioner(few, diag)
    Minv = np.column_stack([M(e) for e in np.eye(n)])
    np.testing.assert_allclose(Minv, Minv.T, atol=1e-10)
    assert np.linalg.eigvalsh(Minv).min() > 0
    for s, y in few:  # secant equations: M^-1 (H s) = s
        np.testing.assert_allclose(M(y), s, rtol=1e-8, atol=1e-10)


def test_cg_keeps_a_bounded_number_of_pairs():
    from sce._conjugate_gradients import cg
    rng = np.random.default_rng(1)
    n = 60
    Q = rng.standard_normal((n, n))
    H = Q @ Q.T + 1e-3 * np.eye(n)
    _, steps, pairs = cg(lambda v: H @ v, rng.standard_normal(n), 1e-12, 50, n_pairs=5)
    assert steps == 50 and len(pairs) == 5
    for s, y in pairs:
        np.testing.assert_allclose(H @ s, y)


@pytest.mark.parametrize("y", [np.array([5, -3, 5, 7, -3], dtype=np.int8),
                               np.array([-100, 100, 0], dtype=np.int8),
                               np.array([2**64 - 1, 3, 2**64 - 1], dtype=np.uint64),
                               np.array([2, 9, 9, 4], dtype=np.uint16),
                               np.array([0, 10**12, 3]), np.array([True, False, True]),
                               np.array(["b", "a", "b"]), np.array([1.0, 3.0, 1.0])])
def test_encode_labels_as_label_encoder(y):
    from sklearn.preprocessing import LabelEncoder

    from sce._logistic_blocks import encode_labels
    classes, y_enc = encode_labels(y)
    le = LabelEncoder().fit(y)
    assert classes.dtype == le.classes_.dtype
    np.testing.assert_array_equal(classes, le.classes_)
    np.testing.assert_array_equal(y_enc, le.transform(y))


# ---- the subsampled Hessian of newton-cg ----------------------------------------------------------

@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_row_subsample_hessian(n_classes, dtype):
    """The subsample's H v is that of the objective written over its rows, weights scaled by
    sum(s) / sum(s_sub), at the curvature of the full objective at the same point."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 7)).astype(dtype)
    y = rng.integers(0, n_classes, 500)
    yy = y if n_classes > 2 else (y == 1).astype(dtype)
    sw = (rng.random(500) + 0.5).astype(dtype)
    obj = LogisticObjective(X, yy, sw, 0.3, True, n_classes, 2)
    sub = obj.row_subsample(6)
    assert sub.objective.n == 84
    scale = sw.astype(np.float64).sum() / sw[::6].astype(np.float64).sum()
    ref = LogisticObjective(X[::6].copy(), yy[::6], sw[::6] * dtype(scale), 0.3, True, n_classes, 2)
    x = rng.standard_normal(obj.size) * 0.3
    v = rng.standard_normal(obj.size)
    hv_sub = sub.objective.hessp(sub.curvature(obj.evaluate(x)[2]), v)
    hv_ref = ref.hessp(ref.evaluate(x)[2], v)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(hv_sub, hv_ref, rtol=rtol, atol=rtol * np.abs(hv_ref).max())
    sw[::6] = 0
    assert LogisticObjective(X, yy, sw, 0.3, True, n_classes, 2).row_subsample(6) is None


def _tall_problem(n_classes, hidden_rows=False, seed=0):
    rng = np.random.default_rng(seed)
    n, d = 24000, 8
    X = rng.standard_normal((n, d))
    W = rng.standard_normal((n_classes, d))
    if hidden_rows:  # a strong feature present only in rows that every 8th row never meets
        X[:, 0] = np.where(np.arange(n) % 8 == 3, 4.0 * rng.standard_normal(n), 0.0)
        W[:, 0] *= 3
    Z = X @ W.T + rng.gumbel(size=(n, n_classes))
    y = Z.argmax(axis=1)
    sw = rng.random(n) + 0.5
    return X, (y if n_classes > 2 else y == 1), sw


class _OneDimensional:
    """An objective of one parameter for the line search: f, its gradient and a curvature of None."""

    def __init__(self, f, df):
        self.f, self.df, self.points = f, df, []

    def evaluate(self, x):
        self.points.append(float(x[0]))
        return self.f(x[0]), np.array([self.df(x[0])]), None


def test_line_search_expands_a_step_that_falls_short():
    from sce._convex_solvers import _line_search
    # softplus(-x), the logistic loss of a row with label 1: its Newton step from 0 is 2 (f'(0) = -1/2,
    # f''(0) = 1/4), short, as the curvature fades with x; doubling gains while the loss keeps falling
    f = lambda x: np.logaddexp(0.0, -x)  # noqa: E731
    df = lambda x: -1.0 / (1.0 + np.exp(x))  # noqa: E731
    obj = _OneDimensional(f, df)
    x0, p = np.zeros(1), np.array([2.0])  # the Newton step at 0: -f'(0) / f''(0) = 0.5 / 0.25
    plain = _line_search(obj, x0, f(0.0), df(0.0) * 2.0, p)
    assert obj.points == [2.0]
    obj.points.clear()
    longer = _line_search(obj, x0, f(0.0), df(0.0) * 2.0, p, expand=True)
    assert obj.points[:2] == [2.0, 4.0] and longer[1] < plain[1]
    assert longer[0][0] == obj.points[-1] or longer[0][0] == obj.points[-2]
    # on a quadratic the model is exact: the full Newton step is kept, with no extra pass
    q = _OneDimensional(lambda x: (x - 3.0) ** 2, lambda x: 2.0 * (x - 3.0))
    step = _line_search(q, x0, 9.0, -18.0, np.array([3.0]), expand=True)
    assert q.points == [3.0] and step[0][0] == 3.0
    # a step that had to be halved is not expanded
    r = _OneDimensional(lambda x: (x - 1.0) ** 2, lambda x: 2.0 * (x - 1.0))
    _line_search(r, x0, 1.0, -8.0, np.array([4.0]), expand=True)
    assert r.points == [4.0, 2.0, 1.0]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("hidden_rows", [False, True])
def test_newton_cg_subsampled_hessian(n_classes, hidden_rows):
    """With n >> parameters newton-cg steps with the Hessian of every 8th row: only loss_grad reads
    all of X.  When those rows miss curvature it turns to the exact Hessian.  Either way it reaches
    the exact Newton solution's objective to tol**2."""
    from sce._convex_solvers import newton_cholesky
    from sce._newton_cg import newton_cg
    X, y, sw = _tall_problem(n_classes, hidden_rows)
    k = 3 if n_classes > 2 else 1
    exact = newton_cholesky(LogisticObjective(X, y, sw, 1.0, True, n_classes, 2), np.zeros(k * 9),
                            1e-8, 100)
    obj = LogisticObjective(X, y, sw, 1.0, True, n_classes, 2)
    res = newton_cg(obj, np.zeros(obj.size), 1e-4, 100)
    assert res.converged and res.n_iter <= 10
    assert res.f - exact.f <= 1e-8 * exact.f
    extra_passes = obj.n_passes - 1 - res.n_iter  # beyond one loss_grad per step
    if hidden_rows:
        assert extra_passes > 2  # full H v products were taken
    else:
        assert extra_passes == 0


def test_newton_retries_a_rejected_approximate_step():
    """A step from an approximate Hessian is taken at full length or not at all; when it fails the
    Armijo test the direction is asked again, in exact mode, from the same point."""
    from sce._convex_solvers import _newton
    X, y, sw = _tall_problem(2)
    obj = LogisticObjective(X, y, sw, 1.0, True, 2, 2)
    H_calls = []

    def direction(f, g, curvature, mon):
        H_calls.append(direction.approximate)
        p = -np.linalg.solve(obj.hess(curvature), g)
        return 50 * p if direction.approximate else p
    direction.approximate = True
    evaluate, evaluations = obj.evaluate, []
    obj.evaluate = lambda x: evaluations.append(1) or evaluate(x)
    res = _newton(obj, np.zeros(obj.size), 1e-4, 100, 0, direction, "test")
    assert H_calls[:2] == [True, False] and not any(H_calls[1:])
    # the first point, the rejected trial, one per step (and the line search's longer trials), one
    # per Hessian: no pass restores state
    assert len(evaluations) >= 2 + res.n_iter
    assert obj.n_passes == len(evaluations) + len(H_calls)


@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky", "lbfgs"])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("n_classes", [2, 5])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nonfinite_X_found_by_the_first_evaluation(solver, sparse, n_classes, value):
    """fit validates X's values through its first loss + gradient: a NaN or infinity anywhere (a
    zero-weight row, the last column, from a warm start) raises scikit-learn's error."""
    X, y = make_classification(400, 7, n_informative=4, n_classes=n_classes, random_state=0)
    sw = np.ones(400)
    sw[17] = 0.0
    for dtype in (np.float64, np.float32):
        for row, col, warm in ((17, 6, False), (399, 0, False), (5, 3, True)):
            m = LogisticClassifier(solver=solver, warm_start=warm)
            if warm:
                m.fit(X, y)
            Xbad = X.astype(dtype)
            Xbad[row, col] = value
            Xbad = sp.csr_matrix(Xbad) if sparse else Xbad
            what = "NaN" if np.isnan(value) else "infinity or a value too large"
            with pytest.raises(ValueError, match=f"Input X contains {what}"):
                m.fit(Xbad, y, sample_weight=sw)


@pytest.mark.parametrize("n", [1, 6, 203, 20000])
@pytest.mark.parametrize("d", [1, 3, 29])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_dense_kernel(n, d, fit_intercept, dtype):
    """[X, 1]^T diag(c) [X, 1] against float64 numpy, for every count of rows left over by the
    groups of four and both thread paths."""
    from sce import _core
    rng = np.random.default_rng(n + d)
    X = rng.standard_normal((n, d)).astype(dtype)
    c = rng.random(n).astype(dtype)
    Xt = np.column_stack([X, np.ones(n)]) if fit_intercept else X.astype(np.float64)
    ref = Xt.T @ (Xt * c.astype(np.float64)[:, None])
    for threads in (1, 2):
        G = np.zeros((Xt.shape[1],) * 2)
        _core.logistic_gram(X, c, fit_intercept, G, threads)
        np.testing.assert_allclose(G, ref, rtol=1e-12, atol=1e-12 * np.abs(ref).max())
        np.testing.assert_array_equal(G, G.T)


@pytest.mark.parametrize("n_features, n_classes, expected", [
    (31, 2, "newton-cholesky"), (32, 2, "newton-cg"),  # one Gram matrix of n_features + 1 columns
    (4, 3, "newton-cholesky"), (5, 3, "newton-cg"),    # six of them
])
def test_auto_solver_dense(n_features, n_classes, expected):
    X, y = make_classification(200, n_features, n_informative=2, n_redundant=0,
                               n_classes=n_classes, n_clusters_per_class=1, random_state=0)
    assert LogisticClassifier().fit(X, y).solver_ == expected


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_hessian_gram_kernel_and_blas_agree(monkeypatch, n_classes, fit_intercept):
    """Dense hess(): the Gram kernel (up to _GRAM_KERNEL_MAX_COLS columns) and the float64 BLAS
    blocks beyond give the same matrix."""
    import sce._logistic_blocks as blocks
    obj, X, y, sw, rng = _problem(False, n_classes, fit_intercept)
    curvature = obj.evaluate(rng.standard_normal(obj.size) * 0.3)[2]
    H_kernel = obj.hess(curvature)
    monkeypatch.setattr(blocks, "GRAM_KERNEL_MAX_COLS", 0)
    H_blas = obj.hess(curvature)
    np.testing.assert_allclose(H_blas, H_kernel, rtol=1e-12, atol=1e-12 * np.abs(H_kernel).max())


def test_newton_cholesky_singular_hessian():
    """Without penalty, a column of zeros makes the Hessian singular: Cholesky fails and the step
    comes from least squares; a duplicated column leaves a flat valley.  The fit still reaches
    newton-cg's objective."""
    import scipy.linalg
    X, y = make_classification(300, 4, n_informative=3, n_redundant=0, flip_y=0.2, random_state=0)
    X = np.column_stack([X, X[:, 0], np.zeros(300)])
    obj = LogisticObjective(X, y == 1, np.ones(300), np.inf, True, 2, 2)
    curvature = obj.evaluate(np.zeros(obj.size))[2]
    assert scipy.linalg.lapack.dpotrf(obj.hess(curvature), lower=0)[1] > 0  # not positive definite
    chol = LogisticClassifier(C=np.inf, solver="newton-cholesky", tol=1e-6).fit(X, y)
    cg = LogisticClassifier(C=np.inf, solver="newton-cg", tol=1e-6).fit(X, y)
    f_chol, f_cg = _objective_of(chol, X, y, C=np.inf), _objective_of(cg, X, y, C=np.inf)
    assert abs(f_chol - f_cg) <= 1e-10 * f_cg
    assert np.all(np.isfinite(chol.coef_)) and np.abs(chol.coef_).max() < 10
