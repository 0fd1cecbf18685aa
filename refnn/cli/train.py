"""python -m refnn train: a network described by flags, on Fashion-MNIST, MNIST, a CSV file or
a 2-D set; evaluated on the test split, optionally saved and plotted."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from typing import TYPE_CHECKING

import numpy as np

from ..plotting import save_plot
from . import flags, parsing, running

if TYPE_CHECKING:
    from .parsing import Subparsers


def register(subparsers: Subparsers) -> None:
    p = parsing.add_command(
        subparsers, "train", help="train a network described by flags",
        description=(
            "Train a network described by flags on Fashion-MNIST or MNIST (IDX files), "
            "a CSV file or a generated 2-D set; show the progress, evaluate on the "
            "test split, optionally save the model and plot the curves. Inputs are "
            "scaled as the model sees them: pixels / 255; CSV and 2-D features "
            "standardised with the training part's mean and standard deviation. "
            "The test split is measured after every epoch (val_ in the progress); "
            "nothing is chosen by it."),
        examples=["train                                  Fashion-MNIST, 784-128-10",
                  "train fashion-mnist --layers 256,128 --dropout 0.2 --epochs 10 \\\n"
                  "      --save fashion.npz --plot fashion.png",
                  "train mnist --data ~/mnist --optimizer sgd --lr 0.1",
                  "train --csv iris.csv --target species",
                  "train --csv houses.csv --target price --loss huber",
                  "train spirals --layers 64,64 --epochs 500"])
    flags.add_data_flags(p, "fashion-mnist", 1000)
    flags.add_model_flags(p, list(flags.PROFILES))
    flags.add_training_flags(p, list(flags.PROFILES))
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="the floating-point type the network computes in")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                   help="0 quiet, 1 progress bar, 2 one line per epoch (default: 1 on a "
                        "terminal, else 2)")
    p.add_argument("--save", metavar="FILE.npz",
                   help="save the trained model (refnn.load_model reads it) and, beside it, "
                        "FILE.preprocessing.json: how to scale inputs for it")
    p.add_argument("--export", metavar="FILE.onnx",
                   help="export the trained network as an ONNX graph (needs the onnx package)")
    flags.add_plot_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    running.require_matplotlib(args.plot)
    if args.save is not None:
        running.check_output_path(args.save, "--save", (".npz",))
    if args.export is not None:
        running.check_output_path(args.export, "--export", (".onnx",))
        if importlib.util.find_spec("onnx") is None:      # fail before any training
            raise parsing.UsageError("--export needs the onnx package: pip install 'onnx>=1.16'")
    data = running.load_data(args)
    flags.resolve_profile(args, data.kind)
    full_batch = args.optimizer == "lbfgs"
    model, loss, metrics, targets = running.build_network(
        data, args, data.x_train.shape[0] if full_batch else args.batch_size, args.dtype)
    print(f"refnn train: {data.describe()}")
    print(f"{loss}; {flags.training_text(args)}, seed {args.seed}")
    model.summary()
    verbose = args.verbose
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    history, seconds, train_scores, test_scores = running.fit(model, data, args, loss, metrics,
                                                              targets, verbose=verbose)
    print("")
    metric = metrics[0]
    units = " (of the standardised target)" if data.task == "regression" else ""
    print(f"trained in {seconds:.1f} s")
    print(f"training: loss {train_scores[0]:.4f}, {metric} {train_scores[1]:.4f}{units}")
    print(f"test:     loss {test_scores[0]:.4f}, {metric} {test_scores[1]:.4f}{units}")
    if data.task == "regression":
        y_std = data.preprocessing["target_std"]
        pred = model.predict(data.x_test, batch_size=4096)[:, 0]
        err = (pred.astype(np.float64) - data.y_test) * y_std
        print(f"test, in the target's units: mean absolute error {np.mean(np.abs(err)):.4g}, "
              f"root mean squared error {np.sqrt(np.mean(err ** 2)):.4g}")
    if args.save:
        model.save(args.save)
        side = os.path.splitext(args.save)[0] + ".preprocessing.json"
        with open(side, "w") as f:
            json.dump({"data": data.name, "task": data.task, **data.preprocessing,
                       **({"classes": data.class_names} if data.class_names else {})}, f,
                      indent=2)
        print(f"saved the model to {args.save} (refnn.load_model reads it) and its input "
              f"scaling to {side}")
    if args.export:
        model.export(args.export, format="onnx")
        print(f"exported the network to {args.export} (ONNX, inputs scaled as for --save)")
    if args.plot:
        boundary = None
        if data.raw_train is not None:
            boundary = (running.classifier(model, data),
                        lambda P: running.class_one_probability(model, data, P),
                        data.raw_train, data.raw_test)
        save_plot(args.plot, history, f"refnn train: {data.name}", dpi=args.dpi,
                  boundary=boundary, metric_name=metric)
        print(f"wrote {args.plot}")
    return 0
