# cython: language_level=3
"""The output layer's loops: each sample's loss and the output error term epsilon = dE/dh
(inline, so no runtime import). Shared by the per-kernel entry points (src_c/_losses.pyx: the
sum over outputs, epsilon of one sample) and the training step (src_c/_train.pyx: Keras's mean
over outputs and samples), which differ only in the divisors passed here; a divisor of 1 is
exact, so each caller gets the numbers of its own formula.

Fused where the maths allows: softmax + categorical cross-entropy and sigmoid + binary
cross-entropy both give epsilon = yhat - y, computed from the logits h so that no finite logit
overflows and no log(0) is ever taken. Squared error keeps the derivative factor f'(h).

Boundary: nothing here validates anything. Arrays are (n, k), row-major.
"""
from cython cimport floating
from _core cimport c_exp, c_log, c_log1p, c_abs, sigmoid, multiply_derivative


cdef inline floating row_max(const floating* h, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating mx = h[0]
    for j in range(1, k):
        if h[j] > mx:
            mx = h[j]
    return mx


cdef inline void softmax_crossentropy_core(
        Py_ssize_t n, Py_ssize_t k,
        const floating* h,            # IN  (n, k) logits
        const floating* y,            # IN  (n, k) targets
        double epsilon_divisor,       # IN  1 (per sample), or n (of the mean over the batch)
        floating* loss_out,           # OUT (n,)
        floating* epsilon_out,        # OUT (n, k)
        floating* yhat_out,           # OUT (n, k) softmax(h), or NULL
        ) noexcept nogil:
    """loss = sum_k y_k (log sum_j e^(h_j - max h) - (h_k - max h)) = -sum_k y_k log softmax(h)_k;
    epsilon = (softmax(h) sum_k y_k - y) / epsilon_divisor   (= yhat - y for a one-hot target)"""
    cdef Py_ssize_t s, j
    cdef floating mx, total, scale, inv
    cdef double log_total, y_sum, loss      # accumulated in double: no float32 overflow
    cdef const floating* hs
    cdef const floating* ys
    cdef floating* es
    # e^(h - max h) for the whole batch first: one loop over n k values vectorises fully,
    # where rows of a few classes would each leave a scalar tail
    for s in range(n):
        hs = h + s * k
        es = epsilon_out + s * k
        mx = row_max(hs, k)
        for j in range(k):
            es[j] = hs[j] - mx
    for j in range(n * k):
        epsilon_out[j] = c_exp(epsilon_out[j])                # e^(h_j - max h) <= 1
    for s in range(n):
        hs = h + s * k
        es = epsilon_out + s * k
        ys = y + s * k
        mx = row_max(hs, k)
        total = 0
        for j in range(k):
            total += es[j]
        log_total = c_log(<double> total)                     # logsumexp(h) - max h
        loss = 0
        y_sum = 0
        for j in range(k):
            if ys[j] != 0:                    # a zero target adds nothing, even for h = -huge
                loss += ys[j] * (log_total - (<double> hs[j] - mx))
            y_sum += ys[j]
        loss_out[s] = <floating> loss
        scale = <floating> (y_sum / total)
        inv = 1 / total
        for j in range(k):
            if yhat_out != NULL:
                yhat_out[s * k + j] = es[j] * inv             # yhat = softmax(h)
            es[j] = es[j] * scale - ys[j]                     # softmax(h) sum(y) - y
            es[j] = <floating> (es[j] / epsilon_divisor)


cdef inline void sigmoid_binary_crossentropy_core(
        Py_ssize_t n, Py_ssize_t k,
        const floating* h,            # IN  (n, k) logits
        const floating* y,            # IN  (n, k) targets in [0, 1]
        floating loss_divisor,        # IN  1 (sum over outputs) or k (Keras's mean)
        double epsilon_divisor,       # IN  1 (per sample) or n k (of the mean)
        floating* loss_out,           # OUT (n,)
        floating* epsilon_out,        # OUT (n, k)
        floating* yhat_out,           # OUT (n, k) sigmoid(h), or NULL
        ) noexcept nogil:
    """loss = sum_k max(h,0) - h y + log(1 + e^-|h|)   (= -y log yhat - (1-y) log(1-yhat)),
    divided by loss_divisor;  epsilon = (sigmoid(h) - y) / epsilon_divisor"""
    cdef Py_ssize_t s, j
    cdef double loss, hj
    cdef floating g
    for s in range(n):
        loss = 0
        for j in range(k):
            hj = h[s * k + j]
            loss += (hj if hj > 0 else 0) - hj * y[s * k + j] + c_log1p(c_exp(-c_abs(hj)))
            g = sigmoid(h[s * k + j])
            if yhat_out != NULL:
                yhat_out[s * k + j] = g
            epsilon_out[s * k + j] = <floating> ((g - y[s * k + j]) / epsilon_divisor)
        loss_out[s] = <floating> (<floating> loss / loss_divisor)


cdef inline void squared_error_core(
        Py_ssize_t n, Py_ssize_t k, int activation,
        const floating* g,            # IN  (n, k) network outputs yhat = f(h)
        const floating* y,            # IN  (n, k) targets
        double loss_divisor,          # IN  2 (the textbook's 1/2) or k (Keras's mean)
        double epsilon_factor,        # IN  1 (the textbook's), 2 (of the mean's square)
        double epsilon_divisor,       # IN  1 (per sample) or n k (of the mean)
        floating* loss_out,           # OUT (n,)
        floating* epsilon_out,        # OUT (n, k)
        ) noexcept nogil:
    """loss = sum_k (yhat_k - y_k)^2 / loss_divisor;
    epsilon_k = epsilon_factor (yhat_k - y_k) / epsilon_divisor * f'(h_k)   (f' from g)
    (the slide's sigmoid output: epsilon_k = (yhat_k - y_k) yhat_k (1 - yhat_k))"""
    cdef Py_ssize_t s, j
    cdef double loss, r
    for s in range(n):
        loss = 0
        for j in range(k):
            r = <double> g[s * k + j] - y[s * k + j]
            loss += r * r
            epsilon_out[s * k + j] = <floating> (epsilon_factor * r / epsilon_divisor)
        loss_out[s] = <floating> (loss / loss_divisor)
    multiply_derivative(activation, g, epsilon_out, n * k)
