"""Functional API: numpy in, numpy out.  Validates and shapes the input (with the checks of
sce/_checks.py), then calls sce._core.

Conventions (numpy-like): any shape for the elementwise functions; float32 stays float32, float64
stays float64, any other real numeric dtype is computed in float64; NaN propagates; inputs are never
modified; non-contiguous input is copied once.
"""

import numpy as np

from . import _core
from ._checks import (
    check_reduction,
    flat,
    float_array,
    kernel_ready,
    raise_status,
    reduced,
    scalar_check,
    total_weight,
    weights,
)
from ._threads import effective_n_threads

# Docstring text that several public functions share, written once: a line "{name}" in their
# docstrings stands for _DOCS[name] (see _shared_docs).
_DOCS = {"n_threads": """n_threads : int, default=None
        OpenMP threads: None uses ``min(omp_get_max_threads(), usable cores)``, so it follows
        ``OMP_NUM_THREADS`` and threadpoolctl limits; -1 uses all cores this process may run
        on; a positive int that many.  Results do not depend on the thread count (any sum is
        taken over fixed chunks in a fixed order).  Without OpenMP the call runs on one thread."""}
_DOCS["elementwise"] = """Parameters
    ----------
    z : array_like
        Input of any shape.  float32 is computed in float32 and float64 in float64; any other
        real dtype (integers, bool, float16, long double) is computed in float64.  Complex or
        non-numeric input raises TypeError.
    out : ndarray, optional
        Array to write the result to: same shape as ``z`` and the result's dtype (float32 for
        float32 ``z``, float64 otherwise), writeable; it may be ``z`` itself (in place) and need
        not be contiguous.  A mismatch raises ValueError (shape, read-only) or TypeError (dtype).
    """ + _DOCS["n_threads"] + """

    Returns
    -------
    result : ndarray or numpy scalar
        ``out`` when given; otherwise a new array of ``z``'s shape (a numpy scalar for 0-d
        input).  NaN in gives NaN out; ``z`` is never modified unless it is ``out``."""


def _shared_docs(func):
    """Fill in the shared docstring text (no docstring under python -OO)."""
    if func.__doc__:
        for name, text in _DOCS.items():
            func.__doc__ = func.__doc__.replace("{" + name + "}", text)
    return func


def _output(out, shape, dtype, inputs, name="out", what="z"):
    """The array a kernel writes a result of that shape and dtype into: ``out`` itself when given
    C-contiguous, aligned, and not overlapping the inputs (except being the first of them, which the
    elementwise kernels allow), else a new array (copied to ``out`` afterwards by _filled)."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{name} must be a numpy array; got {type(out).__name__}")
    if out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape} but {what} has shape {shape}")
    if out.dtype != dtype:
        raise TypeError(f"{name} has dtype {out.dtype} but the result has dtype {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"{name} is read-only")
    direct = out.flags.c_contiguous and out.flags.aligned and not any(
        a is not None and np.shares_memory(a, out) and not (name == "out" and a is out and k == 0)
        for k, a in enumerate(inputs))
    return out if direct else np.empty(shape, dtype=dtype)


def _filled(out, result):
    """out holding result (see _output), or result itself when no out was given."""
    if out is None or out is result:
        return result
    out[...] = result
    return out


def _gradient_output(grad_out, return_grad, shape, dtype, inputs, what="z"):
    if grad_out is not None and not return_grad:
        raise ValueError("grad_out is only used with return_grad=True")
    return _output(grad_out, shape, dtype, inputs, "grad_out", what) if return_grad else None


def _elementwise(name, z, out, n_threads):
    arr = float_array(z, "z")
    nt = effective_n_threads(n_threads)
    res = _output(out, arr.shape, arr.dtype, [arr])
    _core.elementwise(_core.MAPS[name], flat(arr), res.reshape(-1), nt)
    if out is None:
        return res[()] if res.ndim == 0 else res
    return _filled(out, res)


@_shared_docs
def sigmoid(z, out=None, *, n_threads=None):
    """Logistic sigmoid ``1 / (1 + exp(-z))``, elementwise.

    Computed as ``1 / (1 + exp(-z))`` for ``z >= 0`` and ``exp(z) / (1 + exp(z))`` otherwise, so
    no ``exp`` overflows: sigmoid(-inf) = 0 and sigmoid(inf) = 1 exactly, and very negative ``z``
    gives tiny positive values (down to the subnormal range) instead of 0 from ``1 - 1``.

    {elementwise}

    See Also
    --------
    scipy.special.expit : The same function in SciPy (what scikit-learn uses).
    log_sigmoid : ``log(sigmoid(z))`` without underflow.
    softplus : ``log(1 + exp(z))``, the antiderivative of sigmoid.
    bce_with_logits : Binary cross-entropy taken from the logits ``z``.

    Examples
    --------
    >>> import numpy as np
    >>> import sce
    >>> sce.sigmoid([-1000.0, -1.0, 0.0, 1.0, 1000.0])
    array([0.        , 0.26894142, 0.5       , 0.73105858, 1.        ])
    >>> sce.sigmoid(np.array([-np.inf, np.nan, np.inf]))
    array([ 0., nan,  1.])
    >>> z = np.array([0.0, 2.0], dtype=np.float32)
    >>> out = sce.sigmoid(z, out=z)  # in place; float32 stays float32
    >>> np.round(z, 6)
    array([0.5     , 0.880797], dtype=float32)
    """
    return _elementwise("sigmoid", z, out, n_threads)


@_shared_docs
def log_sigmoid(z, out=None, *, n_threads=None):
    """Log of the logistic sigmoid, ``log(sigmoid(z)) = -softplus(-z)``, elementwise.

    Computed as ``min(z, 0) - log1p(exp(-|z|))``: no overflow for large ``|z|`` and no
    ``log(0)`` for very negative ``z`` (log_sigmoid(-1000) is -1000, not -inf);
    log_sigmoid(-inf) = -inf, log_sigmoid(inf) = 0.

    {elementwise}

    See Also
    --------
    scipy.special.log_expit : The same function in SciPy.
    sigmoid : The logistic sigmoid itself.
    softplus : ``softplus(z) = -log_sigmoid(-z)``.
    bce_with_logits : Binary cross-entropy, ``-log_sigmoid(z)`` for a positive target.

    Examples
    --------
    >>> import numpy as np
    >>> import sce
    >>> np.round(sce.log_sigmoid([-40.0, -1.0, 0.0, 1.0]), 6)
    array([-40.      ,  -1.313262,  -0.693147,  -0.313262])
    >>> float(sce.log_sigmoid(-1000.0))
    -1000.0
    """
    return _elementwise("log_sigmoid", z, out, n_threads)


@_shared_docs
def softplus(z, out=None, *, n_threads=None):
    """Softplus ``log(1 + exp(z))``, elementwise.

    Computed as ``max(z, 0) + log1p(exp(-|z|))``: no overflow for large ``z`` (softplus(1000) is
    1000), full relative accuracy for very negative ``z``; softplus(-inf) = 0,
    softplus(inf) = inf.

    {elementwise}

    See Also
    --------
    numpy.logaddexp : ``np.logaddexp(0, z)`` is the same function in NumPy.
    log_sigmoid : ``log_sigmoid(z) = -softplus(-z)``.
    sigmoid : The derivative of softplus.
    bce_with_logits : Binary cross-entropy, ``softplus(z) - y z`` per element.

    Examples
    --------
    >>> import numpy as np
    >>> import sce
    >>> np.round(sce.softplus([-1.0, 0.0, 1.0, 50.0]), 6)
    array([ 0.313262,  0.693147,  1.313262, 50.      ])
    >>> float(sce.softplus(1000.0))
    1000.0
    """
    return _elementwise("softplus", z, out, n_threads)


def _exp(x, out=None, *, n_threads=None):
    """sce's own vectorized exp (exposed for tests and benchmarks)."""
    return _elementwise("exp", x, out, n_threads)


def _log1p(x, out=None, *, n_threads=None):
    """sce's own vectorized log1p (exposed for tests and benchmarks)."""
    return _elementwise("log1p", x, out, n_threads)


@_shared_docs
def bce_with_logits(z, y, *, sample_weight=None, pos_weight=None, reduction="mean",
                    return_grad=False, grad_out=None, n_threads=None):
    """Binary cross-entropy from logits, optionally with its gradient in the same pass.

    For logits ``z`` and targets ``y`` (elementwise, any shape)::

        loss_i = -w_i * [pw_i * y_i * log(sigmoid(z_i)) + (1 - y_i) * log(1 - sigmoid(z_i))]
               =  w_i * [pw_i * y_i * softplus(-z_i) + (1 - y_i) * softplus(z_i)]

    with sample weights ``w`` and positive-class weights ``pw`` (both 1 by default).  It is taken
    from the logits, never from probabilities, so it is finite and accurate for every finite
    ``z`` (no clipping; a confident wrong prediction z = -1000 with y = 1 costs 1000).

    Parameters
    ----------
    z : array_like of any shape
        Logits.  float32 is computed in float32; float64 and any other real dtype in float64.
    y : array_like of the same shape as z
        Targets in [0, 1]: 0/1 labels (bool and integer arrays are fine) or soft labels.  Cast
        to z's precision.  No broadcasting: a different shape raises ValueError, and so does a
        target outside [0, 1] or NaN.
    sample_weight : float or array_like broadcastable to z.shape, default=None
        Non-negative finite weights ``w_i``; None weighs every element 1.  A negative,
        infinite or NaN weight raises ValueError.
    pos_weight : float or array_like broadcastable to z.shape, default=None
        Positive finite weights ``pw_i`` of the positive term, as ``pos_weight`` of PyTorch's
        ``BCEWithLogitsLoss`` (e.g. shape (n_outputs,) for one weight per column of a
        (n_samples, n_outputs) ``z``); None means 1.
    reduction : {"mean", "sum", "none"}, default="mean"
        "sum" returns sum_i loss_i; "mean" divides that sum by the total weight sum_i w_i (the
        number of elements when unweighted; ``pos_weight`` does not enter the divisor), and
        raises ValueError when the total weight is 0 (also for empty input); "none" returns
        the per-element losses ``loss_i``.
    return_grad : bool, default=False
        Also return the derivative of the returned loss with respect to ``z``: for "none" the
        elementwise derivative ``w_i * ((pw_i * y_i + 1 - y_i) * sigmoid(z_i) - pw_i * y_i)``
        (``w_i * (sigmoid(z_i) - y_i)`` without pos_weight), for "sum" the same array, and for
        "mean" that array divided by the total weight.
    grad_out : ndarray, optional
        With ``return_grad=True``: the array to write the gradient into (z's shape and dtype), as
        numpy's ``out``, e.g. a buffer reused across the steps of a training loop.
    {n_threads}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none" an array of z's shape and dtype.
    grad : ndarray
        Only with ``return_grad=True``: array of z's shape and dtype; the function then returns
        the tuple ``(loss, grad)``.

    See Also
    --------
    sklearn.metrics.log_loss : The same mean loss computed from (clipped) probabilities
        ``sigmoid(z)``, for hard 0/1 labels.
    softmax_cross_entropy : The multiclass loss, from logits over the last axis.
    sigmoid, log_sigmoid, softplus : The elementwise functions the loss is made of.
    LogisticClassifier : Binary logistic regression minimizes C * (sum reduction) + penalty.
    SigmoidMLPClassifier : Its binary and multilabel outputs are trained with this loss.

    Examples
    --------
    >>> import numpy as np
    >>> import sce
    >>> z = np.array([2.0, -1.0, 0.0])
    >>> y = np.array([1.0, 0.0, 1.0])
    >>> round(sce.bce_with_logits(z, y), 6)
    0.377779
    >>> np.round(sce.bce_with_logits(z, y, reduction="none"), 6)
    array([0.126928, 0.313262, 0.693147])
    >>> loss, grad = sce.bce_with_logits(z, y, return_grad=True)
    >>> np.round(grad, 6)  # (sigmoid(z) - y) / 3
    array([-0.039734,  0.089647, -0.166667])
    >>> round(sce.bce_with_logits(z, y, pos_weight=2.0), 6)
    0.651137
    >>> sce.bce_with_logits([-1000.0], [1.0])  # no overflow, no clipping
    1000.0

    The mean is scikit-learn's log loss of the probabilities ``sigmoid(z)``:

    >>> from sklearn.metrics import log_loss
    >>> round(log_loss(y, sce.sigmoid(z)), 6)
    0.377779
    """
    check_reduction(reduction)
    zarr = float_array(z, "z")
    dtype = zarr.dtype
    yarr = float_array(y, "y", dtype)
    if yarr.shape != zarr.shape:
        raise ValueError(f"y has shape {yarr.shape} but z has shape {zarr.shape}; they must match")
    shape = zarr.shape
    n = zarr.size
    sw, sw_scalar = weights(sample_weight, shape, dtype, "sample_weight")
    pw, pw_scalar = weights(pos_weight, shape, dtype, "pos_weight")
    if sw is None:
        scalar_check(sw_scalar, "sample_weight", positive=False)
    if pw is None:
        scalar_check(pw_scalar, "pos_weight", positive=True)
    grad_scale = 1.0
    if reduction == "mean":
        grad_scale = 1.0 / total_weight(sw, sw_scalar, n)
    loss = np.empty(shape, dtype=dtype) if reduction == "none" else None
    grad = _gradient_output(grad_out, return_grad, shape, dtype, [zarr, yarr, sw, pw])
    total, status = _core.bce_logits(
        flat(zarr), flat(yarr), sw, sw_scalar, pw, pw_scalar, grad_scale,
        None if loss is None else loss.reshape(-1), None if grad is None else grad.reshape(-1),
        effective_n_threads(n_threads),
    )
    raise_status(status, "y must contain targets in [0, 1] (and no NaN)")
    return reduced(reduction, loss, total, grad_scale, _filled(grad_out, grad), return_grad)


@_shared_docs
def softmax_cross_entropy(logits, target, *, sample_weight=None, reduction="mean",
                          return_grad=False, grad_out=None, n_threads=None):
    """Softmax cross-entropy over the last axis, optionally with its gradient in the same pass.

    For each row ``z_i`` of logits (the last axis holds the classes) and target row ``t_i``::

        loss_i = -w_i * sum_k t_ik * log(softmax(z_i)_k)
               =  w_i * (logsumexp(z_i) * sum_k t_ik - sum_k t_ik * z_ik)

    where integer labels stand for one-hot rows (``loss_i = w_i * (logsumexp(z_i) - z_i[label])``).
    The log-sum-exp is shifted by the row maximum, so any finite logits are fine.

    Parameters
    ----------
    logits : array_like of shape (..., n_classes)
        At least one dimension, not empty.  float32 is computed in float32; float64 and any
        other real dtype in float64.
    target : array_like
        Either class labels of shape ``logits.shape[:-1]`` (integers, bool, or floats with
        integral values) in [0, n_classes), or probabilities in [0, 1] of the same shape as
        ``logits`` (e.g. label-smoothed one-hot rows; rows need not sum to 1, the formula above
        uses sum_k t_ik).  The shape decides which: a target of logits' shape is probabilities,
        also when it holds integers.  Labels outside [0, n_classes), non-integral float labels,
        probabilities outside [0, 1] or NaN raise ValueError.
    sample_weight : float or array_like broadcastable to logits.shape[:-1], default=None
        Non-negative finite weight ``w_i`` per row; None weighs every row 1.
    reduction : {"mean", "sum", "none"}, default="mean"
        "sum" returns sum_i loss_i; "mean" divides it by the total weight sum_i w_i (the number
        of rows when unweighted) and raises ValueError when that is 0; "none" returns the
        per-row losses, of shape ``logits.shape[:-1]``.
    return_grad : bool, default=False
        Also return the derivative of the returned loss with respect to ``logits``:
        ``w_i * (softmax(z_i) * sum_k t_ik - t_i)`` per row for "none" and "sum", divided by
        the total weight for "mean".
    grad_out : ndarray, optional
        With ``return_grad=True``: the array to write the gradient into (the logits' shape and
        dtype), as numpy's ``out``.
    {n_threads}

    Returns
    -------
    loss : float or ndarray
        A Python float for "mean" and "sum"; for "none" an array of shape
        ``logits.shape[:-1]`` in the logits' computing dtype.
    grad : ndarray
        Only with ``return_grad=True``: array of the logits' shape and computing dtype; the
        function then returns the tuple ``(loss, grad)``.

    See Also
    --------
    sklearn.metrics.log_loss : The same mean loss computed from (clipped) probabilities
        ``softmax(logits)``.
    scipy.special.log_softmax : The log-probabilities whose negative the loss picks.
    bce_with_logits : The binary (and multilabel) loss.
    LogisticClassifier : Multinomial logistic regression minimizes C * (sum reduction) + penalty.
    SigmoidMLPClassifier : Its multiclass output layer is trained with this loss.

    Examples
    --------
    >>> import numpy as np
    >>> import sce
    >>> logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, -1.0]])
    >>> labels = np.array([0, 2])
    >>> round(sce.softmax_cross_entropy(logits, labels), 6)
    2.035104
    >>> np.round(sce.softmax_cross_entropy(logits, labels, reduction="none"), 6)
    array([0.41703 , 3.653178])
    >>> loss, grad = sce.softmax_cross_entropy(logits, labels, reduction="sum", return_grad=True)
    >>> np.round(grad, 4)  # softmax(logits) - one-hot(labels)
    array([[-0.341 ,  0.2424,  0.0986],
           [ 0.1161,  0.858 , -0.9741]])

    Probability targets, here label-smoothed one-hot rows:

    >>> smoothed = 0.9 * np.eye(3)[labels] + 0.1 / 3
    >>> np.round(sce.softmax_cross_entropy(logits, smoothed, reduction="none"), 6)
    array([0.513697, 3.486512])

    The mean is scikit-learn's log loss of the probabilities ``softmax(logits)``:

    >>> from scipy.special import softmax
    >>> from sklearn.metrics import log_loss
    >>> round(log_loss(labels, softmax(logits, axis=1), labels=[0, 1, 2]), 6)
    2.035104
    """
    check_reduction(reduction)
    zarr = float_array(logits, "logits")
    if zarr.ndim == 0:
        raise ValueError("logits must have at least one dimension (the classes); got a scalar")
    dtype = zarr.dtype
    row_shape, n_classes = zarr.shape[:-1], zarr.shape[-1]
    n_rows = int(np.prod(row_shape))
    if n_classes == 0 and n_rows > 0:  # logsumexp over no class: no loss is defined
        raise ValueError(f"logits must have at least one class (last axis); got shape {zarr.shape}")
    tarr = np.asarray(target)
    labels = probs = None
    if tarr.shape == zarr.shape and tarr.shape != row_shape:
        if tarr.dtype.kind not in "fiub":
            raise TypeError(f"probability targets must be real numbers; got dtype {tarr.dtype}")
        probs = kernel_ready(tarr, dtype).reshape(n_rows, n_classes)
    elif tarr.shape == row_shape:
        if tarr.dtype.kind not in "iubf":
            raise TypeError(f"target labels must be integers; got dtype {tarr.dtype}")
        if tarr.dtype.kind in "iub":
            labels = tarr
        elif np.all(np.isfinite(tarr)) and np.all(tarr == np.round(tarr)):
            if tarr.size and np.max(np.abs(tarr)) >= 2.0 ** 62:  # would not survive the int cast
                raise ValueError(f"target labels must be integers in [0, {n_classes})")
            labels = tarr
        else:
            raise ValueError(
                f"target of shape {tarr.shape} must hold integer class labels; got dtype {tarr.dtype}"
                + (" with non-integer values" if tarr.dtype.kind == "f" else "")
            )
        if tarr.dtype.kind == "u" and tarr.size and tarr.max() > np.iinfo(np.int64).max:
            raise ValueError(f"target labels must be in [0, {n_classes}); got {tarr.max()}")
        labels = kernel_ready(labels, np.int64).reshape(n_rows)
    else:
        raise ValueError(
            f"target has shape {tarr.shape}; expected labels of shape {row_shape} "
            f"or probabilities of shape {zarr.shape} for logits of shape {zarr.shape}"
        )
    sw, sw_scalar = weights(sample_weight, row_shape, dtype, "sample_weight")
    if sw is None:
        scalar_check(sw_scalar, "sample_weight", positive=False)
        if sw_scalar != 1.0:  # the kernel takes per-row weights or none
            sw = np.full(n_rows, sw_scalar, dtype=dtype)
    grad_scale = 1.0
    if reduction == "mean":
        grad_scale = 1.0 / total_weight(sw, sw_scalar if sw is None else 0.0, n_rows)
    loss = np.empty(row_shape, dtype=dtype) if reduction == "none" else None
    grad = _gradient_output(grad_out, return_grad, zarr.shape, dtype, [zarr, labels, probs, sw], "logits")
    total, status = _core.softmax_xent(
        kernel_ready(zarr).reshape(n_rows, n_classes), labels, probs, sw, grad_scale,
        None if loss is None else loss.reshape(-1),
        None if grad is None else grad.reshape(n_rows, n_classes),
        effective_n_threads(n_threads),
    )
    if status & _core.BAD_LABEL:
        raise ValueError(f"target labels must be integers in [0, {n_classes})")
    raise_status(status, "probability targets must lie in [0, 1] (and not be NaN)")
    return reduced(reduction, loss, total, grad_scale, _filled(grad_out, grad), return_grad)
