"""Dense-layer kernels: forward, backward, the epsilon recursion.

Notation: h weighted sum, g activation output, epsilon error term dE/dh.
Shapes are batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h and epsilon (n, n_out).
The loops are src_c/_core.pxd's, shared with the training step (src_c/_train.pyx).
Inputs were validated in Python (refnn/kernels.py): arrays are C-contiguous, finite, non-empty,
of one dtype, sizes that fit the BLAS's integers, and the outputs `*_out` are allocated there.
"""
from cython cimport floating
from _core cimport refnn_use_blas
from _core cimport (multiply_derivative, dense_forward_core, weight_gradient_core,
                    bias_gradient_core, input_gradient_core)

include "blas_choice.pxi"


def dense_forward(const floating[:, ::1] g_prev,   # IN  (n, n_in)
                  const floating[:, ::1] W,        # IN  (n_in, n_out)
                  const floating[::1] b,           # IN  (n_out,)
                  floating[:, ::1] h_out):         # OUT (n, n_out)
    """h = g_prev @ W + b"""
    with nogil:
        refnn_blas_enter()                       # the BLAS on one thread (src_c/blas.h)
        dense_forward_core(g_prev.shape[0], g_prev.shape[1], W.shape[1], &g_prev[0, 0],
                           &W[0, 0], &b[0], &h_out[0, 0])
        refnn_blas_leave()


def dense_backward(const floating[:, ::1] g_prev,   # IN  (n, n_in)
                   const floating[:, ::1] W,        # IN  (n_in, n_out)
                   const floating[:, ::1] epsilon,  # IN  (n, n_out)
                   floating[:, ::1] dW_out,         # OUT (n_in, n_out)
                   floating[::1] db_out,            # OUT (n_out,)
                   floating[:, ::1] dg_prev_out):   # OUT (n, n_in)
    """dW = g_prev^T epsilon,  db = sum over samples of epsilon,  dE/dg_prev = epsilon W^T"""
    cdef Py_ssize_t n = g_prev.shape[0], n_in = g_prev.shape[1], n_out = W.shape[1]
    with nogil:
        refnn_blas_enter()
        weight_gradient_core(n, n_in, n_out, &g_prev[0, 0], &epsilon[0, 0], &dW_out[0, 0])
        bias_gradient_core(n, n_out, &epsilon[0, 0], &db_out[0])
        input_gradient_core(n, n_in, n_out, &epsilon[0, 0], &W[0, 0], &dg_prev_out[0, 0])
        refnn_blas_leave()


def epsilon_backward(const floating[:, ::1] epsilon,   # IN  (n, n_out) error terms of this layer
                     const floating[:, ::1] W,         # IN  (n_in, n_out)
                     const floating[:, ::1] g_prev,    # IN  (n, n_in) outputs of the layer below
                     int activation,                   # IN  activation code of the layer below
                     floating[:, ::1] epsilon_prev_out):  # OUT (n, n_in)
    """epsilon_prev = (epsilon W^T) * f'(h_prev),   f' written from g_prev"""
    cdef Py_ssize_t n = g_prev.shape[0], n_in = g_prev.shape[1], n_out = W.shape[1]
    with nogil:
        refnn_blas_enter()
        input_gradient_core(n, n_in, n_out, &epsilon[0, 0], &W[0, 0], &epsilon_prev_out[0, 0])
        refnn_blas_leave()
        multiply_derivative(activation, &g_prev[0, 0], &epsilon_prev_out[0, 0], n * n_in)

