"""The Loss base class (targets, the mean over the batch with sample weights, the gradient,
the fused gradient from the logits) and the regression losses, mean squared error and Huber.
refnn.losses documents the formulas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import activations
from .._validate import as_array, as_dtype, positive_number
from ..weighting import sample_weights

EPSILON = 1e-7   # Keras's backend.epsilon(): the clip of probabilities

# the dtype of the predictions, as a dtype or a NumPy float type
FloatDType = np.dtype[Any] | type[np.floating[Any]]


def _clip_bounds(dtype: FloatDType) -> tuple[float, float]:
    """(epsilon, 1 - epsilon) as Keras forms them, in the predictions' own dtype: in float32
    1 - 1e-7 rounds to 1 - 1.19e-7 (so a float32 probability 1.0 with target 0 costs
    -log(1.19e-7) = 15.94, not -log(1e-7) = 16.12)."""
    t = np.dtype(dtype).type
    return float(t(EPSILON)), float(t(1) - t(EPSILON))


def _output_shape(output_shape: Sequence[int]) -> tuple[int, ...]:
    """(n, k) of the model output, as ints."""
    try:
        shape = tuple(int(s) for s in output_shape)
    except (TypeError, ValueError):
        raise TypeError(f"output_shape must be a tuple (n, k), got {output_shape!r}") from None
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"output_shape must be (n, k) with n, k >= 1, got {shape}")
    return shape


def _first_bad(mask: NDArray[np.bool_]) -> int | tuple[int, ...]:
    """The first index where mask is True, as an int or a tuple (for error messages)."""
    where = tuple(int(i) for i in np.argwhere(mask)[0])
    return where[0] if len(where) == 1 else where


def _one_hot(index: NDArray[Any], k: int) -> NDArray[Any]:
    """(n,) class indices -> (n, k) one-hot rows, in the dtype of index."""
    Y = np.zeros((index.shape[0], k), dtype=index.dtype)
    Y[np.arange(index.shape[0]), index.astype(np.intp)] = 1
    return Y


class Loss:
    """A loss: per-sample values, their mean, its gradient, and the fused gradient from the
    logits where the output activation allows it.

    loss(y, yhat)               L = 1/n sum_i w_i l_i       (a float)
    loss.per_sample(y, yhat)    l_i                         (n,) float64
    loss.gradient(y, yhat)      dL/dyhat                    (n, k), yhat's dtype
    loss.fused_gradient(y, h)   (l_i, dL/dh) from the logits h, when fused(activation)

    Each of the three but per_sample takes sample_weight=w: one number, (n,) or (n, 1), finite
    and >= 0 (refnn.weighting); without it every w_i is 1.

    Shape: yhat (n, k); y as returned by targets(): (n, k), or (n,) class indices for the
    sparse loss.
    """
    name: str | None = None               # the canonical (Keras function) name
    fused_activation: str | None = None   # the output activation this loss fuses with, if any
    compiled_step: str | None = None      # the compiled step's loss kind (DenseTrainer), if any
    unit_interval: bool = False           # targets must lie in [0, 1]
    sparse: bool = False                  # targets are class indices
    _config_keys: tuple[str, ...] = ()    # constructor arguments kept in get_config()

    # --- configuration --------------------------------------------------------------

    def get_config(self) -> dict[str, Any]:
        """JSON-able: {"name": ...} plus the constructor arguments."""
        config: dict[str, Any] = {"name": self.name}
        config.update({key: getattr(self, key) for key in self._config_keys})
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Loss:
        """The loss a get_config() dict describes (Loss.from_config dispatches on the name)."""
        if cls is Loss:
            from ..loss_functions import deserialize
            return deserialize(config)
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict such as {cls().get_config()}, "
                            f"got {type(config).__name__}")
        name = config.get("name", cls.name)
        if name not in (cls.name, cls.__name__):
            raise ValueError(f"config describes the loss {name!r}, not {cls.name!r}")
        kwargs = {key: value for key, value in config.items() if key != "name"}
        unknown = sorted(set(kwargs) - set(cls._config_keys))
        if unknown:
            allowed = ", ".join(cls._config_keys) or "none"
            raise ValueError(f"config for {cls.name!r} has unknown keys {unknown}; "
                             f"allowed besides 'name': {allowed}")
        return cls(**kwargs)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.get_config().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={getattr(self, key)!r}" for key in self._config_keys)
        return f"{type(self).__name__}({args})"

    # --- targets ----------------------------------------------------------------------

    def targets(self, y: ArrayLike, output_shape: Sequence[int],
                dtype: DTypeLike) -> NDArray[Any]:
        """Check the user's targets y for a model output of shape (n, k) and return them as a
        C-contiguous array of `dtype`: (n, k), or (n,) class indices for the sparse loss.

        (n,) is accepted for k == 1. int, bool and uint8 targets are converted. NaN/inf,
        wrong shapes, cross-entropy targets outside [0, 1], and class indices that are not
        integers in [0, k) raise ValueError naming y.
        """
        dtype = as_dtype("dtype", dtype)
        n, k = _output_shape(output_shape)
        y = as_array("y", y, ndim=(1, 2))
        if y.shape[0] != n:
            raise ValueError(f"y has {y.shape[0]} samples but the model output has {n}")
        y = self._check_target_values(y, n, k)
        with np.errstate(over="ignore"):          # an overflow is reported just below
            out = np.ascontiguousarray(y, dtype=dtype)
        if not np.isfinite(out).all():
            raise ValueError(f"y does not fit in {dtype.name}: "
                             f"{y[_first_bad(~np.isfinite(out))]} overflows")
        return out

    def _check_target_values(self, y: NDArray[Any], n: int, k: int) -> NDArray[Any]:
        """y (n, k), or (n,) when k == 1; [0, 1] for the cross-entropies."""
        if y.ndim == 1 and k == 1:
            y = y.reshape(n, 1)
        if y.shape != (n, k):
            hint = ""
            if self.name == "categorical_crossentropy" and (y.ndim == 1 or y.shape[1] == 1):
                hint = " (class indices? use sparse_categorical_crossentropy)"
            also = f", or ({n},) since k == 1" if k == 1 else ""
            raise ValueError(f"y must have the shape of the model output, ({n}, {k}){also}, "
                             f"for {self.name}; got {y.shape}{hint}")
        if self.unit_interval:
            outside = (y < 0) | (y > 1)
            if outside.any():
                where = _first_bad(outside)
                raise ValueError(f"y must lie in [0, 1] for {self.name}, got {y[where]} at "
                                 f"index {where}")
        return y

    def _prepare(self, y: ArrayLike, yhat: ArrayLike, yhat_name: str = "yhat"
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64], np.dtype[Any]]:
        """(y, yhat) as float64, checked (y label-smoothed where the loss says so); and the
        dtype of yhat."""
        yhat = as_array(yhat_name, yhat, ndim=2)
        y = self.smooth(self.targets(y, yhat.shape, np.float64))
        return y, yhat.astype(np.float64, copy=False), yhat.dtype

    def smooth(self, Y: NDArray[Any]) -> NDArray[Any]:
        """The targets the loss is computed with: Y itself (see _CrossEntropy)."""
        return Y

    # --- values and gradients ---------------------------------------------------------

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        """l_i, the loss of each sample: (n,) float64."""
        y, yhat, dtype = self._prepare(y, yhat)
        return self._per_sample(y, yhat, dtype)

    def __call__(self, y: ArrayLike, yhat: ArrayLike,
                 sample_weight: ArrayLike | None = None) -> float:
        """L = 1/n sum_i w_i l_i   (Keras: loss(y_true, y_pred, sample_weight))"""
        losses = self.per_sample(y, yhat)
        w = sample_weights(sample_weight, losses.shape[0])
        return float(np.mean(losses if w is None else w * losses))

    def gradient(self, y: ArrayLike, yhat: ArrayLike,
                 sample_weight: ArrayLike | None = None) -> NDArray[Any]:
        """dL/dyhat of L: (n, k) in the dtype of yhat; row i scaled by w_i."""
        y, yhat, dtype = self._prepare(y, yhat)
        w = sample_weights(sample_weight, yhat.shape[0])
        d = self._gradient(y, yhat, dtype)
        return np.ascontiguousarray(d if w is None else d * w[:, None], dtype=dtype)

    def kink_signature(self, y: ArrayLike, yhat: ArrayLike) -> list[NDArray[np.bool_]]:
        """Arrays that change exactly when a kink of the loss in yhat is crossed
        (see refnn.gradcheck); [] for a loss without kinks.

        The clip of the cross-entropies from probabilities also bends the loss, at 1e-7 and
        1 - 1e-7; it is not listed: with a softmax or sigmoid output the loss runs fused from
        the logits, where there is no clip."""
        return []

    def fused(self, activation: str) -> bool:
        """True when this loss has a fused gradient from the logits of `activation`."""
        return self.fused_activation is not None and activation == self.fused_activation

    def compiled_kind(self, activation: str) -> str | None:
        """The compiled training step's loss kind (kernels.DenseTrainer) for this loss after an
        output layer of `activation`, or None when that step cannot train the pair.

        A fused loss pairs with its own activation only (softmax + categorical CE, sigmoid +
        binary CE: epsilon = yhat - y from the logits); squared error with any elementwise
        activation (epsilon = 2 r f'(h) / (k n)). Only the class that declares `compiled_step`
        has it: a subclass made elsewhere may change the formula, so it takes the
        layer-by-layer step."""
        kind = type(self).__dict__.get("compiled_step")
        if kind is None:
            return None
        if self.fused_activation is not None:
            return kind if activation == self.fused_activation else None
        return kind if activation in activations.DIFFERENTIABLE else None

    def fused_gradient(self, y: ArrayLike, h: ArrayLike, sample_weight: ArrayLike | None = None
                       ) -> tuple[NDArray[np.float64], NDArray[Any]]:
        """(l_i (n,) float64, epsilon = dL/dh (n, k) in h's dtype) from the logits h; with
        sample weights epsilon_i <- w_i epsilon_i (l_i stays unweighted)."""
        h = as_array("h", h, ndim=2, allow_int=False)
        w = sample_weights(sample_weight, h.shape[0])
        losses, epsilon = self._fused_gradient(y, h)
        return losses, epsilon if w is None else epsilon * w[:, None].astype(h.dtype)

    def _fused_gradient(self, y: ArrayLike, h: NDArray[Any]
                        ) -> tuple[NDArray[np.float64], NDArray[Any]]:
        raise ValueError(f"{self.name} has no fused gradient (only softmax with "
                         f"categorical_crossentropy or sparse_categorical_crossentropy, and "
                         f"sigmoid with binary_crossentropy); use gradient(y, yhat)")

    def _per_sample(self, y: NDArray[Any], yhat: NDArray[Any],
                    dtype: FloatDType = np.float64) -> NDArray[np.float64]:
        raise NotImplementedError

    def _gradient(self, y: NDArray[Any], yhat: NDArray[Any],
                  dtype: FloatDType = np.float64) -> NDArray[Any]:
        raise NotImplementedError


class MeanSquaredError(Loss):
    """l_i = 1/k sum_k (yhat_k - y_k)^2;   dL/dyhat = 2 r / (k n)"""
    name = "mean_squared_error"
    compiled_step = "mean_squared_error"

    def _per_sample(self, y: NDArray[Any], yhat: NDArray[Any],
                    dtype: FloatDType = np.float64) -> NDArray[np.float64]:
        r = yhat - y                               # (n, k)
        return np.mean(r * r, axis=1)

    def _gradient(self, y: NDArray[Any], yhat: NDArray[Any],
                  dtype: FloatDType = np.float64) -> NDArray[Any]:
        n, k = yhat.shape
        r = yhat - y
        return 2 * r / (k * n)             # d/dr r^2 = 2 r; 1/k over outputs, 1/n over samples


class Huber(Loss):
    """l_i = 1/k sum_k (r^2/2 if |r| <= delta else delta |r| - delta^2/2),  r = yhat - y;
    dL/dyhat = (r if |r| <= delta else delta sign(r)) / (k n)

    The second derivative jumps at |r| = delta: kink_signature() returns [|r| <= delta].
    """
    name = "huber"
    _config_keys = ("delta",)

    def __init__(self, delta: float = 1.0) -> None:
        self.delta = positive_number("delta", delta)

    def _per_sample(self, y: NDArray[Any], yhat: NDArray[Any],
                    dtype: FloatDType = np.float64) -> NDArray[np.float64]:
        r = yhat - y
        a = np.abs(r)
        quadratic = 0.5 * r * r
        linear = self.delta * a - 0.5 * self.delta ** 2     # Keras's form of delta (|r| - delta/2)
        return np.mean(np.where(a <= self.delta, quadratic, linear), axis=1)

    def _gradient(self, y: NDArray[Any], yhat: NDArray[Any],
                  dtype: FloatDType = np.float64) -> NDArray[Any]:
        n, k = yhat.shape
        r = yhat - y
        d = np.where(np.abs(r) <= self.delta, r, self.delta * np.sign(r))   # d/dr of one term
        return d / (k * n)

    def kink_signature(self, y: ArrayLike, yhat: ArrayLike) -> list[NDArray[np.bool_]]:
        """[|yhat - y| <= delta]: the branch each output is on."""
        y, yhat, _ = self._prepare(y, yhat)
        return [np.abs(yhat - y) <= self.delta]
