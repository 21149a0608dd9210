"""Shared fixtures.

Real datasets (npz files) live in a shared directory outside the repository:
  - the directory named by the environment variable SCE_DATA_DIR, if set;
  - otherwise ../shared/data relative to the repository root, if it exists.
Tests that need it take the `data_dir` fixture (or `load_dataset`) and are skipped cleanly when the
directory (or the requested file) is absent.
"""
import faulthandler
import os
import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent

# scikit-learn's own test modules run with sce's classes bound to scikit-learn's names: that binding
# must not reach the other tests (which compare with scikit-learn), so tests/test_sklearn_suite.py
# runs that folder in a process of its own.
collect_ignore = ["sklearn_suite"]

# A test still running after this long is hung (the slowest takes under a minute in the sanitizer
# build): every thread's traceback goes to the terminal and the run ends, where a hang would otherwise
# use up CI's whole time and say nothing of where it was.
HUNG_AFTER_SECONDS = 600
_terminal_stderr = []


def pytest_configure(config):
    _terminal_stderr.append(os.dup(sys.stderr.fileno()))  # not the stderr that tests' output goes to


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item, nextitem):
    faulthandler.dump_traceback_later(HUNG_AFTER_SECONDS, exit=True, file=_terminal_stderr[0])
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()


def find_data_dir():
    """The shared real-data directory as a Path, or None when it is not available."""
    env = os.environ.get("SCE_DATA_DIR")
    if env:
        path = Path(env).expanduser()
        return path if path.is_dir() else None
    path = REPO_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def data_dir():
    """Path of the shared real-data directory; skips the test when it is absent."""
    path = find_data_dir()
    if path is None:
        where = os.environ.get("SCE_DATA_DIR") or str(REPO_ROOT.parent / "shared" / "data")
        pytest.skip(f"shared data directory not available ({where}); set SCE_DATA_DIR")
    return path


@pytest.fixture(scope="session")
def load_dataset(data_dir):
    """load_dataset("a9a") -> the NpzFile data_dir / "a9a.npz" (skips when the file is absent)."""

    def load(name):
        path = data_dir / (name if name.endswith(".npz") else name + ".npz")
        if not path.is_file():
            pytest.skip(f"dataset {path.name} not found in {data_dir}")
        return np.load(path, allow_pickle=False)

    return load
