"""Each compiled kernel (refnn.kernels, "c") against its NumPy twin (refnn.reference.vectorized,
"numpy"), float32, one benchmark group per kernel and size so the two are printed side by side.

Sizes are the layers of a 784-128-10 network on a batch of 200 samples:
  "200x784->128"  g_prev (200, 784), W (784, 128), h and epsilon (200, 128)
  "200x128->10"   g_prev (200, 128), W (128, 10),  h and epsilon (200, 10)
Kernels acting on one layer's output (activations, losses) run on h of shape (200, n_out).

The C entry points are timed as users call them: argument checks included. The pure-Python
twin is left out (at these sizes it takes seconds per call); sgd_per_sample, the whole
per-sample epoch, is in bench_textbook.py.
"""
import numpy as np
import pytest

from refnn import kernels
from refnn.reference import vectorized

IMPLS = {"c": kernels, "numpy": vectorized}
SIZES = {"200x784->128": (200, 784, 128), "200x128->10": (200, 128, 10)}

impl = pytest.mark.parametrize("impl", list(IMPLS))
size = pytest.mark.parametrize("size", list(SIZES))


def _start(benchmark, kernel, size, impl, **extra):
    """Group and label the benchmark; returns the module computing `impl`."""
    benchmark.group = f"{kernel} {size}"
    benchmark.extra_info.update(kernel=kernel, size=size, impl=impl, dtype="float32", **extra)
    return IMPLS[impl]


def _layer(layer_arrays, size):
    """The layer's inputs plus its weighted sum h, output g = sigmoid(h) and one-hot targets y."""
    arrays = dict(layer_arrays(*SIZES[size]))
    n, _, n_out = SIZES[size]
    arrays["h"] = vectorized.dense_forward(arrays["g_prev"], arrays["W"], arrays["b"])
    arrays["g"] = vectorized.activation_forward(arrays["h"], "sigmoid")
    y = np.zeros((n, n_out), np.float32)
    y[np.arange(n), np.random.default_rng(1).integers(0, n_out, n)] = 1
    arrays["y"] = y
    return arrays


@size
@impl
def test_dense_forward(benchmark, layer_arrays, impl, size):
    """h = g_prev @ W + b"""
    B = _start(benchmark, "dense_forward", size, impl)
    a = _layer(layer_arrays, size)
    h = benchmark(B.dense_forward, a["g_prev"], a["W"], a["b"])
    assert h.shape == a["h"].shape and h.dtype == np.float32


@size
@impl
def test_dense_backward(benchmark, layer_arrays, impl, size):
    """dW = g_prev.T @ epsilon,  db = sum(epsilon),  dg_prev = epsilon @ W.T"""
    B = _start(benchmark, "dense_backward", size, impl)
    a = _layer(layer_arrays, size)
    dW, db, dg_prev = benchmark(B.dense_backward, a["g_prev"], a["W"], a["epsilon"])
    assert dW.shape == a["W"].shape and dg_prev.shape == a["g_prev"].shape


@size
@impl
@pytest.mark.parametrize("activation", ["sigmoid", "relu", "softmax"])
def test_activation_forward(benchmark, layer_arrays, impl, size, activation):
    """g = f(h)"""
    B = _start(benchmark, f"activation_forward[{activation}]", size, impl, activation=activation)
    a = _layer(layer_arrays, size)
    g = benchmark(B.activation_forward, a["h"], activation)
    assert g.shape == a["h"].shape and np.isfinite(g).all()


@size
@impl
def test_activation_derivative(benchmark, layer_arrays, impl, size):
    """f'(h) = g (1 - g) for the sigmoid, from its output g"""
    B = _start(benchmark, "activation_derivative[sigmoid]", size, impl, activation="sigmoid")
    a = _layer(layer_arrays, size)
    d = benchmark(B.activation_derivative, a["g"], "sigmoid")
    assert d.shape == a["g"].shape


@size
@impl
def test_epsilon_backward(benchmark, layer_arrays, impl, size):
    """epsilon_prev = (epsilon @ W.T) * g_prev (1 - g_prev)   (sigmoid below)"""
    B = _start(benchmark, "epsilon_backward[sigmoid]", size, impl, activation="sigmoid")
    a = _layer(layer_arrays, size)
    epsilon_prev = benchmark(B.epsilon_backward, a["epsilon"], a["W"], a["g_prev"], "sigmoid")
    assert epsilon_prev.shape == a["g_prev"].shape


@size
@impl
def test_softmax_crossentropy(benchmark, layer_arrays, impl, size):
    """loss = -sum_k y_k log softmax(h)_k,  epsilon = yhat - y"""
    B = _start(benchmark, "softmax_crossentropy", size, impl)
    a = _layer(layer_arrays, size)
    loss, epsilon = benchmark(B.softmax_crossentropy, a["h"], a["y"])
    assert loss.shape == (a["h"].shape[0],) and np.isfinite(loss).all()


@size
@impl
def test_sigmoid_binary_crossentropy(benchmark, layer_arrays, impl, size):
    """loss = sum_k -y log sigmoid(h) - (1-y) log(1 - sigmoid(h)),  epsilon = sigmoid(h) - y"""
    B = _start(benchmark, "sigmoid_binary_crossentropy", size, impl)
    a = _layer(layer_arrays, size)
    loss, epsilon = benchmark(B.sigmoid_binary_crossentropy, a["h"], a["y"])
    assert loss.shape == (a["h"].shape[0],) and np.isfinite(loss).all()


@size
@impl
def test_squared_error_output(benchmark, layer_arrays, impl, size):
    """E = 1/2 sum_k (g - y)^2,  epsilon = (g - y) g (1 - g)   (sigmoid output)"""
    B = _start(benchmark, "squared_error_output[sigmoid]", size, impl, activation="sigmoid")
    a = _layer(layer_arrays, size)
    E, epsilon = benchmark(B.squared_error_output, a["g"], a["y"], "sigmoid")
    assert E.shape == (a["g"].shape[0],) and np.isfinite(E).all()


@size
@impl
def test_sgd_update(benchmark, layer_arrays, impl, size):
    """w <- w - eta * grad on a W of the layer (C: in place; NumPy: a new array)"""
    B = _start(benchmark, "sgd_update", size, impl)
    a = _layer(layer_arrays, size)
    w = a["W"].copy()                   # the C kernel updates it, call after call
    grad = vectorized.dense_backward(a["g_prev"], a["W"], a["epsilon"])[0]
    out = benchmark(B.sgd_update, w, grad, 1e-3)
    assert out.shape == w.shape and np.isfinite(out).all()
