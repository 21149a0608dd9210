"""Structure checks of sparse input, before any kernel indexes a coefficient vector with it.

scipy checks a matrix's index arrays when it builds the matrix, not after a user writes into them,
and its own products read out of bounds on a broken one; scikit-learn passes such matrices on
unchecked.  Here an out-of-range index or a broken indptr is scipy's ValueError (the messages of
scipy's check_format), and the fit sees the canonical matrix (rows' column indices sorted,
duplicate entries summed, as scipy defines them) -- a copy when the caller's matrix is not
canonical, never the caller's matrix changed.
"""
import numpy as np
import scipy.sparse as sp

from . import _core
from ._checks import kernel_ready

_PROBLEMS = {
    1: "index pointer should start with 0",
    2: "indptr must be a non-decreasing sequence",
    3: "Last value of index pointer should be less than the size of index and data arrays",
    4: "indices must be >= 0",
    5: "indices must be < {n_columns}",
}


def _index_arrays(indices, indptr):
    """indices and indptr as contiguous, aligned arrays of one integer type the kernels take (the
    caller's arrays when they are so already).  Unpickled arrays may start off their element size
    (pickle protocol 5 buffers, as Dask's workers receive chunks): copied, since the kernels read
    whole elements."""
    for name, a in (("indices", indices), ("indptr", indptr)):
        if a.ndim != 1:
            raise ValueError("data, indices, and indptr should be 1-D")
        if a.dtype.kind not in "iu":
            raise ValueError(f"{name} array has non-integer dtype ({a.dtype.name})")
    itype = indices.dtype if indices.dtype == indptr.dtype else np.dtype(np.int64)
    if itype not in (np.dtype(np.int32), np.dtype(np.int64)):
        itype = np.dtype(np.int64)
    return kernel_ready(indices, itype), kernel_ready(indptr, itype)


def _check_compressed(data, indices, indptr, n_major, n_minor):
    """Check a CSR (or, transposed, CSC) structure; returns (indices, indptr, canonical)."""
    if data.ndim != 1:
        raise ValueError("data, indices, and indptr should be 1-D")
    indices, indptr = _index_arrays(indices, indptr)
    if len(indptr) != n_major + 1:
        raise ValueError(f"index pointer size {len(indptr)} should be {n_major + 1}")
    if len(indices) != len(data):
        raise ValueError("indices and data should have the same size")
    code, canonical = _core.csr_check(indices, indptr, n_minor)
    if code:
        raise ValueError(_PROBLEMS[code].format(n_columns=n_minor))
    return indices, indptr, canonical


def check_before_conversion(X):
    """Check the index arrays of a CSC or COO X, which validate_data converts to CSR by scipy's
    unchecked routines; other input passes unchanged."""
    if not sp.issparse(X):
        return
    if X.format == "csc":
        _check_compressed(X.data, X.indices, X.indptr, X.shape[1], X.shape[0])
    elif X.format == "coo" and X.ndim == 2:
        row, col = X.row, X.col
        if not (len(row) == len(col) == len(X.data)):
            raise ValueError("row, column, and data array must all be the same length")
        for name, idx, bound in (("row", row, X.shape[0]), ("column", col, X.shape[1])):
            if len(idx) and idx.max() >= bound:
                raise ValueError(f"{name} index exceeds matrix dimensions")
            if len(idx) and idx.min() < 0:
                raise ValueError(f"negative {name} index found")


def check_csr(X):
    """Raise scipy's ValueError when the CSR X is malformed (indices out of [0, n_features),
    indptr not starting at 0, decreasing or past the index array, mismatched lengths); dense X
    passes."""
    if sp.issparse(X):
        _check_compressed(X.data, X.indices, X.indptr, X.shape[0], X.shape[1])


def canonical_csr(X):
    """The CSR X checked as by check_csr, in canonical form: X itself when it is so (a view with
    index arrays of one integer type when they differed), else a canonical copy.  Dense X is
    returned as it is."""
    if not sp.issparse(X):
        return X
    indices, indptr, canonical = _check_compressed(X.data, X.indices, X.indptr, X.shape[0],
                                                   X.shape[1])
    if canonical and indices is X.indices and indptr is X.indptr:
        return X
    if canonical:
        return type(X)((X.data, indices, indptr), shape=X.shape, copy=False)
    nnz = int(indptr[-1])
    Xc = type(X)((X.data[:nnz].copy(), indices[:nnz].copy(), indptr.copy()), shape=X.shape,
                 copy=False)
    Xc.sum_duplicates()  # sorts each row's indices and adds the values of repeated ones
    return Xc
