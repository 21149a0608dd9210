"""bce_with_logits: loss and gradient against a long-double reference (hard and soft labels,
pos_weight, sample_weight), named cases that need the cancellation-free formulas, reductions,
finite-difference gradients of every reduction, infinities, dtype/shape rules and validation."""
import re

import numpy as np
import pytest

import sce

from _reference import (
    L,
    assert_close_ref,
    assert_mixed_close,
    central_difference,
    ld,
    needs_longdouble,
    ref_bce,
    ref_softplus,
)

RTOL = {np.float64: 1e-13, np.float32: 2e-6}


def logits(dtype, n=50_000, seed=0):
    rng = np.random.default_rng(seed)
    z = np.concatenate([
        rng.normal(0.0, 3.0, n // 2),
        rng.normal(0.0, 30.0, n // 4),
        rng.uniform(-800, 800, n // 8),
        np.sign(rng.normal(size=n // 8)) * 10.0 ** rng.uniform(-30, 3, n // 8),
    ])
    extremes = [0.0, -0.0, 40.0, -40.0, 37.0, -37.0, 89.0, -89.0, 104.0, -104.0, 710.0, -710.0,
                745.0, -745.0, 1e308, -1e308, 1e-300, -1e-300]
    with np.errstate(over="ignore"):
        return np.concatenate([extremes, z]).astype(dtype)


def _bce_none(z, y, **kw):
    return sce.bce_with_logits(z, y, reduction="none", return_grad=True, **kw)


# ------------------------------------------------------------------------------------------------
# values against long double
# ------------------------------------------------------------------------------------------------

@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_hard_labels_vs_longdouble(dtype):
    z = logits(dtype)
    rng = np.random.default_rng(1)
    y = (rng.random(z.size) < 0.5).astype(dtype)
    y[:18] = 1.0
    z2 = np.concatenate([z, z[:18]])  # every extreme point with both labels
    y2 = np.concatenate([y, np.zeros(18, dtype=dtype)])
    loss, grad = _bce_none(z2, y2)
    ref_loss, ref_grad = ref_bce(z2, y2)
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what="loss")
    assert_close_ref(grad, ref_grad, dtype, RTOL[dtype], what="grad")
    # weighted reductions against the reference (finite part: drop the infinite-loss extremes)
    fin = np.isfinite(ref_loss.astype(np.float64))
    zf, yf = z2[fin], y2[fin]
    w = rng.uniform(0, 2, zf.size).astype(dtype)
    ref_sum = np.sum(ld(w) * ref_loss[fin])
    red_tol = 1e-12 if dtype is np.float64 else 1e-6
    for reduction, expected, scale in (("sum", ref_sum, L(1)), ("mean", ref_sum / np.sum(ld(w)), 1 / np.sum(ld(w)))):
        val, g = sce.bce_with_logits(zf, yf, sample_weight=w, reduction=reduction, return_grad=True)
        assert abs(L(val) - expected) <= red_tol * expected, reduction
        assert_close_ref(g, ld(w) * scale * ref_grad[fin], dtype, 4 * RTOL[dtype], what=f"grad {reduction}")


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_soft_labels_vs_longdouble(dtype):
    z = logits(dtype, seed=2)
    rng = np.random.default_rng(3)
    y = rng.random(z.size).astype(dtype)
    y[::5] = rng.choice(np.array([0.0, 1.0, 0.5, 0.25, 1 - 2.0 ** -20, 2.0 ** -20]), y[::5].size)
    loss, grad = _bce_none(z, y)
    ref_loss, ref_grad = ref_bce(z, y)
    # the loss is a sum of non-negative terms: relative accuracy everywhere
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what="loss")
    # sigma(z) - y may cancel: mixed absolute/relative tolerance
    assert_mixed_close(grad, ref_grad, dtype, RTOL[dtype], what="grad")
    # away from cancellation (|grad| not much smaller than the terms) it is relatively accurate
    far = np.abs(ref_grad.astype(np.float64)) > 0.1
    assert_close_ref(grad[far], ref_grad[far], dtype, 10 * RTOL[dtype], what="grad far from cancellation")


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("pos_weight_kind", ["scalar", "per-element", "per-column"])
def test_pos_weight_vs_longdouble(dtype, pos_weight_kind):
    rng = np.random.default_rng(4)
    n, k = 4000, 5
    z = rng.normal(0, 8, (n, k)).astype(dtype)
    z[0] = [40, -40, 0, 745, -745]
    y = (rng.random((n, k)) < 0.3).astype(dtype)
    y[1::3] = rng.random((len(y[1::3]), k)).astype(dtype)
    if pos_weight_kind == "scalar":
        pw = 3.5
    elif pos_weight_kind == "per-element":
        pw = rng.uniform(0.1, 10, (n, k)).astype(dtype)
    else:
        pw = np.array([0.5, 1.0, 2.0, 7.0, 1e-3], dtype=dtype)
    loss, grad = _bce_none(z, y, pos_weight=pw)
    ref_loss, ref_grad = ref_bce(z, y, np.asarray(pw, dtype=dtype))
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what="loss")
    assert_mixed_close(grad, ref_grad, dtype, RTOL[dtype], what="grad")
    hard = (y == 0) | (y == 1)
    assert_close_ref(grad[hard], ref_grad[hard], dtype, RTOL[dtype], what="grad hard labels")
    # the definition: loss = pw y softplus(-z) + (1 - y) softplus(z),
    # grad = (pw y + 1 - y) sigmoid(z) - pw y
    zl, yl, pwl = (np.asarray(a, dtype=dtype).astype(L) for a in (z, y, pw))
    with np.errstate(all="ignore"):
        def_loss = pwl * yl * ref_softplus(-z) + (1 - yl) * ref_softplus(z)
        def_grad = (pwl * yl + 1 - yl) / (1 + np.exp(-zl)) - pwl * yl
    assert_close_ref(loss, def_loss, dtype, RTOL[dtype], what="loss (definition)")
    assert_mixed_close(grad, def_grad, dtype, RTOL[dtype], what="grad (definition)")


@needs_longdouble
@pytest.mark.parametrize("dtype, pw", [(np.float64, 1e-8), (np.float64, 1e-3), (np.float32, 1e-3),
                                       (np.float32, 0.25)])
def test_small_pos_weight_keeps_digits(dtype, pw):
    # y = 1, pw << 1: loss = pw softplus(-z) is small but has no cancellation in exact arithmetic;
    # its relative accuracy must not degrade like eps / pw
    z = np.array([1.0, 5.0, -3.0, 0.0], dtype=dtype)
    y = np.ones(4, dtype=dtype)
    pw = dtype(pw)
    loss, grad = _bce_none(z, y, pos_weight=pw)
    ref_loss, ref_grad = ref_bce(z, y, pw)
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what=f"loss, pos_weight={pw}")
    assert_close_ref(grad, ref_grad, dtype, RTOL[dtype], what=f"grad, pos_weight={pw}")


def test_confident_hard_label_keeps_digits():
    # z = 40, y = 1: loss = log1p(e^-40), grad = -e^-40 / (1 + e^-40): both ~4.2e-18, not 0
    loss, grad = sce.bce_with_logits(np.array([40.0]), np.array([1.0]), reduction="none", return_grad=True)
    assert grad[0] == pytest.approx(-4.248354255291589e-18, rel=1e-13, abs=0)
    assert loss[0] == pytest.approx(4.248354255291589e-18, rel=1e-13, abs=0)
    # and its mirror image z = -40, y = 0
    loss, grad = sce.bce_with_logits(np.array([-40.0]), np.array([0.0]), reduction="none", return_grad=True)
    assert grad[0] == pytest.approx(4.248354255291589e-18, rel=1e-13, abs=0)
    assert loss[0] == pytest.approx(4.248354255291589e-18, rel=1e-13, abs=0)
    # the reductions keep the digits too
    m, g = sce.bce_with_logits([40.0, 40.0], [1.0, 1.0], return_grad=True)
    assert m == pytest.approx(4.248354255291589e-18, rel=1e-13, abs=0)
    np.testing.assert_allclose(g, -4.248354255291589e-18 / 2, rtol=1e-13)
    # float32: e^-40 is a normal float32
    l32, g32 = sce.bce_with_logits(np.float32([40.0]), np.float32([1.0]), reduction="none", return_grad=True)
    assert g32[0] == pytest.approx(-4.248354255291589e-18, rel=2e-6, abs=0)
    assert l32[0] == pytest.approx(4.248354255291589e-18, rel=2e-6, abs=0)


@needs_longdouble
def test_label_just_below_one_keeps_digits():
    # y = 1 - 2^-52 at z = 40: loss = 2^-52 * 40 + log1p(e^-40) ~ 8.886e-15; the naive
    # max(z, 0) - z y + log1p(e^-|z|) loses about half of these digits
    y = 1 - 2.0 ** -52
    loss, grad = sce.bce_with_logits(np.array([40.0]), np.array([y]), reduction="none", return_grad=True)
    yl = L(1) - L(2) ** -52
    ref = (1 - yl) * 40 + np.log1p(np.exp(L(-40)))
    assert abs(L(loss[0]) - ref) <= 1e-13 * ref
    ref_g = ((1 - yl) - yl * np.exp(L(-40))) / (1 + np.exp(L(-40)))
    assert abs(L(grad[0]) - ref_g) <= 1e-13 * abs(ref_g)
    # same at z = -40 with y = 2^-52
    loss, grad = sce.bce_with_logits(np.array([-40.0]), np.array([2.0 ** -52]), reduction="none",
                                     return_grad=True)
    ref_l, ref_g = ref_bce(np.array([-40.0]), np.array([2.0 ** -52]))
    assert abs(L(loss[0]) - ref_l[0]) <= 1e-13 * ref_l[0]
    assert abs(L(grad[0]) - ref_g[0]) <= 1e-13 * abs(ref_g[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_infinite_logits(dtype):
    z = np.array([np.inf, -np.inf, np.inf, -np.inf, np.inf, -np.inf], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.25], dtype=dtype)
    loss, grad = _bce_none(z, y)
    # perfect fits: loss 0, grad 0; wrong-sided: infinite loss, grad +-1; soft: inf loss, sigma - y
    np.testing.assert_array_equal(loss, np.array([0, 0, np.inf, np.inf, np.inf, np.inf], dtype=dtype))
    np.testing.assert_array_equal(grad, np.array([0, 0, 1, -1, 0.5, -0.25], dtype=dtype))
    # with pos_weight: z = +inf, y = 1 still a perfect fit; z = -inf, y = 1 -> grad -pw
    loss, grad = _bce_none(z[:4], y[:4], pos_weight=3.0)
    np.testing.assert_array_equal(loss, np.array([0, 0, np.inf, np.inf], dtype=dtype))
    np.testing.assert_array_equal(grad, np.array([0, 0, 1, -3], dtype=dtype))
    # reductions of perfect fits at infinity are 0 (no inf * 0 = NaN)
    m, g = sce.bce_with_logits(z[:2], y[:2], return_grad=True)
    assert m == 0.0
    np.testing.assert_array_equal(g, 0.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_logit_propagates(dtype):
    z = np.array([0.5, np.nan, -2.0], dtype=dtype)
    y = np.array([1.0, 0.0, 0.0], dtype=dtype)
    loss, grad = _bce_none(z, y)
    assert np.isnan(loss[1]) and np.isnan(grad[1])
    assert np.isfinite(loss[[0, 2]]).all() and np.isfinite(grad[[0, 2]]).all()
    y1 = np.array([1.0, 1.0, 0.0], dtype=dtype)
    loss, grad = _bce_none(z, y1)
    assert np.isnan(loss[1]) and np.isnan(grad[1])
    assert np.isnan(sce.bce_with_logits(z, y, reduction="sum"))
    assert np.isnan(sce.bce_with_logits(z, y))


# ------------------------------------------------------------------------------------------------
# weights and reductions
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sample_weight_and_reductions(dtype):
    rng = np.random.default_rng(5)
    z = rng.normal(0, 4, 1001).astype(dtype)
    y = rng.random(1001).astype(dtype)
    w = rng.uniform(0, 3, 1001).astype(dtype)
    w[::10] = 0
    tol = dict(rtol=1e-12 if dtype is np.float64 else 1e-5)
    l0, g0 = _bce_none(z, y)
    lw, gw = _bce_none(z, y, sample_weight=w)
    assert lw.dtype == dtype and gw.dtype == dtype
    np.testing.assert_allclose(lw, w * l0, **tol)
    np.testing.assert_allclose(gw, w * g0, **tol)
    assert np.all(lw[::10] == 0) and np.all(gw[::10] == 0)

    s, gs = sce.bce_with_logits(z, y, sample_weight=w, reduction="sum", return_grad=True)
    assert isinstance(s, float)
    np.testing.assert_allclose(s, np.sum(lw, dtype=np.float64), **tol)
    np.testing.assert_allclose(gs, gw, **tol)

    m, gm = sce.bce_with_logits(z, y, sample_weight=w, reduction="mean", return_grad=True)
    assert isinstance(m, float)
    total_w = np.sum(w, dtype=np.float64)
    np.testing.assert_allclose(m, s / total_w, **tol)  # divides by sum(w), not by n
    np.testing.assert_allclose(gm, gw / total_w, **tol)
    assert gm.dtype == dtype

    # unweighted mean divides by the element count; default reduction is "mean"
    m0 = sce.bce_with_logits(z, y)
    np.testing.assert_allclose(m0, np.mean(l0, dtype=np.float64), **tol)
    # a scalar sample_weight scales "sum" and "none", and cancels in "mean"
    np.testing.assert_allclose(sce.bce_with_logits(z, y, sample_weight=2.5, reduction="sum"),
                               2.5 * np.sum(l0, dtype=np.float64), **tol)
    np.testing.assert_allclose(sce.bce_with_logits(z, y, sample_weight=2.5), m0, **tol)
    _, gm_scalar = sce.bce_with_logits(z, y, sample_weight=2.5, return_grad=True)
    np.testing.assert_allclose(gm_scalar, g0 / z.size, **tol)
    # all-ones weights are the unweighted case
    np.testing.assert_allclose(sce.bce_with_logits(z, y, sample_weight=np.ones(1001)), m0, **tol)


def test_broadcast_weights_2d():
    rng = np.random.default_rng(6)
    n, k = 50, 4
    z = rng.normal(0, 3, (n, k))
    y = (rng.random((n, k)) < 0.5).astype(float)
    sw = rng.uniform(0.5, 2, (n, 1))  # one weight per row
    pw = np.array([1.0, 2.0, 0.5, 4.0])  # one pos_weight per column (PyTorch style)
    loss, grad = sce.bce_with_logits(z, y, sample_weight=sw, pos_weight=pw, reduction="none", return_grad=True)
    ref_l, ref_g = ref_bce(z, y, pw)
    np.testing.assert_allclose(loss, (sw * ref_l).astype(float), rtol=1e-13)
    np.testing.assert_allclose(grad, (sw * ref_g).astype(float), rtol=1e-13, atol=1e-300)
    m = sce.bce_with_logits(z, y, sample_weight=sw, pos_weight=pw)
    # mean divides by the sum of the broadcast weights (k per row)
    np.testing.assert_allclose(m, float(np.sum(sw * ref_l) / (k * sw.sum())), rtol=1e-13)


def test_matches_torch_bce_with_logits():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    n, k = 200, 3
    z = rng.normal(0, 5, (n, k))
    y = rng.random((n, k))
    y[::2] = np.round(y[::2])
    w = rng.uniform(0, 2, (n, k))
    pw = np.array([0.5, 1.0, 3.0])
    zt, yt, wt, pwt = (torch.from_numpy(a) for a in (z, y, w, pw))
    for reduction in ("none", "sum"):
        ref = torch.nn.functional.binary_cross_entropy_with_logits(
            zt, yt, weight=wt, pos_weight=pwt, reduction=reduction).numpy()
        got = sce.bce_with_logits(z, y, sample_weight=w, pos_weight=pw, reduction=reduction)
        # semantics check: torch's (1 - y) z + ... form loses ~1e-15 absolute on small losses
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-13)
    # gradient of the sum via autograd
    zt.requires_grad_(True)
    torch.nn.functional.binary_cross_entropy_with_logits(
        zt, yt, weight=wt, pos_weight=pwt, reduction="sum").backward()
    _, g = sce.bce_with_logits(z, y, sample_weight=w, pos_weight=pw, reduction="sum", return_grad=True)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-11, atol=1e-14)
    # torch's unweighted mean = sce's unweighted mean
    ref = torch.nn.functional.binary_cross_entropy_with_logits(
        torch.from_numpy(z), yt, pos_weight=pwt).item()
    assert sce.bce_with_logits(z, y, pos_weight=pw) == pytest.approx(ref, rel=1e-12, abs=0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weights", ["none", "sample_weight", "pos_weight", "both", "scalars"])
def test_grad_is_derivative_of_returned_loss(reduction, weights):
    rng = np.random.default_rng(8)
    shape = (3, 4)
    z = rng.normal(0, 2, shape)
    y = rng.random(shape)
    y[0] = [0, 1, 0, 1]
    kw = {}
    if weights in ("sample_weight", "both"):
        kw["sample_weight"] = rng.uniform(0.2, 3, shape)
    if weights in ("pos_weight", "both"):
        kw["pos_weight"] = rng.uniform(0.3, 4, shape[-1:])
    if weights == "scalars":
        kw = {"sample_weight": 1.7, "pos_weight": 2.5}
    loss, grad = sce.bce_with_logits(z, y, reduction=reduction, return_grad=True, **kw)
    assert grad.shape == z.shape and grad.dtype == np.float64
    # the value returned with return_grad is the same as without
    np.testing.assert_array_equal(sce.bce_with_logits(z, y, reduction=reduction, **kw), loss)
    h = 1e-6
    if reduction == "none":
        # elementwise: loss_i depends on z_i only
        fd = (sce.bce_with_logits(z + h, y, reduction="none", **kw)
              - sce.bce_with_logits(z - h, y, reduction="none", **kw)) / (2 * h)
    else:
        fd = central_difference(lambda zz: sce.bce_with_logits(zz, y, reduction=reduction, **kw), z, h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------------------------------------------
# dtypes, shapes, mutation
# ------------------------------------------------------------------------------------------------

def test_dtypes():
    z32 = np.float32([0.5, -1.0, 3.0])
    y = [1.0, 0.0, 1.0]
    loss, g = sce.bce_with_logits(z32, y, reduction="none", return_grad=True)
    assert loss.dtype == np.float32 and g.dtype == np.float32
    # y given in float64 is cast to z's precision
    l2 = sce.bce_with_logits(z32, np.float32(y), reduction="none")
    np.testing.assert_array_equal(loss, l2)
    loss, g = sce.bce_with_logits(z32.astype(np.float64), y, reduction="none", return_grad=True)
    assert loss.dtype == np.float64 and g.dtype == np.float64
    for dt in (np.int64, np.int8, np.bool_, np.float16):
        zi = np.array([1, 0, 1], dtype=dt)
        loss, g = sce.bce_with_logits(zi, [1, 0, 0], reduction="none", return_grad=True)
        assert loss.dtype == np.float64 and g.dtype == np.float64
        np.testing.assert_array_equal(loss, sce.bce_with_logits(zi.astype(np.float64), [1.0, 0.0, 0.0],
                                                             reduction="none"))
    m = sce.bce_with_logits(z32, y)
    assert isinstance(m, float)
    # integer and boolean labels
    np.testing.assert_array_equal(sce.bce_with_logits([0.3, -2.0], np.array([True, False]), reduction="none"),
                                  sce.bce_with_logits([0.3, -2.0], [1.0, 0.0], reduction="none"))


def test_shapes_and_scalars():
    rng = np.random.default_rng(9)
    z = rng.normal(size=(2, 3, 4))
    y = (rng.random((2, 3, 4)) < 0.5).astype(float)
    loss, g = sce.bce_with_logits(z, y, reduction="none", return_grad=True)
    assert loss.shape == z.shape and g.shape == z.shape
    l_flat, g_flat = sce.bce_with_logits(z.ravel(), y.ravel(), reduction="none", return_grad=True)
    np.testing.assert_array_equal(loss.ravel(), l_flat)
    np.testing.assert_array_equal(g.ravel(), g_flat)
    # 0-d
    l0, g0 = sce.bce_with_logits(0.3, 1.0, reduction="none", return_grad=True)
    assert np.shape(l0) == () and np.shape(g0) == ()
    assert float(l0) == pytest.approx(np.log1p(np.exp(-0.3)), rel=1e-14, abs=0)
    assert sce.bce_with_logits(0.3, 1.0) == pytest.approx(np.log1p(np.exp(-0.3)), rel=1e-14, abs=0)
    # empty
    loss, g = sce.bce_with_logits(np.empty((0, 3)), np.empty((0, 3)), reduction="none", return_grad=True)
    assert loss.shape == (0, 3) and g.shape == (0, 3)
    s, g = sce.bce_with_logits(np.empty(0), np.empty(0), reduction="sum", return_grad=True)
    assert s == 0.0 and g.shape == (0,)
    with pytest.raises(ValueError, match="total sample weight is zero"):
        sce.bce_with_logits(np.empty(0), np.empty(0), reduction="mean")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_contiguous_inputs(dtype):
    rng = np.random.default_rng(10)
    base = rng.normal(0, 3, (30, 40)).astype(dtype)
    ybase = rng.random((30, 40)).astype(dtype)
    wbase = rng.uniform(0, 2, (30, 40)).astype(dtype)
    views = {
        "step": lambda a: a.ravel()[::3],
        "transposed": lambda a: a.T,
        "fortran": np.asfortranarray,
        "2d slice": lambda a: a[1:29:2, ::-3],
    }
    for name, v in views.items():
        z, y, w = v(base), v(ybase), v(wbase)
        got = sce.bce_with_logits(z, y, sample_weight=w, pos_weight=v(wbase + 0.5),
                                  reduction="none", return_grad=True)
        exp = sce.bce_with_logits(*(np.ascontiguousarray(a) for a in (z, y)),
                                  sample_weight=np.ascontiguousarray(w),
                                  pos_weight=np.ascontiguousarray(v(wbase + 0.5)),
                                  reduction="none", return_grad=True)
        for a, b in zip(got, exp):
            assert a.shape == z.shape
            np.testing.assert_array_equal(a, b, err_msg=name)
        s1 = sce.bce_with_logits(z, y, sample_weight=w, reduction="sum")
        s2 = sce.bce_with_logits(np.ascontiguousarray(z), np.ascontiguousarray(y),
                                 sample_weight=np.ascontiguousarray(w), reduction="sum")
        assert s1 == s2, name


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_inputs_not_modified(reduction):
    rng = np.random.default_rng(11)
    for dtype in (np.float64, np.float32):
        z = rng.normal(0, 3, (20, 3)).astype(dtype)
        y = rng.random((20, 3)).astype(dtype)
        sw = rng.uniform(0, 2, (20, 3)).astype(dtype)
        pw = rng.uniform(0.5, 2, 3).astype(dtype)
        copies = [a.copy() for a in (z, y, sw, pw)]
        sce.bce_with_logits(z, y, sample_weight=sw, pos_weight=pw, reduction=reduction, return_grad=True)
        sce.bce_with_logits(z.T, y.T, sample_weight=sw.T, reduction=reduction, return_grad=True)
        for a, c in zip((z, y, sw, pw), copies):
            np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------

def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match="shape") as exc:
        sce.bce_with_logits(np.zeros(3), np.zeros(4))
    assert "(3,)" in str(exc.value) and "(4,)" in str(exc.value)
    with pytest.raises(ValueError, match="shape") as exc:
        sce.bce_with_logits(np.zeros((2, 3)), np.zeros((3, 2)))
    assert "(2, 3)" in str(exc.value) and "(3, 2)" in str(exc.value)
    # y is not broadcast
    with pytest.raises(ValueError, match="shape"):
        sce.bce_with_logits(np.zeros((2, 3)), np.zeros(3))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan, np.inf, -np.inf, 1 + 1e-12])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_target_outside_unit_interval(bad, reduction, dtype):
    if dtype is np.float32 and bad == 1 + 1e-12:
        # y is cast to z's precision first, where 1 + 1e-12 is exactly 1: a valid target
        loss = sce.bce_with_logits(np.zeros(1, dtype=dtype), np.array([bad]), reduction=reduction)
        assert np.all(np.isfinite(loss))
        return
    y = np.array([0.0, 1.0, 0.5, bad])
    with pytest.raises(ValueError, match=r"y .*\[0, 1\]"):
        sce.bce_with_logits(np.zeros(4, dtype=dtype), y, reduction=reduction, return_grad=True)
    # also when the bad target sits in a later chunk of a long (threaded) array
    y = np.zeros(100_000)
    y[-1] = bad
    with pytest.raises(ValueError, match=r"y .*\[0, 1\]"):
        sce.bce_with_logits(np.zeros(100_000, dtype=dtype), y, reduction=reduction, n_threads=2)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("bad", [-1.0, -1e-300, np.nan, np.inf])
@pytest.mark.parametrize("form", ["array", "scalar", "all-bad array"])
def test_bad_sample_weight(bad, form, reduction):
    z, y = np.zeros(3), np.zeros(3)
    if form == "array":
        sw = np.array([1.0, bad, 1.0])
    elif form == "all-bad array":
        sw = np.full(3, bad)
    else:
        sw = bad
    with pytest.raises(ValueError, match="sample_weight must be non-negative and finite"):
        sce.bce_with_logits(z, y, sample_weight=sw, reduction=reduction)


def test_sample_weight_bad_shape():
    with pytest.raises(ValueError, match=r"sample_weight.*\(4,\).*\(3,\)"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), sample_weight=np.ones(4))
    with pytest.raises(ValueError, match="pos_weight"):
        sce.bce_with_logits(np.zeros((2, 3)), np.zeros((2, 3)), pos_weight=np.ones(2))


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("form", ["array", "scalar"])
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_bad_pos_weight(bad, form, reduction):
    pw = np.array([1.0, bad, 1.0]) if form == "array" else bad
    with pytest.raises(ValueError, match="pos_weight must be positive"):
        sce.bce_with_logits(np.zeros(3), np.array([0.0, 1.0, 1.0]), pos_weight=pw, reduction=reduction)


@pytest.mark.parametrize("bad", ["avg", "Mean", None, "", 1])
def test_unknown_reduction(bad):
    with pytest.raises(ValueError, match="reduction must be one of"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), reduction=bad)


def test_zero_total_weight_with_mean():
    with pytest.raises(ValueError, match=re.escape("reduction='mean'") + ".*total sample weight is zero"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), sample_weight=np.zeros(3))
    with pytest.raises(ValueError, match="total sample weight is zero"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), sample_weight=0.0)
    # "sum" and "none" are fine with zero weights
    s, g = sce.bce_with_logits(np.zeros(3), np.zeros(3), sample_weight=np.zeros(3), reduction="sum",
                               return_grad=True)
    assert s == 0.0 and np.all(g == 0)


def test_complex_and_non_numeric_rejected():
    with pytest.raises(TypeError, match="complex"):
        sce.bce_with_logits(np.zeros(3, complex), np.zeros(3))
    with pytest.raises(TypeError, match="complex"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3, complex))
    with pytest.raises(TypeError, match="complex"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), sample_weight=np.ones(3, complex))
    with pytest.raises(TypeError, match="complex"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), pos_weight=1j)
    with pytest.raises(TypeError, match="numeric"):
        sce.bce_with_logits(np.array(["a", "b"]), np.zeros(2))


@pytest.mark.parametrize("bad", [0, -2, 1.5, True])
def test_bad_n_threads(bad):
    with pytest.raises(ValueError, match="n_threads"):
        sce.bce_with_logits(np.zeros(3), np.zeros(3), n_threads=bad)


@pytest.mark.parametrize("loss", ["bce", "softmax"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_grad_out_receives_the_gradient(loss, dtype):
    """grad_out is written like numpy's out: the same gradient as a new array, returned as that very
    array; a buffer that is one of the inputs, or strided, still gets the right values; misuse raises."""
    rng = np.random.default_rng(0)
    z = rng.standard_normal((64, 5)).astype(dtype)
    if loss == "bce":
        t = (rng.random((64, 5)) < 0.5).astype(dtype)
        func = sce.bce_with_logits
    else:
        t = rng.integers(0, 5, 64)
        func = sce.softmax_cross_entropy
    f_ref, g_ref = func(z, t, return_grad=True)
    out = np.full_like(z, np.nan)
    f, g = func(z, t, return_grad=True, grad_out=out)
    assert g is out and f == f_ref
    np.testing.assert_array_equal(out, g_ref)
    wide = np.full((64, 10), np.nan, dtype=dtype)
    _, g = func(z, t, return_grad=True, grad_out=wide[:, ::2])  # strided: written through a copy
    np.testing.assert_array_equal(g, g_ref)
    z_in_place = z.copy()
    _, g = func(z_in_place, t, return_grad=True, grad_out=z_in_place)  # the logits overwritten
    assert g is z_in_place
    np.testing.assert_array_equal(g, g_ref)
    with pytest.raises(ValueError, match="only used with return_grad=True"):
        func(z, t, grad_out=out)
    with pytest.raises(ValueError, match="grad_out has shape"):
        func(z, t, return_grad=True, grad_out=out[:10])
    with pytest.raises(TypeError, match="grad_out has dtype"):
        func(z, t, return_grad=True, grad_out=out.astype(np.float16))
    with pytest.raises(TypeError, match="grad_out must be a numpy array"):
        func(z, t, return_grad=True, grad_out=[0.0])
