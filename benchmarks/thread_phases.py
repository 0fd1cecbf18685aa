"""Where the second thread's time goes: one epoch of a mini-batch workload as fit runs it, on 1
and on 2 of refnn's threads in turn, round after round in one run; per epoch its wall-clock
time and each phase of the step summed over the threads (benchmarking.epoch_phases). A phase
whose sum grows with the threads is where they get in each other's way. Before and after each
epoch, the time a cache line took from one core to another and back ("trips", in ns; see
kernels.threads.core_round_trip): the pieces pass the weights between the cores in that way.

    python benchmarks/thread_phases.py [--workload W1] [--rounds 6] [--threads 1,2]
"""
import argparse
import time

from refnn import benchmarking
from refnn.kernels import DenseTrainer
from refnn.kernels.threads import core_round_trip

SHORT = {"gather": "gather", "forward matrix products": "fwd gemm",
         "activations": "activ", "output error": "output", "backward matrix products": "bwd gemm",
         "backward elementwise": "bwd elem", "optimizer update": "update", "rest": "rest"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workload", default="W1", choices=["W1", "W3", "W4"])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--threads", default="1,2")
    args = parser.parse_args(argv)
    settings = [int(t) for t in args.threads.split(",")]
    w, X, Y = benchmarking.workload(args.workload)
    names = list(DenseTrainer.PHASES) + ["rest"]
    print(f"{args.workload}: {w['title']}; ms per epoch, phases summed over the threads")
    print(f"{'round':>5} {'threads':>7} {'trips':>9} {'epoch':>7} "
          + " ".join(f"{SHORT[n]:>8}" for n in names))
    for r in range(args.rounds):
        for threads in settings:
            time.sleep(benchmarking.SETTLE_SECONDS)
            before = core_round_trip()
            phases, total = benchmarking.epoch_phases(w, X, Y, threads=threads)
            trips = "/".join("-" if t is None else f"{t:.0f}" for t in (before, core_round_trip()))
            print(f"{r + 1:>5} {threads:>7} {trips:>9} "
                  f"{total * 1e3:>7.0f} "
                  + " ".join(f"{phases[n] * 1e3:>8.0f}" for n in names), flush=True)


if __name__ == "__main__":
    main()
