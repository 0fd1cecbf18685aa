# Included by every module whose kernels multiply matrices: lets refnn.kernels choose the BLAS.

def use_blas(size_t sgemm64=0, size_t dgemm64=0):
    """Call the ILP64 sgemm/dgemm at these addresses (0, 0: scipy.linalg.cython_blas)."""
    refnn_use_blas(sgemm64, dgemm64)
