"""scikit-learn 1.9's own test modules for LogisticRegression(CV) and MLPClassifier, run on sce.

sce's classes are bound to scikit-learn's names before the test modules import them, so every test
of those modules exercises sce's estimators.  The modules are imported from the installed
scikit-learn (tests/sklearn_suite/test_*.py star-import them), not copied.  Run with
``python -m pytest tests/sklearn_suite`` (tests/test_sklearn_suite.py does, in a process of its own);
the tests left out are listed with their reasons in tests/sklearn_suite/excluded.py.
"""
import sklearn.linear_model
import sklearn.neural_network

import sce

sklearn.linear_model.LogisticRegression = sce.LogisticClassifier
sklearn.linear_model.LogisticRegressionCV = sce.LogisticClassifierCV
sklearn.neural_network.MLPClassifier = sce.SigmoidMLPClassifier

import pytest  # noqa: E402
from excluded import reason_excluded  # noqa: E402
from sklearn.conftest import *  # noqa: E402, F401, F403  scikit-learn's fixtures (global_random_seed, ...)


def pytest_collection_modifyitems(config, items):
    for item in items:
        reason = reason_excluded(item.nodeid)
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"left out: {reason}"))
