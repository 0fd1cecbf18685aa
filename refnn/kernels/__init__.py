"""The compiled kernels, behind checked entry points.

This package is the one place that imports the compiled extensions (refnn._dense,
refnn._activations, refnn._losses, refnn._textbook, refnn._optimizers, refnn._train, built from
src_c/): here the layer and loss kernels; blas.py the choice of BLAS and the size check;
updates.py the optimizers' rules (apply_rule); trainer.py the compiled training step
(DenseTrainer). Each entry point validates its arguments
(ndim, shapes, float32/float64 dtype, one dtype for all arrays, finiteness, emptiness), makes
them C-contiguous, allocates the outputs and calls the kernel, which then runs without the GIL
and without bounds checks. Nothing unchecked reaches C.

Notation: h weighted sum, g activation output, epsilon error term dE/dh, eta learning rate.
Shapes are batch-major: g_prev (n, n_in), W (n_in, n_out), b (n_out,), h and epsilon (n, n_out).

Each layer and loss kernel has two twins with the same name and arguments, the oracles it is
tested against: refnn.reference.pure (plain Python) and refnn.reference.vectorized (NumPy); the
update rules' twins are refnn.reference.optimizers.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import activations
from ._dispatch import _activations, _dense, _losses, _textbook, _train
from .._validate import (NonFiniteError, check_dim, check_same_samples, choice, positive_int,
                         positive_number)
from ._arrays import (_first, _like, _write_back, _writable_target, aligned_copy, aligned_empty,
                      refuse_overlap, staggered_like)
from .blas import _numpy_openblas, check_blas_sizes, use_blas  # noqa: F401  (public names)

# ---- activations: refnn/activations.py declares them; the codes are src_c/_core.pxd's enum
ACTIVATIONS = activations.NAMES
DIFFERENTIABLE = activations.DIFFERENTIABLE            # f'(h) elementwise, from g
ACTIVATION_CODES = activations.CODES


def activation_code(activation: str, valid: Sequence[str] = ACTIVATIONS, why: str = "") -> int:
    """The kernels' code for an activation name; the error lists the valid names."""
    if isinstance(activation, str) and activation in ACTIVATIONS and activation not in valid:
        raise ValueError(f"activation {activation!r} is not allowed here{why}; "
                         f"valid: {', '.join(valid)}")
    return ACTIVATION_CODES[choice("activation", activation, valid)]


def _derivative_code(activation: str) -> int:
    return activation_code(
        activation, DIFFERENTIABLE,
        " (softmax has no elementwise derivative: use the fused softmax_crossentropy; "
        "step has zero derivative almost everywhere)")


def dense_forward(g_prev: ArrayLike, W: ArrayLike, b: ArrayLike) -> NDArray[Any]:
    """h = g_prev @ W + b"""
    W = _first("W", W, 2)
    g_prev = _like("g_prev", g_prev, 2, W.dtype)
    b = _like("b", b, 1, W.dtype)
    check_dim("g_prev", g_prev.shape[1], W.shape[0], "features (columns)", "W has {expected} rows")
    check_dim("b", b.shape[0], W.shape[1], "entries", "W has {expected} columns (units)")
    check_blas_sizes(samples=g_prev.shape[0], n_in=W.shape[0], n_out=W.shape[1])
    h = np.empty((g_prev.shape[0], W.shape[1]), W.dtype)
    _dense.dense_forward(g_prev, W, b, h)
    return h


def dense_backward(g_prev: ArrayLike, W: ArrayLike, epsilon: ArrayLike
                   ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any]]:
    """dW = g_prev.T @ epsilon,  db = sum(epsilon, axis=0),  dg_prev = epsilon @ W.T"""
    W = _first("W", W, 2)
    g_prev = _like("g_prev", g_prev, 2, W.dtype)
    epsilon = _like("epsilon", epsilon, 2, W.dtype)
    check_dim("g_prev", g_prev.shape[1], W.shape[0], "features (columns)", "W has {expected} rows")
    check_dim("epsilon", epsilon.shape[1], W.shape[1], "columns", "W has {expected} units")
    check_same_samples(g_prev=g_prev, epsilon=epsilon)
    check_blas_sizes(samples=g_prev.shape[0], n_in=W.shape[0], n_out=W.shape[1])
    dW = np.empty_like(W)
    db = np.empty(W.shape[1], W.dtype)
    dg_prev = np.empty_like(g_prev)
    _dense.dense_backward(g_prev, W, epsilon, dW, db, dg_prev)
    return dW, db, dg_prev


def activation_forward(h: ArrayLike, activation: str) -> NDArray[Any]:
    """g = f(h) for f in sigmoid, tanh, relu, linear, softmax (row-wise), step"""
    code = activation_code(activation)
    h = _first("h", h, 2)
    g = np.empty_like(h)
    _activations.activation_forward(h, code, g)
    return g


def activation_derivative(g: ArrayLike, activation: str) -> NDArray[Any]:
    """f'(h) written from g = f(h): sigmoid g(1-g), tanh 1-g^2, relu [g>0], linear 1"""
    code = _derivative_code(activation)
    g = _first("g", g, 2)
    out = np.empty_like(g)
    _activations.activation_derivative(g, code, out)
    return out


def epsilon_backward(epsilon: ArrayLike, W: ArrayLike, g_prev: ArrayLike,
                     activation: str) -> NDArray[Any]:
    """epsilon_prev = (epsilon @ W.T) * f'(h_prev), f' from g_prev (the layer below's output)"""
    code = _derivative_code(activation)
    W = _first("W", W, 2)
    epsilon = _like("epsilon", epsilon, 2, W.dtype)
    g_prev = _like("g_prev", g_prev, 2, W.dtype)
    check_dim("epsilon", epsilon.shape[1], W.shape[1], "columns", "W has {expected} units")
    check_dim("g_prev", g_prev.shape[1], W.shape[0], "columns", "W has {expected} rows")
    check_same_samples(epsilon=epsilon, g_prev=g_prev)
    check_blas_sizes(samples=g_prev.shape[0], n_in=W.shape[0], n_out=W.shape[1])
    out = np.empty_like(g_prev)
    _dense.epsilon_backward(epsilon, W, g_prev, code, out)
    return out


def _output_pair(h_name: str, h: ArrayLike, y: ArrayLike
                 ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    h = _first(h_name, h, 2)
    y = _like("y", y, 2, h.dtype)
    if y.shape != h.shape:
        raise ValueError(f"y must have the shape of {h_name}, {h.shape}, got {y.shape}")
    return h, y, np.empty(h.shape[0], h.dtype), np.empty_like(h)


def softmax_crossentropy(h: ArrayLike, y: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
    """loss_i = -sum_k y_k log softmax(h)_k,  epsilon = softmax(h) sum_k y_k - y  (= yhat - y)"""
    h, y, loss, epsilon = _output_pair("h", h, y)
    _losses.softmax_crossentropy(h, y, loss, epsilon)
    return loss, epsilon


def sigmoid_binary_crossentropy(h: ArrayLike, y: ArrayLike
                                ) -> tuple[NDArray[Any], NDArray[Any]]:
    """loss_i = sum_k -y log sigmoid(h) - (1-y) log(1 - sigmoid(h)),  epsilon = sigmoid(h) - y"""
    h, y, loss, epsilon = _output_pair("h", h, y)
    _losses.sigmoid_binary_crossentropy(h, y, loss, epsilon)
    return loss, epsilon


def squared_error_output(g: ArrayLike, y: ArrayLike, activation: str
                         ) -> tuple[NDArray[Any], NDArray[Any]]:
    """E_i = 1/2 sum_k (g_k - y_k)^2,  epsilon = (g - y) * f'(h)  (f' from g)"""
    code = _derivative_code(activation)
    g, y, E, epsilon = _output_pair("g", g, y)
    _losses.squared_error_output(g, y, code, E, epsilon)
    return E, epsilon


def check_weights(weights: Sequence[NDArray[Any]], dtype: DTypeLike | None = None,
                  name: str = "weights") -> list[int]:
    """[W1, b1, W2, b2, ...]: 2-D kernels, 1-D biases, sizes that chain, one float dtype.
    Returns the sizes [n_0, n_1, ..., n_L]."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name} must be a list [W1, b1, W2, b2, ...], "
                        f"got {type(weights).__name__}")
    if len(weights) == 0 or len(weights) % 2:
        raise ValueError(f"{name} must hold pairs [W1, b1, W2, b2, ...], "
                         f"got {len(weights)} arrays")
    sizes = []
    for l in range(len(weights) // 2):
        W, b = weights[2 * l], weights[2 * l + 1]
        for label, a, nd in ((f"W{l + 1}", W, 2), (f"b{l + 1}", b, 1)):
            if not isinstance(a, np.ndarray):
                raise TypeError(f"{name}: {label} must be a NumPy array, got {type(a).__name__}")
            if a.ndim != nd:
                raise ValueError(f"{name}: {label} must be {nd}-D, got shape {a.shape}")
            if dtype is not None and a.dtype != dtype:
                raise TypeError(f"{name}: {label} must be {np.dtype(dtype).name}, "
                                f"got {a.dtype.name}")
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


def sgd_per_sample(weights: Sequence[NDArray[Any]], X: ArrayLike, Y: ArrayLike, eta: float,
                   activation: str) -> tuple[list[NDArray[Any]], NDArray[Any]]:
    """The textbook algorithm over (X, Y), one sample at a time, in order; the weights
    [W1, b1, W2, b2, ...] are updated in place. Returns (weights, E) with E[i] the squared
    error of sample i, computed in its forward pass before its update."""
    code = activation_code(activation, DIFFERENTIABLE,
                           " (the textbook network needs f'(h) from g at every layer)")
    eta = positive_number("eta", eta)
    dtype: np.dtype[Any] | None = None
    if isinstance(weights, (list, tuple)) and weights and isinstance(weights[0], np.ndarray):
        dtype = weights[0].dtype
        if dtype not in (np.float32, np.float64):
            raise TypeError(f"weights: W1 must be float32 or float64, got {dtype.name}")
    sizes = check_weights(weights, dtype)
    refuse_overlap({f"weights[{i}]": w for i, w in enumerate(weights)}, {"X": X, "Y": Y})
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


def dense_stack_forward(weights: Sequence[NDArray[Any]], X: ArrayLike, activations: Sequence[str],
                        threads: int | None = None) -> tuple[NDArray[Any], NDArray[Any]]:
    """(h_L, yhat) of a stack of Dense layers, weights [W_1, b_1, ..., W_L, b_L] and
    activations [f_1, ..., f_L] (softmax only at the output), for every row of X:

        h_l = g_{l-1} W_l + b_l,   g_l = f_l(h_l),   g_0 = X,   yhat = g_L

    in pieces of rows (their size fixed by the number of rows alone) on up to `threads` of
    refnn's threads (default: refnn.get_num_threads()); the result does not depend on it.
    An h_l with NaN or infinity (an overflow) raises NonFiniteError naming the layer."""
    if not isinstance(weights, (list, tuple)) or not weights or len(weights) % 2 \
            or not isinstance(weights[0], np.ndarray):
        raise TypeError("weights must be a list [W_1, b_1, ..., W_L, b_L] of NumPy arrays")
    dtype = weights[0].dtype
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"weights: W1 must be float32 or float64, got {dtype.name}")
    sizes = check_weights(weights, dtype)
    weights = [_like(f"weights[{i}]", w, w.ndim, dtype) for i, w in enumerate(weights)]
    L = len(weights) // 2
    if L > 127:
        raise ValueError(f"weights: at most 127 layers, got {L}")
    if not isinstance(activations, (list, tuple)) or len(activations) != L:
        raise ValueError(f"activations must name one activation per layer ({L}), "
                         f"got {activations!r}")
    hidden = [a for a in ACTIVATIONS if a != "softmax"]
    codes = np.array([activation_code(a, hidden if l < L - 1 else ACTIVATIONS,
                                      " (softmax is a row operation: the output layer's only)")
                      for l, a in enumerate(activations)], dtype=np.intc)
    X = _like("X", X, 2, dtype)
    check_dim("X", X.shape[1], sizes[0], "features", "W1 has {expected} rows")
    check_blas_sizes(samples=X.shape[0], n_in=max(sizes), n_out=max(sizes))
    from .threads import get_num_threads
    threads = get_num_threads() if threads is None else positive_int("threads", threads)
    h = np.empty((X.shape[0], sizes[-1]), dtype)
    yhat = np.empty_like(h)
    threads = min(threads, _train.MAX_THREADS)
    rows = _train.FORWARD_MAX_ROWS          # a multiple of the pieces' rows: the same cut
    for start in range(0, X.shape[0], rows):
        bad = _train.dense_stack_forward(weights, codes, X[start:start + rows],
                                         h[start:start + rows], yhat[start:start + rows],
                                         threads)
        if bad:
            raise NonFiniteError(f"h of layer {bad} holds NaN or infinity")
    return h, yhat


def __getattr__(name: str) -> Any:
    """BLAS ("numpy" or "scipy") and BLAS_INT_MAX: the library in use, as use_blas left it."""
    if name in ("BLAS", "BLAS_INT_MAX"):
        from . import blas
        return getattr(blas, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# the compiled step and the optimizers' rules (they use the checks above)
from .trainer import DenseTrainer  # noqa: E402
from .updates import (adagrad_update, adam_update, apply_rule, rmsprop_update,  # noqa: E402
                      sgd_momentum_update, sgd_update)

__all__ = ["use_blas", "check_blas_sizes", "ACTIVATIONS", "DIFFERENTIABLE", "ACTIVATION_CODES",
           "activation_code", "dense_forward", "dense_backward", "activation_forward",
           "activation_derivative", "epsilon_backward", "softmax_crossentropy",
           "sigmoid_binary_crossentropy", "squared_error_output", "check_weights",
           "sgd_per_sample", "dense_stack_forward", "DenseTrainer", "apply_rule", "sgd_update",
           "sgd_momentum_update", "adagrad_update", "rmsprop_update", "adam_update",
           "staggered_like", "aligned_empty", "aligned_copy"]
