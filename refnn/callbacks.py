"""Callbacks for Sequential.fit, as in Keras: History, EarlyStopping, TerminateOnNaN, and the
progress display (a live bar on a terminal with verbose=1, one line per epoch with verbose=2)."""
from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np
from numpy.typing import NDArray

from ._validate import choice, flag, positive_int, positive_number

if TYPE_CHECKING:
    from .model import Sequential

# what a hook is told: {"loss": ..., "val_loss": ..., metric name: ...} (predict: "outputs")
Logs = dict[str, Any]


class Callback:
    """Hooks called by fit, evaluate and predict, Keras 3's set: `self.model` is the model,
    `self.params` fit's settings (epochs, steps, batch_size, verbose).

    fit        on_train_begin, then per epoch on_epoch_begin, per batch on_train_batch_begin /
               on_train_batch_end (logs: the epoch's running loss and metrics), the validation
               (on_test_* below), on_epoch_end (logs with val_*); on_train_end
    evaluate   on_test_begin, per batch on_test_batch_begin / on_test_batch_end (running loss
               and metrics), on_test_end (the results)
    predict    on_predict_begin, per batch on_predict_batch_begin / on_predict_batch_end
               (logs {"outputs": the batch's outputs}), on_predict_end
    As in Keras, on_train_batch_begin / _end call on_batch_begin / on_batch_end, so a callback
    written for those still works.
    """

    model: Sequential               # set by the model (set_model)
    params: dict[str, Any] = {}     # fit's settings (epochs, steps, verbose), set by the model

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_train_end(self, logs: Logs | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        pass

    def on_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_train_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        self.on_batch_end(batch, logs=logs)

    def on_test_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_test_end(self, logs: Logs | None = None) -> None:
        pass

    def on_test_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_test_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_predict_begin(self, logs: Logs | None = None) -> None:
        pass

    def on_predict_end(self, logs: Logs | None = None) -> None:
        pass

    def on_predict_batch_begin(self, batch: int, logs: Logs | None = None) -> None:
        pass

    def on_predict_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        pass


def monitored(callback: Any, logs: Logs | None) -> Any:
    """logs[callback.monitor]; or, when fit does not report it, None and a warning (as Keras:
    training carries on)."""
    current = (logs or {}).get(callback.monitor)
    if current is None:
        warnings.warn(f"{type(callback).__name__} monitors {callback.monitor!r}, which fit "
                      f"does not report; available: {', '.join(sorted(logs or {}))}",
                      RuntimeWarning, stacklevel=3)
    return current


def callback_list(callbacks: Callback | Sequence[Callback] | None,
                  model: Sequential | None = None) -> list[Callback]:
    """callbacks (a Callback, a list of them or None) checked, as a list, each given the
    model."""
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
    if model is not None:
        for cb in callbacks:
            cb.set_model(model)
    return callbacks


class History(Callback):
    """history.history["loss"], ["acc"], ["val_loss"], ...: one value per epoch."""

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}     # name -> one value per epoch
        self.epoch: list[int] = []
        self.params = {}

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs, as
    Keras 3 does:

    - `best` starts afresh when training begins; an epoch improves when it beats `best` by
      more than min_delta, and the wait counter restarts only when it beats `baseline` too
      (if one is given): with a baseline no epoch reaches, training stops after `patience`
      epochs. An epoch that improved never stops training.
    - restore_best_weights: the first monitored epoch's weights are the best so far, and the
      best epoch's weights are put back when training ends, whether this callback stopped it
      or fit ran all its epochs.
    - the first `start_from_epoch` epochs are not monitored.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a string such as 'val_loss', got {monitor!r}")
        self.monitor = monitor
        self.min_delta = abs(positive_number("min_delta", abs(min_delta), allow_zero=True))
        self.patience = positive_int("patience", patience, allow_zero=True)
        mode = choice("mode", mode, ("auto", "min", "max"))
        if mode == "auto":
            mode = "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = positive_int("start_from_epoch", start_from_epoch, allow_zero=True)
        self.stopped_epoch = 0

    def _better(self, current: float, reference: float) -> bool:
        if self.mode == "min":
            return current < reference - self.min_delta
        return current > reference + self.min_delta

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_weights: list[NDArray[Any]] | None = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        current = monitored(self, logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs | None = None) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite, as Keras 3's does: print
    "Batch N: Invalid loss, terminating training" (N the batch's index in its epoch, from 0)
    and set model.stop_training. raise_error=True raises RuntimeError instead, and fit ends
    without on_train_end (so that, as in Keras, a backup is left as it is)."""

    def __init__(self, raise_error: bool = False) -> None:
        self.raise_error = flag("raise_error", raise_error)

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            if self.raise_error:
                raise RuntimeError(f"NaN or Inf loss encountered at batch {batch}. "
                                   f"Loss value: {loss}. Terminating training immediately.")
            print(f"Batch {batch}: Invalid loss, terminating training")
            self.model.stop_training = True


def _format_logs(logs: Logs) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items() if isinstance(v, (float, int)))


class ProgressDisplay(Callback):
    """verbose=1: a live progress bar redrawn in place; verbose=2: one line per epoch."""

    def __init__(self, verbose: int, epochs: int, steps: int, stream: TextIO | None = None,
                 width: int = 30) -> None:
        self.verbose = verbose
        self.epochs = epochs
        self.steps = steps
        self.stream = stream or sys.stdout
        self.width = width

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self.epoch_start = time.perf_counter()
        self.last_draw = 0.0
        if self.verbose == 1:
            self.stream.write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def _bar(self, step: int) -> str:
        done = int(self.width * step / self.steps)
        arrow = ">" if step < self.steps else "="
        return ("[" + "=" * max(done - 1, 0) + (arrow if done else "")
                + "." * (self.width - done) + "]")

    def on_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        if self.verbose != 1:
            return
        now = time.perf_counter()
        step = batch + 1
        if step < self.steps and now - self.last_draw < 0.1:
            return
        self.last_draw = now
        elapsed = now - self.epoch_start
        eta = elapsed / step * (self.steps - step)
        self.stream.write(f"\r{step}/{self.steps} {self._bar(step)} - ETA {eta:4.0f}s - "
                          f"{_format_logs(logs or {})}")
        self.stream.flush()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        elapsed = time.perf_counter() - self.epoch_start
        if self.verbose == 1:
            self.stream.write(f"\r{self.steps}/{self.steps} {self._bar(self.steps)} - "
                              f"{elapsed:.1f}s - {_format_logs(logs or {})}\n")
        elif self.verbose == 2:
            self.stream.write(f"Epoch {epoch + 1}/{self.epochs} - {elapsed:.1f}s - "
                              f"{_format_logs(logs or {})}\n")
        self.stream.flush()


# Keras 3's other callbacks are in their own module, which imports Callback from here:
# refnn.callbacks.<name> reaches them on first use (PEP 562), so that either module can be
# imported first
KERAS_CALLBACKS = ("BackupAndRestore", "CSVLogger", "LearningRateScheduler", "ModelCheckpoint",
                   "ReduceLROnPlateau")


def __getattr__(name: str) -> Any:
    if name in KERAS_CALLBACKS:
        from . import callbacks_keras
        return getattr(callbacks_keras, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
