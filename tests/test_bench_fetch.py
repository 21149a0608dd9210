"""`python -m bench fetch`: download over HTTP, convert to .npz, verify content checksums.

Everything is served by an http.server on 127.0.0.1 started here; no other address is contacted.
"""
import bz2
import gzip
import http.server
import threading
from functools import partial

import numpy as np
import pytest
import scipy.sparse as sp

from bench import _sources, fetch
from bench._data import content_sha256, load_dataset


def _fmt(v):
    return np.format_float_positional(np.float32(v), unique=True, trim="-")


def write_libsvm(path, X, y):
    """X (CSR or dense) and integer labels as LIBSVM text (1-based indices, zeros left out)."""
    X = sp.csr_matrix(X)
    lines = []
    for i in range(X.shape[0]):
        a, b = X.indptr[i], X.indptr[i + 1]
        feats = " ".join(f"{j + 1}:{_fmt(v)}" for j, v in zip(X.indices[a:b], X.data[a:b]) if v != 0)
        lines.append(f"{int(y[i]):+d} {feats}".rstrip() if y[i] < 0 else f"{int(y[i])} {feats}".rstrip())
    text = ("\n".join(lines) + "\n").encode()
    opener = bz2.open if str(path).endswith(".bz2") else open
    with opener(path, "wb") as fh:
        fh.write(text)


def write_idx(path, a):
    header = bytes([0, 0, 0x08, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as fh:
        fh.write(header + np.ascontiguousarray(a, dtype=np.uint8).tobytes())


@pytest.fixture
def server(tmp_path):
    """(base URL, folder it serves): an HTTP server on 127.0.0.1, port chosen by the OS."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _synthetic_csr(rng, n, d, density=0.2):
    X = sp.random(n, d, density=density, format="csr", dtype=np.float64, random_state=rng)
    X.data = np.round(X.data * 8) / 8 + 0.125        # exact in float32 and in short decimals
    y = np.where(rng.random(n) < 0.4, 1, -1)
    return sp.csr_matrix(X, dtype=np.float32), y


@pytest.fixture
def toy_sources(monkeypatch):
    """Two made-up datasets in the registry: a sparse one with a test split, a dense one built
    from two files (like ijcnn1's .tr + .val).  Their content checksums are filled in by the test."""
    table = {
        "toy_sparse": dict(kind="csr", format="libsvm", train=("toy",), test=("toy.t",), n_features=12,
                           urls={"toy": "http://127.0.0.1:9/unused", "toy.t": "http://127.0.0.1:9/unused"},
                           content_sha256=None, about="toy"),
        "toy_dense": dict(kind="dense", format="libsvm", train=("dense.tr.bz2", "dense.val.bz2"), test=(),
                          n_features=5, urls={}, content_sha256=None, about="toy"),
    }
    monkeypatch.setattr(_sources, "SOURCES", table)
    monkeypatch.setattr(fetch, "SOURCES", table)
    return table


def _expected_sparse(X, y, Xt, yt):
    return {"name": np.array("toy_sparse"), "kind": np.array("csr"),
            "data": X.data, "indices": X.indices.astype(np.int32), "indptr": X.indptr.astype(np.int64),
            "shape": np.array(X.shape, dtype=np.int64), "y": y.astype(np.int64),
            "data_test": Xt.data, "indices_test": Xt.indices.astype(np.int32),
            "indptr_test": Xt.indptr.astype(np.int64), "shape_test": np.array(Xt.shape, dtype=np.int64),
            "y_test": yt.astype(np.int64), "classes": np.array([-1, 1], dtype=np.int64)}


def test_fetch_converts_and_verifies(server, toy_sources, tmp_path):
    base, root = server
    rng = np.random.default_rng(0)
    X, y = _synthetic_csr(rng, 40, 12)
    Xt, yt = _synthetic_csr(rng, 15, 10)   # the test file never uses the last columns
    Xt = sp.csr_matrix((Xt.data, Xt.indices, Xt.indptr), shape=(15, 12))
    write_libsvm(root / "toy", X, y)
    write_libsvm(root / "toy.t", Xt, yt)
    D = np.round(rng.standard_normal((30, 5)) * 4) / 4
    D[D == 0] = 0.5
    D = D.astype(np.float32)
    yd = np.where(rng.random(30) < 0.5, 1, -1)
    write_libsvm(root / "dense.tr.bz2", D[:18], yd[:18])
    write_libsvm(root / "dense.val.bz2", D[18:], yd[18:])
    toy_sources["toy_sparse"]["content_sha256"] = content_sha256(_expected_sparse(X, y, Xt, yt))
    toy_sources["toy_dense"]["content_sha256"] = content_sha256(
        {"name": np.array("toy_dense"), "kind": np.array("dense"), "X": D, "y": yd.astype(np.int64),
         "classes": np.array([-1, 1], dtype=np.int64)})

    cache = tmp_path / "cache"
    logs = []
    got = fetch.fetch(["toy_sparse", "toy_dense"], cache, base_url=base, log=logs.append)
    assert sorted(p.name for p in cache.iterdir()) == ["toy_dense.npz", "toy_sparse.npz"]
    assert got["toy_sparse"] == cache / "toy_sparse.npz"

    X2, y2, Xt2, yt2 = load_dataset("toy_sparse", cache)
    assert sp.issparse(X2) and X2.dtype == np.float32 and X2.shape == (40, 12)
    np.testing.assert_array_equal(X2.toarray(), X.toarray())
    np.testing.assert_array_equal(y2, y)
    assert Xt2.shape == (15, 12)
    np.testing.assert_array_equal(Xt2.toarray(), Xt.toarray())
    np.testing.assert_array_equal(yt2, yt)
    D2, yd2, Dt, ydt = load_dataset("toy_dense", cache)
    assert Dt is None and ydt is None
    np.testing.assert_array_equal(D2, D)
    np.testing.assert_array_equal(yd2, yd)
    with np.load(cache / "toy_sparse.npz") as d:
        assert base in str(d["source"])

    # a second run finds the verified copy and downloads nothing
    (root / "toy").unlink()
    fetch.fetch(["toy_sparse"], cache, base_url=base, log=logs.append)
    assert any("already in" in m for m in logs)


def test_corrupt_file_fails_and_leaves_nothing(server, toy_sources, tmp_path):
    base, root = server
    rng = np.random.default_rng(1)
    X, y = _synthetic_csr(rng, 20, 12)
    Xt, yt = _synthetic_csr(rng, 6, 12)
    toy_sources["toy_sparse"]["content_sha256"] = content_sha256(_expected_sparse(X, y, Xt, yt))
    y_bad = y.copy()
    y_bad[3] = -y_bad[3]                 # one flipped label: still valid LIBSVM, other content
    write_libsvm(root / "toy", X, y_bad)
    write_libsvm(root / "toy.t", Xt, yt)
    cache = tmp_path / "cache"
    with pytest.raises(fetch.FetchError, match="content has sha256 .* expected"):
        fetch.fetch(["toy_sparse"], cache, base_url=base)
    assert list(cache.iterdir()) == []

    # a raw checksum, when recorded, is checked before conversion
    write_libsvm(root / "toy", X, y)
    toy_sources["toy_sparse"]["raw_sha256"] = {"toy": "0" * 64}
    with pytest.raises(fetch.FetchError, match="toy from .* has sha256"):
        fetch.fetch(["toy_sparse"], cache, base_url=base)
    assert list(cache.iterdir()) == []

    # a file that is not LIBSVM at all, and one the server does not have
    del toy_sources["toy_sparse"]["raw_sha256"]
    (root / "toy").write_bytes(b"\x00\x01garbage\n")
    with pytest.raises(fetch.FetchError, match="toy"):
        fetch.fetch(["toy_sparse"], cache, base_url=base)
    (root / "toy.t").unlink()
    with pytest.raises(fetch.FetchError, match="could not download"):
        fetch.fetch(["toy_sparse"], cache, base_url=base)
    assert list(cache.iterdir()) == []


def test_cli_url_table_and_errors(server, toy_sources, tmp_path, capsys):
    base, root = server
    rng = np.random.default_rng(2)
    X, y = _synthetic_csr(rng, 10, 12)
    write_libsvm(root / "a.txt", X, y)
    write_libsvm(root / "b.txt", X, y)
    toy_sources["toy_sparse"]["content_sha256"] = content_sha256(_expected_sparse(X, y, X, y))
    cache = tmp_path / "c"
    rc = fetch.main(["toy_sparse", "--cache-dir", str(cache), "--url", f"toy={base}/a.txt",
                     "--url", f"toy.t={base}/b.txt"])
    assert rc == 0
    assert (cache / "toy_sparse.npz").is_file()
    assert "--data-dir" in capsys.readouterr().out
    assert fetch.main(["nonexistent", "--cache-dir", str(cache)]) == 1
    assert "unknown dataset" in capsys.readouterr().err


def test_idx_and_csv_readers(tmp_path):
    rng = np.random.default_rng(3)
    imgs = rng.integers(0, 256, (7, 4, 4), dtype=np.uint8)
    write_idx(tmp_path / "img.gz", imgs)
    write_idx(tmp_path / "lab.gz", np.arange(7, dtype=np.uint8))
    X, y = fetch._split({"format": "idx", "kind": "dense", "n_features": 16},
                        [tmp_path / "img.gz", tmp_path / "lab.gz"])
    np.testing.assert_array_equal(X, imgs.reshape(7, 16))
    np.testing.assert_array_equal(y, np.arange(7))
    (tmp_path / "t.csv").write_text("1.5,-2.25,0\n3,4,1\n")
    X, y = fetch._split({"format": "csv", "kind": "dense", "n_features": 2}, [tmp_path / "t.csv"])
    np.testing.assert_array_equal(X, np.array([[1.5, -2.25], [3, 4]], dtype=np.float32))
    np.testing.assert_array_equal(y, [0, 1])


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SCE_DATA_DIR", str(tmp_path))
    assert fetch.default_cache_dir() == tmp_path
    monkeypatch.delenv("SCE_DATA_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if fetch.sys.platform.startswith("linux"):
        assert fetch.default_cache_dir() == tmp_path / "xdg" / "sce" / "datasets"


@pytest.mark.parametrize("name", ["mushrooms", "banknote", "a9a"])
def test_recorded_checksums_match_the_shared_copies(data_dir, name, tmp_path):
    """The registry's content checksum is that of the shared copy, and raw files rendered from that
    copy in the source's own format convert back to the same content."""
    path = data_dir / f"{name}.npz"
    if not path.is_file():
        pytest.skip(f"{name}.npz not in {data_dir}")
    src = _sources.SOURCES[name]
    with np.load(path, allow_pickle=False) as d:
        assert content_sha256(d) == src["content_sha256"]
    X, y, Xt, yt = load_dataset(name, data_dir)
    raw = tmp_path / "raw"
    raw.mkdir()
    if src["format"] == "csv":
        lines = [",".join(_fmt(v) for v in row) + f",{int(lab)}" for row, lab in zip(X, y)]
        (raw / src["train"][0]).write_text("\n".join(lines) + "\n")
    else:
        write_libsvm(raw / src["train"][0], X, y)
        if Xt is not None:
            write_libsvm(raw / src["test"][0], Xt, yt)
    arrays = fetch.convert(name, raw)
    assert content_sha256(arrays) == src["content_sha256"]
