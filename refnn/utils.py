"""Small helpers for preparing data: one-hot targets and train/validation splits.

to_categorical(y, num_classes=None, dtype="float64")  class indices (n,) or (n, 1) -> one-hot (n, k)
split(X, y, fraction=0.2, seed=0, shuffle=True)       ((X_a, y_a), (X_b, y_b)), shuffled; b holds
                                                      `fraction` of the samples
holdout_last(X, y, fraction)                          b = the last `fraction`, unshuffled: Keras's
                                                      fit(validation_split=)
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._validate import positive_int, to_ndarray

__all__ = ["to_categorical", "split", "holdout_last"]

# ((X_a, y_a), (X_b, y_b)): what split and holdout_last return
Split = tuple[tuple[NDArray[Any], NDArray[Any]], tuple[NDArray[Any], NDArray[Any]]]


def to_categorical(y: ArrayLike, num_classes: int | None = None,
                   dtype: DTypeLike = "float64") -> NDArray[Any]:
    """One-hot encoding of class indices: Y[i, y[i]] = 1, every other entry 0 (as Keras).

    y            class indices 0 .. num_classes-1, shape (n,) or (n, 1); integers, bools or
                 integer-valued floats (3.0 is class 3; 3.5 is an error)
    num_classes  k; None infers max(y) + 1
    dtype        of the result (any real NumPy dtype; float64 by default, as Keras 3 returns
                 for NumPy input)
    Returns an array of shape (n, num_classes).
    """
    arr = _as_labels(y)
    if num_classes is None:
        if arr.size == 0:
            raise ValueError("y is empty, so num_classes cannot be inferred from it; "
                             "pass num_classes")
        num_classes = int(arr.max()) + 1
    else:
        num_classes = positive_int("num_classes", num_classes)
        if arr.size and arr.max() >= num_classes:
            i = int(np.argmax(arr >= num_classes))
            raise ValueError(f"y must hold class indices 0 to {num_classes - 1} "
                             f"(num_classes={num_classes}), got {arr[i]} at index {i}")
    try:
        out_dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy dtype such as 'float32', got {dtype!r}") from None
    if out_dtype.kind not in "fiub":
        raise TypeError(f"dtype must be a real numeric dtype such as 'float32', "
                        f"got {out_dtype.name!r}")
    Y = np.zeros((arr.shape[0], num_classes), dtype=out_dtype)
    Y[np.arange(arr.shape[0]), arr] = 1
    return Y


def _as_labels(y: ArrayLike) -> NDArray[np.int64]:
    """y as an int64 vector (n,) of non-negative class indices, or an error naming y."""
    arr = to_ndarray("y", y, "class indices")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"y must hold integer class indices, got dtype {arr.dtype.name!r}")
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        hint = " (already one-hot?)" if arr.ndim == 2 else ""
        raise ValueError(f"y must be a class vector of shape (n,) or (n, 1), "
                         f"got shape {arr.shape}{hint}")
    if arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.round(arr))
        if bad.any():
            i = int(np.argmax(bad))
            raise ValueError(f"y must hold integer class indices, got {arr[i]} at index {i}")
    if arr.size and arr.min() < 0:
        i = int(np.argmax(arr < 0))
        raise ValueError(f"y must hold class indices >= 0, got {arr[i]} at index {i}")
    if arr.dtype.kind == "f" and arr.size and arr.max() >= 2 ** 53:
        i = int(np.argmax(arr >= 2 ** 53))
        raise ValueError(f"y holds {arr[i]} at index {i}, too large for a class index")
    return arr.astype(np.int64)


# ---------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------

def _split_args(X: ArrayLike, y: ArrayLike,
                fraction: float) -> tuple[NDArray[Any], NDArray[Any], int]:
    if isinstance(fraction, bool) or not isinstance(fraction, numbers.Real):
        raise TypeError(f"fraction must be a number between 0 and 1, "
                        f"got {type(fraction).__name__} {fraction!r}")
    fraction = float(fraction)
    if not 0.0 < fraction < 1.0:                          # also refuses NaN
        raise ValueError(f"fraction must lie strictly between 0 and 1, got {fraction!r}")
    arrays: list[NDArray[Any]] = []
    for name, a in (("X", X), ("y", y)):
        arr = np.asarray(a)
        if arr.ndim == 0:
            raise ValueError(f"{name} must have a first (sample) axis, got a scalar {arr!r}")
        arrays.append(arr)
    X, y = arrays
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have the same number of samples, "
                         f"got {X.shape[0]} and {y.shape[0]}")
    n = X.shape[0]
    split_at = int(math.floor(n * (1.0 - fraction)))      # Keras's train_validation_split
    if split_at == 0 or split_at == n:
        raise ValueError(f"X holds {n} samples, too few to split off fraction={fraction}: "
                         f"one part would be empty; pass more data or another fraction")
    return X, y, split_at


def holdout_last(X: ArrayLike, y: ArrayLike, fraction: float) -> Split:
    """The last `fraction` of the samples held out, in order, as Keras's fit(validation_split=).

    Returns ((X_a, y_a), (X_b, y_b)) with X_b = X[split_at:], split_at = floor(n (1 - fraction)),
    exactly Keras's sizes. No shuffling: shuffle first if the data is ordered by class.
    The parts are views of X and y (for NumPy inputs).
    """
    X, y, split_at = _split_args(X, y, fraction)
    return (X[:split_at], y[:split_at]), (X[split_at:], y[split_at:])


def split(X: ArrayLike, y: ArrayLike, fraction: float = 0.2, seed: int | None = 0,
          shuffle: bool = True) -> Split:
    """Random split into ((X_a, y_a), (X_b, y_b)), part b holding `fraction` of the samples.

    Part sizes are those of `holdout_last` (b gets n - floor(n (1 - fraction)) samples).
    shuffle=True permutes the samples with numpy.random.default_rng(seed) first (rows of X
    and y stay paired; each part keeps the permuted order); shuffle=False is `holdout_last`.
    seed  a non-negative int, or None for fresh randomness.
    """
    X, y, split_at = _split_args(X, y, fraction)
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True or False, got {type(shuffle).__name__} {shuffle!r}")
    if seed is not None:
        seed = positive_int("seed", seed, allow_zero=True)
    if not shuffle:
        return (X[:split_at], y[:split_at]), (X[split_at:], y[split_at:])
    order = np.random.default_rng(seed).permutation(X.shape[0])
    a, b = order[:split_at], order[split_at:]
    return (X[a], y[a]), (X[b], y[b])
