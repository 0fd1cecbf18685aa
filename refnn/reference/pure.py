"""Pure-Python twins of the kernels: plain loops over Python floats, the `math` module only.

These are the oracles the compiled kernels and the NumPy twin are checked against, so they
are written to be obviously right rather than fast: one loop per sum of the lecture, the
formula beside the line computing it. Nothing here imports NumPy.

Notation: h weighted sum, g activation output (g_prev: output of the layer below),
epsilon error term dE/dh, eta learning rate, W weights, b biases.
Shapes are batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h and epsilon (n, n_out);
W[i][j] = w_ij links unit i of the layer below to unit j.
Inputs may be lists or NumPy arrays (every element goes through float()); results are Python
floats, lists (vectors) and lists of rows (matrices). No argument is ever modified.
"""
import math

from ._names import ACTIVATIONS  # noqa: F401  (re-exported: the names these twins know)
from ._names import _check_activation, _check_differentiable, _expect

# ---------------------------------------------------------------------------------------------
# Inputs: lists of Python floats, checked for shape


# what the twins take and return: plain Python floats in lists (a matrix is a list of rows);
# annotations from builtins only, so that this module imports nothing but math
Vector = list[float]
Matrix = list[list[float]]


def _vector(name: str, a: list) -> Vector:       # a: any sequence of numbers
    """a as a list of Python floats"""
    try:
        return [float(v) for v in a]
    except TypeError:
        raise ValueError(f"{name} must be a vector (a sequence of numbers)") from None


def _matrix(name: str, a: list) -> Matrix:       # a: any sequence of rows
    """a as a list of rows of Python floats, every row of one length"""
    try:
        rows = [[float(v) for v in row] for row in a]
    except TypeError:
        raise ValueError(f"{name} must be a matrix (a sequence of rows of numbers)") from None
    lengths = sorted({len(row) for row in rows})
    if len(lengths) > 1:
        raise ValueError(f"{name} must have rows of one length, got row lengths {lengths}")
    return rows


def _is_matrix(a: list) -> bool:
    """True for a sequence of rows, False for a sequence of numbers"""
    for first in a:
        return hasattr(first, "__iter__")
    return False


def _shape(rows: Matrix) -> tuple[int, int]:
    """(number of rows, number of columns) of a list of rows"""
    return (len(rows), len(rows[0]) if rows else 0)


# ---------------------------------------------------------------------------------------------
# Activations g = f(h), and their derivatives f'(h) written from the output g


def _sigmoid(h: float) -> float:
    """g = 1 / (1 + e^-h), without overflow for any finite h"""
    if h >= 0.0:
        return 1.0 / (1.0 + math.exp(-h))      # e^-h in (0, 1]
    e = math.exp(h)                             # e^h in [0, 1): multiply through by e^h
    return e / (1.0 + e)                        # g = e^h / (1 + e^h)


def _relu(h: float) -> float:
    return max(h, 0.0)                          # g = max(h, 0)


def _linear(h: float) -> float:
    return h                                    # g = h


def _step(h: float) -> float:
    return 1.0 if h >= 0.0 else 0.0             # g = [h >= 0]; the bias carries the threshold


def _softmax(h: Vector) -> Vector:
    """g_k = e^(h_k - m) / sum_j e^(h_j - m),  m = max_j h_j   (every exponent <= 0: no overflow)"""
    m = max(h)
    e = [math.exp(h_k - m) for h_k in h]
    s = sum(e)                                  # >= 1: the largest term is e^0
    return [e_k / s for e_k in e]


_FORWARD = {"sigmoid": _sigmoid, "tanh": math.tanh, "relu": _relu, "linear": _linear,
            "step": _step}


def _sigmoid_derivative(g: float) -> float:
    return g * (1.0 - g)                        # f'(h) = g (1 - g)


def _tanh_derivative(g: float) -> float:
    return 1.0 - g * g                          # f'(h) = 1 - g^2


def _relu_derivative(g: float) -> float:
    return 1.0 if g > 0.0 else 0.0              # f'(h) = [h > 0] = [g > 0]


def _linear_derivative(g: float) -> float:
    return 1.0                                  # f'(h) = 1


_DERIVATIVE = {"sigmoid": _sigmoid_derivative, "tanh": _tanh_derivative,
               "relu": _relu_derivative, "linear": _linear_derivative}


def activation_forward(h: Vector | Matrix, activation: str) -> Vector | Matrix:
    """g = f(h): elementwise, except softmax, which acts on each row (or on a lone vector).

    h is a vector or a matrix (list of rows); g has the same shape.
    """
    _check_activation(activation)
    if activation == "softmax":
        f_row = _softmax
    else:
        f = _FORWARD[activation]

        def f_row(h: Vector) -> Vector:            # the signature of _softmax
            return [f(h_j) for h_j in h]
    if _is_matrix(h):
        return [f_row(row) for row in _matrix("h", h)]
    return f_row(_vector("h", h))


def activation_derivative(g: Vector | Matrix, activation: str) -> Vector | Matrix:
    """f'(h) from the output g = f(h): sigmoid g(1-g), tanh 1-g^2, relu [g>0], linear 1.

    Written from g because backpropagation keeps g, not h. softmax and step raise ValueError.
    """
    _check_differentiable(activation)
    fprime = _DERIVATIVE[activation]
    if _is_matrix(g):
        return [[fprime(g_j) for g_j in row] for row in _matrix("g", g)]
    return [fprime(g_j) for g_j in _vector("g", g)]


# ---------------------------------------------------------------------------------------------
# Dense layer


def _weighted_sum(g: Vector, W: Matrix, b: Vector) -> Vector:
    """h_j = b_j + sum_i g_i w_ij, for every unit j of the layer (one sample g)"""
    h = []
    for j in range(len(b)):
        h_j = b[j]
        for i in range(len(g)):
            h_j += g[i] * W[i][j]
        h.append(h_j)
    return h


def _back(epsilon: Vector, W: Matrix) -> Vector:
    """sum_k epsilon_k w_jk, for every unit j of the layer below (one sample)"""
    back = []
    for W_j in W:                               # W_j: the weights leaving unit j
        s = 0.0
        for k in range(len(epsilon)):
            s += epsilon[k] * W_j[k]
        back.append(s)
    return back


def dense_forward(g_prev: Vector | Matrix, W: Vector | Matrix, b: Vector | Matrix) -> Matrix:
    """h = g_prev @ W + b:   h_j = sum_i g_i w_ij + b_j   for every sample.

    Shape: g_prev (n, n_in), W (n_in, n_out), b (n_out,) -> h (n, n_out)
    """
    g_prev = _matrix("g_prev", g_prev)
    W = _matrix("W", W)
    b = _vector("b", b)
    n_in, n_out = _shape(W)
    _expect("b length (W's columns)", len(b), n_out)
    if g_prev:
        _expect("g_prev columns (W's rows)", len(g_prev[0]), n_in)
    return [_weighted_sum(g, W, b) for g in g_prev]


def dense_backward(g_prev: Vector | Matrix, W: Vector | Matrix,
                   epsilon: Vector | Matrix) -> tuple[Matrix, Vector, Matrix]:
    """dW = g_prev.T @ epsilon,  db = sum over samples of epsilon,  dg_prev = epsilon @ W.T

    dW_ij = sum_s g_si epsilon_sj,  db_j = sum_s epsilon_sj,  dg_prev_si = sum_j epsilon_sj w_ij.
    Shape: g_prev (n, n_in), W (n_in, n_out), epsilon (n, n_out)
           -> dW (n_in, n_out), db (n_out,), dg_prev (n, n_in)
    """
    g_prev = _matrix("g_prev", g_prev)
    W = _matrix("W", W)
    epsilon = _matrix("epsilon", epsilon)
    n_in, n_out = _shape(W)
    _expect("epsilon rows (g_prev's rows)", len(epsilon), len(g_prev))
    if g_prev:
        _expect("g_prev columns (W's rows)", len(g_prev[0]), n_in)
        _expect("epsilon columns (W's columns)", len(epsilon[0]), n_out)

    dW = [[0.0] * n_out for _ in range(n_in)]
    db = [0.0] * n_out
    for g, eps in zip(g_prev, epsilon):         # one sample at a time
        for j in range(n_out):
            db[j] += eps[j]                     # db_j = sum_s epsilon_sj
            for i in range(n_in):
                dW[i][j] += g[i] * eps[j]       # dW_ij = sum_s g_si epsilon_sj
    dg_prev = [_back(eps, W) for eps in epsilon]  # dE/dg_i = sum_j epsilon_j w_ij
    return dW, db, dg_prev


def epsilon_backward(epsilon: Vector | Matrix, W: Vector | Matrix, g_prev: Vector | Matrix,
                     activation: str) -> Matrix:
    """epsilon_prev = (epsilon @ W.T) * f'(g_prev):   epsilon_j = (sum_k epsilon_k w_jk) f'(g_j)

    epsilon (n, n_out) of this layer, W (n_in, n_out), g_prev (n, n_in) the output of the layer
    below, whose activation is `activation` -> epsilon_prev (n, n_in).
    """
    _check_differentiable(activation)
    fprime = _DERIVATIVE[activation]
    epsilon = _matrix("epsilon", epsilon)
    W = _matrix("W", W)
    g_prev = _matrix("g_prev", g_prev)
    n_in, n_out = _shape(W)
    _expect("g_prev rows (epsilon's rows)", len(g_prev), len(epsilon))
    if epsilon:
        _expect("epsilon columns (W's columns)", len(epsilon[0]), n_out)
        _expect("g_prev columns (W's rows)", len(g_prev[0]), n_in)
    return [[back_j * fprime(g_j) for back_j, g_j in zip(_back(eps, W), g)]
            for eps, g in zip(epsilon, g_prev)]


# ---------------------------------------------------------------------------------------------
# Output layer: loss per sample and epsilon = dE/dh


def _check_targets(h_name: str, h: Matrix, y: Matrix) -> None:
    _expect(f"y shape ({h_name}'s shape)", _shape(y), _shape(h))


def softmax_crossentropy(h: Vector | Matrix, y: Vector | Matrix) -> tuple[Vector, Matrix]:
    """loss = sum_k y_k (logsumexp(h) - h_k) = -sum_k y_k log softmax(h)_k;
    epsilon = softmax(h) sum_k y_k - y   (= yhat - y for a one-hot or distribution target)

    h logits (n, k), y non-negative targets (n, k) -> loss (n,), epsilon (n, k).
    """
    h = _matrix("h", h)
    y = _matrix("y", y)
    _check_targets("h", h, y)
    loss, epsilon = [], []
    for h_row, y_row in zip(h, y):
        m = max(h_row)
        e = [math.exp(h_k - m) for h_k in h_row]  # e^(h_k - m) <= 1: no overflow
        s = sum(e)                                # >= 1, so log s is finite
        # logsumexp(h) - h_k = log s - (h_k - m): finite for finite h, and no log(0)
        loss.append(sum(y_k * (math.log(s) - (h_k - m)) for h_k, y_k in zip(h_row, y_row)))
        total = sum(y_row)
        # epsilon_k = yhat_k sum_j y_j - y_k,  yhat_k = e^(h_k - m) / s
        epsilon.append([e_k / s * total - y_k for e_k, y_k in zip(e, y_row)])
    return loss, epsilon


def sigmoid_binary_crossentropy(h: Vector | Matrix, y: Vector | Matrix) -> tuple[Vector, Matrix]:
    """loss = sum_k [max(h_k, 0) - h_k y_k + log1p(exp(-|h_k|))];  epsilon = sigmoid(h) - y

    The summand is -[y log g + (1 - y) log(1 - g)] with g = sigmoid(h), rewritten so that no
    exponential overflows and no logarithm sees 0. Summed over the outputs (a mean over the
    last axis, as Keras reports it, belongs to the loss layer above).
    h logits (n, k), y targets in [0, 1] (n, k) -> loss (n,), epsilon (n, k).
    """
    h = _matrix("h", h)
    y = _matrix("y", y)
    _check_targets("h", h, y)
    loss, epsilon = [], []
    for h_row, y_row in zip(h, y):
        loss.append(sum(max(h_k, 0.0) - h_k * y_k + math.log1p(math.exp(-abs(h_k)))
                        for h_k, y_k in zip(h_row, y_row)))
        epsilon.append([_sigmoid(h_k) - y_k for h_k, y_k in zip(h_row, y_row)])
    return loss, epsilon


def squared_error_output(g: Vector | Matrix, y: Vector | Matrix,
                         activation: str) -> tuple[Vector, Matrix]:
    """E = 1/2 sum_k (g_k - y_k)^2;   epsilon_k = (g_k - y_k) f'(g_k)

    g network output (n, k) after `activation`, y targets (n, k) -> E (n,), epsilon (n, k).
    The slide's case, a sigmoid output: epsilon_k = (yhat_k - y_k) yhat_k (1 - yhat_k).
    """
    _check_differentiable(activation)
    fprime = _DERIVATIVE[activation]
    g = _matrix("g", g)
    y = _matrix("y", y)
    _check_targets("g", g, y)
    E, epsilon = [], []
    for g_row, y_row in zip(g, y):
        E.append(0.5 * sum((g_k - y_k) * (g_k - y_k) for g_k, y_k in zip(g_row, y_row)))
        epsilon.append([(g_k - y_k) * fprime(g_k) for g_k, y_k in zip(g_row, y_row)])
    return E, epsilon


# ---------------------------------------------------------------------------------------------
# Training


def _layers(weights: list[Vector | Matrix]) -> tuple[list[Matrix], list[Vector]]:
    """[W1, b1, W2, b2, ...] -> ([W1, W2, ...], [b1, b2, ...]) as fresh lists, shapes checked"""
    if len(weights) == 0 or len(weights) % 2:
        raise ValueError(f"weights must be [W1, b1, W2, b2, ...], received {len(weights)} arrays")
    Ws = [_matrix(f"weights[{2 * l}] (W{l + 1})", W) for l, W in enumerate(weights[0::2])]
    bs = [_vector(f"weights[{2 * l + 1}] (b{l + 1})", b) for l, b in enumerate(weights[1::2])]
    for l, (W, b) in enumerate(zip(Ws, bs)):
        n_in, n_out = _shape(W)
        _expect(f"b{l + 1} length (W{l + 1}'s columns)", len(b), n_out)
        if l > 0:
            _expect(f"W{l + 1} rows (W{l}'s columns)", n_in, len(bs[l - 1]))
    return Ws, bs


def sgd_per_sample(weights: list[Vector | Matrix], X: Vector | Matrix, Y: Vector | Matrix,
                   eta: float, activation: str) -> tuple[list[Vector | Matrix], Vector]:
    """The textbook's backpropagation: squared error, one sample at a time, in order.

    For each sample (x, y):
      forward:  g_0 = x;  h_l = g_{l-1} W_l + b_l;  g_l = f(h_l);  E = 1/2 sum_k (yhat_k - y_k)^2
      output:   epsilon_k = (yhat_k - y_k) f'(yhat_k)
      inwards:  epsilon_j = (sum_k epsilon_k w_jk) f'(g_j)        (with the old weights)
      update:   w_ij' = w_ij - eta epsilon_j g_i;   b_j' = b_j - eta epsilon_j
    weights = [W1, b1, W2, b2, ...], W_l (n_{l-1}, n_l); every layer uses `activation`
    (sigmoid, tanh, relu or linear). X (n, n_0), Y (n, n_L).
    Returns (new weights in the same order, E (n,)), E of each sample from its forward pass,
    before its update.
    """
    _check_differentiable(activation)
    f, fprime = _FORWARD[activation], _DERIVATIVE[activation]
    Ws, bs = _layers(weights)
    X = _matrix("X", X)
    Y = _matrix("Y", Y)
    _expect("Y rows (X's rows)", len(Y), len(X))
    if X:
        _expect("X columns (W1's rows)", len(X[0]), len(Ws[0]))
        _expect("Y columns (the last b's length)", len(Y[0]), len(bs[-1]))
    eta = float(eta)

    E = []
    for x, y in zip(X, Y):
        # 1. forward pass, keeping every layer's output: g[0] = x, g[l] = f(g[l-1] W_l + b_l)
        g = [x]
        for W, b in zip(Ws, bs):
            g.append([f(h_j) for h_j in _weighted_sum(g[-1], W, b)])
        yhat = g[-1]
        E.append(0.5 * sum((yhat_k - y_k) * (yhat_k - y_k) for yhat_k, y_k in zip(yhat, y)))

        # 2. output layer error: epsilon_k = (yhat_k - y_k) f'(yhat_k)
        epsilons = [[(yhat_k - y_k) * fprime(yhat_k) for yhat_k, y_k in zip(yhat, y)]]
        # 3.-4. from the output side inwards: epsilon_j = (sum_k epsilon_k w_jk) f'(g_j).
        # Layer l (counting from 1) maps g[l-1] to g[l] with Ws[l-1]; its error is epsilons[l-1].
        for l in range(len(Ws) - 1, 0, -1):
            back = _back(epsilons[0], Ws[l])
            epsilons.insert(0, [back_j * fprime(g_j) for back_j, g_j in zip(back, g[l])])

        # 5. update, once every epsilon is known: w_ij' = w_ij - eta epsilon_j g_i
        for W, b, g_in, eps in zip(Ws, bs, g, epsilons):
            for i, g_i in enumerate(g_in):
                for j, eps_j in enumerate(eps):
                    W[i][j] -= eta * eps_j * g_i
            for j, eps_j in enumerate(eps):
                b[j] -= eta * eps_j            # the bias: a weight on a constant-1 input

    new_weights: list[Vector | Matrix] = []
    for W, b in zip(Ws, bs):
        new_weights += [W, b]
    return new_weights, E


def sgd_update(w: Vector | Matrix, grad: Vector | Matrix, eta: float) -> Vector | Matrix:
    """w' = w - eta * grad   (w and grad: vectors or matrices of one shape; returns a new w)"""
    eta = float(eta)
    if _is_matrix(w):
        w = _matrix("w", w)
        grad = _matrix("grad", grad)
        _expect("grad shape (w's shape)", _shape(grad), _shape(w))
        return [[w_ij - eta * d_ij for w_ij, d_ij in zip(w_i, d_i)] for w_i, d_i in zip(w, grad)]
    w = _vector("w", w)
    grad = _vector("grad", grad)
    _expect("grad length (w's length)", len(grad), len(w))
    return [w_i - eta * d_i for w_i, d_i in zip(w, grad)]
