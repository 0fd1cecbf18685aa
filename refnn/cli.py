"""python -m refnn: the command line.

Without a subcommand it runs the main job: a 2-2-1 sigmoid network learns XOR by the
textbook's per-sample backpropagation (in C), prints one step in the lecture's notation and
checks every gradient against central finite differences.
"""
import argparse
import sys

import numpy as np

from .gradcheck import gradcheck
from .textbook import BackpropNetwork

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)


def run_xor(seed=0, eta=0.5, epochs=5000, backend="c", out=sys.stdout):
    """Train 2-2-1 on XOR; print the trace of one step and the gradient check. Returns 0 if
    XOR was learned and every gradient agrees with finite differences, else 1."""
    p = lambda *a: print(*a, file=out)                         # noqa: E731
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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m refnn",
        description="refnn: a gradient-checked reference implementation of feed-forward "
                    "neural networks with a C core. Without arguments: a 2-2-1 network learns "
                    "XOR by textbook backpropagation; one step is traced and every gradient "
                    "is checked against finite differences.",
        epilog="example: python -m refnn --seed 3 --epochs 8000")
    parser.add_argument("--seed", type=int, default=0, help="initial weights (default 0)")
    parser.add_argument("--eta", type=float, default=0.5, help="learning rate (default 0.5)")
    parser.add_argument("--epochs", type=int, default=5000, help="epochs (default 5000)")
    parser.add_argument("--backend", choices=["c", "numpy", "python"], default="c",
                        help="which implementation computes (the same numbers); default c")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.epochs < 1 or not (args.eta > 0 and np.isfinite(args.eta)):
        build_parser().error("--epochs must be >= 1 and --eta a finite number > 0")
    return run_xor(seed=args.seed, eta=args.eta, epochs=args.epochs, backend=args.backend)
