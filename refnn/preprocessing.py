"""Data prepared for a network: a training and a test part, inputs scaled as the network sees them.

    standardise(x_train, x_test)          x' = (x - mean) / std, with the training part's mean
                                          and std (a constant column keeps std = 1)
    prepare_images(name, path, limit)     fashion-mnist or mnist: pixel / 255, flattened to 784
    prepare_toy(name, n_samples, ...)     a generated 2-D set, split (seeded) and standardised
    prepare_csv(path, target, ...)        a CSV file, split (seeded) and standardised; a
                                          regression target standardised too
    PreparedData                          what each returns: x_train, y_train, x_test, y_test,
                                          the task, the class names and how inputs were scaled

The statistics of the scaling come from the training part only, so the test part stays unseen.
`PreparedData.preprocessing` says how to scale a new input the same way (a command line saves
it beside a trained model). refnn.networks.build_model builds a network for such data.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import datasets
from ._validate import as_array, check_dim, choice, fraction, positive_int
from .utils import split

__all__ = ["standardise", "PreparedData", "prepare_images", "prepare_toy", "prepare_csv",
           "IMAGE_SETS", "TOY_SETS"]

#: the image data sets prepare() loads
IMAGE_SETS = ("fashion-mnist", "mnist")
#: the toy 2-D sets prepare() generates
TOY_SETS = tuple(datasets.TOY_DATASETS)


class PreparedData:
    """A data set ready for a network: inputs scaled, a training and a test part.

    x_train, y_train, x_test, y_test   the parts; y class indices 0..k-1 (int64) for a
                   classification, floats for a regression
    task           "classification" or "regression"
    kind           "images", "toy" or "csv": which kind of data (a command line picks its
                   defaults by it)
    class_names    k names, class_names[c] the label of class c; None for a regression
    feature_names  one name per input column (None for images)
    preprocessing  how raw inputs become the network's, as plain data (JSON-ready)
    raw_train, raw_test   (X, y) of a 2-D set as generated, before scaling; else None
    scale          (mean, std) of the inputs' standardisation; None for images
    """

    def __init__(self, name: str, kind: str, task: str, train: tuple[NDArray[Any], NDArray[Any]],
                 test: tuple[NDArray[Any], NDArray[Any]], class_names: Sequence[str] | None = None,
                 feature_names: Sequence[str] | None = None,
                 preprocessing: dict[str, Any] | None = None,
                 raw_train: tuple[NDArray[Any], NDArray[Any]] | None = None,
                 raw_test: tuple[NDArray[Any], NDArray[Any]] | None = None,
                 scale: tuple[NDArray[Any], NDArray[Any]] | None = None) -> None:
        self.name, self.kind, self.task = name, kind, task
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train, test
        self.class_names = class_names
        self.feature_names = feature_names
        self.preprocessing = preprocessing or {}
        self.raw_train, self.raw_test = raw_train, raw_test
        self.scale = scale

    @property
    def n_classes(self) -> int:
        """k for a classification, 0 for a regression."""
        return len(self.class_names) if self.class_names is not None else 0

    @property
    def n_inputs(self) -> int:
        return int(np.prod(self.x_train.shape[1:]))

    def limit(self, n: int) -> PreparedData:
        """Keep only the first n training samples (quick tries); the test part stays whole."""
        n = positive_int("limit", n)
        self.x_train, self.y_train = self.x_train[:n], self.y_train[:n]
        if self.raw_train is not None:
            X_raw, y_raw = self.raw_train
            self.raw_train = (X_raw[:n], y_raw[:n])
        return self

    def describe(self) -> str:
        """One line: the name, the sizes of the parts, the inputs and the task."""
        what = (f"{self.n_classes} classes" if self.task == "classification"
                else "regression")
        text = (f"{self.name}: {self.x_train.shape[0]} training and {self.x_test.shape[0]} "
                f"test samples, {self.n_inputs} inputs, {what}")
        if self.preprocessing.get("one_hot"):
            text += f" (one-hot encoded: {', '.join(self.preprocessing['one_hot'])})"
        return text

    def __repr__(self) -> str:
        return f"<PreparedData {self.describe()}>"


def standardise(x_train: ArrayLike, x_test: ArrayLike
                ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any]]:
    """x' = (x - mean) / std per column, with the training part's mean and std (std 0 -> 1).

    x_train (n, d) and x_test (m, d), numbers. Returns (x_train', x_test', mean, std), the
    scaled parts float64 and mean, std of shape (d,), so that a new input x is scaled as
    (x - mean) / std.
    """
    x_train = as_array("x_train", x_train, dtype=np.float64, ndim=2)
    x_test = as_array("x_test", x_test, dtype=np.float64, ndim=2, allow_empty=True)
    check_dim("x_test", x_test.shape[1], x_train.shape[1], "columns",
              "x_train has {expected}")
    # each column divided by a power of two near its largest magnitude first: exact, so the
    # results are those of (x - mean) / std bit for bit, but the sums cannot overflow for
    # values near the largest float (1e308)
    largest = np.abs(x_train).max(axis=0)
    scale = np.exp2(np.floor(np.log2(np.where(largest > 0, largest, 1.0))))   # (d,)
    z_train, z_test = x_train / scale, x_test / scale
    mean_z = z_train.mean(axis=0)                            # (d,)
    std_z = z_train.std(axis=0)
    constant = std_z == 0                                    # a constant column stays put
    std_z = np.where(constant, 1.0, std_z)
    mean, std = mean_z * scale, np.where(constant, 1.0, std_z * scale)
    return (z_train - mean_z) / std_z, (z_test - mean_z) / std_z, mean, std


def _limit(limit: int | None) -> int | None:
    return None if limit is None else positive_int("limit", limit)


def prepare_images(name: str, path: str | os.PathLike[str] | None = None,
                   limit: int | None = None) -> PreparedData:
    """Fashion-MNIST or MNIST from local IDX files (refnn.datasets.fashion_mnist / mnist):
    inputs pixel / 255 as float32, flattened to 784 values; y int64 classes 0-9.

    path   the folder holding the four files (see refnn.datasets.fashion_mnist), or None
    limit  keep only the first `limit` training samples; None keeps all
    Raises FileNotFoundError saying where it looked when the files are not there.
    """
    name = choice("name", name, IMAGE_SETS)
    limit = _limit(limit)
    loader = datasets.fashion_mnist if name == "fashion-mnist" else datasets.mnist
    (x_train, y_train), (x_test, y_test) = loader(path=path, normalize=True, flatten=True)
    classes = (list(datasets.FASHION_MNIST_CLASSES) if name == "fashion-mnist"
               else [str(d) for d in range(10)])
    data = PreparedData(name, "images", "classification", (x_train, y_train.astype(np.int64)),
                        (x_test, y_test.astype(np.int64)), class_names=classes,
                        preprocessing={"inputs": "pixel / 255, flattened to 784 values"})
    return data if limit is None else data.limit(limit)


def prepare_toy(name: str, n_samples: int = 500, noise: float = 0.1, seed: int = 0,
                test_fraction: float = 0.2, limit: int | None = None) -> PreparedData:
    """A generated 2-D set (refnn.datasets.TOY_DATASETS), split into a training and a test
    part (test_fraction of the points, drawn with `seed`), inputs standardised with the
    training part's statistics. raw_train / raw_test keep the points as generated."""
    name = choice("name", name, TOY_SETS)
    test_fraction = fraction("test_fraction", test_fraction)
    limit = _limit(limit)
    X, y = datasets.TOY_DATASETS[name](n_samples, noise=noise, seed=seed)
    (Xa, ya), (Xb, yb) = split(X, y, test_fraction, seed=seed)
    xa, xb, mean, std = standardise(Xa, Xb)
    k = int(y.max()) + 1
    data = PreparedData(name, "toy", "classification", (xa, ya), (xb, yb),
                        class_names=[str(c) for c in range(k)], feature_names=["x1", "x2"],
                        preprocessing={"inputs": "(x - mean) / std", "mean": mean.tolist(),
                                       "std": std.tolist()},
                        raw_train=(Xa, ya), raw_test=(Xb, yb), scale=(mean, std))
    return data if limit is None else data.limit(limit)


def prepare_csv(path: str | os.PathLike[str], target: str | int | None = None, task: str = "auto",
                test_fraction: float = 0.2, seed: int = 0, limit: int | None = None,
                drop: Sequence[str | int] = (), *,
                argument_names: dict[str, str] | None = None) -> PreparedData:
    """A CSV file read by refnn.datasets.load_csv, split into a training and a test part
    (test_fraction of the rows, drawn with `seed`; `limit` keeps the first rows of the training
    part), inputs standardised with the training part's statistics.

    A regression target is standardised too, y' = (y - target_mean) / target_std, so that
    one learning rate suits any unit; predictions map back by y = y' target_std + target_mean
    (both in `preprocessing`). target, drop, task and argument_names are load_csv's.
    """
    test_fraction = fraction("test_fraction", test_fraction)
    limit = _limit(limit)
    table = datasets.load_csv(path, target, drop, task, argument_names=argument_names)
    (Xa, ya), (Xb, yb) = split(table.X, table.y, test_fraction, seed=seed)
    if limit is not None:
        Xa, ya = Xa[:limit], ya[:limit]
    xa, xb, mean, std = standardise(Xa, Xb)
    prep = {"inputs": "(x - mean) / std", "features": table.feature_names,
            "mean": mean.tolist(), "std": std.tolist(), "target": table.target}
    if table.task == "regression":
        y_mean, y_std = float(ya.mean()), float(ya.std()) or 1.0
        ya, yb = (ya - y_mean) / y_std, (yb - y_mean) / y_std
        prep.update(target_mean=y_mean, target_std=y_std,
                    outputs="prediction * target_std + target_mean")
    else:
        prep["classes"] = table.class_names
    if table.one_hot:
        prep["one_hot"] = [f"{column} ({len(values)} values)" for column, values in table.one_hot]
    name = f"{os.path.basename(os.fspath(path))} (target {table.target!r})"
    return PreparedData(name, "csv", table.task, (xa, ya), (xb, yb),
                        class_names=table.class_names, feature_names=table.feature_names,
                        preprocessing=prep, scale=(mean, std))
