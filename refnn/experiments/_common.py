"""What several experiments of the theory lab share: their data and the networks they build alike.

    fashion_mnist_subset   random Fashion-MNIST subsets, or a generated stand-in when it is absent
                           (double_descent, lottery_ticket, flatness)
    average_pool           28x28 images -> coarser images, the mean of each block
                           (double_descent 4x4, flatness 2x2)
    classifier             784 or 196 inputs -> relu hidden layers -> 10-way softmax
                           (lottery_ticket, flatness)
    deep_network           `depth` Dense layers, plain or with residual blocks, sigmoid output
                           (depth, vanishing_gradients)
    with_initializer       a network's hidden kernels drawn anew, e.g. He's (depth,
                           vanishing_gradients)
    log_log_slope          the slope of a power law y ~ C x^slope (approximation_rate,
                           overparameterization)
The experiments' tables depend on these functions operation for operation (the order of the
random draws, of the layers, of the sums): a change here changes the numbers of every user.
"""
from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import datasets
from ..layers import Dense, Layer, Residual
from ..layers.base import INITIALIZERS
from ..model import Sequential

IMAGE_SIDE = 28                 # Fashion-MNIST: 28x28 images, flattened to 784 inputs
N_CLASSES = 10


# ---------------------------------------------------------------- data
@functools.lru_cache(maxsize=1)
def _fashion_mnist_uint8() -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """Fashion-MNIST's (x, y, x_test, y_test) as stored (uint8 pixels, (n, 784)), read once and
    made read-only; FileNotFoundError when it is not installed."""
    (x, y), (x_test, y_test) = datasets.fashion_mnist(normalize=False, flatten=True)
    for a in (x, y, x_test, y_test):
        a.setflags(write=False)
    return x, y, x_test, y_test


def generated_images(n: int, seed: int, n_classes: int = N_CLASSES, latent: int = 16,
                     noise: float = 1.0) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A stand-in for Fashion-MNIST: (n, 784) inputs in (0, 1) and labels 0..n_classes-1.
    Class k draws a latent point z = mu_k + noise N(0, I) (the prototypes mu_k ~ N(0, I) are fixed),
    and the 784 inputs are sigmoid(A z) for one fixed random A: overlapping classes on a
    16-dimensional manifold."""
    structure = np.random.default_rng(12345)               # the same classes for every seed
    mu = structure.normal(size=(n_classes, latent))
    A = structure.normal(size=(latent, 784)) / np.sqrt(latent)
    rng = np.random.default_rng([seed, 7])
    y = rng.integers(0, n_classes, n)
    z = mu[y] + noise * rng.normal(size=(n, latent))
    return 1.0 / (1.0 + np.exp(-(z @ A))), y


def fashion_mnist_subset(n_train: int, n_test: int, seed: int
                         ) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[Any],
                                    NDArray[np.int64], str]:
    """(x_train, y_train, x_test, y_test, description): random subsets (fixed by seed) of
    Fashion-MNIST as (n, 784) float64 in [0, 1] with int64 labels, drawn from its training and
    test splits; a generated stand-in (see generated_images) when Fashion-MNIST is absent."""
    rng = np.random.default_rng([seed, 3])
    try:
        x, y, x_test, y_test = _fashion_mnist_uint8()
    except FileNotFoundError:
        x, y = generated_images(n_train, seed)
        x_test, y_test = generated_images(n_test, seed + 10 ** 6)
        return (x, y.astype(np.int64), x_test, y_test.astype(np.int64),
                "generated (Fashion-MNIST not installed): 10 Gaussian classes on a 16-dim "
                "manifold in 784 dims")
    i = rng.choice(x.shape[0], n_train, replace=False)
    j = rng.choice(x_test.shape[0], n_test, replace=False)
    return (x[i] / 255.0, y[i].astype(np.int64), x_test[j] / 255.0, y_test[j].astype(np.int64),
            f"Fashion-MNIST: {n_train} training images, {n_test} test images")


def average_pool(x: NDArray[Any], block: int) -> NDArray[Any]:
    """(n, 784) 28x28 images -> (n, (28 / block)^2): the mean of each block x block square
    (block 4: 7x7 images, d = 49; block 2: 14x14 images, d = 196)."""
    if IMAGE_SIDE % block:
        raise ValueError(f"block must divide {IMAGE_SIDE}, got {block}")
    side = IMAGE_SIDE // block
    return x.reshape(-1, side, block, side, block).mean(axis=(2, 4)).reshape(-1, side * side)


# ---------------------------------------------------------------- networks
def classifier(n_inputs: int, hidden: Sequence[int], seed: int) -> Sequential:
    """n_inputs -> hidden[0] -> hidden[1] ... (relu) -> 10 (softmax), Keras's default
    initialisation, float32."""
    layers = [Dense(hidden[0], activation="relu", input_shape=(n_inputs,))]
    layers += [Dense(h, activation="relu") for h in hidden[1:]]
    layers.append(Dense(N_CLASSES, activation="softmax"))
    return Sequential(layers, seed=seed)


def deep_network(n_inputs: int, depth: int, width: int, activation: str, residual: bool = False,
                 batch_norm: bool = False, seed: int = 0) -> Sequential:
    """`depth` Dense layers in all, the 1-unit sigmoid output included, float64:
        plain      Dense(width, f) x (depth - 1)
        residual   Dense(width, f), then (depth - 2) // 2 blocks Residual([Dense(width, f),
                   Dense(width)]), and one more Dense(width, f) when depth is odd
    (the same layers and parameters either way), then Dense(1, sigmoid). batch_norm puts batch
    normalisation between h and f in every Dense(width, f)."""
    def hidden(**kw: Any) -> Dense:
        return Dense(width, activation=activation, batch_norm=batch_norm, **kw)
    layers: list[Layer]
    if not residual:
        layers = [hidden(input_shape=(n_inputs,)) if i == 0 else hidden()
                  for i in range(depth - 1)]
    else:
        layers = [hidden(input_shape=(n_inputs,))]
        blocks, odd = divmod(depth - 2, 2)
        layers += [Residual([hidden(), Dense(width)]) for _ in range(blocks)]
        if odd:
            layers.append(hidden())
    layers.append(Dense(1, activation="sigmoid"))
    return Sequential(layers, seed=seed, dtype="float64")


def with_initializer(model: Sequential, initializer: str, seed: int) -> Sequential:
    """`model` with every kernel but the output layer's drawn anew from `initializer` (a Keras
    name, e.g. "he_normal": N(0, 2 / fan_in) truncated, He et al. 2015), from the input side
    on, with a generator of its own ([seed, 11]); biases and batch-norm weights are kept."""
    rng = np.random.default_rng([seed, 11])
    names, weights = model.weight_names(), model.get_weights()
    kernels = [i for i, name in enumerate(names) if name.endswith("/kernel")]
    for i in kernels[:-1]:
        weights[i] = INITIALIZERS[initializer](rng, weights[i].shape)
    model.set_weights(weights)
    return model


# ---------------------------------------------------------------- measurements
def log_log_slope(x: ArrayLike, y: ArrayLike) -> float:
    """The least-squares slope of log y against log x: the exponent of y ~ C x^slope."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.asarray(y, float)), 1)[0])
