"""Sample and class weights, as Keras 3 takes them (keras/src/losses/loss.py,
keras/src/trainers/data_adapters/data_adapter_utils.py, keras/src/metrics/reduction_metrics.py).

A sample weight w_i scales the loss of sample i. With Keras's reduction "sum_over_batch_size"
the loss is divided by the number of samples n, not by the sum of the weights:

    L = 1/n sum_i w_i l_i                 (w_i = 1 for every i: the plain mean)

so its gradient scales each sample's output error term, epsilon_i <- w_i epsilon_i, before the
usual 1/n. A weighted metric (compile(weighted_metrics=...)) is a weighted mean instead, as
Keras's Mean metrics keep it: m = sum_i w_i m_i / sum_i w_i.

class_weight {class index: weight} gives sample i the weight of its class c_i: the class index
itself for sparse targets, argmax_k y_ik for one-hot targets, round(y_i) for a one-unit output;
a class not in the dict weighs 1 (Keras's class_weight_to_sample_weights). refnn multiplies it
with sample_weight when both are given (Keras 3 refuses the pair; docs/keras.md).
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from ._validate import as_array, positive_number

__all__ = ["sample_weights", "class_weights", "fit_weights", "weighted_sum"]

if TYPE_CHECKING:                     # refnn.losses imports this module
    from .losses import Loss


def sample_weights(sample_weight: ArrayLike | None, n: int, name: str = "sample_weight",
                   scalar: bool = True) -> NDArray[np.float64] | None:
    """None, or the weights w (n,) float64 of `sample_weight`: (n,) or (n, 1), or one number for
    every sample (scalar=True, as a loss takes it); finite and >= 0."""
    if sample_weight is None:
        return None
    if scalar and np.ndim(sample_weight) == 0 and not isinstance(sample_weight, np.ndarray):
        return np.full(n, positive_number(name, sample_weight, allow_zero=True))
    w = as_array(name, sample_weight, ndim=(0, 1, 2) if scalar else (1, 2), dtype=np.float64)
    if w.ndim == 0:
        w = np.full(n, float(w))
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (n,):
        also = ", or one number" if scalar else ""
        raise ValueError(f"{name} must have one weight per sample, shape ({n},) or ({n}, 1)"
                         f"{also}; got shape {w.shape}")
    negative = w < 0
    if negative.any():
        i = int(np.argmax(negative))
        raise ValueError(f"{name} must be >= 0, got {w[i]:g} at index {i}")
    return w


def _class_weight_table(class_weight: object, loss: Loss, k: int) -> dict[int, float]:
    """class_weight checked: {class index (int >= 0, a class of the output): weight >= 0}."""
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be a dict {{class index: weight}} such as "
                        f"{{0: 1.0, 1: 5.0}}, got {type(class_weight).__name__}")
    # the classes an output of k units has: k of them; a one-unit output with targets in
    # [0, 1] has two (0 and 1); a one-unit regression output any integer >= 0 (Keras rounds y)
    n_classes = k if k > 1 else (2 if loss.unit_interval else None)
    table: dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (numbers.Integral, np.integer)):
            raise TypeError(f"class_weight keys must be class indices (integers), got "
                            f"{type(key).__name__} {key!r}")
        index = int(key)
        if index < 0 or (n_classes is not None and index >= n_classes):
            classes = f"0 to {n_classes - 1}" if n_classes else "integers >= 0"
            raise ValueError(f"class_weight has the key {key}, but the classes of an output of "
                             f"{k} unit{'s' * (k > 1)} with {loss.name} are {classes}")
        table[index] = positive_number(f"class_weight[{key}]", value, allow_zero=True)
    return table


def classes(y: NDArray[Any], loss: Loss) -> NDArray[np.intp]:
    """The class index of each sample from checked targets y (Loss.targets): y itself for
    sparse targets, argmax over the outputs of one-hot rows, round(y) for one output."""
    if loss.sparse:
        return y.astype(np.intp)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    return np.round(y.reshape(-1)).astype(np.intp)


def class_weights(class_weight: Mapping[int, float] | None, y: NDArray[Any], loss: Loss,
                  k: int) -> NDArray[np.float64] | None:
    """None, or w_i = class_weight[c_i] (1 for a class not in it), (n,) float64, for checked
    targets y of a model output of k units."""
    if class_weight is None:
        return None
    table = _class_weight_table(class_weight, loss, k)
    c = classes(y, loss)
    w = np.ones(c.shape[0])
    for cls, weight in table.items():
        w[c == cls] = weight
    return w


def fit_weights(sample_weight: ArrayLike | None, class_weight: Mapping[int, float] | None,
                y: NDArray[Any], loss: Loss, k: int, dtype: DTypeLike) -> NDArray[Any] | None:
    """The weight of each training sample, sample_weight times its class's weight, in the
    model's dtype; None when neither is given (every weight 1)."""
    n = y.shape[0]
    w = sample_weights(sample_weight, n, scalar=False)
    cw = class_weights(class_weight, y, loss, k)
    if cw is not None:
        w = cw if w is None else w * cw
    return None if w is None else np.ascontiguousarray(w, dtype=dtype)


def weighted_sum(values: ArrayLike, w: ArrayLike | None) -> float:
    """sum_i w_i values_i in float64 (w None: every weight 1)."""
    values = np.asarray(values, dtype=np.float64)
    if w is None:
        return float(np.sum(values))
    return float(np.dot(values, np.asarray(w, dtype=np.float64)))
