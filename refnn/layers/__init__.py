"""Layers of the Keras-style API: Flatten, Dense, Activation, Dropout, BatchNormalization, Residual.

Each layer follows Keras's shape: `__init__` validates and stores the configuration, `build`
makes the weights for an input shape, `forward` computes and remembers what `backward` needs,
`backward` takes dE/dg (the gradient of the loss with respect to the layer's output) and
returns dE/dg_prev, leaving the gradients of the layer's weights in `self.grads`.

Freezing (Keras's `layer.trainable = False`) changes which weights the optimizer updates, not
the derivatives: a frozen layer still passes dE/dg_prev back to the layers before it, and its
weights move from `trainable_weights` to `non_trainable_weights` without changing their place
in `weights`. A frozen batch normalisation runs in inference mode, as in Keras 3.

Notation: g_prev the layer's input, h weighted sum, g = f(h) output, epsilon = dE/dh.
All arrays are batch-major, C-contiguous, in the model's dtype; matrix products and
activations run in the compiled kernels through refnn.kernels.
"""
from __future__ import annotations

from typing import Any

from .base import INITIALIZERS, Context, Layer, count_params_for, leaves, serialize, walk
from .core import Activation, Dense, Dropout, Flatten
from .normalization import BatchNormalization
from .residual import Residual

__all__ = ["Flatten", "Dense", "Activation", "Dropout", "BatchNormalization", "Residual",
           "Layer", "Context", "INITIALIZERS", "serialize", "deserialize", "walk", "leaves",
           "count_params_for"]

LAYER_CLASSES = {cls.__name__: cls for cls in
                 (Flatten, Dense, Activation, Dropout, BatchNormalization, Residual)}


def deserialize(spec: dict[str, Any]) -> Layer:
    """A layer from {"class_name": ..., "config": {...}}; only refnn's own layer classes."""
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise ValueError(f"a layer spec must be a dict with class_name and config, got {spec!r}")
    cls = LAYER_CLASSES.get(spec["class_name"])
    if cls is None:
        raise ValueError(f"unknown layer class {spec['class_name']!r}; "
                         f"valid: {', '.join(sorted(LAYER_CLASSES))}")
    config = dict(spec["config"])
    if not isinstance(config, dict):
        raise ValueError("a layer config must be a dict")
    if "input_shape" in config and config["input_shape"] is not None:
        config["input_shape"] = tuple(config["input_shape"])
    if cls is Residual:
        config["layers"] = [deserialize(s) for s in config["layers"]]
    return cls(**config)

