"""Activation kernels: g = f(h), and f'(h) written from the output g.

Inputs were validated in Python (refnn/kernels.py): C-contiguous, finite, one dtype.
"""
from cython cimport floating
from _core cimport (activate, softmax_row, multiply_derivative,
                    LINEAR, SIGMOID, TANH, RELU, SOFTMAX, STEP)

# The compiled enum by name: tests hold refnn/activations.py (the declaration) to it.
ACTIVATION_CODES = {"linear": LINEAR, "sigmoid": SIGMOID, "tanh": TANH,
                    "relu": RELU, "softmax": SOFTMAX, "step": STEP}


def activation_forward(const floating[:, ::1] h,   # IN  (n, k)
                       int activation,             # IN  activation code
                       floating[:, ::1] g_out):    # OUT (n, k)
    """g = f(h);  softmax row by row: g_k = e^(h_k - max h) / sum_j e^(h_j - max h)"""
    cdef Py_ssize_t n = h.shape[0], k = h.shape[1], s
    with nogil:
        if activation == SOFTMAX:
            for s in range(n):
                softmax_row(&h[s, 0], &g_out[s, 0], k)
        else:
            activate(activation, &h[0, 0], &g_out[0, 0], n * k)


def activation_derivative(const floating[:, ::1] g,    # IN  (n, k) outputs g = f(h)
                          int activation,              # IN  activation code (not softmax/step)
                          floating[:, ::1] out):       # OUT (n, k) f'(h)
    """f'(h) from g: sigmoid g(1-g), tanh 1-g^2, relu [g>0], linear 1"""
    cdef Py_ssize_t n = g.shape[0], k = g.shape[1], s, j
    with nogil:
        for s in range(n):
            for j in range(k):
                out[s, j] = 1
        multiply_derivative(activation, &g[0, 0], &out[0, 0], n * k)
