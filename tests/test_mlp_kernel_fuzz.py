"""hypothesis over the MLP kernels of the bridge, called directly: _core.bias_layer (hidden layer
sigma(Z + b) and output layer Z + b), _core.sigmoid_backprop (D *= A (1 - A) and the column sums
db, or the sums alone), _core.adam_step and _core.sgd_step (with and without Nesterov's momentum),
float32 and float64, against references in float64 numpy.

Shapes: 0 and 1 rows or columns, widths around the SIMD sizes (7, 8, 9, 15, 16, 17, 31, 32, 33),
the 256-element strips of the sigmoid layer, the 1024 column sums kept on the stack, and passes
large enough for the kernels to split over 2 threads.  Every array sits in a buffer with guard
bytes on both sides, which must come back untouched (a write past either end of a remainder loop
fails here even without the sanitizer build), and starts on a vector boundary, one element past
one, or one byte past one (not aligned to the element: the bridge accepts such arrays, see
test_unaligned_arrays_are_accepted).  Strided arrays, mixed dtypes and read-only outputs are
rejected with an exception before any kernel runs.
"""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from sce import _core

# The sanitizer build (UndefinedBehaviorSanitizer, .ci/run) aborts on a misaligned load, which
# the bridge lets through to the C kernels for arrays not aligned to their element size.
SANITIZED = "libasan" in os.environ.get("LD_PRELOAD", "")
STARTS = ["vector", "element"] if SANITIZED else ["vector", "element", "byte"]
SIMD_WIDTHS = [7, 8, 9, 15, 16, 17, 31, 32, 33]
GUARD = 64  # bytes of sentinel before and after every array
SENTINEL = 0xA5

dtypes = st.sampled_from([np.float64, np.float32])
starts = st.sampled_from(STARTS)
threads = st.sampled_from([1, 2])
widths = st.one_of(st.sampled_from([0, 1, 2, *SIMD_WIDTHS, 255, 256, 257]), st.integers(0, 40))
rows = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 5, *SIMD_WIDTHS]), st.integers(0, 70))
# shapes of 2**13 elements and more: several chunks of the bias pass, and past the 1e5 elements at
# which the backward pass uses 2 threads; widths past the 1024 sums kept on the stack
large_shapes = st.sampled_from([(257, 33), (1025, 8), (4099, 31), (3001, 40), (5, 1023), (7, 1024),
                                (3, 1025), (130, 1031)])
scales = st.sampled_from([1.0, 30.0, 1e4])
lengths = st.one_of(st.sampled_from([0, 1, 2, 3, 4, 5, *SIMD_WIDTHS, 63, 64, 65, 1023, 1024, 1025]),
                    st.integers(0, 300))


def _placed(values, start):
    """A writeable copy of ``values`` whose first element lies on a 64-byte boundary ("vector"),
    one element past one ("element") or one byte past one ("byte"), inside a buffer of GUARD
    sentinel bytes on each side; returns (array, buffer)."""
    values = np.ascontiguousarray(values)
    shift = {"vector": 0, "element": values.itemsize, "byte": 1}[start]
    buf = np.full(values.nbytes + 2 * GUARD + 64, SENTINEL, dtype=np.uint8)
    offset = GUARD + (shift - (buf.ctypes.data + GUARD)) % 64
    arr = np.ndarray(values.shape, dtype=values.dtype, buffer=buf, offset=offset)
    arr[...] = values
    assert arr.flags.c_contiguous and (arr.flags.aligned == (start != "byte") or not arr.size)
    return arr, buf


def _guards_intact(arr, buf):
    offset = arr.ctypes.data - buf.ctypes.data
    return (np.all(buf[:offset] == SENTINEL) and np.all(buf[offset + arr.nbytes:] == SENTINEL))


def _values(rng, shape, dtype, scale, specials=False):
    """Normal values times ``scale``; with ``specials`` some are replaced by +-inf, NaN and zeros."""
    x = rng.standard_normal(shape) * scale
    if specials and x.size:
        where = rng.random(shape) < 0.1
        x[where] = rng.choice([np.inf, -np.inf, np.nan, 0.0, -0.0], size=int(where.sum()))
    return x.astype(dtype)


def _tiny(dtype):
    return np.finfo(dtype).tiny


# ---- bias_layer ------------------------------------------------------------------------------------

@st.composite
def layers(draw):
    dtype = np.dtype(draw(dtypes))
    n, h = draw(st.one_of(st.tuples(rows, widths), large_shapes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale, specials = draw(scales), draw(st.booleans())
    return (dtype, _values(rng, (n, h), dtype, scale, specials), _values(rng, h, dtype, scale),
            draw(starts), draw(starts))


@settings(max_examples=150, deadline=None)
@given(layers(), st.booleans(), threads)
def test_bias_layer(layer, hidden, n_threads):
    dtype, Z0, b0, z_start, b_start = layer
    Z, zbuf = _placed(Z0, z_start)
    b, bbuf = _placed(b0, b_start)
    _core.bias_layer(Z, b, hidden, n_threads)
    t = Z0 + b0  # the kernel's sum: one rounding in the layer's dtype, as numpy's
    if hidden:
        ref = scipy.special.expit(t.astype(np.float64))
        tol = dict(rtol=1e-13, atol=1e-300) if dtype == np.float64 else dict(rtol=2e-6, atol=1e-37)
        np.testing.assert_allclose(Z.astype(np.float64), ref, **tol)
        assert np.all((Z >= 0) & (Z <= 1) | np.isnan(t))
    else:
        np.testing.assert_array_equal(Z, t)
    np.testing.assert_array_equal(b, b0)
    assert _guards_intact(Z, zbuf) and _guards_intact(b, bbuf)
    # elementwise: the same values on any number of threads
    Z1 = Z0.copy()
    _core.bias_layer(Z1, b0, hidden, 3 - n_threads)
    np.testing.assert_array_equal(Z1, Z)


# ---- sigmoid_backprop ------------------------------------------------------------------------------

@st.composite
def deltas(draw):
    dtype = np.dtype(draw(dtypes))
    n, h = draw(st.one_of(st.tuples(rows, widths), large_shapes))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    specials = draw(st.booleans())
    D = _values(rng, (n, h), dtype, draw(scales), specials)
    # activations: sigmoid outputs in [0, 1] (the exact ends included), or any values
    A = (rng.random((n, h)) if draw(st.booleans()) else rng.standard_normal((n, h)) * 30).astype(dtype)
    if n and h:
        A.flat[rng.integers(0, A.size, 2)] = [0.0, 1.0]
    return dtype, D, A, draw(starts), draw(starts), draw(starts)


def _check_column_sums(db, D, dtype):
    """db = the column sums of D, taken in double and rounded to dtype: within n ulps of double
    precision of sum |D| plus one rounding to dtype (exactly where a sum is not finite)."""
    D64 = D.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # inf - inf, and sums past float32's range
        ref = D64.sum(axis=0)
        bound = (len(D) + 1) * np.finfo(np.float64).eps * np.abs(D64).sum(axis=0)
        ref_d = ref.astype(dtype)
        err = np.abs(db.astype(np.float64) - ref)
    finite = np.isfinite(ref_d) & np.isfinite(bound)
    ok = err <= bound + np.finfo(dtype).eps * np.abs(ref) + _tiny(dtype)
    assert np.all(ok[finite]), (np.flatnonzero(~ok & finite)[:5], err[~ok & finite][:5])
    # inf - inf in some order is NaN in every order; a lone inf stays
    np.testing.assert_array_equal(db[~finite & ~np.isnan(ref)], ref_d[~finite & ~np.isnan(ref)])
    assert np.all(np.isnan(db[np.isnan(ref)]))


@settings(max_examples=150, deadline=None)
@given(deltas(), st.booleans(), threads)
def test_sigmoid_backprop(delta, with_activations, n_threads):
    dtype, D0, A0, d_start, a_start, db_start = delta
    n, h = D0.shape
    D, dbuf = _placed(D0, d_start)
    A, abuf = _placed(A0, a_start)
    db, dbbuf = _placed(np.full(h, np.nan, dtype), db_start)  # every sum must be written
    _core.sigmoid_backprop(D, A if with_activations else None, db, n_threads)
    if with_activations:
        with np.errstate(invalid="ignore"):  # inf * 0
            ref = D0 * (A0 * (1 - A0))  # the kernel's products, in its dtype
        eps, tiny = np.finfo(dtype).eps, _tiny(dtype)
        np.testing.assert_allclose(D, ref, rtol=2 * eps, atol=tiny)
    else:
        np.testing.assert_array_equal(D, D0)
    _check_column_sums(db, D, dtype)
    np.testing.assert_array_equal(A, A0)
    assert _guards_intact(D, dbuf) and _guards_intact(A, abuf) and _guards_intact(db, dbbuf)
    # D is elementwise, the same on any number of threads; db depends on the thread count only in
    # its summation order
    D1, db1 = D0.copy(), np.empty(h, dtype)
    _core.sigmoid_backprop(D1, A0 if with_activations else None, db1, 3 - n_threads)
    np.testing.assert_array_equal(D1, D)
    _check_column_sums(db1, D, dtype)


# ---- adam_step / sgd_step ---------------------------------------------------------------------------

@st.composite
def steps(draw):
    dtype = np.dtype(draw(dtypes))
    n = draw(lengths)
    # the penalized weights first: none, all, or a split point anywhere (around the SIMD widths too)
    n_penalized = draw(st.one_of(st.sampled_from([0, n]), st.integers(0, n),
                                 st.sampled_from([k for k in SIMD_WIDTHS if k <= n] or [0])))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(scales)
    p = _values(rng, n, dtype, scale)
    g = _values(rng, n, dtype, draw(scales))
    state = _values(rng, n, dtype, scale)  # Adam's m, SGD's velocity u
    v = (np.abs(_values(rng, n, dtype, scale)) * draw(st.sampled_from([1.0, scale, 0.0])))
    l2 = draw(st.sampled_from([0.0, 1e-4, 0.5, 3.0]))
    return dtype, p, g, state, v.astype(dtype), n_penalized, l2, [draw(starts) for _ in range(4)]


def _hyper(dtype, *values):
    """The step's scalars as the kernel uses them: rounded to the parameters' dtype."""
    return [float(dtype.type(x)) for x in values]


def _check_sum_of_squares(sq, p0, n_penalized, dtype):
    ref = np.sum(p0[:n_penalized].astype(np.float64) ** 2)
    # each square rounded in dtype, then summed in double
    assert abs(sq - ref) <= (2 * np.finfo(dtype).eps + n_penalized * 2.0**-52) * ref, (sq, ref)


def _within(got, ref, bound, what):
    err = np.abs(got.astype(np.float64) - ref)
    ok = err <= bound
    assert np.all(ok), f"{what}: indices {np.flatnonzero(~ok)[:5]}, errors {err[~ok][:5]}, bounds {bound[~ok][:5]}"


@settings(max_examples=200, deadline=None)
@given(steps(), st.sampled_from([1e-3, 0.1]), st.sampled_from([0.0, 0.9]), st.sampled_from([0.999, 0.5]),
       st.sampled_from([1e-8, 1e-3]))
def test_adam_step(step, lr, b1, b2, eps):
    dtype, p0, g0, m0, v0, n_pen, l2, layout = step
    (p, pb), (g, gb), (m, mb), (v, vb) = (_placed(x, s) for x, s in zip((p0, g0, m0, v0), layout))
    sq = _core.adam_step(p, g, m, v, n_pen, l2, lr, b1, b2, eps)
    l2, lr, b1, b2, eps = _hyper(dtype, l2, lr, b1, b2, eps)
    P, G, M, V = (x.astype(np.float64) for x in (p0, g0, m0, v0))
    lam = np.where(np.arange(len(P)) < n_pen, l2, 0.0)  # the L2 term on the weights only
    gk = G + lam * P
    m_ref = b1 * M + (1 - b1) * gk
    v_ref = b2 * V + (1 - b2) * gk * gk
    den = np.sqrt(v_ref) + eps
    p_ref = P - lr * m_ref / den
    # error bounds: a few roundings of dtype per operation, taken on the magnitudes of the terms
    # (cancellation in g + l2 p or in the first moment leaves its absolute error, not a relative one)
    u = 8 * np.finfo(dtype).eps
    g_mag = np.abs(G) + np.abs(lam * P)
    m_mag = b1 * np.abs(M) + (1 - b1) * g_mag
    v_err = u * (b2 * V + (1 - b2) * (g_mag + np.abs(gk)) * g_mag) + _tiny(dtype)
    den_err = np.minimum(v_err / (np.sqrt(v_ref) + _tiny(dtype)), np.sqrt(v_err)) + u * den
    step_ref = lr * m_ref / den
    step_err = lr * u * m_mag / den + np.abs(step_ref) * (u + den_err / den)
    _within(m, m_ref, u * m_mag + _tiny(dtype), "m")
    _within(v, v_ref, v_err, "v")
    _within(p, p_ref, u * (np.abs(P) + np.abs(step_ref)) + step_err + _tiny(dtype), "p")
    assert np.all(v >= 0)
    _check_sum_of_squares(sq, p0, n_pen, dtype)
    np.testing.assert_array_equal(g, g0)
    assert all(_guards_intact(x, b) for x, b in ((p, pb), (g, gb), (m, mb), (v, vb)))


@settings(max_examples=200, deadline=None)
@given(steps(), st.sampled_from([1e-3, 0.1, 1.0]), st.sampled_from([0.0, 0.5, 0.9, 1.0]), st.booleans())
def test_sgd_step(step, lr, momentum, nesterov):
    dtype, p0, g0, u0, _, n_pen, l2, layout = step
    (p, pb), (g, gb), (u, ub) = (_placed(x, s) for x, s in zip((p0, g0, u0), layout))
    sq = _core.sgd_step(p, g, u, n_pen, l2, lr, momentum, nesterov)
    l2, lr, mu = _hyper(dtype, l2, lr, momentum)
    P, G, U = (x.astype(np.float64) for x in (p0, g0, u0))
    lam = np.where(np.arange(len(P)) < n_pen, l2, 0.0)
    step_ref = -lr * (G + lam * P)
    u_ref = mu * U + step_ref
    p_ref = P + (mu * u_ref + step_ref if nesterov else u_ref)
    e = 8 * np.finfo(dtype).eps
    step_mag = lr * (np.abs(G) + np.abs(lam * P))
    u_mag = mu * np.abs(U) + step_mag
    p_mag = np.abs(P) + (mu * u_mag + step_mag if nesterov else u_mag)
    _within(u, u_ref, e * u_mag + _tiny(dtype), "u")
    _within(p, p_ref, e * p_mag + _tiny(dtype), "p")
    _check_sum_of_squares(sq, p0, n_pen, dtype)
    np.testing.assert_array_equal(g, g0)
    assert all(_guards_intact(x, b) for x, b in ((p, pb), (g, gb), (u, ub)))


# ---- what the bridge accepts -------------------------------------------------------------------------

@pytest.mark.skipif(SANITIZED, reason="a misaligned load aborts the UndefinedBehaviorSanitizer build")
def test_unaligned_arrays_are_accepted():
    # The bridge does not check alignment: arrays that start off their element size reach the C
    # kernels (the fuzz tests above check their results).  numpy's own allocations, all the
    # estimator passes, are aligned.
    Z, _ = _placed(np.zeros((3, 9)), "byte")
    b, _ = _placed(np.zeros(9), "byte")
    _core.bias_layer(Z, b, True, 1)
    np.testing.assert_array_equal(Z, 0.5)


def _bad_calls(dtype):
    """(name, thunk, arrays the call must leave as they were): calls the bridge must refuse."""
    other = np.float32 if dtype == np.float64 else np.float64
    Z, b, A, db = np.ones((4, 9), dtype), np.ones(9, dtype), np.full((4, 9), 0.5, dtype), np.ones(9, dtype)
    p, g, m, v = (np.ones(17, dtype) for _ in range(4))
    strided = np.ones((4, 18), dtype)[:, ::2]
    wide = np.ones((4, 12), dtype)[:, :9]  # rows of a wider matrix: not contiguous
    read_only = np.ones((4, 9), dtype)
    read_only.flags.writeable = False
    ro_vec = np.ones(17, dtype)
    ro_vec.flags.writeable = False
    adam = (0.0, 1e-3, 0.9, 0.999, 1e-8)
    sgd = (0.0, 1e-3, 0.9, True)
    return [
        ("bias strided Z", lambda: _core.bias_layer(strided, b, True, 1), [strided]),
        ("bias column block Z", lambda: _core.bias_layer(wide, b, False, 1), [wide]),
        ("bias strided b", lambda: _core.bias_layer(Z, np.ones(18, dtype)[::2], True, 1), [Z]),
        ("bias mixed dtypes", lambda: _core.bias_layer(Z, b.astype(other), True, 1), [Z]),
        ("bias integer", lambda: _core.bias_layer(Z.astype(np.int64), b.astype(np.int64), True, 1), []),
        ("bias read-only Z", lambda: _core.bias_layer(read_only, b, True, 1), [read_only]),
        ("bias 1-D Z", lambda: _core.bias_layer(b, b, True, 1), [b]),
        ("backprop strided D", lambda: _core.sigmoid_backprop(strided, None, db, 1), [strided, db]),
        ("backprop strided A", lambda: _core.sigmoid_backprop(Z, strided, db, 1), [Z, db]),
        ("backprop strided db", lambda: _core.sigmoid_backprop(Z, A, np.ones(18, dtype)[::2], 1), [Z]),
        ("backprop mixed dtypes", lambda: _core.sigmoid_backprop(Z, A.astype(other), db, 1), [Z, db]),
        ("backprop read-only D", lambda: _core.sigmoid_backprop(read_only, A, db, 1), [read_only, db]),
        ("adam strided p", lambda: _core.adam_step(np.ones(34, dtype)[::2], g, m, v, 3, *adam), [m, v]),
        ("adam strided m", lambda: _core.adam_step(p, g, np.ones(34, dtype)[::2], v, 3, *adam), [p, v]),
        ("adam mixed dtypes", lambda: _core.adam_step(p, g.astype(other), m, v, 3, *adam), [p, m, v]),
        ("adam read-only v", lambda: _core.adam_step(p, g, m, ro_vec, 3, *adam), [p, m]),
        ("adam 2-D p", lambda: _core.adam_step(Z, g, m, v, 3, *adam), [Z, m, v]),
        ("sgd strided u", lambda: _core.sgd_step(p, g, np.ones(34, dtype)[::2], 3, *sgd), [p]),
        ("sgd mixed dtypes", lambda: _core.sgd_step(p, g, m.astype(other), 3, *sgd), [p]),
        ("sgd read-only p", lambda: _core.sgd_step(ro_vec, g, m, 3, *sgd), [m]),
    ]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bridge_rejects_layouts_and_dtypes_it_cannot_pass(dtype):
    # strided or column-block views, mixed or integer dtypes, read-only outputs, the wrong number of
    # dimensions: a ValueError or TypeError from the typed memoryviews, before any kernel writes
    for name, call, untouched in _bad_calls(dtype):
        before = [x.copy() for x in untouched]
        with pytest.raises((ValueError, TypeError)):
            call()
        for x, x0 in zip(untouched, before):
            np.testing.assert_array_equal(x, x0, err_msg=name)
    ro = np.ones(9, dtype)  # inputs may be read-only: they are const in the bridge
    ro.flags.writeable = False
    _core.bias_layer(np.zeros((2, 9), dtype), ro, False, 1)


# Calls the kernels cannot serve: None for a required array (a NULL pointer) and arrays shorter than
# the shapes the kernel reads (out-of-bounds reads or writes).  The bridge must reject them; each
# runs in a child process, so that a bridge that lets one through crashes only that process.
UNCHECKED = {
    "bias b=None": "_core.bias_layer(Z, None, True, 1)",
    "bias b shorter than a row of Z": "_core.bias_layer(Z, b[:5], True, 1)",
    "backprop db=None": "_core.sigmoid_backprop(Z, A, None, 1)",
    "backprop A fewer rows than D": "_core.sigmoid_backprop(Z, A[:1], db, 1)",
    "backprop db shorter than a row of D": "_core.sigmoid_backprop(Z, A, db[:3], 1)",
    "adam g=None": "_core.adam_step(p, None, m, v, 3, 0.0, 1e-3, 0.9, 0.999, 1e-8)",
    "adam v shorter than p": "_core.adam_step(p, g, m, v[:4], 3, 0.0, 1e-3, 0.9, 0.999, 1e-8)",
    "adam n_penalized > len(p)": "_core.adam_step(p, g, m, v, 1000, 0.0, 1e-3, 0.9, 0.999, 1e-8)",
    "adam n_penalized < 0": "_core.adam_step(p, g, m, v, -1000, 0.0, 1e-3, 0.9, 0.999, 1e-8)",
    "sgd u=None": "_core.sgd_step(p, g, None, 3, 0.0, 1e-3, 0.9, True)",
    "sgd g shorter than p": "_core.sgd_step(p, g[:2], m, 3, 0.0, 1e-3, 0.9, True)",
}


@pytest.mark.parametrize("name", sorted(UNCHECKED))
def test_bridge_rejects_calls_the_kernels_cannot_serve(name):
    code = textwrap.dedent(f"""
        import numpy as np
        from sce import _core
        Z, A = np.ones((4, 9)), np.full((4, 9), 0.5)
        b, db = np.ones(9), np.ones(9)
        p, g, m, v = (np.ones(17) for _ in range(4))
        try:
            {UNCHECKED[name]}
        except (ValueError, TypeError):
            print("rejected")
        """)
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0 and child.stdout.strip() == "rejected", (child.returncode, child.stderr[-500:])
