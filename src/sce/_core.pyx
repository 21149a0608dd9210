# Typed bridge to csrc/: checks what a kernel relies on (dtypes, lengths, memory layout), passes
# pointers, releases the GIL, and turns the kernels' status into an exception.  No formulas here (they
# live in csrc/), no validation of values (that is the Python modules' job).
cimport numpy as cnp
from cpython.exc cimport PyErr_Occurred
from cython cimport floating
from libc.stdint cimport int32_t, int64_t

import numpy as np

from ._kernels cimport *  # the C API (csrc/sce_kernels.h)

cnp.import_array()

cdef extern from "Python.h":  # without an exception value: the hook reports by its return value
    int _check_signals "PyErr_CheckSignals" ()
    int _run_signal_handlers "PyErr_CheckSignals" () except -1

BAD_TARGET = SCE_BAD_TARGET
BAD_SAMPLE_WEIGHT = SCE_BAD_SAMPLE_WEIGHT
BAD_POS_WEIGHT = SCE_BAD_POS_WEIGHT
BAD_LABEL = SCE_BAD_LABEL


# ---- interrupts and status ----------------------------------------------------------------------

cdef int _interrupt_hook() noexcept nogil:
    # Called by the calling thread of a long pass, GIL released, every 50 ms or so: runs Python's
    # signal handlers (only on the main thread).  The exception one raises (KeyboardInterrupt for
    # Ctrl-C) stays set; the pass stops and _check raises it.
    with gil:
        return _check_signals() != 0


sce_set_interrupt_hook(_interrupt_hook)


def check_signals():
    """Run Python's handlers of the signals received so far, now (raising their exception, e.g.
    KeyboardInterrupt).  The training loops call it once per batch or iteration: in a test run with
    a Dask client's threads alive, a SIGINT sent during an MLP fit was never handled by the
    interpreter loop (a second one was, at once), and passes shorter than the kernels' polling
    interval never ask.  PyErr_CheckSignals looks at the signals received, whatever the
    interpreter's flags say."""
    _run_signal_handlers()


cdef int _check(int status) except -1:
    """Raise the exception a kernel's status stands for."""
    if status == SCE_OK:
        return 0
    if status == SCE_ERR_NOMEM:
        raise MemoryError("a kernel could not allocate its scratch memory")
    if status == SCE_ERR_INTERRUPTED:
        if PyErr_Occurred() != NULL:
            return -1  # the exception of the signal handler the interrupt hook ran
        raise KeyboardInterrupt
    raise ValueError(f"the kernels do not take this input (status {status})")


def max_threads():
    """omp_get_max_threads() (honours OMP_NUM_THREADS and threadpoolctl), 1 without OpenMP."""
    return sce_max_threads()


def has_openmp():
    return bool(sce_has_openmp())


def simd_path():
    """Which compiled clone of the vectorized kernels runs on this CPU."""
    return sce_simd_path().decode()


cdef int _same_length(str name, Py_ssize_t got, Py_ssize_t expected) except -1:
    if got != expected:
        raise ValueError(f"{name} has {got} elements, expected {expected}")
    return 0


cdef int _same_shape(str name, Py_ssize_t rows, Py_ssize_t cols, Py_ssize_t n_rows,
                     Py_ssize_t n_cols) except -1:
    if rows != n_rows or cols != n_cols:
        raise ValueError(f"{name} has shape ({rows}, {cols}), expected ({n_rows}, {n_cols})")
    return 0


# ---- elementwise maps and fused losses (csrc/sce_kernels_tmpl.h) ----------------------------------

ctypedef int (*map_f64)(sce_int, const double *, double *, int) noexcept nogil
ctypedef int (*map_f32)(sce_int, const float *, float *, int) noexcept nogil

# Index of each elementwise map in the tables below.
MAPS = {"exp": 0, "log1p": 1, "sigmoid": 2, "log_sigmoid": 3, "softplus": 4}
cdef map_f64[5] _MAPS_F64 = [sce_exp_array_f64, sce_log1p_array_f64, sce_sigmoid_f64,
                             sce_log_sigmoid_f64, sce_softplus_f64]
cdef map_f32[5] _MAPS_F32 = [sce_exp_array_f32, sce_log1p_array_f32, sce_sigmoid_f32,
                             sce_log_sigmoid_f32, sce_softplus_f32]


def elementwise(int which, const floating[::1] x, floating[::1] out, int n_threads):
    """out[i] = f(x[i]) for the map number `which` (see MAPS); out may be x's own buffer."""
    cdef sce_int n = x.shape[0]
    cdef int status = SCE_OK
    if not 0 <= which < 5:
        raise ValueError(f"no elementwise map number {which}")
    _same_length("out", out.shape[0], n)
    if n == 0:
        return
    with nogil:
        if floating is double:
            status = _MAPS_F64[which](n, &x[0], &out[0], n_threads)
        else:
            status = _MAPS_F32[which](n, &x[0], &out[0], n_threads)
    _check(status)


def bce_logits(const floating[::1] z, const floating[::1] y, const floating[::1] sw,
               double sw_scalar, const floating[::1] pw, double pw_scalar, double grad_scale,
               floating[::1] loss, floating[::1] grad, int n_threads):
    """Returns (sum of weighted losses, status bits).  sw / pw: arrays of len(z) or None (then the
    scalar is used for every element); loss / grad: outputs of len(z) or None."""
    cdef sce_int n = z.shape[0]
    cdef int bad = 0, status = SCE_OK
    cdef double total = 0.0
    _same_length("y", y.shape[0], n)  # the optional arrays when given:
    _same_length("sw", sw.shape[0] if sw is not None else n, n)
    _same_length("pw", pw.shape[0] if pw is not None else n, n)
    _same_length("loss", loss.shape[0] if loss is not None else n, n)
    _same_length("grad", grad.shape[0] if grad is not None else n, n)
    if n == 0:
        return 0.0, 0
    cdef const floating *swp = &sw[0] if sw is not None else NULL
    cdef const floating *pwp = &pw[0] if pw is not None else NULL
    cdef floating *lp = &loss[0] if loss is not None else NULL
    cdef floating *gp = &grad[0] if grad is not None else NULL
    with nogil:
        if floating is double:
            status = sce_bce_logits_loss_grad_f64(n, &z[0], &y[0], swp, sw_scalar, pwp, pw_scalar,
                                                  grad_scale, lp, gp, n_threads, &bad, &total)
        else:
            status = sce_bce_logits_loss_grad_f32(n, &z[0], &y[0], swp, <float>sw_scalar, pwp,
                                                  <float>pw_scalar, <float>grad_scale, lp, gp,
                                                  n_threads, &bad, &total)
    _check(status)
    return total, bad


def softmax_xent(const floating[:, ::1] z, const int64_t[::1] labels,
                 const floating[:, ::1] target, const floating[::1] sw, double grad_scale,
                 floating[::1] loss, floating[:, ::1] grad, int n_threads):
    """Returns (sum of weighted row losses, status bits).  Exactly one of labels / target given."""
    cdef sce_int n_rows = z.shape[0], n_classes = z.shape[1]
    cdef int bad = 0, status = SCE_OK
    cdef double total = 0.0
    if (labels is None) == (target is None):
        raise ValueError("give exactly one of labels and target")
    _same_length("labels", labels.shape[0] if labels is not None else n_rows, n_rows)
    _same_length("sw", sw.shape[0] if sw is not None else n_rows, n_rows)
    _same_length("loss", loss.shape[0] if loss is not None else n_rows, n_rows)
    if target is not None:
        _same_shape("target", target.shape[0], target.shape[1], n_rows, n_classes)
    if grad is not None:
        _same_shape("grad", grad.shape[0], grad.shape[1], n_rows, n_classes)
    if n_rows == 0 or n_classes == 0:
        return 0.0, 0
    cdef const int64_t *lab = &labels[0] if labels is not None else NULL
    cdef const floating *tp = &target[0, 0] if target is not None else NULL
    cdef const floating *swp = &sw[0] if sw is not None else NULL
    cdef floating *lp = &loss[0] if loss is not None else NULL
    cdef floating *gp = &grad[0, 0] if grad is not None else NULL
    with nogil:
        if floating is double:
            status = sce_softmax_xent_loss_grad_f64(n_rows, n_classes, &z[0, 0], lab, tp, swp,
                                                    grad_scale, lp, gp, n_threads, &bad, &total)
        else:
            status = sce_softmax_xent_loss_grad_f32(n_rows, n_classes, &z[0, 0], lab, tp, swp,
                                                    <float>grad_scale, lp, gp, n_threads, &bad, &total)
    _check(status)
    return total, bad


# ---- logistic regression passes (csrc/sce_kernels.h: sce_logistic_*) -----------------------------
# X: a C-contiguous 2-D float32 / float64 ndarray, or a scipy.sparse CSR matrix or array of that dtype
# whose indices and indptr are both int32 or both int64 (their contents checked by the caller, see
# sce._sparse).  Every other array is a C-contiguous ndarray of X's dtype unless said otherwise.
# Binary (K == 1) or softmax (K >= 2); grad / out: float64 (K * (d + 1),) =
# [X^T R as (K, d) row-major, column sums of R].

cdef object _F64 = np.dtype(np.float64), _F32 = np.dtype(np.float32)
cdef object _I32 = np.dtype(np.int32), _I64 = np.dtype(np.int64)


cdef void *_buffer(object a, str name, object dtype, tuple shape, bint writable=False) except? NULL:
    """The data of the ndarray a, after checking what a kernel relies on: its dtype, its shape, C
    order and alignment, and for an output that it is writable."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array, not {type(a).__name__}")
    if a.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, not {a.dtype}")
    if a.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, not {a.shape}")
    cdef cnp.ndarray arr = a
    if not (cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)):
        raise ValueError(f"{name} must be C-contiguous and aligned")
    if writable and not cnp.PyArray_ISWRITEABLE(arr):
        raise ValueError(f"{name} must be writable")
    return cnp.PyArray_DATA(arr)


cdef tuple _rows(object X, sce_rows *r):
    """Describe X in r.  Returns (X's dtype, the arrays r points into, to be kept alive)."""
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D, not {X.ndim}-D")
        dtype, keep = X.dtype, X
        r.n, r.d = X.shape
        r.index_bytes = 0
        r.data = r.indices = r.indptr = NULL
    elif getattr(X, "format", None) == "csr" and len(X.shape) == 2:
        data, indices, indptr = keep = (X.data, X.indices, X.indptr)
        if not all(isinstance(a, np.ndarray) for a in keep):
            raise TypeError("X.data, X.indices and X.indptr must be numpy arrays")
        dtype, itype = data.dtype, indices.dtype
        r.n, r.d = X.shape
        if itype not in (_I32, _I64) or indptr.dtype != itype:
            raise TypeError("X.indices and X.indptr must both be int32 or both int64")
        r.index_bytes = itype.itemsize
        r.data = _buffer(data, "X.data", dtype, (data.size,))
        r.indices = _buffer(indices, "X.indices", itype, (data.size,))
        r.indptr = _buffer(indptr, "X.indptr", itype, (r.n + 1,))
        if indptr[0] != 0 or not 0 <= indptr[r.n] <= data.size:
            raise ValueError("X.indptr does not delimit rows of X.indices")
        r.X = NULL
    else:
        raise TypeError(f"X must be a numpy array or a scipy.sparse CSR matrix, not {type(X).__name__}")
    if dtype != _F64 and dtype != _F32:
        raise TypeError(f"X must have dtype float32 or float64, not {dtype}")
    r.dtype = SCE_F64 if dtype == _F64 else SCE_F32
    if r.index_bytes == 0:
        r.X = _buffer(X, "X", dtype, (r.n, r.d))
    return dtype, keep


cdef sce_int _rows_of(object a, str name, int axis) except -1:
    """a.shape[axis] of the 2-D array a (at least 1), which tells the kernel the number of classes."""
    if not isinstance(a, np.ndarray) or a.ndim != 2:
        raise ValueError(f"{name} must be a 2-D numpy array")
    if a.shape[axis] < 1:
        raise ValueError(f"{name} must have at least one class")
    return a.shape[axis]


cdef tuple _curvature_shape(sce_int n, sce_int K):
    """(n,) for binary (K == 1), (n, K) for softmax."""
    if K == 1:
        return (n,)
    return (n, K)


def logistic_eval(X, targets, sw, W, b, grad, curvature, int n_threads):
    """Loss sum sum_i sw_i l_i at (W (K, d), b (K,)); writes grad and the curvature (K == 1: (n,)
    sw sigma (1 - sigma); K >= 2: (n, K) probabilities).  targets: K == 1 (n,) of X's dtype in
    [0, 1]; K >= 2 (n,) int64 labels in [0, K) (a label outside makes the loss NaN)."""
    cdef sce_rows r
    dtype, keep = _rows(X, &r)
    cdef sce_int n = r.n, d = r.d, K = _rows_of(W, "W", 0)
    cdef const void *tp = _buffer(targets, "targets", dtype if K == 1 else _I64, (n,))
    cdef const void *swp = _buffer(sw, "sw", dtype, (n,))
    cdef const void *wp = _buffer(W, "W", dtype, (K, d))
    cdef const void *bp = _buffer(b, "b", dtype, (K,))
    cdef double *gp = <double *>_buffer(grad, "grad", _F64, (K * (d + 1),), True)
    cdef void *cp = _buffer(curvature, "curvature", dtype, _curvature_shape(n, K), True)
    cdef double loss = 0.0
    cdef int status
    with nogil:
        status = sce_logistic_eval(&r, K, tp, swp, wp, bp, gp, cp, n_threads, &loss)
    _check(status)
    return loss


def logistic_hessp(X, sw, curvature, V, vb, out, int n_threads):
    """out = the Hessian of the loss sum times (V (K, d), vb (K,)) at the point whose curvature
    logistic_eval wrote.  sw is not read for K == 1 (the curvature holds it) and may be None."""
    cdef sce_rows r
    dtype, keep = _rows(X, &r)
    cdef sce_int n = r.n, d = r.d, K = _rows_of(V, "V", 0)
    cdef const void *swp = NULL
    if K > 1 or sw is not None:
        swp = _buffer(sw, "sw", dtype, (n,))
    cdef const void *cp = _buffer(curvature, "curvature", dtype, _curvature_shape(n, K))
    cdef const void *vp = _buffer(V, "V", dtype, (K, d))
    cdef const void *vbp = _buffer(vb, "vb", dtype, (K,))
    cdef double *op = <double *>_buffer(out, "out", _F64, (K * (d + 1),), True)
    cdef int status
    with nogil:
        status = sce_logistic_hessp(&r, K, swp, cp, vp, vbp, op, n_threads)
    _check(status)


def logistic_gram(X, weights, bint fit_intercept, out, int n_threads, columns=None):
    """out (dd, dd) float64 = X~^T diag(weights) X~, X~ = [X, 1] with an intercept (dd = d + 1),
    else X (dd = d).  columns (CSR X only): increasing column indices whose Gram matrix to form
    (dd = len(columns) + fit_intercept); None: all."""
    cdef sce_rows r
    dtype, keep = _rows(X, &r)
    cdef sce_int n = r.n, kept = r.d
    cdef const int64_t *mp = NULL
    if columns is not None:
        columns = np.asarray(columns, dtype=np.int64)
        if r.index_bytes == 0 or columns.ndim != 1 or (columns.size and (
                columns[0] < 0 or columns[-1] >= r.d or np.any(np.diff(columns) <= 0))):
            raise ValueError("columns must be increasing column indices of a CSR X")
        kept = columns.size
        column_map = np.full(r.d, -1, dtype=np.int64)
        column_map[columns] = np.arange(kept)
        mp = <const int64_t *>_buffer(column_map, "column map", _I64, (r.d,))
    cdef sce_int dd = kept + (1 if fit_intercept else 0)
    # The kernel's faster path needs strictly increasing column indices: scipy's has_sorted_indices
    # also holds for rows with repeated indices, whose pairs that path would count once.
    cdef bint sorted_indices = r.index_bytes != 0 and bool(X.has_canonical_format)
    cdef const void *wp = _buffer(weights, "weights", dtype, (n,))
    cdef double *op = <double *>_buffer(out, "out", _F64, (dd, dd), True)
    cdef int status
    with nogil:
        status = sce_logistic_gram(&r, wp, fit_intercept, sorted_indices, mp, kept, op, n_threads)
    _check(status)


def logistic_sq_colsums(X, C, out, int n_threads):
    """out = [sum_i C[i, k] x_ij^2 as (K, d), sum_i C[i, k] (K)] for float64 weights C (n, K)."""
    cdef sce_rows r
    dtype, keep = _rows(X, &r)
    cdef sce_int n = r.n, d = r.d, K = _rows_of(C, "C", 1)
    cdef const double *cp = <const double *>_buffer(C, "C", _F64, (n, K))
    cdef double *op = <double *>_buffer(out, "out", _F64, (K * (d + 1),), True)
    cdef int status
    with nogil:
        status = sce_logistic_sq_colsums(&r, K, cp, op, n_threads)
    _check(status)


def l1_quadratic_cd(const double[:, ::1] H, const double[::1] g, const double[::1] x, const double[::1] w,
                    double[::1] z, double[::1] Hz, int max_sweeps, double tol):
    """Coordinate descent on min_z g'z + z'Hz / 2 + sum_j w_j |x_j + z_j| (csrc/sce_prox.c); z and
    Hz = H z updated in place.  Returns the number of sweeps."""
    cdef sce_int m = H.shape[0]
    if H.shape[1] != m or not g.shape[0] == x.shape[0] == w.shape[0] == z.shape[0] == Hz.shape[0] == m:
        raise ValueError("H must be (m, m) and g, x, w, z, Hz of length m")
    if m == 0:
        return 0
    with nogil:
        max_sweeps = sce_l1_quadratic_cd(m, &H[0, 0], &g[0], &x[0], &w[0], &z[0], &Hz[0], max_sweeps, tol)
    if max_sweeps < 0:
        raise MemoryError("a kernel could not allocate its scratch memory")
    return max_sweeps


# ---- sigmoid MLP (csrc/sce_mlp_tmpl.h) ------------------------------------------------------------
# Layer buffers are C-contiguous (n, h), updated in place; biases (h,).

def bias_layer(floating[:, ::1] Z, const floating[::1] b, bint sigmoid, int n_threads):
    """Z = sigmoid(Z + b) (a hidden layer), or Z = Z + b (the output layer), in place."""
    cdef sce_int n = Z.shape[0], h = Z.shape[1]
    cdef int status = SCE_OK
    _same_length("b", b.shape[0], h)
    if n == 0 or h == 0:
        return
    with nogil:
        if floating is double:
            if sigmoid:
                status = sce_bias_sigmoid_f64(n, h, &Z[0, 0], &b[0], n_threads)
            else:
                status = sce_add_bias_f64(n, h, &Z[0, 0], &b[0], n_threads)
        else:
            if sigmoid:
                status = sce_bias_sigmoid_f32(n, h, &Z[0, 0], &b[0], n_threads)
            else:
                status = sce_add_bias_f32(n, h, &Z[0, 0], &b[0], n_threads)
    _check(status)


def sigmoid_backprop(floating[:, ::1] D, const floating[:, ::1] A, floating[::1] db,
                     int n_threads):
    """D *= A (1 - A) in place when A is not None; db = column sums of D."""
    cdef sce_int n = D.shape[0], h = D.shape[1]
    cdef int status = SCE_OK
    _same_length("db", db.shape[0], h)
    if A is not None:
        _same_shape("A", A.shape[0], A.shape[1], n, h)
    if h == 0:
        return
    cdef floating *dp = &D[0, 0] if n > 0 else NULL
    cdef const floating *ap = &A[0, 0] if A is not None and n > 0 else NULL
    with nogil:
        if floating is double:
            status = sce_sigmoid_backprop_f64(n, h, dp, ap, &db[0], n_threads)
        else:
            status = sce_sigmoid_backprop_f32(n, h, dp, ap, &db[0], n_threads)
    _check(status)


def adam_step(floating[::1] p, const floating[::1] g, floating[::1] m, floating[::1] v,
              sce_int n_penalized, double l2, double lr_t, double b1, double b2, double eps):
    """One Adam step over the flat parameters p; returns sum of p[:n_penalized]^2 before it."""
    cdef sce_int n = p.shape[0]
    cdef double sq
    _same_length("g", g.shape[0], n)
    _same_length("m", m.shape[0], n)
    _same_length("v", v.shape[0], n)
    if not 0 <= n_penalized <= n:
        raise ValueError("n_penalized must be in [0, len(p)]")
    if n == 0:
        return 0.0
    with nogil:
        if floating is double:
            sq = sce_adam_step_f64(n, n_penalized, l2, &p[0], &g[0], &m[0], &v[0], lr_t, b1, b2,
                                   eps)
        else:
            sq = sce_adam_step_f32(n, n_penalized, <float>l2, &p[0], &g[0], &m[0], &v[0],
                                   <float>lr_t, <float>b1, <float>b2, <float>eps)
    return sq


def sgd_step(floating[::1] p, const floating[::1] g, floating[::1] u, sce_int n_penalized,
             double l2, double lr, double momentum, bint nesterov):
    """One SGD-with-momentum step over the flat parameters p; returns sum of p[:n_penalized]^2
    before it."""
    cdef sce_int n = p.shape[0]
    cdef double sq
    _same_length("g", g.shape[0], n)
    _same_length("u", u.shape[0], n)
    if not 0 <= n_penalized <= n:
        raise ValueError("n_penalized must be in [0, len(p)]")
    if n == 0:
        return 0.0
    with nogil:
        if floating is double:
            sq = sce_sgd_step_f64(n, n_penalized, l2, &p[0], &g[0], &u[0], lr, momentum, nesterov)
        else:
            sq = sce_sgd_step_f32(n, n_penalized, <float>l2, &p[0], &g[0], &u[0], <float>lr,
                                  <float>momentum, nesterov)
    return sq


# ---- sparse input (csrc/sce_csr_check_tmpl.h) -----------------------------------------------------

ctypedef fused index_t:
    int32_t
    int64_t


def csr_check(const index_t[::1] indices, const index_t[::1] indptr, sce_int d):
    """(problem code, canonical) of a CSR matrix with len(indptr) - 1 rows and d columns (see
    sce_csr_check_* in csrc/sce_kernels.h; code 0: well formed)."""
    cdef sce_int n = indptr.shape[0] - 1, length = indices.shape[0]
    cdef int canonical = 0, code = 0
    cdef const index_t *ip = &indices[0] if length > 0 else NULL
    if n < 0:
        raise ValueError("indptr must not be empty")
    with nogil:
        if index_t is int32_t:
            code = sce_csr_check_i32(n, d, length, ip, &indptr[0], &canonical)
        else:
            code = sce_csr_check_i64(n, d, length, ip, &indptr[0], &canonical)
    return code, bool(canonical)
