"""The textbook's per-sample backpropagation, whole, in C (DESIGN.md, steps 2.1-2.5).

For each training sample (x, y), in order, with no Python call per sample:
  2.1 forward:   g_0 = x;  h_l = g_{l-1} W_l + b_l;  g_l = f(h_l)
  2.2 output:    epsilon_L = (yhat - y) f'(h_L)            E = 1/2 sum_k (yhat_k - y_k)^2
  2.3 inwards:   epsilon_{l-1} = (epsilon_l W_l^T) f'(h_{l-1})   (with the weights before the update)
  2.5 update:    W_l <- W_l - eta g_{l-1}^T epsilon_l,   b_l <- b_l - eta epsilon_l

Why loops and not gemv/ger: at one sample the products are matrix-vector, and BLAS's call
overhead is of the order of the work for the small layers. Written row by row over W (n_in,
n_out), row-major, both the forward step h += g_i W[i, :] and the update W[i, :] -= eta g_i
epsilon are contiguous axpy loops that the compiler vectorises, and an input g_i = 0 (half of
an MNIST image) contributes nothing to h and receives no update: its row is skipped in both.
The NumPy twin (refnn.reference.vectorized.sgd_per_sample) is the oracle for these loops.

Inputs were validated in Python (refnn/kernels.py): C-contiguous, finite, one dtype, matching
sizes; the weights are updated in place.
"""
from cython cimport floating
from libc.stdlib cimport malloc, free
from _core cimport activate, multiply_derivative


cdef inline Py_ssize_t nonzero_indices(const floating* g, Py_ssize_t n,
                                        int* nz_out) noexcept nogil:
    """nz_out[0:count] = the indices i with g_i != 0, in order; returns count.
    Written without a branch: with inputs zero at random, a branch per input mispredicts
    half the time, and that cost more than the arithmetic it saved."""
    cdef Py_ssize_t i, count = 0
    for i in range(n):
        nz_out[count] = <int> i
        count += g[i] != 0
    return count


cdef inline void add_rows(floating* h, const floating* W, Py_ssize_t n_out,
                          const floating* g, const int* nz, Py_ssize_t n_nz) noexcept nogil:
    """h += sum over i in nz of g_i W[i, :]   (four rows per pass over h, added in the same
    order as one row at a time: the rounding is that of the plain loop)"""
    cdef Py_ssize_t k = 0, j
    cdef const floating* r0
    cdef const floating* r1
    cdef const floating* r2
    cdef const floating* r3
    cdef floating a0, a1, a2, a3
    while k + 4 <= n_nz:
        a0 = g[nz[k]]; a1 = g[nz[k + 1]]; a2 = g[nz[k + 2]]; a3 = g[nz[k + 3]]
        r0 = W + nz[k] * n_out
        r1 = W + nz[k + 1] * n_out
        r2 = W + nz[k + 2] * n_out
        r3 = W + nz[k + 3] * n_out
        for j in range(n_out):
            h[j] = (((h[j] + a0 * r0[j]) + a1 * r1[j]) + a2 * r2[j]) + a3 * r3[j]
        k += 4
    while k < n_nz:
        a0 = g[nz[k]]
        r0 = W + nz[k] * n_out
        for j in range(n_out):
            h[j] += a0 * r0[j]
        k += 1


cdef void sgd_per_sample_core(Py_ssize_t n_layers,
                              const Py_ssize_t* sizes,    # IN  n_0 .. n_L
                              floating** W,               # IN/OUT W_l (n_{l-1}, n_l), l = 1..L
                              floating** b,               # IN/OUT b_l (n_l,)
                              const floating* X,          # IN  (n_samples, n_0)
                              const floating* Y,          # IN  (n_samples, n_L)
                              Py_ssize_t n_samples,
                              floating eta,
                              int activation,
                              floating** g,               # WORK g_l (n_l,), l = 1..L
                              floating** epsilon,         # WORK epsilon_l (n_l,)
                              int** nz,                   # WORK indices of g_{l-1} != 0
                              Py_ssize_t* count,          # WORK how many
                              floating* E_out,            # OUT (n_samples,)
                              ) noexcept nogil:
    cdef Py_ssize_t s, l, i, j, k, n_in, n_out, n_nz
    cdef const floating* x
    cdef const floating* y
    cdef const floating* g_prev
    cdef floating* row
    cdef floating* h
    cdef floating* eps
    cdef floating gi, acc, r, E
    cdef Py_ssize_t L = n_layers
    for s in range(n_samples):
        x = X + s * sizes[0]
        y = Y + s * sizes[L]
        # 2.1 forward pass: h_l = b_l + sum_i g_i W_l[i, :], then g_l = f(h_l) in place
        g_prev = x
        for l in range(L):
            n_in = sizes[l]
            n_out = sizes[l + 1]
            h = g[l]
            n_nz = nonzero_indices(g_prev, n_in, nz[l])
            for j in range(n_out):
                h[j] = b[l][j]
            add_rows(h, W[l], n_out, g_prev, nz[l], n_nz)
            activate(activation, h, h, n_out)
            g_prev = h
            count[l] = n_nz
        # 2.2 output error: epsilon_k = (yhat_k - y_k) f'(h_k);   E = 1/2 sum_k (yhat_k - y_k)^2
        n_out = sizes[L]
        eps = epsilon[L - 1]
        E = 0
        for j in range(n_out):
            r = g[L - 1][j] - y[j]
            E += r * r
            eps[j] = r
        multiply_derivative(activation, g[L - 1], eps, n_out)
        E_out[s] = E / 2
        # 2.3-2.4 hidden layers, output side inwards: epsilon_j = (sum_k epsilon_k w_jk) f'(h_j)
        for l in range(L - 1, 0, -1):
            n_in = sizes[l]
            n_out = sizes[l + 1]
            for i in range(n_in):
                row = W[l] + i * n_out
                acc = 0
                for j in range(n_out):
                    acc += row[j] * epsilon[l][j]
                epsilon[l - 1][i] = acc
            multiply_derivative(activation, g[l - 1], epsilon[l - 1], n_in)
        # 2.5 update: w_ij <- w_ij - eta epsilon_j g_i  (the bias is the weight of a constant 1)
        g_prev = x
        for l in range(L):
            n_out = sizes[l + 1]
            eps = epsilon[l]
            for k in range(count[l]):                   # the rows of the inputs g_i != 0
                i = nz[l][k]
                gi = eta * g_prev[i]
                row = W[l] + i * n_out
                for j in range(n_out):
                    row[j] -= gi * eps[j]
            for j in range(n_out):
                b[l][j] -= eta * eps[j]
            g_prev = g[l]


def sgd_per_sample(list weights,                   # IN/OUT [W1, b1, W2, b2, ...], updated in place
                   const floating[:, ::1] X,       # IN  (n_samples, n_0)
                   const floating[:, ::1] Y,       # IN  (n_samples, n_L)
                   double eta,                     # IN  learning rate
                   int activation,                 # IN  activation code of every layer
                   floating[::1] E_out):           # OUT (n_samples,) E of each sample before its update
    """Per-sample SGD over the data set, in order: the textbook algorithm, steps 2.1-2.5."""
    cdef Py_ssize_t L = len(weights) // 2, l, n_values = 0, n_indices = 0
    cdef floating[:, ::1] W_l
    cdef floating[::1] b_l
    # one block each: sizes and counts; the pointers W, b, g, epsilon; the values g_l and
    # epsilon_l; the nonzero-input index lists of every layer
    cdef Py_ssize_t* sizes = <Py_ssize_t*> malloc((2 * L + 1) * sizeof(Py_ssize_t))
    cdef floating** W = <floating**> malloc(4 * L * sizeof(floating*))
    cdef int** nz = <int**> malloc(L * sizeof(int*))
    cdef floating* values = NULL
    cdef int* indices = NULL
    try:
        if sizes == NULL or W == NULL or nz == NULL:
            raise MemoryError()
        sizes[0] = X.shape[1]
        for l in range(L):
            W_l = weights[2 * l]
            b_l = weights[2 * l + 1]
            W[l] = &W_l[0, 0]                 # W_l (n_{l-1}, n_l)
            W[L + l] = &b_l[0]                # b_l (n_l,)
            sizes[l + 1] = W_l.shape[1]
            n_values += 2 * sizes[l + 1]
            n_indices += sizes[l]
        values = <floating*> malloc(n_values * sizeof(floating))
        indices = <int*> malloc(n_indices * sizeof(int))
        if values == NULL or indices == NULL:
            raise MemoryError()
        n_values = 0
        n_indices = 0
        for l in range(L):
            W[2 * L + l] = values + n_values                   # g_l
            W[3 * L + l] = values + n_values + sizes[l + 1]    # epsilon_l
            n_values += 2 * sizes[l + 1]
            nz[l] = indices + n_indices
            n_indices += sizes[l]
        with nogil:
            sgd_per_sample_core(L, sizes, W, W + L, &X[0, 0], &Y[0, 0], X.shape[0],
                                <floating> eta, activation, W + 2 * L, W + 3 * L,
                                nz, sizes + L + 1, &E_out[0])
    finally:
        free(indices)
        free(values)
        free(nz)
        free(W)
        free(sizes)
