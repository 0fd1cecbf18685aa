"""Optimizer kernels: Keras 3's per-array update rules, each as one fused loop.

SGD with momentum (and Nesterov), Adagrad, RMSprop (plain, with momentum, centered) and Adam
(and AMSGrad). Each kernel walks a flattened parameter array once: for every element it reads
w, g and the slots, updates the slots and w, and writes them back. No temporaries, no GIL.
Plain SGD (momentum 0) is refnn._dense.sgd_update.

Boundary: refnn/kernels.py has checked every array (one dtype, the shape of w, C-contiguous,
writable where written, w and g finite) and every scalar (finite, in range) and flattened the
arrays; refnn/optimizers.py computes the step-dependent scalars (Adam's alpha) once per apply.
An optional slot is None when its option is off (RMSprop without momentum or not centered,
Adam without AMSGrad).

Notation: w a parameter, g = dE/dw its gradient, eta the learning rate (Keras's learning_rate).
Slots keep Keras's names. The scalars arrive as double and are rounded once to the arrays'
type, as Keras casts its hyper-parameters to the variable's dtype; expressions such as 1 - rho
are formed in double first, as Keras forms them in Python.
"""
from cython cimport floating
from libc.math cimport sqrt, sqrtf


cdef inline floating c_sqrt(floating x) noexcept nogil:
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


def sgd_momentum_update(floating[::1] w,             # IN/OUT parameters, flattened
                        const floating[::1] grad,    # IN     g = dE/dw
                        floating[::1] m,             # IN/OUT momentum slot (the lecture's v = -m)
                        double eta,                  # IN     learning rate
                        double momentum,             # IN     in [0, 1)
                        bint nesterov):              # IN
    """m <- momentum m - eta g;   w <- w + m   (nesterov: w <- w + momentum m - eta g)"""
    cdef Py_ssize_t i, size = w.shape[0]
    cdef floating eta_ = <floating> eta
    cdef floating mu = <floating> momentum
    with nogil:
        for i in range(size):
            m[i] = m[i] * mu - grad[i] * eta_                # m = momentum m - eta g
            if nesterov:
                w[i] += m[i] * mu - grad[i] * eta_           # w = w + momentum m - eta g
            else:
                w[i] += m[i]                                 # w = w + m


def adagrad_update(floating[::1] w,                  # IN/OUT parameters, flattened
                   const floating[::1] grad,         # IN     g = dE/dw
                   floating[::1] accumulator,        # IN/OUT running sum of g^2
                   double eta,                       # IN     learning rate
                   double adagrad_epsilon):          # IN     > 0, inside the square root
    """a <- a + g^2;   w <- w - eta g / sqrt(a + adagrad_epsilon)"""
    cdef Py_ssize_t i, size = w.shape[0]
    cdef floating eta_ = <floating> eta
    cdef floating eps_ = <floating> adagrad_epsilon
    with nogil:
        for i in range(size):
            accumulator[i] += grad[i] * grad[i]                      # a = a + g^2
            w[i] -= eta_ * grad[i] / c_sqrt(accumulator[i] + eps_)  # w = w - eta g / sqrt(a + eps)


def rmsprop_update(floating[::1] w,                  # IN/OUT parameters, flattened
                   const floating[::1] grad,         # IN     g = dE/dw
                   floating[::1] velocity,           # IN/OUT mean square of g
                   floating[::1] average_grad,       # IN/OUT mean of g (centered), or None
                   floating[::1] m,                  # IN/OUT momentum slot, or None
                   double eta,                       # IN     learning rate
                   double rho,                       # IN     in [0, 1)
                   double momentum,                  # IN     in [0, 1); used when m is not None
                   double rmsprop_epsilon):          # IN     > 0, inside the square root
    """v <- rho v + (1 - rho) g^2;   (centered) a <- rho a + (1 - rho) g
    step = eta g / sqrt(v - a^2 + rmsprop_epsilon)    (not centered: sqrt(v + rmsprop_epsilon))
    m <- momentum m + step;  w <- w - m              (no momentum slot: w <- w - step)"""
    cdef Py_ssize_t i, size = w.shape[0]
    cdef bint centered = average_grad is not None
    cdef bint use_momentum = m is not None
    cdef floating eta_ = <floating> eta
    cdef floating rho_ = <floating> rho
    cdef floating one_minus_rho = <floating> (1.0 - rho)
    cdef floating mu = <floating> momentum
    cdef floating eps_ = <floating> rmsprop_epsilon
    cdef floating g, v, a, denominator, step
    with nogil:
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


def adam_update(floating[::1] w,                     # IN/OUT parameters, flattened
                const floating[::1] grad,            # IN     g = dE/dw
                floating[::1] m,                     # IN/OUT first moment
                floating[::1] v,                     # IN/OUT second moment
                floating[::1] v_hat,                 # IN/OUT running max of v (AMSGrad), or None
                double alpha,                        # IN     eta sqrt(1-beta_2^t) / (1-beta_1^t)
                double beta_1,                       # IN     in [0, 1)
                double beta_2,                       # IN     in [0, 1)
                double adam_epsilon):                # IN     > 0, outside the square root
    """m <- m + (g - m)(1 - beta_1);   v <- v + (g^2 - v)(1 - beta_2)
    (amsgrad) v_hat <- max(v_hat, v)
    w <- w - alpha m / (sqrt(v) + adam_epsilon)        (amsgrad: sqrt(v_hat))
    alpha carries both bias corrections, so adam_epsilon is the paper's "epsilon hat"."""
    cdef Py_ssize_t i, size = w.shape[0]
    cdef bint amsgrad = v_hat is not None
    cdef floating alpha_ = <floating> alpha
    cdef floating one_minus_beta_1 = <floating> (1.0 - beta_1)
    cdef floating one_minus_beta_2 = <floating> (1.0 - beta_2)
    cdef floating eps_ = <floating> adam_epsilon
    cdef floating g
    with nogil:
        if amsgrad:          # two loops, not a test per element: both vectorise
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
