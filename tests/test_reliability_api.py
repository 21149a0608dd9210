"""scikit-learn's API where sce differed (issue #13, points 4 and 5)."""
import inspect
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

import sce
from sce import LogisticClassifier, SigmoidMLPClassifier


def test_partial_fit_signature_is_scikit_learns():
    ours = list(inspect.signature(SigmoidMLPClassifier.partial_fit).parameters)
    theirs = list(inspect.signature(MLPClassifier.partial_fit).parameters)
    assert ours == theirs == ["self", "X", "y", "sample_weight", "classes"]


def test_partial_fit_positional_arguments_mean_what_they_mean_in_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    sw = rng.random(40) + 0.5
    a = SigmoidMLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    a.partial_fit(X, y, sw, np.array([0, 1]))
    b = SigmoidMLPClassifier(hidden_layer_sizes=(4,), random_state=0)
    b.partial_fit(X, y, sample_weight=sw, classes=np.array([0, 1]))
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])
    np.testing.assert_array_equal(a.classes_, [0, 1])


def test_mlp_max_iter_0_and_multilabel_partial_fit_as_scikit_learn():
    X = np.random.default_rng(1).normal(size=(30, 3))
    Y = (X[:, :2] > 0).astype(int)
    for cls in (MLPClassifier, SigmoidMLPClassifier):
        with pytest.raises(ValueError, match="max_iter"):
            cls(max_iter=0).fit(X, Y[:, 0])
        with pytest.raises(ValueError, match="classes must be passed on the first call"):
            cls(hidden_layer_sizes=(3,)).partial_fit(X, Y)


@pytest.mark.parametrize("reduction", ["sum", "none", "mean"])
def test_empty_softmax_cross_entropy_like_empty_bce(reduction):
    """No rows: the sum is 0 and 'none' is empty for both losses; 'mean' (0 / 0) raises for both."""
    cases = [(sce.bce_with_logits, np.empty((0, 3)), np.empty((0, 3))),
             (sce.softmax_cross_entropy, np.empty((0, 3)), np.empty(0, dtype=int)),
             (sce.softmax_cross_entropy, np.empty((0, 3)), np.empty((0, 3)))]
    results = []
    for fn, z, t in cases:
        if reduction == "mean":
            with pytest.raises(ValueError, match="total sample weight is zero"):
                fn(z, t, reduction=reduction)
            continue
        loss, grad = fn(z, t, reduction=reduction, return_grad=True)
        assert grad.shape == z.shape
        results.append(loss)
    if reduction == "sum":
        assert results == [0.0, 0.0, 0.0]
    elif reduction == "none":
        assert [r.shape for r in results] == [(0, 3), (0,), (0,)]


@pytest.mark.parametrize("change", ["features", "classes"])
def test_warm_start_on_another_shape_raises_like_scikit_learn(change):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6))
    y = np.arange(60) % 2
    first = (X[:, :5], y) if change == "features" else (X, y)
    second = (X, y) if change == "features" else (X, np.arange(60) % 3)
    messages = []
    for est in (LogisticRegression(warm_start=True), LogisticClassifier(warm_start=True)):
        est.fit(*first)
        with pytest.raises(ValueError) as exc:
            est.fit(*second)
        messages.append(str(exc.value))
    assert messages[0] == messages[1]
    assert messages[1].startswith("Initialization coef is of shape")


def test_warm_start_on_the_same_shape_still_starts_from_the_last_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X @ [1.0, -2.0, 0.5, 0.0] + rng.normal(size=200) > 0).astype(int)
    m = LogisticClassifier(warm_start=True).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        m.fit(X, y)
    assert m.n_iter_[0] <= 1
