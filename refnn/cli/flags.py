"""Flag groups that several commands share (the data, the network, its training, the pictures),
and the defaults each kind of data gives the flags left out."""
from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from .. import activations, datasets
from ..networks import LOSSES
from ..optimizers import OPTIMIZERS
from ..plotting import DEFAULT_DPI, FIGSIZE
from ..preprocessing import IMAGE_SETS, TOY_SETS
from . import parsing
from .parsing import Parser, UsageError

# defaults per kind of data (a flag left out takes these)
PROFILES: dict[str, dict[str, Any]] = {
    "images": dict(layers=(128,), optimizer="adam", lr=0.001, batch_size=128, epochs=5),
    "toy": dict(layers=(32, 32), optimizer="adam", lr=0.01, batch_size=50, epochs=300),
    "csv": dict(layers=(64, 64), optimizer="adam", lr=0.003, batch_size=32, epochs=100),
}
KIND_NAMES = {"images": "images", "toy": "2-D sets", "csv": "CSV"}


def _default_text(key: str, kinds: Sequence[str], show: Callable[[Any], str] = str) -> str:
    """'(default: 0.01)' for one kind of data, '(default: 0.001 for images, ...)' for several."""
    if len(kinds) == 1:
        return f" (default: {show(PROFILES[kinds[0]][key])})"
    return " (default: " + ", ".join(f"{show(PROFILES[k][key])} for {KIND_NAMES[k]}"
                                      for k in kinds) + ")"


def add_model_flags(p: Parser, kinds: Sequence[str]) -> None:
    """The flags describing a network; a flag left out takes the default of the kind of data."""
    p.add_argument("--layers", type=parsing.sizes, default=None, metavar="SIZES",
                   help="hidden layer sizes, comma-separated; '' for none"
                        + _default_text("layers", kinds, lambda v: ",".join(map(str, v))))
    p.add_argument("--activation", choices=activations.HIDDEN, default="relu",
                   help="activation of the hidden layers")
    p.add_argument("--loss", choices=LOSSES, default="auto", metavar="LOSS",
                   help=f"{', '.join(LOSSES[:-1])} or {LOSSES[-1]}; auto is "
                        "binary_crossentropy for two classes, sparse_categorical_crossentropy "
                        "for more, mse for a regression. The output layer follows the loss: "
                        "sigmoid, softmax, linear for a regression, and sigmoid units on "
                        "one-hot targets for mse or huber on classes")
    p.add_argument("--dropout", type=parsing.rate, default=0.0, metavar="RATE",
                   help="dropout after each hidden layer (0: none)")
    p.add_argument("--batchnorm", action="store_true",
                   help="batch normalisation of each hidden layer's weighted sum h, before "
                        "its activation")
    p.add_argument("--seed", type=parsing.nonnegative_int, default=0,
                   help="fixes the data split, the initial weights, shuffling and dropout")


def add_training_flags(p: Parser, kinds: Sequence[str]) -> None:
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None,
                   help="the update rule" + _default_text("optimizer", kinds[:1]))
    p.add_argument("--lr", type=parsing.positive_float, default=None, metavar="ETA",
                   help="learning rate eta" + _default_text("lr", kinds))
    p.add_argument("--batch-size", type=parsing.positive_int, default=None, metavar="N",
                   help="samples per update" + _default_text("batch_size", kinds))
    p.add_argument("--epochs", type=parsing.positive_int, default=None, metavar="N",
                   help="passes over the training data" + _default_text("epochs", kinds)
                        + "; with lbfgs (full batch, no learning rate) 1: one run to "
                          "convergence")
    p.add_argument("--threads", type=parsing.thread_count, default=None, metavar="N",
                   help="refnn's threads for training; the result is the same for "
                        "any N (default: the cores this process may run on, within "
                        "REFNN_NUM_THREADS / OMP_NUM_THREADS / OPENBLAS_NUM_THREADS when set)")


def add_toy_flags(p: Parser, default_samples: int, samples_help: str | None = None) -> None:
    p.add_argument("--samples", type=parsing.positive_int, default=default_samples,
                   metavar="N", help=samples_help or "points generated for a 2-D set")
    p.add_argument("--noise", type=parsing.nonnegative_float, default=0.1,
                   help="noise of a 2-D set, as the Playground's slider (0 to 0.5)")


def add_plot_flags(p: Parser) -> None:
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the pictures (decision boundary for 2-D data, training curves) "
                        "to a PNG; needs matplotlib: pip install -e '.[plot]'")
    p.add_argument("--dpi", type=parsing.positive_int, default=DEFAULT_DPI,
                   help=f"resolution of --plot; the image is {FIGSIZE[0]:g} x {FIGSIZE[1]:g} "
                        f"inches times this")


def add_data_flags(p: Parser, default_dataset: str, samples: int,
                   samples_help: str | None = None) -> None:
    p.add_argument("dataset", nargs="?", default=None, choices=IMAGE_SETS + TOY_SETS,
                   metavar="DATASET",
                   help=f"fashion-mnist or mnist (IDX files), or a generated 2-D set: "
                        f"{', '.join(TOY_SETS)} (default: {default_dataset})")
    p.set_defaults(default_dataset=default_dataset)
    p.add_argument("--data", metavar="DIR",
                   help="folder holding the four IDX files of fashion-mnist/mnist (default: "
                        "$REFNN_DATA, then /usr/share/datasets, where `apt-get install "
                        "dataset-fashion-mnist` puts Fashion-MNIST)")
    p.add_argument("--csv", metavar="FILE",
                   help="train on a CSV file instead: a header row of column names; feature "
                        "columns of numbers, or of text (one-hot encoded)")
    p.add_argument("--target", metavar="COLUMN",
                   help="with --csv: the column to predict, by name or 0-based index "
                        "(default: the last)")
    p.add_argument("--drop", action="append", metavar="COLUMN",
                   help="with --csv: leave this column out (repeatable), e.g. an id")
    p.add_argument("--task", choices=datasets.CSV_TASKS, default="auto",
                   help="with --csv: auto is classification when the target holds text or at "
                        f"most {datasets.CSV_MAX_CLASSES} distinct whole numbers, else regression")
    p.add_argument("--test-fraction", type=parsing.fraction, default=0.2, metavar="F",
                   help="part of a CSV file or 2-D set held out for testing (seeded)")
    p.add_argument("--limit", type=parsing.positive_int, metavar="N",
                   help="use only the first N training samples (quick tries)")
    add_toy_flags(p, samples, samples_help)


def resolve_profile(args: argparse.Namespace, kind: str) -> None:
    """Fill the flags left out with the defaults for the kind of data. L-BFGS is full batch
    with its own step sizes: no --lr or --batch-size, and one epoch (a run to convergence)."""
    if getattr(args, "optimizer", None) == "lbfgs":
        given = [f for f, v in (("--lr", args.lr), ("--batch-size", args.batch_size))
                 if v is not None]
        if given:
            raise UsageError(f"{' and '.join(given)} {'does' if len(given) == 1 else 'do'} "
                             f"not apply to lbfgs (full batch, its own line search); leave "
                             f"{'it' if len(given) == 1 else 'them'} out")
        if args.epochs is None:
            args.epochs = 1
    for key, value in PROFILES[kind].items():
        if getattr(args, key, "absent") is None:
            setattr(args, key, value)


def training_text(args: argparse.Namespace) -> str:
    epochs = f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}"
    if args.optimizer == "lbfgs":
        return f"lbfgs (full batch), {epochs}"
    return (f"{args.optimizer} (learning rate {args.lr:g}), batch size {args.batch_size}, "
            f"{epochs}")
