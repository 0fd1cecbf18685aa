"""Sequential: a stack of layers trained the Keras way (compile, fit, evaluate, predict).

The model's structure, build, weights, compile, and the forward and backward passes (per-sample
losses and the gradients of their mean, in get_weights() order). The fit loop is
refnn.training, evaluate/predict/summary refnn.inference, save and load refnn.saving.

Frozen layers (layer.trainable = False, as in Keras): compile() chooses the trainable weights
(self._trainable, what the optimizer is built for) and the frozen layers (a frozen batch
normalisation runs in inference mode); fit trains with that choice until the next compile(),
as Keras does. A change of `trainable` after compile() is not applied by fit, which warns.
"""
from __future__ import annotations

import warnings
import weakref
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import layers as layers_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import backprop, inference, loss_functions, safeguards, saving, training
from .inference import layer_label
from ._validate import as_array, as_dtype, flag, positive_int, sample_shape
from .layers import Layer, leaves, walk
from .saving import FORMAT_VERSION, ModelFileNotFoundError, load_model  # noqa: F401  (re-exported)

__all__ = ["Sequential", "load_model"]

if TYPE_CHECKING:
    from .callbacks import Callback, History
    from .layers import Context
    from .losses import Loss
    from .optimizers import FullBatchOptimizer, Optimizer


# optimizer -> weak reference to the model compiled with it: an optimizer holds one model's
# slots and step count, so compile() refuses one that another live model uses
_OPTIMIZER_OWNERS: weakref.WeakKeyDictionary[Any, weakref.ref[Sequential]] = \
    weakref.WeakKeyDictionary()

class Sequential:
    """A linear stack of layers.

    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="sigmoid"),
                        Dense(10, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["acc"])
    history = model.fit(X, Y, batch_size=200, epochs=3)

    seed fixes the initial weights, the shuffling and the dropout masks (the same seed, data and
    thread count give bit-identical weights); dtype is "float32" (default, for training) or
    "float64" (for verification). trainable=False freezes every layer (see `trainable`).
    """

    # set by build() (the per-sample shapes) and by compile(); before that absent or None
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    loss: Loss
    optimizer: Optimizer | FullBatchOptimizer
    _initial_epoch: int | None              # where fit resumes (BackupAndRestore sets it)
    _fit_thread: tuple[int, int] | None     # (the thread inside fit, depth): safeguards.fitting

    def __init__(self, layers: Sequence[Layer] | None = None, seed: int | None = None,
                 dtype: DTypeLike = "float32", name: str | None = None,
                 trainable: bool = True) -> None:
        self.dtype = as_dtype("dtype", dtype)
        self._model_trainable = flag("trainable", trainable)
        self.seed = seed = None if seed is None else positive_int("seed", seed, allow_zero=True)
        # without a seed, one is drawn now and kept: loss_and_gradients's dropout mask must
        # be the same on every call
        self._fixed_seed = (seed if seed is not None
                            else cast(int, np.random.SeedSequence().entropy) % 2**63)
        self.name = name or "sequential"
        self.layers: list[Layer] = []
        self.built = False
        self.compiled = False
        self.stop_training = False
        # fit trains a plain stack of Dense layers through one compiled step per batch
        # (kernels.DenseTrainer); False forces the layer-by-layer path (same numbers)
        self.use_fast_path = True
        self._frozen: frozenset[Layer] = frozenset()    # frozen at the last compile (or build)
        self.loss = self.optimizer = None        # type: ignore[assignment]  # until compile()
        self.metrics: list[metrics_module.Metric] = []
        self._metric_names: list[str] = []
        self._weighted_metric_names: list[str] = []
        self._metric_keys: list[str] = []           # the names fit and evaluate report them under
        seeds = np.random.SeedSequence(self._fixed_seed).spawn(3)
        self._init_rng, self._shuffle_rng, self._dropout_rng = (np.random.default_rng(s)
                                                                for s in seeds)
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
        for layer in layers or []:
            self.add(layer)
        if not self._model_trainable:
            self.trainable = False

    # ------------------------------------------------------------------ structure
    def add(self, layer: Layer) -> None:
        self._refuse_during_fit("add")
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential takes refnn.layers layers, got {type(layer).__name__}")
        if layer.built or getattr(layer, "_in_model", False):
            raise ValueError(f"{layer!r} already belongs to a model; make a new layer")
        if self.built:                            # grow a built model by one layer
            state = self._init_rng.bit_generator.state
            try:
                shape = layer.build(self.output_shape, self.dtype, self._init_rng)
            except Exception:
                self._init_rng.bit_generator.state = state
                layer.built = False
                raise
            old_shape, old_optimizer = self.output_shape, self.optimizer
            self.layers.append(layer)
            self.output_shape = shape
            self._refresh_weight_lists()
            try:
                if self.optimizer is not None and self.optimizer.iterations == 0:
                    # built for the old weights only: a fresh one of the same configuration
                    self._fresh_optimizer()
                if self.optimizer is not None:
                    self.optimizer.build(self._trainable)
            except Exception:                     # a refused add leaves the model as it was
                self.layers.pop()
                self.output_shape, self.optimizer = old_shape, old_optimizer
                self._refresh_weight_lists()
                self._init_rng.bit_generator.state = state
                layer.built = False
                raise
        else:
            self.layers.append(layer)
            if len(self.layers) == 1 and layer.input_shape is not None:
                try:
                    self.build(layer.input_shape)
                except Exception:
                    self.layers.pop()
                    raise
        layer._in_model = True

    def build(self, input_shape: Sequence[int | None]) -> None:
        """Make every layer's weights for per-sample input shape `input_shape`, e.g. (784,);
        Keras's spelling with the batch axis first, (None, 784), means the same."""
        if not self.layers:
            raise ValueError("the model has no layers")
        input_shape = sample_shape("input_shape", input_shape, batch_axis=True)
        shape = input_shape
        state = self._init_rng.bit_generator.state
        try:
            for layer in self.layers:
                shape = layer.build(shape, self.dtype, self._init_rng)
        except Exception:
            self._unbuild(state)
            raise
        self.input_shape = input_shape
        self.output_shape = shape
        self.built = True
        self._refresh_weight_lists()
        if self.optimizer is not None:
            self.optimizer.build(self._trainable)

    def _unbuild(self, rng_state: Mapping[str, Any]) -> None:
        """Forget a build (after a call that failed): the next call builds afresh, with the
        same initial weights it would have had."""
        for top in self.layers:
            for layer, _ in walk(top):
                layer.built = False
        self.built = False
        self._init_rng.bit_generator.state = rng_state
        if self.optimizer is not None and self.optimizer.iterations == 0:
            # built for the forgotten weights: a fresh one of the same configuration
            self._fresh_optimizer()

    def _fresh_optimizer(self) -> None:
        """Replace the optimizer by a new one of the same configuration, this model's."""
        self.optimizer = optimizers_module.deserialize(self.optimizer.get_config())
        _OPTIMIZER_OWNERS[self.optimizer] = weakref.ref(self)

    def _refresh_weight_lists(self) -> None:
        """The weights, and what fit trains: the trainable mask, the trainable weights (the
        optimizer's) and the frozen layers, chosen now from the layers' `trainable`."""
        self._weights = [w for l in self.layers for w in l.weights]
        self._trainable_mask = mask = self._live_trainable_mask()
        self._trainable = [w for w, m in zip(self._weights, mask) if m]
        self._frozen = self._frozen_now()

    # ------------------------------------------------------------------ trainable
    @property
    def trainable(self) -> bool:
        """Keras's model.trainable: setting it sets every layer's `trainable` (default True).

        As in Keras, fit trains the weights that were trainable at the last compile(): after
        changing `trainable` (of the model or of a layer), call compile() again. Until then fit
        trains as before and warns; summary(), trainable_weights and non_trainable_weights
        show the new setting."""
        return self._model_trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = flag("trainable", value)
        self._model_trainable = value
        for layer in self.layers:
            layer.trainable = value

    def _live_trainable_mask(self) -> list[bool]:
        """For each weight: trained by the optimizer under the `trainable` settings now."""
        return [m and self.trainable for l in self.layers for m in l.trainable_mask()]

    def _frozen_now(self) -> frozenset[Layer]:
        """The layers (inside blocks too) that the `trainable` settings now freeze."""
        return frozenset(l for top in self.layers
                         for l, trained in walk(top, self.trainable) if not trained)

    @property
    def weights(self) -> list[NDArray[Any]]:
        """All weights (the arrays themselves), in get_weights() order; [] before the build."""
        return [w for l in self.layers for w in l.weights] if self.built else []

    @property
    def trainable_weights(self) -> list[NDArray[Any]]:
        """The weights of trainable layers, in get_weights() order (the current setting)."""
        if not self.built:
            return []
        return [w for w, m in zip(self.weights, self._live_trainable_mask()) if m]

    @property
    def non_trainable_weights(self) -> list[NDArray[Any]]:
        """Frozen layers' weights and batch normalisation's moving statistics, in get_weights()
        order (the current setting)."""
        if not self.built:
            return []
        return [w for w, m in zip(self.weights, self._live_trainable_mask()) if not m]

    def _warn_if_trainable_changed(self) -> None:
        now = self._frozen_now()
        if not self.built or now == self._frozen:
            return
        changed = [layer_label(i, top) for i, top in enumerate(self.layers)
                   if any((l in now) != (l in self._frozen) for l, _ in walk(top))]
        warnings.warn(f"the trainable attribute of {', '.join(changed)} changed since compile(); "
                      f"as in Keras, fit trains the weights chosen at compile() until you call "
                      f"compile() again", UserWarning, stacklevel=3)

    def _require_built(self, what: str) -> None:
        if not self.built:
            raise ValueError(f"{what}: the model is not built yet; give the first layer "
                             f"input_shape=..., call build(input_shape), or fit it on data")

    def weight_names(self) -> list[str]:
        names: list[str] = []
        for i, layer in enumerate(self.layers):
            names += [f"{layer_label(i, layer)}/{n}" for n in layer.weight_names()]
        return names

    def get_weights(self) -> list[NDArray[Any]]:
        """Copies of all weights, Keras order: per layer kernel (fan_in, units), bias, ..."""
        self._require_built("get_weights")
        return [w.copy() for w in self._weights]

    def set_weights(self, weights: Sequence[ArrayLike]) -> None:
        """Assign all weights (cast to the model's dtype); nothing changes if any is wrong."""
        self._refuse_during_fit("set_weights")
        self._require_built("set_weights")
        if not isinstance(weights, (list, tuple)) or len(weights) != len(self._weights):
            got = len(weights) if isinstance(weights, (list, tuple)) else type(weights).__name__
            raise ValueError(f"weights must be a list of {len(self._weights)} arrays, got {got}")
        new = []
        for name, old, w in zip(self.weight_names(), self._weights, weights):
            w = as_array(name, w, dtype=self.dtype, allow_empty=old.size == 0)
            if w.shape != old.shape:
                raise ValueError(f"{name} must have shape {old.shape}, got {w.shape}")
            new.append(w)
        for old, w in zip(self._weights, new):
            old[...] = w

    def count_params(self) -> int:
        self._require_built("count_params")
        return int(sum(w.size for w in self._weights))

    # ------------------------------------------------------------------ compile
    def compile(self, loss: str | Loss | type[Loss] | dict[str, Any],
                optimizer: str | Optimizer | FullBatchOptimizer | dict[str, Any] = "rmsprop",
                metrics: Sequence[str] | None = None,
                weighted_metrics: Sequence[str] | None = None) -> None:
        """Choose the loss, the optimizer (name or object) and the metrics (e.g. ["acc"]);
        weighted_metrics are weighted by fit's and evaluate's sample weights (refnn.weighting).

        Also fixes what fit trains, from the layers' `trainable` now (as Keras): the optimizer
        gets slots for the trainable weights only."""
        self._refuse_during_fit("compile")
        loss = loss_functions.get(loss)
        optimizer = optimizers_module.get(optimizer)
        owner = _OPTIMIZER_OWNERS.get(optimizer)
        if owner is not None and owner() is not None and owner() is not self:
            raise ValueError(f"this {type(optimizer).__name__} belongs to another model (it "
                             f"holds that model's slots and step count); compile each model "
                             f"with its own optimizer, e.g. optimizer='adam' or a new "
                             f"{type(optimizer).__name__}(...)")
        shape = (1,) + tuple(self.output_shape) if self.built else (1, 2)
        metrics = metrics_module.check_names(metrics, loss, shape)
        weighted = metrics_module.check_names(weighted_metrics, loss, shape, "weighted_metrics")
        if self.built:
            trainable = [w for w, m in zip(self._weights, self._live_trainable_mask()) if m]
            try:
                optimizer.build(trainable)       # fails before anything is replaced
            except ValueError as e:
                if optimizer is not self.optimizer:
                    raise
                raise ValueError(f"{e} (the trainable weights changed since the last compile(): "
                                 f"compile with a new optimizer, e.g. optimizer='adam')") from None
            self._refresh_weight_lists()
        self.loss, self.optimizer, self._metric_names = loss, optimizer, metrics
        self._weighted_metric_names = weighted
        self._metric_keys = metrics_module.report_names(metrics, weighted)
        _OPTIMIZER_OWNERS[optimizer] = weakref.ref(self)     # one model's optimizer (above)
        self.compiled = True

    def _require_compiled(self, what: str) -> None:
        if not self.compiled:
            raise ValueError(f"{what}: call compile(loss=..., optimizer=...) first")

    def _new_metrics(self) -> list[metrics_module.Metric]:
        return metrics_module.compiled(self._metric_names, self._weighted_metric_names,
                                       self.loss, (1,) + tuple(self.output_shape))

    # ------------------------------------------------------------------ forward / backward
    def _forward(self, x: NDArray[Any], ctx: Context) -> NDArray[Any]:
        g = x
        for layer in self.layers:
            g = layer.forward(g, ctx)
        return g

    def _backward(self, y: NDArray[Any], yhat: NDArray[Any], w: NDArray[Any] | None = None
                  ) -> tuple[NDArray[np.float64], list[NDArray[Any]]]:
        """The per-sample losses l_i and the gradients of L = 1/n sum_i w_i l_i (w None: every
        w_i = 1), in get_weights() order (refnn.backprop)."""
        return backprop.backward(self, y, yhat, w)

    def loss_and_gradients(self, X: ArrayLike, Y: ArrayLike, training: bool = True,
                           sample_weight: ArrayLike | None = None
                           ) -> tuple[float, list[NDArray[Any]]]:
        """The loss (mean over samples; with sample_weight w, 1/n sum_i w_i l_i) and its
        gradients in get_weights() order.

        training=True is the gradient fit follows: batch statistics in batch normalisation
        (moving statistics left alone; a frozen one uses them) and dropout with a fixed mask
        (drawn from the model's seed, the same on every call, so that finite differences see
        one function). A frozen layer's weights get their gradients too (fit does not apply
        them); the moving statistics, constants of the loss, get zeros, also where they
        normalise (training=False, or a frozen batch normalisation): finite differences see
        them move the loss there, so gradcheck such a model over its other weights."""
        return backprop.loss_and_gradients(self, X, Y, training, sample_weight)

    def kink_signature(self, X: ArrayLike, Y: ArrayLike) -> list[NDArray[Any]]:
        """Where the loss is not differentiable: relu's h > 0 in every layer, Huber's |r| <= delta.
        A finite-difference step that changes it crossed a kink (gradcheck skips that entry)."""
        return backprop.kink_signature(self, X, Y)

    def astype(self, dtype: DTypeLike) -> Sequential:
        """A copy of the model computing in `dtype` (gradcheck checks in float64)."""
        self._require_built("astype")
        clone = Sequential([layers_module.deserialize(layers_module.serialize(l))
                            for l in self.layers], seed=self.seed, dtype=dtype, name=self.name,
                           trainable=self.trainable)
        clone.build(self.input_shape)
        clone.set_weights(self.get_weights())
        if self.compiled:
            clone.compile(losses_module.deserialize(self.loss.get_config()),
                          optimizers_module.deserialize(self.optimizer.get_config()),
                          list(self._metric_names), list(self._weighted_metric_names))
        return clone

    # ------------------------------------------------------------------ fit
    def fit(self, x: ArrayLike, y: ArrayLike, batch_size: int = 32, epochs: int = 1,
            verbose: int | str = "auto", validation_split: float = 0.0,
            validation_data: tuple[ArrayLike, ...] | None = None, shuffle: bool = True,
            callbacks: Callback | Sequence[Callback] | None = None, initial_epoch: int = 0,
            sample_weight: ArrayLike | None = None,
            class_weight: dict[int, float] | None = None) -> History:
        """Train on (x, y) in mini-batches of batch_size; returns a History. As in Keras,
        `epochs` is the index of the last epoch: epochs initial_epoch, ..., epochs - 1 run
        (fit(epochs=3, initial_epoch=1) runs two), and validation_split holds out the last
        n - floor(n (1 - validation_split)) samples, before any shuffling. sample_weight (n,)
        and class_weight {class: weight} weigh each sample's loss (refnn.weighting);
        validation_data may be (x_val, y_val, sample_weight_val).

        Everything is checked before any weight moves: a bad argument changes nothing.
        Ctrl-C stops cleanly after the current batch; the model stays usable. The loop and its
        step strategies live in refnn.training."""
        with self._fitting():
            return training.fit(self, x, y, batch_size=batch_size, epochs=epochs,
                                verbose=verbose, validation_split=validation_split,
                                validation_data=validation_data, shuffle=shuffle,
                                callbacks=callbacks, initial_epoch=initial_epoch,
                                sample_weight=sample_weight, class_weight=class_weight)

    def _fitting(self) -> AbstractContextManager[None]:
        """safeguards.fitting: fit's thread alone may use the model while fit runs."""
        return safeguards.fitting(self)

    def _refuse_during_fit(self, what: str) -> None:
        safeguards.refuse_during_fit(self, what)

    def _fast_plan(self) -> Any:
        """training.compiled_plan: what the compiled step trains, or None (the layer-by-layer
        step)."""
        return training.compiled_plan(self)

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_prepared(self, x: NDArray[Any], y: NDArray[Any], batch_size: int,
                           callbacks: Sequence[Callback] = (),
                           w: NDArray[Any] | None = None) -> list[float]:
        return inference.evaluate_prepared(self, x, y, batch_size, callbacks, w)

    def evaluate(self, x: ArrayLike, y: ArrayLike, batch_size: int = 32,
                 verbose: int | str = "auto", return_dict: bool = False,
                 callbacks: Callback | Sequence[Callback] | None = None,
                 sample_weight: ArrayLike | None = None
                 ) -> float | list[float] | dict[str, float]:
        """[loss, metric, ...] over (x, y) in inference mode (the loss alone without metrics;
        with return_dict, {"loss": ..., metric name: ...}, as Keras); sample_weight weighs the
        loss and the weighted metrics. callbacks get the on_test_* hooks (refnn.inference)."""
        self._refuse_during_fit("evaluate")
        return inference.evaluate(self, x, y, batch_size, verbose, return_dict, callbacks,
                                  sample_weight)

    def predict(self, x: ArrayLike, batch_size: int = 32, verbose: int | str = 0,
                callbacks: Callback | Sequence[Callback] | None = None) -> NDArray[Any]:
        """The network's outputs for x, in inference mode; callbacks get the on_predict_*
        hooks (on_predict_batch_end's logs: {"outputs": the batch's outputs})."""
        self._refuse_during_fit("predict")
        return inference.predict(self, x, batch_size, verbose, callbacks)

    def summary(self, print_fn: Callable[[str], object] | None = None) -> None:
        """Print the layers, output shapes and parameter counts, as Keras does; returns None
        (as Keras: in a notebook the table shows once)."""
        self._require_built("summary")
        (print_fn or print)(inference.summary_text(self))

    # ------------------------------------------------------------------ save / load
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "seed": self.seed, "dtype": self.dtype.name,
                "trainable": self.trainable,
                "layers": [layers_module.serialize(l) for l in self.layers],
                "input_shape": list(self.input_shape) if self.built else None}

    def save(self, path: str | Path) -> None:
        """Architecture, weights, compile state and optimizer state in one .npz (no pickle);
        refnn.load_model reads it back (see refnn.saving)."""
        self._refuse_during_fit("save")
        saving.save_model(self, path)

    def save_weights(self, path: str | Path) -> None:
        """The weights alone, to a file ending .weights.npz (saving.save_weights)."""
        self._refuse_during_fit("save_weights")
        saving.save_weights(self, path)

    def load_weights(self, path: str | Path) -> None:
        """Weights from save_weights (or save); a file that does not fit changes nothing."""
        self._refuse_during_fit("load_weights")
        saving.load_weights(self, path)

    def export(self, path: str | Path, format: str = "onnx") -> Any:
        """For inference elsewhere (Keras 3's spelling): "onnx", opset 17 (refnn.export)."""
        from . import export as export_module       # optional dependency: imported on use
        self._require_built("export")
        return export_module.export(self, path, format=format)

    def leaf_layers(self) -> list[Layer]:
        """Every layer that computes, inside blocks too, in walk order (layers.leaves)."""
        return [leaf for layer in self.layers for leaf in leaves(layer)]

    def __repr__(self) -> str:
        return f"Sequential({self.layers!r}, dtype={self.dtype.name!r})"
