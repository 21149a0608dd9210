"""``python -m bench fetch [--cache-dir DIR] [--base-url URL] [--url FILE=URL ...] [names ...]``

Downloads the public raw files of the real datasets (bench/_sources.py: LIBSVM's binary-datasets
files for a9a, w8a, ijcnn1 and mushrooms, the UCI banknote file, the Reuters money-fx files of
tick-datasets and the Fashion-MNIST idx files), converts them to the .npz layout the benchmark
reads (bench/_data.py) and checks each result against the recorded content checksum before it is
put in the cache.  Then ``python -m bench --data-dir DIR`` (or SCE_DATA_DIR=DIR) uses them.

The recorded checksums are of CONTENT (bench/_data.content_sha256: labels, values, indices,
shapes and dtypes of the converted arrays), computed from the project's reference copies; a raw
file's own sha256 is checked too where one is recorded (none yet).  Nothing half-done stays in the
cache: files are downloaded and converted in a temporary folder inside it, and only a verified
.npz is moved into place.

Default cache: $SCE_DATA_DIR when set, else the user cache folder (~/.cache/sce/datasets on Linux,
$XDG_CACHE_HOME respected; ~/Library/Caches/sce/datasets on macOS; %LOCALAPPDATA%\\sce\\datasets on
Windows).
"""
import argparse
import bz2
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from ._data import content_sha256
from ._sources import SOURCES


class FetchError(RuntimeError):
    """A download, checksum or conversion failure; the message says which file and why."""


def default_cache_dir():
    env = os.environ.get("SCE_DATA_DIR")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sce" / "datasets"


# ----------------------------------------------------------------------------------------------
# Download
# ----------------------------------------------------------------------------------------------

def file_urls(name, base_url=None, urls=None):
    """file name -> URL for one dataset: the recorded URL, or <base_url>/<file>, or urls[file]."""
    src = SOURCES[name]
    out = {}
    for fname in (*src["train"], *src["test"]):
        if urls and fname in urls:
            out[fname] = urls[fname]
        elif base_url:
            out[fname] = base_url.rstrip("/") + "/" + fname
        else:
            out[fname] = src["urls"][fname]
    return out


def download(url, dest, log=None, timeout=60):
    """Stream url to dest; returns the file's sha256."""
    h = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(dest, "wb") as fh:
            total = int(resp.headers.get("Content-Length") or 0)
            done = 0
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                fh.write(chunk)
                h.update(chunk)
                done += len(chunk)
            if total and done != total:
                raise FetchError(f"{url}: got {done} bytes of {total}")
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"could not download {url}: {exc}") from exc
    if log:
        log(f"  {dest.name}: {done / 1e6:.1f} MB")
    return h.hexdigest()


# ----------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------

def _open(path):
    path = str(path)
    if path.endswith(".bz2"):
        return bz2.open(path, "rb")
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    return open(path, "rb")


def _labels(y, fname):
    yi = np.rint(y).astype(np.int64)
    if not np.array_equal(yi, y):
        raise FetchError(f"{fname}: labels are not integers")
    return yi


def _read_libsvm(paths, n_features):
    """CSR float32 (sorted indices, int32 indices, int64 indptr) and int64 labels of LIBSVM files
    read one after the other."""
    import scipy.sparse as sp
    from sklearn.datasets import load_svmlight_file

    Xs, ys = [], []
    for p in paths:
        try:
            with _open(p) as fh:
                X, y = load_svmlight_file(fh, n_features=n_features, dtype=np.float32, zero_based=False)
        except (ValueError, OSError, EOFError) as exc:
            raise FetchError(f"{p.name}: not a readable LIBSVM file ({exc})") from exc
        Xs.append(X)
        ys.append(_labels(y, p.name))
    X = sp.vstack(Xs, format="csr") if len(Xs) > 1 else Xs[0].tocsr()
    X.sort_indices()
    return X, np.concatenate(ys)


def _read_csv(paths, n_features):
    rows = []
    for p in paths:
        try:
            with _open(p) as fh:
                rows.append(np.loadtxt(fh, delimiter=",", dtype=np.float64, ndmin=2))
        except ValueError as exc:
            raise FetchError(f"{p.name}: not a numeric CSV file ({exc})") from exc
        if rows[-1].shape[1] != n_features + 1:
            raise FetchError(f"{p.name}: {rows[-1].shape[1]} columns, expected {n_features} + label")
    a = np.concatenate(rows)
    return np.ascontiguousarray(a[:, :n_features], dtype=np.float32), _labels(a[:, n_features], paths[0].name)


def _read_idx(path):
    """An idx file (big-endian header: 0, 0, type code, number of dims, then the dims)."""
    with _open(path) as fh:
        raw = fh.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise FetchError(f"{path.name}: not an unsigned-byte idx file")
    ndim = raw[3]
    dims = tuple(int(v) for v in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    body = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise FetchError(f"{path.name}: {body.size} bytes of data, header says {dims}")
    return body.reshape(dims)


def _split(src, paths):
    """(X, y) of one split from its raw files."""
    fmt, nf = src["format"], src["n_features"]
    if fmt == "libsvm":
        X, y = _read_libsvm(paths, nf)
        return (X.toarray() if src["kind"] == "dense" else X), y
    if fmt == "csv":
        return _read_csv(paths, nf)
    if fmt == "idx":
        images, labels = (_read_idx(p) for p in paths)
        if images.shape[0] != labels.shape[0]:
            raise FetchError(f"{paths[0].name}: {images.shape[0]} images but {labels.shape[0]} labels")
        return np.ascontiguousarray(images.reshape(images.shape[0], -1)), labels.astype(np.int64)
    raise FetchError(f"unknown format {fmt!r}")


def convert(name, raw_dir, source_note=""):
    """The .npz arrays of dataset `name` from its raw files in raw_dir."""
    src = SOURCES[name]
    arrays = {"name": np.array(name), "kind": np.array(src["kind"]), "source": np.array(source_note)}
    labels = []
    for split, suffix in (("train", ""), ("test", "_test")):
        if not src[split]:
            continue
        X, y = _split(src, [Path(raw_dir) / f for f in src[split]])
        if X.shape[1] != src["n_features"]:
            raise FetchError(f"{name}: {X.shape[1]} columns, expected {src['n_features']}")
        if src["kind"] == "csr":
            arrays.update({"data" + suffix: X.data.astype(np.float32, copy=False),
                           "indices" + suffix: X.indices.astype(np.int32, copy=False),
                           "indptr" + suffix: X.indptr.astype(np.int64, copy=False),
                           "shape" + suffix: np.array(X.shape, dtype=np.int64)})
        else:
            arrays["X" + suffix] = X if X.dtype == np.uint8 else np.ascontiguousarray(X, dtype=np.float32)
        arrays["y" + suffix] = y
        labels.append(y)
    arrays["classes"] = np.unique(np.concatenate(labels))
    return arrays


# ----------------------------------------------------------------------------------------------
# Fetch
# ----------------------------------------------------------------------------------------------

def fetch(names=None, cache_dir=None, base_url=None, urls=None, force=False, log=None):
    """Download, convert and verify `names` (default: all) into cache_dir; returns {name: path}.

    Raises FetchError on the first failure, leaving no file of that dataset in the cache.
    """
    names = list(names or SOURCES)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise FetchError(f"unknown dataset(s) {', '.join(unknown)}; known: {', '.join(SOURCES)}")
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    log = log or (lambda msg: None)
    out = {}
    for name in names:
        src = SOURCES[name]
        final = cache_dir / f"{name}.npz"
        if final.is_file() and not force:
            with np.load(final, allow_pickle=False) as d:
                if content_sha256(d) == src["content_sha256"]:
                    log(f"{name}: already in {cache_dir} (content checksum ok)")
                    out[name] = final
                    continue
            log(f"{name}: {final} has other content: fetching again")
        table = file_urls(name, base_url, urls)
        log(f"{name}: downloading {len(table)} file(s)")
        with tempfile.TemporaryDirectory(prefix=f".fetch-{name}-", dir=cache_dir) as tmp:
            tmp = Path(tmp)
            for fname, url in table.items():
                sha = download(url, tmp / fname, log)
                want = (src.get("raw_sha256") or {}).get(fname)
                if want and sha != want:
                    raise FetchError(f"{name}: {fname} from {url} has sha256 {sha}, expected {want} "
                                     "(corrupt or changed file; nothing was written to the cache)")
            arrays = convert(name, tmp, source_note=", ".join(table.values()))
            got = content_sha256(arrays)
            if got != src["content_sha256"]:
                raise FetchError(f"{name}: converted content has sha256 {got}, expected "
                                 f"{src['content_sha256']} (corrupt or different source files "
                                 f"from {', '.join(table.values())}; nothing was written to the cache)")
            part = tmp / f"{name}.npz"
            np.savez_compressed(part, **arrays)
            os.replace(part, final)
        log(f"{name}: ok -> {final}")
        out[name] = final
    return out


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="python -m bench fetch",
        description="Download the real datasets, convert them to .npz and verify their content checksums.")
    p.add_argument("names", nargs="*", metavar="NAME", help=f"datasets (default: all): {', '.join(SOURCES)}")
    p.add_argument("--cache-dir", default=None,
                   help=f"where the .npz files go (default: $SCE_DATA_DIR, else {default_cache_dir()})")
    p.add_argument("--base-url", default=None, help="fetch every file from <URL>/<file name> instead")
    p.add_argument("--url", action="append", default=[], metavar="FILE=URL",
                   help="the URL of one raw file (repeatable); overrides --base-url for that file")
    p.add_argument("--force", action="store_true", help="fetch again even when the cache has a good copy")
    args = p.parse_args(argv)
    urls = {}
    for item in args.url:
        fname, sep, url = item.partition("=")
        if not sep or not fname or not url:
            p.error(f"--url expects FILE=URL, got {item!r}")
        urls[fname] = url

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    cache_dir = Path(args.cache_dir).expanduser() if args.cache_dir else default_cache_dir()
    try:
        got = fetch(args.names, cache_dir, args.base_url, urls, args.force, log)
    except FetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(got)} dataset(s) in {cache_dir}; run: python -m bench --data-dir {cache_dir}")
    return 0
