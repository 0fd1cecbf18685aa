"""The toy 2-D sets of TensorFlow Playground, generated (nothing is downloaded).

Each `name(n_samples, noise, seed) -> (X, y)` with X float64 (n, 2) and y int64 (n,) class
indices, classes as balanced as n allows, rows in a random order fixed by `seed`. `noise`
follows the Playground's slider (0 to 0.5 there, 0 to 50 %).
"""
from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from .._validate import positive_int, positive_number

__all__ = ["spirals", "circles", "xor", "blobs", "TOY_DATASETS"]

# what every generator returns: X float64 (n, 2), y int64 class indices (n,)
Points = tuple[NDArray[np.float64], NDArray[np.int64]]

def _toy_args(n_samples, noise, seed):
    n_samples = positive_int("n_samples", n_samples)
    noise = positive_number("noise", noise, allow_zero=True)
    if seed is not None:
        seed = positive_int("seed", seed, allow_zero=True)
    return n_samples, noise, np.random.default_rng(seed)


def _class_sizes(n_samples, n_classes):
    """n_samples split as evenly as possible: the first n % k classes get one more."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (c < extra) for c in range(n_classes)]


def _shuffled(rng, X, y):
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order])


def spirals(n_samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Points:
    """Two interleaved spirals, 1.75 turns each, radius 0 to 5.

    Class 1 at angle t, class 0 at t + pi: for sample i of the n_c in a class,
        r = 5 i / n_c,   t = 1.75 * 2 pi i / n_c,   x = (r sin t, r cos t) + noise * U(-1, 1)^2
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    X, y = [], []
    for label, delta_t, n in zip((1, 0), (0.0, np.pi), _class_sizes(n_samples, 2)):
        i = np.arange(n)
        r = 5.0 * i / max(n, 1)
        t = 1.75 * 2 * np.pi * i / max(n, 1) + delta_t
        X.append(np.column_stack([r * np.sin(t), r * np.cos(t)])
                 + noise * rng.uniform(-1, 1, size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


def circles(n_samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Points:
    """A disc inside a ring: class 1 uniform in radius [0, 2.5], class 0 in radius [3.5, 5].

    Points are drawn at uniform radius and angle (as the Playground does), then each
    coordinate moves by 5 * noise * U(-1, 1).
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    radius = 5.0
    n_inner, n_ring = _class_sizes(n_samples, 2)
    X, y = [], []
    for label, n, (r_lo, r_hi) in ((1, n_inner, (0.0, 0.5 * radius)),
                                   (0, n_ring, (0.7 * radius, radius))):
        r = rng.uniform(r_lo, r_hi, size=n)
        angle = rng.uniform(0, 2 * np.pi, size=n)
        X.append(np.column_stack([r * np.sin(angle), r * np.cos(angle)])
                 + radius * noise * rng.uniform(-1, 1, size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


def xor(n_samples: int = 500, noise: float = 0.0, seed: int | None = 0) -> Points:
    """Exclusive or of the coordinates' signs: y = 1 where x1 * x2 > 0 (1st and 3rd quadrants).

    Each coordinate is U(0, 5) plus a 0.3 padding away from the axes, with a random sign
    (the second sign chosen to give the class); then it moves by 5 * noise * U(-1, 1).
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    padding = 0.3
    X, y = [], []
    for label, n in zip((1, 0), _class_sizes(n_samples, 2)):
        magnitude = rng.uniform(0, 5, size=(n, 2)) + padding
        sign1 = rng.choice([-1.0, 1.0], size=n)
        sign2 = sign1 if label == 1 else -sign1          # sign product +1 for class 1
        X.append(magnitude * np.column_stack([sign1, sign2])
                 + 5.0 * noise * rng.uniform(-1, 1, size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


def blobs(n_samples: int = 500, noise: float = 0.0, seed: int | None = 0,
          n_classes: int = 2) -> Points:
    """`n_classes` Gaussian blobs centred on a circle of radius 2 sqrt(2).

    Class c is centred at angle pi/4 + 2 pi c / n_classes, so two classes sit at (2, 2) and
    (-2, -2) as in the Playground; the variance per coordinate is 0.5 + 7 * noise (0.5 at
    noise 0, 4 at noise 0.5, the Playground's scale).
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    n_classes = positive_int("n_classes", n_classes)
    std = math.sqrt(0.5 + 7.0 * noise)
    X, y = [], []
    for label, n in enumerate(_class_sizes(n_samples, n_classes)):
        angle = np.pi / 4 + 2 * np.pi * label / n_classes
        centre = 2 * math.sqrt(2) * np.array([np.cos(angle), np.sin(angle)])
        X.append(centre + std * rng.standard_normal(size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


#: the toy 2-D sets by name: name -> generator function
TOY_DATASETS = {"spirals": spirals, "circles": circles, "xor": xor, "blobs": blobs}
