"""Keras 3's training callbacks beyond History and EarlyStopping, with its names, defaults and
semantics (keras/src/callbacks/): LearningRateScheduler, ReduceLROnPlateau, CSVLogger,
ModelCheckpoint. refnn.callbacks re-exports them."""
import csv
import math
import os
import warnings

import numpy as np

from ._validate import choice, positive_int, positive_number
from .callbacks import Callback


def _direction(mode, monitor):
    """"min" or "max" for `mode` ("auto": max for accuracies, else min), as Keras 3."""
    mode = choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _learning_rate(model):
    try:
        return float(model.optimizer.learning_rate)
    except AttributeError:
        raise ValueError(f"{type(model.optimizer).__name__} has no learning rate to "
                         f"schedule") from None


class LearningRateScheduler(Callback):
    """At the start of each epoch, learning_rate = schedule(epoch, learning_rate) (or
    schedule(epoch) for a one-argument function); the epoch's logs get "learning_rate"."""

    def __init__(self, schedule, verbose=0):
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of (epoch, lr), got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        lr = _learning_rate(self.model)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:                       # as Keras: a schedule of the epoch alone
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)):
            raise ValueError(f"the output of the schedule function should be a float, got "
                             f"{lr!r}")
        self.model.optimizer.learning_rate = float(lr)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved by more than
    min_delta for `patience` epochs, not below min_lr; then wait `cooldown` epochs."""

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        factor = positive_number("factor", factor)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0, got "
                             f"factor={factor}")
        self.monitor, self.factor, self.verbose = monitor, factor, verbose
        self.patience = positive_int("patience", patience, allow_zero=True)
        self.min_delta = positive_number("min_delta", min_delta, allow_zero=True)
        self.cooldown = positive_int("cooldown", cooldown, allow_zero=True)
        self.min_lr = positive_number("min_lr", min_lr, allow_zero=True)
        self.mode = _direction(mode, monitor)
        self._reset()

    def _reset(self):
        self.best = math.inf if self.mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _better(self, current):
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model)
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"ReduceLROnPlateau monitors {self.monitor!r}, which fit does not "
                          f"report; available: {', '.join(sorted(logs))}", RuntimeWarning,
                          stacklevel=2)
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _learning_rate(self.model)
                if old > np.float32(self.min_lr):
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """One CSV row per epoch: "epoch" (0-based, as Keras) and the logs' keys, sorted."""

    def __init__(self, filename, separator=",", append=False):
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys, self.writer, self.file = None, None, None

    def on_train_begin(self, logs=None):
        header = not (self.append and os.path.exists(self.filename)
                      and os.path.getsize(self.filename) > 0)
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys, self.writer, self._header = None, None, header

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep)
            if self._header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None


class ModelCheckpoint(Callback):
    """Save the model (refnn's .npz, written atomically: an interrupted save leaves the
    previous file) or its weights alone (save_weights_only: .weights.npz) after every epoch
    or every `save_freq` batches. filepath may hold {epoch} (1-based, as Keras) and the logs'
    keys, e.g. "model-{epoch:02d}-{val_loss:.2f}.npz". save_best_only keeps the file of the
    best `monitor` value so far (mode as EarlyStopping; initial_value_threshold: the value
    to beat first)."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        self.filepath = os.fspath(filepath)
        ending = ".weights.npz" if save_weights_only else ".npz"
        if not self.filepath.endswith(ending):
            raise ValueError(f"filepath must end in {ending} "
                             f"({'save_weights_only' if save_weights_only else 'a model'}), "
                             f"got {self.filepath!r}")
        if save_freq != "epoch":
            save_freq = positive_int("save_freq", save_freq)
        self.monitor, self.verbose, self.save_freq = monitor, verbose, save_freq
        self.save_best_only, self.save_weights_only = bool(save_best_only), save_weights_only
        self.mode = _direction(mode, monitor)
        self.best = initial_value_threshold if initial_value_threshold is not None else (
            math.inf if self.mode == "min" else -math.inf)
        self._batches = 0

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(batch, logs)
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, logs or {})

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _save(self, epoch, logs):
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"ModelCheckpoint monitors {self.monitor!r}, which fit does not "
                              f"report; available: {', '.join(sorted(logs))}", RuntimeWarning,
                              stacklevel=2)
                return
            better = current < self.best if self.mode == "min" else current > self.best
            if not better:
                return
            self.best = current
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: saved to {path}")
