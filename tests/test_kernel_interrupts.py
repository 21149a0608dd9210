"""Ctrl-C during one long kernel call: the row runner's calling thread asks Python's signal handlers
between pieces of rows (every 50 ms at most), and the call raises their KeyboardInterrupt within about
a second, far sooner than the pass would have ended (issue 13)."""
import _thread
import signal
import threading
import time

import numpy as np
import pytest
import scipy.sparse as sp

from sce import _core

# The interrupt comes this long after the call starts; the call itself would run for many seconds.
DELAY = 0.3
# "within about one second" of the interrupt
LATENCY = 1.0


def _interrupted(call, exception=KeyboardInterrupt):
    """Run call() with an interrupt of the main thread (as Ctrl-C does) after DELAY, whose handler
    raises `exception`; return the seconds between the interrupt and the exception.  The handler
    raises only while call() runs, so a call that ends before the interrupt fails this test instead
    of the test session."""
    sent = {}
    running = [True]

    def handler(signum, frame):
        if running[0]:
            raise exception

    def send():
        sent["t"] = time.perf_counter()
        _thread.interrupt_main()

    previous = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(DELAY, send)
    timer.start()
    try:
        with pytest.raises(exception):
            call()
        return time.perf_counter() - sent["t"]
    finally:
        running[0] = False
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(scope="module")
def long_rows():
    """A CSR matrix whose Gram pass goes over sum_i nnz_i^2 pairs of entries, about 3e10 here (many
    seconds per thread on any machine), from 33 MB: 500 rows of 8192 entries over 64 columns, each
    column repeated (scipy's CSR allows repeated indices, which the kernel adds)."""
    rng = np.random.default_rng(0)
    n, d, per_row = 500, 64, 8192
    indices = np.sort(rng.integers(0, d, (n, per_row)), axis=1).astype(np.int32).ravel()
    indptr = np.arange(0, n * per_row + 1, per_row, dtype=np.int32)
    data = rng.uniform(-1, 1, n * per_row).astype(np.float32)
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    assert not X.has_canonical_format
    return X


@pytest.mark.parametrize("n_threads", [1, 2])
def test_long_gram_pass_stops_on_ctrl_c(long_rows, n_threads):
    X = long_rows
    weights = np.ones(X.shape[0], dtype=np.float32)
    out = np.zeros((X.shape[1] + 1,) * 2)
    assert _interrupted(lambda: _core.logistic_gram(X, weights, True, out, n_threads)) < LATENCY
    # nothing of the interrupted pass is left over: the next call is complete and right
    small = X[:3]
    _core.logistic_gram(small, weights[:3], True, out, n_threads)
    Xt = np.column_stack([small.astype(np.float64).toarray(), np.ones(3)])  # repeats added in float64
    np.testing.assert_allclose(out, Xt.T @ Xt, rtol=1e-9, atol=1e-9 * np.abs(Xt.T @ Xt).max())


def test_exception_of_the_signal_handler_propagates(long_rows):
    """Whatever the handler raises is what the call raises."""

    class Stop(Exception):
        pass

    weights = np.ones(long_rows.shape[0], dtype=np.float32)
    out = np.zeros((64, 64))
    assert _interrupted(lambda: _core.logistic_gram(long_rows, weights, False, out, 2), Stop) < LATENCY
