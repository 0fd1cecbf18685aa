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
             optimizer kernels), when the batch's loss is finite; else the caller updates.

It computes what the layer-by-layer path computes (Dense.forward/backward with the loss's fused
gradient), in the same order of operations; tests hold the two to 1e-12 in float64.
Inputs were validated in Python (refnn/model.py): arrays C-contiguous, of one dtype, sizes
matching, the data finite, order a permutation of the sample indices.

Each step also adds the wall-clock time of its phases (PHASES) to a running total, so that a
benchmark can say where an epoch goes; its dozen clock readings cost well under a
microsecond, against a step of about a millisecond.
"""
from cython cimport floating
from libc.math cimport isfinite
from libc.string cimport memcpy
from libc.stdlib cimport malloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from _core cimport refnn_use_blas
from _core cimport (gemm, activate, multiply_derivative, sigmoid, c_exp, c_log, c_log1p,
                    c_abs)
from _updates cimport (update, RULE_SGD, RULE_SGD_MOMENTUM, RULE_ADAGRAD, RULE_RMSPROP,
                       RULE_ADAM)

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

# the optimizers' rules the step can fuse: (code, scalars, required slots, optional slots)
UPDATE_RULES = {"sgd": (RULE_SGD, 1, 0, 0), "sgd_momentum": (RULE_SGD_MOMENTUM, 3, 1, 0),
                "adagrad": (RULE_ADAGRAD, 2, 1, 0), "rmsprop": (RULE_RMSPROP, 4, 1, 2),
                "adam": (RULE_ADAM, 4, 2, 1)}

# what step() returns besides a row index: all done; the loss was not finite, so no update
cdef enum:
    C_STEP_DONE = -1
    C_STEP_NOT_FINITE = -2
STEP_DONE = C_STEP_DONE
STEP_NOT_FINITE = C_STEP_NOT_FINITE


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


SOFTMAX_CROSSENTROPY = C_SOFTMAX_CROSSENTROPY
SIGMOID_BINARY_CROSSENTROPY = C_SIGMOID_BINARY_CROSSENTROPY
MEAN_SQUARED_ERROR = C_MEAN_SQUARED_ERROR


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


cdef inline floating row_max(const floating* h, Py_ssize_t k) noexcept nogil:
    cdef Py_ssize_t j
    cdef floating mx = h[0]
    for j in range(1, k):
        if h[j] > mx:
            mx = h[j]
    return mx


cdef void output_error(int loss_code, int activation, const floating* h, floating* g,
                       const floating* y, Py_ssize_t m, Py_ssize_t k,
                       floating* epsilon, floating* loss_out) noexcept nogil:
    """epsilon = dL/dh of the mean loss over the m samples, and each sample's loss."""
    cdef Py_ssize_t s, j
    cdef floating mx, total, scale, inv
    cdef double log_total, y_sum, loss, hj, r
    cdef const floating* hs
    cdef floating* es
    cdef floating* gs
    cdef const floating* ys
    if loss_code == C_SOFTMAX_CROSSENTROPY:
        # e^(h - max h) for the whole batch first: one loop over m k values vectorises fully,
        # where rows of a few classes would each leave a scalar tail
        for s in range(m):
            hs = h + s * k
            es = epsilon + s * k
            mx = row_max(hs, k)
            for j in range(k):
                es[j] = hs[j] - mx
        for j in range(m * k):
            epsilon[j] = c_exp(epsilon[j])
    for s in range(m):
        hs = h + s * k
        es = epsilon + s * k
        gs = g + s * k
        ys = y + s * k
        if loss_code == C_SOFTMAX_CROSSENTROPY:
            # loss = sum_k y_k (log sum_j e^(h_j - max h) - (h_k - max h));  yhat = softmax(h)
            mx = row_max(hs, k)                            # es holds e^(h - max h) already
            total = 0
            for j in range(k):
                total += es[j]
            log_total = c_log(<double> total)
            loss = 0
            y_sum = 0
            for j in range(k):
                if ys[j] != 0:
                    loss += ys[j] * (log_total - (<double> hs[j] - mx))
                y_sum += ys[j]
            loss_out[s] = <floating> loss
            scale = <floating> (y_sum / total)
            inv = 1 / total
            for j in range(k):
                gs[j] = es[j] * inv                        # yhat = softmax(h), as softmax_row
                es[j] = es[j] * scale - ys[j]              # softmax(h) sum(y) - y
                es[j] = es[j] / m                          # of the mean over the batch
        elif loss_code == C_SIGMOID_BINARY_CROSSENTROPY:
            # loss = 1/k sum_k max(h,0) - h y + log(1 + e^-|h|);  epsilon = (sigmoid(h) - y)/(n k)
            loss = 0
            for j in range(k):
                hj = hs[j]
                loss += (hj if hj > 0 else 0) - hj * ys[j] + c_log1p(c_exp(-c_abs(hj)))
                gs[j] = sigmoid(hs[j])
                es[j] = (gs[j] - ys[j]) / (m * k)
            loss_out[s] = <floating> (<floating> loss / k)
        else:
            # MSE: loss = 1/k sum_k (yhat - y)^2;  dL/dyhat = 2 (yhat - y) / (k n), then * f'(h)
            activate(activation, hs, gs, k)
            loss = 0
            for j in range(k):
                r = <double> gs[j] - ys[j]
                loss += r * r
                es[j] = <floating> (2 * r / (k * m))
            loss_out[s] = <floating> (loss / k)
            multiply_derivative(activation, gs, es, k)


cdef Py_ssize_t train_step_core(Py_ssize_t L, const Py_ssize_t* sizes, const int* activations,
                          int loss_code,
                          floating** W, floating** b,                 # IN  W_l, b_l
                          floating** g, floating** epsilon,           # WORK (m, n_l) each
                          floating* h_last,                           # WORK (m, n_L) logits
                          floating** dW, floating** db,               # OUT
                          const floating* X, const floating* Y,       # IN  whole data set
                          const Py_ssize_t* order, Py_ssize_t m,      # IN  the batch's rows
                          floating* Xb, floating* Yb,                 # WORK (m, n_0), (m, n_L)
                          floating* loss_out, floating* yhat_out,     # OUT (m,), (m, n_L)
                          bint check_finite,                          # IN  check each row
                          int rule, const double* scalars,            # IN  update rule, or -1
                          floating** slots,                           # IN/OUT 3 per W_l, b_l
                          double* loss_sum_out,                       # OUT sum of the losses
                          double* phases,                             # IN/OUT seconds per phase
                          ) noexcept nogil:
    """Returns STEP_DONE; or (check_finite) the position in the batch of the first sample
    whose inputs are not all finite, and then nothing else was computed; or (rule >= 0)
    STEP_NOT_FINITE when the batch's loss is not finite, and then nothing was updated."""
    cdef Py_ssize_t s, l, j, n_in, n_out
    cdef Py_ssize_t d = sizes[0], k = sizes[L]
    cdef floating* A
    cdef floating* H
    cdef floating* db_l
    cdef floating* eps_l
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
    # forward: h_l = g_{l-1} W_l + b_l, g_l = f(h_l)
    A = Xb
    for l in range(L):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        H = h_last if l == L - 1 else g[l]
        for s in range(m):
            memcpy(H + s * n_out, b[l], n_out * sizeof(floating))
        gemm(False, False, <int> m, <int> n_out, <int> n_in, 1, A, <int> n_in, W[l],
             <int> n_out, 1, H, <int> n_out)
        t = lap(phases, P_FORWARD_GEMM, t)
        if l < L - 1:
            activate(activations[l], H, H, m * n_out)
            t = lap(phases, P_ACTIVATIONS, t)
        A = H
    # output error and losses; g_L = yhat
    output_error(loss_code, activations[L - 1], h_last, g[L - 1], Yb, m, k, epsilon[L - 1],
                 loss_out)
    memcpy(yhat_out, g[L - 1], m * k * sizeof(floating))
    cdef double loss_sum = 0
    for s in range(m):
        loss_sum += loss_out[s]                           # in double, as the mean is reported
    loss_sum_out[0] = loss_sum
    cdef bint updating = rule >= 0 and isfinite(loss_sum)
    t = lap(phases, P_OUTPUT, t)
    # backward, output side inwards
    for l in range(L - 1, -1, -1):
        n_in = sizes[l]
        n_out = sizes[l + 1]
        A = Xb if l == 0 else g[l - 1]
        gemm(True, False, <int> n_in, <int> n_out, <int> m, 1, A, <int> n_in, epsilon[l],
             <int> n_out, 0, dW[l], <int> n_out)                   # dW = g_prev^T epsilon
        t = lap(phases, P_BACKWARD_GEMM, t)
        db_l = db[l]
        eps_l = epsilon[l]
        for j in range(n_out):
            db_l[j] = 0
        for s in range(m):
            for j in range(n_out):
                db_l[j] += eps_l[s * n_out + j]           # db = sum over the batch of epsilon
        t = lap(phases, P_BACKWARD_ELEMENTWISE, t)
        if l > 0:                                                  # epsilon_{l-1}
            gemm(False, True, <int> m, <int> n_in, <int> n_out, 1, epsilon[l], <int> n_out,
                 W[l], <int> n_out, 0, epsilon[l - 1], <int> n_in)
            t = lap(phases, P_BACKWARD_GEMM, t)
            multiply_derivative(activations[l - 1], g[l - 1], epsilon[l - 1], m * n_in)
            t = lap(phases, P_BACKWARD_ELEMENTWISE, t)
        if updating:                          # W_l is no longer needed for epsilon: update it
            update(rule, scalars, W[l], dW[l], slots[6 * l], slots[6 * l + 1],
                   slots[6 * l + 2], n_in * n_out)
            update(rule, scalars, b[l], db[l], slots[6 * l + 3], slots[6 * l + 4],
                   slots[6 * l + 5], n_out)
            t = lap(phases, P_UPDATE, t)
    if rule >= 0 and not updating:
        return C_STEP_NOT_FINITE
    return C_STEP_DONE


cdef class DenseStep:
    """The work buffers and raw pointers of one network's step, set up once; step(order) then
    costs one call with one argument. The arrays are held here, so the pointers stay valid:
    the weights are updated in place by the optimizer, never replaced.
    Built by refnn.kernels.DenseTrainer, which checked every array first."""
    cdef list refs                      # every array whose memory the pointers point into
    cdef Py_ssize_t L, batch, n
    cdef bint double_precision
    cdef int loss_code
    cdef Py_ssize_t* sizes
    cdef int* activations
    cdef void** ptr                     # W, b, g, epsilon, dW, db (L each), then X, Y, Xb, Yb,
                                        # h_last, losses, yhat
    cdef double phases[N_PHASES]        # seconds spent in each phase since the last reset
    cdef int rule                       # the fused update's rule (RULE_*), or -1: none
    cdef void** slots                   # its slots: 3 per weight array (W_1, b_1, ...), or NULL
    cdef list slot_refs
    cdef double scalars[4]
    cdef readonly double loss_sum       # the last step's sum of the per-sample losses

    def __cinit__(self):
        self.sizes = NULL
        self.activations = NULL
        self.ptr = NULL
        self.slots = NULL
        self.rule = -1
        self.reset_phases()

    def __init__(self, list weights, list grads, list work, h_last, Xb, Yb, X, Y,
                 activations, int loss_code, losses, yhat):
        cdef Py_ssize_t l, i
        self.L = len(weights) // 2
        self.refs = weights + grads + work + [h_last, Xb, Yb, X, Y, activations, losses, yhat]
        self.double_precision = X.dtype.itemsize == 8
        self.loss_code = loss_code
        self.batch = Xb.shape[0]
        self.n = X.shape[0]
        self.sizes = <Py_ssize_t*> malloc((self.L + 1) * sizeof(Py_ssize_t))
        self.activations = <int*> malloc(self.L * sizeof(int))
        self.ptr = <void**> malloc((6 * self.L + 7) * sizeof(void*))
        if self.sizes == NULL or self.activations == NULL or self.ptr == NULL:
            raise MemoryError()
        self.sizes[0] = X.shape[1]
        for l in range(self.L):
            self.sizes[l + 1] = weights[2 * l].shape[1]
            self.activations[l] = activations[l]
            for i, a in enumerate((weights[2 * l], weights[2 * l + 1], work[l],
                                   work[self.L + l], grads[2 * l], grads[2 * l + 1])):
                self.ptr[i * self.L + l] = <void*> <size_t> a.ctypes.data
        for i, a in enumerate((X, Y, Xb, Yb, h_last, losses, yhat)):
            self.ptr[6 * self.L + i] = <void*> <size_t> a.ctypes.data

    def set_update(self, int rule, list slots):
        """Fuse the optimizer's rule (RULE_*, src_c/_updates.pxd) into step(): `slots` holds
        for each weight array, in the order of `weights`, its three slot arrays or None (an
        unused slot), each of the weight's shape and dtype, C-contiguous: checked by the caller
        (refnn.kernels.DenseTrainer). The arrays are held here, as the weights are."""
        cdef Py_ssize_t i, j
        if len(slots) != 2 * self.L:
            raise ValueError(f"slots must hold {2 * self.L} triples, got {len(slots)}")
        cdef void** table = <void**> malloc(6 * self.L * sizeof(void*))
        if table == NULL:
            raise MemoryError()
        for i in range(2 * self.L):
            for j in range(3):
                a = slots[i][j]
                table[3 * i + j] = NULL if a is None else <void*> <size_t> a.ctypes.data
        free(self.slots)
        self.slots, self.slot_refs, self.rule = table, [list(t) for t in slots], rule

    def __dealloc__(self):
        free(self.slots)
        free(self.ptr)
        free(self.activations)
        free(self.sizes)

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
        loss was not finite, and nothing was updated."""
        cdef Py_ssize_t m = order.shape[0], s, L = self.L, bad = -1
        cdef void** p = self.ptr
        cdef int rule = -1
        cdef Py_ssize_t i
        if m < 1 or m > self.batch:
            raise ValueError(f"order must hold 1 to {self.batch} indices, got {m}")
        if scalars is not None:
            if self.rule < 0:
                raise ValueError("scalars given but no update rule was set (set_update)")
            if not 1 <= len(scalars) <= 4:
                raise ValueError(f"scalars must hold 1 to 4 numbers, got {len(scalars)}")
            for i in range(len(scalars)):
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
                bad = train_step_core[double](
                    L, self.sizes, self.activations, self.loss_code,
                    <double**> p, <double**> (p + L), <double**> (p + 2 * L),
                    <double**> (p + 3 * L), <double*> p[6 * L + 4], <double**> (p + 4 * L),
                    <double**> (p + 5 * L), <double*> p[6 * L], <double*> p[6 * L + 1],
                    &order[0], m, <double*> p[6 * L + 2], <double*> p[6 * L + 3],
                    <double*> p[6 * L + 5], <double*> p[6 * L + 6], check_finite,
                    rule, self.scalars, <double**> self.slots, &self.loss_sum, self.phases)
            else:
                bad = train_step_core[float](
                    L, self.sizes, self.activations, self.loss_code,
                    <float**> p, <float**> (p + L), <float**> (p + 2 * L),
                    <float**> (p + 3 * L), <float*> p[6 * L + 4], <float**> (p + 4 * L),
                    <float**> (p + 5 * L), <float*> p[6 * L], <float*> p[6 * L + 1],
                    &order[0], m, <float*> p[6 * L + 2], <float*> p[6 * L + 3],
                    <float*> p[6 * L + 5], <float*> p[6 * L + 6], check_finite,
                    rule, self.scalars, <float**> self.slots, &self.loss_sum, self.phases)
        return bad if bad < 0 else order[bad]


include "blas_choice.pxi"
