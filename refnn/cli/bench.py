"""python -m refnn bench: the C core against NumPy (refnn.benchmarking.run_workloads)."""
import os
import sys

from . import parsing
from .parsing import UsageError, one_line


def register(subparsers):
    p = parsing.add_command(
        subparsers, "bench", help="time the C core against NumPy",
        description=(
            "The side-by-side benchmark: each workload timed in the C core and in "
            "NumPy (and in peers that are installed), in one process, back to back. "
            "BLAS threads: --threads, else the OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / "
            "MKL_NUM_THREADS already set, else 1."),
        examples=["bench                       every workload, one thread",
                  "bench --workload W1 --workload W3 --threads 4",
                  "bench --quick               small sizes, seconds"])
    p.add_argument("--threads", type=parsing.positive_int, default=None, metavar="N",
                   help="BLAS threads (default: as set in the environment, else 1)")
    p.add_argument("--workload", action="append", metavar="W", default=None,
                   help="run this workload (repeatable; default: all)")
    p.add_argument("--quick", action="store_true", help="small sizes (for tests)")
    p.set_defaults(run=run)


def bench_threads(requested):
    """--threads, else a thread count already fixed in the environment, else 1."""
    from .. import benchmarking
    if requested is not None:
        return requested
    for var in getattr(benchmarking, "THREAD_VARIABLES", ()):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def run(args):
    from .. import benchmarking
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
    threads = bench_threads(args.threads)
    try:
        run_workloads(workloads, threads, sys.stdout, args.quick)
    except RuntimeError as e:                 # the measuring process failed; it said why
        sys.stderr.write(f"refnn: error: {one_line(e)}\n")
        return 1
    return 0
