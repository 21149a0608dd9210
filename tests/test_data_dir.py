"""The shared real-data directory helper of conftest.py (resolution order and clean skipping)."""
import numpy as np
import pytest

import conftest


def test_env_variable_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("SCE_DATA_DIR", str(tmp_path))
    assert conftest.find_data_dir() == tmp_path


def test_missing_env_directory_gives_none(tmp_path, monkeypatch):
    monkeypatch.setenv("SCE_DATA_DIR", str(tmp_path / "does-not-exist"))
    assert conftest.find_data_dir() is None


def test_default_is_shared_data_beside_the_repo(monkeypatch):
    monkeypatch.delenv("SCE_DATA_DIR", raising=False)
    default = conftest.REPO_ROOT.parent / "shared" / "data"
    found = conftest.find_data_dir()
    assert found == (default if default.is_dir() else None)


def test_load_dataset_fixture(load_dataset):
    # runs only when the shared directory exists; a missing file skips instead of failing
    with pytest.raises(pytest.skip.Exception):
        load_dataset("no-such-dataset-xyz")
    data_dir = conftest.find_data_dir()
    names = sorted(p.stem for p in data_dir.glob("*.npz"))
    if names:
        with load_dataset(names[0]) as npz:
            assert isinstance(npz, np.lib.npyio.NpzFile) and len(npz.files) > 0
