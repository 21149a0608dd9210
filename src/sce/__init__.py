"""sce: fast, numerically careful sigmoid / cross-entropy kernels (C99 + OpenMP) under a numpy API.

Functions (numpy arrays in, numpy arrays out; float32 stays float32):
    sigmoid, log_sigmoid, softplus -- elementwise, stable for any input
    bce_with_logits -- binary cross-entropy from logits, with its gradient on request
    softmax_cross_entropy -- softmax cross-entropy over the last axis, likewise

scikit-learn compatible estimators:
    LogisticClassifier -- for sklearn.linear_model.LogisticRegression (L2, L1, elastic-net;
        binary / multinomial)
    LogisticClassifierCV -- for sklearn.linear_model.LogisticRegressionCV (warm-started paths,
        folds in threads over one X)
    SigmoidMLPClassifier -- for sklearn.neural_network.MLPClassifier(activation="logistic")

Each object's help() documents its parameters and has a runnable example.
"""
from ._functional import bce_with_logits, log_sigmoid, sigmoid, softmax_cross_entropy, softplus
from .linear import LogisticClassifier
from .linear_cv import LogisticClassifierCV
from .mlp import SigmoidMLPClassifier

__version__ = "0.1.0"

__all__ = [
    "LogisticClassifier",
    "LogisticClassifierCV",
    "SigmoidMLPClassifier",
    "bce_with_logits",
    "log_sigmoid",
    "sigmoid",
    "softmax_cross_entropy",
    "softplus",
]
