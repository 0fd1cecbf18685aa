"""Residual: a skip connection around a block of layers."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .base import Context, Layer, count_params_for, serialize


class Residual(Layer):
    """A skip connection around a block of layers:  h' = h + F(h).

    backward:  dE/dh = dE/dh' + dE/dh' through F   (the identity path carries the gradient
    unchanged, which is why deep residual networks keep learning).
    The block must give back the shape it receives.
    """

    def __init__(self, layers: Layer | Sequence[Layer], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(layers, Layer):
            layers = [layers]
        if not isinstance(layers, (list, tuple)) or not layers or \
                not all(isinstance(l, Layer) for l in layers):
            got = (type(layers).__name__ if not isinstance(layers, (list, tuple)) else
                   "an empty list" if not layers else
                   "a list holding " + ", ".join(sorted({type(l).__name__ for l in layers})))
            raise TypeError(f"Residual takes a layer or a non-empty list of layers, got {got}")
        self.layers = list(layers)
        if not self.trainable:                 # as the setter: a frozen block freezes its layers
            for layer in self.layers:
                layer.trainable = False

    is_block = True

    def _sublayers(self) -> list[Layer]:
        return self.layers

    def count_params_for(self, input_shape: Sequence[int]) -> int:
        return count_params_for(self.layers, input_shape)

    def build(self, input_shape: Sequence[int], dtype: DTypeLike,
              rng: np.random.Generator) -> tuple[int, ...]:
        output_shape = super().build(input_shape, dtype, rng)
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.build(shape, dtype, rng)
        if tuple(shape) != tuple(input_shape):
            raise ValueError(f"a Residual block must keep the shape: it receives "
                             f"{tuple(input_shape)} but its layers give {tuple(shape)}")
        return output_shape

    @property
    def weights(self) -> list[NDArray[Any]]:
        return [w for l in self.layers for w in l.weights]

    def weight_names(self) -> list[str]:
        return [f"{i}/{n}" for i, l in enumerate(self.layers) for n in l.weight_names()]

    def forward(self, g_prev: NDArray[Any], ctx: Context) -> NDArray[Any]:
        out = g_prev
        for layer in self.layers:
            out = layer.forward(out, ctx)
        return g_prev + out                                       # h' = h + F(h)

    def backward(self, dE_dg: NDArray[Any]) -> NDArray[Any]:
        d = dE_dg
        for layer in reversed(self.layers):
            d = layer.backward(d)
        self.grads = [gr for l in self.layers for gr in l.aligned_grads()]
        return dE_dg + d

    def aligned_grads(self) -> list[NDArray[Any]]:
        return list(self.grads)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "layers": [serialize(l) for l in self.layers]}

    def set_weight_values(self, values: Sequence[NDArray[Any]]) -> None:
        i = 0
        for layer in self.layers:
            k = len(layer.weights)
            layer.set_weight_values(values[i:i + k])
            i += k


