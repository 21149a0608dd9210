"""Benchmarks for sce: ``python -m bench [suite ...] [--quick | --full] [--data-dir DIR] [--out DIR]``,
and ``python -m bench fetch`` to download the real datasets (bench/fetch.py).

A suite is a module of this package with ``NAME``, ``DESCRIPTION`` and ``run(ctx) -> Report``
(see bench/_harness.py).  Register it here, in the order the default run executes them.
"""

# name -> module (relative to this package).
SUITES = {
    "kernels": ".kernels",
    "logistic": ".logistic",
    "mlp": ".mlp",
    "l1": ".l1",
    "cv": ".cv",
    "scaling": ".scaling",
    "overheads": ".overheads",
    "dask": ".dask_suite",
}
