"""An allocation failure in a kernel is a MemoryError, not a silently wrong result (issue #13,
point 6).  The multinomial passes allocate scratch of 2 K values per row they are given (at least
one): with 500000 classes that is 8 MB, refused here by an address-space limit 4 MB above what the
process uses."""
import os
import subprocess
import sys
import textwrap

import pytest

resource = pytest.importorskip("resource")

_SCRIPT = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from sce import _core

    K, n, d = 500_000, 3, 2
    X = np.ones((n, d)); sw = np.ones(n); prob = np.full((n, K), 1.0 / K); V = np.ones((K, d))
    vb = np.ones(K); out = np.zeros(K * (d + 1)); labels = np.zeros(n, dtype=np.int64)
    grad = np.zeros(K * (d + 1)); W = np.zeros((K, d)); b = np.zeros(K)
    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) for line in f if line.startswith("VmSize:")) * 1024
    resource.setrlimit(resource.RLIMIT_AS, (vm + (4 << 20), resource.RLIM_INFINITY))
    results = []
    for name, call in [
        ("hessp", lambda: _core.logistic_hessp(X, sw, prob, V, vb, out, 1)),
        ("loss", lambda: _core.logistic_eval(X, labels, sw, W, b, grad, prob, 1)),
    ]:
        try:
            call()
            results.append(name + ":returned")
        except MemoryError:
            results.append(name + ":MemoryError")
    print(" ".join(results))
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
@pytest.mark.skipif("libasan" in os.environ.get("LD_PRELOAD", ""),
                    reason="AddressSanitizer's own allocator cannot run under the address-space limit")
def test_kernel_allocation_failure_raises_memory_error():
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["hessp:MemoryError", "loss:MemoryError"]
