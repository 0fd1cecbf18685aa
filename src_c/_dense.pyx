"""Dense-layer kernels: forward, backward, the epsilon recursion, the plain SGD update.

Notation: h weighted sum, g activation output, epsilon error term dE/dh, eta learning rate.
Shapes are batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h and epsilon (n, n_out).
Inputs were validated in Python (refnn/kernels.py): arrays are C-contiguous, finite, non-empty,
of one dtype, and the outputs `*_out` are allocated there with the right shapes.
"""
from cython cimport floating
from _core cimport refnn_use_blas
from _core cimport gemm, multiply_derivative
from _updates cimport sgd_rule


def dense_forward(const floating[:, ::1] g_prev,   # IN  (n, n_in)
                  const floating[:, ::1] W,        # IN  (n_in, n_out)
                  const floating[::1] b,           # IN  (n_out,)
                  floating[:, ::1] h_out):         # OUT (n, n_out)
    """h = g_prev @ W + b   (the bias row copied into each sample, then one gemm adds g_prev W)"""
    cdef Py_ssize_t n = g_prev.shape[0], n_in = g_prev.shape[1], n_out = W.shape[1], s, j
    with nogil:
        for s in range(n):
            for j in range(n_out):
                h_out[s, j] = b[j]
        gemm(False, False, <int> n, <int> n_out, <int> n_in,
             1, &g_prev[0, 0], <int> n_in, &W[0, 0], <int> n_out,
             1, &h_out[0, 0], <int> n_out)


def dense_backward(const floating[:, ::1] g_prev,   # IN  (n, n_in)
                   const floating[:, ::1] W,        # IN  (n_in, n_out)
                   const floating[:, ::1] epsilon,  # IN  (n, n_out)
                   floating[:, ::1] dW_out,         # OUT (n_in, n_out)
                   floating[::1] db_out,            # OUT (n_out,)
                   floating[:, ::1] dg_prev_out):   # OUT (n, n_in)
    """dW = g_prev^T epsilon,  db = sum over samples of epsilon,  dE/dg_prev = epsilon W^T"""
    cdef Py_ssize_t n = g_prev.shape[0], n_in = g_prev.shape[1], n_out = W.shape[1], s, j
    with nogil:
        gemm(True, False, <int> n_in, <int> n_out, <int> n,
             1, &g_prev[0, 0], <int> n_in, &epsilon[0, 0], <int> n_out,
             0, &dW_out[0, 0], <int> n_out)
        for j in range(n_out):
            db_out[j] = 0
        for s in range(n):
            for j in range(n_out):
                db_out[j] += epsilon[s, j]
        gemm(False, True, <int> n, <int> n_in, <int> n_out,
             1, &epsilon[0, 0], <int> n_out, &W[0, 0], <int> n_out,
             0, &dg_prev_out[0, 0], <int> n_in)


def epsilon_backward(const floating[:, ::1] epsilon,   # IN  (n, n_out) error terms of this layer
                     const floating[:, ::1] W,         # IN  (n_in, n_out)
                     const floating[:, ::1] g_prev,    # IN  (n, n_in) outputs of the layer below
                     int activation,                   # IN  activation code of the layer below
                     floating[:, ::1] epsilon_prev_out):  # OUT (n, n_in)
    """epsilon_prev = (epsilon W^T) * f'(h_prev),   f' written from g_prev"""
    cdef Py_ssize_t n = g_prev.shape[0], n_in = g_prev.shape[1], n_out = W.shape[1]
    with nogil:
        gemm(False, True, <int> n, <int> n_in, <int> n_out,
             1, &epsilon[0, 0], <int> n_out, &W[0, 0], <int> n_out,
             0, &epsilon_prev_out[0, 0], <int> n_in)
        multiply_derivative(activation, &g_prev[0, 0], &epsilon_prev_out[0, 0], n * n_in)


def sgd_update(floating[::1] w,              # IN/OUT parameters, flattened
               const floating[::1] grad,     # IN  dE/dw, flattened
               double eta):                  # IN  learning rate
    """w <- w - eta * dE/dw   (the loop: src_c/_updates.pxd, shared with the training step)"""
    if w.shape[0] == 0:
        return
    with nogil:
        sgd_rule(&w[0], &grad[0], w.shape[0], eta)


include "blas_choice.pxi"
