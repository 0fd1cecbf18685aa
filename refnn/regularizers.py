"""Weight regularizers, Keras 3's (keras/src/regularizers/): a penalty on a weight array that
is added to the loss, and its gradient to the array's gradient.

    L1(l1=0.01)            penalty l1 sum |w|          gradient l1 sign(w)
    L2(l2=0.01)            penalty l2 sum w^2          gradient 2 l2 w
    L1L2(l1=0.0, l2=0.0)   both

Dense(kernel_regularizer=..., bias_regularizer=...) takes one, or its name ("l1", "l2",
"l1_l2", with Keras's defaults). As in Keras, the penalties are part of the loss fit reports
and evaluate returns (of frozen layers too, which then get no update); a model with a
regularizer trains on the layer-by-layer step.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validate import choice, positive_number

if TYPE_CHECKING:
    from .model import Sequential


class Regularizer:
    """penalty(w) -> float; gradient(w) -> array of w's shape and dtype."""

    # what each regularizer defines
    _keys: tuple[str, ...]                          # its constructor's arguments
    penalty: Callable[[NDArray[Any]], float]
    gradient: Callable[[NDArray[Any]], NDArray[Any]]

    def __call__(self, w: NDArray[Any]) -> float:
        return self.penalty(w)

    def get_config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._keys}

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.get_config().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    _keys: tuple[str, ...] = ("l1", "l2")

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = positive_number("l1", l1, allow_zero=True)
        self.l2 = positive_number("l2", l2, allow_zero=True)

    def penalty(self, w: NDArray[Any]) -> float:
        w = w.astype(np.float64, copy=False)
        return float(self.l1 * np.sum(np.abs(w)) + self.l2 * np.sum(w * w))

    def gradient(self, w: NDArray[Any]) -> NDArray[Any]:
        return (self.l1 * np.sign(w) + (2 * self.l2) * w).astype(w.dtype, copy=False)


class L1(L1L2):
    _keys = ("l1",)

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)


class L2(L1L2):
    _keys = ("l2",)

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)


REGULARIZERS: dict[str, type[L1L2]] = {"l1": L1, "l2": L2, "l1_l2": L1L2,
                                        "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier: Regularizer | str | dict[str, Any] | None) -> Regularizer | None:
    """None, a Regularizer, its name ("l1", "l2", "l1_l2") or a serialize() dict."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        name = choice("regularizer", identifier.get("class_name"), REGULARIZERS)
        return REGULARIZERS[name](**identifier.get("config", {}))
    if isinstance(identifier, str):
        return REGULARIZERS[choice("regularizer", identifier, REGULARIZERS)]()
    raise TypeError(f"a regularizer must be None, a name such as 'l2' or a "
                    f"refnn.regularizers.Regularizer, got {identifier!r}")


def serialize(regularizer: Regularizer | None) -> dict[str, Any] | None:
    """Keras's form, {"class_name": ..., "config": ...}; None stays None."""
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def penalty(model: Sequential) -> float:
    """The sum of a model's layers' penalties (Layer.regularization), part of its loss."""
    return sum(leaf.regularization() for leaf in model.leaf_layers())


def total_loss(model: Sequential, per_sample: NDArray[np.float64],
               w: ArrayLike | None = None) -> float:
    """The loss a model reports: the mean of the per-sample losses, 1/n sum_i w_i l_i with
    sample weights w (refnn.weighting), plus the penalties."""
    if w is not None:
        per_sample = np.asarray(w, dtype=np.float64) * per_sample
    return float(np.mean(per_sample, dtype=np.float64)) + penalty(model)
