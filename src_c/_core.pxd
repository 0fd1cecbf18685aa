# cython: language_level=3
"""C-level building blocks shared by every kernel module (inline, so no runtime import).

Boundary: nothing here validates anything. The Python layer (refnn/kernels.py) has already
checked shapes, dtypes, finiteness and contiguity; these functions take raw pointers and sizes.

Notation: h weighted sum, g = f(h) activation output, epsilon error term dE/dh.
Matrices are row-major (C order), batch-major: one row per sample.
"""
from cython cimport floating
from libc.math cimport exp, expf, tanh, tanhf, log, logf, log1p, log1pf, fabs, fabsf
from scipy.linalg.cython_blas cimport sgemm, dgemm

from libc.stdint cimport int64_t
from libc.string cimport memcpy

cdef extern from "simd_math.h":
    pass                  # vector exp/tanh from libmvec where available (see the header)

cdef extern from "blas.h":
    ctypedef void (*refnn_sgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                                     const int64_t*, const float*, const float*, const int64_t*,
                                     const float*, const int64_t*, const float*, float*,
                                     const int64_t*) noexcept nogil
    ctypedef void (*refnn_dgemm64_t)(const char*, const char*, const int64_t*, const int64_t*,
                                     const int64_t*, const double*, const double*,
                                     const int64_t*, const double*, const int64_t*,
                                     const double*, double*, const int64_t*) noexcept nogil
    refnn_sgemm64_t refnn_sgemm64
    refnn_dgemm64_t refnn_dgemm64
    void refnn_use_blas(size_t sgemm64, size_t dgemm64)


# Activation codes: refnn/activations.py declares each activation with its code (a test holds
# the two together).
cdef enum:
    LINEAR = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    SOFTMAX = 4
    STEP = 5


# ---------------------------------------------------------------- scalar maths in the fused type
cdef inline floating c_exp(floating x) noexcept nogil:
    if floating is float:
        return expf(x)
    else:
        return exp(x)


cdef inline floating c_log(floating x) noexcept nogil:
    if floating is float:
        return logf(x)
    else:
        return log(x)


cdef inline floating c_log1p(floating x) noexcept nogil:
    if floating is float:
        return log1pf(x)
    else:
        return log1p(x)


cdef inline floating c_abs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline floating c_tanh(floating x) noexcept nogil:
    if floating is float:
        return tanhf(x)
    else:
        return tanh(x)


cdef inline floating sigmoid(floating h) noexcept nogil:
    """g = 1 / (1 + e^-h), from z = e^-|h| <= 1 so that nothing overflows:
    h >= 0: 1 / (1 + z);   h < 0: z / (1 + z)."""
    cdef floating z = c_exp(-c_abs(h))
    cdef floating numerator = 1 if h >= 0 else z       # a select, not a branch: it vectorises
    return numerator / (1 + z)


# ---------------------------------------------------------------- activations on a vector
cdef inline void activate(int activation, const floating* h, floating* g_out,
                          Py_ssize_t n) noexcept nogil:
    """g = f(h) elementwise, for every activation but softmax (a row operation, see softmax_row)."""
    cdef Py_ssize_t j
    if activation == SIGMOID:
        for j in range(n):
            g_out[j] = sigmoid(h[j])
    elif activation == TANH:
        for j in range(n):
            g_out[j] = c_tanh(h[j])
    elif activation == RELU:
        for j in range(n):
            g_out[j] = h[j] if h[j] > 0 else 0            # g = max(h, 0)
    elif activation == STEP:
        for j in range(n):
            g_out[j] = 1 if h[j] >= 0 else 0              # McCulloch-Pitts: fire when h >= 0
    else:  # LINEAR
        for j in range(n):
            g_out[j] = h[j]


cdef inline void softmax_row(const floating* h, floating* g_out, Py_ssize_t k) noexcept nogil:
    """g_k = e^(h_k - max h) / sum_j e^(h_j - max h)   (shifted by the max: no overflow)"""
    cdef Py_ssize_t j
    cdef floating m = h[0]
    cdef floating s = 0
    for j in range(1, k):
        if h[j] > m:
            m = h[j]
    for j in range(k):
        g_out[j] = c_exp(h[j] - m)
        s += g_out[j]
    s = 1 / s
    for j in range(k):
        g_out[j] *= s


cdef inline void multiply_derivative(int activation, const floating* g, floating* x,
                                     Py_ssize_t n) noexcept nogil:
    """x *= f'(h), with f' written from the output g:
    sigmoid g(1-g), tanh 1-g^2, relu [g>0] (= [h>0]), linear 1."""
    cdef Py_ssize_t j
    if activation == SIGMOID:
        for j in range(n):
            x[j] *= g[j] * (1 - g[j])
    elif activation == TANH:
        for j in range(n):
            x[j] *= 1 - g[j] * g[j]
    elif activation == RELU:
        for j in range(n):
            x[j] = x[j] if g[j] > 0 else 0


# ---------------------------------------------------------------- BLAS in row-major terms
cdef inline void gemm(bint trans_a, bint trans_b, Py_ssize_t m, Py_ssize_t n, Py_ssize_t k,
                      floating alpha, const floating* A, Py_ssize_t lda,
                      const floating* B, Py_ssize_t ldb,
                      floating beta, floating* C, Py_ssize_t ldc) noexcept nogil:
    """C (m, n) = alpha op(A) op(B) + beta C for row-major arrays; op(A) is (m, k), op(B) (k, n).
    lda, ldb, ldc are the row lengths of A, B, C as stored.

    Column-major BLAS sees a row-major matrix as its transpose, so it is asked for
    C^T = op(B)^T op(A)^T: the operands swap places, and each keeps its transpose flag.
    The sizes fit the BLAS's integers: refnn.kernels checked them (32 bits for scipy's)."""
    cdef char ta = b'T' if trans_a else b'N'
    cdef char tb = b'T' if trans_b else b'N'
    cdef int64_t m64 = m, n64 = n, k64 = k, lda64 = lda, ldb64 = ldb, ldc64 = ldc
    cdef int m32 = <int> m, n32 = <int> n, k32 = <int> k
    cdef int lda32 = <int> lda, ldb32 = <int> ldb, ldc32 = <int> ldc
    if floating is float:
        if refnn_sgemm64 != NULL:           # NumPy's OpenBLAS (64-bit integers)
            refnn_sgemm64(&tb, &ta, &n64, &m64, &k64, &alpha, B, &ldb64, A, &lda64,
                          &beta, C, &ldc64)
        else:
            sgemm(&tb, &ta, &n32, &m32, &k32, &alpha, <float*> B, &ldb32, <float*> A, &lda32,
                  &beta, C, &ldc32)
    else:
        if refnn_dgemm64 != NULL:
            refnn_dgemm64(&tb, &ta, &n64, &m64, &k64, &alpha, B, &ldb64, A, &lda64,
                          &beta, C, &ldc64)
        else:
            dgemm(&tb, &ta, &n32, &m32, &k32, &alpha, <double*> B, &ldb32, <double*> A, &lda32,
                  &beta, C, &ldc32)


# ---------------------------------------------------------------- the dense layer's loops
# Shared by the per-kernel entry points (src_c/_dense.pyx) and the training step
# (src_c/_train.pyx). Batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h (n, n_out).

cdef inline void dense_forward_core(Py_ssize_t n, Py_ssize_t n_in, Py_ssize_t n_out,
                                    const floating* g_prev,      # IN  (n, n_in)
                                    const floating* W,           # IN  (n_in, n_out)
                                    const floating* b,           # IN  (n_out,)
                                    floating* h_out,             # OUT (n, n_out)
                                    ) noexcept nogil:
    """h = g_prev W + b   (the bias row copied into each sample, then one gemm adds g_prev W)"""
    cdef Py_ssize_t s
    for s in range(n):
        memcpy(h_out + s * n_out, b, n_out * sizeof(floating))
    gemm(False, False, n, n_out, n_in, 1, g_prev, n_in, W, n_out, 1, h_out, n_out)


cdef inline void weight_gradient_core(Py_ssize_t n, Py_ssize_t n_in, Py_ssize_t n_out,
                                      const floating* g_prev,    # IN  (n, n_in)
                                      const floating* epsilon,   # IN  (n, n_out)
                                      floating* dW_out,          # OUT (n_in, n_out)
                                      ) noexcept nogil:
    """dW = g_prev^T epsilon   (one gemm)"""
    gemm(True, False, n_in, n_out, n, 1, g_prev, n_in, epsilon, n_out, 0, dW_out, n_out)


cdef inline void bias_gradient_core(Py_ssize_t n, Py_ssize_t n_out,
                                    const floating* epsilon,     # IN  (n, n_out)
                                    floating* db_out,            # OUT (n_out,)
                                    ) noexcept nogil:
    """db = sum over the samples of epsilon   (row by row: contiguous, vectorised)"""
    cdef Py_ssize_t s, j
    for j in range(n_out):
        db_out[j] = 0
    for s in range(n):
        for j in range(n_out):
            db_out[j] += epsilon[s * n_out + j]


cdef inline void input_gradient_core(Py_ssize_t n, Py_ssize_t n_in, Py_ssize_t n_out,
                                     const floating* epsilon,    # IN  (n, n_out)
                                     const floating* W,          # IN  (n_in, n_out)
                                     floating* dg_prev_out,      # OUT (n, n_in)
                                     ) noexcept nogil:
    """dE/dg_prev = epsilon W^T   (one gemm; times f'(h_prev) it is epsilon_prev)"""
    gemm(False, True, n, n_in, n_out, 1, epsilon, n_out, W, n_out, 0, dg_prev_out, n_in)
