"""Sequential: a stack of layers trained the Keras way (compile, fit, evaluate, predict).

One training step on a mini-batch (X_b, Y_b):
  forward:   g_0 = X_b;  g_l = layer_l(g_{l-1})                      (training mode)
  loss:      L = mean over the batch of the per-sample loss
  backward:  epsilon at the output (fused softmax+CE / sigmoid+BCE: epsilon = (yhat - y)/n),
             then each layer from the output side inwards returns dL/dg_prev and its gradients
  update:    the optimizer moves every trainable weight (a fused C kernel per array)
The mean of the per-sample gradients is the batch gradient; refnn.textbook shows the
per-sample algorithm this generalises.

Frozen layers (layer.trainable = False, as in Keras): compile() chooses the trainable weights
(self._trainable, what the optimizer is built for) and the frozen layers (a frozen batch
normalisation runs in inference mode); fit trains with that choice until the next compile(),
as Keras does. A change of `trainable` after compile() is not applied by fit, which warns.
"""
import json
import math
import os
import signal
import sys
import threading
import warnings
import zipfile

import numpy as np

from . import kernels
from . import layers as layers_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from ._validate import (NonFiniteError, as_array, as_dtype, check_same_samples, flag,
                        positive_int, positive_number)
from .callbacks import Callback, History, ProgressDisplay
from .layers import Context, Dense, Flatten, Layer

FORMAT_VERSION = 1


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

    def __init__(self, layers=None, seed=None, dtype="float32", name=None, trainable=True):
        self.dtype = as_dtype("dtype", dtype)
        self._model_trainable = flag("trainable", trainable)
        if seed is not None:
            seed = positive_int("seed", seed, allow_zero=True)
        self.seed = seed
        # without a seed, one is drawn now and kept: loss_and_gradients's dropout mask must
        # be the same on every call
        self._fixed_seed = seed if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        self.name = name or "sequential"
        self.layers = []
        self.built = False
        self.compiled = False
        self.stop_training = False
        # fit trains a plain stack of Dense layers through one compiled step per batch
        # (kernels.DenseTrainer); False forces the layer-by-layer path (same numbers)
        self.use_fast_path = True
        self._frozen = frozenset()       # the layers frozen at the last compile (or build)
        self.loss = self.optimizer = None
        self.metrics = []
        self._metric_names = []
        seeds = np.random.SeedSequence(self._fixed_seed).spawn(3)
        self._init_rng, self._shuffle_rng, self._dropout_rng = (np.random.default_rng(s) for s in seeds)
        if layers is not None and not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
        for layer in layers or []:
            self.add(layer)
        if not self._model_trainable:
            self.trainable = False

    # ------------------------------------------------------------------ structure
    def add(self, layer):
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
            self.layers.append(layer)
            self.output_shape = shape
            self._refresh_weight_lists()
            if self.optimizer is not None:
                self.optimizer.build(self._trainable)
        else:
            self.layers.append(layer)
            if len(self.layers) == 1 and layer.input_shape is not None:
                try:
                    self.build(layer.input_shape)
                except Exception:
                    self.layers.pop()
                    raise
        layer._in_model = True

    def build(self, input_shape):
        """Make every layer's weights for per-sample input shape `input_shape`."""
        if not self.layers:
            raise ValueError("the model has no layers")
        shape = tuple(int(d) for d in input_shape)
        state = self._init_rng.bit_generator.state
        try:
            for layer in self.layers:
                shape = layer.build(shape, self.dtype, self._init_rng)
        except Exception:
            self._unbuild(state)
            raise
        self.input_shape = tuple(int(d) for d in input_shape)
        self.output_shape = shape
        self.built = True
        self._refresh_weight_lists()
        if self.optimizer is not None:
            self.optimizer.build(self._trainable)

    def _unbuild(self, rng_state):
        """Forget a build (after a call that failed): the next call builds afresh, with the
        same initial weights it would have had."""
        for layer in self.layers:
            for leaf in _leaves(layer):
                leaf.built = False
            layer.built = False
        self.built = False
        self._init_rng.bit_generator.state = rng_state
        if self.optimizer is not None and self.optimizer.iterations == 0:
            # built for the forgotten weights: a fresh one of the same configuration
            self.optimizer = optimizers_module.deserialize(self.optimizer.get_config())

    def _refresh_weight_lists(self):
        """The weights, and what fit trains: the trainable mask, the trainable weights (the
        optimizer's) and the frozen layers, chosen now from the layers' `trainable`."""
        self._weights = [w for l in self.layers for w in l.weights]
        mask = self._live_trainable_mask()
        self._trainable_mask = mask
        self._trainable = [w for w, m in zip(self._weights, mask) if m]
        self._frozen = frozenset(l for top in self.layers
                                 for l, trained in _walk(top, self.trainable) if not trained)
        self._compiled_flags = self._trainable_flags()

    # ------------------------------------------------------------------ trainable
    @property
    def trainable(self):
        """Keras's model.trainable: setting it sets every layer's `trainable` (default True).

        As in Keras, fit trains the weights that were trainable at the last compile(): after
        changing `trainable` (of the model or of a layer), call compile() again. Until then fit
        trains as before and warns; summary(), trainable_weights and non_trainable_weights
        show the new setting."""
        return self._model_trainable

    @trainable.setter
    def trainable(self, value):
        value = flag("trainable", value)
        self._model_trainable = value
        for layer in self.layers:
            layer.trainable = value

    def _live_trainable_mask(self):
        return [m and self.trainable for l in self.layers for m in l.trainable_mask()]

    def _trainable_flags(self):
        """Per layer: whether it and each layer inside it are trained now."""
        return [tuple(trained for _, trained in _walk(top, self.trainable)) for top in self.layers]

    @property
    def weights(self):
        """All weights (the arrays themselves), in get_weights() order; [] before the build."""
        return [w for l in self.layers for w in l.weights] if self.built else []

    @property
    def trainable_weights(self):
        """The weights of trainable layers, in get_weights() order (the current setting)."""
        if not self.built:
            return []
        return [w for w, m in zip(self.weights, self._live_trainable_mask()) if m]

    @property
    def non_trainable_weights(self):
        """Frozen layers' weights and batch normalisation's moving statistics, in get_weights()
        order (the current setting)."""
        if not self.built:
            return []
        return [w for w, m in zip(self.weights, self._live_trainable_mask()) if not m]

    def _warn_if_trainable_changed(self):
        if not self.built or self._trainable_flags() == self._compiled_flags:
            return
        changed = [_layer_label(i, layer) for i, (layer, now, then) in
                   enumerate(zip(self.layers, self._trainable_flags(), self._compiled_flags))
                   if now != then]
        warnings.warn(f"the trainable attribute of {', '.join(changed)} changed since compile(); "
                      f"as in Keras, fit trains the weights chosen at compile() until you call "
                      f"compile() again", UserWarning, stacklevel=3)

    def _require_built(self, what):
        if not self.built:
            raise ValueError(f"{what}: the model is not built yet; give the first layer "
                             f"input_shape=..., call build(input_shape), or fit it on data")

    def weight_names(self):
        names = []
        for i, layer in enumerate(self.layers):
            names += [f"{_layer_label(i, layer)}/{n}" for n in layer.weight_names()]
        return names

    def get_weights(self):
        """Copies of all weights, Keras order: per layer kernel (fan_in, units), bias, ..."""
        self._require_built("get_weights")
        return [w.copy() for w in self._weights]

    def set_weights(self, weights):
        """Assign all weights (cast to the model's dtype); nothing changes if any is wrong."""
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

    def count_params(self):
        self._require_built("count_params")
        return int(sum(w.size for w in self._weights))

    # ------------------------------------------------------------------ compile
    def compile(self, loss, optimizer="rmsprop", metrics=None):
        """Choose the loss, the optimizer (name or object) and the metrics (e.g. ["acc"]).

        Also fixes what fit trains, from the layers' `trainable` now (as Keras): the optimizer
        gets slots for the trainable weights only."""
        loss = losses_module.get(loss)
        optimizer = optimizers_module.get(optimizer)
        if metrics is None:
            metrics = []
        if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
            raise TypeError(f"metrics must be a list of names such as ['acc'], got {metrics!r}")
        for m in metrics:
            if not isinstance(m, str):
                raise TypeError(f"metrics must be names such as 'acc', got {m!r}")
        shape = (1,) + tuple(self.output_shape) if self.built else (1, 2)
        for m in metrics:                        # unknown names fail now, not in fit
            metrics_module.get(m, loss, shape)
        if self.built:
            mask = self._live_trainable_mask()
            trainable = [w for w, m in zip(self._weights, mask) if m]
            try:
                optimizer.build(trainable)       # fails before anything is replaced
            except ValueError as e:
                if optimizer is not self.optimizer:
                    raise
                raise ValueError(f"{e} (the trainable weights changed since the last compile(): "
                                 f"compile with a new optimizer, e.g. optimizer='adam')") from None
            self._refresh_weight_lists()
        self.loss, self.optimizer, self._metric_names = loss, optimizer, list(metrics)
        self.compiled = True

    def _require_compiled(self, what):
        if not self.compiled:
            raise ValueError(f"{what}: call compile(loss=..., optimizer=...) first")

    def _new_metrics(self):
        return [metrics_module.get(m, self.loss, (1,) + tuple(self.output_shape))
                for m in self._metric_names]

    # ------------------------------------------------------------------ data
    def _prepare_x(self, x, name="x", check_finite=True):
        x = as_array(name, x, dtype=self.dtype, ndim=None, check_finite=check_finite)
        if x.ndim < 2:
            raise ValueError(f"{name} must have a sample axis first, shape (n_samples, ...), "
                             f"got shape {x.shape}")
        if not self.built:
            self.build(x.shape[1:])
            if self.optimizer is not None:
                self.optimizer.build(self._trainable)
        if tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{name} has per-sample shape {tuple(x.shape[1:])}, but the model "
                             f"expects {tuple(self.input_shape)}")
        return x

    def _prepare_xy(self, x, y, xname="x", yname="y", check_finite=True):
        """x and y checked and converted; check_finite=False leaves x's values unchecked (the
        fast path checks each row as it gathers the first epoch's batches)."""
        if not self.built:
            state = self._init_rng.bit_generator.state
            try:
                return (self._prepare_xy(x, y, xname, yname, check_finite)
                        if self._build_from(x, xname) else None)
            except Exception:
                if self.built:
                    self._unbuild(state)
                raise
        x = self._prepare_x(x, xname, check_finite)
        try:
            y = self.loss.targets(y, (x.shape[0],) + tuple(self.output_shape), self.dtype)
        except (ValueError, TypeError) as e:
            msg = str(e)
            if yname != "y":
                msg = msg.replace("y ", f"{yname} ", 1) if msg.startswith("y ") else f"{yname}: {msg}"
            raise type(e)(msg) from None
        check_same_samples(**{xname: x, yname: y})
        return x, y

    def _build_from(self, x, name):
        """Build for the per-sample shape of x (checked first); True when built."""
        x = as_array(name, x, dtype=self.dtype, check_finite=False)
        if x.ndim < 2:
            raise ValueError(f"{name} must have a sample axis first, shape (n_samples, ...), "
                             f"got shape {x.shape}")
        self.build(x.shape[1:])
        return True

    # ------------------------------------------------------------------ forward / backward
    @property
    def _fused(self):
        act = self.layers[-1].output_activation
        return act is not None and self.loss.fused(act)

    def _forward(self, x, ctx):
        g = x
        for layer in self.layers:
            g = layer.forward(g, ctx)
        return g

    def _backward(self, y, yhat):
        """The per-sample losses and the gradients of the mean loss, in get_weights() order."""
        last = self.layers[-1]
        if self._fused:
            # softmax + CE, sigmoid + BCE: epsilon = dL/dh straight from the logits h
            per_sample, epsilon = self.loss.fused_gradient(y, last.h)
            d = last.backward_from_h(np.ascontiguousarray(epsilon, dtype=self.dtype))
        else:
            per_sample = self.loss.per_sample(y, yhat)
            d = last.backward(np.ascontiguousarray(self.loss.gradient(y, yhat), dtype=self.dtype))
        for layer in reversed(self.layers[:-1]):
            d = layer.backward(d)
        grads = [g for layer in self.layers for g in layer.aligned_grads()]
        return per_sample, grads

    def loss_and_gradients(self, X, Y, training=True):
        """The loss (mean over samples) and its gradients in get_weights() order.

        training=True is the gradient fit follows: batch statistics in batch normalisation
        (moving statistics left alone; a frozen one uses them) and dropout with a fixed mask
        (drawn from the model's seed, the same on every call, so that finite differences see
        one function). A frozen layer's weights get their gradients too (fit does not apply
        them); the moving statistics, constants of the loss, get zeros, also where they
        normalise (training=False, or a frozen batch normalisation): finite differences see
        them move the loss there, so gradcheck such a model over its other weights."""
        self._require_compiled("loss_and_gradients")
        if not isinstance(training, (bool, np.bool_)):
            raise TypeError(f"training must be True or False, got {training!r}")
        X, Y = self._prepare_xy(X, Y, "X", "Y")
        ctx = Context(training=bool(training), rng=np.random.default_rng(self._fixed_seed),
                      update_state=False, frozen=self._frozen)
        with _overflow_names("X"):
            yhat = self._forward(X, ctx)
            per_sample, grads = self._backward(Y, yhat)
        return float(np.mean(per_sample, dtype=np.float64)), [np.array(g) for g in grads]

    def kink_signature(self, X, Y):
        """Where the loss is not differentiable: relu's h > 0 in every layer, Huber's |r| <= delta.
        A finite-difference step that changes it crossed a kink (gradcheck skips that entry)."""
        X, Y = self._prepare_xy(X, Y, "X", "Y")
        ctx = Context(training=True, rng=np.random.default_rng(self._fixed_seed),
                      update_state=False, frozen=self._frozen)
        signature = []
        g = X
        for layer in self.layers:
            g = layer.forward(g, ctx)
            for sub in _leaves(layer):
                if getattr(sub, "activation", None) == "relu" and hasattr(sub, "h"):
                    signature.append(np.asarray(sub.h) > 0)
        kinks = getattr(self.loss, "kink_signature", None)
        if kinks is not None:
            signature += list(kinks(Y, g))
        return signature

    def astype(self, dtype):
        """A copy of the model computing in `dtype` (gradcheck checks in float64)."""
        self._require_built("astype")
        clone = Sequential([layers_module.deserialize(layers_module.serialize(l)) for l in self.layers],
                           seed=self.seed, dtype=dtype, name=self.name, trainable=self.trainable)
        clone.build(self.input_shape)
        clone.set_weights(self.get_weights())
        if self.compiled:
            clone.compile(losses_module.deserialize(self.loss.get_config()),
                          optimizers_module.deserialize(self.optimizer.get_config()),
                          list(self._metric_names))
        return clone

    # ------------------------------------------------------------------ fit
    def fit(self, x, y, batch_size=32, epochs=1, verbose="auto", validation_split=0.0,
            validation_data=None, shuffle=True, callbacks=None, initial_epoch=0):
        """Train for `epochs` passes over (x, y) in mini-batches; returns a History.

        Everything is checked before any weight moves: a bad argument changes nothing.
        Ctrl-C stops cleanly after the current batch; the model stays usable."""
        self._require_compiled("fit")
        self._warn_if_trainable_changed()
        batch_size = positive_int("batch_size", batch_size)
        epochs = positive_int("epochs", epochs)
        initial_epoch = positive_int("initial_epoch", initial_epoch, allow_zero=True)
        verbose = _verbosity(verbose)
        validation_split = positive_number("validation_split", validation_split, allow_zero=True)
        if validation_split >= 1:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
        if not isinstance(shuffle, bool):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            raise TypeError(f"callbacks must be a list of Callback objects, got "
                            f"{type(callbacks).__name__}")
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be refnn.callbacks.Callback objects, got "
                                f"{type(cb).__name__}")
        # the compiled step checks x row by row in the first epoch (one pass less over the
        # data); should a row be bad, everything is put back as it was before raising
        deferred = self._fast_plan() is not None
        x, y = self._prepare_xy(x, y, check_finite=not deferred)
        val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                got = (f"a {type(validation_data).__name__} of {len(validation_data)} items"
                       if isinstance(validation_data, (tuple, list))
                       else f"{type(validation_data).__name__}")
                raise ValueError(f"validation_data must be a tuple (x_val, y_val), got {got}")
            val = self._prepare_xy(*validation_data, "x_val", "y_val")
        elif validation_split > 0:
            n_val = int(math.floor(x.shape[0] * validation_split))
            if n_val == 0 or n_val == x.shape[0]:
                raise ValueError(f"validation_split={validation_split} of {x.shape[0]} samples "
                                 f"leaves no validation or no training samples")
            # as Keras: the last samples, before any shuffling
            val = (x[-n_val:], y[-n_val:])
            x, y = x[:-n_val], y[:-n_val]
            if deferred:                                   # rows the training never gathers
                as_array("x", val[0], dtype=self.dtype)

        history = History()
        n = x.shape[0]
        steps = -(-n // batch_size)
        history.params = {"epochs": epochs, "steps": steps, "batch_size": batch_size,
                          "verbose": verbose}
        all_callbacks = [history] + callbacks
        if verbose:
            all_callbacks.append(ProgressDisplay(verbose, epochs, steps))
        for cb in all_callbacks:
            cb.set_model(self)
        history.model = self
        self.stop_training = False
        for cb in all_callbacks:
            cb.on_train_begin()
        before = self._snapshot() if deferred else None
        with _StopOnInterrupt(self):
            if not self.optimizer.stochastic:
                self._fit_full_batch(x, y, epochs, initial_epoch, val, all_callbacks)
            else:
                try:
                    self._fit_minibatches(x, y, batch_size, epochs, initial_epoch, shuffle,
                                          val, all_callbacks)
                except NonFiniteError as e:
                    if before is None:
                        raise
                    self._restore(before)
                    raise NonFiniteError(str(e).replace("X must", "x must", 1)) from None
        for cb in all_callbacks:
            cb.on_train_end()
        return history

    _ELEMENTWISE = ("sigmoid", "tanh", "relu", "linear")

    def _fast_plan(self):
        """(dense layers, their activations, the fused loss name) when fit can take the
        compiled step: Dense layers only (after an optional Flatten), with biases, no batch
        normalisation, no kernel mask, none frozen (the step updates every W and b); the
        output and loss one of softmax + CE (or sparse CE), sigmoid + BCE, or an elementwise
        activation + MSE; a stochastic optimizer."""
        if not self.use_fast_path or not self.optimizer.stochastic:
            return None
        layers = self.layers[1:] if isinstance(self.layers[0], Flatten) else self.layers
        if not layers or not all(type(l) is Dense and l.batch_norm is None and l.use_bias and
                                 l.kernel_mask is None for l in layers):
            return None
        # a frozen layer: the layer-by-layer step (before the first build, the setting the
        # build will take)
        if not all(self._trainable_mask if self.built else self._live_trainable_mask()):
            return None
        acts = [l.activation for l in layers]
        if any(a not in self._ELEMENTWISE for a in acts[:-1]):
            return None
        loss = self.loss
        if type(loss) in (losses_module.CategoricalCrossentropy,
                          losses_module.SparseCategoricalCrossentropy) and acts[-1] == "softmax":
            kind = "softmax_crossentropy"
        elif type(loss) is losses_module.BinaryCrossentropy and acts[-1] == "sigmoid":
            kind = "sigmoid_binary_crossentropy"
        elif type(loss) is losses_module.MeanSquaredError and acts[-1] in self._ELEMENTWISE:
            kind = "mean_squared_error"
        else:
            return None
        return layers, acts, kind

    def _fit_minibatches(self, x, y, batch_size, epochs, initial_epoch, shuffle, val, callbacks):
        """Epochs of mini-batch steps. A step computes the batch's per-sample losses and
        gradients, then the optimizer updates the weights; the step is the compiled one
        (kernels.DenseTrainer) for a plain Dense stack, else the layer-by-layer one."""
        plan = self._fast_plan()
        step = (self._fast_step(plan, x, y, batch_size) if plan is not None
                else self._layer_step(x, y))
        n = x.shape[0]
        for epoch in range(initial_epoch, initial_epoch + epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            order = self._shuffle_rng.permutation(n) if shuffle else np.arange(n)
            order = order.astype(np.intp, copy=False)
            metrics = self._new_metrics()
            loss_sum, seen = 0.0, 0
            for batch, start in enumerate(range(0, n, batch_size)):
                idx = order[start:start + batch_size]
                batch_loss, yhat, apply = step(idx)
                if not math.isfinite(batch_loss):
                    self.stop_training = True
                    print(f"refnn: the loss became {batch_loss} in epoch {epoch + 1}, batch "
                          f"{batch + 1}; training stopped before that update (try a smaller "
                          f"learning rate)", file=sys.stderr)
                else:
                    apply()                                  # the optimizer's update
                    for m in metrics:
                        m.update(y[idx], yhat, checked=True)
                loss_sum += batch_loss * len(idx)
                seen += len(idx)
                logs = {"loss": loss_sum / seen, **{m.name: m.result() for m in metrics}}
                for cb in callbacks:
                    cb.on_batch_end(batch, {**logs, "loss": batch_loss} if
                                    not math.isfinite(batch_loss) else logs)
                if self.stop_training:
                    break
            self._end_epoch(epoch, logs, val, callbacks)
            if self.stop_training:
                break

    def _snapshot(self):
        """What fit changes: the weights, the optimizer's state, the shuffling generator."""
        return (self.get_weights(),
                self.optimizer.get_state() if self.optimizer.built else None,
                self._shuffle_rng.bit_generator.state)

    def _restore(self, snapshot):
        weights, state, rng = snapshot
        self.set_weights(weights)
        if state is not None:
            self.optimizer.set_state(state)
        else:
            self.optimizer = optimizers_module.deserialize(self.optimizer.get_config())
        self._shuffle_rng.bit_generator.state = rng

    def _layer_step(self, x, y):
        """The layer-by-layer step: forward, loss gradient, backward through every layer."""
        def step(idx):
            xb, yb = x[idx], y[idx]                           # the batch, gathered
            ctx = Context(training=True, rng=self._dropout_rng, update_state=True,
                          frozen=self._frozen)
            try:
                yhat = self._forward(xb, ctx)
                per_sample, grads = self._backward(yb, yhat)
            except NonFiniteError:
                # the inputs were checked: a value that overflowed inside the network means
                # training diverged
                return math.nan, None, None
            trainable = [g for g, m in zip(grads, self._trainable_mask) if m]
            return (float(np.mean(per_sample, dtype=np.float64)), yhat,
                    lambda: self.optimizer.apply(self._trainable, trainable))
        return step

    def _fast_step(self, plan, x, y, batch_size):
        """The compiled step (kernels.DenseTrainer): one call per batch computes the gradients
        into reused buffers and, for the optimizers that give a fused rule (all of refnn's
        stochastic ones), updates each layer's weights right after its backward pass; else the
        optimizer updates in place without re-checking them. The layer-by-layer step computes
        the same numbers (tests hold them to 1e-12 in float64)."""
        layers, acts, kind = plan
        n = x.shape[0]
        X = x.reshape(n, -1)                                  # Flatten: a view
        Y = y
        if isinstance(self.loss, losses_module.SparseCategoricalCrossentropy):
            Y = np.zeros((n, self.output_shape[-1]), self.dtype)   # class indices -> one-hot
            Y[np.arange(n), y.astype(np.intp)] = 1
        weights = [w for l in layers for w in (l.W, l.b)]
        trainer = kernels.DenseTrainer(weights, X, Y, acts, kind, min(batch_size, n))
        optimizer = self.optimizer
        optimizer.build(weights)
        fused = optimizer.fused_rule()           # the update run inside the step, if it can
        if fused is not None:
            trainer.set_update(*fused)

        def apply():
            optimizer.apply(weights, trainer.grads)

        def count():                             # the step has updated the weights already
            optimizer.iterations += 1

        seen = 0                                 # samples gathered so far: all checked after n

        def step(idx):
            nonlocal seen
            check = seen < n                     # the first epoch checks each row it gathers
            scalars = None if fused is None else optimizer.fused_scalars()
            _, yhat = trainer.step(idx, check_finite=check, scalars=scalars)
            seen += len(idx)
            loss = trainer.mean_loss             # the losses' mean, from the sum the step
            # judged: the step updated exactly when it is finite, which is when fit applies
            return loss, yhat, (apply if fused is None else count)
        return step

    def _end_epoch(self, epoch, logs, val, callbacks):
        logs = dict(logs)
        if val is not None:
            try:
                values = self._evaluate_prepared(*val, batch_size=1024)
            except NonFiniteError:              # the network overflowed on x_val: report nan
                values = [math.nan] * (1 + len(self._metric_names))
            logs["val_loss"] = values[0]
            for name, v in zip(self._metric_names, values[1:]):
                logs[f"val_{name}"] = v
        for cb in callbacks:
            cb.on_epoch_end(epoch, logs)

    def _fit_full_batch(self, x, y, epochs, initial_epoch, val, callbacks):
        """L-BFGS: each epoch one scipy.optimize run on the packed vector of the trainable
        weights (a frozen layer's are not in it)."""
        shapes = [w.shape for w in self._trainable]
        sizes = [w.size for w in self._trainable]

        def unpack(v):
            parts = np.split(v, np.cumsum(sizes)[:-1])
            return [p.reshape(s) for p, s in zip(parts, shapes)]

        def fun(v):
            for w, p in zip(self._trainable, unpack(v)):
                w[...] = p
            ctx = Context(training=True, rng=np.random.default_rng(self._fixed_seed),
                          update_state=False, frozen=self._frozen)
            yhat = self._forward(x, ctx)
            per_sample, grads = self._backward(y, yhat)
            flat = np.concatenate([np.ravel(g) for g, m in zip(grads, self._trainable_mask) if m])
            return float(np.mean(per_sample, dtype=np.float64)), flat.astype(np.float64)

        for epoch in range(initial_epoch, initial_epoch + epochs):
            for cb in callbacks:
                cb.on_epoch_begin(epoch)
            if self._trainable:
                x0 = np.concatenate([w.ravel() for w in self._trainable]).astype(np.float64)
                v, info = self.optimizer.minimize(fun, x0)
                for w, p in zip(self._trainable, unpack(np.asarray(v))):
                    w[...] = p
            else:                                   # every layer frozen: nothing to minimise
                info = {"stop_reason": "no trainable weights", "grad_norm": 0.0,
                        "n_iterations": 0, "n_function_evals": 0}
            values = self._evaluate_prepared(x, y, batch_size=max(1024, x.shape[0]))
            logs = {"loss": values[0], **dict(zip(self._metric_names, values[1:])),
                    "stop_reason": info["stop_reason"], "grad_norm": info["grad_norm"],
                    "iterations": info["n_iterations"],
                    "function_evals": info["n_function_evals"]}
            for cb in callbacks:
                cb.on_batch_end(0, logs)
            self._end_epoch(epoch, logs, val, callbacks)
            if self.stop_training:
                break

    # ------------------------------------------------------------------ evaluate / predict
    def _evaluate_prepared(self, x, y, batch_size):
        metrics = self._new_metrics()
        ctx = Context(training=False)
        loss_sum = 0.0
        for start in range(0, x.shape[0], batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            yhat = self._forward(xb, ctx)
            loss_sum += float(np.sum(self.loss.per_sample(yb, yhat), dtype=np.float64))
            for m in metrics:
                m.update(yb, yhat, checked=True)
        return [loss_sum / x.shape[0]] + [m.result() for m in metrics]

    def evaluate(self, x, y, batch_size=32, verbose="auto"):
        """[loss, metric, ...] over (x, y) in inference mode (the loss alone without metrics)."""
        self._require_compiled("evaluate")
        batch_size = positive_int("batch_size", batch_size)
        verbose = _verbosity(verbose)
        x, y = self._prepare_xy(x, y)
        with _overflow_names("x"):
            values = self._evaluate_prepared(x, y, batch_size)
        if verbose:
            names = ["loss"] + self._metric_names
            print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(names, values)))
        return values if self._metric_names else values[0]

    def predict(self, x, batch_size=32, verbose=0):
        """The network's outputs for x, in inference mode."""
        batch_size = positive_int("batch_size", batch_size)
        _verbosity(verbose)
        x = self._prepare_x(x)
        ctx = Context(training=False)
        with _overflow_names("x"):
            out = [np.array(self._forward(x[s:s + batch_size], ctx))
                   for s in range(0, x.shape[0], batch_size)]
        return np.concatenate(out, axis=0)

    # ------------------------------------------------------------------ summary
    def summary(self, print_fn=None):
        """Layers, output shapes and parameter counts, as Keras prints them."""
        self._require_built("summary")
        rows = [("Layer (type)", "Output Shape", "Param #")]
        for i, layer in enumerate(self.layers):
            kind = type(layer).__name__
            rows.append((f"{_layer_label(i, layer)} ({kind})",
                         str((None,) + tuple(layer.output_shape)), f"{layer.count_params():,}"))
        widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
        line = "-" * sum(widths)
        text = [f'Model: "{self.name}"', line,
                "".join(c.ljust(w) for c, w in zip(rows[0], widths)), "=" * sum(widths)]
        text += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
        trainable = sum(w.size for w in self.trainable_weights)     # frozen layers' are not
        total = self.count_params()
        text += ["=" * sum(widths), f"Total params: {total:,}",
                 f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}",
                 line]
        out = "\n".join(text)
        (print_fn or print)(out)
        return out

    # ------------------------------------------------------------------ save / load
    def get_config(self):
        return {"name": self.name, "seed": self.seed, "dtype": self.dtype.name,
                "trainable": self.trainable,
                "layers": [layers_module.serialize(l) for l in self.layers],
                "input_shape": list(self.input_shape) if self.built else None}

    def save(self, path):
        """Architecture, weights, compile state and optimizer state in one .npz (no pickle)."""
        self._require_built("save")
        config = {"format": "refnn", "version": FORMAT_VERSION, "model": self.get_config()}
        arrays = {f"weight_{i}": w for i, w in enumerate(self._weights)}
        if self.compiled:
            config["compile"] = {"loss": self.loss.get_config(),
                                 "optimizer": self.optimizer.get_config(),
                                 "metrics": list(self._metric_names),
                                 # what the optimizer state belongs to (the layers' configs
                                 # hold trainable as it is now, applied by load's compile)
                                 "trainable_mask": [bool(m) for m in self._trainable_mask]}
            for i, s in enumerate(self.optimizer.get_state()):
                arrays[f"optimizer_{i}"] = np.asarray(s)
            config["compile"]["n_optimizer_state"] = len(self.optimizer.get_state())
        rng_state = {"shuffle": self._shuffle_rng.bit_generator.state,
                     "dropout": self._dropout_rng.bit_generator.state}
        config["rng"] = json.loads(json.dumps(rng_state, default=int))
        masks = {i: leaf.kernel_mask for i, leaf in enumerate(self._leaf_layers())
                 if getattr(leaf, "kernel_mask", None) is not None}
        for i, mask in masks.items():
            arrays[f"kernel_mask_{i}"] = mask
        config["kernel_masks"] = sorted(masks)
        arrays["config_json"] = np.array(json.dumps(config))
        with open(path, "wb") as f:
            np.savez(f, **arrays)

    def _leaf_layers(self):
        return [leaf for layer in self.layers for leaf in _leaves(layer)]

    def __repr__(self):
        return f"Sequential({self.layers!r}, dtype={self.dtype.name!r})"


def _layer_label(i, layer):
    """The layer's name, or its class and position (dense_1), as summary() shows it."""
    return layer.name or f"{type(layer).__name__.lower()}_{i}"


def _walk(layer, trained=True):
    """(layer, trained) for the layer and every layer inside it, outside in: a layer is trained
    when it and every layer around it are trainable (as in Keras, a frozen block's weights are
    all non-trainable)."""
    trained = trained and layer.trainable
    yield layer, trained
    for sub in layer._sublayers():
        yield from _walk(sub, trained)


def _leaves(layer):
    sub = getattr(layer, "layers", None)
    if sub:
        return [leaf for s in sub for leaf in _leaves(s)]
    extra = [layer.batch_norm] if getattr(layer, "batch_norm", None) is not None else []
    return [layer] + extra


class ModelFileNotFoundError(FileNotFoundError, ValueError):
    """No model file at the path (a ValueError too, as Keras raises for a missing file)."""


def load_model(path):
    """A model saved by Sequential.save: architecture, weights, loss, metrics, optimizer and its
    state, so that training continues where it stopped. The file is read with
    allow_pickle=False and its JSON names only refnn's own classes: loading runs no code."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__}")
    if not os.path.isfile(path):
        raise ModelFileNotFoundError(f"no model file at {path}" +
                                     (" (it is a directory)" if os.path.isdir(path) else ""))
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f"{path} is not a refnn model file: {e}") from None
    if "config_json" not in arrays:
        raise ValueError(f"{path} is not a refnn model file (no config_json entry)")
    try:
        config = json.loads(str(arrays["config_json"]))
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: its configuration is not valid JSON: {e}") from None
    if not isinstance(config, dict) or config.get("format") != "refnn":
        raise ValueError(f"{path} is not a refnn model file")
    if config.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {config.get('version')}, this refnn reads "
                         f"{FORMAT_VERSION}")
    try:
        return _model_from_config(config, arrays, path)
    except (KeyError, TypeError, AttributeError, ValueError, MemoryError) as e:
        if isinstance(e, ValueError) and str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: malformed refnn model file ({type(e).__name__}: {e})") from None


def _model_from_config(config, arrays, path):
    mc = config["model"]
    model = Sequential([layers_module.deserialize(s) for s in mc["layers"]], seed=mc["seed"],
                       dtype=mc["dtype"], name=mc["name"], trainable=mc.get("trainable", True))
    if not model.built and mc.get("input_shape") is not None:
        model.build(mc["input_shape"])
    n_weights = len(model._weights)
    if not all(f"weight_{i}" in arrays for i in range(n_weights)):
        _missing(path, "weights")
    model.set_weights([arrays[f"weight_{i}"] for i in range(n_weights)])
    leaves = model._leaf_layers()
    for i in config.get("kernel_masks", []):
        if not (isinstance(i, int) and 0 <= i < len(leaves) and hasattr(leaves[i], "set_kernel_mask")
                and f"kernel_mask_{i}" in arrays):
            raise ValueError(f"{path}: kernel mask {i!r} does not belong to a Dense layer")
        leaves[i].set_kernel_mask(arrays[f"kernel_mask_{i}"])
    if "compile" in config:
        cc = config["compile"]
        model.compile(losses_module.deserialize(cc["loss"]),
                      optimizers_module.deserialize(cc["optimizer"]), cc["metrics"])
        n_state = int(cc.get("n_optimizer_state", 0))
        saved_mask = cc.get("trainable_mask")
        if n_state and saved_mask is not None and list(saved_mask) != model._trainable_mask:
            # trainable was changed after compile() and before save(): compiled with the new
            # setting, the optimizer has other slots; it starts afresh (as Keras 3 does)
            warnings.warn(f"{path}: the trainable attribute of some layers changed after "
                          f"compile() and before save(); the model is compiled with the new "
                          f"setting and its optimizer state is not restored", UserWarning,
                          stacklevel=3)
            n_state = 0
        if n_state:
            if not all(f"optimizer_{i}" in arrays for i in range(n_state)):
                _missing(path, "optimizer state")
            model.optimizer.set_state([arrays[f"optimizer_{i}"] for i in range(n_state)])
    if "rng" in config:
        try:
            model._shuffle_rng.bit_generator.state = config["rng"]["shuffle"]
            model._dropout_rng.bit_generator.state = config["rng"]["dropout"]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: bad random-generator state: {e}") from None
    return model


def _missing(path, what):
    raise ValueError(f"{path} is incomplete: its {what} are missing")


class _overflow_names:
    """Inside the network an overflow shows as a non-finite intermediate array; the user
    passed finite data, so say which argument drove the network out of range."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if kind is not None and issubclass(kind, NonFiniteError):
            raise ValueError(f"{self.name} drove the network out of floating-point range "
                             f"({error}); scale the inputs or use dtype='float64'") from None
        return False


def _verbosity(verbose):
    if verbose == "auto":
        return 1 if sys.stdout.isatty() else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


class _StopOnInterrupt:
    """During fit, Ctrl-C sets model.stop_training: the current batch finishes, training stops,
    and the model is left consistent. A second Ctrl-C interrupts at once."""

    def __init__(self, model):
        self.model = model
        self.installed = False

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.getsignal(signal.SIGINT)

            def handler(signum, frame):
                if self.model.stop_training:
                    raise KeyboardInterrupt
                self.model.stop_training = True
                print("\nrefnn: interrupted; stopping after this batch "
                      "(Ctrl-C again to abort)", file=sys.stderr)

            signal.signal(signal.SIGINT, handler)
            self.installed = True
        return self

    def __exit__(self, *exc):
        if self.installed:
            signal.signal(signal.SIGINT, self.previous)
        return False
