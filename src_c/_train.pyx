"""One mini-batch training step of a dense network, whole, in C: the fast path of Sequential.fit.

For a stack of Dense layers (activations sigmoid, tanh, relu, linear; the output fused with
its loss) one call does, without the GIL and without allocating:
  gather:    X_b = X[order[start:stop]],  Y_b likewise           (rows copied into work buffers)
  forward:   h_l = g_{l-1} W_l + b_l (one gemm),  g_l = f(h_l)  (in place)
  output:    softmax + CE:   epsilon_L = (softmax(h_L) sum(y) - y) / n
             sigmoid + BCE:  epsilon_L = (sigmoid(h_L) - y) / (n k)
             MSE:            epsilon_L = 2 (yhat - y) / (n k) * f'(h_L)
  backward:  epsilon_{l-1} = (epsilon_l W_l^T) f'(h_{l-1})   (not formed for the input layer)
             dW_l = g_{l-1}^T epsilon_l (one gemm),  db_l = sum over the batch of epsilon_l
  update:    (optional) the optimizer's rule on W_l, b_l (src_c/_updates.pxd, the loops of the
             optimizer kernel), when the batch's loss is finite; else the caller updates.

The work is two regions of pieces run on refnn's threads (src_c/pool.h): first the batch rows
(gather to epsilon_1 depend on a sample's own row only), then, once the loss is known, the
rows of each W_l (its gradient, over the whole batch, and its update) and each b_l. The pieces
are fixed by the sizes of the batch and the layers, never by the number of threads, so the
numbers are the same on any number of threads. See "the pieces of a step" below.

The dense, activation, loss and update loops are the shared cores (src_c/_core.pxd,
_loss_cores.pxd, _updates.pxd) that the per-array kernels run too. Each layer's buffers are
one LayerBuffers record; the batch's are one BatchBuffers record.

It computes what the layer-by-layer path computes (Dense.forward/backward with the loss's fused
gradient); tests hold the two to 1e-12 in float64.
Inputs were validated in Python (refnn/kernels/trainer.py DenseTrainer): arrays C-contiguous, of
one dtype, sizes matching, the data finite, order a permutation of the sample indices.

Each piece also adds the time of its phases (PHASES) to its thread's running total, so that a
benchmark can say where an epoch goes; its dozen clock readings cost well under a
microsecond, against a step of about a millisecond.
"""
from cython cimport floating
from libc.math cimport fabs, isfinite, sqrt
from libc.string cimport memcpy
from libc.stdlib cimport malloc, calloc, free
from posix.time cimport clock_gettime, timespec, CLOCK_MONOTONIC

from _core cimport refnn_use_blas
from _core cimport (activate, softmax_row, gemm, multiply_derivative, dense_forward_core,
                    weight_gradient_core, bias_gradient_core, input_gradient_core, SOFTMAX)
from _loss_cores cimport (softmax_crossentropy_core, sigmoid_binary_crossentropy_core,
                          squared_error_core)
from _updates cimport update, MAX_SLOTS, MAX_SCALARS

include "blas_choice.pxi"

cdef extern from "pool.h" nogil:
    ctypedef void (*refnn_piece_fn)(void* ctx, int piece, int worker) noexcept nogil
    int refnn_pool_run(refnn_piece_fn fn, void* ctx, int n_pieces, int n_threads)
    double refnn_round_trip_ns(int cpu_a, int cpu_b, long rounds, long long budget_ns)
    enum: REFNN_MAX_THREADS
    enum: REFNN_MAX_PIECES

cdef extern from *:
    """
    /* write back one byte of each cache line of p[0:size]: the line is then this core's alone */
    static inline void refnn_own_lines(void* p, Py_ssize_t size) {
        volatile char* c = (volatile char*) p;
        Py_ssize_t i;
        for (i = 0; i < size; i += 64)
            c[i] = c[i];
    }
    """
    void __builtin_prefetch(const void* address, int rw, int locality) noexcept nogil
    void refnn_own_lines(void* p, Py_ssize_t size) noexcept nogil

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
    bint double_precision           # float64 (else float32)


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


cdef inline bint all_finite(const floating* x, Py_ssize_t n) noexcept nogil:
    """whether every value is finite: x - x is 0 for a finite x, NaN for NaN or +-inf. The
    flags are OR-ed, which vectorises."""
    cdef Py_ssize_t j
    cdef int nonfinite = 0
    for j in range(n):
        nonfinite |= (x[j] - x[j]) != 0
    return not nonfinite


# The gather copies GATHER_ROWS rows side by side, GATHER_CHUNK bytes of each in turn: the
# memory system then streams several rows at once instead of waiting for one row's first
# cache miss after another (about 1.4x the bandwidth of a row-by-row copy on 784-float rows).
cdef enum:
    GATHER_ROWS = 8
    GATHER_CHUNK = 128


cdef void gather_rows(const char* X, const Py_ssize_t* order, Py_ssize_t rows,
                      Py_ssize_t row_bytes, char* Xb) noexcept nogil:
    """Xb[s] = X[order[s]] for s < rows (rows of row_bytes bytes): GATHER_ROWS rows at a time,
    with the next group's first lines prefetched."""
    cdef Py_ssize_t g0 = 0, g1, s, line, full = row_bytes - row_bytes % GATHER_CHUNK
    while g0 < rows:
        g1 = min(g0 + GATHER_ROWS, rows)
        for s in range(g1, min(g1 + GATHER_ROWS, rows)):
            __builtin_prefetch(X + order[s] * row_bytes, 0, 0)
        line = 0
        while line < full:
            for s in range(g0, g1):
                memcpy(Xb + s * row_bytes + line, X + order[s] * row_bytes + line, GATHER_CHUNK)
            line += GATHER_CHUNK
        if full < row_bytes:
            for s in range(g0, g1):
                memcpy(Xb + s * row_bytes + full, X + order[s] * row_bytes + full,
                       row_bytes - full)
        g0 = g1


cdef void output_error(int loss_code, int activation, floating* h, floating* g,
                       const floating* y, Py_ssize_t rows, Py_ssize_t k, Py_ssize_t m,
                       floating* epsilon, floating* loss_out) noexcept nogil:
    """For `rows` samples of a batch of m: epsilon = dL/dh of the mean loss L over the batch,
    each sample's loss, and g = yhat:
    softmax + CE:   loss = -sum_k y log yhat,             epsilon = (yhat sum(y) - y) / m
    sigmoid + BCE:  loss = 1/k sum_k BCE(y, yhat),        epsilon = (yhat - y) / (m k)
    MSE:            loss = 1/k sum_k (yhat - y)^2,        epsilon = 2 (yhat - y) / (m k) f'(h)"""
    if loss_code == C_SOFTMAX_CROSSENTROPY:
        softmax_crossentropy_core(rows, k, h, y, <double> m, loss_out, epsilon, g)
    elif loss_code == C_SIGMOID_BINARY_CROSSENTROPY:
        sigmoid_binary_crossentropy_core(rows, k, h, y, <floating> k, <double> (m * k),
                                         loss_out, epsilon, g)
    else:
        activate(activation, h, g, rows * k)
        squared_error_core(rows, k, activation, g, y, <double> k, 2.0, <double> (k * m),
                           loss_out, epsilon)


# ---------------------------------------------------------------- the pieces of a step
# A step is two regions of pieces (src_c/pool.h runs them on refnn's threads):
#   rows      piece p: the batch rows [row_start[p], row_start[p+1]): gather, forward through
#             every layer, output error, and the error terms epsilon_l back to layer 1; each
#             row depends on its own row only
#   weights   piece q: rows [first, stop) of one W_l (or, with first = -1, its b_l): the
#             gradient dW_l[first:stop] = g_{l-1}[:, first:stop]^T epsilon_l, every entry summed
#             over the whole batch in one gemm, then the update of those weights
# The pieces are fixed by the sizes of the batch and of the layers alone, so every number is
# computed the same way for any number of threads.
# OWN THE ROWS: in the rows region every thread reads all of W_l, so at the update each line
# of a weights piece's rows is also in another core's cache, and each store waits for that
# copy to be dropped. A weights piece therefore first writes back one byte of each line of its
# rows (no value changes; no other piece reads them in this region), which drops the copies
# in one stream before its gemm. Measured in alternating epochs, 10 rounds (W1) and 6 (W3),
# on 2 threads: the update summed over the threads 24-26 -> 10-11 ms (W1), 123-128 -> 41-45
# ms (W3); the median epoch on W1 164 -> 157 ms, its best on W3 564 -> 543 ms; one thread
# 291 -> 293 ms (W1). In epochs with the cores apart (kernels.threads.core_round_trip; the
# gather summed 54-56 ms in both arms), W1's epoch on 2 threads took 282 ms before and 241-246
# ms with it (three rounds).
# clipping (Keras 3's clipvalue, clipnorm, global_clipnorm), and the stages of the weights
# region: whole (gradient, then update); or, to clip by a norm that needs every piece's
# gradient first, gradients in one region and updates in the next
cdef enum:
    C_CLIP_NONE = 0
    C_CLIP_VALUE = 1
    C_CLIP_NORM = 2
    C_CLIP_GLOBAL_NORM = 3
    STAGE_WHOLE = 0
    STAGE_GRADIENT = 1
    STAGE_UPDATE = 2
CLIP_NONE, CLIP_VALUE, CLIP_NORM, CLIP_GLOBAL_NORM = (C_CLIP_NONE, C_CLIP_VALUE, C_CLIP_NORM,
                                                      C_CLIP_GLOBAL_NORM)


cdef struct WeightPiece:
    Py_ssize_t layer, first, stop   # first = -1: the bias b_l


cdef struct StepJob:
    Py_ssize_t L
    LayerBuffers* layers
    BatchBuffers* batch
    int loss_code
    const Py_ssize_t* order
    Py_ssize_t m
    bint check_finite
    int rule                        # the update rule, or -1: gradients only
    const double* scalars
    Py_ssize_t* row_start           # n_row_pieces + 1 boundaries
    int n_row_pieces
    Py_ssize_t* first_bad           # per row piece: the first row with non-finite inputs, or -1
    WeightPiece* weight_pieces
    int n_weight_pieces
    bint* finite                    # per weight piece: whether its update stayed finite
    double* phases                  # (REFNN_MAX_THREADS, N_PHASES): seconds per worker
    const void* sample_weight       # (n,) each sample's weight in the loss, or NULL: all 1
    # before the fused update (with rule >= 0 only), in this order, as Optimizer.apply does:
    const double* penalty           # (2L, 2) per array (c1, c2): g += c1 sign(w) + c2 w, or NULL
    int clip_kind                   # CLIP_*: g clipped element-wise, per array or all together
    double clip                     # the clip value or norm
    double decay, decay_rate        # weight decay wd and the step's eta: w -= w wd eta (0: none)
    int stage                       # STAGE_*: what the weights pieces do in this region
    double* sumsq                   # per weight piece: the sum of g^2 of its rows (clip by norm)
    double* scale                   # per array (2L): the factor that clips its gradient
    double* penalty_sum             # per weight piece: the penalty's value on its w


cdef inline Py_ssize_t n_pieces_of(Py_ssize_t work, Py_ssize_t least, Py_ssize_t most) noexcept nogil:
    """how many pieces `work` is cut into: about work / least, from 1 to `most`"""
    cdef Py_ssize_t n = work // least
    return 1 if n < 1 else (most if n > most else n)


cdef inline void weigh_rows(const floating* sample_weight, const Py_ssize_t* order,
                            Py_ssize_t s0, Py_ssize_t s1, Py_ssize_t k, floating* epsilon,
                            floating* losses) noexcept nogil:
    """rows s0..s1 of the batch weighted: the mean loss is then (1/m) sum_i w_i loss_i (Keras's
    sum over the batch size), and its gradient w_i times each sample's"""
    cdef Py_ssize_t s, j
    cdef floating w
    for s in range(s0, s1):
        w = sample_weight[order[s]]
        losses[s] *= w
        for j in range(k):
            epsilon[s * k + j] *= w


# What Optimizer.apply does to a gradient and its weights before the rule, in its order: the
# penalty's gradient added, the clipping, the weight decay (src_c/../refnn/optimizers/base.py)
cdef inline void add_penalty(StepJob* job, Py_ssize_t array, const floating* w, floating* g,
                             Py_ssize_t size) noexcept nogil:
    """g += c1 sign(w) + c2 w: the gradient of the penalty c1 |w| + (c2 / 2) w^2"""
    cdef Py_ssize_t i
    cdef floating c1 = <floating> job.penalty[2 * array], c2 = <floating> job.penalty[2 * array + 1]
    cdef floating x
    if c1 != 0:
        for i in range(size):
            x = w[i]
            g[i] += c1 * ((x > 0) - (x < 0))
    if c2 != 0:
        for i in range(size):
            g[i] += c2 * w[i]


cdef inline void clip_values(floating* g, floating c, Py_ssize_t size) noexcept nogil:
    """g clipped element-wise into [-c, c]"""
    cdef Py_ssize_t i
    for i in range(size):
        g[i] = -c if g[i] < -c else (c if g[i] > c else g[i])


cdef inline void decay_weights(StepJob* job, floating* w, Py_ssize_t size) noexcept nogil:
    """w <- w - w wd eta   (Keras 3's decoupled weight decay)"""
    cdef Py_ssize_t i
    cdef floating wd = <floating> job.decay, eta = <floating> job.decay_rate
    if job.decay != 0:
        for i in range(size):
            w[i] -= w[i] * wd * eta


cdef inline double lane_term(floating x, bint squares) noexcept nogil:
    return <double> x * <double> x if squares else fabs(<double> x)


cdef inline double lane_sum(const floating* x, Py_ssize_t size, bint squares) noexcept nogil:
    """sum_i x_i^2 (squares) or sum_i |x_i|, in double: in 8 running sums, lane i mod 8, added
    in a fixed order at the end (an order set by the size alone, and one that vectorises)"""
    cdef double part[8]
    cdef Py_ssize_t i, j, whole = size - size % 8
    for j in range(8):
        part[j] = 0
    for i in range(0, whole, 8):
        for j in range(8):
            part[j] += lane_term(x[i + j], squares)
    for i in range(whole, size):
        part[i - whole] += lane_term(x[i], squares)
    return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]))


cdef inline double penalty_value(StepJob* job, Py_ssize_t array, const floating* w,
                                 Py_ssize_t size) noexcept nogil:
    """c1 sum|w| + (c2 / 2) sum w^2: the penalty whose gradient add_penalty adds"""
    cdef double c1 = job.penalty[2 * array], c2 = job.penalty[2 * array + 1], value = 0
    if c1 != 0:
        value += c1 * lane_sum(w, size, False)
    if c2 != 0:
        value += 0.5 * c2 * lane_sum(w, size, True)
    return value


cdef void rows_piece(StepJob* job, int p, int worker, floating dtype_tag) noexcept nogil:
    cdef Py_ssize_t s0 = job.row_start[p], s1 = job.row_start[p + 1], r = s1 - s0
    cdef Py_ssize_t s, l, L = job.L, m = job.m
    cdef LayerBuffers* layers = job.layers
    cdef LayerBuffers* layer
    cdef Py_ssize_t d = layers[0].n_in, k = layers[L - 1].n_out
    cdef const floating* X = <const floating*> job.batch.X
    cdef const floating* Y = <const floating*> job.batch.Y
    cdef floating* Xb = <floating*> job.batch.Xb
    cdef floating* Yb = <floating*> job.batch.Yb
    cdef floating* h_last = <floating*> job.batch.h_last
    cdef floating* A
    cdef floating* H
    cdef const Py_ssize_t* order = job.order
    cdef double* phases = job.phases + worker * N_PHASES
    # gather the rows (and check them, while they are in cache)
    cdef double t = now()
    job.first_bad[p] = -1
    gather_rows(<const char*> X, order + s0, r, d * sizeof(floating), <char*> (Xb + s0 * d))
    if job.check_finite:
        for s in range(s0, s1):
            if not all_finite(Xb + s * d, d):
                job.first_bad[p] = s
                return
    gather_rows(<const char*> Y, order + s0, r, k * sizeof(floating), <char*> (Yb + s0 * k))
    t = lap(phases, P_GATHER, t)
    # forward: h_l = g_{l-1} W_l + b_l, g_l = f(h_l)   (in place, but for the logits h_L)
    A = Xb + s0 * d
    for l in range(L):
        layer = &layers[l]
        H = (h_last if l == L - 1 else <floating*> layer.g) + s0 * layer.n_out
        dense_forward_core(r, layer.n_in, layer.n_out, A, <floating*> layer.W,
                           <floating*> layer.b, H)
        t = lap(phases, P_FORWARD_GEMM, t)
        if l < L - 1:
            activate(layer.activation, H, H, r * layer.n_out)
            t = lap(phases, P_ACTIVATIONS, t)
        A = H
    # output error and losses; g_L = yhat
    layer = &layers[L - 1]
    output_error(loss_code=job.loss_code, activation=layer.activation, h=h_last + s0 * k,
                 g=<floating*> layer.g + s0 * k, y=Yb + s0 * k, rows=r, k=k, m=m,
                 epsilon=<floating*> layer.epsilon + s0 * k,
                 loss_out=<floating*> job.batch.losses + s0)
    memcpy(<floating*> job.batch.yhat + s0 * k, <floating*> layer.g + s0 * k,
           r * k * sizeof(floating))
    if job.sample_weight != NULL:             # loss_i <- w_i loss_i, epsilon_i <- w_i epsilon_i
        weigh_rows(<const floating*> job.sample_weight, order, s0, s1, k,
                   <floating*> layer.epsilon, <floating*> job.batch.losses)
    t = lap(phases, P_OUTPUT, t)
    # backward: epsilon_{l-1} = (epsilon_l W_l^T) f'(h_{l-1}), output side inwards
    for l in range(L - 1, 0, -1):
        layer = &layers[l]
        input_gradient_core(r, layer.n_in, layer.n_out,
                            <floating*> layer.epsilon + s0 * layer.n_out, <floating*> layer.W,
                            <floating*> layers[l - 1].epsilon + s0 * layer.n_in)
        t = lap(phases, P_BACKWARD_GEMM, t)
        multiply_derivative(layers[l - 1].activation,
                            <floating*> layers[l - 1].g + s0 * layer.n_in,
                            <floating*> layers[l - 1].epsilon + s0 * layer.n_in, r * layer.n_in)
        t = lap(phases, P_BACKWARD_ELEMENTWISE, t)


cdef void weights_piece(StepJob* job, int q, int worker, floating dtype_tag) noexcept nogil:
    cdef WeightPiece piece = job.weight_pieces[q]
    cdef LayerBuffers* layer = &job.layers[piece.layer]
    cdef Py_ssize_t n_in = layer.n_in, n_out = layer.n_out, i0 = piece.first, j, size
    cdef Py_ssize_t rows = piece.stop - piece.first
    cdef Py_ssize_t array = 2 * piece.layer + (1 if i0 < 0 else 0)   # W_l, or b_l
    cdef const floating* A = (<const floating*> job.batch.Xb if piece.layer == 0
                              else <const floating*> job.layers[piece.layer - 1].g)
    cdef floating* slots[MAX_SLOTS]
    cdef floating* w
    cdef floating* g
    cdef floating factor
    cdef bint fused = job.rule >= 0
    cdef double* phases = job.phases + worker * N_PHASES
    cdef double t = now()
    job.finite[q] = True
    if i0 < 0:                                      # the bias b_l
        w, g, size = <floating*> layer.b, <floating*> layer.db, n_out
        for j in range(MAX_SLOTS):
            slots[j] = <floating*> layer.b_slots[j]
    else:                                           # rows i0..i1 of W_l
        w, g, size = <floating*> layer.W + i0 * n_out, <floating*> layer.dW + i0 * n_out, rows * n_out
        for j in range(MAX_SLOTS):
            slots[j] = (NULL if layer.W_slots[j] == NULL
                        else <floating*> layer.W_slots[j] + i0 * n_out)
    if job.stage != STAGE_UPDATE:
        if i0 < 0:                                  # db = sum over the batch of epsilon
            bias_gradient_core(job.m, n_out, <floating*> layer.epsilon, g)
            t = lap(phases, P_BACKWARD_ELEMENTWISE, t)
        else:                                       # dW[i0:i1] = g_prev[:, i0:i1]^T epsilon
            if fused:                               # (see OWN THE ROWS)
                refnn_own_lines(w, size * sizeof(floating))
            gemm(True, False, rows, n_out, job.m, 1, A + i0, n_in, <floating*> layer.epsilon,
                 n_out, 0, g, n_out)                # (one gemm over the whole batch)
            t = lap(phases, P_BACKWARD_GEMM, t)
    if not fused:
        return
    if job.stage != STAGE_UPDATE:
        if job.penalty != NULL:                     # its value, of w before the update
            job.penalty_sum[q] = penalty_value(job, array, w, size)
            add_penalty(job, array, w, g, size)
        if job.stage == STAGE_GRADIENT:             # the norm needs every piece: next region
            job.sumsq[q] = lane_sum(g, size, True)
            t = lap(phases, P_UPDATE, t)
            return
        if job.clip_kind == C_CLIP_VALUE:
            clip_values(g, <floating> job.clip, size)
    else:                                           # g times its array's clipping factor
        factor = <floating> job.scale[array]
        for j in range(size):
            g[j] *= factor
    decay_weights(job, w, size)
    job.finite[q] = update(job.rule, job.scalars, w, g, slots, size)
    t = lap(phases, P_UPDATE, t)


cdef void run_rows_piece(void* job, int p, int worker) noexcept nogil:
    if (<StepJob*> job).batch.double_precision:
        rows_piece[double](<StepJob*> job, p, worker, 0)
    else:
        rows_piece[float](<StepJob*> job, p, worker, 0)


cdef void run_weights_piece(void* job, int q, int worker) noexcept nogil:
    if (<StepJob*> job).batch.double_precision:
        weights_piece[double](<StepJob*> job, q, worker, 0)
    else:
        weights_piece[float](<StepJob*> job, q, worker, 0)


cdef void clip_factors(StepJob* job) noexcept nogil:
    """Each array's clipping factor from its pieces' sums of squares, added in piece order:
    clipnorm          c / max(|g_a|, c) for each array a
    global_clipnorm   c / max(sqrt(sum_a |g_a|^2), c) for all together"""
    cdef Py_ssize_t a, n_arrays = 2 * job.L
    cdef int q
    cdef double total = 0, c = job.clip
    for a in range(n_arrays):
        job.scale[a] = 0
    for q in range(job.n_weight_pieces):
        a = 2 * job.weight_pieces[q].layer + (1 if job.weight_pieces[q].first < 0 else 0)
        job.scale[a] += job.sumsq[q]
    if job.clip_kind == C_CLIP_NORM:
        for a in range(n_arrays):
            job.scale[a] = c / max(sqrt(job.scale[a]), c)
    else:
        for a in range(n_arrays):
            total += job.scale[a]
        for a in range(n_arrays):
            job.scale[a] = c / max(sqrt(total), c)


cdef Py_ssize_t train_step_core(StepJob* job, int n_threads,
                                double* loss_sum_out) noexcept nogil:
    """Returns STEP_DONE; or (check_finite) the position in the batch of the first sample
    whose inputs are not all finite, and then nothing was updated; or (rule >= 0)
    STEP_NOT_FINITE when the batch's loss is not finite, and then nothing was updated; or
    STEP_UPDATE_NOT_FINITE when the update left a weight or a slot NaN or infinite (every array
    was updated all the same: the caller puts the previous state back)."""
    cdef Py_ssize_t s
    cdef int p, rule = job.rule
    cdef bint finite = True
    cdef double loss_sum = 0
    refnn_pool_run(run_rows_piece, job, job.n_row_pieces, n_threads)
    for p in range(job.n_row_pieces):
        if job.first_bad[p] >= 0:
            return job.first_bad[p]
    for s in range(job.m):                                  # in order: the same sum always
        if job.batch.double_precision:
            loss_sum += (<double*> job.batch.losses)[s]
        else:
            loss_sum += (<float*> job.batch.losses)[s]      # in double, as the mean is reported
    loss_sum_out[0] = loss_sum
    if rule >= 0 and not isfinite(loss_sum):
        job.rule = -1                                       # gradients, no update
    if job.rule >= 0 and job.clip_kind in (C_CLIP_NORM, C_CLIP_GLOBAL_NORM):
        job.stage = STAGE_GRADIENT
        refnn_pool_run(run_weights_piece, job, job.n_weight_pieces, n_threads)
        clip_factors(job)
        job.stage = STAGE_UPDATE
    refnn_pool_run(run_weights_piece, job, job.n_weight_pieces, n_threads)
    job.rule, job.stage = rule, STAGE_WHOLE
    if rule >= 0 and not isfinite(loss_sum):
        return C_STEP_NOT_FINITE
    for p in range(job.n_weight_pieces):
        finite &= job.finite[p]
    return C_STEP_DONE if finite else C_STEP_UPDATE_NOT_FINITE


cdef inline void* data_of(a):
    """the address of a NumPy array's first element"""
    return <void*> <size_t> a.ctypes.data


# How the work of a step is cut into pieces (see "the pieces of a step" above): by the sizes
# alone. Fewer pieces cost less (each rows piece's gemm packs W_l again, each weights piece's
# packs epsilon_l again); more pieces let more threads share the work and let the running
# threads take over a pre-empted one's share. Measured on W1 and W3 (refnn bench): pieces of
# about 100 batch rows, and of 25000 weights, cost one thread 2 to 5 %.
ROW_PIECE_ROWS = 100         # a rows piece has about this many rows of the batch ...
ROW_HALF_ROWS = 32           # ... but a batch of twice this many rows is cut in two at least
ROW_PIECES_MAX = 8           # ... and into at most this many pieces
WEIGHT_PIECE_ENTRIES = 25000 # a weights piece has at least this many weights ...
WEIGHT_PIECES_MAX = 8        # ... and a layer's W at most this many weights pieces
cdef Py_ssize_t row_piece_rows = ROW_PIECE_ROWS, row_half_rows = ROW_HALF_ROWS
cdef Py_ssize_t row_pieces_max = ROW_PIECES_MAX
cdef Py_ssize_t weight_piece_entries = WEIGHT_PIECE_ENTRIES
cdef Py_ssize_t weight_pieces_max = WEIGHT_PIECES_MAX
MAX_THREADS = REFNN_MAX_THREADS


def round_trip_ns(int cpu_a, int cpu_b, long rounds, double budget_seconds):
    """The time for a cache line to go from core cpu_a to core cpu_b and back, in ns, over
    `rounds` round trips (src_c/pool.h refnn_round_trip_ns); -1 when it could not be measured
    within `budget_seconds`. Checked by kernels.threads.core_round_trip."""
    cdef double ns
    cdef long long budget = <long long> (budget_seconds * 1e9)
    with nogil:
        ns = refnn_round_trip_ns(cpu_a, cpu_b, rounds, budget)
    return ns


def set_piece_sizes(Py_ssize_t rows=ROW_PIECE_ROWS, Py_ssize_t half=ROW_HALF_ROWS,
                    Py_ssize_t rows_max=ROW_PIECES_MAX, Py_ssize_t entries=WEIGHT_PIECE_ENTRIES,
                    Py_ssize_t entries_max=WEIGHT_PIECES_MAX):
    """Cut the steps of DenseSteps made from now on differently (for measuring what the cut
    costs; the numbers change with it). Each argument at least 1."""
    global row_piece_rows, row_half_rows, row_pieces_max, weight_piece_entries
    global weight_pieces_max
    if min(rows, half, rows_max, entries, entries_max) < 1 or max(rows_max, entries_max) > 4096:
        raise ValueError("piece sizes must be at least 1 (and at most 4096 pieces)")
    row_piece_rows, row_half_rows, row_pieces_max = rows, half, rows_max
    weight_piece_entries, weight_pieces_max = entries, entries_max


cdef inline Py_ssize_t n_row_pieces(Py_ssize_t m, Py_ssize_t rows, Py_ssize_t half,
                                    Py_ssize_t most) noexcept nogil:
    """how many rows pieces a batch of m rows is cut into (see ROW_PIECE_ROWS)"""
    cdef Py_ssize_t n = n_pieces_of(m, rows, most), two = n_pieces_of(m, half, 2)
    return n if n > two else two


cdef class DenseStep:
    """The buffers of one network's step, set up once; step(order) then costs one call with
    one argument. The arrays are held here, so the pointers stay valid: the weights are
    updated in place by the optimizer, never replaced.
    Built by refnn.kernels.DenseTrainer, which checked every array first."""
    cdef list refs                      # every array whose memory the pointers point into
    cdef Py_ssize_t L, batch_size, n
    cdef int loss_code
    cdef LayerBuffers* layers           # L records
    cdef BatchBuffers batch
    cdef StepJob job                    # the pieces of a step, and their results
    cdef Py_ssize_t rows_least, rows_half, rows_most
    cdef double* phases                 # seconds per worker and phase since the last reset
    cdef int rule                       # the fused update's rule (RULE_*), or -1: none
    cdef int n_scalars                  # how many scalars it takes
    cdef list slot_refs
    cdef double scalars[MAX_SCALARS]
    cdef readonly double loss_sum       # the last step's sum of the per-sample losses
    cdef readonly double penalty_sum    # and its penalty's value (0: none; NaN: not updated)
    cdef public int threads             # how many threads a step may use (1: this one)
    cdef double* penalty                # (2L, 2) the penalty's gradient coefficients

    def __cinit__(self):
        self.layers = NULL
        self.rule = -1
        self.threads = 1
        self.job.row_start = NULL
        self.job.first_bad = NULL
        self.job.weight_pieces = NULL
        self.job.finite = NULL
        self.job.sumsq = NULL
        self.job.scale = NULL
        self.penalty = NULL
        self.job.sample_weight = NULL
        self.phases = <double*> calloc(REFNN_MAX_THREADS * N_PHASES, sizeof(double))
        if self.phases == NULL:
            raise MemoryError()

    def __init__(self, list weights, list grads, list work, h_last, Xb, Yb, X, Y,
                 activations, int loss_code, losses, yhat, sample_weight=None):
        cdef Py_ssize_t l, q, n_q, rows, n_in, n_out, i
        cdef LayerBuffers* layer
        self.L = len(weights) // 2
        self.refs = weights + grads + work + [h_last, Xb, Yb, X, Y, activations, losses, yhat,
                                              sample_weight]
        self.batch.double_precision = X.dtype.itemsize == 8
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
        # the pieces: rows pieces are cut per step (the last batch may be shorter); weights
        # pieces once, here: each W_l in row blocks, the largest layers first, then the biases
        self.rows_least, self.rows_half = row_piece_rows, row_half_rows
        self.rows_most = max(row_pieces_max, 2)
        self.job.row_start = <Py_ssize_t*> calloc(self.rows_most + 1, sizeof(Py_ssize_t))
        self.job.first_bad = <Py_ssize_t*> calloc(self.rows_most, sizeof(Py_ssize_t))
        pieces = []
        for l in range(self.L):
            n_in, n_out = self.layers[l].n_in, self.layers[l].n_out
            n_q = n_pieces_of(n_in * n_out, weight_piece_entries, min(weight_pieces_max, n_in))
            pieces += [(-n_in * n_out, l, q * n_in // n_q, (q + 1) * n_in // n_q)
                       for q in range(n_q)]
        pieces.sort(key=lambda piece: piece[0])               # stable: in order within a layer
        pieces += [(0, l, -1, 0) for l in range(self.L)]
        self.job.n_weight_pieces = len(pieces)
        self.job.weight_pieces = <WeightPiece*> calloc(len(pieces), sizeof(WeightPiece))
        self.job.finite = <bint*> calloc(len(pieces), sizeof(bint))
        self.job.sumsq = <double*> calloc(len(pieces), sizeof(double))
        self.job.scale = <double*> calloc(2 * self.L, sizeof(double))
        self.job.penalty_sum = <double*> calloc(len(pieces), sizeof(double))
        self.penalty = <double*> calloc(4 * self.L, sizeof(double))
        if (self.job.row_start == NULL or self.job.first_bad == NULL
                or self.job.weight_pieces == NULL or self.job.finite == NULL
                or self.job.sumsq == NULL or self.job.scale == NULL or self.penalty == NULL
                or self.job.penalty_sum == NULL):
            raise MemoryError()
        if sample_weight is not None:                   # (n,) in the data's dtype: checked
            self.job.sample_weight = data_of(sample_weight)
        for i, (_, l, first, stop) in enumerate(pieces):
            self.job.weight_pieces[i].layer = l
            self.job.weight_pieces[i].first = first
            self.job.weight_pieces[i].stop = stop
        self.job.L, self.job.layers, self.job.batch = self.L, self.layers, &self.batch
        self.job.loss_code = loss_code
        self.job.phases = self.phases

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
        free(self.phases)
        free(self.job.row_start)
        free(self.job.first_bad)
        free(self.job.weight_pieces)
        free(self.job.finite)
        free(self.job.sumsq)
        free(self.job.scale)
        free(self.job.penalty_sum)
        free(self.penalty)

    def reset_phases(self):
        cdef int i
        for i in range(REFNN_MAX_THREADS * N_PHASES):
            self.phases[i] = 0

    def phase_seconds(self):
        """{phase: seconds} spent in each phase of the steps since the last reset (PHASES),
        summed over the threads that ran it"""
        return {name: sum(self.phases[w * N_PHASES + i] for w in range(REFNN_MAX_THREADS))
                for i, name in enumerate(PHASES)}

    def worker_seconds(self):
        """[seconds] each thread (0: the caller) spent on pieces since the last reset, for the
        threads that ran any"""
        busy = [sum(self.phases[w * N_PHASES + i] for i in range(N_PHASES))
                for w in range(REFNN_MAX_THREADS)]
        return busy[:max([w + 1 for w in range(REFNN_MAX_THREADS) if busy[w] > 0] or [1])]

    def pieces(self, Py_ssize_t m):
        """(rows pieces of a batch of m, weights pieces): how a step's work is cut"""
        return (n_row_pieces(m, self.rows_least, self.rows_half, self.rows_most),
                self.job.n_weight_pieces)

    def step(self, const Py_ssize_t[::1] order, bint check_finite=False, scalars=None,
             int clip_kind=C_CLIP_NONE, double clip=0, double decay=0, double decay_rate=0,
             penalty=None):
        """The gradients of the mean loss over the samples `order` (1 to batch indices); with
        `scalars` (the set_update rule's, for this step) the weights are updated too, when
        the loss is finite. Returns STEP_DONE; or (check_finite) the index of a sample whose
        inputs are not all finite, and nothing was updated; or STEP_NOT_FINITE when the
        loss was not finite, and nothing was updated; or STEP_UPDATE_NOT_FINITE when the
        update left a weight or slot not finite. Runs on up to `threads` threads.

        With the update, before the rule (as Optimizer.apply): `penalty`, 2L pairs (c1, c2) in
        the order of the weights, adds c1 sign(w) + c2 w to each gradient; `clip_kind`
        (CLIP_*) clips them by `clip`; `decay` > 0 decays each weight, w -= w decay
        decay_rate. The caller (DenseTrainer) checked these numbers."""
        cdef Py_ssize_t m = order.shape[0], s, bad = -1, n_rows
        cdef int rule = -1, threads = self.threads
        cdef Py_ssize_t i
        if m < 1 or m > self.batch_size:
            raise ValueError(f"order must hold 1 to {self.batch_size} indices, got {m}")
        if not 1 <= threads <= REFNN_MAX_THREADS:
            raise ValueError(f"threads must be 1 to {REFNN_MAX_THREADS}, got {threads}")
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
        n_rows = n_row_pieces(m, self.rows_least, self.rows_half, self.rows_most)
        for i in range(n_rows + 1):
            self.job.row_start[i] = i * m // n_rows
        self.job.n_row_pieces = <int> n_rows
        self.job.order, self.job.m = &order[0], m
        self.job.check_finite, self.job.rule, self.job.scalars = check_finite, rule, self.scalars
        if not C_CLIP_NONE <= clip_kind <= C_CLIP_GLOBAL_NORM or (clip_kind and not clip > 0):
            raise ValueError(f"clip_kind {clip_kind} with clip {clip} is not a clipping")
        self.job.clip_kind, self.job.clip = clip_kind, clip
        self.job.decay, self.job.decay_rate = decay, decay_rate
        self.job.penalty = NULL
        if penalty is not None:
            if len(penalty) != 2 * self.L:
                raise ValueError(f"penalty must hold {2 * self.L} pairs, got {len(penalty)}")
            for i in range(2 * self.L):
                self.penalty[2 * i], self.penalty[2 * i + 1] = penalty[i]
            self.job.penalty = self.penalty
        self.job.stage = STAGE_WHOLE
        with nogil:
            refnn_blas_enter()                       # the BLAS on one thread per caller
            bad = train_step_core(&self.job, threads, &self.loss_sum)
            refnn_blas_leave()
        self.penalty_sum = 0                         # the pieces' values, added in piece order
        if self.job.penalty != NULL:
            if rule < 0 or (bad != C_STEP_DONE and bad != C_STEP_UPDATE_NOT_FINITE):
                self.penalty_sum = float("nan")      # no update: the pieces did not weigh it
            else:
                for i in range(self.job.n_weight_pieces):
                    self.penalty_sum += self.job.penalty_sum[i]
        self.job.order = NULL
        return bad if bad < 0 else order[bad]




# ---------------------------------------------------------------- inference: the forward pass
# predict and evaluate on a stack of Dense layers (refnn.kernels.DenseForward): the rows are
# cut into pieces of FORWARD_PIECE_ROWS, each taken through every layer with one-thread BLAS,
# on refnn's threads. The cut depends on the number of rows alone, so a row's outputs never
# depend on the thread count. Each piece packs every W_l anew; measured on the lecture's
# model (784-128-10, float32, 10,000 rows, one thread): pieces of 128, 256 and 512 rows ran
# 352,000, 377,000 and 360,000 rows/s.
FORWARD_PIECE_ROWS = 256


cdef struct ForwardLayer:
    const void* W                   # IN   (n_in, n_out)
    const void* b                   # IN   (n_out,)
    Py_ssize_t n_in, n_out
    int activation


cdef struct ForwardJob:
    ForwardLayer* layers            # L records
    Py_ssize_t L, n, piece_rows
    Py_ssize_t width                # the widest hidden layer (at least 1)
    const void* X                   # IN   (n, n_0)
    void* h_last                    # OUT  (n, n_L) the output layer's h_L (the logits)
    void* g_last                    # OUT  (n, n_L) yhat = f(h_L)
    void* work                      # WORK two (piece_rows, width) buffers per thread
    char* bad                       # OUT  per piece: 1 + the layer whose h_l is not finite
    bint double_precision


cdef void forward_piece(ForwardJob* job, int p, int worker, floating dtype_tag) noexcept nogil:
    cdef Py_ssize_t r0 = p * job.piece_rows, r = min(job.n - r0, job.piece_rows)
    cdef Py_ssize_t l, s, L = job.L, k = job.layers[L - 1].n_out
    cdef Py_ssize_t buffer = job.piece_rows * job.width
    cdef floating* buffers = <floating*> job.work + 2 * worker * buffer
    cdef floating* h_last = <floating*> job.h_last + r0 * k
    cdef floating* g_last = <floating*> job.g_last + r0 * k
    cdef const floating* A = <const floating*> job.X + r0 * job.layers[0].n_in
    cdef floating* H
    cdef ForwardLayer* layer
    job.bad[p] = 0
    for l in range(L):
        layer = &job.layers[l]
        H = h_last if l == L - 1 else buffers + (l % 2) * buffer
        dense_forward_core(r, layer.n_in, layer.n_out, A, <const floating*> layer.W,
                           <const floating*> layer.b, H)         # h_l = g_{l-1} W_l + b_l
        if not all_finite(H, r * layer.n_out):                   # an overflow: say where
            job.bad[p] = <char> (l + 1)
            return
        if l < L - 1:
            activate(layer.activation, H, H, r * layer.n_out)    # g_l = f(h_l), in place
        A = H
    layer = &job.layers[L - 1]
    if layer.activation == SOFTMAX:                              # yhat = f(h_L)
        for s in range(r):
            softmax_row(h_last + s * k, g_last + s * k, k)
    else:
        activate(layer.activation, h_last, g_last, r * k)


cdef void run_forward_piece(void* job, int p, int worker) noexcept nogil:
    if (<ForwardJob*> job).double_precision:
        forward_piece[double](<ForwardJob*> job, p, worker, 0)
    else:
        forward_piece[float](<ForwardJob*> job, p, worker, 0)


FORWARD_MAX_ROWS = FORWARD_PIECE_ROWS * REFNN_MAX_PIECES    # rows of one call at most


def forward_pieces(Py_ssize_t n):
    """how many pieces the forward pass over n rows is cut into"""
    return (n + FORWARD_PIECE_ROWS - 1) // FORWARD_PIECE_ROWS


def dense_stack_forward(list weights, const int[::1] activations, X, h_last, g_last,
                        int threads):
    """h_L and yhat = f(h_L) of the Dense stack (W_1, b_1, ..., W_L, b_L) with activation
    codes f_1 .. f_L (softmax only last) for every row of X, on up to `threads` threads.
    Returns 0, or the first layer l (1 .. L) whose h_l held NaN or infinity in some row (the
    outputs are then incomplete). refnn.kernels.dense_stack_forward checked every array:
    C-contiguous, one dtype (float32 or float64), the shapes chained, h_last and g_last
    (n, n_L), at least one row, at most 127 layers."""
    cdef Py_ssize_t L = len(weights) // 2, l, n = X.shape[0], p
    cdef int first_bad = 0, n_pieces
    cdef ForwardJob job
    if not 1 <= n <= FORWARD_MAX_ROWS:
        raise ValueError(f"X must have 1 to {FORWARD_MAX_ROWS} rows, got {n}")
    if not 1 <= threads <= REFNN_MAX_THREADS:
        raise ValueError(f"threads must be 1 to {REFNN_MAX_THREADS}, got {threads}")
    n_pieces = <int> forward_pieces(n)
    threads = min(threads, n_pieces)
    job.L, job.n, job.piece_rows = L, n, FORWARD_PIECE_ROWS
    job.width = max([1] + [weights[2 * l].shape[1] for l in range(L - 1)])
    job.X, job.h_last, job.g_last = data_of(X), data_of(h_last), data_of(g_last)
    job.double_precision = X.dtype.itemsize == 8
    job.work = malloc(2 * threads * job.piece_rows * job.width * X.dtype.itemsize)
    job.layers = <ForwardLayer*> malloc(L * sizeof(ForwardLayer))
    job.bad = <char*> malloc(n_pieces)
    try:
        if job.layers == NULL or job.work == NULL or job.bad == NULL:
            raise MemoryError()
        for l in range(L):
            job.layers[l].W, job.layers[l].b = data_of(weights[2 * l]), data_of(weights[2 * l + 1])
            job.layers[l].n_in, job.layers[l].n_out = weights[2 * l].shape[0], weights[2 * l].shape[1]
            job.layers[l].activation = activations[l]
        with nogil:
            refnn_blas_enter()                       # the BLAS on one thread per caller
            refnn_pool_run(run_forward_piece, &job, n_pieces, threads)
            refnn_blas_leave()
        for p in range(n_pieces):
            if job.bad[p] and (first_bad == 0 or job.bad[p] < first_bad):
                first_bad = job.bad[p]
        return first_bad
    finally:
        free(job.layers)
        free(job.work)
        free(job.bad)
