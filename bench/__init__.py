"""Benchmarks for sce: ``python -m bench [suite ...] [--full] [--data-dir DIR] [--out DIR]``.

A suite is a module of this package with ``NAME``, ``DESCRIPTION`` and ``run(ctx) -> Report``
(see bench/_harness.py).  Register it here, in the order the default run executes them.
"""

# name -> module (relative to this package).
SUITES = {
    "kernels": ".kernels",
    "logistic": ".logistic",
    "mlp": ".mlp",
}
