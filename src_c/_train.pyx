"""One mini-batch training step of a dense network, whole, in C: the fast path of Sequential.fit.

For a stack of Dense layers (activations sigmoid, tanh, relu, linear; the output fused with
its loss) one call does, without the GIL and without allocating:
  gather:    X_b = X[order[start:stop]],  Y_b likewise           (rows copied into work buffers)
  forward:   h_l = g_{l-1} W_l + b_l (one gemm),  g_l = f(h_l)  (in place)
  output:    softmax + CE:   epsilon_L = (softmax(h_L) sum(y) - y) / n
             sigmoid + BCE:  epsilon_L = (sigmoid(h_L) - y) / (n k)
             MSE:            epsilon_L = 2 (yhat - y) / (n k) * f'(h_L)
  backward:  dW_l = g_{l-1}^T epsilon_l (one gemm),  db_l = sum over the batch of epsilon_l,
             epsilon_{l-1} = (epsilon_l W_l^T) f'(h_{l-1})   (not formed for the input layer)
  update:    (optional) the optimizer's rule on W_l, b_l right after the backward pass through
             layer l, while dW_l is still in cache (src_c/_updates.pxd, the loops of the
             optimizer kernel), when the batch's loss is finite; else the caller updates.

The dense, activation, loss and update loops are the shared cores (src_c/_core.pxd,
_loss_cores.pxd, _updates.pxd) that the per-array kernels run too. Each layer's buffers are
one LayerBuffers record; the batch's are one BatchBuffers record.

It computes what the layer-by-layer path computes (Dense.forward/backward with the loss's fused
gradient), in the same order of operations; tests hold the two to 1e-12 in float64.
Inputs were validated in Python (refnn/kernels.py DenseTrainer): arrays C-contiguous, of one dtype, sizes
matching, the data finite, order a permutation of the sample indices.

Each step also adds the wall-clock time of its phases (PHASES) to a running total, so that a
benchmark can say where an epoch goes; its dozen clock readings cost well under a
microsecond, against a step of about a millisecond.
"""
from cython cimport floating
from libc.math cimport isfinite
from libc.string cimport memcpy
from libc.stdlib cimport malloc, calloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from _core cimport refnn_use_blas
from _core cimport (activate, multiply_derivative, dense_forward_core, weight_gradient_core,
                    bias_gradient_core, input_gradient_core)
from _loss_cores cimport (softmax_crossentropy_core, sigmoid_binary_crossentropy_core,
                          squared_error_core)
from _updates cimport update, MAX_SLOTS, MAX_SCALARS

cdef extern from *:
    void __builtin_prefetch(const void* address, int rw, int locality) noexcept nogil

# output/loss pairs of the fast path
cdef enum:
    C_SOFTMAX_CROSSENTROPY = 0
    C_SIGMOID_BINARY_CROSSENTROPY = 1
    C_MEAN_SQUARED_ERROR = 2

# the phases of a step, in the order they run (DenseStep.phase_seconds)
PHASES = ("gather", "forward matrix products", "activations", "output error",
          "backward matrix products", "backward elementwise", "optimizer update")
cdef enum:
    P_GATHER = 0
    P_FORWARD_GEMM = 1
    P_ACTIVATIONS = 2
    P_OUTPUT = 3
    P_BACKWARD_GEMM = 4
    P_BACKWARD_ELEMENTWISE = 5
    P_UPDATE = 6
    N_PHASES = 7

# what step() returns besides a row index: all done; the loss was not finite, so no update
cdef enum:
    C_STEP_DONE = -1
    C_STEP_NOT_FINITE = -2
    C_STEP_UPDATE_NOT_FINITE = -3
STEP_DONE = C_STEP_DONE
STEP_NOT_FINITE = C_STEP_NOT_FINITE
STEP_UPDATE_NOT_FINITE = C_STEP_UPDATE_NOT_FINITE
SOFTMAX_CROSSENTROPY = C_SOFTMAX_CROSSENTROPY
SIGMOID_BINARY_CROSSENTROPY = C_SIGMOID_BINARY_CROSSENTROPY
MEAN_SQUARED_ERROR = C_MEAN_SQUARED_ERROR


# One Dense layer l of the step: its sizes, its activation and its arrays (void*: the step
# runs in float or double, and casts where it reads them).
cdef struct LayerBuffers:
    Py_ssize_t n_in, n_out          # W_l is (n_in, n_out)
    int activation                  # f of this layer (the last: the output's, fused with loss)
    void* W                         # IN/OUT (n_in, n_out)
    void* b                         # IN/OUT (n_out,)
    void* g                         # WORK (m, n_out) g_l = f(h_l); the last: yhat
    void* epsilon                   # WORK (m, n_out) dL/dh_l
    void* dW                        # OUT  (n_in, n_out)
    void* db                        # OUT  (n_out,)
    void* W_slots[MAX_SLOTS]        # IN/OUT the fused update's slots of W_l (NULL: unused)
    void* b_slots[MAX_SLOTS]        # IN/OUT and of b_l


# The data set, and the batch's work and output buffers.
cdef struct BatchBuffers:
    const void* X                   # IN   (n, n_0) the whole data set
    const void* Y                   # IN   (n, n_L)
    void* Xb                        # WORK (m, n_0) the batch's rows of X
    void* Yb                        # WORK (m, n_L)
    void* h_last                    # WORK (m, n_L) the output layer's logits
    void* losses                    # OUT  (m,)
    void* yhat                      # OUT  (m, n_L)


cdef inline double now() noexcept nogil:
    """the monotonic clock, in seconds"""
    cdef timespec t
    clock_gettime(CLOCK_MONOTONIC, &t)
    return t.tv_sec + 1e-9 * t.tv_nsec


cdef inline double lap(double* phases, int phase, double start) noexcept nogil:
    """phases[phase] += now - start; returns now, the start of the next phase"""
    cdef double t = now()
    phases[phase] += t - start
    return t


cdef inline bint copy_finite(const floating* src, floating* dst, Py_ssize_t n) noexcept nogil:
    """dst = src, and whether every value is finite: x - x is 0 for a finite x, NaN for NaN or
    +-inf. One pass, while the row is in registers; the flags are OR-ed, which vectorises."""
    cdef Py_ssize_t j
    cdef floating x
    cdef int nonfinite = 0
    for j in range(n):
        x = src[j]
        dst[j] = x
        nonfinite |= (x - x) != 0
    return not nonfinite


cdef void output_error(int loss_code, int activation, floating* h, floating* g,
                       const floating* y, Py_ssize_t m, Py_ssize_t k,
                       floating* epsilon, floating* loss_out) noexcept nogil:
    """epsilon = dL/dh of the mean loss L over the m samples, each sample's loss, and g = yhat:
    softmax + CE:   loss = -sum_k y log yhat,             epsilon = (yhat sum(y) - y) / m
    sigmoid + BCE:  loss = 1/k sum_k BCE(y, yhat),        epsilon = (yhat - y) / (m k)
    MSE:            loss = 1/k sum_k (yhat - y)^2,        epsilon = 2 (yhat - y) / (m k) f'(h)"""
    if loss_code == C_SOFTMAX_CROSSENTROPY:
        softmax_crossentropy_core(m, k, h, y, <double> m, loss_out, epsilon, g)
    elif loss_code == C_SIGMOID_BINARY_CROSSENTROPY:
        sigmoid_binary_crossentropy_core(m, k, h, y, <floating> k, <double> (m * k), loss_out,
                                         epsilon, g)
    else:
        activate(activation, h, g, m * k)
        squared_error_core(m, k, activation, g, y, <double> k, 2.0, <double> (k * m), loss_out,
                           epsilon)


cdef Py_ssize_t train_step_core(Py_ssize_t L, LayerBuffers* layers,   # IN/OUT per layer
                                BatchBuffers* batch,                  # IN/OUT
                                int loss_code,                        # IN  C_*
                                const Py_ssize_t* order, Py_ssize_t m,  # IN  the batch's rows
                                bint check_finite,                    # IN  check each row
                                int rule, const double* scalars,      # IN  update rule, or -1
                                double* loss_sum_out,                 # OUT sum of the losses
                                double* phases,                       # IN/OUT seconds per phase
                                floating dtype_tag,                   # picks float or double
                                ) noexcept nogil:
    """Returns STEP_DONE; or (check_finite) the position in the batch of the first sample
    whose inputs are not all finite, and then nothing else was computed; or (rule >= 0)
    STEP_NOT_FINITE when the batch's loss is not finite, and then nothing was updated; or
    STEP_UPDATE_NOT_FINITE when the update left a weight or a slot NaN or infinite (every array
    was updated all the same: the caller puts the previous state back)."""
    cdef Py_ssize_t s, l, n_in, n_out
    cdef bint finite = True
    cdef Py_ssize_t d = layers[0].n_in, k = layers[L - 1].n_out
    cdef const floating* X = <const floating*> batch.X
    cdef const floating* Y = <const floating*> batch.Y
    cdef floating* Xb = <floating*> batch.Xb
    cdef floating* Yb = <floating*> batch.Yb
    cdef floating* h_last = <floating*> batch.h_last
    cdef floating* A
    cdef floating* H
    cdef LayerBuffers* layer
    # gather the batch; the rows a few ahead are prefetched, so that the copies wait for
    # memory bandwidth rather than for one cache miss after another
    cdef Py_ssize_t ahead = 6, line, row_bytes = d * sizeof(floating)
    cdef double t = now()
    for s in range(min(ahead, m)):
        for line in range(0, row_bytes, 64):
            __builtin_prefetch(<const char*> (X + order[s] * d) + line, 0, 0)
    for s in range(m):
        if s + ahead < m:
            for line in range(0, row_bytes, 64):
                __builtin_prefetch(<const char*> (X + order[s + ahead] * d) + line, 0, 0)
        if check_finite:
            if not copy_finite(X + order[s] * d, Xb + s * d, d):
                return s
        else:
            memcpy(Xb + s * d, X + order[s] * d, row_bytes)
        memcpy(Yb + s * k, Y + order[s] * k, k * sizeof(floating))
    t = lap(phases, P_GATHER, t)
    # forward: h_l = g_{l-1} W_l + b_l, g_l = f(h_l)   (in place, but for the logits h_L)
    A = Xb
    for l in range(L):
        layer = &layers[l]
        H = h_last if l == L - 1 else <floating*> layer.g
        dense_forward_core(m, layer.n_in, layer.n_out, A, <floating*> layer.W,
                           <floating*> layer.b, H)
        t = lap(phases, P_FORWARD_GEMM, t)
        if l < L - 1:
            activate(layer.activation, H, H, m * layer.n_out)
            t = lap(phases, P_ACTIVATIONS, t)
        A = H
    # output error and losses; g_L = yhat
    layer = &layers[L - 1]
    output_error(loss_code, layer.activation, h_last, <floating*> layer.g, Yb, m, k,
                 <floating*> layer.epsilon, <floating*> batch.losses)
    memcpy(batch.yhat, layer.g, m * k * sizeof(floating))
    cdef double loss_sum = 0
    for s in range(m):
        loss_sum += (<floating*> batch.losses)[s]          # in double, as the mean is reported
    loss_sum_out[0] = loss_sum
    cdef bint updating = rule >= 0 and isfinite(loss_sum)
    t = lap(phases, P_OUTPUT, t)
    # backward, output side inwards
    for l in range(L - 1, -1, -1):
        layer = &layers[l]
        n_in = layer.n_in
        n_out = layer.n_out
        A = Xb if l == 0 else <floating*> layers[l - 1].g
        weight_gradient_core(m, n_in, n_out, A, <floating*> layer.epsilon,
                             <floating*> layer.dW)                 # dW = g_prev^T epsilon
        t = lap(phases, P_BACKWARD_GEMM, t)
        bias_gradient_core(m, n_out, <floating*> layer.epsilon, <floating*> layer.db)
        t = lap(phases, P_BACKWARD_ELEMENTWISE, t)
        if l > 0:                                                  # epsilon_{l-1}
            input_gradient_core(m, n_in, n_out, <floating*> layer.epsilon,
                                <floating*> layer.W, <floating*> layers[l - 1].epsilon)
            t = lap(phases, P_BACKWARD_GEMM, t)
            multiply_derivative(layers[l - 1].activation, <floating*> layers[l - 1].g,
                                <floating*> layers[l - 1].epsilon, m * n_in)
            t = lap(phases, P_BACKWARD_ELEMENTWISE, t)
        if updating:                          # W_l is no longer needed for epsilon: update it
            finite &= update(rule, scalars, <floating*> layer.W, <floating*> layer.dW,
                             <floating**> &layer.W_slots[0], n_in * n_out)
            finite &= update(rule, scalars, <floating*> layer.b, <floating*> layer.db,
                             <floating**> &layer.b_slots[0], n_out)
            t = lap(phases, P_UPDATE, t)
    if rule >= 0 and not updating:
        return C_STEP_NOT_FINITE
    return C_STEP_DONE if finite else C_STEP_UPDATE_NOT_FINITE


cdef inline void* data_of(a):
    """the address of a NumPy array's first element"""
    return <void*> <size_t> a.ctypes.data


cdef class DenseStep:
    """The buffers of one network's step, set up once; step(order) then costs one call with
    one argument. The arrays are held here, so the pointers stay valid: the weights are
    updated in place by the optimizer, never replaced.
    Built by refnn.kernels.DenseTrainer, which checked every array first."""
    cdef list refs                      # every array whose memory the pointers point into
    cdef Py_ssize_t L, batch_size, n
    cdef bint double_precision
    cdef int loss_code
    cdef LayerBuffers* layers           # L records
    cdef BatchBuffers batch
    cdef double phases[N_PHASES]        # seconds spent in each phase since the last reset
    cdef int rule                       # the fused update's rule (RULE_*), or -1: none
    cdef int n_scalars                  # how many scalars it takes
    cdef list slot_refs
    cdef double scalars[MAX_SCALARS]
    cdef readonly double loss_sum       # the last step's sum of the per-sample losses

    def __cinit__(self):
        self.layers = NULL
        self.rule = -1
        self.reset_phases()

    def __init__(self, list weights, list grads, list work, h_last, Xb, Yb, X, Y,
                 activations, int loss_code, losses, yhat):
        cdef Py_ssize_t l
        cdef LayerBuffers* layer
        self.L = len(weights) // 2
        self.refs = weights + grads + work + [h_last, Xb, Yb, X, Y, activations, losses, yhat]
        self.double_precision = X.dtype.itemsize == 8
        self.loss_code = loss_code
        self.batch_size = Xb.shape[0]
        self.n = X.shape[0]
        self.layers = <LayerBuffers*> calloc(self.L, sizeof(LayerBuffers))
        if self.layers == NULL:
            raise MemoryError()
        for l in range(self.L):
            layer = &self.layers[l]
            layer.n_in, layer.n_out = weights[2 * l].shape[0], weights[2 * l].shape[1]
            layer.activation = activations[l]
            layer.W, layer.b = data_of(weights[2 * l]), data_of(weights[2 * l + 1])
            layer.g, layer.epsilon = data_of(work[l]), data_of(work[self.L + l])
            layer.dW, layer.db = data_of(grads[2 * l]), data_of(grads[2 * l + 1])
        self.batch.X, self.batch.Y = data_of(X), data_of(Y)
        self.batch.Xb, self.batch.Yb = data_of(Xb), data_of(Yb)
        self.batch.h_last, self.batch.losses, self.batch.yhat = (data_of(h_last),
                                                                 data_of(losses), data_of(yhat))

    def set_update(self, int rule, int n_scalars, list slots):
        """Fuse the optimizer's rule (RULE_*, src_c/_updates.pxd) into step(): `slots` holds
        for each weight array, in the order of `weights`, its MAX_SLOTS slot arrays or None (an
        unused slot), each of the weight's shape and dtype, C-contiguous: checked by the caller
        (refnn.kernels.DenseTrainer), with the rule and its number of scalars. The arrays are
        held here, as the weights are."""
        cdef Py_ssize_t l, j
        if len(slots) != 2 * self.L or not 0 < n_scalars <= MAX_SCALARS:
            raise ValueError(f"slots must hold {2 * self.L} tuples, got {len(slots)}")
        for l in range(self.L):
            for j in range(MAX_SLOTS):
                a, c = slots[2 * l][j], slots[2 * l + 1][j]
                self.layers[l].W_slots[j] = NULL if a is None else data_of(a)
                self.layers[l].b_slots[j] = NULL if c is None else data_of(c)
        self.slot_refs, self.rule, self.n_scalars = [list(t) for t in slots], rule, n_scalars

    def __dealloc__(self):
        free(self.layers)

    def reset_phases(self):
        cdef int i
        for i in range(N_PHASES):
            self.phases[i] = 0

    def phase_seconds(self):
        """{phase: seconds} spent in each phase of the steps since the last reset (PHASES)"""
        return {name: self.phases[i] for i, name in enumerate(PHASES)}

    def step(self, const Py_ssize_t[::1] order, bint check_finite=False, scalars=None):
        """The gradients of the mean loss over the samples `order` (1 to batch indices); with
        `scalars` (the set_update rule's, for this step) the weights are updated too, when
        the loss is finite. Returns STEP_DONE; or (check_finite) the index of a sample whose
        inputs are not all finite, and nothing was computed; or STEP_NOT_FINITE when the
        loss was not finite, and nothing was updated; or STEP_UPDATE_NOT_FINITE when the
        update left a weight or slot not finite."""
        cdef Py_ssize_t m = order.shape[0], s, bad = -1
        cdef int rule = -1
        cdef Py_ssize_t i
        if m < 1 or m > self.batch_size:
            raise ValueError(f"order must hold 1 to {self.batch_size} indices, got {m}")
        if scalars is not None:
            if self.rule < 0:
                raise ValueError("scalars given but no update rule was set (set_update)")
            if len(scalars) != self.n_scalars:
                raise ValueError(f"scalars must be {self.n_scalars} finite numbers, "
                                 f"got {len(scalars)}")
            for i in range(self.n_scalars):
                value = scalars[i]
                if not isinstance(value, (int, float)) or not isfinite(value):
                    raise ValueError(f"scalars must be finite numbers, got {scalars!r}")
                self.scalars[i] = value
            rule = self.rule
        for s in range(m):
            if order[s] < 0 or order[s] >= self.n:
                raise ValueError(f"order holds {order[s]}, outside [0, {self.n})")
        with nogil:
            if self.double_precision:
                bad = train_step_core[double](self.L, self.layers, &self.batch, self.loss_code,
                                              &order[0], m, check_finite, rule, self.scalars,
                                              &self.loss_sum, self.phases, 0)
            else:
                bad = train_step_core[float](self.L, self.layers, &self.batch, self.loss_code,
                                             &order[0], m, check_finite, rule, self.scalars,
                                             &self.loss_sum, self.phases, 0)
        return bad if bad < 0 else order[bad]


include "blas_choice.pxi"
