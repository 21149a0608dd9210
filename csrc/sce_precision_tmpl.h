/* sce_precision_tmpl.h -- every kernel of one precision: included by sce_kernels.c once for float64
 * and once for float32, with T, T_MAX, SUF, SCE_SQRT, SCE_FABS, T_LN2_LO, T_INT and T_UINT (integers
 * as wide as T) and F(name) defined.  The CSR workers are instantiated once per index type (int32_t
 * and int64_t, as scipy keeps them). */
#include "sce_kernels_tmpl.h"
#include "sce_softmax_tmpl.h"
#include "sce_glm_tmpl.h"
#include "sce_glm_dense_tmpl.h"
#define ITYPE int32_t
#define FI(name) F(SCE_CAT(name, i32))
#include "sce_glm_csr_tmpl.h"
#undef FI
#undef ITYPE
#define ITYPE int64_t
#define FI(name) F(SCE_CAT(name, i64))
#include "sce_glm_csr_tmpl.h"
#undef FI
#undef ITYPE
#include "sce_glm_passes_tmpl.h"
#include "sce_mlp_tmpl.h"
