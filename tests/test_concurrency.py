"""Fits and predictions from many Python threads at once: the same results as serial ones, and
every thread pool (BLAS, OpenMP) left as it was found."""
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_classification
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_info, threadpool_limits

import sce
from sce import _core
from sce._threads import effective_n_threads


def _blas_threads():
    return sorted((d["internal_api"], d["filepath"], d["num_threads"]) for d in threadpool_info()
                  if d["user_api"] == "blas")


def _problems():
    X, y = load_digits(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    Xb, yb = make_classification(3000, 30, n_informative=10, random_state=0)
    Xs = sp.csr_matrix(np.where(np.abs(Xb) > 0.8, Xb, 0))
    # newton-cg with its quasi-Newton preconditioner (BLAS limited to one thread during its
    # solves), newton-cholesky (BLAS limited during the whole fit), lbfgs, a sparse fit, an MLP
    return [
        (lambda: sce.LogisticClassifier(solver="newton-cg"), X, y),
        (lambda: sce.LogisticClassifier(solver="newton-cholesky"), Xb, yb),
        (lambda: sce.LogisticClassifier(solver="lbfgs", max_iter=1000), Xb, yb),
        (lambda: sce.LogisticClassifier(), Xs, yb),
        (lambda: sce.SigmoidMLPClassifier((16,), solver="lbfgs", max_iter=30, random_state=0), Xb, yb),
    ]


def _fit_and_predict(make, X, y):
    m = make()
    m.fit(X, y)
    return m.predict_proba(X)


@pytest.mark.filterwarnings("ignore:lbfgs failed to converge:sklearn.exceptions.ConvergenceWarning")
def test_concurrent_fits_match_serial_and_restore_thread_pools():
    problems = _problems()
    before = _blas_threads()
    serial = [_fit_and_predict(*p) for p in problems]
    results, errors = {}, []

    def worker(t):
        try:
            for rep in range(3):
                for i in range(len(problems)):
                    j = (i + t) % len(problems)  # threads in different phases of different fits
                    results[(t, rep, j)] = _fit_and_predict(*problems[j])
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors, errors
    assert len(results) == 4 * 3 * len(problems)
    for (t, rep, j), proba in results.items():
        np.testing.assert_array_equal(proba, serial[j], err_msg=f"thread {t}, repeat {rep}, problem {j}")
    assert _blas_threads() == before


def test_threadpool_limits_around_a_fit_are_honoured():
    X, y = make_classification(2000, 10, random_state=0)
    with threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads(None) == 1
        sce.LogisticClassifier().fit(X, y)
    if _core.has_openmp():
        assert effective_n_threads(None) == min(_core.max_threads(), effective_n_threads(-1))
    before = _blas_threads()
    with threadpool_limits(limits=1, user_api="blas"):
        sce.LogisticClassifier(solver="newton-cholesky").fit(X, y)
        assert all(n == 1 for _, _, n in _blas_threads())
    assert _blas_threads() == before


def _threads_in_worker():
    from sce._threads import effective_n_threads
    return effective_n_threads(None)


def test_joblib_process_workers_share_the_cores():
    # joblib's process workers get cores // n_jobs OpenMP threads each (it sets OMP_NUM_THREADS in
    # them), and sce's default follows it: no worker runs more threads than its share
    from joblib import Parallel, delayed, effective_n_jobs

    cores = effective_n_threads(-1)
    n_jobs = min(2, effective_n_jobs(-1))
    got = Parallel(n_jobs=n_jobs, backend="loky")(delayed(_threads_in_worker)() for _ in range(n_jobs))
    assert all(1 <= t <= max(1, cores // n_jobs) for t in got), (got, cores)


def test_concurrent_default_fits_share_the_cores(monkeypatch):
    """Fits running at once in threads of one process (joblib's threading backend) each take their
    share of the cores when n_threads is left to sce, and an explicit n_threads as given."""
    from joblib import Parallel, delayed

    from sce import _logistic_blocks

    cores = effective_n_threads(None)
    barrier = threading.Barrier(2, timeout=60)
    used = {}
    original = _logistic_blocks.block_evaluate

    def evaluate(block, W, b, n_threads=1):
        if threading.current_thread().name not in used:  # the first pass waits for the other fit
            used[threading.current_thread().name] = None
            barrier.wait()
        used.setdefault("threads", set()).add(n_threads)
        return original(block, W, b, n_threads)

    monkeypatch.setattr(_logistic_blocks, "block_evaluate", evaluate)
    X, y = make_classification(3000, 20, random_state=0)
    results = Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_and_predict)(lambda: sce.LogisticClassifier(solver="lbfgs"), X, y) for _ in range(2))
    assert used["threads"] <= {max(1, cores // 2), cores}  # cores: a pass after the other fit ended
    assert max(1, cores // 2) in used["threads"]
    np.testing.assert_array_equal(results[0], results[1])
    used.clear()
    barrier.reset()
    Parallel(n_jobs=2, backend="threading")(
        delayed(_fit_and_predict)(lambda: sce.LogisticClassifier(solver="lbfgs", n_threads=2), X, y)
        for _ in range(2))
    assert used["threads"] == {2 if _core.has_openmp() else 1}


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cg", "newton-cholesky", "l1"])
def test_blas_runs_on_one_thread_between_the_passes(monkeypatch, solver):
    # BLAS workers left spinning after a solver's small dense products took the cores of the
    # kernels' OpenMP workers (and theirs BLAS's): lbfgs on mushrooms-sized data ran 30 times slower.
    if max(n for _, _, n in _blas_threads()) < 2 or effective_n_threads(None) < 2:
        pytest.skip("BLAS or OpenMP on one thread here: nothing to limit")
    from sce import _logistic_objective
    seen = []
    evaluate = _logistic_objective.LogisticObjective.evaluate

    def recording(self, *args, **kwargs):
        seen.append(max(n for _, _, n in _blas_threads()))
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(_logistic_objective.LogisticObjective, "evaluate", recording)
    X, y = make_classification(500, 80, random_state=0)  # 81 parameters: more than BLAS's serial-anyway size
    params = {"l1_ratio": 1.0, "C": 0.1} if solver == "l1" else {"solver": solver}
    before = _blas_threads()
    sce.LogisticClassifier(max_iter=500, **params).fit(X, y)
    assert seen and set(seen) == {1}
    assert _blas_threads() == before
