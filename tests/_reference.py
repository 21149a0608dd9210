"""Higher-precision references and comparison helpers shared by the tests.

References are computed in np.longdouble (x87 80-bit extended on x86-64: 64-bit significand, i.e. 11
more bits than float64), with formulas that are themselves free of cancellation, so that their own
error is far below one float64 ULP.
"""
import numpy as np
import pytest

L = np.longdouble

#: True when np.longdouble carries at least 11 more significand bits than float64.
LONGDOUBLE_IS_EXTENDED = np.finfo(L).nmant >= 63

needs_longdouble = pytest.mark.skipif(
    not LONGDOUBLE_IS_EXTENDED,
    reason="np.longdouble is no wider than float64 on this platform: no higher-precision reference",
)

FLOAT_DTYPES = (np.float64, np.float32)


def ld(x):
    return np.asarray(x).astype(L)


# ---------------------------------------------------------------------------------------------
# elementwise references (input: array of float32/float64; output: longdouble)
# ---------------------------------------------------------------------------------------------

def ref_sigmoid(z):
    z = ld(z)
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(z))
        return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def ref_softplus(z):
    z = ld(z)
    with np.errstate(all="ignore"):
        # max(z, 0) + log1p(e^-|z|); at z = -inf: 0 + log1p(0) = 0.
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def ref_log_sigmoid(z):
    return -ref_softplus(-np.asarray(z))


def ref_bce(z, y, pw=1.0):
    """Per-element BCE-with-logits loss and d loss / dz in long double (stable formulas).

    loss = pw y softplus(-z) + (1 - y) softplus(z)
    grad = (pw y + 1 - y) sigmoid(z) - pw y, written over the common denominator 1 + e,
    e = exp(-|z|):  z >= 0: ((1 - y) - pw y e) / (1 + e);   z < 0: ((1 - y) e - pw y) / (1 + e).
    """
    z, y = np.broadcast_arrays(ld(z), ld(y))
    pw = np.broadcast_to(ld(pw), z.shape)
    a, b = 1 - y, pw * y
    with np.errstate(all="ignore"):
        e = np.exp(-np.abs(z))
        lp = np.log1p(e)
        # coefficient 0 times an infinite |z| is a perfect fit: contributes 0
        lin = np.where(z >= 0, np.where(a == 0, 0, a * np.abs(z)), np.where(b == 0, 0, b * np.abs(z)))
        loss = lin + (a + b) * lp
        grad = np.where(z >= 0, (a - b * e) / (1 + e), (a * e - b) / (1 + e))
    return loss, grad


def ref_softmax_xent(z, target):
    """Per-row softmax cross-entropy and gradient, rows over the last axis, in long double.

    target: integer labels of shape z.shape[:-1] or probabilities of z's shape.
    loss = sum_k t_k (m - z_k) + T log1p(rest), m = max z (first arg-max j), rest = sum_{k != j} e^{z_k - m},
    T = sum t (the logsumexp - sum t z of the definition, without its cancellation);
    grad = T p - t with p_k = e^{z_k - m} / (1 + rest), at j: (T - t_j) - T rest / (1 + rest).
    """
    z = ld(z)
    K = z.shape[-1]
    target = np.asarray(target)
    if target.shape == z.shape:
        t = ld(target)
    else:
        t = np.zeros(z.shape, dtype=L)
        np.put_along_axis(t, target.astype(np.int64)[..., None], L(1), axis=-1)
    j = np.argmax(z, axis=-1)[..., None]
    m = np.take_along_axis(z, j, axis=-1)
    with np.errstate(all="ignore"):
        ex = np.exp(z - m)
        onehot_j = np.arange(K) == j
        ex = np.where(onehot_j, 0, ex)
        rest = ex.sum(axis=-1, keepdims=True)
        T = t.sum(axis=-1, keepdims=True)
        lin = np.where(t == 0, 0, t * (m - z)).sum(axis=-1)
        loss = lin + T[..., 0] * np.log1p(rest[..., 0])
        s = 1 + rest
        grad = T * ex / s - t
        tj = np.take_along_axis(t, j, axis=-1)
        gj = np.where(tj >= T / 2, (T - tj) - T * rest / s, T / s - tj)
        grad = np.where(onehot_j, gj, grad)
    return loss, grad


# ---------------------------------------------------------------------------------------------
# comparisons
# ---------------------------------------------------------------------------------------------

def ulp_error(got, ref, dtype):
    """|got - ref| in units of the spacing of ref rounded to `dtype` (subnormal spacing for
    subnormal results, and for results that round to 0).  Infinite reference -> 0 if got equals it,
    else inf; NaN reference -> 0 if got is NaN, else inf."""
    got = np.asarray(got)
    ref = ld(ref)
    with np.errstate(all="ignore"):
        ref_r = ref.astype(dtype)
        spacing = np.spacing(np.abs(ref_r)).astype(L)
        err = np.abs(got.astype(L) - ref) / spacing
    nonfinite = ~np.isfinite(ref_r)
    same = (got == ref_r) | (np.isnan(got) & np.isnan(ref_r))
    err = np.where(nonfinite, np.where(same, 0, np.inf), err)
    # a finite reference must not give a NaN / inf result
    err = np.where(~nonfinite & ~np.isfinite(got), np.inf, err)
    return err


def assert_close_ref(got, ref, dtype, rtol, n_subnormal=2.0, what=""):
    """got (dtype) against a long-double reference, elementwise:
    - NaN reference: got must be NaN; infinite reference (after rounding to dtype): got must equal it;
    - reference whose rounding to dtype is subnormal or 0:
      |got - ref| <= n_subnormal subnormal spacings + rtol |ref|;
    - otherwise relative error <= rtol."""
    got = np.asarray(got)
    ref = ld(ref)
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}, expected {np.dtype(dtype)}"
    assert got.shape == ref.shape, f"{what}: shape {got.shape}, expected {ref.shape}"
    with np.errstate(over="ignore"):
        ref_r = ref.astype(dtype)
    fi = np.finfo(dtype)
    bad = np.zeros(got.shape, dtype=bool)
    nan_ref = np.isnan(ref_r)
    inf_ref = np.isinf(ref_r)
    bad |= nan_ref & ~np.isnan(got)
    bad |= inf_ref & (got != ref_r)
    finite = ~nan_ref & ~inf_ref
    tiny = finite & (np.abs(ref_r) < fi.tiny)
    normal = finite & ~tiny
    with np.errstate(all="ignore"):
        abs_err = np.abs(got.astype(L) - ref)
        rel_err = abs_err / np.abs(ref)
    # (plus the relative tolerance, which matters for results just below the normal range)
    bad |= tiny & ~(abs_err <= n_subnormal * L(fi.smallest_subnormal) + rtol * np.abs(ref))
    bad |= normal & ~(rel_err <= rtol)
    if bad.any():
        idx = np.flatnonzero(bad.ravel())[:5]
        details = "; ".join(
            f"got {got.ravel()[i]!r} ref {ref.ravel()[i]!r} rel {rel_err.ravel()[i]!r}" for i in idx
        )
        raise AssertionError(f"{what}: {bad.sum()} of {bad.size} elements off ({details})")


def assert_mixed_close(got, ref, dtype, tol, what=""):
    """|got - ref| <= tol * max(|ref|, 1), elementwise (for quantities that may cancel)."""
    got = np.asarray(got)
    ref = ld(ref)
    assert got.dtype == dtype, f"{what}: dtype {got.dtype}"
    err = np.abs(got.astype(L) - ref)
    lim = tol * np.maximum(np.abs(ref), 1)
    bad = ~(err <= lim)
    if bad.any():
        i = np.flatnonzero(bad.ravel())[:5]
        raise AssertionError(f"{what}: {bad.sum()} elements off: got {got.ravel()[i]} ref {ref.ravel()[i]}")


def central_difference(f, x, h):
    """Gradient of the scalar function f at x (float64 array) by central differences."""
    x = np.array(x, dtype=np.float64)
    g = np.empty_like(x)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + h
        fp = f(x)
        flat[i] = old - h
        fm = f(x)
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * h)
    return g
