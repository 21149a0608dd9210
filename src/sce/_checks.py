"""Checks and conversions of the functional API (sce/_functional.py): its inputs as the arrays the
kernels read (float32 / float64, C-contiguous and aligned), weights broadcast and checked, the
kernels' status flags turned into exceptions, and the reduction asked for."""
import numpy as np

from . import _core

REDUCTIONS = ("mean", "sum", "none")


def float_array(x, name, dtype=None):
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


def kernel_ready(arr, dtype=None):
    """arr as a C-contiguous array aligned to its element size, as the kernels read it: a copy only
    when it is not (a view that starts off its element size, e.g. a field of a packed structured
    array or an array unpickled from a message's buffer as Dask's workers receive them, would make
    the vectorized loops load misaligned elements)."""
    if (type(arr) is np.ndarray and arr.flags.c_contiguous and arr.flags.aligned
            and (dtype is None or arr.dtype == dtype)):
        return arr  # as np.require returns it, without its cost
    return np.require(arr, dtype=dtype, requirements=["C", "A"])


def flat(arr):
    """A 1-D view of kernel_ready(arr)."""
    return kernel_ready(arr).reshape(-1)


def check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}")


def weights(w, shape, dtype, name):
    """Per-element weights broadcast to `shape`: (None, scalar) or (flat array, 0)."""
    if w is None:
        return None, 1.0
    arr = float_array(w, name, dtype)
    if arr.ndim == 0:
        return None, float(arr)
    try:
        arr = np.broadcast_to(arr, shape)
    except ValueError:
        raise ValueError(
            f"{name} of shape {arr.shape} cannot be broadcast to the shape of the logits {shape}"
        ) from None
    return flat(arr), 0.0


def scalar_check(value, name, positive):
    ok = np.isfinite(value) and (value > 0 if positive else value >= 0)
    if not ok:
        raise ValueError(f"{name} must be {'positive' if positive else 'non-negative'} and finite; got {value}")


def raise_status(status, target_msg):
    if status & _core.BAD_TARGET:
        raise ValueError(target_msg)
    if status & _core.BAD_SAMPLE_WEIGHT:
        raise ValueError("sample_weight must be non-negative and finite")
    if status & _core.BAD_POS_WEIGHT:
        raise ValueError("pos_weight must be positive and finite")


def check_weights(sw_flat, name="sample_weight"):
    """Per-element weights must be finite and non-negative (checked before any reduction)."""
    if sw_flat is not None and not (np.all(np.isfinite(sw_flat)) and np.all(sw_flat >= 0)):
        raise ValueError(f"{name} must be non-negative and finite")


def total_weight(sw_flat, sw_scalar, n):
    check_weights(sw_flat)
    with np.errstate(over="ignore"):  # a sum of huge weights may reach inf: the mean is then 0
        total = float(np.sum(sw_flat, dtype=np.float64)) if sw_flat is not None else sw_scalar * n
    if not total > 0:
        raise ValueError(
            "reduction='mean' is undefined when the total sample weight is zero "
            f"(here {n} elements); use reduction='sum'"
        )
    return total


def reduced(reduction, loss, total, grad_scale, grad, return_grad):
    """The value returned for a reduction (per-element array, sum, or weighted mean), with grad."""
    if reduction == "none":
        result = loss
    elif reduction == "sum":
        result = float(total)
    else:
        result = float(total) * grad_scale
    return (result, grad) if return_grad else result
