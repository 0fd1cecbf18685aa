"""NumPy twins of the kernels: the functions and argument names of refnn.reference.pure,
written as vectorized NumPy. They never call compiled refnn code.

Arrays in, new arrays out, computed in the floating dtype of the input (float32 stays float32;
input that is not floating point becomes float64). No argument is ever modified.

Notation: h weighted sum, g activation output (g_prev: output of the layer below),
epsilon error term dE/dh, eta learning rate, W weights, b biases.
Shapes are batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h and epsilon (n, n_out).
"""
import numpy as np

from ._names import ACTIVATIONS  # noqa: F401  (re-exported: the names these twins know)
from ._names import _check_activation, _check_differentiable, _expect

# ---------------------------------------------------------------------------------------------
# Inputs


# what the twins take: NumPy arrays or nested lists of numbers (each becomes a float array);
# they return new NumPy arrays. Annotations from NumPy alone, the one module imported here.
Values = np.ndarray | list[float] | list[list[float]]

def _as_float(name: str, a: Values, ndim: int | None = None) -> np.ndarray:
    """a as an array in its own floating dtype (anything else becomes float64)"""
    a = np.asarray(a)
    if a.dtype.kind != "f":
        a = a.astype(np.float64)
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), received shape {a.shape}")
    return a


# ---------------------------------------------------------------------------------------------
# Activations g = f(h), and their derivatives f'(h) written from the output g


def _sigmoid(h: np.ndarray) -> np.ndarray:
    """g = 1 / (1 + e^-h) without overflow: with z = e^-|h| <= 1,
    g = 1 / (1 + z) where h >= 0 and z / (1 + z) where h < 0"""
    z = np.exp(-np.abs(h))
    g = 1 / (1 + z)
    return np.where(h >= 0, g, z * g)


def _softmax(h: np.ndarray) -> np.ndarray:
    """g_k = e^(h_k - m) / sum_j e^(h_j - m),  m = the row's max   (exponents <= 0: no overflow)"""
    e = np.exp(h - h.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


def _tanh(h: np.ndarray) -> np.ndarray:
    return np.tanh(h)                           # g = tanh h


def _relu(h: np.ndarray) -> np.ndarray:
    return np.maximum(h, 0)                     # g = max(h, 0)


def _linear(h: np.ndarray) -> np.ndarray:
    return h                                    # g = h


def _step(h: np.ndarray) -> np.ndarray:
    return (h >= 0).astype(h.dtype)             # g = [h >= 0]; the bias carries the threshold


_FORWARD = {"sigmoid": _sigmoid, "tanh": _tanh, "relu": _relu, "linear": _linear,
            "softmax": _softmax, "step": _step}


def _sigmoid_derivative(g: np.ndarray) -> np.ndarray:
    return g * (1 - g)                          # f'(h) = g (1 - g)


def _tanh_derivative(g: np.ndarray) -> np.ndarray:
    return 1 - g * g                            # f'(h) = 1 - g^2


def _relu_derivative(g: np.ndarray) -> np.ndarray:
    return (g > 0).astype(g.dtype)              # f'(h) = [h > 0] = [g > 0]


def _linear_derivative(g: np.ndarray) -> np.ndarray:
    return np.ones_like(g)                      # f'(h) = 1


_DERIVATIVE = {"sigmoid": _sigmoid_derivative, "tanh": _tanh_derivative,
               "relu": _relu_derivative, "linear": _linear_derivative}


def activation_forward(h: Values, activation: str) -> np.ndarray:
    """g = f(h): elementwise, except softmax, which acts along the last axis (each row)."""
    _check_activation(activation)
    h = _as_float("h", h)
    if activation == "linear":
        return h.copy()                         # g = h, as a new array
    return _FORWARD[activation](h)


def activation_derivative(g: Values, activation: str) -> np.ndarray:
    """f'(h) from the output g = f(h): sigmoid g(1-g), tanh 1-g^2, relu [g>0], linear 1.

    Written from g because backpropagation keeps g, not h. softmax and step raise ValueError.
    """
    _check_differentiable(activation)
    return _DERIVATIVE[activation](_as_float("g", g))


# ---------------------------------------------------------------------------------------------
# Dense layer


def dense_forward(g_prev: Values, W: Values, b: Values) -> np.ndarray:
    """h = g_prev @ W + b

    Shape: g_prev (n, n_in), W (n_in, n_out), b (n_out,) -> h (n, n_out)
    """
    g_prev = _as_float("g_prev", g_prev, ndim=2)
    W = _as_float("W", W, ndim=2)
    b = _as_float("b", b, ndim=1)
    _expect("g_prev columns (W's rows)", g_prev.shape[1], W.shape[0])
    _expect("b length (W's columns)", b.shape[0], W.shape[1])
    h = g_prev @ W
    h += b
    return h


def dense_backward(g_prev: Values, W: Values,
                   epsilon: Values) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """dW = g_prev.T @ epsilon,  db = sum over samples of epsilon,  dg_prev = epsilon @ W.T

    Shape: g_prev (n, n_in), W (n_in, n_out), epsilon (n, n_out)
           -> dW (n_in, n_out), db (n_out,), dg_prev (n, n_in)
    """
    g_prev = _as_float("g_prev", g_prev, ndim=2)
    W = _as_float("W", W, ndim=2)
    epsilon = _as_float("epsilon", epsilon, ndim=2)
    _expect("g_prev columns (W's rows)", g_prev.shape[1], W.shape[0])
    _expect("epsilon shape (g_prev's rows, W's columns)", epsilon.shape,
            (g_prev.shape[0], W.shape[1]))
    dW = g_prev.T @ epsilon
    db = epsilon.sum(axis=0)
    dg_prev = epsilon @ W.T
    return dW, db, dg_prev


def epsilon_backward(epsilon: Values, W: Values, g_prev: Values,
                     activation: str) -> np.ndarray:
    """epsilon_prev = (epsilon @ W.T) * f'(g_prev)

    epsilon (n, n_out) of this layer, W (n_in, n_out), g_prev (n, n_in) the output of the layer
    below, whose activation is `activation` -> epsilon_prev (n, n_in).
    """
    _check_differentiable(activation)
    epsilon = _as_float("epsilon", epsilon, ndim=2)
    W = _as_float("W", W, ndim=2)
    g_prev = _as_float("g_prev", g_prev, ndim=2)
    _expect("epsilon columns (W's columns)", epsilon.shape[1], W.shape[1])
    _expect("g_prev shape (epsilon's rows, W's rows)", g_prev.shape,
            (epsilon.shape[0], W.shape[0]))
    epsilon_prev = epsilon @ W.T
    epsilon_prev *= _DERIVATIVE[activation](g_prev)
    return epsilon_prev


# ---------------------------------------------------------------------------------------------
# Output layer: loss per sample and epsilon = dE/dh


def _targets(h_name: str, h: np.ndarray, y: Values) -> np.ndarray:
    y = _as_float("y", y, ndim=2)
    _expect(f"y shape ({h_name}'s shape)", y.shape, h.shape)
    return y


def softmax_crossentropy(h: Values, y: Values) -> tuple[np.ndarray, np.ndarray]:
    """loss = sum_k y_k (logsumexp(h) - h_k) = -sum_k y_k log softmax(h)_k;
    epsilon = softmax(h) sum_k y_k - y   (= yhat - y for a one-hot or distribution target)

    h logits (n, k), y non-negative targets (n, k) -> loss (n,), epsilon (n, k).
    """
    h = _as_float("h", h, ndim=2)
    y = _targets("h", h, y)
    z = h - h.max(axis=1, keepdims=True)        # h_k - m <= 0
    e = np.exp(z)
    s = e.sum(axis=1, keepdims=True)            # >= 1, so log s is finite
    # logsumexp(h) - h_k = log s - (h_k - m): finite for finite h, and no log(0)
    loss = (y * (np.log(s) - z)).sum(axis=1)
    epsilon = e / s * y.sum(axis=1, keepdims=True) - y
    return loss, epsilon


def sigmoid_binary_crossentropy(h: Values, y: Values) -> tuple[np.ndarray, np.ndarray]:
    """loss = sum_k [max(h_k, 0) - h_k y_k + log1p(exp(-|h_k|))];  epsilon = sigmoid(h) - y

    The summand is -[y log g + (1 - y) log(1 - g)] with g = sigmoid(h), rewritten so that no
    exponential overflows and no logarithm sees 0; max(h, 0) - h y comes first so that a loss
    near 0 keeps its digits (h = 40, y = 1 gives e^-40, not 0). Summed over the outputs
    (a mean over the last axis belongs to the loss layer above).
    h logits (n, k), y targets in [0, 1] (n, k) -> loss (n,), epsilon (n, k).
    """
    h = _as_float("h", h, ndim=2)
    y = _targets("h", h, y)
    loss = (np.maximum(h, 0) - h * y + np.log1p(np.exp(-np.abs(h)))).sum(axis=1)
    epsilon = _sigmoid(h) - y
    return loss, epsilon


def squared_error_output(g: Values, y: Values,
                         activation: str) -> tuple[np.ndarray, np.ndarray]:
    """E = 1/2 sum_k (g_k - y_k)^2;   epsilon = (g - y) * f'(g)

    g network output (n, k) after `activation`, y targets (n, k) -> E (n,), epsilon (n, k).
    """
    _check_differentiable(activation)
    g = _as_float("g", g, ndim=2)
    y = _targets("g", g, y)
    diff = g - y                                # yhat - y
    E = 0.5 * (diff * diff).sum(axis=1)
    diff *= _DERIVATIVE[activation](g)          # epsilon = (yhat - y) f'(yhat)
    return E, diff


# ---------------------------------------------------------------------------------------------
# Training


def _layers(weights: list[Values]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """[W1, b1, W2, b2, ...] -> ([W1, W2, ...], [b1, b2, ...]) as fresh copies in one dtype"""
    if len(weights) == 0 or len(weights) % 2:
        raise ValueError(f"weights must be [W1, b1, W2, b2, ...], received {len(weights)} arrays")
    arrays = [_as_float(f"weights[{i}]", w, ndim=1 + (i % 2 == 0))
              for i, w in enumerate(weights)]
    dtype = np.result_type(*arrays)
    Ws = [W.astype(dtype) for W in arrays[0::2]]    # astype copies: the caller's arrays stay
    bs = [b.astype(dtype) for b in arrays[1::2]]
    for l, (W, b) in enumerate(zip(Ws, bs)):
        _expect(f"b{l + 1} length (W{l + 1}'s columns)", b.shape[0], W.shape[1])
        if l > 0:
            _expect(f"W{l + 1} rows (W{l}'s columns)", W.shape[0], Ws[l - 1].shape[1])
    return Ws, bs


def sgd_per_sample(weights: list[Values], X: Values, Y: Values, eta: float,
                   activation: str) -> tuple[list[np.ndarray], np.ndarray]:
    """The textbook's backpropagation: squared error, one sample at a time, in order.

    For each sample (x, y):
      forward:  g_0 = x;  h_l = g_{l-1} @ W_l + b_l;  g_l = f(h_l);  E = 1/2 sum_k (yhat_k - y_k)^2
      output:   epsilon_L = (yhat - y) * f'(yhat)
      inwards:  epsilon_{l-1} = (W_l @ epsilon_l) * f'(g_{l-1})     (with the old weights)
      update:   W_l -= eta * outer(g_{l-1}, epsilon_l);   b_l -= eta * epsilon_l
    weights = [W1, b1, W2, b2, ...], W_l (n_{l-1}, n_l); every layer uses `activation`
    (sigmoid, tanh, relu or linear). X (n, n_0), Y (n, n_L), cast to the weights' dtype.
    Returns (new weights in the same order, E (n,)), E of each sample from its forward pass,
    before its update. The loop over samples is Python; the work per sample is NumPy.
    """
    _check_differentiable(activation)
    f, fprime = _FORWARD[activation], _DERIVATIVE[activation]
    Ws, bs = _layers(weights)
    dtype = Ws[0].dtype
    X = _as_float("X", X, ndim=2).astype(dtype, copy=False)
    Y = _as_float("Y", Y, ndim=2).astype(dtype, copy=False)
    _expect("Y rows (X's rows)", Y.shape[0], X.shape[0])
    _expect("X columns (W1's rows)", X.shape[1], Ws[0].shape[0])
    _expect("Y columns (the last b's length)", Y.shape[1], bs[-1].shape[0])
    eta = dtype.type(eta)
    outer = [np.empty_like(W) for W in Ws]      # eta g_i epsilon_j, one buffer per layer, reused

    E = np.empty(X.shape[0], dtype=dtype)
    for s, (x, y) in enumerate(zip(X, Y)):
        # forward pass, keeping every layer's output: g[0] = x, g[l] = f(g[l-1] @ W_l + b_l)
        g = [x]
        for W, b in zip(Ws, bs):
            h = g[-1] @ W
            h += b
            g.append(f(h))
        epsilon = g[-1] - y                     # yhat - y
        E[s] = 0.5 * (epsilon @ epsilon)
        epsilon *= fprime(g[-1])                # epsilon_L = (yhat - y) f'(yhat)

        # from the output side inwards; layer l (counting from 1) has Ws[l-1] and epsilons[l-1]
        epsilons = [epsilon]
        for l in range(len(Ws) - 1, 0, -1):
            epsilon = Ws[l] @ epsilon           # sum_k w_jk epsilon_k   (= epsilon @ W.T)
            epsilon *= fprime(g[l])             # epsilon_j = (...) f'(g_j)
            epsilons.insert(0, epsilon)

        # update, once every epsilon is known: w_ij' = w_ij - eta epsilon_j g_i
        for W, b, g_in, epsilon, buf in zip(Ws, bs, g, epsilons, outer):
            epsilon *= eta                      # eta epsilon_j (epsilon is not needed again)
            np.multiply(g_in[:, None], epsilon, out=buf)
            W -= buf
            b -= epsilon

    new_weights: list[np.ndarray] = []
    for W, b in zip(Ws, bs):
        new_weights += [W, b]
    return new_weights, E


def sgd_update(w: Values, grad: Values, eta: float) -> np.ndarray:
    """w' = w - eta * grad   (a new array in w's dtype; w is not modified)"""
    w = _as_float("w", w)
    grad = _as_float("grad", grad)
    _expect("grad shape (w's shape)", grad.shape, w.shape)
    return w - w.dtype.type(eta) * grad.astype(w.dtype, copy=False)
