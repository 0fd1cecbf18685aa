"""The layer base: Context (what a forward pass needs to know), the weight initialisers, Layer
(config, build, weights and their trainable mask), `walk` (the one walk over a layer and the
layers inside it) and `serialize`.

Notation: g_prev the layer's input, h weighted sum, g = f(h) output, epsilon = dE/dh.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .._validate import as_array, flag, sample_shape


class Context:
    """What a forward pass needs to know: training or inference, the dropout generator,
    whether batch normalisation may update its moving statistics, and which layers are frozen.

    frozen: the set of layers a model froze at its last compile() (a model's changes of
    `trainable` take effect there, as in Keras), or None: each layer's own `trainable`."""

    def __init__(self, training: bool = False, rng: np.random.Generator | None = None,
                 update_state: bool = False, frozen: AbstractSet[Layer] | None = None) -> None:
        self.training = training
        self.rng = rng
        self.update_state = update_state
        self.frozen = frozen

    def is_frozen(self, layer: Layer) -> bool:
        return (not layer.trainable) if self.frozen is None else layer in self.frozen


# --------------------------------------------------------------------------- initialisers
def _truncated_normal(rng, shape, stddev):
    """Normal(0, stddev) redrawn beyond two standard deviations (Keras's truncated normal)."""
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2
    return x * stddev


def _variance_scaling(scale, mode, distribution):
    def init(rng, shape):
        fan_in, fan_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
        n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "uniform":
            limit = math.sqrt(3 * scale / n)
            return rng.uniform(-limit, limit, shape)
        # the standard deviation of N(0, 1) truncated at +-2 is 0.8796...: divide it out
        return _truncated_normal(rng, shape, math.sqrt(scale / n) / 0.87962566103423978)
    return init


#: the weight initializers by Keras name: name -> init(rng, shape), fan-in and fan-out from shape
INITIALIZERS = {
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),   # U(+-sqrt(6/(in+out)))
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),        # U(+-sqrt(6/in))
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "random_normal": lambda rng, shape: rng.normal(0.0, 0.05, shape),
    "random_uniform": lambda rng, shape: rng.uniform(-0.05, 0.05, shape),
    "zeros": lambda rng, shape: np.zeros(shape),
    "ones": lambda rng, shape: np.ones(shape),
}


# --------------------------------------------------------------------------- base
class Layer:
    """A layer: build(input_shape) -> output_shape, forward, backward, weights and grads."""

    _in_model: bool               # set when a model takes the layer (a layer joins one model)
    # the layers that end with an output activation (Dense, Activation): the weighted sums of
    # the last forward pass, and the backward pass from dE/dh
    h: NDArray[Any]
    backward_from_h: Callable[[NDArray[Any]], NDArray[Any]]

    def __init__(self, name: str | None = None, input_shape: Sequence[int] | None = None,
                 trainable: bool = True) -> None:
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        self._trainable = flag("trainable", trainable)
        # the per-sample shapes in and out (without the batch axis), and the dtype: set by build
        self.input_shape: tuple[int, ...] | None = (
            None if input_shape is None else sample_shape("input_shape", input_shape))
        self.output_shape: tuple[int, ...] | None = None
        self.built = False
        self.dtype: np.dtype[Any] | None = None
        self.grads: list[NDArray[Any]] = []     # dE/dw of each parameter, set by backward

    # ------------------------------------------------------------------ trainable
    @property
    def trainable(self) -> bool:
        """Whether the optimizer trains this layer's weights (Keras's layer.trainable, default
        True).

        A frozen layer (trainable = False) keeps its weights through fit: they move to
        non_trainable_weights (self.weights keeps its order), the optimizer has no slots for
        them, gradients still flow through the layer to the layers before it, and a batch
        normalisation runs in inference mode. Setting it sets it on every layer inside (a Dense
        layer's batch normalisation, a Residual block's layers), as in Keras. A compiled model
        takes the change at its next compile(), as in Keras."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = flag("trainable", value)
        self._trainable = value
        for layer in self._sublayers():
            layer.trainable = value

    is_block = False              # a block of layers (Residual): its layers compute, not it

    def _sublayers(self) -> list[Layer]:
        """The layers inside this one (their trainable follows this layer's; `walk` visits
        them)."""
        return []

    # ------------------------------------------------------------------ weights
    # A layer's weights are its parameters (what backward computes gradients of: W, b, gamma,
    # beta; self.grads holds them in this order), then its state (batch normalisation's moving
    # statistics: set by forward, a constant of the loss, never trained).
    def _parameters(self) -> list[NDArray[Any]]:
        return []

    def _state(self) -> list[NDArray[Any]]:
        return []

    @property
    def weights(self) -> list[NDArray[Any]]:
        """All weights, in get_weights() order: parameters, then state (frozen or not)."""
        return self._parameters() + self._state()

    # What the layer holds itself, without the layers inside it (a Dense layer's W and b, not
    # its batch normalisation's): for a layer without sublayers, all of it.
    def _own_parameters(self) -> list[NDArray[Any]]:
        return self._parameters()

    def _own_state(self) -> list[NDArray[Any]]:
        return self._state()

    def trainable_mask(self) -> list[bool]:
        """For each entry of self.weights: is it trained by the optimizer? A parameter is, when
        its layer and every layer around it are trainable (as `walk` says); the state never
        is."""
        own = [self.trainable] * len(self._own_parameters()) + [False] * len(self._own_state())
        return own + [m and self.trainable for sub in self._sublayers()
                      for m in sub.trainable_mask()]

    # Keras's order per layer: trainable first, then non-trainable (for a plain layer, frozen
    # or not, that is self.weights)
    @property
    def trainable_weights(self) -> list[NDArray[Any]]:
        return [w for w, m in zip(self.weights, self.trainable_mask()) if m]

    @property
    def non_trainable_weights(self) -> list[NDArray[Any]]:
        return [w for w, m in zip(self.weights, self.trainable_mask()) if not m]

    def weight_names(self) -> list[str]:
        return []

    def aligned_grads(self) -> list[NDArray[Any]]:
        """dL/dw for each entry of self.weights: the parameters' gradients (of a frozen layer's
        too: freezing changes what the optimizer updates, not the derivative), then zeros for
        the state, a constant of the loss."""
        return list(self.grads) + [np.zeros_like(w) for w in self._state()]

    def count_params(self) -> int:
        return int(sum(w.size for w in self.weights))

    def regularization(self) -> float:
        """The penalty this layer adds to the loss (refnn/regularizers.py); 0.0 here."""
        return 0.0

    def get_weights(self) -> list[NDArray[Any]]:
        """Copies of this layer's weights (Keras's order: kernel, bias, ...)."""
        return [w.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Assign this layer's weights in place (cast to its dtype); every array is checked
        first, so a wrong one changes nothing."""
        mine = self.weights
        if not isinstance(weights, (list, tuple)) or len(weights) != len(mine):
            got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise ValueError(f"weights must be a list of {len(mine)} arrays for "
                             f"{type(self).__name__}, got {got}")
        new = []
        for i, (old, w) in enumerate(zip(mine, weights)):
            w = as_array(f"weights[{i}]", w, dtype=old.dtype, allow_empty=old.size == 0)
            if w.shape != old.shape:
                raise ValueError(f"weights[{i}] must have shape {old.shape}, got {w.shape}")
            new.append(w)
        for old, w in zip(mine, new):
            old[...] = w

    def build(self, input_shape: Sequence[int], dtype: DTypeLike,
              rng: np.random.Generator) -> tuple[int, ...]:
        self.dtype = np.dtype(dtype)
        self.output_shape = output_shape = self.compute_output_shape(tuple(input_shape))
        self.built = True
        return output_shape

    def compute_output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return input_shape

    def count_params_for(self, input_shape: Sequence[int]) -> int:
        """count_params() after build(input_shape), counted without building (exact integers):
        load_model weighs a file's declared sizes with it before building."""
        return 0

    def forward(self, g_prev: NDArray[Any], ctx: Context) -> NDArray[Any]:
        raise NotImplementedError

    def backward(self, dE_dg: NDArray[Any]) -> NDArray[Any]:
        raise NotImplementedError

    @property
    def output_activation(self) -> str | None:
        """The output activation, when the layer ends with one applied to its own weighted
        sum h (Dense, Activation); None for the others."""
        return None

    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def set_weight_values(self, values: Sequence[NDArray[Any]]) -> None:
        """Assign this layer's weights (already checked and cast by the model), in place."""
        for w, v in zip(self.weights, values):
            w[...] = v

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"



def count_params_for(layers: Iterable[Layer], input_shape: Sequence[int]) -> int:
    """The weights that building `layers` in turn on per-sample `input_shape` would make,
    counted without building (Layer.count_params_for)."""
    total, shape = 0, tuple(input_shape)
    for layer in layers:
        total += layer.count_params_for(shape)
        shape = tuple(layer.compute_output_shape(shape))
    return total


def walk(layer: Layer, trained: bool = True) -> Iterator[tuple[Layer, bool]]:
    """(layer, trained) for `layer` and every layer inside it, outside in (a Dense layer, then
    its batch normalisation; a Residual block, then its layers in order).

    trained: the layer and every layer around it are trainable (as in Keras, a frozen block's
    weights are all non-trainable); pass the model's own `trainable` as the start."""
    trained = trained and layer.trainable
    yield layer, trained
    for sub in layer._sublayers():
        yield from walk(sub, trained)


def leaves(layer: Layer) -> list[Layer]:
    """The layers that compute, inside `layer` (itself unless it is a block of layers), in
    walk order: what a saved kernel mask's index counts."""
    return [sub for sub, _ in walk(layer) if not sub.is_block]


def serialize(layer: Layer) -> dict[str, Any]:
    return {"class_name": type(layer).__name__, "config": layer.get_config()}
