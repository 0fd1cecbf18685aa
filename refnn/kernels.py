"""The compiled kernels, behind checked entry points.

This is the one module that imports the compiled extensions (refnn._dense, refnn._activations,
refnn._losses, refnn._textbook, built from src_c/). Each function here validates its arguments
(ndim, shapes, float32/float64 dtype, one dtype for all arrays, finiteness, emptiness), makes
them C-contiguous, allocates the outputs and calls the kernel, which then runs without the GIL
and without bounds checks. Nothing unchecked reaches C.

Notation: h weighted sum, g activation output, epsilon error term dE/dh, eta learning rate.
Shapes are batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h and epsilon (n, n_out).

Each function has two twins with the same name and arguments, the oracles it is tested
against: refnn.reference.pure (plain Python) and refnn.reference.vectorized (NumPy).
"""
import numpy as np

from . import _activations, _dense, _losses, _optimizers, _textbook, _train
from ._validate import (NonFiniteError, as_array, check_dim, check_same_samples, choice,
                        positive_number)

# ---- which BLAS multiplies the matrices
def _numpy_openblas():
    """(sgemm, dgemm) addresses in NumPy's own OpenBLAS (the ILP64 scipy-openblas64 build that
    NumPy's wheels ship), or None when this NumPy has no such library."""
    import ctypes
    import glob
    import os
    libs = os.path.join(os.path.dirname(os.path.dirname(np.__file__)), "numpy.libs")
    for path in sorted(glob.glob(os.path.join(libs, "libscipy_openblas64_*"))):
        try:
            lib = ctypes.CDLL(path)          # already loaded by NumPy: the same library
            return (ctypes.cast(lib.scipy_sgemm_64_, ctypes.c_void_p).value,
                    ctypes.cast(lib.scipy_dgemm_64_, ctypes.c_void_p).value)
        except (OSError, AttributeError):
            continue
    return None


def use_blas(which="auto"):
    """Choose the BLAS of the kernels' matrix products: "numpy" (NumPy's OpenBLAS, the one
    NumPy's own @ uses), "scipy" (scipy.linalg.cython_blas) or "auto" (numpy when found).
    The environment variable REFNN_BLAS sets it at import. Returns the name in use."""
    which = choice("blas", which, ("auto", "numpy", "scipy"))
    found = _numpy_openblas() if which in ("auto", "numpy") else None
    if which == "numpy" and found is None:
        raise ValueError("NumPy's OpenBLAS was not found (this NumPy is built another way); "
                         "use 'scipy'")
    for module in (_dense, _train):
        module.use_blas(*(found or (0, 0)))
    global BLAS
    BLAS = "numpy" if found else "scipy"
    return BLAS


BLAS = use_blas(__import__("os").environ.get("REFNN_BLAS", "auto"))

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax", "step")
DIFFERENTIABLE = ("sigmoid", "tanh", "relu", "linear")   # f'(h) elementwise, from g
ACTIVATION_CODES = _activations.ACTIVATION_CODES


def activation_code(activation, valid=ACTIVATIONS, why=""):
    """The kernels' code for an activation name; the error lists the valid names."""
    if isinstance(activation, str) and activation in ACTIVATIONS and activation not in valid:
        raise ValueError(f"activation {activation!r} is not allowed here{why}; "
                         f"valid: {', '.join(valid)}")
    return ACTIVATION_CODES[choice("activation", activation, valid)]


def _derivative_code(activation):
    return activation_code(
        activation, DIFFERENTIABLE,
        " (softmax has no elementwise derivative: use the fused softmax_crossentropy; "
        "step has zero derivative almost everywhere)")


def _first(name, a, ndim):
    """The array that fixes the dtype of a call: float32 or float64, nothing else."""
    return as_array(name, a, ndim=ndim, allow_int=False)


def _like(name, a, ndim, dtype):
    return as_array(name, a, ndim=ndim, dtype=dtype, allow_int=False)


def dense_forward(g_prev, W, b):
    """h = g_prev @ W + b"""
    W = _first("W", W, 2)
    g_prev = _like("g_prev", g_prev, 2, W.dtype)
    b = _like("b", b, 1, W.dtype)
    check_dim("g_prev", g_prev.shape[1], W.shape[0], "features (columns)", "W has {expected} rows")
    check_dim("b", b.shape[0], W.shape[1], "entries", "W has {expected} columns (units)")
    h = np.empty((g_prev.shape[0], W.shape[1]), W.dtype)
    _dense.dense_forward(g_prev, W, b, h)
    return h


def dense_backward(g_prev, W, epsilon):
    """dW = g_prev.T @ epsilon,  db = sum(epsilon, axis=0),  dg_prev = epsilon @ W.T"""
    W = _first("W", W, 2)
    g_prev = _like("g_prev", g_prev, 2, W.dtype)
    epsilon = _like("epsilon", epsilon, 2, W.dtype)
    check_dim("g_prev", g_prev.shape[1], W.shape[0], "features (columns)", "W has {expected} rows")
    check_dim("epsilon", epsilon.shape[1], W.shape[1], "columns", "W has {expected} units")
    check_same_samples(g_prev=g_prev, epsilon=epsilon)
    dW = np.empty_like(W)
    db = np.empty(W.shape[1], W.dtype)
    dg_prev = np.empty_like(g_prev)
    _dense.dense_backward(g_prev, W, epsilon, dW, db, dg_prev)
    return dW, db, dg_prev


def activation_forward(h, activation):
    """g = f(h) for f in sigmoid, tanh, relu, linear, softmax (row-wise), step"""
    code = activation_code(activation)
    h = _first("h", h, 2)
    g = np.empty_like(h)
    _activations.activation_forward(h, code, g)
    return g


def activation_derivative(g, activation):
    """f'(h) written from g = f(h): sigmoid g(1-g), tanh 1-g^2, relu [g>0], linear 1"""
    code = _derivative_code(activation)
    g = _first("g", g, 2)
    out = np.empty_like(g)
    _activations.activation_derivative(g, code, out)
    return out


def epsilon_backward(epsilon, W, g_prev, activation):
    """epsilon_prev = (epsilon @ W.T) * f'(h_prev), f' from g_prev (the layer below's output)"""
    code = _derivative_code(activation)
    W = _first("W", W, 2)
    epsilon = _like("epsilon", epsilon, 2, W.dtype)
    g_prev = _like("g_prev", g_prev, 2, W.dtype)
    check_dim("epsilon", epsilon.shape[1], W.shape[1], "columns", "W has {expected} units")
    check_dim("g_prev", g_prev.shape[1], W.shape[0], "columns", "W has {expected} rows")
    check_same_samples(epsilon=epsilon, g_prev=g_prev)
    out = np.empty_like(g_prev)
    _dense.epsilon_backward(epsilon, W, g_prev, code, out)
    return out


def _output_pair(h_name, h, y):
    h = _first(h_name, h, 2)
    y = _like("y", y, 2, h.dtype)
    if y.shape != h.shape:
        raise ValueError(f"y must have the shape of {h_name}, {h.shape}, got {y.shape}")
    return h, y, np.empty(h.shape[0], h.dtype), np.empty_like(h)


def softmax_crossentropy(h, y):
    """loss_i = -sum_k y_k log softmax(h)_k,  epsilon = softmax(h) sum_k y_k - y  (= yhat - y)"""
    h, y, loss, epsilon = _output_pair("h", h, y)
    _losses.softmax_crossentropy(h, y, loss, epsilon)
    return loss, epsilon


def sigmoid_binary_crossentropy(h, y):
    """loss_i = sum_k -y log sigmoid(h) - (1-y) log(1 - sigmoid(h)),  epsilon = sigmoid(h) - y"""
    h, y, loss, epsilon = _output_pair("h", h, y)
    _losses.sigmoid_binary_crossentropy(h, y, loss, epsilon)
    return loss, epsilon


def squared_error_output(g, y, activation):
    """E_i = 1/2 sum_k (g_k - y_k)^2,  epsilon = (g - y) * f'(h)  (f' from g)"""
    code = _derivative_code(activation)
    g, y, E, epsilon = _output_pair("g", g, y)
    _losses.squared_error_output(g, y, code, E, epsilon)
    return E, epsilon


def _writable_target(name, w, dtype):
    """A parameter array updated in place: the caller's array itself when it is a C-contiguous,
    writeable array of `dtype`, else a checked copy (written back by _write_back)."""
    if not isinstance(w, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array (it is updated in place), "
                        f"got {type(w).__name__}")
    if not w.flags.writeable:
        raise ValueError(f"{name} is read-only; it is updated in place")
    return as_array(name, w, ndim=w.ndim, dtype=dtype, allow_int=False)


def _write_back(originals, works):
    for original, work in zip(originals, works):
        if work is not original:
            original[...] = work


def sgd_update(w, grad, eta):
    """w <- w - eta * grad   (in place; returns w)"""
    eta = positive_number("eta", eta)
    if not isinstance(w, np.ndarray):
        raise TypeError(f"w must be a NumPy array (it is updated in place), got {type(w).__name__}")
    work = _writable_target("w", w, None)
    grad = _like("grad", grad, None, work.dtype)
    if grad.shape != work.shape:
        raise ValueError(f"grad must have the shape of w, {work.shape}, got {grad.shape}")
    _dense.sgd_update(work.reshape(-1), grad.reshape(-1), eta)
    _write_back([w], [work])
    return w


def check_weights(weights, dtype=None, name="weights"):
    """[W1, b1, W2, b2, ...]: 2-D kernels, 1-D biases, sizes that chain, one float dtype.
    Returns the sizes [n_0, n_1, ..., n_L]."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name} must be a list [W1, b1, W2, b2, ...], got {type(weights).__name__}")
    if len(weights) == 0 or len(weights) % 2:
        raise ValueError(f"{name} must hold pairs [W1, b1, W2, b2, ...], got {len(weights)} arrays")
    sizes = []
    for l in range(len(weights) // 2):
        W, b = weights[2 * l], weights[2 * l + 1]
        for label, a, nd in ((f"W{l + 1}", W, 2), (f"b{l + 1}", b, 1)):
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{name}: {label} must be a NumPy array, got {type(a).__name__}")
            if a.ndim != nd:
                raise ValueError(f"{name}: {label} must be {nd}-D, got shape {a.shape}")
            if dtype is not None and a.dtype != dtype:
                raise TypeError(f"{name}: {label} must be {np.dtype(dtype).name}, got {a.dtype.name}")
        if l == 0:
            sizes.append(W.shape[0])
        elif W.shape[0] != sizes[-1]:
            raise ValueError(f"{name}: W{l + 1} has {W.shape[0]} rows but layer {l} has "
                             f"{sizes[-1]} units")
        if b.shape[0] != W.shape[1]:
            raise ValueError(f"{name}: b{l + 1} has {b.shape[0]} entries but W{l + 1} has "
                             f"{W.shape[1]} columns")
        sizes.append(W.shape[1])
    return sizes


def sgd_per_sample(weights, X, Y, eta, activation):
    """The textbook algorithm over (X, Y), one sample at a time, in order; the weights
    [W1, b1, W2, b2, ...] are updated in place. Returns (weights, E) with E[i] the squared
    error of sample i, computed in its forward pass before its update."""
    code = activation_code(activation, DIFFERENTIABLE,
                           " (the textbook network needs f'(h) from g at every layer)")
    eta = positive_number("eta", eta)
    if isinstance(weights, (list, tuple)) and weights and isinstance(weights[0], np.ndarray):
        dtype = weights[0].dtype
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"weights: W1 must be float32 or float64, got {dtype.name}")
    else:
        dtype = None
    sizes = check_weights(weights, dtype)
    works = [_writable_target(f"weights[{i}]", w, dtype) for i, w in enumerate(weights)]
    X = _like("X", X, 2, dtype)
    Y = _like("Y", Y, 2, dtype)
    check_dim("X", X.shape[1], sizes[0], "features", "W1 has {expected} rows")
    check_dim("Y", Y.shape[1], sizes[-1], "columns", "the output layer has {expected} units")
    check_same_samples(X=X, Y=Y)
    E = np.empty(X.shape[0], dtype)
    _textbook.sgd_per_sample(works, X, Y, eta, code, E)
    _write_back(weights, works)
    return list(weights), E


# ---- the fast training step of a dense network
class DenseTrainer:
    """The mini-batch step of a stack of Dense layers in one compiled call (src_c/_train.pyx):
    gather, forward, fused output error, backward; the gradients land in `grads`.

    Checked once here (weights, data, activations, loss); then `step(order)` runs batch after
    batch with no per-batch checks and no allocation: the work buffers are made once.

    weights   [W1, b1, ...] C-contiguous, one float dtype, sizes that chain
    X, Y      the data set (n, n_0) and targets (n, n_L) in that dtype, finite
    activations  the layers' activation names (softmax only last, with "softmax_crossentropy")
    loss      "softmax_crossentropy", "sigmoid_binary_crossentropy" or "mean_squared_error"
    """

    PHASES = _train.PHASES            # what phase_seconds() reports, in the order they run

    LOSSES = {"softmax_crossentropy": _train.SOFTMAX_CROSSENTROPY,
              "sigmoid_binary_crossentropy": _train.SIGMOID_BINARY_CROSSENTROPY,
              "mean_squared_error": _train.MEAN_SQUARED_ERROR}

    def __init__(self, weights, X, Y, activations, loss, batch_size):
        self.loss_code = self.LOSSES[choice("loss", loss, self.LOSSES)]
        dtype = weights[0].dtype if weights and isinstance(weights[0], np.ndarray) else None
        sizes = check_weights(weights, dtype)
        for i, w in enumerate(weights):
            if not (w.flags.c_contiguous and w.flags.writeable):
                raise ValueError(f"weights[{i}] must be C-contiguous and writable")
        if len(activations) != len(sizes) - 1:
            raise ValueError(f"activations has {len(activations)} names for {len(sizes) - 1} layers")
        codes = [activation_code(a, DIFFERENTIABLE + ("softmax",)) for a in activations]
        if "softmax" in activations[:-1] or (activations[-1] == "softmax") != (
                loss == "softmax_crossentropy"):
            raise ValueError("softmax goes with softmax_crossentropy, on the output layer only")
        if loss == "sigmoid_binary_crossentropy" and activations[-1] != "sigmoid":
            raise ValueError("sigmoid_binary_crossentropy needs a sigmoid output layer")
        X = as_array("X", X, ndim=2, dtype=dtype, allow_int=False, check_finite=False)
        Y = as_array("Y", Y, ndim=2, dtype=dtype, allow_int=False, check_finite=False)
        check_dim("X", X.shape[1], sizes[0], "features", "W1 has {expected} rows")
        check_dim("Y", Y.shape[1], sizes[-1], "columns", "the output layer has {expected} units")
        check_same_samples(X=X, Y=Y)
        self.weights, self.X, self.Y, self.sizes = list(weights), X, Y, sizes
        self.activations = np.array(codes, dtype=np.intc)
        self.batch_size = int(batch_size)
        m = self.batch_size
        self.grads = [np.empty_like(w) for w in weights]
        self.work = ([np.empty((m, n), dtype) for n in sizes[1:]]
                     + [np.empty((m, n), dtype) for n in sizes[1:]])
        self.h_last = np.empty((m, sizes[-1]), dtype)
        self.Xb = np.empty((m, sizes[0]), dtype)
        self.Yb = np.empty((m, sizes[-1]), dtype)
        self.losses = np.empty(m, dtype)
        self.yhat = np.empty((m, sizes[-1]), dtype)
        self._step = _train.DenseStep(self.weights, self.grads, self.work, self.h_last, self.Xb,
                                      self.Yb, self.X, self.Y, self.activations, self.loss_code,
                                      self.losses, self.yhat)
        self.rule = None            # set_update() fuses an optimizer's update into step()
        self.updated = False        # whether the last step updated the weights
        self.mean_loss = None       # the last step's mean loss over its batch

    UPDATE_RULES = tuple(_train.UPDATE_RULES)     # what set_update() accepts

    def set_update(self, rule, slots):
        """Fuse an optimizer's update into step(): after the backward pass through each layer,
        its W and b are updated by `rule` (the loops of the optimizer kernels, see
        src_c/_updates.pxd), in place, with their slots. `slots` holds, for each weight array
        in order, a tuple of its slot arrays (as the rule's kernel takes them: sgd_momentum m;
        adagrad accumulator; rmsprop velocity, average_grad or None, m or None; adam m, v,
        v_hat or None), each of the weight's shape and dtype, C-contiguous and writable.
        refnn.optimizers' Optimizer.fused_rule() gives both."""
        rule = choice("rule", rule, self.UPDATE_RULES)
        code, n_scalars, required, optional = _train.UPDATE_RULES[rule]
        if not isinstance(slots, (list, tuple)) or len(slots) != len(self.weights):
            raise ValueError(f"slots must hold one tuple per weight array ({len(self.weights)})")
        table = []
        for i, (w, own) in enumerate(zip(self.weights, slots)):
            own = tuple(own)
            if not required <= len(own) <= required + optional:
                raise ValueError(f"slots[{i}] must hold {required} to {required + optional} "
                                 f"arrays for {rule}, got {len(own)}")
            for j, a in enumerate(own):
                if a is None and j < required:
                    raise ValueError(f"slots[{i}][{j}] is required by {rule}, got None")
                if a is not None and not (isinstance(a, np.ndarray) and a.dtype == w.dtype
                                          and a.shape == w.shape and a.flags.c_contiguous
                                          and a.flags.writeable):
                    raise ValueError(f"slots[{i}][{j}] must be a writable C-contiguous "
                                     f"{w.dtype.name} array of shape {w.shape}")
            table.append(own + (None,) * (3 - len(own)))
        self._scalar_count = n_scalars
        self._step.set_update(code, table)
        self.rule = rule

    def step(self, order, check_finite=False, scalars=None):
        """Gradients of the mean loss over the samples order (intp indices, at most batch_size).
        Returns (losses, yhat): views of this batch's per-sample losses and outputs.

        check_finite checks each gathered row of X on the way (one pass over data already in
        cache, instead of a separate pass over the whole data set): a row with NaN or inf
        raises NonFiniteError naming the sample, before anything is computed.

        scalars (after set_update) are the rule's numbers for this step, e.g. Adam's alpha,
        beta_1, beta_2, epsilon: then the weights are updated too, unless the batch's loss
        is not finite; `updated` says which."""
        if type(order) is not np.ndarray or order.dtype != np.intp or order.ndim != 1 \
                or not order.flags.c_contiguous or not 0 < order.shape[0] <= self.batch_size:
            raise ValueError(f"order must be a contiguous array of 1 to {self.batch_size} "
                             f"intp indices")
        if scalars is not None:
            if self.rule is None:
                raise ValueError("scalars were given, but no update was set (set_update)")
            if len(scalars) != self._scalar_count:
                raise ValueError(f"scalars must be {self._scalar_count} finite numbers for "
                                 f"{self.rule}, got {scalars!r}")
        self.updated = False
        # the step checks each index is a row of X and each scalar is a finite number
        status = self._step.step(order, check_finite, scalars)
        if status >= 0:
            raise NonFiniteError(f"X must be finite, but sample {status} holds NaN or infinity")
        self.updated = scalars is not None and status == _train.STEP_DONE
        m = order.shape[0]
        self.mean_loss = self._step.loss_sum / m       # L = 1/m sum_i loss_i, summed in double
        return self.losses[:m], self.yhat[:m]

    def phase_seconds(self):
        """{phase: seconds}: the wall-clock time the steps since the last reset_phases() (or
        since this trainer was made) spent in each phase (PHASES): gather, the forward matrix
        products (with the bias rows), the hidden activations, the output error, the backward
        matrix products, the backward elementwise work (db sums, f'(h) products), and the
        fused optimizer update (set_update)."""
        return self._step.phase_seconds()

    def reset_phases(self):
        """Start phase_seconds() from zero."""
        self._step.reset_phases()


# ---- optimizer kernels
# Keras 3's update rules, one fused C loop per parameter array (src_c/_optimizers.pyx); plain SGD
# is sgd_update above. w and the slot arrays (the optimizer's state: m, v, accumulator, ...) are
# updated in place; a non-contiguous one goes through a contiguous copy that is written back.
# w and grad must be finite (check_finite=False skips that O(n) scan, as in scipy.linalg, for a
# caller that has just checked them); the slots are state, not input: checked for type, dtype,
# shape and writability (refnn.optimizers checks restored state for finiteness). An optional
# slot is None when its option is off. Returns w.

def _fraction(name, value):
    """A decay factor in [0, 1): momentum, rho, beta_1, beta_2."""
    value = positive_number(name, value, allow_zero=True)
    if value >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def _update_arrays(w, grad, check_finite, **slots):
    """w (writable, float, finite), grad (w's dtype and shape, finite) and the slots (writable,
    w's dtype and shape, or None) as C-contiguous working arrays: (work, grad, [slot works])."""
    if not check_finite and _ready(w, w) and _ready(grad, w, writeable=False) and \
            all(s is None or _ready(s, w) for s in slots.values()):
        return w, grad, list(slots.values())          # already right: nothing to convert
    if not isinstance(w, np.ndarray):
        raise TypeError(f"w must be a NumPy array (it is updated in place), got {type(w).__name__}")
    if not w.flags.writeable:
        raise ValueError("w is read-only; it is updated in place")
    work = as_array("w", w, ndim=w.ndim, allow_int=False, check_finite=check_finite)
    grad = as_array("grad", grad, dtype=work.dtype, allow_int=False, check_finite=check_finite)
    if grad.shape != work.shape:
        raise ValueError(f"grad must have the shape of w, {work.shape}, got {grad.shape}")
    works = []
    for name, s in slots.items():
        if s is not None:
            if not isinstance(s, np.ndarray):
                raise TypeError(f"{name} must be a NumPy array (it is updated in place), "
                                f"got {type(s).__name__}")
            if not s.flags.writeable:
                raise ValueError(f"{name} is read-only; it is updated in place")
            if s.dtype != work.dtype:
                raise TypeError(f"{name} must have dtype {work.dtype.name} like w, "
                                f"got {s.dtype.name}")
            if s.shape != work.shape:
                raise ValueError(f"{name} must have the shape of w, {work.shape}, got {s.shape}")
            s = np.ascontiguousarray(s)
        works.append(s)
    return work, grad, works


def _ready(a, like, writeable=True):
    """a is a C-contiguous (writable) float array with like's dtype and shape."""
    return (type(a) is np.ndarray and a.dtype == like.dtype and a.shape == like.shape
            and a.dtype in (np.float32, np.float64) and a.flags.c_contiguous
            and (a.flags.writeable or not writeable))


def _flat(a):
    return None if a is None else a.reshape(-1)


def sgd_momentum_update(w, grad, m, eta, momentum, nesterov=False, check_finite=True):
    """m <- momentum m - eta grad;  w <- w + m   (nesterov: w <- w + momentum m - eta grad)"""
    eta = positive_number("eta", eta)
    momentum = _fraction("momentum", momentum)
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False, got {type(nesterov).__name__}")
    work, grad, (m_work,) = _update_arrays(w, grad, check_finite, m=m)
    _optimizers.sgd_momentum_update(work.reshape(-1), grad.reshape(-1), m_work.reshape(-1),
                                    eta, momentum, bool(nesterov))
    _write_back([w, m], [work, m_work])
    return w


def adagrad_update(w, grad, accumulator, eta, adagrad_epsilon, check_finite=True):
    """a <- a + grad^2;  w <- w - eta grad / sqrt(a + adagrad_epsilon)   (a the accumulator)"""
    eta = positive_number("eta", eta)
    adagrad_epsilon = positive_number("adagrad_epsilon", adagrad_epsilon)
    work, grad, (a_work,) = _update_arrays(w, grad, check_finite, accumulator=accumulator)
    _optimizers.adagrad_update(work.reshape(-1), grad.reshape(-1), a_work.reshape(-1),
                               eta, adagrad_epsilon)
    _write_back([w, accumulator], [work, a_work])
    return w


def rmsprop_update(w, grad, velocity, eta, rho, rmsprop_epsilon, average_grad=None, m=None,
                   momentum=0.0, check_finite=True):
    """v <- rho v + (1 - rho) grad^2;  (centered) a <- rho a + (1 - rho) grad
    step = eta grad / sqrt(v - a^2 + rmsprop_epsilon)  (average_grad None: sqrt(v + rmsprop_epsilon))
    m <- momentum m + step;  w <- w - m                  (m None: w <- w - step)
    (v the velocity, a the average_grad)"""
    eta = positive_number("eta", eta)
    rho = _fraction("rho", rho)
    rmsprop_epsilon = positive_number("rmsprop_epsilon", rmsprop_epsilon)
    momentum = _fraction("momentum", momentum)
    if m is None and momentum > 0:
        raise ValueError(f"momentum {momentum} needs the momentum slot m, got m=None")
    work, grad, (v_work, a_work, m_work) = _update_arrays(
        w, grad, check_finite, velocity=velocity, average_grad=average_grad, m=m)
    _optimizers.rmsprop_update(work.reshape(-1), grad.reshape(-1), v_work.reshape(-1),
                               _flat(a_work), _flat(m_work), eta, rho, momentum, rmsprop_epsilon)
    _write_back([w, velocity, average_grad, m], [work, v_work, a_work, m_work])
    return w


def adam_update(w, grad, m, v, alpha, beta_1, beta_2, adam_epsilon, v_hat=None,
                check_finite=True):
    """m <- m + (grad - m)(1 - beta_1);  v <- v + (grad^2 - v)(1 - beta_2)
    (v_hat given) v_hat <- max(v_hat, v)
    w <- w - alpha m / (sqrt(v) + adam_epsilon)   (v_hat given: sqrt(v_hat));
    alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t), computed once per step by the caller"""
    alpha = positive_number("alpha", alpha)
    beta_1 = _fraction("beta_1", beta_1)
    beta_2 = _fraction("beta_2", beta_2)
    adam_epsilon = positive_number("adam_epsilon", adam_epsilon)
    work, grad, (m_work, v_work, h_work) = _update_arrays(w, grad, check_finite,
                                                          m=m, v=v, v_hat=v_hat)
    _optimizers.adam_update(work.reshape(-1), grad.reshape(-1), m_work.reshape(-1),
                            v_work.reshape(-1), _flat(h_work), alpha, beta_1, beta_2,
                            adam_epsilon)
    _write_back([w, m, v, v_hat], [work, m_work, v_work, h_work])
    return w
