# cython: language_level=3
"""The optimizers' update rules on raw arrays (inline, so no runtime import): Keras 3's rules,
each one fused loop over a flattened parameter array that reads w, g and the slots once and
writes them back. refnn._optimizers applies one to one array (the checked per-array kernels),
and refnn._train runs it for every array of a network inside the training step; both call
`update` below, so both compute the same numbers in the same order.

A rule is declared once in Python (refnn/optimizers: its code, its slots by name in the order
below, its scalars by name in the order below); `rule_signature` is what the Python declaration
is checked against when it is made, so the two cannot drift apart unnoticed.

Adding a rule: its code in the enum, its loop, one line in `rule_signature` and one branch in
`update`.

Boundary: nothing here validates anything (refnn/kernels.py has checked every array and scalar).
The slots come in the rule's order (Keras's order of the optimizer's variables), the required
ones first; an optional slot is NULL when its option is off.

Notation: w a parameter, g = dE/dw its gradient, eta the learning rate (Keras's learning_rate).
The scalars arrive as double and are rounded once to the arrays' type, as Keras casts its
hyper-parameters to the variable's dtype; expressions such as 1 - rho are formed in double
first, as Keras forms them in Python.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf, fabs, fabsf


# the rules: code, then its scalars (in this order) and its slots (in this order)
cdef enum:
    RULE_SGD = 0        # eta, momentum, nesterov (0 or 1);    momentum (optional: momentum > 0)
    RULE_ADAGRAD = 1    # eta, adagrad_epsilon;                accumulator
    RULE_RMSPROP = 2    # eta, rho, momentum, rmsprop_epsilon; velocity, momentum (optional),
                        #                                      average_gradient (optional: centered)
    RULE_ADAM = 3       # alpha, beta_1, beta_2, adam_epsilon; momentum, velocity,
                        #                                      velocity_hat (optional: AMSGrad)
    RULE_NADAM = 4      # eta, beta_1, beta_2, nadam_epsilon, m_coefficient, g_coefficient,
                        # v_correction;                        momentum, velocity
    RULE_ADAMAX = 5     # alpha, beta_1, beta_2, adamax_epsilon; momentum, norm
    MAX_SLOTS = 3       # slots per parameter array, at most
    MAX_SCALARS = 8     # scalars per rule, at most


cdef inline int rule_signature(int rule, int* n_scalars, int* n_required,
                               int* n_optional) noexcept nogil:
    """How many scalars, required slots and optional slots `rule` takes; -1 for no such rule."""
    if rule == RULE_SGD:
        n_scalars[0], n_required[0], n_optional[0] = 3, 0, 1
    elif rule == RULE_ADAGRAD:
        n_scalars[0], n_required[0], n_optional[0] = 2, 1, 0
    elif rule == RULE_RMSPROP:
        n_scalars[0], n_required[0], n_optional[0] = 4, 1, 2
    elif rule == RULE_ADAM:
        n_scalars[0], n_required[0], n_optional[0] = 4, 2, 1
    elif rule == RULE_NADAM:
        n_scalars[0], n_required[0], n_optional[0] = 7, 2, 0
    elif rule == RULE_ADAMAX:
        n_scalars[0], n_required[0], n_optional[0] = 4, 2, 0
    else:
        return -1
    return 0


cdef inline floating c_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline floating c_fabs(floating x) noexcept nogil:
    if floating is float:
        return fabsf(x)
    else:
        return fabs(x)


cdef inline int not_finite(floating x) noexcept nogil:
    """1 for NaN or infinity, else 0: x - x is 0 for a finite x, NaN otherwise (a test that
    vectorises, accumulated with | over a loop)"""
    return (x - x) != 0


cdef inline bint sgd_rule(floating* w, const floating* grad, floating* m, Py_ssize_t size,
                          double eta, double momentum, bint nesterov) noexcept nogil:
    """m <- momentum m - eta g;   w <- w + m   (nesterov: w <- w + momentum m - eta g)
    (no momentum slot: w <- w - eta g)"""
    cdef Py_ssize_t i
    cdef int bad = 0
    cdef floating eta_ = <floating> eta
    cdef floating mu = <floating> momentum
    if m == NULL:
        for i in range(size):
            w[i] -= eta_ * grad[i]                       # w = w - eta g
            bad |= not_finite(w[i])
        return not bad
    for i in range(size):
        m[i] = m[i] * mu - grad[i] * eta_                # m = momentum m - eta g
        if nesterov:
            w[i] += m[i] * mu - grad[i] * eta_           # w = w + momentum m - eta g
        else:
            w[i] += m[i]                                 # w = w + m
        bad |= not_finite(w[i]) | not_finite(m[i])
    return not bad


cdef inline bint adagrad_rule(floating* w, const floating* grad, floating* accumulator,
                              Py_ssize_t size, double eta, double adagrad_epsilon) noexcept nogil:
    """a <- a + g^2;   w <- w - eta g / sqrt(a + adagrad_epsilon)"""
    cdef Py_ssize_t i
    cdef floating eta_ = <floating> eta
    cdef floating eps_ = <floating> adagrad_epsilon
    cdef int bad = 0
    for i in range(size):
        accumulator[i] += grad[i] * grad[i]                      # a = a + g^2
        w[i] -= eta_ * grad[i] / c_sqrt(accumulator[i] + eps_)  # w = w - eta g / sqrt(a + eps)
        bad |= not_finite(w[i]) | not_finite(accumulator[i])
    return not bad


cdef inline bint rmsprop_rule(floating* w, const floating* grad, floating* velocity,
                              floating* m, floating* average_grad, Py_ssize_t size, double eta,
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
    cdef int bad = 0
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
        bad |= not_finite(w[i]) | not_finite(v) | not_finite(step)    # a or m: in step or w
    return not bad


cdef inline bint adam_rule(floating* w, const floating* grad, floating* m, floating* v,
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
    cdef int bad = 0
    if v_hat != NULL:       # two loops, not a test per element: both vectorise
        for i in range(size):
            g = grad[i]
            m[i] += (g - m[i]) * one_minus_beta_1             # m = beta_1 m + (1-beta_1) g
            v[i] += (g * g - v[i]) * one_minus_beta_2         # v = beta_2 v + (1-beta_2) g^2
            v_hat[i] = v[i] if v[i] > v_hat[i] else v_hat[i]  # v_hat = max(v_hat, v)
            w[i] -= m[i] * alpha_ / (c_sqrt(v_hat[i]) + eps_) # w -= alpha m/(sqrt(v_hat)+eps)
            bad |= not_finite(w[i]) | not_finite(m[i]) | not_finite(v_hat[i])
    else:
        for i in range(size):
            g = grad[i]
            m[i] += (g - m[i]) * one_minus_beta_1             # m = beta_1 m + (1-beta_1) g
            v[i] += (g * g - v[i]) * one_minus_beta_2         # v = beta_2 v + (1-beta_2) g^2
            w[i] -= m[i] * alpha_ / (c_sqrt(v[i]) + eps_)     # w -= alpha m / (sqrt(v) + eps)
            bad |= not_finite(w[i]) | not_finite(m[i]) | not_finite(v[i])
    return not bad


cdef inline bint nadam_rule(floating* w, const floating* grad, floating* m, floating* v,
                            Py_ssize_t size, double eta, double beta_1, double beta_2,
                            double nadam_epsilon, double m_coefficient, double g_coefficient,
                            double v_correction) noexcept nogil:
    """m <- m + (g - m)(1 - beta_1);   v <- v + (g^2 - v)(1 - beta_2)
    m_hat = m_coefficient m + g_coefficient g;   v_hat = v / v_correction
    w <- w - eta m_hat / (sqrt(v_hat) + nadam_epsilon)
    (Dozat 2016, as Keras 3: m_coefficient = u_{t+1} / (1 - prod_{i<=t+1} u_i),
    g_coefficient = (1 - u_t) / (1 - prod_{i<=t} u_i), v_correction = 1 - beta_2^t,
    u_t = beta_1 (1 - 0.5 * 0.96^t): computed once per step by the caller)"""
    cdef Py_ssize_t i
    cdef floating eta_ = <floating> eta
    cdef floating one_minus_beta_1 = <floating> (1.0 - beta_1)
    cdef floating one_minus_beta_2 = <floating> (1.0 - beta_2)
    cdef floating eps_ = <floating> nadam_epsilon
    cdef floating c_m = <floating> m_coefficient
    cdef floating c_g = <floating> g_coefficient
    cdef floating c_v = <floating> v_correction
    cdef floating g, m_hat
    cdef int bad = 0
    for i in range(size):
        g = grad[i]
        m[i] += (g - m[i]) * one_minus_beta_1                 # m = beta_1 m + (1-beta_1) g
        v[i] += (g * g - v[i]) * one_minus_beta_2             # v = beta_2 v + (1-beta_2) g^2
        m_hat = c_m * m[i] + c_g * g                          # the Nesterov look-ahead
        w[i] -= m_hat * eta_ / (c_sqrt(v[i] / c_v) + eps_)    # w -= eta m_hat/(sqrt(v_hat)+eps)
        bad |= not_finite(w[i]) | not_finite(m[i]) | not_finite(v[i])
    return not bad


cdef inline bint adamax_rule(floating* w, const floating* grad, floating* m, floating* u,
                             Py_ssize_t size, double alpha, double beta_1, double beta_2,
                             double adamax_epsilon) noexcept nogil:
    """m <- m + (g - m)(1 - beta_1);   u <- max(beta_2 u, |g|)
    w <- w - alpha m / (u + adamax_epsilon),   alpha = eta / (1 - beta_1^t)   (Keras 3's Adamax)"""
    cdef Py_ssize_t i
    cdef floating alpha_ = <floating> alpha
    cdef floating one_minus_beta_1 = <floating> (1.0 - beta_1)
    cdef floating beta_2_ = <floating> beta_2
    cdef floating eps_ = <floating> adamax_epsilon
    cdef floating g, decayed
    cdef int bad = 0
    for i in range(size):
        g = grad[i]
        m[i] += (g - m[i]) * one_minus_beta_1                 # m = beta_1 m + (1-beta_1) g
        decayed = beta_2_ * u[i]
        u[i] = decayed if decayed > c_fabs(g) else c_fabs(g)  # u = max(beta_2 u, |g|)
        w[i] -= alpha_ * m[i] / (u[i] + eps_)                 # w -= alpha m / (u + eps)
        bad |= not_finite(w[i]) | not_finite(m[i]) | not_finite(u[i])
    return not bad


cdef inline bint update(int rule, const double* scalars, floating* w, const floating* grad,
                        floating** slots, Py_ssize_t size) noexcept nogil:
    """w and its slots (MAX_SLOTS pointers, the rule's order) updated in place by `rule`.
    Returns whether every new value of w and of its slots is finite: an update that overflows
    is reported, for the caller to put the previous state back."""
    if rule == RULE_SGD:
        return sgd_rule(w, grad, slots[0], size, scalars[0], scalars[1], scalars[2] != 0)
    elif rule == RULE_ADAGRAD:
        return adagrad_rule(w, grad, slots[0], size, scalars[0], scalars[1])
    elif rule == RULE_RMSPROP:
        return rmsprop_rule(w, grad, slots[0], slots[1], slots[2], size, scalars[0], scalars[1],
                            scalars[2], scalars[3])
    elif rule == RULE_ADAM:
        return adam_rule(w, grad, slots[0], slots[1], slots[2], size, scalars[0], scalars[1],
                         scalars[2], scalars[3])
    elif rule == RULE_NADAM:
        return nadam_rule(w, grad, slots[0], slots[1], size, scalars[0], scalars[1], scalars[2],
                          scalars[3], scalars[4], scalars[5], scalars[6])
    elif rule == RULE_ADAMAX:
        return adamax_rule(w, grad, slots[0], slots[1], size, scalars[0], scalars[1], scalars[2],
                           scalars[3])
    return True
