"""LogisticClassifier on dask input, on a real distributed.LocalCluster (2 worker processes, 1 thread
each, loopback) started for this module: the fit equals the in-memory fit of the same rows, the rows
are never gathered, predictions are lazy dask arrays, and a worker lost in a fit does not hang it."""
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification

from sce import LogisticClassifier

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                       # its HTTP server on a free loopback port: the default 8787
                                       # may be taken (another cluster), which fails the start
                                       dashboard_address="127.0.0.1:0")
    with distributed.Client(cluster) as c:
        yield c
    cluster.close()


def _data(n_classes, dtype=np.float64, sparse=False, n=1500, d=12, seed=0):
    X, y = make_classification(n, d, n_informative=min(6, d), n_redundant=0, n_classes=n_classes,
                               random_state=seed)
    X = X.astype(dtype)
    if sparse:
        X[np.random.default_rng(seed).random(X.shape) < 0.5] = 0
        X = sp.csr_matrix(X)
    return X, y


def _chunked(X, rows=500):
    return da.from_array(X, chunks=(rows, X.shape[1]), asarray=not sp.issparse(X))


def _assert_same_fit(dask_fit, mem_fit, X, Xd):
    assert abs(dask_fit.objective_ - mem_fit.objective_) <= 1e-8 * abs(mem_fit.objective_)
    assert dask_fit.coef_.dtype == mem_fit.coef_.dtype
    predicted = dask_fit.predict(Xd)
    assert isinstance(predicted, da.Array)
    np.testing.assert_array_equal(predicted.compute(), mem_fit.predict(X))
    # the rows themselves never travelled: only vectors of the parameters' size did
    traffic = dask_fit._dask_traffic
    assert traffic["bytes"] < 200 * traffic["passes"] * 8 * (dask_fit.coef_.size + dask_fit.intercept_.size + 1) ** 2


# each of binary / multinomial, float64 / float32, dense / CSR chunks, and each pair of them
@pytest.mark.parametrize("n_classes, dtype, sparse", [(2, np.float64, False), (2, np.float32, True),
                                                      (3, np.float64, True), (3, np.float32, False)])
def test_fit_equals_in_memory(client, n_classes, dtype, sparse):
    X, y = _data(n_classes, dtype, sparse)
    Xd, yd = _chunked(X), da.from_array(y, chunks=500)
    fitted = LogisticClassifier(C=0.5).fit(Xd, yd)
    reference = LogisticClassifier(C=0.5).fit(X, y)
    assert fitted.solver_ == reference.solver_
    _assert_same_fit(fitted, reference, X, Xd)


@pytest.mark.parametrize("together", [True, False], ids=["persisted-together", "y-on-other-workers"])
def test_persisted_chunks_are_used_where_they_are(client, monkeypatch, together):
    """Chunks of a persisted X and y held by one worker each are converted by that worker's host,
    with no task to bring them together; y's chunks persisted on other workers than X's are
    brought to X's by one task per chunk.  Either way the fit is the in-memory one."""
    X, y = _data(3, np.float64, sparse=True, seed=int(together))  # (other keys for each case)
    w = np.random.default_rng(1).uniform(0.5, 2.0, len(y))
    workers = sorted(client.scheduler_info()["workers"])
    Xd, yd, wd = _chunked(X), da.from_array(y, chunks=500), da.from_array(w, chunks=500)
    Xd = client.persist(Xd, workers=workers[0])
    yd, wd = client.persist([yd, wd], workers=workers[0] if together else workers[1])
    distributed.wait([Xd, yd, wd])
    computed = []
    compute = client.compute
    monkeypatch.setattr(client, "compute", lambda *a, **k: computed.append(1) or compute(*a, **k))
    fitted = LogisticClassifier(C=0.5).fit(Xd, yd, sample_weight=wd)
    assert bool(computed) != together
    reference = LogisticClassifier(C=0.5).fit(X, y, sample_weight=w)
    _assert_same_fit(fitted, reference, X, Xd)


@pytest.mark.parametrize("n_classes, dtype, weighted", [(2, np.float64, False), (3, np.float32, True)])
def test_newton_cg_subsample_is_held_by_the_client(client, n_classes, dtype, weighted):
    """Dense X with many rows per parameter: newton-cg's approximate Hessian is that of a row
    subsample, a small copy of which the client holds, so its CG products are no round trips: the
    fit waits only for the passes over X, for the copy and, with sample weights, for the copy's
    total weight."""
    X, y = _data(n_classes, dtype, n=6000, d=4)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y)) if weighted else None
    Xd, yd = _chunked(X, 1000), da.from_array(y, chunks=1000)
    fitted = LogisticClassifier(solver="newton-cg").fit(Xd, yd, sample_weight=sw)
    reference = LogisticClassifier(solver="newton-cg").fit(X, y, sample_weight=sw)
    _assert_same_fit(fitted, reference, X, Xd)
    traffic = fitted._dask_traffic
    assert 0 < traffic["client_rows"] <= len(X) // 4
    assert traffic["round_trips"] == traffic["passes"] + 1 + weighted


def test_newton_cg_subsample_fit_does_not_depend_on_placement(client):
    """The client's subsample and its curvature rows are taken in the chunks' order, and the passes'
    sums are added by the chunks' tree: the same bits whichever worker holds which chunk."""
    import dask
    X, y = _data(2, n=6000, d=4, seed=3)
    workers = sorted(client.scheduler_info()["workers"])
    fits = []
    for owners in ([0], [1], [0, 1], [1, 1, 0]):
        parts = [client.scatter([X[s:s + 1000], y[s:s + 1000]], workers=[workers[owners[i % len(owners)]]])
                 for i, s in enumerate(range(0, len(X), 1000))]
        Xd = da.concatenate([da.from_delayed(dask.delayed(p[0]), (1000, 4), X.dtype) for p in parts])
        yd = da.concatenate([da.from_delayed(dask.delayed(p[1]), (1000,), y.dtype) for p in parts])
        fitted = LogisticClassifier(solver="newton-cg").fit(Xd, yd)
        assert fitted._dask_traffic["client_rows"] > 0
        fits.append(np.concatenate([fitted.coef_.ravel(), fitted.intercept_]))
    for other in fits[1:]:
        np.testing.assert_array_equal(other, fits[0])


@pytest.mark.parametrize("solver", ["newton-cholesky", "newton-cg", "lbfgs"])
def test_hosts_keep_only_the_evaluations_in_use(client, monkeypatch, solver):
    """The workers keep each evaluation's curvature for the Hessian products that follow; those the
    solver dropped (rejected line-search points, earlier iterates) are released with the next call,
    so that a fit holds a few of them, not one per pass."""
    from sce import _dask_sums
    X, y = _data(3, sparse=solver == "newton-cholesky", seed=4)
    original = _dask_sums.DaskSums.evaluate
    kept = []

    def evaluate(self, W, b):
        out = original(self, W, b)
        kept.append(max(len(host.kept_keys().result()) for _, _, host in self.groups))
        return out

    monkeypatch.setattr(_dask_sums.DaskSums, "evaluate", evaluate)
    fitted = LogisticClassifier(solver=solver, C=100.0, tol=1e-6).fit(_chunked(X, 300), da.from_array(y, chunks=300))
    assert len(kept) >= 8 and fitted.n_iter_[0] >= 4
    assert max(kept) <= 4, kept


def test_hosts_leave_the_workers_with_the_fit(client):
    """The actors that hold a fit's blocks are released when the fit returns: repeated fits do not
    pile up copies of the chunks on the workers."""
    import gc
    X, y = _data(2, seed=5)
    Xd, yd = _chunked(X, 300), da.from_array(y, chunks=300)
    for _ in range(3):
        LogisticClassifier().fit(Xd, yd)
    gc.collect()

    def n_actors(dask_worker):
        return len(dask_worker.state.actors)

    deadline = time.monotonic() + 30
    while sum(client.run(n_actors).values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(client.run(n_actors).values()) == 0


@pytest.mark.parametrize("solver", ["newton-cg", "lbfgs"])
def test_solvers(client, solver):
    """newton-cg on tall dense X runs its CG on a row subsample, persisted on the workers."""
    X, y = _data(2, n=2000, d=4, seed=1)
    Xd, yd = _chunked(X, 700), da.from_array(y, chunks=700)
    fitted = LogisticClassifier(solver=solver, tol=1e-6).fit(Xd, yd)
    reference = LogisticClassifier(solver=solver, tol=1e-6).fit(X, y)
    _assert_same_fit(fitted, reference, X, Xd)


@pytest.mark.parametrize("class_weight", [None, "balanced", {0: 2.0, 1: 0.5, 2: 1.0}])
def test_sample_and_class_weights(client, class_weight):
    X, y = _data(3, seed=2)
    sw = np.random.default_rng(0).random(len(y)) * 2
    Xd, yd, swd = _chunked(X), da.from_array(y, chunks=500), da.from_array(sw, chunks=500)
    # sample weights as a dask array, or as a numpy array (chunked like X)
    fitted = LogisticClassifier(class_weight=class_weight).fit(Xd, yd, sample_weight=sw if class_weight is None
                                                               else swd)
    reference = LogisticClassifier(class_weight=class_weight).fit(X, y, sample_weight=sw)
    _assert_same_fit(fitted, reference, X, Xd)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_l1(client, sparse):
    X, y = _data(2, sparse=sparse, d=80, seed=3)
    Xd, yd = _chunked(X), da.from_array(y, chunks=500)
    fitted = LogisticClassifier(l1_ratio=1.0, C=0.05).fit(Xd, yd)
    reference = LogisticClassifier(l1_ratio=1.0, C=0.05).fit(X, y)
    assert fitted.solver_ == "proximal-newton" and 0 < np.count_nonzero(fitted.coef_) < 80
    _assert_same_fit(fitted, reference, X, Xd)


def test_predictions_are_lazy_and_equal(client):
    X, y = _data(3, seed=4)
    Xd = _chunked(X)
    fitted = LogisticClassifier().fit(Xd, da.from_array(y, chunks=500))
    reference = LogisticClassifier().fit(X, y)
    for method in ["predict_proba", "predict_log_proba", "decision_function"]:
        out = getattr(fitted, method)(Xd)
        assert isinstance(out, da.Array) and out.shape == (len(y), 3)
        np.testing.assert_allclose(out.compute(), getattr(reference, method)(X), rtol=1e-6, atol=1e-9)
    assert fitted.score(Xd, y) == reference.score(X, y)
    sw = np.linspace(0, 1, len(y))
    assert fitted.score(Xd, y, sample_weight=sw) == pytest.approx(reference.score(X, y, sample_weight=sw))
    # numpy input is unchanged
    np.testing.assert_array_equal(fitted.predict(X), reference.predict(X))


def test_dataframe(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, y = _data(2, seed=5)
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    Xd = dd.from_pandas(frame, npartitions=3)
    yd = dd.from_pandas(pd.Series(y), npartitions=3)
    fitted = LogisticClassifier().fit(Xd, yd)
    reference = LogisticClassifier().fit(frame, y)
    assert list(fitted.feature_names_in_) == list(frame.columns)
    assert abs(fitted.objective_ - reference.objective_) <= 1e-8 * reference.objective_
    np.testing.assert_array_equal(fitted.predict(Xd).compute(), reference.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        fitted.predict(Xd[list(frame.columns[:5])])
    with pytest.raises(ValueError, match="features"):
        LogisticClassifier().fit(_chunked(X), y).predict(_chunked(X[:, :5]))


def test_input_errors(client):
    X, y = _data(2, seed=6)
    Xd = _chunked(X)
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticClassifier().fit(Xd, da.zeros(len(y), chunks=500))
    with pytest.raises(ValueError, match="Negative values"):
        LogisticClassifier().fit(Xd, y, sample_weight=-np.ones(len(y)))
    X_nan = X.copy()
    X_nan[700, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LogisticClassifier().fit(_chunked(X_nan), y)


def test_grid_search_on_the_dask_backend(client):
    import joblib
    from sklearn.model_selection import GridSearchCV
    X, y = _data(2, n=600, seed=7)
    search = GridSearchCV(LogisticClassifier(), {"C": [0.1, 1.0]}, cv=2, n_jobs=-1)
    with joblib.parallel_backend("dask"):
        search.fit(X, y)
    reference = GridSearchCV(LogisticClassifier(), {"C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert search.best_params_ == reference.best_params_
    np.testing.assert_allclose(search.cv_results_["mean_test_score"], reference.cv_results_["mean_test_score"])


def test_mlp_partial_fit_over_chunks(client):
    """SigmoidMLPClassifier.partial_fit on a dask array runs on each chunk in turn, where it lives: the
    same model as partial_fit called on the chunks' rows in order, the estimator updated in place."""
    from sce import SigmoidMLPClassifier
    X, y = _data(3, n=900, d=8, seed=3)
    classes = np.unique(y)
    Xd, yd = _chunked(X, 300), da.from_array(y, chunks=300)
    settings = dict(hidden_layer_sizes=(7,), batch_size=64, random_state=0)
    on_dask, in_memory = SigmoidMLPClassifier(**settings), SigmoidMLPClassifier(**settings)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        SigmoidMLPClassifier(**settings).partial_fit(Xd, yd)
    for _ in range(3):
        assert on_dask.partial_fit(Xd, yd, classes=classes) is on_dask
        for s in range(0, len(y), 300):
            in_memory.partial_fit(X[s:s + 300], y[s:s + 300], classes=classes)
    assert len(on_dask.loss_curve_) == len(in_memory.loss_curve_) == 9
    np.testing.assert_allclose(on_dask.loss_curve_, in_memory.loss_curve_, rtol=1e-12)
    for a, b in zip(on_dask.coefs_ + on_dask.intercepts_, in_memory.coefs_ + in_memory.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(on_dask.predict(X), in_memory.predict(X))


def test_callbacks_see_every_iteration(client):
    from sklearn.callback import ScoringMonitor
    X, y = _data(2, seed=5)
    monitor = ScoringMonitor(scoring="neg_log_loss")
    m = LogisticClassifier(solver="newton-cg").set_callbacks(monitor).fit(_chunked(X), da.from_array(y, chunks=500))
    rows = monitor.get_logs().data
    iterations = sorted((r for r in rows if r["task_name"] == "newton-iter"), key=lambda r: r["task_id"])
    assert len(iterations) == m.n_iter_[0] > 1
    fit_row = [r for r in rows if r["task_name"] == "fit"]
    assert iterations[-1]["neg_log_loss"] == pytest.approx(fit_row[0]["neg_log_loss"], rel=1e-6)


def test_dask_not_imported_for_numpy_input():
    code = ("import sys; import numpy as np; from sce import LogisticClassifier; "
            "m = LogisticClassifier().fit(np.eye(4), [0, 1, 0, 1]); m.predict(np.eye(4)); "
            "assert not any(k.split('.')[0] in ('dask', 'distributed') for k in sys.modules), 'dask imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_worker_killed_mid_fit(client, monkeypatch):
    """One worker process dies after the third evaluation: the fit neither hangs nor returns a wrong
    result; the cluster recomputes the lost chunks (or the fit raises)."""
    from sce import _dask
    X, y = _data(3, seed=8)
    Xd, yd = _chunked(X, 300), da.from_array(y, chunks=300)
    original = _dask.DaskSums.evaluate
    calls = []
    victim = min(client.run(os.getpid).values())  # a worker process of this module's cluster

    def evaluate(self, W, b):
        calls.append(1)
        if len(calls) == 3:
            os.kill(victim, signal.SIGKILL)
        return original(self, W, b)

    monkeypatch.setattr(_dask.DaskSums, "evaluate", evaluate)
    outcome = {}

    def run():
        try:
            outcome["fit"] = LogisticClassifier(solver="lbfgs").fit(Xd, yd)
        except Exception as e:  # a clear error is an acceptable outcome
            outcome["error"] = e

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=90)
    assert not thread.is_alive(), "the fit hung after a worker died"
    assert len(calls) >= 3
    if "fit" in outcome:
        reference = LogisticClassifier(solver="lbfgs").fit(X, y)
        assert abs(outcome["fit"].objective_ - reference.objective_) <= 1e-8 * reference.objective_
    else:
        assert str(outcome["error"])
    client.wait_for_workers(2, timeout=60)


@pytest.mark.parametrize("n_chunks", [1, 2, 7, 20])
def test_chunk_sums_do_not_depend_on_placement(n_chunks):
    """The chunks' sums are added by the binary tree over the chunks whichever worker holds which:
    every grouping gives the same bits (a sequential or per-worker sum would not, in general)."""
    from sce._dask_chunks import group_sums, node_sum, tree_levels
    rng = np.random.default_rng(n_chunks)
    results = [(float(rng.standard_normal() * 1e3), rng.standard_normal(5) * 10.0 ** rng.integers(-8, 8, 5))
               for _ in range(n_chunks)]
    root = (tree_levels(n_chunks), 0)
    reference = node_sum(root, dict(enumerate(results)), n_chunks)
    np.testing.assert_allclose(reference[1], np.sum([r[1] for r in results], axis=0), rtol=1e-12)
    for trial in range(10):
        owner = rng.integers(0, 3, n_chunks) if trial else np.zeros(n_chunks, dtype=int)
        nodes = {}
        for w in range(3):
            chunks = [i for i in range(n_chunks) if owner[i] == w]
            nodes.update(group_sums([results[i] + (None,) for i in chunks], chunks, n_chunks))
        total = node_sum(root, nodes, n_chunks)
        assert total[0] == reference[0]
        np.testing.assert_array_equal(total[1], reference[1])


@pytest.mark.parametrize("y", [
    np.array([1, -1, 1, 1, -1], dtype=np.int64),
    np.tile(np.arange(-128, 128), 2).astype(np.int8),  # y - min does not fit in int8
    np.array([2**63 + 5, 2**63 + 1, 2**63 + 5], dtype=np.uint64),  # beyond int64: np.unique
    np.array([10**12, 3, 3, 10**12]),  # a range far wider than the chunk: np.unique
    np.array([0.5, 2.0, 0.5]),
    np.array(["b", "a", "b"]),
    np.array([], dtype=np.int64),
], ids=["int64", "int8-full-range", "uint64-large", "wide-range", "float", "str", "empty"])
def test_chunk_labels_equal_unique(y):
    """A chunk's distinct labels and their weights, whether counted by bincount or by np.unique."""
    from sce._dask_chunks import chunk_labels
    sw = np.arange(1.0, len(y) + 1)
    values, weights = chunk_labels(y, sw)
    expected, index = np.unique(y, return_inverse=True)
    assert values.dtype == expected.dtype
    np.testing.assert_array_equal(values, expected)
    np.testing.assert_array_equal(weights, [sw[index == k].sum() for k in range(len(expected))])


def _host_summaries(block):
    from sce._dask_chunks import chunk_summary
    return chunk_summary(block)


@pytest.mark.parametrize("class_weight", [None, {0: 1.0, 1: 1.0, 2: 1.0}, {0: 2.0, 1: 0.5, 2: 1.0}])
@pytest.mark.parametrize("weighted", [False, True])
def test_summaries_before_encoding_describe_the_encoded_chunks(client, class_weight, weighted):
    """The client derives the chunks' weights with class weights from their labels' weights, before
    the hosts encode their chunks (at the next call): they equal the encoded chunks' own."""
    from sce._dask import _held
    from sce._dask_sums import DaskSums
    X, y = _data(3, seed=3)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, len(y)) if weighted else None
    Xd, yd = _chunked(X), da.from_array(y, chunks=500)
    parts = [(_held(x, client), _held(t, client), None if sw is None else _held(w, client))
             for x, t, w in zip(Xd.to_delayed().ravel(), yd.to_delayed().ravel(),
                                [None] * 3 if sw is None else da.from_array(sw, chunks=500).to_delayed().ravel())]
    sums = DaskSums.over_chunks(client, parts, np.dtype(np.float64), 1)
    sums.labels(with_max=False)
    classes = np.arange(3)
    cw = None if class_weight is None else np.array([class_weight[k] for k in classes])
    sums.encode(classes, cw)
    derived = sums.summaries
    on_hosts = sums._in_chunk_order(sums._wait(sums._call("items", _host_summaries, ())))
    assert [s.n for s in on_hosts] == [500] * 3
    for mine, theirs in zip(derived, on_hosts):
        assert mine.weight == pytest.approx(theirs.weight, rel=1e-14)
        assert mine.unit_weights == theirs.unit_weights == (not weighted and (cw is None or (cw == 1).all()))
