"""How many threads a call uses: OpenMP threads of the kernels, and BLAS threads around them."""
import contextlib
import numbers
import os
import threading

from . import _core


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def effective_n_threads(n_threads=None):
    """Resolve the ``n_threads`` parameter.

    None -> the OpenMP default (``omp_get_max_threads()``, which follows ``OMP_NUM_THREADS`` and
    threadpoolctl limits) capped by the cores this process may use; a positive int -> that many;
    -1 -> all usable cores.  Without OpenMP every call runs on one thread.
    """
    if n_threads is not None and (
        isinstance(n_threads, bool)
        or not isinstance(n_threads, numbers.Integral)
        or not (n_threads >= 1 or n_threads == -1)
    ):
        raise ValueError(f"n_threads must be None, -1 or a positive integer; got {n_threads!r}")
    if not _core.has_openmp():
        return 1
    if n_threads is None:
        omp = _core.max_threads()
        return 1 if omp <= 1 else min(omp, _cpu_count())  # (no system call when one is all)
    if n_threads == -1:
        return _cpu_count()
    return int(n_threads)


_fits_lock = threading.Lock()
_running_fits = 0


@contextlib.contextmanager
def running_fit():
    """Counts the fits running at once in this process (from several Python threads: joblib's
    threading backend, a web server), among which share_among_fits divides the cores."""
    global _running_fits
    with _fits_lock:
        _running_fits += 1
    try:
        yield
    finally:
        with _fits_lock:
            _running_fits -= 1


def share_among_fits(n_threads):
    """sce's default thread count n_threads divided among the fits running at once in this
    process, so that k concurrent fits on c cores use about c / k threads each instead of c each,
    whose threads would wait for one another's cores at every pass.  The kernels' results do not
    depend on the thread count, so a fit gives the same result however many run beside it."""
    return max(1, n_threads // max(_running_fits, 1))


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_blas_controller = None


# Up to this many parameters a solver's BLAS and LAPACK calls (the Cholesky factorization of the
# Hessian and its solves, the products of newton-cg's preconditioner) run on one thread anyway:
# OpenBLAS threads a Cholesky factorization from 100 x 100 (below, no call reaches its thread
# server, as callgrind shows) and products from thousands of elements.  Limiting the threads costs
# more than such a fit's arithmetic (threadpoolctl inspects every loaded library on each limit).
_SERIAL_ANYWAY_MAX_PARAMS = 64


def serial_blas_for(n_params, up_to=None):
    """serial_blas() around a solver of n_params parameters that wants it (up to ``up_to``
    parameters when given), or no limit where BLAS would run on one thread anyway
    (_SERIAL_ANYWAY_MAX_PARAMS)."""
    return serial_blas(n_params > _SERIAL_ANYWAY_MAX_PARAMS and (up_to is None or n_params <= up_to))


@contextlib.contextmanager
def serial_blas(active=True):
    """BLAS (numpy's and scipy's) on one thread while the block runs (no limit when not active).

    threadpoolctl's limits are process-wide, and each restores on exit what it found on entry, so
    limits entered and left by several Python threads at once do not nest: the last to leave could
    put back another's limit of one thread for the rest of the process.  Here the first of the
    overlapping users sets the limit and the last one restores what was there before the first.
    While any block runs, BLAS calls of other threads of the process also use one thread.
    """
    global _blas_users, _blas_limiter, _blas_controller
    if not active:
        yield
        return
    with _blas_lock:
        if _blas_users == 0:
            if _blas_controller is None:  # inspecting the loaded libraries takes a while: once
                from threadpoolctl import ThreadpoolController
                _blas_controller = ThreadpoolController()
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
        _blas_users += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None
