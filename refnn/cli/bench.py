"""python -m refnn bench: the C core against NumPy and its peers, at one or more thread
settings, on an idle or a busy machine (refnn.scaling.run_workloads)."""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import parsing
from .parsing import UsageError, one_line

if TYPE_CHECKING:
    from .parsing import Subparsers
    from ..scaling import Setting


def thread_settings(text: str) -> list[Setting]:
    """--threads '1,2' -> [1, 2] (argparse type: the message says what was expected)."""
    from ..scaling import parse_settings
    try:
        return parse_settings(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"--{one_line(e)}") from None


def register(subparsers: Subparsers) -> None:
    p = parsing.add_command(
        subparsers, "bench", help="time the C core against NumPy",
        description=(
            "The side-by-side benchmark: each workload timed in the C core and in "
            "NumPy (and in peers that are installed), in one process, back to back. "
            "--threads lists the thread settings to measure, each in a fresh "
            "interpreter: refnn's threads, the BLAS's and PyTorch's; 'default' sets "
            "nothing. With more than one setting the settings alternate (two passes, "
            "each keeping its best) and refnn's scaling follows. Without "
            "--threads: the OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS "
            "already set, else 1."),
        examples=["bench                       every workload, one thread",
                  "bench --workload W1 --workload W3 --threads 1,2",
                  "bench --workload W1 --threads 1,default --busy 1",
                  "bench --quick               small sizes, seconds"])
    p.add_argument("--threads", type=thread_settings, default=None, metavar="N[,N...]",
                   help="thread settings: whole numbers or 'default' (default: as set in "
                        "the environment, else 1)")
    p.add_argument("--busy", type=parsing.nonnegative_int, default=0, metavar="N",
                   help="measure beside N processes that each keep a core busy (default: 0)")
    p.add_argument("--workload", action="append", metavar="W", default=None,
                   help="run this workload (repeatable; default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes (for tests)")
    p.set_defaults(run=run)


def bench_threads(requested: Sequence[Setting] | None) -> Sequence[Setting]:
    """--threads, else a thread count already fixed in the environment, else [1]."""
    from ..benchmarking import THREAD_VARIABLES
    if requested is not None:
        return requested
    for var in THREAD_VARIABLES:
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) >= 1:
            return [int(value)]
    return [1]


def run(args: argparse.Namespace) -> int:
    from .. import benchmarking, scaling
    workloads = args.workload
    if workloads is not None:
        bad = [w for w in workloads if w not in benchmarking.WORKLOADS]
        if bad:
            raise UsageError(f"unknown workload {bad[0]!r}; valid: "
                             f"{', '.join(benchmarking.WORKLOADS)}")
    try:
        scaling.run_workloads(workloads, bench_threads(args.threads), sys.stdout, args.quick,
                              busy=args.busy)
    except RuntimeError as e:                 # a measuring process failed; it said why
        sys.stderr.write(f"refnn: error: {one_line(e)}\n")
        return 1
    return 0
