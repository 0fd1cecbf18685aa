"""Metrics, as Keras 3 defines them: a value per sample, averaged over all samples seen.

    binary_accuracy               m_i = 1/k sum_k [y_k == (yhat_k > threshold)]   (threshold 0.5)
    categorical_accuracy          m_i = [argmax_k y_k == argmax_k yhat_k]
    sparse_categorical_accuracy   m_i = [y == argmax_k yhat_k]                    (y a class index)
    mean_squared_error / mse      m_i = 1/k sum_k (yhat_k - y_k)^2
    mean_absolute_error / mae     m_i = 1/k sum_k |yhat_k - y_k|
    binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy:
                                  m_i = the loss of sample i (refnn.losses, from probabilities)

update(y, yhat) adds sum_i m_i and the number of samples to running totals; result() is their
quotient, so a data set evaluated in batches gives the mean over all its samples, as at once.
With sample weights w_i (update(y, yhat, sample_weight=w)) the totals are sum_i w_i m_i and
sum_i w_i: the weighted mean, as Keras's Mean metrics keep it (0 while sum_i w_i is 0). A model
weighs the metrics of compile(weighted_metrics=...) so, and those of metrics=... not at all.

"acc" / "accuracy" is resolved as Keras 3 resolves it (get()): binary accuracy for a 1-unit
output, sparse categorical accuracy when the targets are class indices (the loss is
sparse_categorical_crossentropy), categorical accuracy otherwise: binary_crossentropy on
3 sigmoid outputs (multi-label) is measured by categorical accuracy, as in Keras 3 (tf.keras 2
chose binary accuracy from the loss). A metric asked for by a string
keeps that string as its name (the key in the training history), as Keras does.
"""
from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import losses
from ._validate import as_array, choice
from .weighting import sample_weights, weighted_sum

__all__ = ["Metric", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "MeanSquaredError", "MeanAbsoluteError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "get", "deserialize",
           "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "mean_absolute_error"]


def _as_yhat(yhat: ArrayLike) -> NDArray[Any]:
    return as_array("yhat", yhat, ndim=2)


def _as_dense_y(y: ArrayLike, yhat: NDArray[Any]) -> NDArray[Any]:
    """y of the shape of yhat (n, k), or (n,) when k == 1; as float64."""
    y = as_array("y", y, ndim=(1, 2), dtype=np.float64)
    n, k = yhat.shape
    if y.ndim == 1 and k == 1:
        y = y.reshape(-1, 1)
    if y.shape != (n, k):
        also = f", or ({n},) since k == 1" if k == 1 else ""
        raise ValueError(f"y must have the shape of yhat, ({n}, {k}){also}; got {y.shape}")
    return y


def _as_class_index(y: ArrayLike, yhat: NDArray[Any]) -> NDArray[Any]:
    """y: (n,) or (n, 1) class indices; returned as (n,) float64."""
    y = as_array("y", y, ndim=(1, 2), dtype=np.float64)
    n = yhat.shape[0]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n,):
        raise ValueError(f"y must hold class indices with shape ({n},) or ({n}, 1); "
                         f"got {y.shape}")
    return y


class Metric:
    """A running mean of a per-sample value m_i over every sample passed to update().

    metric.update(y, yhat)   total += sum_i w_i m_i,  count += sum_i w_i   (w_i = 1 unweighted)
    metric.result()          total / count   (0.0 before any update, as Keras)
    metric.reset()           total = count = 0
    metric(y, yhat)          the mean of this data alone (the running totals are untouched)
    Both take sample_weight=w: (n,) or (n, 1), finite and >= 0 (refnn.weighting).
    """
    default_name: str | None = None
    weighted: bool = False    # a model's weighted metric (compile(weighted_metrics=...))
    name: str | None
    total: float              # sum_i w_i m_i so far
    count: float              # sum_i w_i so far (the number of samples when unweighted)

    def __init__(self, name: str | None = None) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__} {name!r}")
        self.name = self.default_name if name is None else name
        self.reset()

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        """m_i for each sample: (n,) float64."""
        raise NotImplementedError

    def _values(self, y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
        """per_sample on arrays the caller has checked (fit and evaluate: their own outputs and
        prepared targets); by default it checks them anyway."""
        return self.per_sample(y, yhat)

    def update(self, y: ArrayLike, yhat: ArrayLike, checked: bool = False,
               sample_weight: ArrayLike | None = None) -> None:
        """total += sum_i w_i m_i, count += sum_i w_i. checked=True: y, yhat and sample_weight
        were checked by the caller (shapes that match, finite numbers, weights >= 0), so the
        formula runs on them as they are."""
        values = (self._values(cast(NDArray[Any], y), cast(NDArray[Any], yhat)) if checked
                  else self.per_sample(y, yhat))
        w = sample_weight if checked else self._weights(sample_weight, values)
        self.total += weighted_sum(values, w)
        self.count += int(values.shape[0]) if w is None else float(np.sum(w, dtype=np.float64))

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset(self) -> None:
        self.total = 0.0
        self.count = 0

    def __call__(self, y: ArrayLike, yhat: ArrayLike,
                 sample_weight: ArrayLike | None = None) -> float:
        values = self.per_sample(y, yhat)
        w = self._weights(sample_weight, values)
        if w is None:
            return float(np.mean(values))
        total = float(np.sum(w))
        return weighted_sum(values, w) / total if total else 0.0

    @staticmethod
    def _weights(sample_weight: ArrayLike | None, values: NDArray[Any]) -> NDArray[Any] | None:
        return sample_weights(sample_weight, values.shape[0], scalar=False)

    def get_config(self) -> dict[str, Any]:
        """JSON-able: {"class_name": ..., "name": ...} plus the constructor arguments."""
        return {"class_name": type(self).__name__, "name": self.name}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Metric:
        if cls is Metric:
            return deserialize(config)
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        kwargs = {key: value for key, value in config.items() if key != "class_name"}
        try:
            return cls(**kwargs)
        except TypeError as e:
            raise ValueError(f"config does not fit {cls.__name__}: {e}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class BinaryAccuracy(Metric):
    """m_i = 1/k sum_k [y_k == (yhat_k > threshold)]"""
    default_name = "binary_accuracy"

    def __init__(self, name: str | None = None, threshold: float = 0.5) -> None:
        super().__init__(name)
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.floating)) \
                or not 0 < threshold < 1:
            raise ValueError(f"threshold must be a number in (0, 1), got {threshold!r}")
        self.threshold = float(threshold)

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        return np.mean(binary_accuracy(y, yhat, self.threshold), axis=1)

    def _values(self, y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
        return _binary_accuracy(_dense_like(y, yhat), yhat, self.threshold)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "threshold": self.threshold}


class CategoricalAccuracy(Metric):
    """m_i = [argmax_k y_k == argmax_k yhat_k]   (one-hot y)"""
    default_name = "categorical_accuracy"

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        return categorical_accuracy(y, yhat)

    def _values(self, y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
        return _categorical_accuracy(y, yhat)


class SparseCategoricalAccuracy(Metric):
    """m_i = [y == argmax_k yhat_k]   (y a class index)"""
    default_name = "sparse_categorical_accuracy"

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        return sparse_categorical_accuracy(y, yhat)

    def _values(self, y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
        return _sparse_categorical_accuracy(y.reshape(-1), yhat)


class MeanAbsoluteError(Metric):
    """m_i = 1/k sum_k |yhat_k - y_k|"""
    default_name = "mean_absolute_error"

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        return mean_absolute_error(y, yhat)

    def _values(self, y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
        return _mean_absolute_error(_dense_like(y, yhat), yhat)


class _LossMetric(Metric):
    """m_i = l_i, the per-sample value of a loss (refnn.losses, from probabilities)."""
    loss_class: type[losses.Loss] | None = None

    def per_sample(self, y: ArrayLike, yhat: ArrayLike) -> NDArray[np.float64]:
        assert self.loss_class is not None          # each loss metric names its loss
        return self.loss_class().per_sample(y, yhat)


class MeanSquaredError(_LossMetric):
    """m_i = 1/k sum_k (yhat_k - y_k)^2"""
    default_name = "mean_squared_error"
    loss_class = losses.MeanSquaredError


class BinaryCrossentropy(_LossMetric):
    """m_i = 1/k sum_k -y log p - (1 - y) log(1 - p),  p = clip(yhat, 1e-7, 1 - 1e-7)"""
    default_name = "binary_crossentropy"
    loss_class = losses.BinaryCrossentropy


class CategoricalCrossentropy(_LossMetric):
    """m_i = -sum_k y_k log p_k,  p = clip(yhat / sum yhat, 1e-7, 1 - 1e-7)"""
    default_name = "categorical_crossentropy"
    loss_class = losses.CategoricalCrossentropy


class SparseCategoricalCrossentropy(_LossMetric):
    """m_i = -log p_{y},  p = clip(yhat / sum yhat, 1e-7, 1 - 1e-7)"""
    default_name = "sparse_categorical_crossentropy"
    loss_class = losses.SparseCategoricalCrossentropy


# ---------------------------------------------------------------------------------------
# Keras's function forms: per-sample values, (n,) float64 (binary_accuracy: per element)
# ---------------------------------------------------------------------------------------

def binary_accuracy(y_true: ArrayLike, y_pred: ArrayLike,
                    threshold: float = 0.5) -> NDArray[np.float64]:
    """[y_ik == (yhat_ik > threshold)] element by element, shape (n, k), as Keras 3's function
    (its metric BinaryAccuracy averages them: m_i = 1/k sum_k of these)."""
    yhat = _as_yhat(y_pred)
    return _binary_matches(_as_dense_y(y_true, yhat), yhat, threshold)


def categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """m_i = [argmax_k y_k == argmax_k yhat_k]  (the first maximum, as np.argmax)"""
    yhat = _as_yhat(y_pred)
    return _categorical_accuracy(_as_dense_y(y_true, yhat), yhat)


def sparse_categorical_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """m_i = [y == argmax_k yhat_k]"""
    yhat = _as_yhat(y_pred)
    return _sparse_categorical_accuracy(_as_class_index(y_true, yhat), yhat)


def mean_absolute_error(y_true: ArrayLike, y_pred: ArrayLike) -> NDArray[np.float64]:
    """m_i = 1/k sum_k |yhat_k - y_k|"""
    yhat = _as_yhat(y_pred)
    return _mean_absolute_error(_as_dense_y(y_true, yhat), yhat)


# the formulas themselves, on checked arrays: y (n, k) like yhat, or (n,) class indices

def _dense_like(y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[Any]:
    """a checked y of (n,) for a one-unit output, as (n, 1) like yhat"""
    return y.reshape(yhat.shape) if y.ndim == 1 else y


def _binary_matches(y: NDArray[Any], yhat: NDArray[Any], threshold: float) -> NDArray[np.float64]:
    return (y == (yhat > threshold)).astype(np.float64)


def _binary_accuracy(y: NDArray[Any], yhat: NDArray[Any], threshold: float) -> NDArray[np.float64]:
    return np.mean(_binary_matches(y, yhat, threshold), axis=1)


def _categorical_accuracy(y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
    return (np.argmax(y, axis=1) == np.argmax(yhat, axis=1)).astype(np.float64)


def _sparse_categorical_accuracy(y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
    return (y == np.argmax(yhat, axis=1)).astype(np.float64)


def _mean_absolute_error(y: NDArray[Any], yhat: NDArray[Any]) -> NDArray[np.float64]:
    return np.mean(np.abs(yhat.astype(np.float64) - y), axis=1)


# ---------------------------------------------------------------------------------------
# Look-up
# ---------------------------------------------------------------------------------------

_CLASSES = (BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanSquaredError,
            MeanAbsoluteError, BinaryCrossentropy, CategoricalCrossentropy,
            SparseCategoricalCrossentropy)
_BY_NAME = {cls.default_name: cls for cls in _CLASSES}
_BY_NAME.update({cls.__name__: cls for cls in _CLASSES})
_BY_NAME.update({"mse": MeanSquaredError, "MSE": MeanSquaredError,
                 "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
                 "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})
ACCURACY_NAMES = ("acc", "accuracy")   # resolved by the loss and the output shape


def _accuracy_class(loss: str | losses.Loss | None,
                    output_shape: Any) -> type[Metric]:     # output_shape: checked here
    """Which accuracy "acc" means, by Keras 3's rule (compile_utils.get_metric): binary for a
    1-unit output, sparse categorical for class-index targets (sparse categorical
    cross-entropy), categorical otherwise; binary for binary cross-entropy while the output
    shape is not known."""
    if loss is None and output_shape is None:
        raise ValueError("'accuracy' needs the loss or the output shape to choose between "
                         "binary, categorical and sparse categorical accuracy; got neither")
    k: int | None = None
    if output_shape is not None:
        try:
            if np.isscalar(output_shape):               # k alone; int() refuses the others
                k = int(output_shape)                   # type: ignore[arg-type]
            else:
                k = int(output_shape[-1])
        except (TypeError, ValueError, IndexError):
            raise TypeError(f"output_shape must be a shape (n, k), got {output_shape!r}") from None
    loss = None if loss is None else losses.get(loss)
    if k == 1 or (k is None and isinstance(loss, losses.BinaryCrossentropy)):
        return BinaryAccuracy
    if isinstance(loss, losses.SparseCategoricalCrossentropy):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier: str | Metric | type[Metric] | dict[str, Any],
        loss: str | losses.Loss | None = None,
        output_shape: Sequence[int] | int | None = None) -> Metric:
    """A Metric from a name or alias, a Metric class, a get_config() dict, or a Metric
    instance (returned as it is).

    A string keeps its spelling as the metric's name: get("acc", ...).name == "acc".
    "acc"/"accuracy" (any case) choose the accuracy from `loss` (a name or Loss) and
    `output_shape` (n, k), as Keras does.
    """
    if isinstance(identifier, Metric):
        return identifier
    if inspect.isclass(identifier) and issubclass(identifier, Metric) \
            and identifier.default_name is not None:
        return identifier()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"metric must be a name, a Metric or a config dict, got "
                        f"{type(identifier).__name__} {identifier!r}")
    if identifier.lower() in ACCURACY_NAMES:
        return _accuracy_class(loss, output_shape)(name=identifier)
    valid = list(_BY_NAME) + list(ACCURACY_NAMES)
    return _BY_NAME[choice("metric", identifier, valid)](name=identifier)


def check_names(metrics: Sequence[str] | None, loss: str | losses.Loss | None,
                output_shape: Sequence[int] | int | None,
                argument: str = "metrics") -> list[str]:
    """A model's compile(metrics=...) (or weighted_metrics=...): None or a list of names such
    as ["acc"], each one known (checked now, not at the first fit); returns the list of names."""
    if metrics is None:
        return []
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"{argument} must be a list of names such as ['acc'], got {metrics!r}")
    for m in metrics:
        if not isinstance(m, str):
            raise TypeError(f"{argument} must be names such as 'acc', got {m!r}")
    for m in metrics:
        get(m, loss, output_shape)
    return list(metrics)


def report_names(metrics: Sequence[str], weighted_metrics: Sequence[str]) -> list[str]:
    """The names fit and evaluate report compile()'s metrics under, in order: the metrics,
    then the weighted metrics; a weighted metric whose name is taken is reported as
    weighted_<name> (Keras 3's CompileMetrics.result)."""
    names = list(metrics)
    for m in weighted_metrics:
        names.append(f"weighted_{m}" if m in names else m)
    return names


def compiled(metrics: Sequence[str], weighted_metrics: Sequence[str],
             loss: str | losses.Loss | None,
             output_shape: Sequence[int] | int | None) -> list[Metric]:
    """Fresh Metric objects for compile()'s names, each named as report_names() reports it and
    marked `weighted` (the weighted metrics take the sample weights in update())."""
    made: list[Metric] = []
    for name, (identifier, weighted) in zip(
            report_names(metrics, weighted_metrics),
            [(m, False) for m in metrics] + [(m, True) for m in weighted_metrics]):
        metric = get(identifier, loss, output_shape)
        metric.name, metric.weighted = name, weighted
        made.append(metric)
    return made


def deserialize(config: dict[str, Any]) -> Metric:
    """The Metric a get_config() dict describes."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict such as "
                        f"{{'class_name': 'BinaryAccuracy', 'name': 'acc'}}, "
                        f"got {type(config).__name__}")
    if "class_name" not in config:
        raise ValueError(f"config must have a 'class_name' key, got keys {sorted(config)}")
    names = {cls.__name__: cls for cls in _CLASSES}
    return names[choice("metric class_name", config["class_name"], names)].from_config(config)
