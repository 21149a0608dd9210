"""Property tests (hypothesis): invariants that must hold for any input, huge magnitudes included."""
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import sce

SETTINGS = settings(max_examples=150, deadline=None)

dtypes = st.sampled_from([np.float64, np.float32])


def float_arrays(dtype, allow_infinity=False, min_size=1, max_size=64):
    width = 64 if dtype is np.float64 else 32
    return hnp.arrays(
        dtype, st.integers(min_size, max_size),
        elements=st.floats(allow_nan=False, allow_infinity=allow_infinity, width=width),
    )


@st.composite
def logits_and_targets(draw, soft=True):
    dtype = draw(dtypes)
    z = draw(float_arrays(dtype))
    width = 64 if dtype is np.float64 else 32
    elem = (st.floats(0, 1, width=width) if soft
            else st.sampled_from([0.0, 1.0]))
    y = draw(hnp.arrays(dtype, z.shape, elements=elem))
    return dtype, z, y


@SETTINGS
@given(logits_and_targets())
def test_bce_loss_nonnegative_finite_grad_bounded(data):
    dtype, z, y = data
    loss, grad = sce.bce_with_logits(z, y, reduction="none", return_grad=True)
    assert loss.dtype == dtype and grad.dtype == dtype
    assert np.all(np.isfinite(loss)), (z[~np.isfinite(loss)], y[~np.isfinite(loss)])
    assert np.all(loss >= 0), (z[loss < 0], y[loss < 0])
    # grad = sigma(z) - y in [-1, 1]; its sign: sigma(z) > y when grad > 0 ...
    assert np.all(np.abs(grad) <= 1)
    assert np.all(grad[y == 0] >= 0) and np.all(grad[y == 1] <= 0)
    # reductions agree with the per-element losses
    s = sce.bce_with_logits(z, y, reduction="sum")
    with np.errstate(over="ignore"):  # losses near 1e308 may sum to inf, in both
        ref = np.sum(loss, dtype=np.float64)
    np.testing.assert_allclose(s, ref, rtol=1e-6 if dtype is np.float32 else 1e-12)


@SETTINGS
@given(logits_and_targets(), st.floats(0, 1))
def test_bce_weighted_grad_bounded_by_weight(data, scale):
    dtype, z, y = data
    w = (np.linspace(0, 1, z.size) * scale).astype(dtype)
    loss, grad = sce.bce_with_logits(z, y, sample_weight=w, reduction="none", return_grad=True)
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0)
    assert np.all(np.abs(grad) <= w)
    m, gm = sce.bce_with_logits(z, y, sample_weight=w + dtype(0.5), return_grad=True)
    assert m >= 0  # (the sum of many ~1e308 losses may legitimately overflow to inf)
    assert np.all(np.abs(gm) <= (w + dtype(0.5)) / np.sum(w + dtype(0.5), dtype=np.float64) * (1 + 1e-6))


@SETTINGS
@given(logits_and_targets(soft=False), st.floats(1e-3, 1e3))
def test_bce_pos_weight_bounds(data, pw):
    dtype, z, y = data
    loss, grad = sce.bce_with_logits(z, y, pos_weight=pw, reduction="none", return_grad=True)
    assert np.all(loss >= 0) and not np.any(np.isnan(loss))
    # grad = (pw y + 1 - y) sigma(z) - pw y: in [0, 1] for y = 0, in [-pw, 0] for y = 1
    g0, g1 = grad[y == 0], grad[y == 1]
    assert np.all((g0 >= 0) & (g0 <= 1))
    assert np.all((g1 <= 0) & (g1 >= -dtype(pw) * (1 + 4 * np.finfo(dtype).eps)))


@SETTINGS
@given(dtypes.flatmap(lambda dt: float_arrays(dt, allow_infinity=True)))
def test_elementwise_ranges(z):
    s = sce.sigmoid(z)
    sp = sce.softplus(z)
    ls = sce.log_sigmoid(z)
    assert s.dtype == sp.dtype == ls.dtype == z.dtype
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(sp >= 0)
    assert np.all(ls <= 0)
    assert not np.any(np.isnan(s) | np.isnan(sp) | np.isnan(ls))
    # softplus(z) >= max(z, 0) and -log_sigmoid(z) >= max(-z, 0)
    assert np.all(sp >= np.maximum(z, 0))
    assert np.all(-ls >= np.maximum(-z, 0))
    # sigma(z) is on the side of 1/2 given by the sign of z (and exactly 1/2 at 0)
    assert np.all(s[z >= 0] >= 0.5) and np.all(s[z <= 0] <= 0.5)


@SETTINGS
@given(dtypes.flatmap(lambda dt: float_arrays(dt)))
def test_softplus_log_sigmoid_relation(z):
    # log_sigmoid(z) = -softplus(-z) (same formula mirrored)
    np.testing.assert_allclose(sce.log_sigmoid(z), -sce.softplus(-z), rtol=4 * np.finfo(z.dtype).eps, atol=0)


@st.composite
def softmax_rows(draw):
    dtype = draw(dtypes)
    width = 64 if dtype is np.float64 else 32
    n = draw(st.integers(1, 8))
    K = draw(st.integers(1, 12))
    z = draw(hnp.arrays(dtype, (n, K), elements=st.floats(-1e6, 1e6, width=width)))
    labels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, K - 1)))
    return dtype, z, labels


@SETTINGS
@given(softmax_rows())
def test_softmax_loss_nonnegative_grad_rows_sum_to_zero(data):
    dtype, z, labels = data
    loss, grad = sce.softmax_cross_entropy(z, labels, reduction="none", return_grad=True)
    assert loss.dtype == dtype and grad.dtype == dtype
    assert np.all(np.isfinite(loss)) and np.all(loss >= 0)
    assert np.all(np.abs(grad) <= 1)
    rows = np.arange(z.shape[0])
    assert np.all(grad[rows, labels] <= 0)
    off = np.ones(z.shape, dtype=bool)
    off[rows, labels] = False
    assert np.all(grad[off] >= 0)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=8 * z.shape[1] * np.finfo(dtype).eps)
    # loss >= (max z - z_y): the loss is at least the logit gap to the winner
    gap = z.max(axis=1).astype(np.float64) - z[rows, labels]
    assert np.all(loss >= gap * (1 - 4 * np.finfo(dtype).eps))
