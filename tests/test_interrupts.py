"""Ctrl-C during a fit: a KeyboardInterrupt within about a second, and the estimator as it was
before that fit call (unfitted, or the previous fit), never half-written."""
import os
import signal
import threading
import time

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.utils.validation import check_is_fitted

import sce
from sce import _logistic_objective as _objectives

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGINT") or os.name != "posix",
                                reason="sends SIGINT to its own process")

# The signal is sent this long after the fit starts; every fit below runs for far longer.
DELAY = 0.3
# "within about one second" of the signal
LATENCY = 1.0


def _interrupted(fit):
    """Run fit() with a SIGINT sent to this process after DELAY; return the seconds between the
    signal and the KeyboardInterrupt.  The handler raises only while fit() runs, so a fit that ends
    before the signal fails this test instead of interrupting the test session."""
    sent = {}
    fitting = [True]
    finished = threading.Event()

    def handler(signum, frame):
        if fitting[0]:
            raise KeyboardInterrupt

    def send():
        # The first signal is timed; if it is lost, later ones end the fit, so that the test fails on
        # its latency instead of hanging the run (fits below run for minutes).
        while not finished.is_set():
            sent.setdefault("t", time.perf_counter())
            os.kill(os.getpid(), signal.SIGINT)
            finished.wait(2.0)

    previous = signal.signal(signal.SIGINT, handler)
    timer = threading.Timer(DELAY, send)
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            fit()
        return time.perf_counter() - sent["t"]
    finally:
        fitting[0] = False
        finished.set()
        timer.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)


def _state(est):
    """The fitted attributes, copied, for comparison."""
    return {k: (v.copy() if isinstance(v, np.ndarray) else
                [a.copy() for a in v] if isinstance(v, list) and v and isinstance(v[0], np.ndarray) else
                list(v) if isinstance(v, list) else v)
            for k, v in vars(est).items() if k.endswith("_") and not k.startswith("__")}


def _assert_same_state(a, b):
    assert a.keys() == b.keys()
    for k in a:
        va, vb = a[k], b[k]
        if isinstance(va, np.ndarray):
            np.testing.assert_array_equal(va, vb, err_msg=k)
        elif isinstance(va, list) and va and isinstance(va[0], np.ndarray):
            for x, y in zip(va, vb):
                np.testing.assert_array_equal(x, y, err_msg=k)
        else:
            assert va == vb or (va != va and vb != vb), k  # NaN == NaN for this purpose


@pytest.fixture
def mlp_data():
    return make_classification(20000, 40, n_informative=10, n_classes=3, random_state=0)


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_mlp_interrupt_leaves_unfitted(mlp_data, solver):
    X, y = mlp_data
    # runs for minutes: no tolerance, no early stop
    mlp = sce.SigmoidMLPClassifier((64,), solver=solver, max_iter=100000, max_fun=10**7, tol=0.0,
                                   n_iter_no_change=10**9, random_state=0)
    latency = _interrupted(lambda: mlp.fit(X, y))
    assert latency < LATENCY
    with pytest.raises(NotFittedError):
        check_is_fitted(mlp)
    assert not any(k.endswith("_") for k in vars(mlp))


def test_mlp_interrupt_keeps_previous_fit(mlp_data):
    X, y = mlp_data
    mlp = sce.SigmoidMLPClassifier((64,), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        mlp.fit(X, y)
    before = _state(mlp)
    mlp.set_params(warm_start=True, max_iter=100000, tol=0.0, n_iter_no_change=10**9)
    assert _interrupted(lambda: mlp.fit(X, y)) < LATENCY
    _assert_same_state(_state(mlp), before)
    assert np.isfinite(mlp.predict_proba(X[:5])).all()


@pytest.fixture
def slow_objective(monkeypatch):
    """Every loss + gradient evaluation takes at least 50 ms more, so that a small fit lasts."""
    original = _objectives.LogisticObjective.evaluate

    def evaluate(self, *args, **kwargs):
        time.sleep(0.05)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_objectives.LogisticObjective, "evaluate", evaluate)


@pytest.mark.parametrize("solver", ["newton-cg", "newton-cholesky", "lbfgs"])
def test_logistic_interrupt_leaves_unfitted_or_previous(slow_objective, solver):
    X, y = make_classification(2000, 20, n_informative=8, n_classes=3, random_state=0)
    clf = sce.LogisticClassifier(solver=solver, tol=0.0, max_iter=10**6)
    assert _interrupted(lambda: clf.fit(X, y)) < LATENCY
    with pytest.raises(NotFittedError):
        check_is_fitted(clf)
    # a refit on other labels is interrupted: classes_, coef_ and the rest stay the first fit's
    first = sce.LogisticClassifier(solver=solver, max_iter=10**6).fit(X, y == 2)
    before = _state(first)
    first.set_params(tol=0.0)
    assert _interrupted(lambda: first.fit(X, y)) < LATENCY
    _assert_same_state(_state(first), before)


def test_errors_inside_fit_leave_the_previous_fit():
    X, y = make_classification(300, 6, random_state=0)
    clf = sce.LogisticClassifier().fit(X, y)
    before = _state(clf)
    X_bad = X.copy()
    X_bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):  # found after the labels are encoded
        clf.fit(X_bad, np.where(y == 1, "yes", "no"))
    _assert_same_state(_state(clf), before)
