"""scikit-learn's input validation, with a short path for plain float arrays.

validate_data looks at every input for dataframe libraries (through narwhals), array-API
namespaces and feature names before it looks at the array itself; for a numpy array of float64 or
float32 -- most fits and predictions -- all of that ends in "use the array as it is", and costs
more than fitting or predicting on a small data set.  Here such input takes a short path that does
what validate_data does with it: the same checks (finiteness where asked for, under scikit-learn's
``assume_finite`` setting), the same attributes set or removed, the same arrays returned.  Any other
input, and any input that a check on the short path would not pass as it is (wrong number of
features, feature names to compare, no rows, a column-vector y, ...), goes to validate_data
itself, so that the errors and warnings are always scikit-learn's.
"""
import weakref

import numpy as np
from sklearn import get_config
from sklearn.utils.validation import _assert_all_finite, _check_sample_weight, validate_data

_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _plain_float_matrix(X):
    """Whether X is a numpy array (no subclass) of native float64 / float32 with at least one row
    and one column: check_array passes it on unchanged (after its finiteness check) for dtype
    "numeric" or [float64, float32]."""
    return type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOATS and X.shape[0] > 0 and X.shape[1] > 0


def _check_finite(a, input_name, est):
    """_assert_all_finite(a, input_name=input_name, estimator_name=...) of a float array: its
    first pass (a finite sum: then every element is finite) made here, without its array-namespace
    lookups, and scikit-learn's own check, which finds and reports the element, only after it."""
    if get_config()["assume_finite"]:
        return
    with np.errstate(over="ignore"):
        if np.isfinite(np.add.reduce(a, axis=None)):
            return
    _assert_all_finite(a, input_name=input_name, estimator_name=type(est).__name__)


def fit_X_y(est, X, y, ensure_all_finite=False):
    """validate_data(est, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
    accept_large_sparse=True, ensure_all_finite=ensure_all_finite): (X, y), with est's
    n_features_in_ set (and a previous fit's feature_names_in_ removed)."""
    if not (_plain_float_matrix(X) and X.flags.c_contiguous and type(y) is np.ndarray and y.ndim == 1
            and y.dtype.kind in "biuf" and len(y) == X.shape[0]):
        return validate_data(est, X, y, accept_sparse="csr", dtype=[np.float64, np.float32], order="C",
                             accept_large_sparse=True, ensure_all_finite=ensure_all_finite)
    if hasattr(est, "feature_names_in_"):  # X has none: as validate_data, forget the last fit's
        del est.feature_names_in_
    if ensure_all_finite == "allow-nan":
        _assert_all_finite(X, allow_nan=True, input_name="X", estimator_name=type(est).__name__)
    elif ensure_all_finite:
        _check_finite(X, "X", est)
    if y.dtype.kind == "f":
        _check_finite(y, "y", est)
    est.n_features_in_ = X.shape[1]
    return X, np.ascontiguousarray(y)


def predict_X(est, X):
    """validate_data(est, X, accept_sparse="csr", reset=False) of a fitted est."""
    if (_plain_float_matrix(X) and X.shape[1] == getattr(est, "n_features_in_", None)
            and not hasattr(est, "feature_names_in_")):
        _check_finite(X, "X", est)
        return X
    return validate_data(est, X, accept_sparse="csr", reset=False)


def sample_weight(sample_weight, X):
    """_check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True) of a
    validated float X: for None, ones."""
    if sample_weight is None and X.dtype in _FLOATS and X.shape[0] > 0:
        return np.ones(X.shape[0], dtype=X.dtype)
    return _check_sample_weight(sample_weight, X, dtype=X.dtype, ensure_non_negative=True)


_param_names = weakref.WeakKeyDictionary()  # class -> (its __init__, the names)
_valid_params = weakref.WeakKeyDictionary()  # class -> (constraints, parameters) that passed last
_IMMUTABLE = (type(None), bool, int, float, str)


class CachedParams:
    """BaseEstimator._get_param_names (``inspect.signature`` of ``__init__``, behind every
    get_params: each fit's parameter validation, clone, repr) computed once per class, and again
    only when its ``__init__`` is replaced; and _validate_params skipped when the parameters are
    those that passed it last, with the same types, all immutable (None, bool, int, float, str), and
    the constraints the same object: a refit, or a fit of a new estimator with the same settings."""

    @classmethod
    def _get_param_names(cls):
        cached = _param_names.get(cls)
        if cached is None or cached[0] is not cls.__init__:
            cached = _param_names[cls] = (cls.__init__, tuple(super()._get_param_names()))
        return list(cached[1])

    def _validate_params(self):
        params = self.get_params(deep=False)
        values = tuple((k, type(v), v) for k, v in params.items())  # 1, 1.0, True: not equally valid
        last = _valid_params.get(type(self))
        if last is not None and last[0] is self._parameter_constraints and last[1] == values:
            return
        super()._validate_params()
        if all(type(v) in _IMMUTABLE for v in params.values()):
            _valid_params[type(self)] = (self._parameter_constraints, values)
