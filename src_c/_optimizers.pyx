"""Optimizer kernels: Keras 3's per-array update rules, each as one fused loop.

SGD with momentum (and Nesterov), Adagrad, RMSprop (plain, with momentum, centered) and Adam
(and AMSGrad). Each kernel walks a flattened parameter array once: for every element it reads
w, g and the slots, updates the slots and w, and writes them back. No temporaries, no GIL.
Plain SGD (momentum 0) is refnn._dense.sgd_update. The loops themselves are in
src_c/_updates.pxd, shared with the training step (src_c/_train.pyx).

Boundary: refnn/kernels.py has checked every array (one dtype, the shape of w, C-contiguous,
writable where written, w and g finite) and every scalar (finite, in range) and flattened the
arrays; refnn/optimizers.py computes the step-dependent scalars (Adam's alpha) once per apply.
An optional slot is None when its option is off (RMSprop without momentum or not centered,
Adam without AMSGrad).

Notation: w a parameter, g = dE/dw its gradient, eta the learning rate (Keras's learning_rate).
Slots keep Keras's names.
"""
from cython cimport floating
from _updates cimport sgd_momentum_rule, adagrad_rule, rmsprop_rule, adam_rule


cdef inline floating* optional(floating[::1] slot) noexcept nogil:
    """the slot's data, or NULL for None (an option that is off)"""
    return NULL if slot is None else &slot[0]


def sgd_momentum_update(floating[::1] w,             # IN/OUT parameters, flattened
                        const floating[::1] grad,    # IN     g = dE/dw
                        floating[::1] m,             # IN/OUT momentum slot (the lecture's v = -m)
                        double eta,                  # IN     learning rate
                        double momentum,             # IN     in [0, 1)
                        bint nesterov):              # IN
    """m <- momentum m - eta g;   w <- w + m   (nesterov: w <- w + momentum m - eta g)"""
    if w.shape[0] == 0:
        return
    with nogil:
        sgd_momentum_rule(&w[0], &grad[0], &m[0], w.shape[0], eta, momentum, nesterov)


def adagrad_update(floating[::1] w,                  # IN/OUT parameters, flattened
                   const floating[::1] grad,         # IN     g = dE/dw
                   floating[::1] accumulator,        # IN/OUT running sum of g^2
                   double eta,                       # IN     learning rate
                   double adagrad_epsilon):          # IN     > 0, inside the square root
    """a <- a + g^2;   w <- w - eta g / sqrt(a + adagrad_epsilon)"""
    if w.shape[0] == 0:
        return
    with nogil:
        adagrad_rule(&w[0], &grad[0], &accumulator[0], w.shape[0], eta, adagrad_epsilon)


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
    if w.shape[0] == 0:
        return
    with nogil:
        rmsprop_rule(&w[0], &grad[0], &velocity[0], optional(average_grad), optional(m),
                     w.shape[0], eta, rho, momentum, rmsprop_epsilon)


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
    if w.shape[0] == 0:
        return
    with nogil:
        adam_rule(&w[0], &grad[0], &m[0], &v[0], optional(v_hat), w.shape[0], alpha, beta_1,
                  beta_2, adam_epsilon)
