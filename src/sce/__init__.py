"""sce: fast, numerically careful sigmoid / cross-entropy kernels (C99 + OpenMP) under a numpy API."""
from ._functional import bce_with_logits, log_sigmoid, sigmoid, softmax_cross_entropy, softplus
from .linear import LogisticClassifier
from .mlp import SigmoidMLPClassifier

__version__ = "0.1.0"

__all__ = [
    "LogisticClassifier",
    "SigmoidMLPClassifier",
    "bce_with_logits",
    "log_sigmoid",
    "sigmoid",
    "softmax_cross_entropy",
    "softplus",
]
