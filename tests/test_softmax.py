"""softmax_cross_entropy: loss and gradient against a long-double reference for integer labels and
probability targets, the confident-row case, weights and reductions, finite-difference gradients,
label smoothing (also against PyTorch), leading dimensions, large K, dtype rules and validation."""
import numpy as np
import pytest

import sce

from _reference import (
    L,
    assert_close_ref,
    assert_mixed_close,
    central_difference,
    needs_longdouble,
    ref_softmax_xent,
)

RTOL = {np.float64: 1e-13, np.float32: 2e-6}


def grid_logits(dtype, shape, scale, seed):
    """Logits on a 1/256 grid: differences z_k - max z are exact in float32 and float64, so the only
    errors are the kernel's own (the exp of a rounded difference would otherwise have relative
    condition number |z_k - m|)."""
    rng = np.random.default_rng(seed)
    return (np.round(rng.normal(0.0, scale, shape) * 256) / 256).astype(dtype)


def _ce(z, t, **kw):
    return sce.softmax_cross_entropy(z, t, reduction="none", return_grad=True, **kw)


# ------------------------------------------------------------------------------------------------
# values against long double
# ------------------------------------------------------------------------------------------------

@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("K", [2, 3, 10, 37])
def test_labels_vs_longdouble(dtype, K):
    n = 4000
    z = np.concatenate([grid_logits(dtype, (n // 2, K), 3.0, K), grid_logits(dtype, (n // 2, K), 60.0, K + 1)])
    labels = np.random.default_rng(K).integers(0, K, n)
    # confident rows, both right and wrong, and ties
    z[0] = 0
    z[0, 0] = 40
    labels[0] = 0
    z[1] = z[0]
    labels[1] = K - 1
    z[2] = 1.5
    z[3] = -200
    z[3, K // 2] = 200
    labels[3] = K // 2
    loss, grad = _ce(z, labels)
    ref_loss, ref_grad = ref_softmax_xent(z, labels)
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what="loss")
    assert_close_ref(grad, ref_grad, dtype, RTOL[dtype], what="grad")
    # weighted reductions against the reference
    w = np.random.default_rng(K + 2).uniform(0, 2, n).astype(dtype)
    ref_sum = np.sum(w.astype(L) * ref_loss)
    red_tol = 1e-12 if dtype is np.float64 else 1e-6
    for reduction, expected, scale in (("sum", ref_sum, L(1)),
                                       ("mean", ref_sum / np.sum(w.astype(L)), 1 / np.sum(w.astype(L)))):
        val, g = sce.softmax_cross_entropy(z, labels, sample_weight=w, reduction=reduction, return_grad=True)
        assert abs(L(val) - expected) <= red_tol * expected, reduction
        assert_close_ref(g, w.astype(L)[:, None] * scale * ref_grad, dtype, 4 * RTOL[dtype],
                         what=f"grad {reduction}")
    lw = sce.softmax_cross_entropy(z, labels, sample_weight=w, reduction="none")
    assert_close_ref(lw, w.astype(L) * ref_loss, dtype, 2 * RTOL[dtype], what="weighted loss")


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_labels_arbitrary_logits_vs_longdouble(dtype):
    # arbitrary (off-grid) logits: the rounding of z_k - max z is inherent (condition number of exp),
    # so the tolerance grows with the spread of the row
    rng = np.random.default_rng(1)
    n, K = 5000, 7
    z = (rng.normal(0, 5, (n, K)) * rng.uniform(0.1, 3, (n, 1))).astype(dtype)
    labels = rng.integers(0, K, n)
    loss, grad = _ce(z, labels)
    ref_loss, ref_grad = ref_softmax_xent(z, labels)
    eps = np.finfo(dtype).eps
    d = np.abs(z.astype(L) - z.max(axis=1, keepdims=True))
    spread = d.max(axis=1)
    tiny = np.finfo(dtype).tiny
    ok_l = np.abs(ref_loss) >= tiny
    rel_l = np.abs(loss.astype(L) - ref_loss)[ok_l] / ref_loss[ok_l]
    assert np.all(rel_l <= RTOL[dtype] + 2 * eps * spread[ok_l])
    ok_g = np.abs(ref_grad) >= tiny
    rel_g = (np.abs(grad.astype(L) - ref_grad) / np.where(ok_g, np.abs(ref_grad), 1))[ok_g]
    assert np.all(rel_g <= (RTOL[dtype] + 2 * eps * (d + spread[:, None]))[ok_g])


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probability_targets_vs_longdouble(dtype):
    rng = np.random.default_rng(2)
    n, K = 3000, 5
    z = np.concatenate([grid_logits(dtype, (n // 2, K), 3.0, 2), grid_logits(dtype, (n // 2, K), 40.0, 3)])
    t = rng.dirichlet(np.ones(K), n)
    t[:500] = rng.dirichlet(np.full(K, 0.1), 500)  # peaked
    t[500:1000] = np.eye(K)[rng.integers(0, K, 500)]  # one-hot as probabilities
    t[1000:1100] = 0.0  # no target mass: loss 0, grad 0
    t[1100:1200] = rng.random((100, K))  # not normalized: loss = T lse - t.z
    t = t.astype(dtype)
    loss, grad = _ce(z, t)
    ref_loss, ref_grad = ref_softmax_xent(z, t)
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what="loss")
    assert_mixed_close(grad, ref_grad, dtype, RTOL[dtype], what="grad")
    assert np.all(loss[1000:1100] == 0) and np.all(grad[1000:1100] == 0)
    # one-hot probability rows equal the integer-label results
    lab = np.argmax(t[500:1000], axis=1)
    l2, g2 = _ce(z[500:1000], lab)
    np.testing.assert_allclose(loss[500:1000], l2, rtol=4 * np.finfo(dtype).eps, atol=0)
    np.testing.assert_allclose(grad[500:1000], g2, rtol=4 * np.finfo(dtype).eps,
                               atol=4 * np.finfo(dtype).eps * np.abs(g2).max())


@needs_longdouble
def test_confident_row_keeps_digits():
    # z = [40, 0], y = 0: loss = log1p(e^-40) ~ 4.248e-18 (not 0); grad = [-e^-40/(1+e^-40), +...]
    e40 = 4.248354255291589e-18
    loss, grad = _ce(np.array([[40.0, 0.0]]), np.array([0]))
    assert loss[0] == pytest.approx(e40, rel=1e-13, abs=0)
    assert grad[0, 0] == pytest.approx(-e40, rel=1e-13, abs=0)
    assert grad[0, 1] == pytest.approx(e40, rel=1e-13, abs=0)
    # the same as a probability target, and as the mean over one row
    loss, grad = _ce(np.array([[40.0, 0.0]]), np.array([[1.0, 0.0]]))
    assert loss[0] == pytest.approx(e40, rel=1e-13, abs=0)
    assert grad[0, 0] == pytest.approx(-e40, rel=1e-13, abs=0)
    m, g = sce.softmax_cross_entropy([[40.0, 0.0]], [0], return_grad=True)
    assert m == pytest.approx(e40, rel=1e-13, abs=0)
    # many classes, all far below the winner: loss = log1p(99 e^-40)
    z = np.zeros((1, 100))
    z[0, 17] = 40.0
    loss, grad = _ce(z, np.array([17]))
    ref = np.log1p(99 * np.exp(L(-40)))
    assert abs(L(loss[0]) - ref) <= 1e-13 * ref
    assert abs(L(grad[0, 17]) + 99 * np.exp(L(-40)) / (1 + 99 * np.exp(L(-40)))) <= 1e-13 * ref
    # float32
    l32, g32 = _ce(np.float32([[40.0, 0.0]]), np.array([0]))
    assert l32.dtype == np.float32
    assert l32[0] == pytest.approx(e40, rel=2e-6, abs=0)
    assert g32[0, 0] == pytest.approx(-e40, rel=2e-6, abs=0)


def test_extreme_and_special_logits():
    # masked classes (-inf logits) contribute nothing; a masked true class gives an infinite loss
    z = np.array([[0.0, -np.inf, 1.0], [0.0, -np.inf, 1.0], [-np.inf, 5.0, -np.inf]])
    loss, grad = _ce(z, np.array([0, 1, 1]))
    assert loss[0] == pytest.approx(1.0 + np.log1p(np.exp(-1.0)), rel=1e-14, abs=0)
    assert grad[0, 1] == 0.0
    assert loss[1] == np.inf
    assert loss[2] == 0.0 and np.all(grad[2] == 0)
    # huge but finite logits: no overflow in the exponentials
    z = np.array([[1e300, -1e300], [1e308, 1e308]])
    loss, grad = _ce(z, np.array([0, 1]))
    assert loss[0] == 0.0
    assert loss[1] == pytest.approx(np.log(2.0), rel=1e-15, abs=0)
    np.testing.assert_allclose(grad, [[0.0, 0.0], [0.5, -0.5]], rtol=1e-15)
    # ties: uniform row
    loss, grad = _ce(np.full((1, 4), 3.25), np.array([2]))
    assert loss[0] == pytest.approx(np.log(4.0), rel=1e-15, abs=0)
    np.testing.assert_allclose(grad[0], [0.25, 0.25, -0.75, 0.25], rtol=1e-15)
    # one class: loss 0, grad 0
    loss, grad = _ce(np.array([[3.0], [-7.0]]), np.array([0, 0]))
    assert np.all(loss == 0) and np.all(grad == 0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_propagates_per_row(dtype):
    z = np.zeros((4, 3), dtype=dtype)
    z[1, 0] = np.nan
    z[2, 2] = np.nan
    loss, grad = _ce(z, np.array([0, 0, 1, 2]))
    assert np.isnan(loss[1]) and np.isnan(loss[2])
    assert np.isfinite(loss[[0, 3]]).all() and np.isfinite(grad[[0, 3]]).all()
    assert np.isnan(sce.softmax_cross_entropy(z, np.array([0, 0, 1, 2])))


# ------------------------------------------------------------------------------------------------
# weights, reductions, gradients
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_sample_weight_and_reductions(dtype, kind):
    rng = np.random.default_rng(4)
    n, K = 500, 4
    z = rng.normal(0, 3, (n, K)).astype(dtype)
    t = rng.integers(0, K, n) if kind == "labels" else rng.dirichlet(np.ones(K), n).astype(dtype)
    w = rng.uniform(0, 3, n).astype(dtype)
    w[::7] = 0
    tol = dict(rtol=1e-12 if dtype is np.float64 else 1e-5)
    l0, g0 = _ce(z, t)
    lw, gw = _ce(z, t, sample_weight=w)
    assert lw.dtype == dtype and gw.dtype == dtype and lw.shape == (n,) and gw.shape == (n, K)
    np.testing.assert_allclose(lw, w * l0, **tol)
    np.testing.assert_allclose(gw, w[:, None] * g0, **tol)
    assert np.all(lw[::7] == 0) and np.all(gw[::7] == 0)

    s, gs = sce.softmax_cross_entropy(z, t, sample_weight=w, reduction="sum", return_grad=True)
    assert isinstance(s, float)
    np.testing.assert_allclose(s, np.sum(lw, dtype=np.float64), **tol)
    np.testing.assert_allclose(gs, gw, **tol)
    m, gm = sce.softmax_cross_entropy(z, t, sample_weight=w, return_grad=True)
    total_w = np.sum(w, dtype=np.float64)
    np.testing.assert_allclose(m, s / total_w, **tol)  # mean divides by sum(w)
    np.testing.assert_allclose(gm, gw / total_w, **tol)
    # unweighted mean over rows; scalar weight cancels in the mean, scales the sum
    m0 = sce.softmax_cross_entropy(z, t)
    np.testing.assert_allclose(m0, np.mean(l0, dtype=np.float64), **tol)
    np.testing.assert_allclose(sce.softmax_cross_entropy(z, t, sample_weight=2.0), m0, **tol)
    np.testing.assert_allclose(sce.softmax_cross_entropy(z, t, sample_weight=2.0, reduction="sum"),
                               2 * np.sum(l0, dtype=np.float64), **tol)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kind", ["labels", "probs", "smoothed"])
@pytest.mark.parametrize("weighted", [False, True])
def test_grad_is_derivative_of_returned_loss(reduction, kind, weighted):
    rng = np.random.default_rng(5)
    n, K = 4, 5
    z = rng.normal(0, 2, (n, K))
    labels = rng.integers(0, K, n)
    if kind == "labels":
        t = labels
    elif kind == "probs":
        t = rng.dirichlet(np.ones(K), n) * rng.uniform(0.5, 1, (n, 1))  # not normalized either
    else:
        t = 0.9 * np.eye(K)[labels] + 0.1 / K
    kw = {"sample_weight": rng.uniform(0.2, 3, n)} if weighted else {}
    loss, grad = sce.softmax_cross_entropy(z, t, reduction=reduction, return_grad=True, **kw)
    np.testing.assert_array_equal(sce.softmax_cross_entropy(z, t, reduction=reduction, **kw), loss)
    h = 1e-6
    if reduction == "none":
        fd = np.empty_like(z)
        for i in range(n):  # row i's loss depends on row i only
            fd[i] = central_difference(
                lambda zr, i=i: sce.softmax_cross_entropy(
                    np.vstack([z[:i], zr[None], z[i + 1:]]), t, reduction="none", **kw)[i], z[i], h)
    else:
        fd = central_difference(lambda zz: sce.softmax_cross_entropy(zz, t, reduction=reduction, **kw), z, h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    # each row's gradient sums to zero when the targets sum to one
    if kind != "probs":
        np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("alpha", [0.1, 0.3, 1.0])
def test_label_smoothing(dtype, alpha):
    rng = np.random.default_rng(6)
    n, K = 1000, 6
    z = grid_logits(dtype, (n, K), 4.0, 7)
    labels = rng.integers(0, K, n)
    t = ((1 - alpha) * np.eye(K)[labels] + alpha / K).astype(dtype)
    loss, grad = _ce(z, t)
    ref_loss, ref_grad = ref_softmax_xent(z, t)
    assert_close_ref(loss, ref_loss, dtype, RTOL[dtype], what="loss")
    assert_mixed_close(grad, ref_grad, dtype, RTOL[dtype], what="grad")
    # smoothing adds alpha * (mean_k(-log p_k) - (-log p_y)) to the hard-label loss
    hard, _ = _ce(z, labels)
    logp = np.log(np.exp(z.astype(np.float64)) / np.exp(z.astype(np.float64)).sum(1, keepdims=True))
    expected = (1 - alpha) * hard + alpha * (-logp.mean(axis=1))
    np.testing.assert_allclose(loss, expected, rtol=1e-10 if dtype is np.float64 else 1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.2])
def test_matches_torch_cross_entropy(alpha):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(8)
    n, K = 300, 7
    z = rng.normal(0, 4, (n, K))
    labels = rng.integers(0, K, n)
    zt = torch.from_numpy(z).requires_grad_(True)
    ref = torch.nn.functional.cross_entropy(zt, torch.from_numpy(labels), reduction="none",
                                            label_smoothing=alpha)
    t = (1 - alpha) * np.eye(K)[labels] + alpha / K
    loss = sce.softmax_cross_entropy(z, t if alpha else labels, reduction="none")
    np.testing.assert_allclose(loss, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    ref.sum().backward()
    _, g = sce.softmax_cross_entropy(z, t if alpha else labels, reduction="sum", return_grad=True)
    np.testing.assert_allclose(g, zt.grad.numpy(), rtol=1e-11, atol=1e-14)
    # probability targets
    p = rng.dirichlet(np.ones(K), n)
    ref = torch.nn.functional.cross_entropy(torch.from_numpy(z), torch.from_numpy(p), reduction="none")
    np.testing.assert_allclose(sce.softmax_cross_entropy(z, p, reduction="none"), ref.numpy(),
                               rtol=1e-12, atol=1e-14)


# ------------------------------------------------------------------------------------------------
# shapes
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_leading_dimensions(dtype):
    rng = np.random.default_rng(9)
    K = 5
    z = rng.normal(0, 3, (2, 3, 4, K)).astype(dtype)
    labels = rng.integers(0, K, (2, 3, 4))
    probs = rng.dirichlet(np.ones(K), (2, 3, 4)).astype(dtype)
    w = rng.uniform(0, 2, (2, 3, 4)).astype(dtype)
    for t, t_flat in ((labels, labels.reshape(-1)), (probs, probs.reshape(-1, K))):
        loss, grad = _ce(z, t, sample_weight=w)
        assert loss.shape == (2, 3, 4) and grad.shape == z.shape
        assert loss.dtype == dtype and grad.dtype == dtype
        l2, g2 = _ce(z.reshape(-1, K), t_flat, sample_weight=w.reshape(-1))
        np.testing.assert_array_equal(loss.reshape(-1), l2)
        np.testing.assert_array_equal(grad.reshape(-1, K), g2)
        # sample_weight broadcast from a trailing shape
        w_b = rng.uniform(0, 2, 4).astype(dtype)
        lb = sce.softmax_cross_entropy(z, t, sample_weight=w_b, reduction="none")
        np.testing.assert_allclose(lb, _ce(z, t)[0] * w_b, rtol=1e-12 if dtype is np.float64 else 1e-6)
        mb = sce.softmax_cross_entropy(z, t, sample_weight=w_b)
        np.testing.assert_allclose(mb, np.sum(lb, dtype=np.float64) / (6 * np.sum(w_b, dtype=np.float64)),
                                   rtol=1e-12 if dtype is np.float64 else 1e-6)
    # one row: 1-D logits with a 0-d label
    l1, g1 = _ce(z[0, 0, 0], labels[0, 0, 0])
    assert np.shape(l1) == () and g1.shape == (K,)
    np.testing.assert_array_equal(l1, _ce(z[:1, 0, 0], labels[:1, 0, 0])[0][0])
    assert isinstance(sce.softmax_cross_entropy(z[0, 0, 0], labels[0, 0, 0]), float)


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_large_number_of_classes(dtype):
    n, K = 6, 10_000
    z = grid_logits(dtype, (n, K), 3.0, 11)
    z[0, 123] = 60  # a confident row
    labels = np.array([123, 0, K - 1, 5000, 77, 9998])
    loss, grad = _ce(z, labels)
    ref_loss, ref_grad = ref_softmax_xent(z, labels)
    # sums of 1e4 exponentials: allow for the summation order
    rtol = 1e-12 if dtype is np.float64 else 2e-5
    assert_close_ref(loss, ref_loss, dtype, rtol, what="loss")
    assert_mixed_close(grad, ref_grad, dtype, rtol, what="grad")
    # sum_k p_k - 1 is the rounding of the row's sum of K exponentials: it grows like sqrt(K) eps
    # (the order of that sum differs between builds, e.g. the sanitizer build of CI)
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=2 * np.sqrt(K) * np.finfo(dtype).eps)
    assert np.all(grad[np.arange(n), labels] < 0)
    assert np.all(np.delete(grad, labels + K * np.arange(n)) >= 0)
    # probability targets with K = 1e4 (label smoothing)
    t = (0.9 * np.eye(K, dtype=dtype)[labels] + 0.1 / K).astype(dtype)
    loss, grad = _ce(z, t)
    ref_loss, ref_grad = ref_softmax_xent(z, t)
    assert_close_ref(loss, ref_loss, dtype, rtol, what="smoothed loss")
    assert_mixed_close(grad, ref_grad, dtype, rtol, what="smoothed grad")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_non_contiguous_inputs(dtype):
    rng = np.random.default_rng(12)
    base = rng.normal(0, 3, (9, 40)).astype(dtype)
    labels_base = rng.integers(0, 9, 80)
    probs_base = rng.dirichlet(np.ones(9), 40).T.astype(dtype)
    w = rng.uniform(0, 2, 80)
    views = {
        "transposed": (base.T, labels_base[:40], probs_base.T, w[:40]),
        "fortran": (np.asfortranarray(base.T), labels_base[::2], np.asfortranarray(probs_base.T), w[::2]),
        "stepped rows and cols": (base.T[::3, ::2], labels_base[:14:1] % 5, probs_base.T[::3, ::2], w[:14]),
    }
    for name, (z, lab, p, ww) in views.items():
        lab = lab % z.shape[1]
        for t in (lab, p):
            got = _ce(z, t, sample_weight=ww)
            exp = _ce(np.ascontiguousarray(z), np.ascontiguousarray(t), sample_weight=np.ascontiguousarray(ww))
            for a, b in zip(got, exp):
                np.testing.assert_array_equal(a, b, err_msg=name)


def test_dtypes_and_target_kinds():
    rng = np.random.default_rng(13)
    z = rng.normal(size=(6, 3))
    labels = np.array([0, 1, 2, 2, 1, 0])
    ref_l, ref_g = _ce(z, labels)
    for lab in (labels.astype(np.int32), labels.astype(np.uint8), labels.astype(np.float64),
                labels.astype(np.float32), labels.tolist()):
        loss, g = _ce(z, lab)
        np.testing.assert_array_equal(loss, ref_l)
        np.testing.assert_array_equal(g, ref_g)
    # bool labels (two classes)
    zb = rng.normal(size=(4, 2))
    np.testing.assert_array_equal(_ce(zb, np.array([True, False, True, True]))[0],
                                  _ce(zb, np.array([1, 0, 1, 1]))[0])
    # the target's shape decides: integer one-hot rows of logits' shape are probabilities
    onehot = np.eye(3, dtype=np.int64)[labels]
    loss, g = _ce(z, onehot)
    np.testing.assert_allclose(loss, ref_l, rtol=1e-15)
    np.testing.assert_allclose(g, ref_g, rtol=1e-15, atol=1e-17)
    # square logits: a (3, 3) target is probabilities, a (3,) target labels
    zs = z[:3]
    np.testing.assert_allclose(_ce(zs, np.eye(3))[0], _ce(zs, np.arange(3))[0], rtol=1e-15)
    # float32 logits -> float32 outputs; other real dtypes -> float64
    l32, g32 = _ce(z.astype(np.float32), labels)
    assert l32.dtype == np.float32 and g32.dtype == np.float32
    l32, g32 = _ce(z.astype(np.float32), np.eye(3)[labels])  # float64 probabilities cast to float32
    assert l32.dtype == np.float32 and g32.dtype == np.float32
    for dt in (np.int64, np.int16, np.float16, np.bool_):
        zi = (rng.normal(size=(6, 3)) * 3).astype(dt)
        loss, g = _ce(zi, labels)
        assert loss.dtype == np.float64 and g.dtype == np.float64
        np.testing.assert_array_equal(loss, _ce(zi.astype(np.float64), labels)[0])
    assert isinstance(sce.softmax_cross_entropy(z.astype(np.float32), labels), float)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_inputs_not_modified(reduction):
    rng = np.random.default_rng(14)
    for dtype in (np.float64, np.float32):
        z = rng.normal(0, 3, (30, 4)).astype(dtype)
        labels = rng.integers(0, 4, 30)
        probs = rng.dirichlet(np.ones(4), 30).astype(dtype)
        w = rng.uniform(0, 2, 30).astype(dtype)
        copies = [a.copy() for a in (z, labels, probs, w)]
        for t in (labels, probs):
            sce.softmax_cross_entropy(z, t, sample_weight=w, reduction=reduction, return_grad=True)
            sce.softmax_cross_entropy(np.asfortranarray(z), t, sample_weight=w, reduction=reduction,
                                      return_grad=True)
        for a, c in zip((z, labels, probs, w), copies):
            np.testing.assert_array_equal(a, c)


# ------------------------------------------------------------------------------------------------
# validation
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [3, -1, 10**12, np.iinfo(np.int64).min])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_labels_out_of_range(bad, reduction):
    z = np.zeros((4, 3))
    labels = np.array([0, 1, bad, 2], dtype=np.int64)
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        sce.softmax_cross_entropy(z, labels, reduction=reduction, return_grad=True)
    # in a later chunk of a long threaded call
    z = np.zeros((50_000, 3))
    labels = np.zeros(50_000, dtype=np.int64)
    labels[-1] = bad
    with pytest.raises(ValueError, match=r"labels.*\[0, 3\)"):
        sce.softmax_cross_entropy(z, labels, reduction=reduction, n_threads=2)


def test_labels_out_of_range_other_dtypes():
    z = np.zeros((2, 3))
    for labels in (np.array([0, 3], dtype=np.uint64), np.array([0, 2**64 - 1], dtype=np.uint64),
                   np.array([0.0, 3.0]), np.array([0.0, -1.0]), np.array([0.0, 1e30])):
        with pytest.raises(ValueError, match=r"\[0, 3\)"):
            sce.softmax_cross_entropy(z, labels)


@pytest.mark.parametrize("labels", [[0.5, 1.0], [0.0, np.nan], [np.inf, 0.0]])
def test_non_integer_float_labels(labels):
    with pytest.raises(ValueError, match="integer class labels"):
        sce.softmax_cross_entropy(np.zeros((2, 3)), np.array(labels))


@pytest.mark.parametrize("bad", [1.5, -0.1, np.nan, np.inf])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_probability_targets_outside_unit_interval(bad, dtype):
    t = np.full((3, 2), 0.5)
    t[2, 1] = bad
    with pytest.raises(ValueError, match=r"probability targets.*\[0, 1\]"):
        sce.softmax_cross_entropy(np.zeros((3, 2), dtype=dtype), t)


def test_target_shape_mismatch_names_both_shapes():
    z = np.zeros((3, 2))
    for t in (np.zeros(4, dtype=int), np.zeros((3, 3)), np.zeros((2, 3)), np.zeros((3, 2, 1))):
        with pytest.raises(ValueError, match="shape") as exc:
            sce.softmax_cross_entropy(z, t)
        assert str(t.shape) in str(exc.value) and "(3, 2)" in str(exc.value)


@pytest.mark.parametrize("shape", [(0,), (4, 0)])
def test_logits_without_classes(shape):
    z = np.empty(shape)
    with pytest.raises(ValueError, match="at least one class"):
        sce.softmax_cross_entropy(z, np.zeros(shape[:-1], dtype=int))


def test_scalar_logits():
    with pytest.raises(ValueError, match="dimension"):
        sce.softmax_cross_entropy(1.0, 0)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("bad", [-1.0, np.nan, np.inf])
@pytest.mark.parametrize("form", ["array", "scalar", "all-bad array"])
def test_bad_sample_weight(bad, form, reduction):
    z, labels = np.zeros((3, 2)), np.array([0, 1, 0])
    if form == "array":
        sw = np.array([1.0, bad, 1.0])
    elif form == "all-bad array":
        sw = np.full(3, bad)
    else:
        sw = bad
    with pytest.raises(ValueError, match="sample_weight must be non-negative and finite"):
        sce.softmax_cross_entropy(z, labels, sample_weight=sw, reduction=reduction)


def test_sample_weight_bad_shape():
    with pytest.raises(ValueError, match=r"sample_weight.*\(4,\).*\(3,\)"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], sample_weight=np.ones(4))
    # weights are per row, not per logit
    with pytest.raises(ValueError, match="sample_weight"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], sample_weight=np.ones((3, 2)))


@pytest.mark.parametrize("bad", ["avg", None, "MEAN"])
def test_unknown_reduction(bad):
    with pytest.raises(ValueError, match="reduction must be one of"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], reduction=bad)


def test_zero_total_weight_with_mean():
    with pytest.raises(ValueError, match="total sample weight is zero"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], sample_weight=np.zeros(3))
    with pytest.raises(ValueError, match="total sample weight is zero"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], sample_weight=0.0)
    s, g = sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], sample_weight=np.zeros(3),
                                     reduction="sum", return_grad=True)
    assert s == 0.0 and np.all(g == 0)


def test_complex_rejected():
    with pytest.raises(TypeError, match="complex"):
        sce.softmax_cross_entropy(np.zeros((3, 2), complex), [0, 1, 0])
    with pytest.raises(TypeError, match="complex"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), np.zeros((3, 2), complex))
    with pytest.raises(TypeError, match="complex"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], sample_weight=np.ones(3, complex))


def test_complex_labels_rejected():
    # a complex target of the labels' shape is complex input like any other: TypeError
    with pytest.raises(TypeError, match="complex"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), np.zeros(3, complex))


@pytest.mark.parametrize("bad", [0, -2, 1.5])
def test_bad_n_threads(bad):
    with pytest.raises(ValueError, match="n_threads"):
        sce.softmax_cross_entropy(np.zeros((3, 2)), [0, 1, 0], n_threads=bad)
