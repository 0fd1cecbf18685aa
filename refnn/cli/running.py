"""What the training commands share once parsed: the data the flags name (through
refnn.preprocessing), fitting with progress lines, the checks of output files, the classifier
of 2-D points that the drawings use."""
from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TextIO, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import datasets, preprocessing
from ..callbacks import Callback
from ..kernels.threads import num_threads
from ..networks import build_model, make_optimizer, output_layer
from . import budget
from .parsing import UsageError

if TYPE_CHECKING:
    from ..callbacks import History, Logs
    from ..model import Sequential
    from ..networks import Network
    from ..preprocessing import PreparedData

# datasets.load_csv's errors name these flags instead of its arguments path, target, drop
CSV_FLAGS = {"path": "--csv {}", "target": "--target {}", "drop": "--drop {}"}


def _images(name: str, folder: str | None, limit: int | None) -> PreparedData:
    """prepare_images, its missing files told as flags: where it looked and how to get them."""
    try:
        return preprocessing.prepare_images(name, folder, limit)
    except FileNotFoundError:
        if folder is not None:
            where = f"no {name} IDX files in {folder} (nor in {os.path.join(folder, name)})"
        else:
            where = f"{name} not found in " + ", ".join(
                ([os.path.join(os.environ[datasets.DATA_ENV], name)]
                 if os.environ.get(datasets.DATA_ENV) else [])
                + [os.path.join(datasets.DEBIAN_DATA_DIR, name)])
        files = ", ".join(f + "[.gz]" for f in datasets.MNIST_FILES)
        if name == "fashion-mnist":
            how = ("install it with `apt-get install dataset-fashion-mnist`, or pass --data DIR "
                   f"a folder holding {files}")
        else:
            how = f"get the four MNIST IDX files and pass --data DIR the folder holding {files}"
        raise UsageError(f"{where}; {how}") from None


def load_data(args: argparse.Namespace) -> PreparedData:
    """The PreparedData that the data flags name (a data set, --csv, their options)."""
    if args.csv is not None:
        if args.dataset is not None:
            raise UsageError(f"give either a data set name ({args.dataset}) or --csv FILE, "
                             f"not both")
        if args.data is not None:
            raise UsageError("--data DIR is for fashion-mnist or mnist, not with --csv")
        return preprocessing.prepare_csv(args.csv, args.target, args.task, args.test_fraction,
                                         args.seed, args.limit, args.drop or (),
                                         argument_names=CSV_FLAGS)
    for flag, value in (("--target", args.target), ("--drop", args.drop)):
        if value is not None:
            raise UsageError(f"{flag} goes with --csv FILE")
    args.dataset = args.dataset or args.default_dataset
    if args.data is not None and args.dataset not in preprocessing.IMAGE_SETS:
        raise UsageError(f"--data DIR is where fashion-mnist or mnist files are; "
                         f"{args.dataset} is generated")
    if args.dataset in preprocessing.IMAGE_SETS:
        return _images(args.dataset, args.data, args.limit)
    budget.toy_points(args.samples)
    return preprocessing.prepare_toy(args.dataset, args.samples, args.noise, args.seed,
                                     args.test_fraction, args.limit)


def build_network(data: PreparedData, args: argparse.Namespace, batch_size: int,
                  dtype: str = "float32") -> Network:
    """networks.build_model for the model flags, once the memory its training on batches of
    batch_size needs is known to be there (budget.training)."""
    sizes = [data.n_inputs, *args.layers, output_layer(data, args.loss).units]
    budget.training(sizes, batch_size, dtype,
                    f"--layers {','.join(map(str, args.layers)) or repr('')}")
    return build_model(data, args.layers, args.activation, args.loss, args.dropout,
                       args.batchnorm, args.seed, dtype)


def fit(model: Sequential, data: PreparedData, args: argparse.Namespace, loss: str,
        metrics: Sequence[str], targets: Callable[[NDArray[Any]], NDArray[Any]],
        callbacks: Iterable[Callback] = (), verbose: int = 0
        ) -> tuple[History, float, list[float], list[float]]:
    """Compile, fit on the training part (the test part measured after every epoch), evaluate
    both parts: (history, seconds, train scores, test scores)."""
    learning_rate = None if args.optimizer == "lbfgs" else args.lr
    model.compile(loss=loss, optimizer=make_optimizer(args.optimizer, learning_rate),
                  metrics=metrics)
    y_train, y_test = targets(data.y_train), targets(data.y_test)
    start = time.perf_counter()
    with num_threads(getattr(args, "threads", None)):
        history = model.fit(data.x_train, y_train, batch_size=args.batch_size,
                            epochs=args.epochs, verbose=verbose,
                            validation_data=(data.x_test, y_test), callbacks=list(callbacks))
    seconds = time.perf_counter() - start
    # [loss, metric]: build_model gives every network a metric
    train_scores = cast("list[float]",
                        model.evaluate(data.x_train, y_train, batch_size=4096, verbose=0))
    test_scores = cast("list[float]",
                       model.evaluate(data.x_test, y_test, batch_size=4096, verbose=0))
    return history, seconds, train_scores, test_scores


class EpochLines(Callback):
    """One line every `every` epochs (and the first and last); on a terminal a status line
    redrawn after each epoch in between."""

    def __init__(self, epochs: int, every: int, stream: TextIO | None = None) -> None:
        self.epochs, self.every, self.stream = epochs, every, stream or sys.stdout
        self.live = bool(getattr(stream, "isatty", lambda: False)())

    def on_train_begin(self, logs: Logs | None = None) -> None:
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        e = epoch + 1
        logs = logs or {}
        text = (f"epoch {e:>{len(str(self.epochs))}}/{self.epochs}  "
                + "  ".join(f"{k.replace('val_', 'test ')} {v:.4f}" for k, v in logs.items()
                            if isinstance(v, float))
                + f"  ({time.perf_counter() - self.start:.1f} s)")
        if e == 1 or e % self.every == 0 or e == self.epochs or self.model.stop_training:
            self.stream.write(("\r\x1b[K" if self.live else "") + text + "\n")
        elif self.live:
            self.stream.write("\r\x1b[K" + text)
        self.stream.flush()


def classifier(model: Sequential, data: PreparedData
               ) -> Callable[[ArrayLike], NDArray[np.int64] | NDArray[np.intp]]:
    """points (n, 2) as generated -> predicted class indices (the model sees them scaled)."""
    mean, std = cast("tuple[NDArray[Any], NDArray[Any]]", data.scale)    # 2-D data have one

    def classify(points: ArrayLike) -> NDArray[np.int64] | NDArray[np.intp]:
        out = model.predict((np.asarray(points) - mean) / std, batch_size=4096)
        return (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
    return classify


def class_one_probability(model: Sequential, data: PreparedData, points: ArrayLike
                          ) -> NDArray[Any] | None:
    """P(class 1) of each point as generated, for a one-unit output; else None."""
    mean, std = cast("tuple[NDArray[Any], NDArray[Any]]", data.scale)    # 2-D data have one
    out = model.predict((np.asarray(points) - mean) / std, batch_size=4096)
    return out[:, 0] if out.shape[1] == 1 else None


def check_output_path(path: str, flag: str, suffixes: Sequence[str]) -> None:
    """Refuse, before any work, an output file that could not be written."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise UsageError(f"{flag} {path}: that is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {path}: the folder {folder} is not writable")
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        raise UsageError(f"{flag} {path}: expected a file name ending in "
                         f"{' or '.join(suffixes)}")


def require_matplotlib(path: str | None) -> None:
    """Fail before any training when --plot cannot be honoured."""
    if path is None:
        return
    check_output_path(path, "--plot", (".png", ".svg", ".pdf"))
    from ..plotting import pyplot
    pyplot()
