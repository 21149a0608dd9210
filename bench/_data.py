"""The real datasets: where they are, how to load them, and the content hash that checks them.

The .npz layout (the same as the shared data folder; bench/fetch.py writes it):

    y, optional y_test        int64 labels as stored in the source (-1/+1, 1/2, 0/1, 0..9)
    classes                   int64, the sorted distinct labels
    kind                      "dense" or "csr"; name: the dataset's name; source: where it came from
    kind "dense": X, optional X_test (float32, or uint8 pixels to scale by 1/255)
    kind "csr":   data, indices, indptr, shape (+ data_test, indices_test, indptr_test, shape_test)
                  -> scipy.sparse.csr_matrix((data, indices, indptr), shape=tuple(shape))
"""
import hashlib
import os
from pathlib import Path

import numpy as np

# Keys that describe where a file came from rather than what it holds: left out of the content hash.
PROVENANCE_KEYS = ("source",)


def resolve_data_dir(arg=None):
    """--data-dir, else $SCE_DATA_DIR, else None.  An explicitly given directory must exist."""
    for src, value in (("--data-dir", arg), ("SCE_DATA_DIR", os.environ.get("SCE_DATA_DIR"))):
        if value:
            path = Path(value).expanduser()
            if not path.is_dir():
                raise FileNotFoundError(f"{src}={value!s} is not a directory")
            return path
    return None


def dataset_path(name, data_dir):
    data_dir = Path(data_dir)
    for cand in (data_dir / f"{name}.npz", data_dir / "npz" / f"{name}.npz"):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"dataset {name!r}: no {name}.npz in {data_dir} (or {data_dir}/npz)")


def available_datasets(data_dir):
    """Names of the .npz datasets in data_dir (or data_dir/npz); [] when data_dir is None."""
    if data_dir is None:
        return []
    data_dir = Path(data_dir)
    names = {p.stem for d in (data_dir, data_dir / "npz") if d.is_dir() for p in d.glob("*.npz")}
    return sorted(names)


def load_dataset(name, data_dir):
    """(X, y, X_test, y_test) from <data_dir>/<name>.npz in the format above.

    kind "csr": X is a scipy.sparse.csr_matrix; kind "dense": an ndarray, uint8 pixels scaled to
    float32 / 255.  y keeps the stored labels (e.g. -1/+1, 1/2, 0..9; see ``binary_targets``).
    X_test / y_test are None when the set has no test split.
    """
    if data_dir is None:
        raise ValueError("no data directory: pass --data-dir or set SCE_DATA_DIR")
    with np.load(dataset_path(name, data_dir), allow_pickle=False) as d:
        kind = str(d["kind"])
        files = set(d.files)

        def dense(key):
            X = d[key]
            if X.dtype == np.uint8:
                X = X.astype(np.float32)
                X *= np.float32(1.0 / 255.0)
            return X

        def csr(suffix):
            import scipy.sparse as sp

            shape = tuple(int(s) for s in d["shape" + suffix])
            return sp.csr_matrix((d["data" + suffix], d["indices" + suffix], d["indptr" + suffix]),
                                 shape=shape)

        if kind == "dense":
            X = dense("X")
            X_test = dense("X_test") if "X_test" in files else None
        elif kind == "csr":
            X = csr("")
            X_test = csr("_test") if "data_test" in files else None
        else:
            raise ValueError(f"dataset {name!r}: unknown kind {kind!r}")
        y = d["y"]
        y_test = d["y_test"] if "y_test" in files else None
    if X.shape[0] != y.shape[0] or (X_test is not None and X_test.shape[0] != y_test.shape[0]):
        raise ValueError(f"dataset {name!r}: X and y row counts differ")
    return X, y, X_test, y_test


def binary_targets(y, positive=None):
    """0/1 float64 targets from two-class labels; positive = the larger label unless given."""
    classes = np.unique(y)
    if classes.size > 2:
        raise ValueError(f"expected two classes, got {classes.size}")
    if positive is None:
        positive = classes[-1]
    return (np.asarray(y) == positive).astype(np.float64)


def content_sha256(arrays):
    """sha256 over what a dataset holds, independent of how the .npz was written (compression,
    member order, zip timestamps) and of its provenance keys ("source").

    arrays: a mapping key -> array (an open NpzFile works).  For every key in sorted order the hash
    takes the key, the array's dtype (byte order included), its shape and its C-order bytes.
    """
    h = hashlib.sha256()
    for key in sorted(k for k in arrays.keys() if k not in PROVENANCE_KEYS):
        a = np.ascontiguousarray(arrays[key])
        h.update(f"{key}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def file_content_sha256(path):
    with np.load(path, allow_pickle=False) as d:
        return content_sha256(d)
