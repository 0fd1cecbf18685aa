/* Which BLAS the kernels' matrix products call.
 *
 * By default the gemm of scipy.linalg.cython_blas (scipy's OpenBLAS, 32-bit integers). When
 * refnn.kernels finds NumPy's own OpenBLAS (a newer build, measured faster in float32), it
 * passes the addresses of its ILP64 sgemm/dgemm here with refnn_use_blas(), once per module:
 * every module compiled from src_c keeps its own copy of these two pointers.
 */
#ifndef REFNN_BLAS_H
#define REFNN_BLAS_H
#include <stdint.h>
#include <stddef.h>

typedef void (*refnn_sgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                                const int64_t*, const float*, const float*, const int64_t*,
                                const float*, const int64_t*, const float*, float*,
                                const int64_t*);
typedef void (*refnn_dgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                                const int64_t*, const double*, const double*, const int64_t*,
                                const double*, const int64_t*, const double*, double*,
                                const int64_t*);

static refnn_sgemm64_t refnn_sgemm64 = NULL;
static refnn_dgemm64_t refnn_dgemm64 = NULL;

static inline void refnn_use_blas(size_t sgemm64, size_t dgemm64) {
    refnn_sgemm64 = (refnn_sgemm64_t) sgemm64;
    refnn_dgemm64 = (refnn_dgemm64_t) dgemm64;
}
#endif
