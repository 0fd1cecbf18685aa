"""Flatten, Dense, Activation and Dropout.

Dense and Activation take their activation by name from refnn.activations, the one table.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import activations, kernels, regularizers
from .._validate import choice, positive_int
from .._validate import rate as rate_check
from .base import INITIALIZERS, Context, Layer
from .normalization import BatchNormalization


def _activation_name(activation):
    """None means linear, as in Keras."""
    return "linear" if activation is None else choice("activation", activation,
                                                       activations.LAYER_NAMES)


def _activation_backward(activation, g, dE_dg):
    """epsilon = dE/dh from dE/dg through g = f(h):
    elementwise f: epsilon = dE/dg * f'(h), f' written from g;
    softmax: epsilon_k = g_k (dE/dg_k - sum_j dE/dg_j g_j)
             (the softmax Jacobian applied to dE/dg)."""
    if activation == "linear":
        return dE_dg
    if activation == "softmax":
        return g * (dE_dg - np.sum(dE_dg * g, axis=1, keepdims=True))
    return dE_dg * kernels.activation_derivative(g, activation)


# --------------------------------------------------------------------------- layers
class Flatten(Layer):
    """(n, d1, d2, ...) -> (n, d1 * d2 * ...)"""

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        size = math.prod(int(d) for d in input_shape)      # exact: np.prod wraps around
        if size > np.iinfo(np.intp).max:
            raise ValueError(f"Flatten: input_shape {tuple(input_shape)} has {size} entries "
                             f"per sample, more than an array can index ({np.iinfo(np.intp).max})")
        return (size,)

    def forward(self, g_prev: NDArray[Any], ctx: Context) -> NDArray[Any]:
        self._shape = g_prev.shape
        return g_prev.reshape(g_prev.shape[0], -1)

    def backward(self, dE_dg: NDArray[Any]) -> NDArray[Any]:
        self.grads = []
        return dE_dg.reshape(self._shape)


class Dense(Layer):
    """Fully connected layer.

    forward:   h = g_prev @ W + b,   g = f(h)
    backward:  epsilon = dE/dg * f'(h)
               (f' written from g: sigmoid g(1-g), tanh 1-g², relu [h>0])
               dW = g_prev.T @ epsilon,  db = sum(epsilon),  dE/dg_prev = epsilon @ W.T

    With batch_norm=True the weighted sum is normalised before the activation (the lecture's
    second placement): h = BN(g_prev @ W + b), g = f(h).

    Shape: input (n, fan_in), output (n, units); kernel W (fan_in, units), bias b (units,).
    """

    W: NDArray[Any]               # (fan_in, units), made by build (None before)
    b: NDArray[Any]               # (units,), made by build (None before)

    def __init__(self, units: int, activation: str | None = None, use_bias: bool = True,
                 kernel_initializer: str = "glorot_uniform", bias_initializer: str = "zeros",
                 batch_norm: bool = False,
                 kernel_regularizer: regularizers.Regularizer | str | None = None,
                 bias_regularizer: regularizers.Regularizer | str | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)    # refnn/regularizers.py
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.units = positive_int("units", units)
        self.activation = _activation_name(activation)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = choice("kernel_initializer", kernel_initializer, INITIALIZERS)
        self.bias_initializer = choice("bias_initializer", bias_initializer, INITIALIZERS)
        if not isinstance(batch_norm, bool):
            raise TypeError(f"batch_norm must be True or False, got {batch_norm!r}")
        self.batch_norm = BatchNormalization(trainable=self.trainable) if batch_norm else None
        self.W = self.b = None        # type: ignore[assignment]  # until build
        self.kernel_mask: NDArray[Any] | None = None

    @property
    def output_activation(self) -> str | None:
        return self.activation

    def compute_output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects inputs of shape (n, features), got per-sample shape "
                             f"{input_shape}; put a Flatten layer before it")
        return (self.units,)

    def count_params_for(self, input_shape: Sequence[int]) -> int:
        """W (fan_in, units), b (units,) if use_bias, and the batch norm's numbers"""
        self.compute_output_shape(input_shape)          # refuses a shape Dense cannot take
        own = int(input_shape[0]) * self.units + (self.units if self.use_bias else 0)
        return own + (self.batch_norm.count_params_for((self.units,)) if self.batch_norm else 0)

    def build(self, input_shape: Sequence[int], dtype: DTypeLike,
              rng: np.random.Generator) -> tuple[int, ...]:
        output_shape = super().build(input_shape, dtype, rng)
        fan_in = input_shape[0]
        W = INITIALIZERS[self.kernel_initializer](rng, (fan_in, self.units))
        # on a cache line, as the trainer's and the optimizer's arrays (kernels.aligned_empty)
        self.W = kernels.aligned_copy(W, self.dtype)
        self.b = kernels.aligned_copy(INITIALIZERS[self.bias_initializer](rng, (self.units,)),
                                      self.dtype)
        if not self.use_bias:
            self.b[:] = 0                     # a constant zero bias: h = g_prev @ W
        if self.batch_norm is not None:
            self.batch_norm.build((self.units,), dtype, rng)
        return output_shape

    def _sublayers(self) -> list[Layer]:
        return [self.batch_norm] if self.batch_norm is not None else []

    def _own_parameters(self) -> list[NDArray[Any]]:
        return [self.W, self.b] if self.use_bias else [self.W]

    def _parameters(self) -> list[NDArray[Any]]:
        return self._own_parameters() + (self.batch_norm._parameters() if self.batch_norm
                                          else [])

    def _state(self) -> list[NDArray[Any]]:
        return self.batch_norm._state() if self.batch_norm else []

    def _own_state(self) -> list[NDArray[Any]]:
        return []

    def weight_names(self) -> list[str]:
        own = ["kernel", "bias"] if self.use_bias else ["kernel"]
        return own + (self.batch_norm.weight_names() if self.batch_norm else [])

    def forward(self, g_prev: NDArray[Any], ctx: Context) -> NDArray[Any]:
        self.g_prev = g_prev                                         # (n, fan_in)
        h = kernels.dense_forward(g_prev, self.W, self.b)            # h = g_prev W + b
        if self.batch_norm is not None:
            h = self.batch_norm.forward(h, ctx)
        self.h = h                                                   # (n, units)
        self.g = kernels.activation_forward(h, self.activation)      # g = f(h)
        return self.g

    def backward(self, dE_dg: NDArray[Any]) -> NDArray[Any]:
        return self.backward_from_h(_activation_backward(self.activation, self.g, dE_dg))

    def backward_from_h(self, epsilon: NDArray[Any]) -> NDArray[Any]:
        """From epsilon = dE/dh (given directly by a fused loss): the weight gradients and
        dE/dg_prev."""
        bn_grads = []
        if self.batch_norm is not None:
            epsilon = self.batch_norm.backward(epsilon)
            bn_grads = self.batch_norm.grads
        dW, db, dg_prev = kernels.dense_backward(self.g_prev, self.W, epsilon)
        if self.kernel_regularizer is not None:         # d/dW of the penalty added to the loss
            dW += self.kernel_regularizer.gradient(self.W)
        if self.bias_regularizer is not None and self.use_bias:
            db += self.bias_regularizer.gradient(self.b)
        if self.kernel_mask is not None:
            dW *= self.kernel_mask        # a pruned weight gets no gradient: it stays 0
        self.grads = ([dW, db] if self.use_bias else [dW]) + bn_grads
        return dg_prev

    def regularization(self) -> float:
        """The penalties of this layer's regularizers (0.0 without any), added to the loss."""
        total = 0.0
        if self.kernel_regularizer is not None:
            total += self.kernel_regularizer(self.W)
        if self.bias_regularizer is not None and self.use_bias:
            total += self.bias_regularizer(self.b)
        return total

    def set_kernel_mask(self, mask: ArrayLike | None) -> None:
        """Prune: W_ij = 0 and kept at 0 through training wherever mask_ij is False.

        The mask zeroes the kernel now and every kernel gradient after; a weight that is 0
        with gradient 0 stays exactly 0 under SGD, momentum, Adagrad, RMSprop and Adam (their
        updates are multiples of the gradient and of slot values that stay 0). mask=None
        removes the mask (the pruned weights stay 0 until trained)."""
        if not self.built:
            raise ValueError("set_kernel_mask: the layer has no kernel yet; build the model first")
        if mask is None:
            self.kernel_mask = None
            return
        mask = np.asarray(mask)
        if mask.shape != self.W.shape:
            raise ValueError(f"mask must have the kernel's shape {self.W.shape}, got {mask.shape}")
        if mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError("mask must hold only 0/1 or False/True")
        self.kernel_mask = mask.astype(self.dtype)
        self.W *= self.kernel_mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "batch_norm": self.batch_norm is not None,
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}

    def __repr__(self) -> str:
        return f"Dense({self.units}, activation={self.activation!r})"


class Activation(Layer):
    """g = f(h) on its own: sigmoid, tanh, relu, softmax (over the last axis), linear."""

    def __init__(self, activation: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _activation_name(activation)

    @property
    def output_activation(self) -> str | None:
        return self.activation

    def forward(self, g_prev: NDArray[Any], ctx: Context) -> NDArray[Any]:
        self.h = g_prev.reshape(-1, g_prev.shape[-1])
        self.g = kernels.activation_forward(self.h, self.activation)
        return self.g.reshape(g_prev.shape)

    def backward(self, dE_dg: NDArray[Any]) -> NDArray[Any]:
        shape = dE_dg.shape
        epsilon = _activation_backward(self.activation, self.g, dE_dg.reshape(self.g.shape))
        return self.backward_from_h(epsilon).reshape(shape)

    def backward_from_h(self, epsilon: NDArray[Any]) -> NDArray[Any]:
        self.grads = []
        return epsilon

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


class Dropout(Layer):
    """Drops each input with probability `rate` while training.

    mode="inverted" (Keras, default): training g = g_prev * mask / (1 - rate); inference g = g_prev.
    mode="scale_at_inference" (the textbook's): training g = g_prev * mask; inference
    g = g_prev * (1 - rate), i.e. the next layer's weights scaled by the keep ratio.
    Both give the same expected output; the mask is drawn from the model's seeded generator.
    """

    MODES = ("inverted", "scale_at_inference")

    def __init__(self, rate: float, mode: str = "inverted", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rate = rate_check("rate", rate)
        self.mode = choice("mode", mode, self.MODES)

    def forward(self, g_prev: NDArray[Any], ctx: Context) -> NDArray[Any]:
        keep = 1 - self.rate
        if not ctx.training or self.rate == 0:
            self.mask = None
            return g_prev * keep if self.mode == "scale_at_inference" else g_prev
        assert ctx.rng is not None                  # a training pass brings the model's generator
        self.mask = (ctx.rng.random(g_prev.shape) >= self.rate).astype(g_prev.dtype)
        if self.mode == "inverted":
            self.mask /= keep
        return g_prev * self.mask

    def backward(self, dE_dg: NDArray[Any]) -> NDArray[Any]:
        self.grads = []
        if self.mask is None:
            return dE_dg * (1 - self.rate) if self.mode == "scale_at_inference" else dE_dg
        return dE_dg * self.mask

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "mode": self.mode}


