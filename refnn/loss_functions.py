"""Keras's function forms of the losses: per-sample values (n,), as keras.losses.<name>(y_true,
y_pred) returns them; and the look-up of a loss by name or config. refnn.losses re-exports
them."""
from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import choice
from .losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss, MeanSquaredError,
                     SparseCategoricalCrossentropy)


def mean_squared_error(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """Per-sample mean squared error, (n,) (keras.losses.mean_squared_error)."""
    return MeanSquaredError().per_sample(y_true, y_pred)


def huber(y_true: ArrayLike, y_pred: ArrayLike, delta: float = 1.0) -> NDArray[np.float64]:
    """Per-sample Huber loss, (n,) (keras.losses.huber)."""
    return Huber(delta).per_sample(y_true, y_pred)


def binary_crossentropy(y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False,
                        label_smoothing: float = 0.0) -> NDArray[np.float64]:
    """Per-sample binary cross-entropy, (n,) (keras.losses.binary_crossentropy)."""
    return BinaryCrossentropy(from_logits, label_smoothing).per_sample(y_true, y_pred)


def categorical_crossentropy(y_true: ArrayLike, y_pred: ArrayLike, from_logits: bool = False,
                             label_smoothing: float = 0.0) -> NDArray[np.float64]:
    """Per-sample categorical cross-entropy, (n,) (keras.losses.categorical_crossentropy)."""
    return CategoricalCrossentropy(from_logits, label_smoothing).per_sample(y_true, y_pred)


def sparse_categorical_crossentropy(y_true: ArrayLike, y_pred: ArrayLike,
                                    from_logits: bool = False) -> NDArray[np.float64]:
    """Per-sample categorical cross-entropy with class indices y_true, (n,)
    (keras.losses.sparse_categorical_crossentropy)."""
    return SparseCategoricalCrossentropy(from_logits).per_sample(y_true, y_pred)


_CLASSES = (MeanSquaredError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_BY_NAME: dict[str, type[Loss]] = {str(cls.name): cls for cls in _CLASSES}
_BY_NAME.update({cls.__name__: cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError,
                 "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})


def get(identifier: str | Loss | type[Loss] | dict[str, Any]) -> Loss:
    """A Loss from a name or alias ("mse", "huber", "CategoricalCrossentropy", ...), a Loss
    class, a get_config() dict, or a Loss instance (returned as it is)."""
    if isinstance(identifier, Loss):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Loss) and identifier is not Loss:
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"loss must be a name, a Loss or a config dict, got "
                        f"{type(identifier).__name__} {identifier!r}")
    return _BY_NAME[choice("loss", identifier, _BY_NAME)]()


def deserialize(config: dict[str, Any]) -> Loss:
    """The Loss a get_config() dict describes: {"name": "huber", "delta": 1.0} -> Huber(1.0)."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict such as {{'name': 'huber', 'delta': 1.0}}, "
                        f"got {type(config).__name__}")
    if "name" not in config:
        raise ValueError(f"config must have a 'name' key, got keys {sorted(config)}")
    cls = _BY_NAME[choice("loss", config["name"], _BY_NAME)]
    return cls.from_config({**config, "name": cls.name})
