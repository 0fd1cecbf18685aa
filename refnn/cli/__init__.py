"""python -m refnn: the command line, one module per command.

    python -m refnn               a 2-2-1 sigmoid network learns XOR by the textbook's per-sample
                                  backpropagation (in C); one step traced, every gradient checked
    python -m refnn demo          a small network learns a 2-D data set (two spirals by default):
                                  progress, accuracy, the decision boundary drawn in the terminal
    python -m refnn train         a network described by flags, on Fashion-MNIST, MNIST, a CSV
                                  file or a 2-D set; evaluated on the test split
    python -m refnn gradcheck     every parameter tensor of such a network vs finite differences
    python -m refnn trace         one textbook backprop step, h, g, epsilon per layer, the
                                  gradient and the update, next to the finite differences
    python -m refnn bench         the C core against NumPy (refnn.scaling.run_workloads)
    python -m refnn experiment    the theory lab (refnn.experiments)

Every subcommand has --help with examples. Exit status: 0 done, 1 a check failed (gradcheck,
trace, the XOR run), 2 a usage or data error, reported on one line (`refnn: error: ...`)
without a traceback; REFNN_TRACEBACK=1 shows the traceback of such an error.

Layout: each command is a module with register(subparsers), which adds its parser and flags,
and run(args), which runs it (xor registers its flags on the program's own parser). Shared
pieces: parsing (the parser, one-line errors, flag types that are refnn._validate's checks),
flags (flag groups and the defaults per kind of data), running (the data the flags name, fit
with progress lines, output files). Data preparation and network building are library code
(refnn.preprocessing, refnn.networks) that the commands call.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..plotting import DEFAULT_DPI, FIGSIZE, MissingMatplotlibError
from . import bench, demo, experiment, gradcheck, trace, train, xor
from .experiment import available_experiments
from .parsing import PROG, Formatter, Parser, UsageError, check_flags, one_line, wrap
from .xor import run_xor

__all__ = ["main", "make_parser", "run_xor", "available_experiments", "UsageError", "PROG",
           "COMMANDS", "FIGSIZE", "DEFAULT_DPI"]

COMMANDS = (demo, train, gradcheck, trace, bench, experiment)      # in the order --help lists


def make_parser() -> Parser:
    """The program's parser: the XOR run's flags, then one subparser per command."""
    parser = Parser(
        prog=PROG, formatter_class=Formatter,
        description=wrap(
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
    xor.register(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    parser.commands = sub.choices             # name -> its parser
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    check_flags(parser, argv)
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return xor.run(args)
        xor.refuse_before(args)
        return args.run(args)
    except KeyboardInterrupt:
        sys.stderr.write("refnn: interrupted\n")
        return 130
    except BrokenPipeError:                     # e.g. piped into head
        sys.stderr.close()
        return 0
    except (UsageError, MissingMatplotlibError, ValueError, TypeError, OSError) as e:
        if os.environ.get("REFNN_TRACEBACK"):
            raise
        sys.stderr.write(f"refnn: error: {one_line(e)}\n")
        return 2
