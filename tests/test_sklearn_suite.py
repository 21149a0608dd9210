"""scikit-learn 1.9's own test_logistic.py and test_mlp.py with sce's classes bound to scikit-learn's
names (tests/sklearn_suite), in a process of their own: every test passes but those listed, with
their reasons, in tests/sklearn_suite/excluded.py."""
import os
import re
import subprocess
import sys
from pathlib import Path

SUITE = Path(__file__).resolve().parent / "sklearn_suite"


def test_scikit_learns_own_tests_pass_on_sce():
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "default",
                           "-rfE", str(SUITE)], capture_output=True, text=True, env=env, timeout=900)
    summary = proc.stdout.strip().splitlines()[-1]
    failures = [line for line in proc.stdout.splitlines() if line.startswith(("FAILED", "ERROR"))]
    assert proc.returncode == 0 and not failures, "\n".join(failures) or proc.stdout[-3000:] + proc.stderr[-3000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 300, summary  # both modules were collected and ran
