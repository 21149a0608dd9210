"""Functional API: numpy in, numpy out.  Validates and shapes the input, then calls sce._core.

Conventions (numpy-like): any shape for the elementwise functions; float32 stays float32, float64
stays float64, any other real numeric dtype is computed in float64; NaN propagates; inputs are never
modified; non-contiguous input is copied once.
"""

import numpy as np

from . import _core
from ._threads import effective_n_threads

_REDUCTIONS = ("mean", "sum", "none")


def _float_array(x, name, dtype=None):
    """x as an ndarray of float32/float64 (or of `dtype` when given), without copying when possible."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        if arr.dtype.kind == "c":
            raise TypeError(f"{name} must be real-valued; got complex dtype {arr.dtype}")
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}") from exc
    if dtype is None:
        dtype = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    return arr.astype(dtype, copy=False)


def _kernel_ready(arr, dtype=None):
    """arr as a C-contiguous array aligned to its element size, as the kernels read it: a copy only
    when it is not (a view that starts off its element size, e.g. a field of a packed structured
    array, would make the vectorized loops load misaligned elements)."""
    return np.require(arr, dtype=dtype, requirements=["C", "A"])


def _flat(arr):
    """A 1-D view of _kernel_ready(arr)."""
    return _kernel_ready(arr).reshape(-1)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")


def _weights(w, shape, dtype, name):
    """Per-element weights broadcast to `shape`: (None, scalar) or (flat array, 0)."""
    if w is None:
        return None, 1.0
    arr = _float_array(w, name, dtype)
    if arr.ndim == 0:
        return None, float(arr)
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {arr.shape} cannot be broadcast to the shape of the logits {shape}"
        ) from None
    return _flat(arr), 0.0


def _scalar_check(value, name, positive):
    ok = np.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'} and finite; got {value}")


def _raise_status(status, target_msg):
    if status & _core.BAD_TARGET:
        raise ValueError(target_msg)
    if status & _core.BAD_SAMPLE_WEIGHT:
        raise ValueError("sample_weight must be non-negative and finite")
    if status & _core.BAD_POS_WEIGHT:
        raise ValueError("pos_weight must be positive and finite")


def _check_weights(sw_flat, name="sample_weight"):
    """Per-element weights must be finite and non-negative (checked before any reduction)."""
    if sw_flat is not None and not (np.all(np.isfinite(sw_flat)) and np.all(sw_flat >= 0)):
        raise ValueError(f"{name} must be non-negative and finite")


def _total_weight(sw_flat, sw_scalar, n):
    _check_weights(sw_flat)
    with np.errstate(over="ignore"):  # a sum of huge weights may reach inf: the mean is then 0
        total = float(np.sum(sw_flat, dtype=np.float64)) if sw_flat is not None else sw_scalar * n
    if not total > 0:
        raise ValueError(
            "reduction='mean' is undefined when the total sample weight is zero "
            f"(here {n} elements); use reduction='sum'"
        )
    return total


def _reduced(reduction, loss, total, grad_scale, grad, return_grad):
    """The value returned for a reduction (per-element array, sum, or weighted mean), with grad."""
    if reduction == "none":
        result = loss
    elif reduction == "sum":
        result = float(total)
    else:
        result = float(total) * grad_scale
    return (result, grad) if return_grad else result


def _elementwise(name, z, out, n_threads):
    arr = _float_array(z, "z")
    nt = effective_n_threads(n_threads)
    if out is None:
        res = np.empty(arr.shape, dtype=arr.dtype)
        _core.elementwise(_core.MAPS[name], _flat(arr), res.reshape(-1), nt)
        return res[()] if res.ndim == 0 else res
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be a numpy array; got {type(out).__name__}")
    if out.shape != arr.shape:
        raise ValueError(f"out has shape {out.shape} but z has shape {arr.shape}")
    if out.dtype != arr.dtype:
        raise TypeError(f"out has dtype {out.dtype} but the result has dtype {arr.dtype}")
    if not out.flags.writeable:
        raise ValueError("out is read-only")
    if out.flags.c_contiguous and out.flags.aligned and (arr is out or not np.shares_memory(arr, out)):
        _core.elementwise(_core.MAPS[name], _flat(arr), out.reshape(-1), nt)
    else:  # out is strided, or overlaps z partially: compute into a fresh buffer, then copy
        res = np.empty(arr.shape, dtype=arr.dtype)
        _core.elementwise(_core.MAPS[name], _flat(arr), res.reshape(-1), nt)
        out[...] = res
    return out


def sigmoid(z, out=None, *, n_threads=None):
    """Logistic sigmoid 1 / (1 + exp(-z)), elementwise; exact at +/-inf, NaN propagates."""
    return _elementwise("sigmoid", z, out, n_threads)


def log_sigmoid(z, out=None, *, n_threads=None):
    """log(sigmoid(z)) = -softplus(-z), elementwise, without overflow or cancellation."""
    return _elementwise("log_sigmoid", z, out, n_threads)


def softplus(z, out=None, *, n_threads=None):
    """softplus(z) = log(1 + exp(z)), elementwise; softplus(-inf) = 0, softplus(inf) = inf."""
    return _elementwise("softplus", z, out, n_threads)


def _exp(x, out=None, *, n_threads=None):
    """sce's own vectorized exp (exposed for tests and benchmarks)."""
    return _elementwise("exp", x, out, n_threads)


def _log1p(x, out=None, *, n_threads=None):
    """sce's own vectorized log1p (exposed for tests and benchmarks)."""
    return _elementwise("log1p", x, out, n_threads)


def bce_with_logits(z, y, *, sample_weight=None, pos_weight=None, reduction="mean",
                    return_grad=False, n_threads=None):
    """Binary cross-entropy from logits, fused with its gradient.

    loss_i = -w_i [pw_i y_i log sigmoid(z_i) + (1 - y_i) log(1 - sigmoid(z_i))]

    Parameters
    ----------
    z : array_like of any shape
        Logits.  float32 is computed in float32, float64 and any other real dtype in float64.
    y : array_like, same shape as z
        Targets in [0, 1] (soft labels allowed); cast to z's precision.
    sample_weight : array_like broadcastable to z.shape, optional
        Non-negative finite weights w_i.
    pos_weight : float or array_like broadcastable to z.shape, optional
        Positive weight of the positive term, as in PyTorch's ``BCEWithLogitsLoss``
        (e.g. shape (n_outputs,) for one weight per column).
    reduction : {"mean", "sum", "none"}
        "mean" divides the weighted sum by the total weight sum(w) (the element count when
        unweighted); "none" returns the weighted per-element losses with z's shape.
    return_grad : bool
        Also return the derivative of the returned loss with respect to z (z's shape and dtype);
        for "none" that is the elementwise derivative w_i (sigma(z_i) (pw_i y_i + 1 - y_i) - pw_i y_i).
    n_threads : int, optional
        OpenMP threads (None: all usable cores, honouring OMP_NUM_THREADS / threadpoolctl).

    Returns
    -------
    loss : float (for "mean" / "sum") or ndarray (for "none"), or (loss, grad) with return_grad.
    """
    _check_reduction(reduction)
    zarr = _float_array(z, "z")
    dtype = zarr.dtype
    yarr = _float_array(y, "y", dtype)
    if yarr.shape != zarr.shape:
        raise ValueError(f"y has shape {yarr.shape} but z has shape {zarr.shape}; they must match")
    shape = zarr.shape
    n = zarr.size
    sw, sw_scalar = _weights(sample_weight, shape, dtype, "sample_weight")
    pw, pw_scalar = _weights(pos_weight, shape, dtype, "pos_weight")
    if sw is None:
        _scalar_check(sw_scalar, "sample_weight", positive=False)
    if pw is None:
        _scalar_check(pw_scalar, "pos_weight", positive=True)
    grad_scale = 1.0
    if reduction == "mean":
        grad_scale = 1.0 / _total_weight(sw, sw_scalar, n)
    loss = np.empty(shape, dtype=dtype) if reduction == "none" else None
    grad = np.empty(shape, dtype=dtype) if return_grad else None
    total, status = _core.bce_logits(
        _flat(zarr), _flat(yarr), sw, sw_scalar, pw, pw_scalar, grad_scale,
        None if loss is None else loss.reshape(-1), None if grad is None else grad.reshape(-1),
        effective_n_threads(n_threads),
    )
    _raise_status(status, "y must contain targets in [0, 1] (and no NaN)")
    return _reduced(reduction, loss, total, grad_scale, grad, return_grad)


def softmax_cross_entropy(logits, target, *, sample_weight=None, reduction="mean",
                          return_grad=False, n_threads=None):
    """Softmax cross-entropy over the last axis, fused with its gradient.

    loss_i = -sum_k t_ik log softmax(z_i)_k = logsumexp(z_i) sum_k t_ik - sum_k t_ik z_ik

    Parameters
    ----------
    logits : array_like of shape (..., n_classes)
    target : array_like
        Either integer class labels of shape logits.shape[:-1] with values in [0, n_classes), or
        probabilities in [0, 1] with logits' shape (e.g. label-smoothed one-hot rows).
    sample_weight : array_like broadcastable to logits.shape[:-1], optional
    reduction : {"mean", "sum", "none"}
        "mean" divides by the total sample weight (the number of rows when unweighted); "none"
        returns the weighted per-row losses of shape logits.shape[:-1].
    return_grad : bool
        Also return d(loss)/d(logits), w_i (softmax(z_i) sum_k t_ik - t_i) scaled like the loss.
    n_threads : int, optional

    Returns
    -------
    loss : float or ndarray, or (loss, grad) with return_grad.
    """
    _check_reduction(reduction)
    zarr = _float_array(logits, "logits")
    if zarr.ndim == 0:
        raise ValueError("logits must have at least one dimension (the classes); got a scalar")
    if zarr.size == 0:
        raise ValueError(f"logits must not be empty; got shape {zarr.shape}")
    dtype = zarr.dtype
    row_shape, n_classes = zarr.shape[:-1], zarr.shape[-1]
    n_rows = zarr.size // n_classes
    tarr = np.asarray(target)
    labels = probs = None
    if tarr.shape == zarr.shape and tarr.shape != row_shape:
        if tarr.dtype.kind not in "fiub":
            raise TypeError(f"probability targets must be real numbers; got dtype {tarr.dtype}")
        probs = _kernel_ready(tarr, dtype).reshape(n_rows, n_classes)
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
        labels = _kernel_ready(labels, np.int64).reshape(n_rows)
    else:
        raise ValueError(
            f"target has shape {tarr.shape}; expected labels of shape {row_shape} "
            f"or probabilities of shape {zarr.shape} for logits of shape {zarr.shape}"
        )
    sw, sw_scalar = _weights(sample_weight, row_shape, dtype, "sample_weight")
    if sw is None:
        _scalar_check(sw_scalar, "sample_weight", positive=False)
        if sw_scalar != 1.0:  # the kernel takes per-row weights or none
            sw = np.full(n_rows, sw_scalar, dtype=dtype)
    grad_scale = 1.0
    if reduction == "mean":
        grad_scale = 1.0 / _total_weight(sw, sw_scalar if sw is None else 0.0, n_rows)
    loss = np.empty(row_shape, dtype=dtype) if reduction == "none" else None
    grad = np.empty(zarr.shape, dtype=dtype) if return_grad else None
    total, status = _core.softmax_xent(
        _kernel_ready(zarr).reshape(n_rows, n_classes), labels, probs, sw, grad_scale,
        None if loss is None else loss.reshape(-1),
        None if grad is None else grad.reshape(n_rows, n_classes),
        effective_n_threads(n_threads),
    )
    if status & _core.BAD_LABEL:
        raise ValueError(f"target labels must be integers in [0, {n_classes})")
    _raise_status(status, "probability targets must lie in [0, 1] (and not be NaN)")
    return _reduced(reduction, loss, total, grad_scale, grad, return_grad)
