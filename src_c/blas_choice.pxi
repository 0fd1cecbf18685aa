# Included by every module whose kernels multiply matrices: lets refnn.kernels choose the BLAS
# and steer its threads (src_c/blas.h).

cdef extern from "blas.h" nogil:
    void refnn_limit_blas(size_t set_threads, size_t get_threads)
    void refnn_blas_enter()
    void refnn_blas_leave()
    int refnn_blas_user_threads()
    size_t refnn_blas_limit_address()
    void refnn_share_blas_limit(size_t address)


def use_blas(size_t sgemm64=0, size_t dgemm64=0):
    """Call the ILP64 sgemm/dgemm at these addresses (0, 0: scipy.linalg.cython_blas)."""
    refnn_use_blas(sgemm64, dgemm64)


def limit_blas(size_t set_threads=0, size_t get_threads=0):
    """Steer the BLAS's own threads with the functions at these addresses (its
    openblas_set_num_threads and openblas_get_num_threads; 0, 0: leave them alone): while a
    kernel runs, they are set to 1, and the user's setting is put back after."""
    refnn_limit_blas(set_threads, get_threads)


def blas_user_threads():
    """The BLAS's thread setting as the user has it (0: not known)."""
    return refnn_blas_user_threads()


def blas_limit_address():
    """The address of this module's record of the BLAS's thread setting."""
    return refnn_blas_limit_address()


def share_blas_limit(size_t address):
    """Keep the record at `address` (another module's blas_limit_address()) from now on."""
    refnn_share_blas_limit(address)
