"""The cross-entropies, binary, categorical and sparse categorical, with Keras 3's options
(from_logits, label_smoothing) and their fused gradients from the logits (refnn.losses
documents the formulas)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import kernels
from .._validate import as_array, flag, positive_number
from .base import FloatDType, Loss, _clip_bounds, _first_bad, _one_hot


class _CrossEntropy(Loss):
    """Keras 3's options of the cross-entropies:

    from_logits      the model's outputs are the logits h (a linear output layer): the loss
                     applies the activation itself, exactly, from h (the fused formulas
                     below); fit takes the layer-by-layer step
    label_smoothing  s in [0, 1]: the loss is computed with targets y (1 - s) + s c, c = 1/2
                     for binary, 1/k for categorical cross-entropy (metrics see y itself)
    """
    _config_keys: tuple[str, ...] = ("from_logits", "label_smoothing")
    smoothing_centre: Callable[[int], float] | None = None     # k -> c

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0) -> None:
        self.from_logits = flag("from_logits", from_logits)
        self.label_smoothing = positive_number("label_smoothing", label_smoothing,
                                               allow_zero=True)
        if self.label_smoothing > 1:
            raise ValueError(f"label_smoothing must be in [0, 1], got {label_smoothing}")

    def smooth(self, Y: NDArray[Any]) -> NDArray[Any]:
        s = self.label_smoothing
        if not s:
            return Y
        assert self.smoothing_centre is not None       # each cross-entropy names its c
        return Y * (1 - s) + s * self.smoothing_centre(Y.shape[1])

    def fused(self, activation: str) -> bool:
        return activation == ("linear" if self.from_logits else self.fused_activation)

    def compiled_kind(self, activation: str) -> str | None:
        return None if self.from_logits else super().compiled_kind(activation)

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        if self.from_logits:
            return self.fused_gradient(y, as_array("yhat", yhat, ndim=2, allow_int=False))[0]
        return super().per_sample(y, yhat)

    def gradient(self, y: ArrayLike, yhat: ArrayLike,
                 sample_weight: ArrayLike | None = None) -> NDArray[Any]:
        if self.from_logits:
            yhat = as_array("yhat", yhat, ndim=2, allow_int=False)
            return self.fused_gradient(y, yhat, sample_weight)[1]
        return super().gradient(y, yhat, sample_weight)


class BinaryCrossentropy(_CrossEntropy):
    """l_i = 1/k sum_k -y log p - (1 - y) log(1 - p),  p = clip(yhat, 1e-7, 1 - 1e-7);
    dL/dyhat = (p - y) / (p (1 - p)) / (k n) where the clip is inactive, else 0.

    Fused with sigmoid: from the logits h, l_i = 1/k sum_k max(h, 0) - h y + log(1 + e^-|h|),
    epsilon = (sigmoid(h) - y) / (n k).
    """
    name = "binary_crossentropy"
    fused_activation = "sigmoid"
    compiled_step = "sigmoid_binary_crossentropy"
    unit_interval = True

    @staticmethod
    def smoothing_centre(k: int) -> float:
        return 0.5                                 # c = 1/2

    def _per_sample(self, y: NDArray[Any], yhat: NDArray[Any],
                    dtype: FloatDType = np.float64) -> NDArray[np.float64]:
        lo, hi = _clip_bounds(dtype)
        p = np.clip(yhat, lo, hi)
        return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)), axis=1)

    def _gradient(self, y: NDArray[Any], yhat: NDArray[Any],
                  dtype: FloatDType = np.float64) -> NDArray[Any]:
        n, k = yhat.shape
        lo, hi = _clip_bounds(dtype)
        p = np.clip(yhat, lo, hi)
        unclipped = (yhat >= lo) & (yhat <= hi)        # clip's slope: 1 inside, 0 outside
        # d/dp [-y log p - (1-y) log(1-p)] = -y/p + (1-y)/(1-p) = (p - y) / (p (1 - p))
        return np.where(unclipped, (p - y) / (p * (1 - p)), 0.0) / (k * n)

    def _fused_gradient(self, y: ArrayLike, h: NDArray[Any]
                        ) -> tuple[NDArray[np.float64], NDArray[Any]]:
        y = self.smooth(self.targets(y, h.shape, h.dtype))
        n, k = h.shape
        loss, epsilon = kernels.sigmoid_binary_crossentropy(h, y)   # sum over k; sigmoid(h) - y
        return loss.astype(np.float64) / k, epsilon / (n * k)


class CategoricalCrossentropy(_CrossEntropy):
    """l_i = -sum_k y_k log p_k,  p = clip(q, 1e-7, 1 - 1e-7),  q = yhat / sum_k yhat_k;
    with m_k = [the clip is inactive at q_k] and S = sum_k yhat_k:
    dL/dyhat_j = (-m_j y_j / q_j + sum_k m_k y_k) / (S n)

    (from dl/dq_k = -m_k y_k / q_k and dq_k/dyhat_j = (delta_kj - q_k) / S). For a softmax
    output S = 1 and the normalisation changes nothing but rounding.
    Fused with softmax: from the logits h, l_i = sum_k y_k (logsumexp(h) - h_k),
    epsilon = (softmax(h) - y) / n.
    """
    name = "categorical_crossentropy"
    fused_activation = "softmax"
    compiled_step = "softmax_crossentropy"
    unit_interval = True

    @staticmethod
    def smoothing_centre(k: int) -> float:
        return 1.0 / k                             # c = 1/k

    def _one_hot(self, y: NDArray[Any], k: int) -> NDArray[Any]:
        return y                                   # dense targets are one-hot (or soft) already

    def _normalised(self, yhat: NDArray[Any]) -> tuple[NDArray[Any], NDArray[Any]]:
        S = np.sum(yhat, axis=1, keepdims=True)    # (n, 1)
        if not (S > 0).all():
            i = _first_bad(~(S[:, 0] > 0))
            raise ValueError(f"yhat must hold probabilities for {self.name}: row {i} sums to "
                             f"{float(S[i, 0]):g}, and Keras divides each row by its sum (use a "
                             f"softmax output)")
        return S, yhat / S

    def _per_sample(self, y: NDArray[Any], yhat: NDArray[Any],
                    dtype: FloatDType = np.float64) -> NDArray[np.float64]:
        Y = self._one_hot(y, yhat.shape[1])
        _, q = self._normalised(yhat)
        lo, hi = _clip_bounds(dtype)
        p = np.clip(q, lo, hi)
        return -np.sum(Y * np.log(p), axis=1)

    def _gradient(self, y: NDArray[Any], yhat: NDArray[Any],
                  dtype: FloatDType = np.float64) -> NDArray[Any]:
        n, k = yhat.shape
        Y = self._one_hot(y, k)
        S, q = self._normalised(yhat)
        lo, hi = _clip_bounds(dtype)
        unclipped = (q >= lo) & (q <= hi)
        p = np.clip(q, lo, hi)                     # = q where unclipped; never 0 in a division
        dl_dq = np.where(unclipped, -Y / p, 0.0)   # dl/dq_k = -m_k y_k / q_k
        # chain through q = yhat / S: dl/dyhat_j = (dl/dq_j - sum_k dl/dq_k q_k) / S
        return (dl_dq - np.sum(dl_dq * q, axis=1, keepdims=True)) / (S * n)

    def _fused_gradient(self, y: ArrayLike, h: NDArray[Any]
                        ) -> tuple[NDArray[np.float64], NDArray[Any]]:
        y = self.targets(y, h.shape, h.dtype)
        n, k = h.shape
        Y = self.smooth(self._one_hot(y, k))
        loss, epsilon = kernels.softmax_crossentropy(h, Y)          # softmax(h) - y
        return loss.astype(np.float64), epsilon / n


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with y the class index of each sample: l_i = -log p_{i, y_i}.

    y: (n,) or (n, 1) integer-valued class indices in [0, k); targets() returns (n,).
    """
    name = "sparse_categorical_crossentropy"
    unit_interval = False
    sparse = True
    compiled_step = "softmax_crossentropy"     # with the class indices made one-hot
    _config_keys = ("from_logits",)

    def __init__(self, from_logits: bool = False) -> None:   # as Keras 3: no label smoothing
        super().__init__(from_logits=from_logits)

    def _one_hot(self, y: NDArray[Any], k: int) -> NDArray[Any]:
        return _one_hot(y, k)

    def _check_target_values(self, y: NDArray[Any], n: int, k: int) -> NDArray[Any]:
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            hint = " (one-hot targets? use categorical_crossentropy)" if y.shape == (n, k) else ""
            raise ValueError(f"y must hold class indices with shape ({n},) or ({n}, 1) for "
                             f"{self.name}; got {y.shape}{hint}")
        fractional = y != np.floor(y)
        if fractional.any():
            i = _first_bad(fractional)
            raise ValueError(f"y must hold integer class indices for {self.name}, got {y[i]} "
                             f"at index {i}")
        outside = (y < 0) | (y >= k)
        if outside.any():
            i = _first_bad(outside)
            raise ValueError(f"y must hold class indices in [0, {k}) for an output of {k} "
                             f"units, got {y[i]:g} at index {i}")
        return y
