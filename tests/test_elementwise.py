"""sigmoid / log_sigmoid / softplus: values against long double at extreme and special points, exact
infinities, NaN propagation, dtype rules, shapes, non-contiguous input, out=, no input mutation."""
import numpy as np
import pytest

import sce
from sce._functional import _exp, _log1p

from _reference import (
    assert_close_ref,
    needs_longdouble,
    ref_log_sigmoid,
    ref_sigmoid,
    ref_softplus,
)

FUNCS = [sce.sigmoid, sce.log_sigmoid, sce.softplus]
REFS = {sce.sigmoid: ref_sigmoid, sce.log_sigmoid: ref_log_sigmoid, sce.softplus: ref_softplus}
ALL_MAPS = FUNCS + [_exp, _log1p]

# relative tolerance for normal results: a few ULP (eps64 = 2.2e-16, eps32 = 1.2e-7)
RTOL = {np.float64: 4 * np.finfo(np.float64).eps, np.float32: 4e-7}


def named_points(dtype):
    big = 1e308 if dtype is np.float64 else 3e38
    pts = [big, 745, 710, 89, 37, 1e-300, 104, 88.7, 17, 1, 1e-5]
    pts = pts + [-p for p in pts] + [0.0, -0.0, np.inf, -np.inf, np.nan]
    fi = np.finfo(dtype)
    pts += [fi.max, -fi.max, fi.tiny, -fi.tiny, fi.smallest_subnormal, -fi.smallest_subnormal]
    with np.errstate(over="ignore", under="ignore"):
        return np.array(pts, dtype=np.float64).astype(dtype)


def random_points(dtype, n=200_000, seed=0):
    rng = np.random.default_rng(seed)
    span = 800.0 if dtype is np.float64 else 110.0
    x = np.concatenate([
        rng.normal(0.0, 5.0, n // 4),
        rng.uniform(-span, span, n // 4),
        rng.standard_cauchy(n // 4) * 10,  # heavy tails: huge magnitudes too
        np.sign(rng.normal(size=n // 4)) * 10.0 ** rng.uniform(-40, 3, n // 4),
    ])
    with np.errstate(over="ignore"):
        return x.astype(dtype)


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_named_points_vs_longdouble(f, dtype):
    z = named_points(dtype)
    assert_close_ref(f(z), REFS[f](z), dtype, RTOL[dtype], what=f"{f.__name__} {np.dtype(dtype)}")


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_random_points_vs_longdouble(f, dtype):
    z = random_points(dtype)
    assert_close_ref(f(z), REFS[f](z), dtype, RTOL[dtype], what=f"{f.__name__} {np.dtype(dtype)}")


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_subnormal_results(dtype):
    # sigmoid(z) and softplus(z) for very negative z, log_sigmoid(z) for very positive z are subnormal:
    # absolute error within a couple of subnormal spacings, and not flushed to zero early
    lo = -745.0 if dtype is np.float64 else -103.0
    hi = -709.0 if dtype is np.float64 else -88.0
    z = np.linspace(lo, hi, 20_001).astype(dtype)
    for f, arg in ((sce.sigmoid, z), (sce.softplus, z), (sce.log_sigmoid, -z)):
        got = f(arg)
        assert_close_ref(got, REFS[f](arg), dtype, RTOL[dtype], what=f.__name__)
        assert np.all(got != 0), f"{f.__name__} flushed a subnormal result to 0"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exact_at_infinities_and_nan(dtype):
    z = np.array([np.inf, -np.inf, np.nan], dtype=dtype)
    s, ls, sp = sce.sigmoid(z), sce.log_sigmoid(z), sce.softplus(z)
    assert s[0] == 1 and s[1] == 0
    assert ls[0] == 0 and ls[1] == -np.inf
    assert sp[0] == np.inf and sp[1] == 0
    assert np.isnan(s[2]) and np.isnan(ls[2]) and np.isnan(sp[2])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_saturation_and_symmetry_points(dtype):
    fi = np.finfo(dtype)
    z = np.array([0.0, -0.0, fi.max, -fi.max, 1000.0, -1000.0], dtype=dtype)
    s = sce.sigmoid(z)
    np.testing.assert_array_equal(s, np.array([0.5, 0.5, 1.0, 0.0, 1.0, 0.0], dtype=dtype))
    sp = sce.softplus(z)
    np.testing.assert_array_equal(sp[2:], np.array([fi.max, 0.0, 1000.0, 0.0], dtype=dtype))
    assert sp[0] == sp[1] == dtype(np.log(2.0))
    ls = sce.log_sigmoid(z)
    np.testing.assert_array_equal(ls[2:], np.array([0.0, -fi.max, 0.0, -1000.0], dtype=dtype))
    # tiny positive |z|: sigma(z) = 1/2 + z/4 rounds to 1/2; softplus(-1e-300) = log 2
    assert sce.softplus(dtype(-fi.tiny)) == dtype(np.log(2.0))


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_identities(dtype):
    z = random_points(dtype, n=20_000, seed=3)
    z = z[np.abs(z) < 30]
    eps = np.finfo(dtype).eps
    # sigma(z) + sigma(-z) = 1
    np.testing.assert_allclose(sce.sigmoid(z) + sce.sigmoid(-z), 1.0, rtol=0, atol=4 * eps)
    # log_sigmoid(z) = -softplus(-z), and softplus(z) - softplus(-z) = z
    np.testing.assert_allclose(sce.log_sigmoid(z), -sce.softplus(-z), rtol=2 * eps, atol=0)
    np.testing.assert_allclose(sce.softplus(z) - sce.softplus(-z), z, rtol=8 * eps, atol=8 * eps)
    # exp(log_sigmoid) = sigmoid
    np.testing.assert_allclose(np.exp(sce.log_sigmoid(z).astype(np.float64)), sce.sigmoid(z),
                               rtol=(64 if dtype is np.float64 else 8) * eps)


# ------------------------------------------------------------------------------------------------
# dtype rules and shapes
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_dtype_preserved(f, dtype):
    z = np.linspace(-3, 3, 11).astype(dtype)
    out = f(np.abs(z) if f is _log1p else z)
    assert out.dtype == dtype and out.shape == z.shape


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.bool_, np.float16])
def test_other_real_dtypes_computed_in_float64(f, dtype):
    z = np.array([0, 1, 1, 0, 1], dtype=dtype) if dtype is np.bool_ else np.arange(5).astype(dtype)
    out = f(z)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, f(z.astype(np.float64)))


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_python_inputs(f):
    np.testing.assert_array_equal(f([0.5, -1.0, 2]), f(np.array([0.5, -1.0, 2.0])))
    assert f([[1, 2], [3, 4]]).shape == (2, 2)


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
def test_zero_dim_returns_numpy_scalar(f):
    r = f(0.5)
    assert isinstance(r, np.float64) and np.ndim(r) == 0
    r32 = f(np.float32(0.5))
    assert isinstance(r32, np.float32)
    r0 = f(np.array(0.5))
    assert isinstance(r0, np.float64)
    assert r == r0 == f(np.array([0.5]))[0]
    assert sce.sigmoid(0.5) == pytest.approx(1 / (1 + np.exp(-0.5)), rel=1e-15, abs=0)


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zero_dim_with_out(f, dtype):
    out = np.empty((), dtype=dtype)
    assert f(dtype(0.5), out=out) is out
    assert out.shape == () and out == f(np.array([0.5], dtype=dtype))[0]


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("shape", [(0,), (3, 0), (0, 4, 2)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_arrays(f, shape, dtype):
    out = f(np.empty(shape, dtype=dtype))
    assert out.shape == shape and out.dtype == dtype
    buf = np.empty(shape, dtype=dtype)
    assert f(np.empty(shape, dtype=dtype), out=buf) is buf


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shape_preserved_and_values_elementwise(f, dtype):
    rng = np.random.default_rng(7)
    z = rng.normal(0, 4, (3, 5, 7)).astype(dtype)
    out = f(z)
    assert out.shape == z.shape and out.dtype == dtype
    np.testing.assert_array_equal(out.ravel(), f(z.ravel()))


def _noncontiguous_views(dtype):
    rng = np.random.default_rng(11)
    base = rng.normal(0, 6, (40, 30)).astype(dtype)
    return {
        "step": base.ravel()[::3],
        "negative step": base.ravel()[::-2],
        "transposed": base.T,
        "fortran": np.asfortranarray(base),
        "column": base[:, 5],
        "2d slice": base[3:30:2, 1:29:3],
    }


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_contiguous_input(f, dtype):
    for name, view in _noncontiguous_views(dtype).items():
        arg = np.abs(view) if f is _log1p else view
        contiguous = np.ascontiguousarray(arg)
        got = f(arg)
        assert got.shape == arg.shape and got.dtype == dtype, name
        np.testing.assert_array_equal(got, f(contiguous), err_msg=name)


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
def test_nan_propagates_in_arrays(f):
    rng = np.random.default_rng(2)
    z = rng.normal(size=101)
    if f is _log1p:
        z = np.abs(z)
    z[rng.choice(101, 17, replace=False)] = np.nan
    got = f(z)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(z))


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
def test_complex_rejected(f):
    with pytest.raises(TypeError, match="complex"):
        f(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="complex"):
        f(1j)


# ------------------------------------------------------------------------------------------------
# inputs are not modified; out=
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_not_modified(f, dtype):
    rng = np.random.default_rng(5)
    z = np.abs(rng.normal(0, 10, 1000)).astype(dtype)
    z[::7] = np.inf
    z[::11] = np.nan
    keep = z.copy()
    f(z)
    np.testing.assert_array_equal(z, keep)
    zt = np.asfortranarray(z[:999].reshape(27, 37))
    keep_t = zt.copy()
    f(zt)
    np.testing.assert_array_equal(zt, keep_t)
    out = np.empty_like(z)
    f(z, out=out)
    np.testing.assert_array_equal(z, keep)


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_parameter(f, dtype):
    rng = np.random.default_rng(6)
    z = np.abs(rng.normal(0, 5, (12, 9))).astype(dtype) if f is _log1p else rng.normal(0, 5, (12, 9)).astype(dtype)
    expected = f(z)

    # a fresh out: the same object is returned, filled
    out = np.full_like(z, -123.0)
    assert f(z, out=out) is out
    np.testing.assert_array_equal(out, expected)

    # in place: out=z
    zc = z.copy()
    assert f(zc, out=zc) is zc
    np.testing.assert_array_equal(zc, expected)

    # non-contiguous out: a strided view into a bigger buffer; the gaps stay untouched
    big = np.full((24, 9), 7.0, dtype=dtype)
    view = big[::2]
    assert f(z, out=view) is view
    np.testing.assert_array_equal(big[::2], expected)
    np.testing.assert_array_equal(big[1::2], 7.0)

    # transposed (Fortran-ordered) out
    outT = np.empty((9, 12), dtype=dtype).T
    assert f(z, out=outT) is outT
    np.testing.assert_array_equal(outT, expected)

    # in place on a non-contiguous view
    zz = np.repeat(z, 2, axis=0)
    v = zz[::2]
    assert f(v, out=v) is v
    np.testing.assert_array_equal(zz[::2], expected)
    np.testing.assert_array_equal(zz[1::2], z)

    # partially overlapping out: z[:-1] written into z[1:] must use the original values
    flat = z.ravel().copy()
    res = f(flat[:-1], out=flat[1:])
    np.testing.assert_array_equal(res, f(z.ravel()[:-1]))


@pytest.mark.parametrize("f", ALL_MAPS, ids=lambda f: f.__name__)
def test_out_wrong_shape_dtype_raise(f):
    z = np.linspace(0, 1, 6)
    with pytest.raises(ValueError, match=r"shape.*\(5,\).*\(6,\)|shape.*\(6,\).*\(5,\)"):
        f(z, out=np.empty(5))
    with pytest.raises(ValueError, match="shape"):
        f(z, out=np.empty((6, 1)))
    with pytest.raises(ValueError, match="shape"):
        f(z.reshape(2, 3), out=np.empty((3, 2)))
    with pytest.raises(TypeError, match="dtype"):
        f(z, out=np.empty(6, dtype=np.float32))
    with pytest.raises(TypeError, match="dtype"):
        f(z.astype(np.float32), out=np.empty(6))
    with pytest.raises(TypeError, match="dtype"):
        f(z, out=np.empty(6, dtype=np.int64))
    with pytest.raises(TypeError, match="out"):
        f(z, out=[0.0] * 6)
    ro = np.empty(6)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        f(z, out=ro)
    # integer input computes in float64: out must then be float64
    res = np.empty(3)
    assert f(np.array([0, 1, 2]), out=res) is res


@pytest.mark.parametrize("f", FUNCS, ids=lambda f: f.__name__)
def test_n_threads_argument(f):
    z = np.linspace(-5, 5, 50_001)
    ref = f(z, n_threads=1)
    np.testing.assert_array_equal(f(z, n_threads=2), ref)
    np.testing.assert_array_equal(f(z, n_threads=-1), ref)
    for bad in (0, -2, 1.5, "2", True):
        with pytest.raises(ValueError, match="n_threads"):
            f(z, n_threads=bad)
