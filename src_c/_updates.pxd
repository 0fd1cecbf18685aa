# cython: language_level=3
"""The optimizers' update rules on raw arrays (inline, so no runtime import): Keras 3's rules,
each one fused loop over a flattened parameter array that reads w, g and the slots once and
writes them back. refnn._optimizers wraps each for one array (the checked kernels), and
refnn._train runs them for every array of a network inside the training step; both therefore
compute the same numbers in the same order.

Boundary: nothing here validates anything (see src_c/_optimizers.pyx for what the callers
have checked). An optional slot is NULL when its option is off.

Notation: w a parameter, g = dE/dw its gradient, eta the learning rate (Keras's learning_rate).
The scalars arrive as double and are rounded once to the arrays' type, as Keras casts its
hyper-parameters to the variable's dtype; expressions such as 1 - rho are formed in double
first, as Keras forms them in Python.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf


# the rules, and the scalars each takes (in this order) in update(rule, scalars, ...)
cdef enum:
    RULE_SGD = 0                # eta
    RULE_SGD_MOMENTUM = 1       # eta, momentum, nesterov (0 or 1);      slot0 = m
    RULE_ADAGRAD = 2            # eta, adagrad_epsilon;                  slot0 = accumulator
    RULE_RMSPROP = 3            # eta, rho, momentum, rmsprop_epsilon;   slot0 = velocity,
                                #   slot1 = average gradient (centered) or NULL, slot2 = m or NULL
    RULE_ADAM = 4               # alpha, beta_1, beta_2, adam_epsilon;   slot0 = m, slot1 = v,
                                #   slot2 = v_hat (AMSGrad) or NULL


cdef inline floating c_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline void sgd_rule(floating* w, const floating* grad, Py_ssize_t size,
                          double eta) noexcept nogil:
    """w <- w - eta g"""
    cdef Py_ssize_t i
    cdef floating step_size = <floating> eta
    for i in range(size):
        w[i] -= step_size * grad[i]


cdef inline void sgd_momentum_rule(floating* w, const floating* grad, floating* m,
                                   Py_ssize_t size, double eta, double momentum,
                                   bint nesterov) noexcept nogil:
    """m <- momentum m - eta g;   w <- w + m   (nesterov: w <- w + momentum m - eta g)"""
    cdef Py_ssize_t i
    cdef floating eta_ = <floating> eta
    cdef floating mu = <floating> momentum
    for i in range(size):
        m[i] = m[i] * mu - grad[i] * eta_                # m = momentum m - eta g
        if nesterov:
            w[i] += m[i] * mu - grad[i] * eta_           # w = w + momentum m - eta g
        else:
            w[i] += m[i]                                 # w = w + m


cdef inline void adagrad_rule(floating* w, const floating* grad, floating* accumulator,
                              Py_ssize_t size, double eta, double adagrad_epsilon) noexcept nogil:
    """a <- a + g^2;   w <- w - eta g / sqrt(a + adagrad_epsilon)"""
    cdef Py_ssize_t i
    cdef floating eta_ = <floating> eta
    cdef floating eps_ = <floating> adagrad_epsilon
    for i in range(size):
        accumulator[i] += grad[i] * grad[i]                      # a = a + g^2
        w[i] -= eta_ * grad[i] / c_sqrt(accumulator[i] + eps_)  # w = w - eta g / sqrt(a + eps)


cdef inline void rmsprop_rule(floating* w, const floating* grad, floating* velocity,
                              floating* average_grad, floating* m, Py_ssize_t size, double eta,
                              double rho, double momentum, double rmsprop_epsilon) noexcept nogil:
    """v <- rho v + (1 - rho) g^2;   (centered) a <- rho a + (1 - rho) g
    step = eta g / sqrt(v - a^2 + rmsprop_epsilon)    (not centered: sqrt(v + rmsprop_epsilon))
    m <- momentum m + step;  w <- w - m              (no momentum slot: w <- w - step)"""
    cdef Py_ssize_t i
    cdef bint centered = average_grad != NULL
    cdef bint use_momentum = m != NULL
    cdef floating eta_ = <floating> eta
    cdef floating rho_ = <floating> rho
    cdef floating one_minus_rho = <floating> (1.0 - rho)
    cdef floating mu = <floating> momentum
    cdef floating eps_ = <floating> rmsprop_epsilon
    cdef floating g, v, a, denominator, step
    for i in range(size):
        g = grad[i]
        v = rho_ * velocity[i] + one_minus_rho * (g * g)      # v = rho v + (1-rho) g^2
        velocity[i] = v
        if centered:
            a = rho_ * average_grad[i] + one_minus_rho * g    # a = rho a + (1-rho) g
            average_grad[i] = a
            denominator = v - a * a + eps_                    # v - a^2 + eps
        else:
            denominator = v + eps_                            # v + eps
        step = eta_ * g / c_sqrt(denominator)                 # eta g / sqrt(...)
        if use_momentum:
            m[i] = mu * m[i] + step                           # m = momentum m + step
            w[i] -= m[i]                                      # w = w - m
        else:
            w[i] -= step                                      # w = w - step


cdef inline void adam_rule(floating* w, const floating* grad, floating* m, floating* v,
                           floating* v_hat, Py_ssize_t size, double alpha, double beta_1,
                           double beta_2, double adam_epsilon) noexcept nogil:
    """m <- m + (g - m)(1 - beta_1);   v <- v + (g^2 - v)(1 - beta_2)
    (amsgrad) v_hat <- max(v_hat, v)
    w <- w - alpha m / (sqrt(v) + adam_epsilon)        (amsgrad: sqrt(v_hat))
    alpha = eta sqrt(1-beta_2^t) / (1-beta_1^t) carries both bias corrections, so adam_epsilon
    is the paper's "epsilon hat"."""
    cdef Py_ssize_t i
    cdef floating alpha_ = <floating> alpha
    cdef floating one_minus_beta_1 = <floating> (1.0 - beta_1)
    cdef floating one_minus_beta_2 = <floating> (1.0 - beta_2)
    cdef floating eps_ = <floating> adam_epsilon
    cdef floating g
    if v_hat != NULL:       # two loops, not a test per element: both vectorise
        for i in range(size):
            g = grad[i]
            m[i] += (g - m[i]) * one_minus_beta_1             # m = beta_1 m + (1-beta_1) g
            v[i] += (g * g - v[i]) * one_minus_beta_2         # v = beta_2 v + (1-beta_2) g^2
            v_hat[i] = v[i] if v[i] > v_hat[i] else v_hat[i]  # v_hat = max(v_hat, v)
            w[i] -= m[i] * alpha_ / (c_sqrt(v_hat[i]) + eps_) # w -= alpha m/(sqrt(v_hat)+eps)
    else:
        for i in range(size):
            g = grad[i]
            m[i] += (g - m[i]) * one_minus_beta_1             # m = beta_1 m + (1-beta_1) g
            v[i] += (g * g - v[i]) * one_minus_beta_2         # v = beta_2 v + (1-beta_2) g^2
            w[i] -= m[i] * alpha_ / (c_sqrt(v[i]) + eps_)     # w -= alpha m / (sqrt(v) + eps)


cdef inline void update(int rule, const double* scalars, floating* w, const floating* grad,
                        floating* slot0, floating* slot1, floating* slot2,
                        Py_ssize_t size) noexcept nogil:
    """w and its slots updated in place by `rule` (RULE_*) with its scalars"""
    if rule == RULE_SGD:
        sgd_rule(w, grad, size, scalars[0])
    elif rule == RULE_SGD_MOMENTUM:
        sgd_momentum_rule(w, grad, slot0, size, scalars[0], scalars[1], scalars[2] != 0)
    elif rule == RULE_ADAGRAD:
        adagrad_rule(w, grad, slot0, size, scalars[0], scalars[1])
    elif rule == RULE_RMSPROP:
        rmsprop_rule(w, grad, slot0, slot1, slot2, size, scalars[0], scalars[1], scalars[2],
                     scalars[3])
    elif rule == RULE_ADAM:
        adam_rule(w, grad, slot0, slot1, slot2, size, scalars[0], scalars[1], scalars[2],
                  scalars[3])
