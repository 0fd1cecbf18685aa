"""Compare two builds of refnn on the same workloads, runs interleaved (A, B, A, B, ...).

    python benchmarks/compare_builds.py PORTABLE_TREE NATIVE_TREE --runs 3 --workload W1 \
        --workload W2

Each tree is a checkout with its compiled modules built in place (e.g. one built by default,
one with REFNN_NATIVE=1). Every run is one `python -m refnn bench` process on one thread; the
table shows each build's median and best samples/s and how far the first build is behind the second.
Interleaving spreads the machine's other load evenly over both builds.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

RESULT = re.compile(r"^(W\d+):.*?\n\s+refnn\s+([\d,]+) samples/s", re.MULTILINE | re.DOTALL)


def run_bench(tree, workloads):
    """{workload: samples/s} of refnn in one bench process run from `tree` on one thread."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-m", "refnn", "bench", "--threads", "1"]
    for workload in workloads:
        command += ["--workload", workload]
    out = subprocess.run(command, cwd=tree, env=env, capture_output=True, text=True, check=True)
    return {name: float(rate.replace(",", "")) for name, rate in RESULT.findall(out.stdout)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", help="tree of the first build (e.g. the portable one)")
    parser.add_argument("second", help="tree of the second build (e.g. the host-tuned one)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workload", action="append", default=None)
    args = parser.parse_args(argv)
    workloads = args.workload or ["W1", "W2"]
    rates = {tree: {w: [] for w in workloads} for tree in (args.first, args.second)}
    for run in range(args.runs):
        for tree in (args.first, args.second):
            for name, rate in run_bench(tree, workloads).items():
                rates[tree][name].append(rate)
            print(f"run {run + 1}, {tree}: "
                  + ", ".join(f"{w} {rates[tree][w][-1]:,.0f}" for w in workloads), flush=True)
    for label, pick in (("median", statistics.median), ("best", max)):
        print(f"\n{'workload':<10}{'first, ' + label:>18}{'second, ' + label:>18}"
              f"{'first vs second':>18}")
        for w in workloads:
            a, b = pick(rates[args.first][w]), pick(rates[args.second][w])
            print(f"{w:<10}{a:>18,.0f}{b:>18,.0f}{(a / b - 1) * 100:>+17.1f}%")


if __name__ == "__main__":
    main()
