"""How many OpenMP threads a call uses."""
import numbers
import os

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
        return max(1, min(_core.max_threads(), _cpu_count()))
    if n_threads == -1:
        return _cpu_count()
    return int(n_threads)
