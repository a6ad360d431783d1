/* The float32 matrix product of the BLAS that NumPy or forge_core.gemm runs on.
 *
 * The caller passes the address of that library's cblas_sgemm and whether it takes 64-bit
 * integers (ILP64, as in NumPy's bundled OpenBLAS) or 32-bit ones (LP64, as in MKL's
 * libmkl_rt); forge_core.gemm.blas() finds both. */
#ifndef FORGE_BLAS_H
#define FORGE_BLAS_H

#include <stdint.h>

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm64_fn)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                           int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*sgemm32_fn)(int, int, int, int32_t, int32_t, int32_t, float, const float *,
                           int32_t, const float *, int32_t, float, float *, int32_t);

typedef struct {
    void *function;
    int ilp64;
} Gemm;

/* c = a @ b + beta * c for row-major b (k, n) and a (m, k), or a stored as its transpose (k, m)
 * when trans_a is set. */
static inline void gemm(const Gemm *g, int trans_a, int64_t m, int64_t n, int64_t k,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc)
{
    int ta = trans_a ? TRANS : NO_TRANS;
    if (g->ilp64)
        ((sgemm64_fn)g->function)(ROW_MAJOR, ta, NO_TRANS, m, n, k, 1.0f, a, lda, b, ldb, beta,
                                  c, ldc);
    else
        ((sgemm32_fn)g->function)(ROW_MAJOR, ta, NO_TRANS, (int32_t)m, (int32_t)n, (int32_t)k,
                                  1.0f, a, (int32_t)lda, b, (int32_t)ldb, beta, c,
                                  (int32_t)ldc);
}

#endif
