"""The lecture's networks, step by step.

ThresholdUnit, Perceptron and SigmoidUnit (refnn.units) are the single units; BackpropNetwork
is the feed-forward network trained by the textbook's per-sample backpropagation:

1. Set the link weights w to small initial values.
2. For each training sample (x, y):
   1. compute the network output yhat for x (forward pass):  h_j = sum_i w_ij g_i,  g_j = f(h_j);
   2. output layer error:  epsilon_k = (yhat_k - y_k) f'(h_k)   (sigmoid: yhat_k (1 - yhat_k));
   3. hidden layers, from the output side inwards:  epsilon_j = (sum_k epsilon_k w_jk) f'(h_j);
   4. repeat step 3 down to the input layer;
   5. update:  w_ij' = w_ij - eta epsilon_j g_i.

E = 1/2 sum_k (yhat_k - y_k)^2 is the error of one sample. The bias b_j is the weight of a
constant-1 input, so it is updated by b_j' = b_j - eta epsilon_j.

Three backends compute the same numbers: "c" (the compiled kernels), "numpy" (the NumPy twin)
and "python" (plain loops over Python floats). In float64 they agree to 1e-12 after any number
of steps; tests show it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import activations, kernels
from ._validate import (TrainingDivergedError, as_array, as_dtype, check_same_samples, choice,
                        positive_int, positive_number)
from .reference import pure, vectorized
from .units import ConvergenceWarning, Perceptron, SigmoidUnit, ThresholdUnit

__all__ = ["BackpropNetwork", "Trace", "ThresholdUnit", "Perceptron", "SigmoidUnit",
           "ConvergenceWarning"]

BACKENDS = {"c": kernels, "numpy": vectorized, "python": pure}


@dataclass
class Trace:
    """Every quantity of one textbook backprop step on one sample.

    g[0] is the input x; for layer l = 1..L: h[l-1] its weighted sums, g[l] its outputs,
    epsilon[l-1] its error terms dE/dh; grads = [dE/dW1, dE/db1, ...] (dW_l = g_{l-1}^T epsilon_l);
    E the sample's squared error before the update; weights_before / weights_after around
    w' = w - eta dE/dw.
    """
    x: NDArray[Any]
    y: NDArray[Any]
    eta: float
    h: list[NDArray[Any]]
    g: list[NDArray[Any]]
    epsilon: list[NDArray[Any]]
    grads: list[NDArray[Any]]
    E: float
    weights_before: list[NDArray[Any]]
    weights_after: list[NDArray[Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return format_trace(self)


def _fmt(a: ArrayLike, digits: int = 6) -> str:
    return np.array2string(np.asarray(a, dtype=np.float64), precision=digits, suppress_small=False,
                           max_line_width=100, floatmode="fixed")


def format_trace(trace: Trace) -> str:
    """The step in the lecture's notation, layer by layer."""
    L = len(trace.h)
    lines = [f"one backprop step, eta = {trace.eta:g}",
             f"  input   x = g0 = {_fmt(trace.x)}",
             f"  target  y      = {_fmt(trace.y)}",
             "  forward pass:  h_j = sum_i w_ij g_i + b_j,   g_j = f(h_j)"]
    for l in range(1, L + 1):
        lines.append(f"    layer {l}:  h{l} = {_fmt(trace.h[l - 1])}")
        lines.append(f"              g{l} = {_fmt(trace.g[l])}")
    lines.append(f"  error:  E = 1/2 sum_k (yhat_k - y_k)^2 = {trace.E:.9g}")
    lines.append("  error terms:  output  epsilon_k = (yhat_k - y_k) f'(h_k);"
                 "  hidden  epsilon_j = (sum_k epsilon_k w_jk) f'(h_j)")
    for l in range(L, 0, -1):
        lines.append(f"    layer {l}:  epsilon{l} = {_fmt(trace.epsilon[l - 1])}")
    lines.append("  gradients:  dE/dw_ij = epsilon_j g_i,   dE/db_j = epsilon_j")
    for l in range(1, L + 1):
        dW, db = trace.grads[2 * (l - 1)], trace.grads[2 * (l - 1) + 1]
        lines.append(f"    dE/dW{l} =")
        lines.extend("      " + row for row in _fmt(dW).splitlines())
        lines.append(f"    dE/db{l} = {_fmt(db)}")
    if trace.weights_after:
        lines.append("  update:  w' = w - eta dE/dw")
        for l in range(1, L + 1):
            lines.append(f"    W{l}' =")
            W_after = trace.weights_after[2 * (l - 1)]
            lines.extend("      " + row for row in _fmt(W_after).splitlines())
            lines.append(f"    b{l}' = {_fmt(trace.weights_after[2 * (l - 1) + 1])}")
    return "\n".join(lines)


class BackpropNetwork:
    """A fully connected feed-forward network trained by per-sample backpropagation.

    forward:   h_l = g_{l-1} W_l + b_l,   g_l = f(h_l),   g_0 = x,   yhat = g_L
    error:     E = 1/2 sum_k (yhat_k - y_k)^2
    backward:  epsilon_L = (yhat - y) f'(h_L),   epsilon_{l-1} = (epsilon_l W_l^T) f'(h_{l-1})
    update:    W_l' = W_l - eta g_{l-1}^T epsilon_l,   b_l' = b_l - eta epsilon_l

    Parameters
    ----------
    sizes : list of int
        Units per layer, input first: [2, 3, 1] is 2 inputs, 3 hidden units, 1 output.
    activation : "sigmoid" (the lecture's), "tanh", "relu" or "linear"; used by every layer.
    seed : int or None
        Fixes the initial weights.
    backend : "c" (compiled kernels), "numpy" or "python": the same numbers.
    dtype : "float64" (default, for verification) or "float32" (for speed; not with "python").
    init_scale : float or None
        Step 1, small initial values: W and b uniform in (-a, a) with a = init_scale, or
        a = 1/sqrt(n_in) (LeCun's scale) when None.

    Shape: x (n_in,) or X (n, n_in); y (n_out,) or Y (n, n_out) (1-D Y allowed when n_out = 1).
    """

    def __init__(self, sizes: Sequence[int], activation: str = "sigmoid", seed: int | None = None,
                 backend: str = "c", dtype: DTypeLike = "float64",
                 init_scale: float | None = None) -> None:
        if not isinstance(sizes, (list, tuple)) or len(sizes) < 2:
            raise ValueError(f"sizes must be a list of at least two layer sizes (input, ..., "
                             f"output), got {sizes!r}")
        self.sizes = [positive_int(f"sizes[{i}]", s) for i, s in enumerate(sizes)]
        self.activation = choice("activation", activation, activations.DIFFERENTIABLE)
        self.backend = choice("backend", backend, BACKENDS)
        self.dtype = as_dtype("dtype", dtype)
        if self.backend == "python" and self.dtype != np.float64:
            raise ValueError("backend 'python' computes with Python floats (float64); "
                             "use dtype='float64' or another backend")
        if init_scale is not None:
            init_scale = positive_number("init_scale", init_scale)
        if seed is not None:
            seed = positive_int("seed", seed, allow_zero=True)
        self.seed = seed
        rng = np.random.default_rng(seed)
        self._weights: list[NDArray[Any]] = []
        for n_in, n_out in zip(self.sizes[:-1], self.sizes[1:]):
            a = init_scale if init_scale is not None else 1 / np.sqrt(n_in)
            self._weights.append(rng.uniform(-a, a, (n_in, n_out)).astype(self.dtype))
            self._weights.append(rng.uniform(-a, a, n_out).astype(self.dtype))
        self.history_: list[float] = []          # the mean E of each epoch fit ran

    # ------------------------------------------------------------------ weights
    @property
    def n_layers(self) -> int:
        return len(self.sizes) - 1

    def weight_names(self) -> list[str]:
        return [f"{p}{l}" for l in range(1, self.n_layers + 1) for p in ("W", "b")]

    def get_weights(self) -> list[NDArray[Any]]:
        """[W1 (n_0, n_1), b1 (n_1,), W2, b2, ...] (copies)"""
        return [w.copy() for w in self._weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Replace all weights (cast to the network's dtype); nothing changes if any is wrong."""
        if not isinstance(weights, (list, tuple)) or len(weights) != len(self._weights):
            got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise ValueError(f"weights must be a list of {len(self._weights)} arrays "
                             f"{self.weight_names()}, got {got}")
        new = []
        for name, old, w in zip(self.weight_names(), self._weights, weights):
            w = as_array(name, w, ndim=old.ndim, dtype=self.dtype)
            if w.shape != old.shape:
                raise ValueError(f"{name} must have shape {old.shape}, got {w.shape}")
            new.append(w.copy())
        self._weights = new

    def astype(self, dtype: DTypeLike) -> BackpropNetwork:
        """A copy of this network computing in `dtype` (gradcheck uses float64)."""
        dtype = as_dtype("dtype", dtype)
        backend = self.backend if not (self.backend == "python" and dtype != np.float64) else "c"
        net = BackpropNetwork(self.sizes, self.activation, seed=self.seed, backend=backend,
                              dtype=dtype)
        net.set_weights(self._weights)
        return net

    # ------------------------------------------------------------------ data
    def _check_x(self, X: ArrayLike, name: str = "X") -> NDArray[Any]:
        X = as_array(name, X, ndim=(1, 2), dtype=self.dtype)
        if X.ndim == 1:
            X = X[None, :]
        if X.shape[1] != self.sizes[0]:
            raise ValueError(f"{name} has {X.shape[1]} features, expected {self.sizes[0]} "
                             f"(the network's input size)")
        return X

    def _check_xy(self, X: ArrayLike, Y: ArrayLike,
                  names: tuple[str, str] = ("X", "Y")) -> tuple[NDArray[Any], NDArray[Any]]:
        X = self._check_x(X, names[0])
        Y = as_array(names[1], Y, ndim=(1, 2), dtype=self.dtype)
        n_out = self.sizes[-1]
        if Y.ndim == 1:
            # one target vector for one sample, or one target per sample when n_out = 1
            Y = Y[None, :] if (X.shape[0] == 1 and n_out > 1) else Y[:, None]
        if Y.shape[1] != n_out:
            raise ValueError(f"{names[1]} has {Y.shape[1]} columns, expected {n_out} "
                             f"(the network's output size)")
        check_same_samples(**{names[0]: X, names[1]: Y})
        return X, Y

    # ------------------------------------------------------------------ the algorithm
    def _backend_arrays(self, values: Sequence[ArrayLike]) -> list[NDArray[Any]]:
        return [np.asarray(v, dtype=self.dtype) for v in values]

    def _forward(self, X: NDArray[Any], weights: Sequence[NDArray[Any]]
                 ) -> tuple[list[NDArray[Any]], list[NDArray[Any]]]:
        """2.1: h_l = g_{l-1} W_l + b_l, g_l = f(h_l); returns (h list, g list with g[0] = X)."""
        B = BACKENDS[self.backend]
        g: list[NDArray[Any]] = [X]
        h: list[NDArray[Any]] = []
        for l in range(self.n_layers):
            h_l = np.asarray(B.dense_forward(g[-1], weights[2 * l], weights[2 * l + 1]), self.dtype)
            h.append(h_l)
            g.append(np.asarray(B.activation_forward(h_l, self.activation), self.dtype))
        return h, g

    def _backward(self, g: list[NDArray[Any]], Y: NDArray[Any], weights: Sequence[NDArray[Any]]
                  ) -> tuple[NDArray[Any], list[NDArray[Any]], list[NDArray[Any]]]:
        """2.2-2.4: E per sample, epsilon per layer, and the summed gradients dE/dw."""
        B = BACKENDS[self.backend]
        E, eps_L = B.squared_error_output(g[-1], Y, self.activation)
        epsilon = [np.asarray(eps_L, self.dtype)]
        for l in range(self.n_layers - 1, 0, -1):       # output side inwards
            eps = B.epsilon_backward(epsilon[0], weights[2 * l], g[l], self.activation)
            epsilon.insert(0, np.asarray(eps, self.dtype))
        grads: list[NDArray[Any]] = []
        for l in range(self.n_layers):                  # dE/dW_l = g_{l-1}^T epsilon_l
            dW, db, _ = B.dense_backward(g[l], weights[2 * l], epsilon[l])
            grads += [np.asarray(dW, self.dtype), np.asarray(db, self.dtype)]
        return np.asarray(E, self.dtype), epsilon, grads

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """yhat = g_L for each sample of X (n, n_in) -> (n, n_out)"""
        X = self._check_x(X)
        return self._forward(X, self._weights)[1][-1]

    def step(self, x: ArrayLike, y: ArrayLike, eta: float) -> Trace:
        """One textbook step on one sample; returns its Trace and updates the weights. y is
        the sample's target: a vector of the output size, or a number when there is one output
        (net.step(X[1], Y[1], eta) with Y of shape (n,))."""
        eta = positive_number("eta", eta)
        x = as_array("x", x, ndim=(1, 2), dtype=self.dtype)
        if x.ndim == 2 and x.shape[0] != 1:
            raise ValueError(f"step takes one sample; x has {x.shape[0]} (use fit for a data set)")
        y = as_array("y", y, ndim=(0, 1, 2), dtype=self.dtype)
        if y.size != self.sizes[-1]:
            raise ValueError(f"y has {y.size} entries, expected {self.sizes[-1]} "
                             f"(the network's output size)")
        X, Y = self._check_xy(x.reshape(1, -1), y.reshape(1, -1), names=("x", "y"))
        before = self.get_weights()
        h, g = self._forward(X, before)
        E, epsilon, grads = self._backward(g, Y, before)
        B = BACKENDS[self.backend]
        after: list[NDArray[Any]] = []
        for w, dw in zip(before, grads):                # 2.5: w' = w - eta dE/dw
            w_new = B.sgd_update(w.copy(), dw, eta)
            after.append(np.asarray(w_new, self.dtype).reshape(w.shape))
        if not (np.isfinite(E[0]) and all(np.isfinite(w).all() for w in after)):
            raise TrainingDivergedError(                # a failed call changes nothing
                f"this step would make the weights or E non-finite (E = {float(E[0])}); "
                f"the weights are unchanged: try a smaller eta")
        self._weights = [w.copy() for w in after]
        return Trace(x=X[0], y=Y[0], eta=eta, h=[a[0] for a in h], g=[a[0] for a in g],
                     epsilon=[a[0] for a in epsilon], grads=grads, E=float(E[0]),
                     weights_before=before, weights_after=after)

    def fit(self, X: ArrayLike, Y: ArrayLike, eta: float = 0.1, epochs: int = 1,
            shuffle: bool = False, seed: int | None = None) -> list[float]:
        """Per-sample SGD over the data set, `epochs` times: steps 2.1-2.5 for each sample in
        order (or in a fresh random order per epoch with shuffle=True, fixed by `seed`).
        Returns the mean E of each epoch (also appended to self.history_)."""
        eta = positive_number("eta", eta)
        epochs = positive_int("epochs", epochs)
        if seed is not None:
            seed = positive_int("seed", seed, allow_zero=True)
        X, Y = self._check_xy(X, Y)
        rng = np.random.default_rng(self.seed if seed is None else seed)
        start = self.get_weights()
        history: list[float] = []
        for _ in range(epochs):
            if shuffle:
                order = rng.permutation(X.shape[0])
                X_e, Y_e = X[order], Y[order]
            else:
                X_e, Y_e = X, Y
            if self.backend == "c":
                _, E = kernels.sgd_per_sample(self._weights, X_e, Y_e, eta, self.activation)
            else:
                weights, E = BACKENDS[self.backend].sgd_per_sample(
                    self._weights, X_e, Y_e, eta, self.activation)
                self._weights = [np.array(w, dtype=self.dtype).reshape(old.shape)
                                 for w, old in zip(weights, self._weights)]
            history.append(float(np.mean(E, dtype=np.float64)))
            if not (np.isfinite(history[-1]) and all(np.isfinite(w).all() for w in self._weights)):
                self._weights = start                       # a failed call changes nothing
                raise TrainingDivergedError(
                    f"training diverged in epoch {len(history)} (mean E = {history[-1]}); "
                    f"the weights are back where fit started: try a smaller eta")
        self.history_ += history
        return history

    def evaluate(self, X: ArrayLike, Y: ArrayLike) -> float:
        """The mean of E = 1/2 sum_k (yhat_k - y_k)^2 over the samples."""
        X, Y = self._check_xy(X, Y)
        yhat = self._forward(X, self._weights)[1][-1]
        return float(np.mean(0.5 * np.sum((yhat.astype(np.float64) - Y) ** 2, axis=1)))

    def loss_and_gradients(self, X: ArrayLike, Y: ArrayLike) -> tuple[float, list[NDArray[Any]]]:
        """The mean of E over the samples and its gradient [dE/dW1, dE/db1, ...]: the
        per-sample gradients averaged (equal to the batched gradient; a test shows it)."""
        X, Y = self._check_xy(X, Y)
        _, g = self._forward(X, self._weights)
        E, _, grads = self._backward(g, Y, self._weights)
        n = X.shape[0]
        return float(np.mean(E, dtype=np.float64)), [gr / n for gr in grads]

    def kink_signature(self, X: ArrayLike, Y: ArrayLike) -> list[NDArray[Any]]:
        """For relu: which weighted sums are > 0. A finite-difference step that changes it
        crossed the kink of max(h, 0) (gradcheck then skips that entry)."""
        if self.activation != "relu":
            return []
        X = self._check_x(X)
        return [h_l > 0 for h_l in self._forward(X, self._weights)[0]]

    def __repr__(self) -> str:
        return (f"BackpropNetwork({self.sizes}, activation={self.activation!r}, "
                f"backend={self.backend!r}, dtype={self.dtype.name!r})")
