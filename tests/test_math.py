"""sce's own vectorized exp and log1p (csrc/sce_math.h) against a long-double reference, in ULP.

ULP error = |got - ref| / spacing(ref rounded to the target dtype); for subnormal results (and results
that round to 0) the spacing is the subnormal spacing.  Bounds asserted: exp <= 2 ULP, log1p <= 4 ULP,
float32 and float64, over >= 1e6 points spanning the whole range, plus exact special values.
"""
import numpy as np
import pytest

from sce._functional import _exp, _log1p

from _reference import L, ld, needs_longdouble, ulp_error

EXP_MAX_ULP = 2.0
LOG1P_MAX_ULP = 4.0

# (dtype, lowest and highest argument of interest, overflow threshold ln(max), underflow-to-zero
# threshold ln(smallest_subnormal / 2), start of the subnormal result range ln(tiny))
EXP_RANGES = {
    np.float64: (-746.0, 709.78, 709.782712893384, -745.1332191019412, -708.3964185322641),
    np.float32: (-104.0, 88.72, 88.72283935546875, -103.97207708, -87.33654475),
}


def _around(x0, dtype, n=64):
    """n consecutive floats of `dtype` on each side of x0."""
    x0 = dtype(x0)
    out = [x0]
    lo = hi = x0
    with np.errstate(over="ignore"):
        for _ in range(n):
            lo = np.nextafter(lo, dtype(-np.inf))
            hi = np.nextafter(hi, dtype(np.inf))
            out += [lo, hi]
    return np.array(out, dtype=dtype)


def exp_points(dtype):
    rng = np.random.default_rng(20240601)
    lo, hi, over, under, sub = EXP_RANGES[dtype]
    tiny = 1e-320 if dtype is np.float64 else 1e-45
    pts = [
        np.linspace(lo, hi, 1_000_001),
        rng.uniform(lo, hi, 200_000),
        # results in the subnormal range (and just below it), densely
        np.linspace(under - 0.5, sub + 1.0, 200_000),
        # arguments near 0 (results near 1), both signs, down to subnormal arguments
        np.logspace(np.log10(tiny), 0, 20_000),
        -np.logspace(np.log10(tiny), 0, 20_000),
        # around the overflow and underflow thresholds, and the clamps of the implementation
        _around(over, dtype),
        _around(under, dtype),
        _around(sub, dtype),
        _around(710.0 if dtype is np.float64 else 89.0, dtype),
        _around(-746.0 if dtype is np.float64 else -104.0, dtype),
        # integers (exact multiples of ln 2 bands change there) and half-integers
        np.arange(np.ceil(lo), np.floor(hi) + 1),
        np.arange(np.ceil(lo), np.floor(hi)) + 0.5,
    ]
    x = np.concatenate([np.asarray(p, dtype=dtype) for p in pts])
    return np.concatenate([x[np.isfinite(x)], special_points(dtype)])


def special_points(dtype):
    fi = np.finfo(dtype)
    sub = fi.smallest_subnormal
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, -2.0, 1.0, sub, -sub, 2 * sub, -3 * sub,
                     fi.tiny, -fi.tiny, fi.max, -fi.max], dtype=dtype)


def log1p_points(dtype):
    rng = np.random.default_rng(20240602)
    fi = np.finfo(dtype)
    eps = float(fi.eps)
    tiny_exp10 = np.log10(float(fi.smallest_subnormal))
    max_exp10 = np.log10(float(fi.max))
    pts = [
        # clustered near -1: -1 + d for d from eps/2 to 1
        -1.0 + np.logspace(np.log10(eps / 2), 0, 200_000),
        # near 0, both signs, down to subnormal x
        np.logspace(tiny_exp10, 0, 200_000),
        -np.logspace(tiny_exp10, 0, 200_000),
        # the whole interval and beyond 1
        rng.uniform(-1.0, 1.0, 200_000),
        np.linspace(-1.0, 10.0, 100_001),
        rng.uniform(1.0, 1000.0, 50_000),
        # huge, up to 1e300 (float64) / the largest float32, then the largest finite values
        np.logspace(0, 300.0 if dtype is np.float64 else max_exp10 - 1e-7, 100_000),
        np.logspace(300.0 if dtype is np.float64 else 37, max_exp10 - 1e-12, 5_000),
        # where 1 + x stops being exact (x ~ 2^p) and sits at the reduction's sqrt2 boundaries
        _around(2.0 ** (fi.nmant + 1), dtype),
        _around(np.sqrt(2.0) - 1.0, dtype),
        _around(np.sqrt(0.5) - 1.0, dtype),
        _around(-0.5, dtype),
        _around(1.0, dtype),
        _around(float(fi.max), dtype)[:65],
    ]
    x = np.concatenate([np.asarray(p, dtype=dtype) for p in pts])
    # special points appended: -1 -> -inf, x < -1 -> NaN, inf -> inf, NaN -> NaN (exact, via ulp_error)
    extra = np.array([-1.0, -1.5, -1e30, -np.inf], dtype=dtype)
    return np.concatenate([x[np.isfinite(x) & (x > -1)], special_points(dtype), extra])


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_max_ulp_full_range(dtype):
    x = exp_points(dtype)
    assert x.size >= 1_000_000
    lo, hi, over, under, sub = EXP_RANGES[dtype]
    with np.errstate(all="ignore"):
        ref = np.exp(ld(x))
    got = _exp(x)
    assert got.dtype == dtype and got.shape == x.shape
    err = ulp_error(got, ref, dtype)
    i = int(np.argmax(err))
    assert err[i] <= EXP_MAX_ULP, f"exp({x[i]!r}) = {got[i]!r}, reference {ref[i]!r}: {err[i]} ULP"
    # the range was really covered: overflow, subnormal results and results that round to 0
    assert np.any(np.isinf(got)) and np.any(got == 0) and np.any(np.isnan(got))
    assert np.count_nonzero((got > 0) & (got < np.finfo(dtype).tiny)) > 10_000


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_max_ulp_full_range(dtype):
    x = log1p_points(dtype)
    assert x.size >= 1_000_000
    with np.errstate(all="ignore"):
        ref = np.log1p(ld(x))
    got = _log1p(x)
    assert got.dtype == dtype and got.shape == x.shape
    err = ulp_error(got, ref, dtype)
    i = int(np.argmax(err))
    assert err[i] <= LOG1P_MAX_ULP, f"log1p({x[i]!r}) = {got[i]!r}, reference {ref[i]!r}: {err[i]} ULP"


@needs_longdouble
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_subnormal_results_are_correctly_scaled(dtype):
    # e^x for x in the subnormal result range: every result within 2 subnormal spacings
    lo, hi, over, under, sub = EXP_RANGES[dtype]
    x = np.linspace(under, sub, 50_001).astype(dtype)
    ref = np.exp(ld(x))
    got = _exp(x)
    err = np.abs(got.astype(L) - ref) / L(np.finfo(dtype).smallest_subnormal)
    assert err.max() <= EXP_MAX_ULP


def _specials(dtype):
    fi = np.finfo(dtype)
    return fi, dtype(fi.smallest_subnormal)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_exp_special_values(dtype):
    fi, sub = _specials(dtype)
    big = dtype(710.0) if dtype is np.float64 else dtype(89.0)
    small = dtype(-746.0) if dtype is np.float64 else dtype(-104.0)
    cases = {
        dtype(0.0): 1.0,
        dtype(-0.0): 1.0,
        dtype(np.inf): np.inf,
        dtype(-np.inf): 0.0,
        big: np.inf,
        dtype(1000.0): np.inf,
        fi.max: np.inf,
        small: 0.0,
        dtype(-1000.0): 0.0,
        -fi.max: 0.0,
        sub: 1.0,
        -sub: 1.0,
        fi.tiny: 1.0,
    }
    x = np.array(list(cases), dtype=dtype)
    got = _exp(x)
    np.testing.assert_array_equal(got, np.array(list(cases.values()), dtype=dtype))
    assert np.isnan(_exp(np.array([np.nan], dtype=dtype)))[0]
    # the thresholds: largest finite result / smallest non-zero result are produced, not inf / 0
    lo, hi, over, under, sub_start = EXP_RANGES[dtype]
    below_over = dtype(np.nextafter(dtype(over), dtype(0)))
    assert np.isfinite(_exp(np.array([below_over])))[0]
    assert _exp(np.array([np.nextafter(dtype(under), dtype(0))]))[0] > 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_special_values(dtype):
    fi, sub = _specials(dtype)
    x = np.array([0.0, np.inf, -1.0, sub, -sub, fi.tiny, -fi.tiny], dtype=dtype)
    expected = np.array([0.0, np.inf, -np.inf, sub, -sub, fi.tiny, -fi.tiny], dtype=dtype)
    np.testing.assert_array_equal(_log1p(x), expected)
    for bad in (-2.0, -1.0 - 1e-3, -np.inf, -fi.max, np.nextafter(dtype(-1), dtype(-2)), np.nan):
        assert np.isnan(_log1p(np.array([bad], dtype=dtype)))[0], f"log1p({bad}) should be NaN"
    # finite huge input gives a finite result
    assert np.isfinite(_log1p(np.array([fi.max], dtype=dtype)))[0]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_log1p_keeps_sign_of_zero(dtype):
    # C99 Annex F / IEEE 754: log1p(+-0) = +-0 (numpy: np.log1p(-0.0) is -0.0)
    got = _log1p(np.array([0.0, -0.0], dtype=dtype))
    np.testing.assert_array_equal(np.signbit(got), [False, True])


@pytest.mark.parametrize("f", [_exp, _log1p])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nan_propagates_everywhere_in_a_vector(f, dtype):
    # NaN in every lane position of a vector (and in the scalar tail) stays NaN, neighbours unaffected
    x = np.full(67, 0.25, dtype=dtype)
    x[::3] = np.nan
    got = f(x)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(x))
    np.testing.assert_array_equal(got[~np.isnan(x)], f(np.array([0.25], dtype=dtype))[0])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_ulp_helper_measures_ulps(dtype):
    # the yardstick itself: k steps of nextafter away from a representable reference is k ULP,
    # one subnormal spacing off a subnormal or zero reference is 1 ULP, inf vs finite is infinite
    x = np.array([1.5, 3.0e-3, 7.0], dtype=dtype)
    y = x.copy()
    for _ in range(3):
        y = np.nextafter(y, dtype(np.inf))
    np.testing.assert_allclose(ulp_error(y, ld(x), dtype).astype(float), 3.0)
    sub = np.finfo(dtype).smallest_subnormal
    np.testing.assert_allclose(ulp_error(np.array([sub, 2 * sub], dtype=dtype),
                                         ld(np.array([0.0, sub], dtype=dtype)), dtype).astype(float), 1.0)
    assert np.isinf(ulp_error(np.array([np.inf], dtype=dtype), ld([1.0]), dtype)[0])
    assert ulp_error(np.array([np.inf], dtype=dtype), ld([np.inf]), dtype)[0] == 0
    assert np.isinf(ulp_error(np.array([np.nan], dtype=dtype), ld([1.0]), dtype)[0])
