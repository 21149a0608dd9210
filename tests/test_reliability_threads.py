"""Fits from several Python threads at once (issue #13, point 7): the same results as serial fits,
and numpy's / scipy's BLAS thread pools left as they were (threadpoolctl limits are process-wide,
and overlapping enter / exit from threads used to leave BLAS on one thread for good)."""
import threading

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import make_classification
from threadpoolctl import ThreadpoolController, threadpool_info

from sce import LogisticClassifier


def _blas_threads():
    return sorted((m["filepath"], m["num_threads"]) for m in threadpool_info()
                  if m["user_api"] == "blas")


def _jobs():
    jobs = []
    for seed in range(4):
        X, y = make_classification(400, 12, n_informative=6, n_classes=2 + seed % 2,
                                   random_state=seed)
        for solver in ("newton-cg", "newton-cholesky"):
            jobs.append((X, y, solver))
        jobs.append((sp.csr_matrix(np.where(np.abs(X) > 0.8, X, 0.0)), y, "auto"))
    return jobs


def _fit(X, y, solver):
    clf = LogisticClassifier(solver=solver, n_threads=1).fit(X, y)
    return np.concatenate([clf.coef_.ravel(), clf.intercept_])


def test_concurrent_fits_match_serial_ones_and_restore_blas_threads():
    before = _blas_threads()
    if not before or all(n == 1 for _, n in before):
        pytest.skip("no BLAS thread pool with more than one thread to watch")
    jobs = _jobs()
    serial = [_fit(*job) for job in jobs]
    results = [None] * len(jobs)
    errors = []
    start = threading.Barrier(4)

    def worker(k):
        try:
            start.wait()
            for _ in range(10):
                for i in range(k, len(jobs), 4):
                    results[i] = _fit(*jobs[i])
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        after = _blas_threads()
    finally:  # whatever happened, the next tests get the pools as they were
        original = dict(before)
        for lib in ThreadpoolController().select(user_api="blas").lib_controllers:
            lib.set_num_threads(original.get(lib.filepath, lib.num_threads))
    assert not errors
    for got, want in zip(results, serial):
        np.testing.assert_array_equal(got, want)
    assert after == before
