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

/* The BLAS's own threads, while refnn calls it: one (OpenBLAS's setting is one number for the
 * whole process). The first refnn call to enter saves the user's setting and sets 1; the last
 * to leave puts the user's setting back, so NumPy's threading outside refnn's calls is what
 * the user made it. One record for the process: every module starts with its own and is then
 * pointed at _train's (refnn_share_blas_limit), so that the count of calls inside is one count.
 * refnn_limit_blas() is given the library's openblas_set_num_threads and
 * openblas_get_num_threads (0, 0: a BLAS refnn cannot steer). */
#include <pthread.h>
typedef void (*refnn_set_threads_t)(int);
typedef int (*refnn_get_threads_t)(void);
typedef struct {
    pthread_mutex_t lock;
    refnn_set_threads_t set_threads;
    refnn_get_threads_t get_threads;
    int depth;                       /* refnn calls inside */
    int saved;                       /* the user's setting, while depth > 0 */
} refnn_blas_limit_t;
static refnn_blas_limit_t refnn_blas_limit_own = {PTHREAD_MUTEX_INITIALIZER, NULL, NULL, 0, 1};
static refnn_blas_limit_t* refnn_blas_limit = &refnn_blas_limit_own;

static inline size_t refnn_blas_limit_address(void) { return (size_t) refnn_blas_limit; }
static inline void refnn_share_blas_limit(size_t address) {
    refnn_blas_limit = (refnn_blas_limit_t*) address;
}

static inline void refnn_limit_blas(size_t set_threads, size_t get_threads) {
    refnn_blas_limit_t* B = refnn_blas_limit;
    pthread_mutex_lock(&B->lock);
    B->set_threads = (refnn_set_threads_t) set_threads;
    B->get_threads = (refnn_get_threads_t) get_threads;
    pthread_mutex_unlock(&B->lock);
}

static inline void refnn_blas_enter(void) {
    refnn_blas_limit_t* B = refnn_blas_limit;
    pthread_mutex_lock(&B->lock);
    if (B->depth++ == 0 && B->get_threads != NULL) {
        B->saved = B->get_threads();
        if (B->saved != 1)
            B->set_threads(1);
    }
    pthread_mutex_unlock(&B->lock);
}

static inline void refnn_blas_leave(void) {
    refnn_blas_limit_t* B = refnn_blas_limit;
    pthread_mutex_lock(&B->lock);
    if (--B->depth == 0 && B->set_threads != NULL && B->saved != 1)
        B->set_threads(B->saved);
    pthread_mutex_unlock(&B->lock);
}

/* the BLAS's thread setting as the user has it (not the 1 of refnn's own calls), or 0 */
static inline int refnn_blas_user_threads(void) {
    refnn_blas_limit_t* B = refnn_blas_limit;
    int n = 0;
    pthread_mutex_lock(&B->lock);
    if (B->get_threads != NULL)
        n = B->depth > 0 ? B->saved : B->get_threads();
    pthread_mutex_unlock(&B->lock);
    return n;
}
#endif
