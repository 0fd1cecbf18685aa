"""python -m refnn (no subcommand): a 2-2-1 sigmoid network learns XOR by the textbook's
per-sample backpropagation; one step is traced and every gradient checked."""
from __future__ import annotations

import argparse
import sys
from typing import Any, TextIO

import numpy as np

from ..gradcheck import gradcheck
from ..textbook import BackpropNetwork
from . import parsing
from .parsing import PROG, UsageError

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
XOR_Y = np.array([[0], [1], [1], [0]], dtype=np.float64)
DEFAULTS = {"seed": 0, "eta": 0.5, "epochs": 5000, "backend": "c"}


def register(parser: parsing.Parser) -> None:
    """The XOR run's flags, on the program's own parser (before any subcommand)."""
    parser.add_argument("--seed", dest="xor_seed", type=parsing.nonnegative_int, default=None,
                        metavar="SEED", help="XOR run: initial weights (default 0)")
    parser.add_argument("--eta", dest="xor_eta", type=parsing.positive_float, default=None,
                        metavar="ETA", help="XOR run: learning rate (default 0.5)")
    parser.add_argument("--epochs", dest="xor_epochs", type=parsing.positive_int, default=None,
                        metavar="N", help="XOR run: epochs (default 5000)")
    parser.add_argument("--backend", dest="xor_backend", choices=["c", "numpy", "python"],
                        default=None, help="XOR run: which implementation computes (the same "
                                           "numbers; default c)")


def given(args: argparse.Namespace) -> dict[str, Any]:
    """{name: value} of the XOR flags on the command line."""
    return {name: getattr(args, f"xor_{name}") for name in DEFAULTS
            if getattr(args, f"xor_{name}") is not None}


def refuse_before(args: argparse.Namespace) -> None:
    """XOR flags given before a subcommand belong to the XOR run: say where they go."""
    flags = [f"--{name}" for name in given(args)]
    if flags:
        raise UsageError(f"{', '.join(flags)} before {args.command!r} belongs to the XOR "
                         f"run; put it after the subcommand: {PROG} {args.command} "
                         f"{flags[0]} ...")


def run(args: argparse.Namespace) -> int:
    return run_xor(**{**DEFAULTS, **given(args)})


def run_xor(seed: int = 0, eta: float = 0.5, epochs: int = 5000, backend: str = "c",
            out: TextIO | None = None) -> int:
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
