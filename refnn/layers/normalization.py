"""BatchNormalization: normalise each feature over the batch, then scale and shift."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._validate import positive_number
from .base import Context, Layer


class BatchNormalization(Layer):
    """Normalises each feature over the batch, then scales and shifts.

    training:  mu = mean(x),  var = mean((x - mu)^2),  xhat = (x - mu) / sqrt(var + epsilon_bn),
               y = gamma xhat + beta;  moving_mean <- momentum moving_mean + (1 - momentum) mu
               (and moving_variance likewise with var)
    inference: y = gamma (x - moving_mean) / sqrt(moving_variance + epsilon_bn) + beta
    backward (training):  dgamma = sum(dy xhat),  dbeta = sum(dy),
               dx = gamma / (n sqrt(var + epsilon_bn)) (n dy - sum(dy) - xhat sum(dy xhat))
    Keras defaults: momentum 0.99, epsilon 1e-3 (the Keras keyword `epsilon`; here `bn_epsilon`
    inside, since epsilon names the error term).
    trainable=False (frozen) runs in inference mode also in fit, as in Keras 3: gamma and beta
    stay, the moving statistics normalise and are not updated.
    """

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.momentum = positive_number("momentum", momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.bn_epsilon = positive_number("epsilon", epsilon)
        for arg, v in (("center", center), ("scale", scale)):
            if not isinstance(v, bool):
                raise TypeError(f"{arg} must be True or False, got {v!r}")
        self.center, self.scale = center, scale

    def count_params_for(self, input_shape: Sequence[int]) -> int:
        """gamma, beta, moving_mean, moving_variance: d each"""
        return 4 * int(input_shape[-1])

    def build(self, input_shape: Sequence[int], dtype: DTypeLike,
              rng: np.random.Generator) -> tuple[int, ...]:
        output_shape = super().build(input_shape, dtype, rng)
        d = input_shape[-1]
        self.gamma = np.ones(d, self.dtype)
        self.beta = np.zeros(d, self.dtype)
        self.moving_mean = np.zeros(d, self.dtype)
        self.moving_variance = np.ones(d, self.dtype)
        return output_shape

    def _parameters(self) -> list[NDArray[Any]]:
        return ([self.gamma] if self.scale else []) + ([self.beta] if self.center else [])

    def _state(self) -> list[NDArray[Any]]:
        return [self.moving_mean, self.moving_variance]

    def weight_names(self) -> list[str]:
        return ((["gamma"] if self.scale else []) + (["beta"] if self.center else [])
                + ["moving_mean", "moving_variance"])

    def forward(self, x: NDArray[Any], ctx: Context) -> NDArray[Any]:
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        # a frozen layer runs in inference mode also while training (Keras 3): the moving
        # statistics normalise, and nothing updates them
        batch_statistics = ctx.training and not ctx.is_frozen(self)
        if batch_statistics:
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            if ctx.update_state:
                m = self.momentum
                self.moving_mean[...] = m * self.moving_mean + (1 - m) * mu
                self.moving_variance[...] = m * self.moving_variance + (1 - m) * var
        else:
            mu, var = self.moving_mean, self.moving_variance
        self.training = batch_statistics            # what backward differentiates through
        self.inv_std = (1 / np.sqrt(var + self.bn_epsilon)).astype(x.dtype)
        self.xhat = (x - mu) * self.inv_std
        return np.ascontiguousarray(self.gamma * self.xhat + self.beta).reshape(shape)

    def backward(self, dy: NDArray[Any]) -> NDArray[Any]:
        shape = dy.shape
        dy = dy.reshape(-1, shape[-1])
        dgamma = np.sum(dy * self.xhat, axis=0)
        dbeta = np.sum(dy, axis=0)
        self.grads = ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])
        if not self.training:                       # the statistics are constants
            return np.ascontiguousarray(dy * (self.gamma * self.inv_std)).reshape(shape)
        n = dy.shape[0]
        dx = (self.gamma * self.inv_std / n) * (n * dy - dbeta - self.xhat * dgamma)
        return np.ascontiguousarray(dx).reshape(shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.bn_epsilon,
                "center": self.center, "scale": self.scale}


