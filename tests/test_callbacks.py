"""scikit-learn's callback API on LogisticClassifier: every solver reports its iterations as subtasks
of the fit, with the parameters reached so far."""
import numpy as np
import pytest
from sklearn.callback import ScoringMonitor
from sklearn.datasets import make_classification

from sce import LogisticClassifier


@pytest.mark.parametrize("params", [dict(solver="newton-cholesky"), dict(solver="newton-cg"),
                                    dict(solver="lbfgs"), dict(l1_ratio=0.5, C=0.1)])
def test_scoring_monitor_sees_every_iteration(params):
    X, y = make_classification(1000, 20, n_informative=6, random_state=0)
    monitor = ScoringMonitor(scoring="neg_log_loss")
    m = LogisticClassifier(**params).set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    fit_rows = [r for r in rows if r["task_name"] == "fit"]
    iteration_rows = sorted((r for r in rows if r["task_name"] == "newton-iter"), key=lambda r: r["task_id"])
    assert len(fit_rows) == 1 and len(iteration_rows) == m.n_iter_[0]
    scores = [r["neg_log_loss"] for r in iteration_rows]
    # the last iteration's parameters are the fitted ones; the fit's score is that of the fitted model
    assert scores[-1] == pytest.approx(fit_rows[0]["neg_log_loss"], rel=1e-6)
    assert scores[-1] >= scores[0]


def test_progress_bar_runs():
    pytest.importorskip("rich")
    from sklearn.callback import ProgressBar

    X, y = make_classification(500, 10, random_state=0)
    m = LogisticClassifier(l1_ratio=1.0, C=0.5).set_callbacks(ProgressBar()).fit(X, y)
    assert np.count_nonzero(m.coef_) > 0


def test_no_callbacks_no_context():
    X, y = make_classification(200, 5, random_state=0)
    m = LogisticClassifier().fit(X, y)
    assert not hasattr(m, "_callback_fit_ctx") and not hasattr(m, "_skl_callbacks")


@pytest.mark.parametrize("solver", ["adam", "sgd", "lbfgs"])
def test_mlp_scoring_monitor_sees_every_epoch(solver):
    from sce import SigmoidMLPClassifier

    X, y = make_classification(300, 10, n_informative=5, n_classes=3, random_state=0)
    monitor = ScoringMonitor(scoring="accuracy")
    m = SigmoidMLPClassifier((8,), solver=solver, max_iter=15, random_state=0)
    with pytest.warns(Warning):  # 15 epochs / iterations do not converge
        m.set_callbacks(monitor).fit(X, y)
    rows = monitor.get_logs().data
    epochs = [r for r in rows if r["task_name"] == "epoch"]
    assert len(epochs) == m.n_iter_ and len([r for r in rows if r["task_name"] == "fit"]) == 1
    fit_score = [r for r in rows if r["task_name"] == "fit"][0]["accuracy"]
    assert fit_score == pytest.approx(m.score(X, y))
