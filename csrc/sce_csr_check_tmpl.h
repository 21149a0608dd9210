/* sce_csr_check_tmpl.h -- structure check of a compressed sparse matrix, for one index type.
 * Included by sce_kernels.c with ITYPE (int32_t or int64_t) and CK(name) (name suffixed _i32 / _i64).
 *
 * A CSR matrix (n rows over d columns; CSC: the transpose) is checked before any kernel indexes a
 * coefficient vector with it: scipy checks indices when it builds a matrix, not after a user writes
 * into its arrays.  indptr is checked whole before any index is read through it.  *canonical:
 * column indices strictly increasing within every row (sorted, no duplicate entries, whose values
 * scipy adds). */
int CK(sce_csr_check)(sce_int n, sce_int d, sce_int len, const ITYPE *indices, const ITYPE *indptr,
                      int *canonical)
{
    *canonical = 0;
    if (indptr[0] != 0)
        return SCE_CSR_BAD_START;
    int decreasing = 0;
    for (sce_int i = 0; i < n; i++)
        decreasing |= indptr[i + 1] < indptr[i];
    if (decreasing)
        return SCE_CSR_DECREASING;
    if ((sce_int)indptr[n] > len)
        return SCE_CSR_PAST_END;
    /* Over the whole index array at once (vectorizable): min, max, and the positions where an index
     * is not above the one before; such a position is allowed only where a row starts.  Canonical
     * when every one of them is a row start. */
    const sce_int nnz = (sce_int)indptr[n];
    ITYPE lo = 0, hi = 0;
    sce_int not_above = 0, at_row_starts = 0;
    if (nnz > 0)
        lo = hi = indices[0];
    for (sce_int a = 1; a < nnz; a++) {
        const ITYPE j = indices[a];
        lo = j < lo ? j : lo;
        hi = j > hi ? j : hi;
        not_above += j <= indices[a - 1];
    }
    for (sce_int i = 1; i < n; i++) { /* each start counted once: empty rows share it */
        const sce_int a = (sce_int)indptr[i];
        at_row_starts += a > (sce_int)indptr[i - 1] && a < nnz && indices[a] <= indices[a - 1];
    }
    const int increasing = not_above == at_row_starts;
    if (lo < 0)
        return SCE_CSR_NEGATIVE_INDEX;
    if ((sce_int)hi >= d && indptr[n] > 0)
        return SCE_CSR_INDEX_TOO_LARGE;
    *canonical = increasing;
    return 0;
}
