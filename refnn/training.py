"""The fit loop of Sequential: one step protocol, three strategies behind it.

A strategy trains the model one batch at a time through one call:

    loss, yhat, logs = strategy.step(idx)

computes the loss (the mean over the batch idx, before the update; with sample weights w,
1/m sum_i w_i l_i over its m samples, refnn.weighting) and the gradients, then updates the
weights. A strategy holds the training samples' weights w (n,), sample_weight times class
weight in the model's dtype, and takes w[idx] with the batch: they go with their samples
through the shuffling. yhat are the batch's outputs, for the metrics. logs is None for a
mini-batch step; a full-batch step gives its batch's complete logs itself (loss, metrics and
its diagnostics).

Training diverged when the loss, a value inside the network or the update is not finite: the
step raises Diverged, and fit raises TrainingDivergedError naming the epoch and the batch, with
the weights and the optimizer's state as they were after the batch before (refnn/safeguards.py,
which also keeps a second Ctrl-C from cutting a step in half).

    CompiledStep   a plain stack of Dense layers: one compiled call per batch
                   (kernels.DenseTrainer) computes the gradients and runs the optimizer's
                   fused update right after each layer's backward pass
    LayerStep      any model: forward, loss gradient and backward through every layer, then
                   optimizer.apply(weights, grads)
    FullBatch      a full-batch optimizer (optimizer.stochastic is False, e.g. L-BFGS): each
                   epoch is one batch of every sample, one optimizer.minimize(fun, x0) run

`strategy_for(model)` chooses; `compiled_plan(model)` says whether the compiled step can train
the model, from the loss's own declaration (Loss.compiled_kind) and the activation table.
The compiled and the layer-by-layer steps compute the same numbers (tests hold them to 1e-12
in float64).
"""
from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import activations, kernels, model_data, regularizers
from . import optimizers as optimizers_module
from ._validate import NonFiniteError, as_array, positive_int, positive_number
from .weighting import fit_weights, sample_weights
from .callbacks import History, ProgressDisplay, TerminateOnNaN, callback_list
from .layers import Context, Dense, Flatten
from .safeguards import (OVERFLOWED, Diverged, StopOnInterrupt, diverged_error, epoch_state,
                         put_back)

if TYPE_CHECKING:
    from .callbacks import Callback
    from .model import Sequential
    from .optimizers import FullBatchOptimizer, Optimizer

# compiled_plan's answer: the Dense layers, their activations, the compiled loss kind
Plan = tuple[list[Dense], list[str], str]
# a step's (loss, yhat, logs): yhat None and logs given for a full-batch step
StepResult = tuple[float, Union[NDArray[Any], None], Union[dict[str, Any], None]]


# --------------------------------------------------------------------------- strategies
def plain_dense_layers(model: Sequential) -> list[Dense] | None:
    """The model's layers when they are Dense layers only (after an optional Flatten), with
    biases and without batch normalisation: what the compiled step and the compiled forward
    pass (inference.dense_stack) take; else None."""
    layers = model.layers[1:] if isinstance(model.layers[0], Flatten) else model.layers
    dense = [l for l in layers if type(l) is Dense]
    if not dense or len(dense) != len(layers) \
            or not all(l.batch_norm is None and l.use_bias for l in dense):
        return None
    return dense


def compiled_plan(model: Sequential) -> Plan | None:
    """(dense layers, their activations, the compiled loss kind) when fit can take the
    compiled step, else None: Dense layers only (after an optional Flatten), with biases, no
    batch normalisation, no kernel mask, none frozen (the step updates every W and b); hidden
    activations elementwise and differentiable; the output activation and loss a pair the loss
    declares (Loss.compiled_kind); a stochastic optimizer."""
    if not model.use_fast_path or not model.optimizer.stochastic:
        return None
    layers = plain_dense_layers(model)
    if layers is None or not all(l.kernel_mask is None and l.kernel_regularizer is None
                                 and l.bias_regularizer is None for l in layers):
        return None
    # a frozen layer: the layer-by-layer step (before the first build, the setting the build
    # will take)
    if not all(model._trainable_mask if model.built else model._live_trainable_mask()):
        return None
    acts = [l.activation for l in layers]
    if any(a not in activations.DIFFERENTIABLE for a in acts[:-1]):
        return None
    kind = model.loss.compiled_kind(acts[-1])
    return None if kind is None else (layers, acts, kind)


class CompiledStep:
    """The compiled step with the optimizer's update (the one place that drives it):

        trainer = kernels.DenseTrainer(weights, X, Y, activations, kind, batch_size)
        trainer.set_update(*optimizer.fused_rule())          once
        trainer.step(idx, scalars=optimizer.fused_scalars(),  per batch; iterations += 1
                     **optimizer.fused_options())         (its clipping and weight decay)

    An optimizer without a fused rule updates through optimizer.apply(weights, grads).
    check_rows: the first pass over the data (the first n samples gathered) checks each row of
    X for NaN and infinity as it is gathered, instead of a separate pass before training."""

    full_batch = False

    def __init__(self, weights: list[NDArray[Any]], X: NDArray[Any], Y: NDArray[Any],
                 activations: Sequence[str], kind: str, batch_size: int, optimizer: Optimizer,
                 check_rows: bool = False, sample_weight: NDArray[Any] | None = None) -> None:
        self.trainer = kernels.DenseTrainer(weights, X, Y, activations, kind, batch_size,
                                            sample_weight=sample_weight)
        self.weights = weights
        self.optimizer = optimizer
        optimizer.build(weights)
        rule = optimizer.fused_rule()            # the update run inside the step, if it can
        self.fused = rule is not None
        if rule is not None:
            self.trainer.set_update(*rule)
        self._unchecked = X.shape[0] if check_rows else 0    # rows still to check

    @classmethod
    def for_model(cls, model: Sequential, plan: Plan, x: NDArray[Any], y: NDArray[Any],
                  batch_size: int, sample_weight: NDArray[Any] | None = None) -> CompiledStep:
        """The step for `model` on its checked data (x, y) and the samples' weights (None:
        all 1), following compiled_plan's `plan`."""
        layers, acts, kind = plan
        n = x.shape[0]
        X = x.reshape(n, -1)                                  # Flatten: a view
        Y = y
        if model.loss.sparse:                                 # class indices -> one-hot
            Y = np.zeros((n, model.output_shape[-1]), model.dtype)
            Y[np.arange(n), y.astype(np.intp)] = 1
        Y = np.ascontiguousarray(model.loss.smooth(Y), dtype=model.dtype)   # label smoothing
        weights = [w for l in layers for w in (l.W, l.b)]
        optimizer = cast("Optimizer", model.optimizer)       # stochastic: strategy_for's choice
        return cls(weights, X, Y, acts, kind, min(batch_size, n), optimizer,
                   check_rows=True, sample_weight=sample_weight)

    def step(self, idx: NDArray[np.intp]) -> StepResult:
        trainer, optimizer = self.trainer, self.optimizer
        check = self._unchecked > 0
        self._unchecked -= len(idx)
        if self.fused:
            _, yhat = trainer.step(idx, check_finite=check, scalars=optimizer.fused_scalars(),
                                   **optimizer.fused_options())
            if trainer.updated:                  # the step updated the weights itself
                optimizer.iterations += 1
                if not trainer.update_finite:
                    raise Diverged(OVERFLOWED, changed=True)
        else:
            _, yhat = trainer.step(idx, check_finite=check)
        # the losses' mean, from the sum the step judged: it updated exactly when it is finite
        mean_loss = cast(float, trainer.mean_loss)           # set by the step just run
        if not math.isfinite(mean_loss):
            raise Diverged(f"the loss was {mean_loss}", changed=False)
        if not self.fused and optimizer._apply(self.weights, trainer.grads) is not None:
            raise Diverged(OVERFLOWED, changed=True)
        return mean_loss, yhat, None


class LayerStep:
    """The layer-by-layer step: forward, loss gradient, backward through every layer, then
    optimizer.apply on the trainable weights (a frozen layer's are not among them)."""

    full_batch = False

    def __init__(self, model: Sequential, x: NDArray[Any], y: NDArray[Any],
                 w: NDArray[Any] | None = None) -> None:
        self.model, self.x, self.y, self.w = model, x, y, w
        model.optimizer.build(model._trainable)     # its state exists before the first step

    def step(self, idx: NDArray[np.intp]) -> StepResult:
        model = self.model
        xb, yb = self.x[idx], self.y[idx]                     # the batch, gathered
        wb = None if self.w is None else self.w[idx]          # (m,) its samples' weights
        ctx = Context(training=True, rng=model._dropout_rng, update_state=True,
                      frozen=model._frozen)
        # the forward pass draws dropout masks and moves batch norm's statistics: whatever
        # diverges from here on, something has changed. The inputs were checked, so a value
        # that is not finite was made inside the network.
        with np.errstate(over="ignore", invalid="ignore"):        # reported as Diverged
            try:
                yhat = model._forward(xb, ctx)
                per_sample, grads = model._backward(yb, yhat, wb)
                loss = regularizers.total_loss(model, per_sample, wb)
                if not math.isfinite(loss):
                    raise Diverged(f"the loss was {loss}", changed=True)
                optimizer = cast("Optimizer", model.optimizer)   # stochastic: strategy_for
                if optimizer._apply(
                        model._trainable,
                        [g for g, m in zip(grads, model._trainable_mask) if m]) is not None:
                    raise Diverged(OVERFLOWED, changed=True)
            except NonFiniteError:
                raise Diverged("a value inside the network overflowed", changed=True) from None
        return loss, yhat, None


class FullBatch:
    """A full-batch optimizer (stochastic is False): the step is one optimizer.minimize(fun, x0)
    run on the packed vector of the trainable weights (a frozen layer's are not in it); then
    the loss and metrics over the data set, in inference mode."""

    full_batch = True

    def __init__(self, model: Sequential, x: NDArray[Any], y: NDArray[Any],
                 w: NDArray[Any] | None = None) -> None:
        self.model, self.x, self.y, self.w = model, x, y, w
        self.shapes = [w.shape for w in model._trainable]
        self.sizes = [w.size for w in model._trainable]

    def _unpack(self, v: NDArray[np.float64]) -> list[NDArray[np.float64]]:
        parts = np.split(v, np.cumsum(self.sizes)[:-1])
        return [p.reshape(s) for p, s in zip(parts, self.shapes)]

    def _fun(self, v: NDArray[np.float64]) -> tuple[float, NDArray[np.float64]]:
        """(L(v), dL/dv) for the packed trainable weights v, in float64."""
        model = self.model
        for w, p in zip(model._trainable, self._unpack(v)):
            w[...] = p
        ctx = Context(training=True, rng=np.random.default_rng(model._fixed_seed),
                      update_state=False, frozen=model._frozen)
        yhat = model._forward(self.x, ctx)
        per_sample, grads = model._backward(self.y, yhat, self.w)
        flat = np.concatenate([np.ravel(g) for g, m in zip(grads, model._trainable_mask) if m])
        loss = regularizers.total_loss(model, per_sample, self.w)
        return loss, flat.astype(np.float64)

    def step(self, idx: NDArray[np.intp]) -> StepResult:
        model = self.model
        if model._trainable:
            x0 = np.concatenate([w.ravel() for w in model._trainable]).astype(np.float64)
            optimizer = cast("FullBatchOptimizer", model.optimizer)  # not stochastic
            v, info = optimizer.minimize(self._fun, x0)
            v = np.asarray(v)
            if not np.isfinite(v).all():
                raise Diverged(f"{type(model.optimizer).__name__} returned weights that are "
                               f"not finite", changed=True)
            for w, p in zip(model._trainable, self._unpack(v)):
                w[...] = p
        else:                                   # every layer frozen: nothing to minimise
            info = {"stop_reason": "no trainable weights", "grad_norm": 0.0,
                    "n_iterations": 0, "n_function_evals": 0}
        try:
            values = model._evaluate_prepared(self.x, self.y,
                                              batch_size=max(1024, self.x.shape[0]), w=self.w)
        except NonFiniteError:
            raise Diverged("a value inside the network overflowed", changed=True) from None
        if not math.isfinite(values[0]):
            raise Diverged(f"the loss was {values[0]}", changed=True)
        logs = {"loss": values[0], **dict(zip(model._metric_keys, values[1:])),
                "stop_reason": info["stop_reason"], "grad_norm": info["grad_norm"],
                "iterations": info["n_iterations"], "function_evals": info["n_function_evals"]}
        return values[0], None, logs


def strategy_for(model: Sequential, x: NDArray[Any], y: NDArray[Any], batch_size: int,
                 w: NDArray[Any] | None = None) -> CompiledStep | LayerStep | FullBatch:
    """The strategy that trains `model` on its checked data (x, y) with the samples' weights w
    (None: every weight 1). Each strategy takes the weights: the compiled step weighs each
    sample's loss and error term inside its one call (kernels.DenseTrainer's sample_weight),
    the others in Loss.gradient / Loss.fused_gradient; the same numbers (tests hold them to
    1e-12 in float64)."""
    if not model.optimizer.stochastic:
        return FullBatch(model, x, y, w)
    plan = compiled_plan(model)
    if plan is not None:
        return CompiledStep.for_model(model, plan, x, y, batch_size, w)
    return LayerStep(model, x, y, w)


# --------------------------------------------------------------------------- the loop
# the validation data checked: (x_val, y_val, sample weights or None)
Validation = tuple[NDArray[Any], NDArray[Any], Union[NDArray[Any], None]]
# what fit changes: the weights, the optimizer's state, the shuffling generator's state
Snapshot = tuple[list[NDArray[Any]], Union[list[NDArray[Any]], None], Mapping[str, Any]]

def fit(model: Sequential, x: ArrayLike, y: ArrayLike, batch_size: int = 32, epochs: int = 1,
        verbose: int | str = "auto", validation_split: float = 0.0,
        validation_data: tuple[ArrayLike, ...] | None = None, shuffle: bool = True,
        callbacks: Callback | Sequence[Callback] | None = None, initial_epoch: int = 0,
        sample_weight: ArrayLike | None = None,
        class_weight: Mapping[int, float] | None = None) -> History:
    """Sequential.fit: everything checked before any weight moves, then epochs of steps."""
    model._require_compiled("fit")
    model._warn_if_trainable_changed()
    batch_size = positive_int("batch_size", batch_size)
    epochs = positive_int("epochs", epochs)
    initial_epoch = positive_int("initial_epoch", initial_epoch, allow_zero=True)
    verbose = verbosity(verbose)
    validation_split = positive_number("validation_split", validation_split, allow_zero=True)
    if validation_split >= 1:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if not isinstance(shuffle, bool):
        raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
    callbacks = callback_list(callbacks)
    # the compiled step checks x row by row in the first epoch (one pass less over the data);
    # should a row be bad, everything is put back as it was before raising
    deferred = compiled_plan(model) is not None
    x, y = model_data.prepare_xy(model, x, y, check_finite=not deferred)
    w = sample_weights(sample_weight, x.shape[0], scalar=False)
    val = None
    if validation_data is not None:
        val = _validation_data(model, validation_data)
    elif validation_split > 0:
        # as Keras 3: training up to floor(n (1 - split)), validation after (utils.holdout_last)
        n_val = x.shape[0] - int(math.floor(x.shape[0] * (1.0 - validation_split)))
        if n_val == 0 or n_val == x.shape[0]:
            raise ValueError(f"validation_split={validation_split} of {x.shape[0]} samples "
                             f"leaves no validation or no training samples")
        # as Keras: the last samples, before any shuffling, with their sample weights
        val = (x[-n_val:], y[-n_val:], None if w is None else w[-n_val:])
        x, y, w = x[:-n_val], y[:-n_val], None if w is None else w[:-n_val]
        if deferred:                                   # rows the training never gathers
            as_array("x", val[0], dtype=model.dtype)
    # as Keras 3, class weights weigh the training samples (the validation data keeps its
    # sample weights); refnn multiplies them with sample_weight (Keras 3 refuses the pair)
    w = fit_weights(w, class_weight, y, model.loss, model.output_shape[-1], model.dtype)

    history = History()
    steps = -(-x.shape[0] // batch_size)
    history.params = {"epochs": epochs, "steps": steps, "batch_size": batch_size,
                      "verbose": verbose}
    all_callbacks = callbacks + [history]             # as Keras: History after the user's
    if verbose:
        all_callbacks.append(ProgressDisplay(verbose, epochs, steps))
    for cb in all_callbacks:
        cb.set_model(model)
        cb.set_params(history.params)
    model.stop_training = False
    model._initial_epoch = None
    for cb in all_callbacks:
        cb.on_train_begin()
    if model._initial_epoch is not None:         # as Keras: BackupAndRestore resumes there
        initial_epoch, model._initial_epoch = model._initial_epoch, None
    before = _snapshot(model) if deferred else None
    with StopOnInterrupt(model) as interrupt:
        try:
            strategy = strategy_for(model, x, y, batch_size, w)
            _epochs(model, strategy, x, y, batch_size, epochs, initial_epoch, shuffle, val,
                    all_callbacks, interrupt, w)
        except NonFiniteError as e:
            if before is None:
                raise
            _restore(model, before)
            raise NonFiniteError(str(e).replace("X must", "x must", 1)) from None
    for cb in all_callbacks:
        cb.on_train_end()
    return history


def _epochs(model: Sequential, strategy: CompiledStep | LayerStep | FullBatch, x: NDArray[Any],
            y: NDArray[Any], batch_size: int, epochs: int, initial_epoch: int, shuffle: bool,
            val: Validation | None, callbacks: Sequence[Callback],
            interrupt: StopOnInterrupt | None = None, w: NDArray[Any] | None = None) -> None:
    """Epochs of strategy.step over the batches; a full-batch strategy gets every sample in
    order as its one batch. `interrupt` (a StopOnInterrupt) holds a second Ctrl-C until the
    step it comes in has finished, so that the weights and the optimizer's state are never
    those of half a step; a full-batch step, which may take long, is interrupted at once and
    the epoch's start put back."""
    interrupt = interrupt or StopOnInterrupt(model)
    n = x.shape[0]
    if strategy.full_batch:
        batch_size, shuffle = n, False
    for epoch in range(initial_epoch, epochs):       # as Keras: `epochs` is the last index
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        start_state = epoch_state(model)              # what a diverging step may need put back
        order = model._shuffle_rng.permutation(n) if shuffle else np.arange(n)
        order = order.astype(np.intp, copy=False)
        metrics = model._new_metrics()
        loss_sum, seen = 0.0, 0
        for batch, start in enumerate(range(0, n, batch_size)):
            idx = order[start:start + batch_size]
            for cb in callbacks:
                cb.on_train_batch_begin(batch)
            try:
                with interrupt.holding(not strategy.full_batch):
                    batch_loss, yhat, logs = strategy.step(idx)
            except KeyboardInterrupt:
                if strategy.full_batch:             # its step was cut short: undo it
                    put_back(model, start_state)
                raise
            except Diverged as d:
                error = diverged_error(model, strategy, d, start_state, order[:start], batch_size,
                                  epoch, batch, -(-n // batch_size),
                                  first=epoch == initial_epoch and batch == 0)
                if not any(isinstance(cb, TerminateOnNaN) for cb in callbacks):
                    raise error from None
                # Keras's way with TerminateOnNaN: training stops, fit returns (here with the
                # state after the batch before, not with NaN weights)
                print(f"refnn: {error}", file=sys.stderr)
                batch_loss, yhat, logs = math.nan, None, None
            if logs is not None:                          # a full-batch step's own logs
                batch_logs = logs
            elif yhat is None:                            # diverged: the loss is not finite
                batch_logs = logs = {"loss": batch_loss}
            else:
                wb = None if w is None else w[idx]
                for m in metrics:
                    m.update(y[idx], yhat, checked=True, sample_weight=wb if m.weighted else None)
                loss_sum += batch_loss * len(idx)
                seen += len(idx)
                batch_logs = logs = {"loss": loss_sum / seen,     # metrics.compiled names each
                                     **{cast(str, m.name): m.result() for m in metrics}}
            for cb in callbacks:
                cb.on_train_batch_end(batch, batch_logs)
            if model.stop_training:
                break
        _end_epoch(model, epoch, batch_logs, val, callbacks)   # the last batch's logs
        if model.stop_training:
            break


def _end_epoch(model: Sequential, epoch: int, logs: Mapping[str, Any],
               val: Validation | None, callbacks: Sequence[Callback]) -> None:
    logs = dict(logs)
    if val is not None:
        try:
            x_val, y_val, w_val = val
            values = model._evaluate_prepared(x_val, y_val, batch_size=1024,
                                              callbacks=callbacks, w=w_val)
        except NonFiniteError:              # the network overflowed on x_val: report nan
            values = [math.nan] * (1 + len(model._metric_keys))
        logs["val_loss"] = values[0]
        for name, v in zip(model._metric_keys, values[1:]):
            logs[f"val_{name}"] = v
    for cb in callbacks:
        cb.on_epoch_end(epoch, logs)


def _validation_data(model: Sequential, data: object) -> Validation:
    """fit's validation_data checked: (x_val, y_val) or (x_val, y_val, sample_weight_val), as
    (x, y, w) with w None or (n_val,) float64."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
        got = (f"a {type(data).__name__} of {len(data)} items"
               if isinstance(data, (tuple, list)) else f"{type(data).__name__}")
        raise ValueError(f"validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                         f"sample_weight_val), got {got}")
    x, y = model_data.prepare_xy(model, data[0], data[1], "x_val", "y_val")
    w = data[2] if len(data) == 3 else None
    return x, y, sample_weights(w, x.shape[0], "sample_weight_val", scalar=False)


def _snapshot(model: Sequential) -> Snapshot:
    """What fit changes: the weights, the optimizer's state, the shuffling generator."""
    return (model.get_weights(),
            model.optimizer.get_state() if model.optimizer.built else None,
            model._shuffle_rng.bit_generator.state)


def _restore(model: Sequential, snapshot: Snapshot) -> None:
    weights, state, rng = snapshot
    model.set_weights(weights)
    if state is not None:
        model.optimizer.set_state(state)
    else:
        model.optimizer = optimizers_module.deserialize(model.optimizer.get_config())
    model._shuffle_rng.bit_generator.state = rng


def verbosity(verbose: int | str) -> int:
    """verbose as Keras takes it: 0 silent, 1 progress bar, 2 one line per epoch, "auto": the
    live bar on a terminal or in a notebook (an IPython kernel is running: its output shows
    the bar redrawn in place, as Keras's does), one line per epoch in a log file."""
    if verbose == "auto":
        isatty = getattr(sys.stdout, "isatty", None)
        return 1 if (isatty is not None and isatty()) or "ipykernel" in sys.modules else 2
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)
