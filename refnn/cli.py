"""python -m refnn: the command line.

    python -m refnn               a 2-2-1 sigmoid network learns XOR by the textbook's per-sample
                                  backpropagation (in C); one step traced, every gradient checked
    python -m refnn demo          a small network learns a 2-D data set (two spirals by default):
                                  progress, accuracy, the decision boundary drawn in the terminal
    python -m refnn train         a network described by flags, on Fashion-MNIST, MNIST, a CSV
                                  file or a 2-D set; evaluated on the test split
    python -m refnn gradcheck     every parameter tensor of such a network vs finite differences
    python -m refnn trace         one textbook backprop step, h, g, epsilon per layer, the
                                  gradient and the update, next to the finite differences
    python -m refnn bench         the C core against NumPy (refnn.benchmarking.run_workloads)
    python -m refnn experiment    the theory lab (refnn.experiments)

Every subcommand has --help with examples. Exit status: 0 done, 1 a check failed (gradcheck,
trace, the XOR run), 2 a usage or data error, reported on one line (`refnn: error: ...`)
without a traceback; REFNN_TRACEBACK=1 shows the traceback of such an error.
"""
import argparse
import difflib
import json
import math
import os
import re
import sys
import textwrap
import time

import numpy as np

from . import datasets, terminal
from .callbacks import Callback
from .gradcheck import gradcheck
from .layers import Dense, Dropout
from .model import Sequential
from .optimizers import OPTIMIZERS
from .plotting import DEFAULT_DPI, FIGSIZE, MissingMatplotlibError, save_plot
from .textbook import BackpropNetwork
from .utils import split, to_categorical

PROG = "python -m refnn"
XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)

IMAGE_SETS = ("fashion-mnist", "mnist")
TOY_SETS = tuple(datasets.TOY_DATASETS)
HIDDEN_ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
LOSSES = ("auto", "sparse_categorical_crossentropy", "categorical_crossentropy",
          "binary_crossentropy", "mse", "huber")
# a value, not a flag: -1, -0.5, -1e-3, and lists such as -1,0.5
NUMBER = re.compile(r"-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?(,-?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?)*",
                    re.IGNORECASE)
# datasets.load_csv's errors name these flags instead of its arguments path, target, drop
CSV_FLAGS = {"path": "--csv {}", "target": "--target {}", "drop": "--drop {}"}

# defaults per kind of data (a flag left out takes these)
PROFILES = {
    "images": dict(layers=(128,), optimizer="adam", lr=0.001, batch_size=128, epochs=5),
    "toy": dict(layers=(32, 32), optimizer="adam", lr=0.01, batch_size=50, epochs=300),
    "csv": dict(layers=(64, 64), optimizer="adam", lr=0.003, batch_size=32, epochs=100),
}


class UsageError(Exception):
    """A command line that cannot run: reported on one line, exit status 2."""


def _one_line(message):
    return " ".join(str(message).split())


# --------------------------------------------------------------------------- the parser
class Parser(argparse.ArgumentParser):
    """argparse that reports a wrong command line on one line (exit status 2), and takes
    flags only as spelled (no abbreviations: --layer is an error, not --layers)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        # `--x -1,0.5` takes -1,0.5 as the value (argparse alone knows only -1 and -0.5)
        self._negative_number_matcher = NUMBER

    def error(self, message):
        sys.stderr.write(f"{self.prog}: error: {_one_line(message)} "
                         f"(see {self.prog} --help)\n")
        raise SystemExit(2)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Descriptions and examples as written (see _wrap); a flag's default shown unless its
    help already says it or it has none."""

    def _get_help_string(self, action):
        text = action.help or ""
        if ("default" not in text and action.option_strings
                and not any(action.default is v for v in (None, False, argparse.SUPPRESS))):
            text += " (default: %(default)s)"
        return text


def _wrap(text, width=88):
    """Paragraphs (separated by blank lines) filled to `width` columns."""
    return "\n\n".join(textwrap.fill(" ".join(par.split()), width)
                       for par in text.split("\n\n"))


def _int_list(text):
    """'128,64' -> (128, 64); '' -> () (no hidden layer)."""
    text = text.strip()
    if not text or text.lower() == "none":
        return ()
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes separated by commas such as 128,64, "
                                         f"got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be >= 1, got {text!r}")
    return sizes


def _float_list(text):
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected numbers separated by commas such as 0,1, "
                                         f"got {text!r}") from None


def _whole_number(text, minimum):
    """An int >= minimum from a flag's text, or argparse's one-line error."""
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"expected a whole number >= {minimum}, got {text!r}")
    return value


def _positive_int(text):
    return _whole_number(text, 1)


def _nonnegative_int(text):
    return _whole_number(text, 0)


def _positive_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _nonnegative_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return value


def _rate(text):
    """A dropout rate: 0 <= rate < 1."""
    value = _nonnegative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a rate in [0, 1), got {text!r}")
    return value


def _fraction(text):
    """A part of the data: 0 < fraction < 1."""
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction between 0 and 1, got {text!r}")
    return value


KIND_NAMES = {"images": "images", "toy": "2-D sets", "csv": "CSV"}


def _default_text(key, kinds, show=str):
    """'(default: 0.01)' for one kind of data, '(default: 0.001 for images, ...)' for several."""
    if len(kinds) == 1:
        return f" (default: {show(PROFILES[kinds[0]][key])})"
    return " (default: " + ", ".join(f"{show(PROFILES[k][key])} for {KIND_NAMES[k]}"
                                      for k in kinds) + ")"


def _add_model_flags(p, kinds):
    """The flags describing a network; a flag left out takes the default of the kind of data."""
    p.add_argument("--layers", type=_int_list, default=None, metavar="SIZES",
                   help="hidden layer sizes, comma-separated; '' for none"
                        + _default_text("layers", kinds, lambda v: ",".join(map(str, v))))
    p.add_argument("--activation", choices=HIDDEN_ACTIVATIONS, default="relu",
                   help="activation of the hidden layers")
    p.add_argument("--loss", choices=LOSSES, default="auto", metavar="LOSS",
                   help=f"{', '.join(LOSSES[:-1])} or {LOSSES[-1]}; auto is "
                        "binary_crossentropy for two classes, sparse_categorical_crossentropy "
                        "for more, mse for a regression. The output layer follows the loss: "
                        "sigmoid, softmax, linear for a regression, and sigmoid units on "
                        "one-hot targets for mse or huber on classes")
    p.add_argument("--dropout", type=_rate, default=0.0, metavar="RATE",
                   help="dropout after each hidden layer (0: none)")
    p.add_argument("--batchnorm", action="store_true",
                   help="batch normalisation of each hidden layer's weighted sum h, before "
                        "its activation")
    p.add_argument("--seed", type=_nonnegative_int, default=0,
                   help="fixes the data split, the initial weights, shuffling and dropout")


def _add_training_flags(p, kinds):
    p.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default=None,
                   help="the update rule" + _default_text("optimizer", kinds[:1]))
    p.add_argument("--lr", type=_positive_float, default=None, metavar="ETA",
                   help="learning rate eta" + _default_text("lr", kinds))
    p.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                   help="samples per update" + _default_text("batch_size", kinds))
    p.add_argument("--epochs", type=_positive_int, default=None, metavar="N",
                   help="passes over the training data" + _default_text("epochs", kinds)
                        + "; with lbfgs (full batch, no learning rate) 1: one run to "
                          "convergence")


def _add_toy_flags(p, default_samples, samples_help=None):
    p.add_argument("--samples", type=_positive_int, default=default_samples, metavar="N",
                   help=samples_help or "points generated for a 2-D set")
    p.add_argument("--noise", type=_nonnegative_float, default=0.1,
                   help="noise of a 2-D set, as the Playground's slider (0 to 0.5)")


def _add_plot_flags(p):
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the pictures (decision boundary for 2-D data, training curves) "
                        "to a PNG; needs matplotlib: pip install -e '.[plot]'")
    p.add_argument("--dpi", type=_positive_int, default=DEFAULT_DPI,
                   help=f"resolution of --plot; the image is {FIGSIZE[0]:g} x {FIGSIZE[1]:g} "
                        f"inches times this")


def _add_data_flags(p, default_dataset, samples, samples_help=None):
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
    p.add_argument("--task", choices=("auto", "classification", "regression"), default="auto",
                   help="with --csv: auto is classification when the target holds text or at "
                        f"most {datasets.CSV_MAX_CLASSES} distinct whole numbers, else regression")
    p.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                   help="part of a CSV file or 2-D set held out for testing (seeded)")
    p.add_argument("--limit", type=_positive_int, metavar="N",
                   help="use only the first N training samples (quick tries)")
    _add_toy_flags(p, samples, samples_help)


def build_parser():
    parser = Parser(
        prog=PROG, formatter_class=_Formatter,
        description=_wrap(
            "refnn: a gradient-checked reference implementation of feed-forward "
            "neural networks with a C core.\n\nWithout a subcommand: a 2-2-1 network "
            "learns XOR by textbook backpropagation; one step is traced and every "
            "gradient is checked against finite differences."),
        epilog="examples:\n"
               f"  {PROG}                        XOR, traced and gradient-checked\n"
               f"  {PROG} --seed 2 --eta 1 --epochs 3000\n"
               f"  {PROG} demo                   learn two spirals, draw the boundary\n"
               f"  {PROG} demo circles --plot circles.png\n"
               f"  {PROG} train fashion-mnist --layers 128,64 --epochs 5 --save model.npz\n"
               f"  {PROG} train --csv data.csv --target price\n"
               f"  {PROG} gradcheck --layers 8,8 --activation tanh\n"
               f"  {PROG} trace --sizes 2,3,1\n"
               f"  {PROG} bench --quick\n"
               f"  {PROG} experiment\n"
               f"{PROG} COMMAND --help describes each.")
    parser.add_argument("--seed", dest="xor_seed", type=_nonnegative_int, default=None,
                        metavar="SEED", help="XOR run: initial weights (default 0)")
    parser.add_argument("--eta", dest="xor_eta", type=_positive_float, default=None,
                        metavar="ETA", help="XOR run: learning rate (default 0.5)")
    parser.add_argument("--epochs", dest="xor_epochs", type=_positive_int, default=None,
                        metavar="N", help="XOR run: epochs (default 5000)")
    parser.add_argument("--backend", dest="xor_backend", choices=["c", "numpy", "python"],
                        default=None, help="XOR run: which implementation computes (the same "
                                           "numbers; default c)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parser.commands = sub.choices             # name -> its parser

    # demo ------------------------------------------------------------------------------
    p = sub.add_parser(
        "demo", formatter_class=_Formatter, help="a small network learns a 2-D data set",
        description=_wrap(
            "A small network learns a generated 2-D data set of the kind TensorFlow "
            "Playground shows (nothing is downloaded). It prints the progress, the "
            "accuracy on the training points and on held-out test points, and the "
            "learned decision boundary drawn with characters."),
        epilog="examples:\n"
               f"  {PROG} demo                        two spirals\n"
               f"  {PROG} demo xor --noise 0.3\n"
               f"  {PROG} demo spirals --plot spirals.png\n"
               f"  {PROG} demo circles --layers 4 --activation tanh --epochs 100")
    p.add_argument("dataset", nargs="?", default="spirals", choices=TOY_SETS,
                   metavar="DATASET", help=f"which 2-D set: {', '.join(TOY_SETS)} "
                                           f"(default: spirals)")
    _add_toy_flags(p, 500)
    p.add_argument("--test-fraction", type=_fraction, default=0.2, metavar="F",
                   help="part of the points held out for testing")
    _add_model_flags(p, ["toy"])
    _add_training_flags(p, ["toy"])
    p.add_argument("--every", type=_positive_int, default=None, metavar="K",
                   help="print every K-th epoch (default: about 12 lines in all)")
    p.add_argument("--width", type=_positive_int, default=64, help="drawing width, characters")
    p.add_argument("--height", type=_positive_int, default=32, help="drawing height, lines")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                   help="colour the drawing (auto: on a terminal, unless NO_COLOR is set)")
    _add_plot_flags(p)

    # train -----------------------------------------------------------------------------
    p = sub.add_parser(
        "train", formatter_class=_Formatter, help="train a network described by flags",
        description=_wrap(
            "Train a network described by flags on Fashion-MNIST or MNIST (IDX files), "
            "a CSV file or a generated 2-D set; show the progress, evaluate on the "
            "test split, optionally save the model and plot the curves. Inputs are "
            "scaled as the model sees them: pixels / 255; CSV and 2-D features "
            "standardised with the training part's mean and standard deviation. "
            "The test split is measured after every epoch (val_ in the progress); "
            "nothing is chosen by it."),
        epilog="examples:\n"
               f"  {PROG} train                                  Fashion-MNIST, 784-128-10\n"
               f"  {PROG} train fashion-mnist --layers 256,128 --dropout 0.2 --epochs 10 \\\n"
               f"      --save fashion.npz --plot fashion.png\n"
               f"  {PROG} train mnist --data ~/mnist --optimizer sgd --lr 0.1\n"
               f"  {PROG} train --csv iris.csv --target species\n"
               f"  {PROG} train --csv houses.csv --target price --loss huber\n"
               f"  {PROG} train spirals --layers 64,64 --epochs 500")
    _add_data_flags(p, "fashion-mnist", 1000)
    _add_model_flags(p, list(PROFILES))
    _add_training_flags(p, list(PROFILES))
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                   help="the floating-point type the network computes in")
    p.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                   help="0 quiet, 1 progress bar, 2 one line per epoch (default: 1 on a "
                        "terminal, else 2)")
    p.add_argument("--save", metavar="FILE.npz",
                   help="save the trained model (refnn.load_model reads it) and, beside it, "
                        "FILE.preprocessing.json: how to scale inputs for it")
    _add_plot_flags(p)

    # gradcheck -------------------------------------------------------------------------
    p = sub.add_parser(
        "gradcheck", formatter_class=_Formatter,
        help="check every gradient of a network against finite differences",
        description=_wrap(
            "Build the network the flags describe (as train does), in float64, and "
            "compare the gradient of the loss that backpropagation gives with "
            "central finite differences (L(w + step) - L(w - step)) / (2 step), entry "
            "by entry, on a few samples of the data. Prints the worst relative error "
            "per parameter tensor; exit status 1 when any exceeds the tolerance. "
            "relu entries whose step crosses the kink at h = 0 are skipped and listed."),
        epilog="examples:\n"
               f"  {PROG} gradcheck                       2-32-32-1 relu on spirals\n"
               f"  {PROG} gradcheck --layers 8,8 --activation tanh --batchnorm\n"
               f"  {PROG} gradcheck fashion-mnist --layers 16 --loss mse --samples 4\n"
               f"  {PROG} gradcheck --csv data.csv --target y --dropout 0.5")
    _add_data_flags(p, "spirals", 16, "samples the loss is averaged over")
    _add_model_flags(p, list(PROFILES))
    p.add_argument("--step", type=_positive_float, default=1e-6,
                   help="finite-difference step")
    p.add_argument("--tolerance", type=_positive_float, default=1e-6,
                   help="largest relative error that passes")
    p.add_argument("--max-entries", type=_nonnegative_int, default=500, metavar="N",
                   help="check at most N entries per tensor, chosen at random (seeded); "
                        "0: all")

    # trace -----------------------------------------------------------------------------
    p = sub.add_parser(
        "trace", formatter_class=_Formatter,
        help="one textbook backprop step in the lecture's notation, with finite differences",
        description=_wrap(
            "One step of the textbook's per-sample backpropagation on a tiny network "
            "(refnn.textbook.BackpropNetwork, E = 1/2 sum_k (yhat_k - y_k)^2): the "
            "weighted sums h, outputs g and error terms epsilon of every layer, the "
            "gradient dE/dw = epsilon_j g_i, the update w' = w - eta dE/dw; then every "
            "gradient entry beside its central finite difference, for checking the "
            "derivation by hand. Exit status 1 if any entry disagrees."),
        epilog="examples:\n"
               f"  {PROG} trace                            2-2-1 sigmoid, x = (0, 1), y = 1\n"
               f"  {PROG} trace --sizes 2,3,1 --x 1,0 --y 1 --eta 0.1\n"
               f"  {PROG} trace --activation tanh --backend python")
    p.add_argument("--sizes", type=_int_list, default=(2, 2, 1),
                   help="units per layer, input first")
    p.add_argument("--activation", choices=("sigmoid", "tanh", "relu", "linear"),
                   default="sigmoid", help="activation of every layer")
    p.add_argument("--x", type=_float_list, default=None,
                   help="the input, comma-separated (default: 0,1 for two inputs, else random)")
    p.add_argument("--y", type=_float_list, default=None,
                   help="the target, comma-separated (default: 1 for every output)")
    p.add_argument("--eta", type=_positive_float, default=0.5, help="learning rate")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="initial weights")
    p.add_argument("--backend", choices=("c", "numpy", "python"), default="c",
                   help="which implementation computes (the same numbers)")
    p.add_argument("--step", type=_positive_float, default=1e-6,
                   help="finite-difference step")
    p.add_argument("--tolerance", type=_positive_float, default=1e-6,
                   help="largest relative error that passes")

    # bench -----------------------------------------------------------------------------
    p = sub.add_parser(
        "bench", formatter_class=_Formatter, help="time the C core against NumPy",
        description=_wrap(
            "The side-by-side benchmark: each workload timed in the C core and in "
            "NumPy (and in peers that are installed), in one process, back to back. "
            "BLAS threads: --threads, else the OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / "
            "MKL_NUM_THREADS already set, else 1."),
        epilog="examples:\n"
               f"  {PROG} bench                       every workload, one thread\n"
               f"  {PROG} bench --workload W1 --workload W3 --threads 4\n"
               f"  {PROG} bench --quick               small sizes, seconds")
    p.add_argument("--threads", type=_positive_int, default=None, metavar="N",
                   help="BLAS threads (default: as set in the environment, else 1)")
    p.add_argument("--workload", action="append", metavar="W", default=None,
                   help="run this workload (repeatable; default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes (for tests)")

    # experiment ------------------------------------------------------------------------
    p = sub.add_parser(
        "experiment", formatter_class=_Formatter,
        help="run one of the theory lab's experiments (or list them)",
        description=_wrap(
            "The theory lab: the lecture's claims about deep networks as runnable "
            "experiments (refnn.experiments). Without a name, lists those available."),
        epilog="examples:\n"
               f"  {PROG} experiment                      list the experiments\n"
               f"  {PROG} experiment depth --quick\n"
               f"  {PROG} experiment vanishing_gradients --plot vanishing.png")
    p.add_argument("name", nargs="?", help="the experiment to run")
    p.add_argument("--quick", action="store_true", help="small settings: seconds, not minutes")
    p.add_argument("--seed", type=_nonnegative_int, default=0, help="fixes every random choice")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the experiment's picture (needs matplotlib: "
                        "pip install -e '.[plot]')")
    return parser


# --------------------------------------------------------------------------- main
def _check_flags(parser, argv):
    """Name an unknown flag before argparse would take its value for a positional argument
    (`train --layer 128` is about --layer, not about a data set called 128)."""
    target = parser
    for token in argv:
        if token == "--":
            return
        if target is parser and token in parser.commands:
            target = parser.commands[token]
            continue
        if not token.startswith("-") or NUMBER.fullmatch(token) or token in ("-h", "--help"):
            continue
        flag = token.split("=", 1)[0]
        if flag not in target._option_string_actions:
            close = difflib.get_close_matches(flag, list(target._option_string_actions), n=1)
            target.error(f"unrecognized argument {flag}"
                         + (f": did you mean {close[0]}?" if close else ""))


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    _check_flags(parser, argv)
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return cmd_xor(args)
        xor_flags = [f for f, v in (("--seed", args.xor_seed), ("--eta", args.xor_eta),
                                    ("--epochs", args.xor_epochs),
                                    ("--backend", args.xor_backend)) if v is not None]
        if xor_flags:
            raise UsageError(f"{', '.join(xor_flags)} before {args.command!r} belongs to the XOR "
                             f"run; put it after the subcommand: {PROG} {args.command} "
                             f"{xor_flags[0]} ...")
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        sys.stderr.write("refnn: interrupted\n")
        return 130
    except BrokenPipeError:                     # e.g. piped into head
        sys.stderr.close()
        return 0
    except (UsageError, MissingMatplotlibError, ValueError, TypeError, OSError) as e:
        if os.environ.get("REFNN_TRACEBACK"):
            raise
        sys.stderr.write(f"refnn: error: {_one_line(e)}\n")
        return 2


# --------------------------------------------------------------------------- XOR
def run_xor(seed=0, eta=0.5, epochs=5000, backend="c", out=None):
    """Train 2-2-1 on XOR; print the trace of one step and the gradient check. Returns 0 if
    XOR was learned and every gradient agrees with finite differences, else 1."""
    p = lambda *a: print(*a, file=out or sys.stdout)           # noqa: E731
    net = BackpropNetwork([2, 2, 1], activation="sigmoid", seed=seed, backend=backend)
    p(f"refnn: the textbook's per-sample backpropagation on XOR ({net!r})")
    p("")
    p("Step 1: small initial weights W, b uniform in (-1/sqrt(n_in), 1/sqrt(n_in)).")
    p("Steps 2.1-2.5 for one sample, x = (0, 1), y = 1, in the lecture's notation:")
    probe = BackpropNetwork([2, 2, 1], activation="sigmoid", seed=seed, backend=backend)
    p(probe.step(XOR_X[1], XOR_Y[1], eta=eta))
    p("")
    history = net.fit(XOR_X, XOR_Y, eta=eta, epochs=epochs)
    p(f"per-sample SGD, eta = {eta}, {epochs} epochs over the 4 samples:")
    for e in sorted({1, 10, 100, 1000, epochs}):
        if e <= epochs:
            p(f"  epoch {e:>5}: mean E = {history[e - 1]:.6f}")
    yhat = net.predict(XOR_X).ravel()
    p("")
    p("  x1 x2 | y | yhat")
    for x, y, o in zip(XOR_X, XOR_Y.ravel(), yhat):
        p(f"   {x[0]:.0f}  {x[1]:.0f} | {y:.0f} | {o:.4f}")
    learned = bool(np.all((yhat > 0.5) == (XOR_Y.ravel() == 1)))
    p(f"XOR {'learned' if learned else 'NOT learned (a local minimum: try another --seed)'}")
    p("")
    report = gradcheck(net, XOR_X, XOR_Y)
    p(report)
    return 0 if (learned and report.ok) else 1


def cmd_xor(args):
    return run_xor(seed=0 if args.xor_seed is None else args.xor_seed,
                   eta=0.5 if args.xor_eta is None else args.xor_eta,
                   epochs=5000 if args.xor_epochs is None else args.xor_epochs,
                   backend=args.xor_backend or "c")


# --------------------------------------------------------------------------- data
class Data:
    """A data set ready for a network: inputs scaled, a training and a test part.

    task           "classification" (y class indices 0..k-1) or "regression" (y floats)
    kind           "images", "toy" or "csv" (which PROFILES entry applies)
    preprocessing  how raw inputs become the network's (saved beside a model)
    """

    def __init__(self, name, kind, task, train, test, class_names=None, feature_names=None,
                 preprocessing=None, raw_train=None, raw_test=None, scale=None):
        self.name, self.kind, self.task = name, kind, task
        (self.x_train, self.y_train), (self.x_test, self.y_test) = train, test
        self.class_names = class_names
        self.feature_names = feature_names
        self.preprocessing = preprocessing or {}
        self.raw_train, self.raw_test = raw_train, raw_test      # 2-D points as generated
        self.scale = scale                                       # (mean, std) of the inputs

    @property
    def n_classes(self):
        return len(self.class_names) if self.class_names is not None else 0

    def describe(self):
        n_in = int(np.prod(self.x_train.shape[1:]))
        what = (f"{self.n_classes} classes" if self.task == "classification"
                else "regression")
        text = (f"{self.name}: {self.x_train.shape[0]} training and {self.x_test.shape[0]} "
                f"test samples, {n_in} inputs, {what}")
        if self.preprocessing.get("one_hot"):
            text += f" (one-hot encoded: {', '.join(self.preprocessing['one_hot'])})"
        return text


def _standardise(x_train, x_test):
    """x' = (x - mean) / std with the training part's mean and std (std 0 -> 1)."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    return (x_train - mean) / std, (x_test - mean) / std, mean, std


def load_images(name, folder, limit=None):
    loader = datasets.fashion_mnist if name == "fashion-mnist" else datasets.mnist
    try:
        (x_train, y_train), (x_test, y_test) = loader(path=folder, flatten=True)
    except FileNotFoundError:
        subdir = name
        if folder is not None:
            where = f"no {name} IDX files in {folder} (nor in {os.path.join(folder, subdir)})"
        else:
            where = f"{name} not found in " + ", ".join(
                ([os.path.join(os.environ[datasets.DATA_ENV], subdir)]
                 if os.environ.get(datasets.DATA_ENV) else [])
                + [os.path.join(datasets.DEBIAN_DATA_DIR, subdir)])
        files = ", ".join(f + "[.gz]" for f in datasets.MNIST_FILES)
        if name == "fashion-mnist":
            how = ("install it with `apt-get install dataset-fashion-mnist`, or pass --data DIR "
                   f"a folder holding {files}")
        else:
            how = f"get the four MNIST IDX files and pass --data DIR the folder holding {files}"
        raise UsageError(f"{where}; {how}") from None
    if limit is not None:
        x_train, y_train = x_train[:limit], y_train[:limit]
    classes = (list(datasets.FASHION_MNIST_CLASSES) if name == "fashion-mnist"
               else [str(d) for d in range(10)])
    return Data(name, "images", "classification", (x_train, y_train.astype(np.int64)),
                (x_test, y_test.astype(np.int64)), class_names=classes,
                preprocessing={"inputs": "pixel / 255, flattened to 784 values"})


def load_toy(name, samples, noise, seed, test_fraction):
    X, y = datasets.TOY_DATASETS[name](samples, noise=noise, seed=seed)
    (Xa, ya), (Xb, yb) = split(X, y, test_fraction, seed=seed)
    xa, xb, mean, std = _standardise(Xa, Xb)
    k = int(y.max()) + 1
    return Data(name, "toy", "classification", (xa, ya), (xb, yb),
                class_names=[str(c) for c in range(k)], feature_names=["x1", "x2"],
                preprocessing={"inputs": "(x - mean) / std", "mean": mean.tolist(),
                               "std": std.tolist()},
                raw_train=(Xa, ya), raw_test=(Xb, yb), scale=(mean, std))


def load_csv(path, target, task, test_fraction, seed, limit=None, drop=()):
    """A CSV file read by datasets.load_csv (its errors naming the flags), split and
    standardised."""
    table = datasets.load_csv(path, target, drop, task, argument_names=CSV_FLAGS)
    task = table.task
    (Xa, ya), (Xb, yb) = split(table.X, table.y, test_fraction, seed=seed)
    if limit is not None:
        Xa, ya = Xa[:limit], ya[:limit]
    xa, xb, mean, std = _standardise(Xa, Xb)
    prep = {"inputs": "(x - mean) / std", "features": table.feature_names,
            "mean": mean.tolist(), "std": std.tolist(), "target": table.target}
    if task == "regression":
        y_mean, y_std = float(ya.mean()), float(ya.std()) or 1.0
        ya, yb = (ya - y_mean) / y_std, (yb - y_mean) / y_std
        prep.update(target_mean=y_mean, target_std=y_std,
                    outputs="prediction * target_std + target_mean")
    else:
        prep["classes"] = table.class_names
    name = f"{os.path.basename(path)} (target {table.target!r})"
    if table.one_hot:
        prep["one_hot"] = [f"{column} ({len(values)} values)" for column, values in table.one_hot]
    return Data(name, "csv", task, (xa, ya), (xb, yb), class_names=table.class_names,
                feature_names=table.feature_names, preprocessing=prep, scale=(mean, std))


def load_data(args):
    if args.csv is not None:
        if args.dataset is not None:
            raise UsageError(f"give either a data set name ({args.dataset}) or --csv FILE, "
                             f"not both")
        if args.data is not None:
            raise UsageError("--data DIR is for fashion-mnist or mnist, not with --csv")
        return load_csv(args.csv, args.target, args.task, args.test_fraction, args.seed,
                        args.limit, args.drop or ())
    for flag, value in (("--target", args.target), ("--drop", args.drop)):
        if value is not None:
            raise UsageError(f"{flag} goes with --csv FILE")
    args.dataset = args.dataset or args.default_dataset
    if args.data is not None and args.dataset not in IMAGE_SETS:
        raise UsageError(f"--data DIR is where fashion-mnist or mnist files are; "
                         f"{args.dataset} is generated")
    if args.dataset in IMAGE_SETS:
        return load_images(args.dataset, args.data, args.limit)
    data = load_toy(args.dataset, args.samples, args.noise, args.seed, args.test_fraction)
    if args.limit is not None:
        data.x_train, data.y_train = data.x_train[:args.limit], data.y_train[:args.limit]
        data.raw_train = tuple(a[:args.limit] for a in data.raw_train)
    return data


# --------------------------------------------------------------------------- the network
def output_layer(loss, data):
    """(units, activation, loss name, metrics, target transform) for the data's task."""
    k = data.n_classes
    if data.task == "regression":
        if loss == "auto":
            loss = "mse"
        if loss not in ("mse", "huber"):
            raise UsageError(f"--loss {loss} is for classes; a regression target takes mse or "
                             f"huber")
        return 1, "linear", loss, ["mae"], lambda y: y
    if loss == "auto":
        loss = "binary_crossentropy" if k == 2 else "sparse_categorical_crossentropy"
    if loss == "binary_crossentropy":
        if k != 2:
            raise UsageError(f"--loss binary_crossentropy needs two classes; {data.name} has "
                             f"{k} (use sparse_categorical_crossentropy)")
        return 1, "sigmoid", loss, ["acc"], lambda y: y
    if loss == "sparse_categorical_crossentropy":
        return k, "softmax", loss, ["acc"], lambda y: y
    # categorical cross-entropy on one-hot targets; mse/huber on one-hot targets with sigmoid
    # outputs (the lecture's squared error on sigmoid units)
    activation = "softmax" if loss == "categorical_crossentropy" else "sigmoid"
    return k, activation, loss, ["acc"], lambda y: to_categorical(y, k)


def build_model(data, layers, activation, loss, dropout, batchnorm, seed, dtype="float32"):
    """A Sequential for the data: Dense hidden layers (each optionally batch-normalised and
    followed by dropout), then the output layer the loss asks for."""
    units, out_activation, loss, metrics, targets = output_layer(loss, data)
    input_shape = tuple(data.x_train.shape[1:])
    stack = []
    for i, n in enumerate(layers):
        kwargs = {"input_shape": input_shape} if i == 0 else {}
        stack.append(Dense(n, activation=activation, batch_norm=batchnorm, **kwargs))
        if dropout > 0:
            stack.append(Dropout(dropout))
    stack.append(Dense(units, activation=out_activation,
                       **({} if layers else {"input_shape": input_shape})))
    model = Sequential(stack, seed=seed, dtype=dtype)
    return model, loss, metrics, targets


def make_optimizer(name, lr):
    cls = OPTIMIZERS[name]
    if name == "lbfgs":
        return cls()
    return cls(learning_rate=lr)


def _classify(model, data):
    """points (n, 2) as generated -> predicted class indices (the model sees them scaled)."""
    mean, std = data.scale

    def classify(points):
        out = model.predict((np.asarray(points) - mean) / std, batch_size=4096)
        return (out[:, 0] > 0.5).astype(np.int64) if out.shape[1] == 1 else out.argmax(axis=1)
    return classify


def _class_one_probability(model, data, points):
    mean, std = data.scale
    out = model.predict((np.asarray(points) - mean) / std, batch_size=4096)
    return out[:, 0] if out.shape[1] == 1 else None


class EpochLines(Callback):
    """One line every `every` epochs (and the first and last); on a terminal a status line
    redrawn after each epoch in between."""

    def __init__(self, epochs, every, stream=None):
        self.epochs, self.every, self.stream = epochs, every, stream or sys.stdout
        self.live = bool(getattr(stream, "isatty", lambda: False)())

    def on_train_begin(self, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
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


def _check_output_path(path, flag, suffixes):
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{flag} {path}: the folder {folder} does not exist")
    if suffixes and os.path.splitext(path)[1].lower() not in suffixes:
        raise UsageError(f"{flag} {path}: expected a file name ending in "
                         f"{' or '.join(suffixes)}")


def _require_matplotlib(path):
    """Fail before any training when --plot cannot be honoured."""
    if path is None:
        return
    _check_output_path(path, "--plot", (".png", ".svg", ".pdf"))
    from .plotting import pyplot
    pyplot()


def fit(model, data, args, loss, metrics, targets, callbacks=(), verbose=0):
    model.compile(loss=loss, optimizer=make_optimizer(args.optimizer, args.lr),
                  metrics=metrics)
    y_train, y_test = targets(data.y_train), targets(data.y_test)
    start = time.perf_counter()
    history = model.fit(data.x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                        verbose=verbose, validation_data=(data.x_test, y_test),
                        callbacks=list(callbacks))
    seconds = time.perf_counter() - start
    train_scores = model.evaluate(data.x_train, y_train, batch_size=4096, verbose=0)
    test_scores = model.evaluate(data.x_test, y_test, batch_size=4096, verbose=0)
    return history, seconds, train_scores, test_scores


# --------------------------------------------------------------------------- demo
def cmd_demo(args):
    _resolve_profile(args, "toy")
    _require_matplotlib(args.plot)
    data = load_toy(args.dataset, args.samples, args.noise, args.seed, args.test_fraction)
    model, loss, metrics, targets = build_model(data, args.layers, args.activation, args.loss,
                                                args.dropout, args.batchnorm, args.seed)
    arch = "-".join(str(n) for n in (2,) + tuple(args.layers) + (model.output_shape[0],))
    print(f"refnn demo: {data.describe()}, noise {args.noise:g}")
    print(f"network {arch}, {args.activation} hidden layers, {model.layers[-1].activation} "
          f"output, {loss}; {_training_text(args)}, seed {args.seed}")
    print("")
    every = args.every or max(1, args.epochs // 12)
    history, seconds, train_scores, test_scores = fit(
        model, data, args, loss, metrics, targets,
        callbacks=[EpochLines(args.epochs, every)])
    print("")
    print(f"accuracy: {train_scores[1]:.4f} on the {data.x_train.shape[0]} training points, "
          f"{test_scores[1]:.4f} on the {data.x_test.shape[0]} test points "
          f"(trained in {seconds:.1f} s)")
    print("")
    Xa, ya = data.raw_train
    Xb, yb = data.raw_test
    classify = _classify(model, data)
    print("the learned decision boundary, with the training points:")
    print(terminal.render(classify, Xa, ya, width=args.width, height=args.height,
                          color=terminal.use_color(sys.stdout, args.color),
                          bounds=terminal.plane_bounds(np.concatenate([Xa, Xb]))))
    if args.plot:
        probability = lambda P: _class_one_probability(model, data, P)      # noqa: E731
        save_plot(args.plot, history, f"refnn demo: {args.dataset}, network {arch}",
                  dpi=args.dpi, boundary=(classify, probability, (Xa, ya), (Xb, yb)))
        print(f"\nwrote {args.plot} (decision boundary and training curves)")
    return 0


# --------------------------------------------------------------------------- train
def _training_text(args):
    epochs = f"{args.epochs} epoch{'s' if args.epochs > 1 else ''}"
    if args.optimizer == "lbfgs":
        return f"lbfgs (full batch), {epochs}"
    return (f"{args.optimizer} (learning rate {args.lr:g}), batch size {args.batch_size}, "
            f"{epochs}")


def _resolve_profile(args, kind):
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


def cmd_train(args):
    _require_matplotlib(args.plot)
    if args.save is not None:
        _check_output_path(args.save, "--save", (".npz",))
    data = load_data(args)
    _resolve_profile(args, data.kind)
    model, loss, metrics, targets = build_model(data, args.layers, args.activation, args.loss,
                                                args.dropout, args.batchnorm, args.seed,
                                                args.dtype)
    print(f"refnn train: {data.describe()}")
    print(f"{loss}; {_training_text(args)}, seed {args.seed}")
    model.summary()
    verbose = args.verbose
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    history, seconds, train_scores, test_scores = fit(model, data, args, loss, metrics, targets,
                                                      verbose=verbose)
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
    if args.plot:
        boundary = None
        if data.raw_train is not None:
            boundary = (_classify(model, data), lambda P: _class_one_probability(model, data, P),
                        data.raw_train, data.raw_test)
        save_plot(args.plot, history, f"refnn train: {data.name}", dpi=args.dpi,
                  boundary=boundary, metric_name=metric)
        print(f"wrote {args.plot}")
    return 0


# --------------------------------------------------------------------------- gradcheck
def cmd_gradcheck(args):
    data = load_data(args)
    _resolve_profile(args, data.kind)
    model, loss, metrics, targets = build_model(data, args.layers, args.activation, args.loss,
                                                args.dropout, args.batchnorm, args.seed,
                                                dtype="float64")
    model.compile(loss=loss, optimizer="sgd")
    X = np.concatenate([data.x_train, data.x_test])[:args.samples]
    Y = targets(np.concatenate([data.y_train, data.y_test])[:args.samples])
    arch = "-".join(str(n) for n in (int(np.prod(X.shape[1:])),) + tuple(args.layers)
                    + (model.output_shape[0],))
    extras = [f"batch normalisation" if args.batchnorm else "",
              f"dropout {args.dropout:g} (one fixed mask)" if args.dropout else ""]
    print(f"refnn gradcheck: network {arch}, {args.activation} hidden layers, "
          f"{model.layers[-1].activation} output, {loss}"
          + "".join(f", {e}" for e in extras if e))
    print(f"data: {X.shape[0]} samples of {data.name}; weights initialised with seed {args.seed}")
    print("")
    report = gradcheck(model, X, Y, step=args.step, tolerance=args.tolerance,
                       max_entries_per_tensor=args.max_entries or None, seed=args.seed)
    print(report)
    return 0 if report.ok else 1


# --------------------------------------------------------------------------- trace
def _central_differences(net, x, y, step):
    """d E / d w for every entry, by (E(w + step) - E(w - step)) / (2 step), E of one sample."""
    weights = net.get_weights()
    X, Y = x.reshape(1, -1), y.reshape(1, -1)
    numeric = []
    for t, w in enumerate(weights):
        d = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            values = []
            for sign in (1, -1):
                moved = [a.copy() for a in weights]
                moved[t][idx] += sign * step
                net.set_weights(moved)
                values.append(net.evaluate(X, Y))
            d[idx] = (values[0] - values[1]) / (2 * step)
        numeric.append(d)
    net.set_weights(weights)
    return numeric


def cmd_trace(args):
    sizes = list(args.sizes)
    if len(sizes) < 2:
        raise UsageError(f"--sizes needs at least an input and an output size, got "
                         f"{','.join(map(str, sizes)) or 'none'}")
    net = BackpropNetwork(sizes, activation=args.activation, seed=args.seed,
                          backend=args.backend)
    if args.x is None:
        x = (np.array([0.0, 1.0]) if sizes[0] == 2
             else np.round(np.random.default_rng(args.seed).uniform(-1, 1, sizes[0]), 2))
    else:
        x = np.array(args.x)
    y = np.ones(sizes[-1]) if args.y is None else np.array(args.y)
    if x.size != sizes[0]:
        raise UsageError(f"--x has {x.size} values, the network {sizes[0]} inputs")
    if y.size != sizes[-1]:
        raise UsageError(f"--y has {y.size} values, the network {sizes[-1]} outputs")
    probe = BackpropNetwork(sizes, activation=args.activation, seed=args.seed, backend="numpy")
    probe.set_weights(net.get_weights())
    numeric = _central_differences(probe, x, y, args.step)

    print(f"refnn trace: {net!r}")
    print("")
    print("weights before the step (W_l has shape (n_in, n_out): entry [i, j] is w_ij):")
    for l, (W, b) in enumerate(zip(net.get_weights()[::2], net.get_weights()[1::2]), start=1):
        print(f"  W{l} =")
        print("\n".join("    " + row for row in np.array2string(
            W, precision=6, floatmode="fixed").splitlines()))
        print(f"  b{l} = {np.array2string(b, precision=6, floatmode='fixed')}")
    print("")
    trace = net.step(x, y, eta=args.eta)
    print(trace)
    print("")
    print(f"each gradient entry beside the central difference "
          f"(E(w + s) - E(w - s)) / (2 s), s = {args.step:g}:")
    head = ("entry", "values", "backprop", "finite diff.", "rel. error")
    lines, worst = [], 0.0
    for t, (name, analytic, diff) in enumerate(zip(net.weight_names(), trace.grads, numeric)):
        l = t // 2 + 1                                     # W_l, b_l belong to layer l
        for idx in np.ndindex(analytic.shape):
            a, n = float(analytic[idx]), float(diff[idx])
            r = abs(a - n) / max(abs(a) + abs(n), 1e-3)    # as refnn.gradcheck (tiny = 1e-3)
            worst = max(worst, r)
            epsilon_j = trace.epsilon[l - 1][idx[-1]]
            if len(idx) == 2:                              # dE/dw_ij = epsilon_j g_i
                i, j = idx
                label = f"dE/d{name}[{i},{j}] = epsilon{l}[{j}] g{l - 1}[{i}]"
                factors = f"{epsilon_j:.6f} * {trace.g[l - 1][i]:.6f}"
            else:                                          # dE/db_j = epsilon_j
                label = f"dE/d{name}[{idx[0]}] = epsilon{l}[{idx[0]}]"
                factors = f"{epsilon_j:.6f}"
            lines.append((label, factors, f"{a: .9e}", f"{n: .9e}", f"{r:.1e}"))
    widths = [max(len(row[c]) for row in [head] + lines) for c in range(len(head))]
    for row in [head] + lines:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    ok = worst <= args.tolerance
    print(f"{'all entries agree' if ok else 'NOT OK: an entry disagrees'} "
          f"(worst relative error {worst:.1e}, tolerance {args.tolerance:g})")
    return 0 if ok else 1


# --------------------------------------------------------------------------- bench
def _bench_threads(requested):
    """--threads, else a thread count already fixed in the environment, else 1."""
    from . import benchmarking
    if requested is not None:
        return requested
    for var in getattr(benchmarking, "THREAD_VARIABLES", ()):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def cmd_bench(args):
    from . import benchmarking
    run_workloads = getattr(benchmarking, "run_workloads", None)
    if run_workloads is None:
        raise UsageError("this refnn has no benchmark runner: "
                         "refnn.benchmarking.run_workloads is missing")
    known = getattr(benchmarking, "WORKLOADS", None)
    workloads = args.workload
    if workloads is not None and known is not None:
        names = list(known)
        bad = [w for w in workloads if w not in names]
        if bad:
            raise UsageError(f"unknown workload {bad[0]!r}; valid: {', '.join(names)}")
    threads = _bench_threads(args.threads)
    try:
        run_workloads(workloads, threads, sys.stdout, args.quick)
    except RuntimeError as e:                 # the measuring process failed; it said why
        sys.stderr.write(f"refnn: error: {_one_line(e)}\n")
        return 1
    return 0


# --------------------------------------------------------------------------- experiment
def available_experiments():
    """(name, claim) of each experiment module that imports."""
    from . import experiments
    found = []
    for name in experiments.NAMES:
        try:
            module = experiments.module(name)
        except Exception:                   # not written yet, or broken: not available
            continue
        found.append((name, getattr(module, "CLAIM", "")))
    return found


def cmd_experiment(args):
    from . import experiments
    if args.name is None:
        found = available_experiments()
        if not found:
            print("no experiments are available yet")
            return 0
        print(f"experiments ({PROG} experiment NAME [--quick] [--plot FILE.png]):")
        width = max(len(name) for name, _ in found)
        for name, claim in found:
            print(textwrap.fill(claim, 100, initial_indent=f"  {name.ljust(width)}  ",
                                subsequent_indent=" " * (width + 4)))
        return 0
    if args.name not in experiments.NAMES:
        raise UsageError(f"unknown experiment {args.name!r}; valid: "
                         f"{', '.join(experiments.NAMES)}")
    try:
        experiments.module(args.name)
    except Exception as e:
        raise UsageError(f"the experiment {args.name!r} is not available in this refnn "
                         f"({_one_line(e)})") from None
    _require_matplotlib(args.plot)
    result = experiments.run(args.name, quick=args.quick, seed=args.seed)
    print(result)
    if args.plot:
        experiments.plot(result, args.plot)
        print(f"\nwrote {args.plot}")
    return 0


COMMANDS = {"demo": cmd_demo, "train": cmd_train, "gradcheck": cmd_gradcheck,
            "trace": cmd_trace, "bench": cmd_bench, "experiment": cmd_experiment}
