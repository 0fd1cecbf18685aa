"""Output-layer kernels: the loss of each sample and the output error term epsilon = dE/dh.

Fused where the maths allows: softmax + categorical cross-entropy and sigmoid + binary
cross-entropy both give epsilon = yhat - y, computed from the logits h so that no finite
logit overflows and no log(0) is ever taken. The slide's squared error keeps the derivative
factor: epsilon = (yhat - y) f'(h).

Inputs were validated in Python (refnn/kernels.py): C-contiguous, finite, one dtype, same shapes.
"""
from cython cimport floating
from _core cimport c_exp, c_log, c_log1p, c_abs, sigmoid, multiply_derivative


def softmax_crossentropy(const floating[:, ::1] h,      # IN  (n, k) logits
                         const floating[:, ::1] y,      # IN  (n, k) targets
                         floating[::1] loss_out,        # OUT (n,)
                         floating[:, ::1] epsilon_out): # OUT (n, k)
    """loss = sum_k y_k (log sum_j e^(h_j - max h) - (h_k - max h)) = -sum_k y_k log softmax(h)_k;
    epsilon = softmax(h) * sum_k y_k - y   (= yhat - y for a one-hot target)"""
    cdef Py_ssize_t n = h.shape[0], k = h.shape[1], s, j
    cdef floating m, total, scale
    cdef double log_total, y_sum, loss  # the loss accumulates in double: no float32 overflow
    with nogil:
        for s in range(n):
            m = h[s, 0]
            for j in range(1, k):
                if h[s, j] > m:
                    m = h[s, j]
            total = 0
            for j in range(k):
                epsilon_out[s, j] = c_exp(h[s, j] - m)  # e^(h_j - max h) <= 1: no overflow
                total += epsilon_out[s, j]
            log_total = c_log(<double> total)           # logsumexp(h) - max h, in [0, log k]
            loss = 0
            y_sum = 0
            for j in range(k):
                if y[s, j] != 0:                        # a zero target adds nothing, even for h = -huge
                    # -log softmax_k = log_total - (h_k - max h): both terms small, no
                    # cancellation against max h
                    loss += y[s, j] * (log_total - (<double> h[s, j] - m))
                y_sum += y[s, j]
            loss_out[s] = <floating> loss
            scale = <floating> (y_sum / total)
            for j in range(k):
                epsilon_out[s, j] = epsilon_out[s, j] * scale - y[s, j]   # softmax(h) sum(y) - y


def sigmoid_binary_crossentropy(const floating[:, ::1] h,      # IN  (n, k) logits
                                const floating[:, ::1] y,      # IN  (n, k) targets in [0, 1]
                                floating[::1] loss_out,        # OUT (n,) summed over outputs
                                floating[:, ::1] epsilon_out): # OUT (n, k)
    """loss = sum_k max(h,0) - h y + log(1 + e^-|h|)   (= -y log yhat - (1-y) log(1-yhat));
    epsilon = sigmoid(h) - y"""
    cdef Py_ssize_t n = h.shape[0], k = h.shape[1], s, j
    cdef double loss, hj
    with nogil:
        for s in range(n):
            loss = 0
            for j in range(k):
                hj = h[s, j]
                loss += (hj if hj > 0 else 0) - hj * y[s, j] + c_log1p(c_exp(-c_abs(hj)))
                epsilon_out[s, j] = sigmoid(h[s, j]) - y[s, j]
            loss_out[s] = <floating> loss


def squared_error_output(const floating[:, ::1] g,       # IN  (n, k) network outputs yhat
                         const floating[:, ::1] y,       # IN  (n, k) targets
                         int activation,                 # IN  output activation code
                         floating[::1] E_out,            # OUT (n,)
                         floating[:, ::1] epsilon_out):  # OUT (n, k)
    """E = 1/2 sum_k (yhat_k - y_k)^2;   epsilon_k = (yhat_k - y_k) f'(h_k)
    (the slide's sigmoid output: epsilon_k = (yhat_k - y_k) yhat_k (1 - yhat_k))"""
    cdef Py_ssize_t n = g.shape[0], k = g.shape[1], s, j
    cdef double E, r
    with nogil:
        for s in range(n):
            E = 0
            for j in range(k):
                r = <double> g[s, j] - y[s, j]
                E += r * r
                epsilon_out[s, j] = <floating> r
            E_out[s] = <floating> (0.5 * E)
        multiply_derivative(activation, &g[0, 0], &epsilon_out[0, 0], n * k)
