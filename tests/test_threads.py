"""Thread-count independence and run-to-run reproducibility (bitwise), and n_threads resolution.

The kernels split the work into fixed chunks and add the chunk partial sums in index order, so the
results must be bitwise identical for any number of threads, from run to run, and wherever the
input happens to sit in memory."""
import os
import subprocess
import sys

import numpy as np
import pytest

import sce
from sce import _core
from sce._threads import effective_n_threads

N = 1_000_003  # not a multiple of the chunk size: a partial last chunk

needs_openmp = pytest.mark.skipif(not _core.has_openmp(), reason="sce built without OpenMP")


@pytest.fixture(scope="module")
def bce_data():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 4, N)
    y = rng.random(N)
    y[::3] = np.round(y[::3])
    w = rng.uniform(0, 2, N)
    pw = rng.uniform(0.5, 3, N)
    return z, y, w, pw


def _at_offset(a, offset_items):
    """A copy of `a` placed `offset_items` elements into a fresh buffer (different alignment)."""
    buf = np.empty(a.size + offset_items + 16, dtype=a.dtype)
    v = buf[offset_items:offset_items + a.size].reshape(a.shape)
    v[...] = a
    return v


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_bce_thread_count_independent(bce_data, dtype, reduction):
    z, y, w, pw = (a.astype(dtype) for a in bce_data)
    kw = dict(sample_weight=w, pos_weight=pw, reduction=reduction, return_grad=True)
    l1, g1 = sce.bce_with_logits(z, y, n_threads=1, **kw)
    l2, g2 = sce.bce_with_logits(z, y, n_threads=2, **kw)
    l3, g3 = sce.bce_with_logits(z, y, n_threads=3, **kw)  # more threads than cores
    assert l1 == l2 == l3
    np.testing.assert_array_equal(g1, g2)
    np.testing.assert_array_equal(g1, g3)
    # unweighted, default n_threads
    a = sce.bce_with_logits(z, y, reduction=reduction, n_threads=1)
    assert a == sce.bce_with_logits(z, y, reduction=reduction, n_threads=2) == sce.bce_with_logits(
        z, y, reduction=reduction)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_none_thread_count_independent(bce_data, dtype):
    z, y, w, _ = (a.astype(dtype) for a in bce_data)
    l1, g1 = sce.bce_with_logits(z, y, sample_weight=w, reduction="none", return_grad=True, n_threads=1)
    l2, g2 = sce.bce_with_logits(z, y, sample_weight=w, reduction="none", return_grad=True, n_threads=2)
    np.testing.assert_array_equal(l1, l2)
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_repeated_runs_and_memory_placement(bce_data, dtype):
    z, y, w, _ = (a.astype(dtype) for a in bce_data)
    first = sce.bce_with_logits(z, y, sample_weight=w, reduction="sum", return_grad=True, n_threads=2)
    for offset in (0, 1, 3, 5):
        zz, yy, ww = (_at_offset(a, offset) for a in (z, y, w))
        for nt in (2, 1):
            s, g = sce.bce_with_logits(zz, yy, sample_weight=ww, reduction="sum", return_grad=True,
                                       n_threads=nt)
            assert s == first[0], f"offset {offset}, n_threads {nt}"
            np.testing.assert_array_equal(g, first[1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["labels", "probs"])
def test_softmax_thread_count_independent(dtype, kind):
    rng = np.random.default_rng(1)
    n, K = 200_003, 5
    z = rng.normal(0, 3, (n, K)).astype(dtype)
    t = rng.integers(0, K, n) if kind == "labels" else rng.dirichlet(np.ones(K), n).astype(dtype)
    w = rng.uniform(0, 2, n).astype(dtype)
    results = []
    for nt, offset in ((1, 0), (2, 0), (2, 0), (3, 0), (2, 1), (1, 3)):
        zz = _at_offset(z, offset)
        results.append(sce.softmax_cross_entropy(zz, t, sample_weight=w, reduction="sum",
                                                 return_grad=True, n_threads=nt))
    for s, g in results[1:]:
        assert s == results[0][0]
        np.testing.assert_array_equal(g, results[0][1])
    m1 = sce.softmax_cross_entropy(z, t, n_threads=1)
    assert m1 == sce.softmax_cross_entropy(z, t, n_threads=2)
    l1 = sce.softmax_cross_entropy(z, t, reduction="none", n_threads=1)
    np.testing.assert_array_equal(l1, sce.softmax_cross_entropy(z, t, reduction="none", n_threads=2))


def test_softmax_large_k_thread_count_independent():
    # K > chunk size: one row per chunk
    rng = np.random.default_rng(2)
    z = rng.normal(0, 3, (40, 10_000))
    labels = rng.integers(0, 10_000, 40)
    s1, g1 = sce.softmax_cross_entropy(z, labels, reduction="sum", return_grad=True, n_threads=1)
    s2, g2 = sce.softmax_cross_entropy(z, labels, reduction="sum", return_grad=True, n_threads=2)
    assert s1 == s2
    np.testing.assert_array_equal(g1, g2)


@pytest.mark.parametrize("f", [sce.sigmoid, sce.log_sigmoid, sce.softplus], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_elementwise_thread_count_independent(bce_data, f, dtype):
    z = bce_data[0].astype(dtype) * 20
    r1 = f(z, n_threads=1)
    np.testing.assert_array_equal(f(z, n_threads=2), r1)
    np.testing.assert_array_equal(f(z), r1)
    np.testing.assert_array_equal(f(_at_offset(z, 1), n_threads=2), r1)


# ------------------------------------------------------------------------------------------------
# n_threads resolution
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("bad", [0, -2, -100, 1.5, 2.0, True, False, "2", [2]])
def test_effective_n_threads_rejects(bad):
    with pytest.raises(ValueError, match="n_threads"):
        effective_n_threads(bad)


def test_effective_n_threads_values():
    n = effective_n_threads(None)
    assert isinstance(n, int) and n >= 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    assert n <= cpus
    assert effective_n_threads(-1) >= 1
    if _core.has_openmp():
        assert effective_n_threads(-1) == cpus
        assert effective_n_threads(3) == 3
        assert effective_n_threads(np.int64(2)) == 2
    else:
        assert effective_n_threads(3) == 1


@needs_openmp
def test_threadpoolctl_limit_is_honoured():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = effective_n_threads(None)
    with threadpoolctl.threadpool_limits(limits=1):
        assert effective_n_threads(None) == 1
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert effective_n_threads(None) == 1
    assert effective_n_threads(None) == before
    # an explicit n_threads is not overridden by the limit
    with threadpoolctl.threadpool_limits(limits=1):
        assert effective_n_threads(2) == 2


@needs_openmp
def test_omp_num_threads_is_honoured():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    code = "from sce._threads import effective_n_threads as e; print(e(None))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "1"
