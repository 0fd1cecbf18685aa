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

/* The BLAS's own threads, while refnn's threads call it: one each (OpenBLAS's setting is one
 * number for the whole process). The first refnn call to enter saves the user's setting and
 * sets 1; the last to leave puts the user's setting back, so NumPy's threading outside refnn's
 * calls is what the user made it. refnn_limit_blas() is given the library's
 * openblas_set_num_threads / openblas_get_num_threads (0, 0: a BLAS refnn cannot steer). */
#include <pthread.h>
typedef void (*refnn_set_threads_t)(int);
typedef int (*refnn_get_threads_t)(void);
static refnn_set_threads_t refnn_blas_set_threads = NULL;
static refnn_get_threads_t refnn_blas_get_threads = NULL;
static pthread_mutex_t refnn_blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int refnn_blas_depth = 0, refnn_blas_saved = 1;

static inline void refnn_limit_blas(size_t set_threads, size_t get_threads) {
    pthread_mutex_lock(&refnn_blas_lock);
    refnn_blas_set_threads = (refnn_set_threads_t) set_threads;
    refnn_blas_get_threads = (refnn_get_threads_t) get_threads;
    pthread_mutex_unlock(&refnn_blas_lock);
}

static inline void refnn_blas_enter(void) {
    pthread_mutex_lock(&refnn_blas_lock);
    if (refnn_blas_depth++ == 0 && refnn_blas_get_threads != NULL) {
        refnn_blas_saved = refnn_blas_get_threads();
        if (refnn_blas_saved != 1)
            refnn_blas_set_threads(1);
    }
    pthread_mutex_unlock(&refnn_blas_lock);
}

static inline void refnn_blas_leave(void) {
    pthread_mutex_lock(&refnn_blas_lock);
    if (--refnn_blas_depth == 0 && refnn_blas_set_threads != NULL && refnn_blas_saved != 1)
        refnn_blas_set_threads(refnn_blas_saved);
    pthread_mutex_unlock(&refnn_blas_lock);
}

/* the BLAS's thread setting as the user has it (not the 1 of refnn's own calls), or 0 */
static inline int refnn_blas_user_threads(void) {
    int n = 0;
    pthread_mutex_lock(&refnn_blas_lock);
    if (refnn_blas_get_threads != NULL)
        n = refnn_blas_depth > 0 ? refnn_blas_saved : refnn_blas_get_threads();
    pthread_mutex_unlock(&refnn_blas_lock);
    return n;
}
#endif
