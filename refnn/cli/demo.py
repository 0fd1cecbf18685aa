"""python -m refnn demo: a small network learns a 2-D data set; progress, accuracy, and the
decision boundary drawn in the terminal."""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import terminal
from ..plotting import save_plot
from ..preprocessing import TOY_SETS, prepare_toy
from . import budget, flags, parsing, running

if TYPE_CHECKING:
    from .parsing import Subparsers


def register(subparsers: Subparsers) -> None:
    p = parsing.add_command(
        subparsers, "demo", help="a small network learns a 2-D data set",
        description=(
            "A small network learns a generated 2-D data set of the kind TensorFlow "
            "Playground shows (nothing is downloaded). It prints the progress, the "
            "accuracy on the training points and on held-out test points, and the "
            "learned decision boundary drawn with characters."),
        examples=["demo                        two spirals",
                  "demo xor --noise 0.3",
                  "demo spirals --plot spirals.png",
                  "demo circles --layers 4 --activation tanh --epochs 100"])
    p.add_argument("dataset", nargs="?", default="spirals", choices=TOY_SETS,
                   metavar="DATASET", help=f"which 2-D set: {', '.join(TOY_SETS)} "
                                           f"(default: spirals)")
    flags.add_toy_flags(p, 500)
    p.add_argument("--test-fraction", type=parsing.fraction, default=0.2, metavar="F",
                   help="part of the points held out for testing")
    flags.add_model_flags(p, ["toy"])
    flags.add_training_flags(p, ["toy"])
    p.add_argument("--every", type=parsing.positive_int, default=None, metavar="K",
                   help="print every K-th epoch (default: about 12 lines in all)")
    p.add_argument("--width", type=parsing.drawing_width, default=64,
                   help="drawing width, characters (2 to 1000)")
    p.add_argument("--height", type=parsing.drawing_height, default=32,
                   help="drawing height, lines (2 to 500)")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the drawing (auto: on a terminal, unless NO_COLOR is set)")
    flags.add_plot_flags(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    flags.resolve_profile(args, "toy")
    running.require_matplotlib(args.plot)
    budget.toy_points(args.samples)
    data = prepare_toy(args.dataset, args.samples, args.noise, args.seed, args.test_fraction)
    model, loss, metrics, targets = running.build_network(data, args, args.batch_size)
    arch = "-".join(str(n) for n in (2,) + tuple(args.layers) + (model.output_shape[0],))
    print(f"refnn demo: {data.describe()}, noise {args.noise:g}")
    print(f"network {arch}, {args.activation} hidden layers, {model.layers[-1].activation} "
          f"output, {loss}; {flags.training_text(args)}, seed {args.seed}")
    print("")
    every = args.every or max(1, args.epochs // 12)
    history, seconds, train_scores, test_scores = running.fit(
        model, data, args, loss, metrics, targets,
        callbacks=[running.EpochLines(args.epochs, every)])
    print("")
    print(f"accuracy: {train_scores[1]:.4f} on the {data.x_train.shape[0]} training points, "
          f"{test_scores[1]:.4f} on the {data.x_test.shape[0]} test points "
          f"(trained in {seconds:.1f} s)")
    print("")
    # a 2-D set keeps its points as generated
    Xa, ya = cast("tuple[NDArray[Any], NDArray[Any]]", data.raw_train)
    Xb, yb = cast("tuple[NDArray[Any], NDArray[Any]]", data.raw_test)
    classify = running.classifier(model, data)
    print("the learned decision boundary, with the training points:")
    print(terminal.render(classify, Xa, ya, width=args.width, height=args.height,
                          color=terminal.use_color(sys.stdout, args.color),
                          bounds=terminal.plane_bounds(np.concatenate([Xa, Xb]))))
    if args.plot:
        probability = lambda P: running.class_one_probability(model, data, P)  # noqa: E731
        save_plot(args.plot, history, f"refnn demo: {args.dataset}, network {arch}",
                  dpi=args.dpi, boundary=(classify, probability, (Xa, ya), (Xb, yb)))
        print(f"\nwrote {args.plot}")
    return 0
