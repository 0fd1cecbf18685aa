"""Keras 3's training callbacks beyond History and EarlyStopping, with its names, defaults and
semantics (keras/src/callbacks/): LearningRateScheduler, ReduceLROnPlateau, CSVLogger,
ModelCheckpoint, BackupAndRestore. refnn.callbacks re-exports them."""
from __future__ import annotations

import csv
import json
import math
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TextIO, Union, cast

import numpy as np

from ._validate import choice, positive_int, positive_number
from .callbacks import Callback, Logs, monitored

if TYPE_CHECKING:
    from .model import Sequential

SaveFreq = Union[int, Literal["epoch"]]      # after every epoch, or every n batches


def _direction(mode: str, monitor: str) -> str:
    """"min" or "max" for `mode` ("auto": max for accuracies, else min), as Keras 3."""
    mode = choice("mode", mode, ("auto", "min", "max"))
    if mode == "auto":
        return "max" if ("acc" in monitor or monitor.endswith("auc")) else "min"
    return mode


def _learning_rate(model: Sequential) -> float:
    # the optimizer's type says nothing of it: a stochastic optimizer without a rate, a
    # full-batch one or a user's class raise AttributeError
    optimizer: Any = model.optimizer
    try:
        return float(optimizer.learning_rate)
    except AttributeError:
        raise ValueError(f"{type(model.optimizer).__name__} has no learning rate to "
                         f"schedule") from None


def _set_learning_rate(model: Sequential, value: float) -> None:
    """The optimizer's learning_rate set (after _learning_rate has read it)."""
    optimizer: Any = model.optimizer
    optimizer.learning_rate = value


class LearningRateScheduler(Callback):
    """At the start of each epoch, learning_rate = schedule(epoch, learning_rate) (or
    schedule(epoch) for a one-argument function); the epoch's logs get "learning_rate"."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule must be a function of (epoch, lr), got {schedule!r}")
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        lr = _learning_rate(self.model)
        try:
            lr = self.schedule(epoch, lr)
        except TypeError:                       # as Keras: a schedule of the epoch alone
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.floating)):
            raise ValueError(f"the output of the schedule function should be a float, got "
                             f"{lr!r}")
        _set_learning_rate(self.model, float(lr))
        if self.verbose:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if logs is not None:
            logs["learning_rate"] = _learning_rate(self.model)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved by more than
    min_delta for `patience` epochs, not below min_lr; then wait `cooldown` epochs."""

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4,
                 cooldown: int = 0, min_lr: float = 0.0) -> None:
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

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.cooldown_counter = 0
        self.wait = 0

    def _better(self, current: float) -> bool:
        if self.mode == "min":
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self._reset()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs if logs is not None else {}
        logs["learning_rate"] = _learning_rate(self.model)
        current = monitored(self, logs)
        if current is None:
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
                    _set_learning_rate(self.model, new)
                    if self.verbose:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate "
                              f"to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class CSVLogger(Callback):
    """One CSV row per epoch: "epoch" (0-based, as Keras) and the logs' keys, sorted."""

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",",
                 append: bool = False) -> None:
        self.filename, self.sep, self.append = os.fspath(filename), separator, bool(append)
        self.keys: list[str] | None = None
        self.writer: csv.DictWriter[str] | None = None
        self.file: TextIO | None = None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        header = not (self.append and os.path.exists(self.filename)
                      and os.path.getsize(self.filename) > 0)
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys, self.writer, self._header = None, None, header

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        logs = logs or {}
        file = cast(TextIO, self.file)                  # opened by on_train_begin
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep)
            if self._header:
                self.writer.writeheader()
        writer = cast("csv.DictWriter[str]", self.writer)   # made with the keys, above
        writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        file.flush()

    def on_train_end(self, logs: Logs | None = None) -> None:
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

    def __init__(self, filepath: str | os.PathLike[str], monitor: str = "val_loss",
                 verbose: int = 0, save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: SaveFreq = "epoch",
                 initial_value_threshold: float | None = None) -> None:
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

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._save(self._epoch, logs or {})

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._save(epoch, logs or {})

    def _save(self, epoch: int, logs: Logs) -> None:
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = monitored(self, logs)
            if current is None:
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


class BackupAndRestore(Callback):
    """Keep the training state in backup_dir (after every epoch, or every save_freq batches)
    so that a fit interrupted by a crash or a kill resumes where the last backup left it: the
    next fit with this callback puts back the weights, the optimizer's state and the shuffling
    and dropout generators, and starts at the saved epoch (as Keras 3). Each backup is refnn's
    model file, written atomically, then committed by rewriting backup.json (also atomically)
    to name it: a kill at any moment leaves the previous backup or the new one, whole.
    delete_checkpoint removes the backup when training ends."""

    def __init__(self, backup_dir: str | os.PathLike[str], save_freq: SaveFreq = "epoch",
                 delete_checkpoint: bool = True) -> None:
        self.backup_dir = os.fspath(backup_dir)
        if save_freq != "epoch":
            save_freq = positive_int("save_freq", save_freq)
        self.save_freq, self.delete_checkpoint = save_freq, bool(delete_checkpoint)
        self._batches = 0

    def _record(self) -> dict[str, Any] | None:
        path = os.path.join(self.backup_dir, "backup.json")
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None
        except ValueError as e:
            raise ValueError(f"{path}: not a refnn backup record: {e}") from None

    def on_train_begin(self, logs: Logs | None = None) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        record = self._record()
        if record is None:
            return
        from .saving import load_model             # the model imports the callbacks
        saved = load_model(os.path.join(self.backup_dir, record["file"]))
        self.model.set_weights(saved.get_weights())
        if saved.optimizer is not None and self.model.optimizer is not None:
            self.model.optimizer.set_state(saved.optimizer.get_state())
        for name in ("_shuffle_rng", "_dropout_rng"):
            getattr(self.model, name).bit_generator.state = \
                getattr(saved, name).bit_generator.state
        self.model._initial_epoch = int(record["epoch"])

    def on_epoch_begin(self, epoch: int, logs: Logs | None = None) -> None:
        self._epoch = epoch

    def on_train_batch_end(self, batch: int, logs: Logs | None = None) -> None:
        super().on_train_batch_end(batch, logs)
        if self.save_freq != "epoch":
            self._batches += 1
            if self._batches % self.save_freq == 0:
                self._backup(self._epoch)        # resumes at the start of this epoch

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        if self.save_freq == "epoch":
            self._backup(epoch + 1)

    def _backup(self, next_epoch: int) -> None:
        from .saving import write_atomically
        old = self._record()
        name = f"backup-{next_epoch}-{self._batches}.npz"
        self.model.save(os.path.join(self.backup_dir, name))
        text = json.dumps({"epoch": next_epoch, "file": name}).encode()
        write_atomically(os.path.join(self.backup_dir, "backup.json"), lambda f: f.write(text))
        if old is not None and old["file"] != name:
            os.remove(os.path.join(self.backup_dir, old["file"]))

    def on_train_end(self, logs: Logs | None = None) -> None:
        record = self._record()
        if self.delete_checkpoint and record is not None:
            os.remove(os.path.join(self.backup_dir, record["file"]))
            os.remove(os.path.join(self.backup_dir, "backup.json"))
