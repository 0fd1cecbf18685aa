"""The oracle of mini-batch training: what Sequential.fit computes, written to be obviously right.

One step on a mini-batch (x, y) of m samples, for layers l = 1 .. L, each line one call of a
NumPy twin (refnn.reference.vectorized, each tested against its kernel and finite differences):
  forward:   g_0 = x;  h_l = g_{l-1} @ W_l + b_l;  g_l = f(h_l)  (dense_forward, activation_forward)
  output:    softmax + categorical CE:  epsilon_L = (softmax(h_L) sum_k y_k - y) / m
             sigmoid + binary CE:       epsilon_L = (sigmoid(h_L) - y) / (m k)
             f + mean squared error:    epsilon_L = 2 (yhat - y) f'(h_L) / (m k)
  backward:  dW_l = g_{l-1}^T @ epsilon_l,  db_l = sum_batch epsilon_l           (dense_backward)
             epsilon_{l-1} = (epsilon_l @ W_l^T) * f'(h_{l-1})                 (epsilon_backward)
  update:    Keras 3's Adam or SGD (momentum, Nesterov), each rule as one formula per line.
f' is written from the output g: sigmoid g (1 - g), tanh 1 - g^2, relu [g > 0], linear 1.

Every array is made afresh per batch; nothing is reused or updated in place but the weights and
the optimizer's slots, so the code reads as the algorithm. Speed is not its purpose: the fast
NumPy contender of the benchmarks (refnn.contender.NumpyMLP) is tested against this oracle.
It never calls compiled refnn code.

Notation: h weighted sum, g activation output, epsilon error term dL/dh, eta learning rate.
Shapes are batch-major: g_prev (m, n_in), W (n_in, n_out), b (n_out,), h and epsilon (m, n_out).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import activations as _activations
from . import vectorized

HIDDEN_ACTIVATIONS = _activations.HIDDEN        # f'(h) from g: sigmoid, tanh, relu, linear
LOSSES = ("categorical_crossentropy", "binary_crossentropy", "mean_squared_error")
_LOSS_ALIASES = {"mse": "mean_squared_error"}
OPTIMIZERS = ("adam", "sgd")
# the output activations each loss is trained with (the fused pairs, and f + squared error)
OUTPUTS = {"categorical_crossentropy": ("softmax",), "binary_crossentropy": ("sigmoid",),
           "mean_squared_error": HIDDEN_ACTIVATIONS}


# ---------------------------------------------------------------------------------------------
# The checks of a configuration and of data, shared with the contender (refnn.contender)


def _float_array(name: str, a: ArrayLike, ndim: int,
                 dtype: DTypeLike | None = None) -> NDArray[Any]:
    a = np.asarray(a)
    if a.dtype.kind not in "fiub":
        raise TypeError(f"{name} must hold numbers, received dtype {a.dtype}")
    if a.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), received shape {a.shape}")
    if dtype is not None:
        a = a.astype(dtype, copy=False)
    return a


def _fraction(name: str, value: float) -> float:
    value = float(value)
    if not 0 <= value < 1:
        raise ValueError(f"{name} must be in [0, 1), received {value!r}")
    return value


def _positive(name: str, value: float) -> float:
    value = float(value)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"{name} must be a finite number > 0, received {value!r}")
    return value


def check_network(weights: Sequence[ArrayLike], activations: Sequence[str], loss: str
                  ) -> tuple[np.dtype[Any], list[NDArray[Any]], list[NDArray[Any]], list[int],
                             list[str], str]:
    """(dtype, [W_l], [b_l], sizes n_0 .. n_L, activations, loss) from the arguments of a
    network trained on mini-batches, or a ValueError/TypeError naming the bad one. The arrays
    are copies in one float dtype (float32 or float64)."""
    if not isinstance(weights, (list, tuple)) or len(weights) == 0 or len(weights) % 2:
        got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
        raise ValueError(f"weights must be a list [W1, b1, W2, b2, ...], received {got}")
    arrays = [_float_array(f"weights[{i}]", w, 2 if i % 2 == 0 else 1)
              for i, w in enumerate(weights)]
    dtype = np.result_type(*arrays)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"weights must be float32 or float64, received {dtype}")
    W = [np.array(w, dtype=dtype, order="C") for w in arrays[0::2]]          # copies
    b = [np.array(w, dtype=dtype, order="C") for w in arrays[1::2]]
    sizes = [W[0].shape[0]] + [w.shape[1] for w in W]                       # n_0 .. n_L
    for l, (W_l, b_l) in enumerate(zip(W, b), start=1):
        if l > 1 and W_l.shape[0] != sizes[l - 1]:
            raise ValueError(f"W{l} must have {sizes[l - 1]} rows (W{l - 1}'s columns), "
                             f"received shape {W_l.shape}")
        if b_l.shape[0] != W_l.shape[1]:
            raise ValueError(f"b{l} must have {W_l.shape[1]} entries (W{l}'s columns), "
                             f"received {b_l.shape[0]}")
    loss = _LOSS_ALIASES.get(loss, loss)
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {', '.join(LOSSES)}, received {loss!r}")
    activations = list(activations)
    if len(activations) != len(W):
        raise ValueError(f"activations must name {len(W)} activations (one per layer), "
                         f"received {len(activations)}")
    for l, a in enumerate(activations[:-1], start=1):
        if a not in HIDDEN_ACTIVATIONS:
            raise ValueError(f"activation of layer {l} must be one of "
                             f"{', '.join(HIDDEN_ACTIVATIONS)}, received {a!r}")
    if activations[-1] not in OUTPUTS[loss]:
        raise ValueError(f"{loss} needs an output activation in {', '.join(OUTPUTS[loss])}, "
                         f"received {activations[-1]!r}")
    return np.dtype(dtype), W, b, sizes, activations, loss


def check_optimizer(optimizer: str, learning_rate: float, momentum: float, nesterov: bool,
                    beta_1: float, beta_2: float, epsilon: float) -> dict[str, Any]:
    """{"optimizer", "learning_rate", ...} checked, or a ValueError naming the bad argument."""
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, "
                         f"received {optimizer!r}")
    return dict(optimizer=optimizer, learning_rate=_positive("learning_rate", learning_rate),
                momentum=_fraction("momentum", momentum), nesterov=bool(nesterov),
                beta_1=_fraction("beta_1", beta_1), beta_2=_fraction("beta_2", beta_2),
                epsilon=_positive("epsilon", epsilon))


def check_data(X: ArrayLike, Y: ArrayLike, sizes: Sequence[int],
               dtype: DTypeLike) -> tuple[NDArray[Any], NDArray[Any]]:
    """X (n, n_0) and Y (n, n_L) cast to dtype, n >= 1; or a ValueError naming the bad one."""
    X = _float_array("X", X, 2, dtype)
    Y = _float_array("Y", Y, 2, dtype)
    if X.shape[1] != sizes[0]:
        raise ValueError(f"X must have {sizes[0]} columns (W1's rows), received shape {X.shape}")
    if Y.shape != (X.shape[0], sizes[-1]):
        raise ValueError(f"Y must have shape {(X.shape[0], sizes[-1])} (X's rows, the "
                         f"output units), received {Y.shape}")
    if X.shape[0] == 0:
        raise ValueError("X must hold at least one sample")
    return X, Y


def check_batches(n: int, batch_size: int, order: ArrayLike | None) -> tuple[int, NDArray[np.intp]]:
    """(batch_size, order as intp indices in [0, n)); order defaults to 0 .. n-1."""
    if isinstance(batch_size, bool) or int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, received {batch_size!r}")
    if order is None:
        return int(batch_size), np.arange(n, dtype=np.intp)
    order = np.asarray(order)
    if order.ndim != 1 or order.size == 0 or order.dtype.kind not in "iu":
        raise ValueError(f"order must be a non-empty 1-D array of sample indices, "
                         f"received {order.dtype} array of shape {order.shape}")
    if order.min() < 0 or order.max() >= n:
        raise ValueError(f"order must hold indices in [0, {n}), received "
                         f"{order.min()} .. {order.max()}")
    return int(batch_size), order.astype(np.intp, copy=False)


# ---------------------------------------------------------------------------------------------
# The update rules, Keras 3's, one formula per line (w, grad and the slots of one array)


def adam_update(w: NDArray[Any], grad: NDArray[Any], m: NDArray[Any], v: NDArray[Any], t: int,
                eta: float, beta_1: float, beta_2: float,
                adam_epsilon: float) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Adam step t (1, 2, ...), Keras 3's form of Kingma & Ba's bias-corrected update:
    m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2);
    w <- w - alpha m / (sqrt(v) + adam_epsilon),  alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t).
    Returns the new (w, m, v)."""
    alpha = eta * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t)
    m = m + (grad - m) * (1 - beta_1)
    v = v + (grad * grad - v) * (1 - beta_2)
    w = w - alpha * m / (np.sqrt(v) + adam_epsilon)
    return w, m, v


def sgd_update(w: NDArray[Any], grad: NDArray[Any], m: NDArray[Any] | None, eta: float,
               momentum: float, nesterov: bool) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """Keras 3's SGD: momentum 0: w <- w - eta g;
    else m <- momentum m - eta g,  w <- w + m   (Nesterov: w <- w + momentum m - eta g).
    m is None without momentum. Returns the new (w, m)."""
    if momentum == 0:
        return w - eta * grad, None
    assert m is not None, "SGD with momentum keeps its slot m"
    m = momentum * m - eta * grad
    w = w + (momentum * m - eta * grad if nesterov else m)
    return w, m


# ---------------------------------------------------------------------------------------------


class FitOracle:
    """A stack of Dense layers trained on mini-batches as Sequential.fit trains it, in plain NumPy.

    net = FitOracle([W1, b1, W2, b2], ["sigmoid", "softmax"], "categorical_crossentropy",
                    optimizer="adam", learning_rate=0.001)
    loss = net.fit_epoch(X, Y, batch_size=200)            # one pass, batches in order
    weights = net.get_weights()

    weights      [W1, b1, W2, b2, ...], W_l (n_{l-1}, n_l), b_l (n_l,); copied, in their float
                 dtype (float32 or float64), which every array of the training then keeps
    activations  one per layer: hidden layers sigmoid, tanh, relu or linear; the output layer
                 softmax with "categorical_crossentropy", sigmoid with "binary_crossentropy",
                 or any hidden-layer activation with "mean_squared_error" ("mse")
    optimizer    "adam" (learning_rate, beta_1, beta_2, epsilon) or "sgd" (learning_rate,
                 momentum, nesterov), Keras 3's rules (adam_update, sgd_update above)
    The losses reported are Keras's: the mean over the batch of -sum_k y_k log softmax(h)_k,
    of 1/k sum_k [max(h_k, 0) - h_k y_k + log(1 + e^-|h_k|)], or of 1/k sum_k (yhat_k - y_k)^2.
    A batch whose loss is not finite is not applied and ends fit_epoch, as fit stops there.
    After a step, `grads` holds its gradients [dW1, db1, ...] and `slots` the optimizer's state
    by Keras's slot names ({"momentum": [...], "velocity": [...]} for Adam, {"momentum": [...]}
    for SGD with momentum, {} without).
    """

    def __init__(self, weights: Sequence[ArrayLike], activations: Sequence[str], loss: str,
                 optimizer: str = "adam", learning_rate: float = 0.001, momentum: float = 0.0,
                 nesterov: bool = False, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7) -> None:
        self.dtype, W, b, self.sizes, self.activations, self.loss = \
            check_network(weights, activations, loss)
        self.params = [w for Wb in zip(W, b) for w in Wb]           # W1, b1, W2, b2, ...
        self.config = check_optimizer(optimizer, learning_rate, momentum, nesterov,
                                      beta_1, beta_2, epsilon)
        self.optimizer = optimizer
        self.iterations = 0
        self.grads = [np.zeros_like(w) for w in self.params]
        names = ["momentum", "velocity"] if optimizer == "adam" else \
            ["momentum"] if self.config["momentum"] > 0 else []
        self.slots = {name: [np.zeros_like(w) for w in self.params] for name in names}

    def gradients(self, x: NDArray[Any],
                  y: NDArray[Any]) -> tuple[NDArray[Any], list[NDArray[Any]]]:
        """(losses (m,), [dW1, db1, dW2, db2, ...]): each sample's loss and the gradients of
        the mean loss over the batch (x (m, n_0), y (m, n_L))."""
        L, f = len(self.params) // 2, self.activations
        m, k = y.shape
        # forward: g_0 = x;  h_l = g_{l-1} @ W_l + b_l;  g_l = f(h_l)
        g = [x]
        for l in range(L):
            h = vectorized.dense_forward(g[l], self.params[2 * l], self.params[2 * l + 1])
            g.append(h if l == L - 1 and self.loss != "mean_squared_error"
                     else vectorized.activation_forward(h, f[l]))
        # output: each sample's loss and epsilon_L = dL/dh_L of the batch's mean loss
        if self.loss == "categorical_crossentropy":              # g[L] holds the logits h_L
            losses, epsilon = vectorized.softmax_crossentropy(g[L], y)
            epsilon = epsilon / m                                # (softmax(h) sum(y) - y) / m
        elif self.loss == "binary_crossentropy":
            losses, epsilon = vectorized.sigmoid_binary_crossentropy(g[L], y)
            losses, epsilon = losses / k, epsilon / (m * k)      # (sigmoid(h) - y) / (m k)
        else:                                                    # E = 1/2 sum_k (yhat_k - y_k)^2
            E, epsilon = vectorized.squared_error_output(g[L], y, f[L - 1])
            losses, epsilon = 2 * E / k, 2 * epsilon / (m * k)   # 2 (yhat - y) f'(h) / (m k)
        # backward, from the output side inwards
        grads: list[Any] = [None] * (2 * L)        # every entry set below
        for l in range(L - 1, -1, -1):
            W = self.params[2 * l]
            grads[2 * l], grads[2 * l + 1], _ = vectorized.dense_backward(g[l], W, epsilon)
            if l > 0:                                  # epsilon_{l-1} = (epsilon_l W_l^T) f'
                epsilon = vectorized.epsilon_backward(epsilon, W, g[l], f[l - 1])
        return losses, grads

    def update(self, grads: Sequence[NDArray[Any]]) -> None:
        """w <- the optimizer's rule (w, g) for every weight array; iterations += 1."""
        c = self.config
        eta, t = c["learning_rate"], self.iterations + 1
        for i, (w, grad) in enumerate(zip(self.params, grads)):
            m: NDArray[Any] | None
            if self.optimizer == "adam":
                m, v = self.slots["momentum"][i], self.slots["velocity"][i]
                w_new, m, v = adam_update(w, grad, m, v, t, eta, c["beta_1"], c["beta_2"],
                                          c["epsilon"])
                self.slots["momentum"][i], self.slots["velocity"][i] = m, v
            else:
                m = self.slots["momentum"][i] if self.slots else None
                w_new, m = sgd_update(w, grad, m, eta, c["momentum"], c["nesterov"])
                if m is not None:                      # there is a slot: momentum > 0
                    self.slots["momentum"][i] = m
            self.params[i] = w_new.astype(self.dtype, copy=False)
        self.iterations = t

    def train_batch(self, Xb: ArrayLike, Yb: ArrayLike) -> float:
        """One step on the batch (Xb (m, n_0), Yb (m, n_L)): the gradients, then the update
        unless the loss is not finite. Returns the mean loss over the batch (before the update,
        as fit reports it)."""
        x, y = check_data(Xb, Yb, self.sizes, self.dtype)
        with np.errstate(over="ignore", invalid="ignore"):     # a diverging net: loss inf/nan
            losses, self.grads = self.gradients(x, y)
        loss = float(np.mean(losses, dtype=np.float64))         # L = 1/m sum_i loss_i
        if math.isfinite(loss):
            self.update(self.grads)
        return loss

    def fit_epoch(self, X: ArrayLike, Y: ArrayLike, batch_size: int,
                  order: ArrayLike | None = None) -> float:
        """One pass: a step on each batch X[order[i:i + batch_size]] in turn (order defaults
        to 0 .. n-1, the last batch may be short). Returns the mean loss over the samples
        seen: the batches' mean losses weighted by their sizes, as fit's history["loss"]."""
        X, Y = check_data(X, Y, self.sizes, self.dtype)
        batch_size, order = check_batches(X.shape[0], batch_size, order)
        loss_sum, seen = 0.0, 0
        for start in range(0, order.size, batch_size):
            idx = order[start:start + batch_size]
            loss = self.train_batch(X[idx], Y[idx])
            loss_sum += loss * idx.size
            seen += idx.size
            if not math.isfinite(loss):                         # diverged: fit stops here too
                break
        return loss_sum / seen

    def get_weights(self) -> list[NDArray[Any]]:
        """[W1, b1, W2, b2, ...] as copies"""
        return [w.copy() for w in self.params]
