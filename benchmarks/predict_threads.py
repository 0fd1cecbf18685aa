"""predict on refnn's threads against NumPy's forward pass on OpenBLAS's threads: the lecture's
784-128-10 model (sigmoid + softmax, float32) on 10,000 rows, samples/s, best of 9 rounds
(interleaved) in one run;
--busy N beside N processes that each keep a core busy.

    python benchmarks/predict_threads.py [--busy N]
"""
import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

import refnn
from refnn import benchmarking, scaling
from refnn.layers import Dense


def best_rates(runs, n, rounds=9):
    """{label: samples/s}: the best of `rounds` rounds, the runs interleaved within each round
    (a passing disturbance of the machine then spoils one round of each, not all of one)."""
    best = {label: float("inf") for label in runs}
    for _ in range(rounds):
        for label, fn in runs.items():
            time.sleep(benchmarking.SETTLE_SECONDS)   # OpenBLAS's idle threads stop spinning
            start = time.perf_counter()
            fn()
            best[label] = min(best[label], time.perf_counter() - start)
    return {label: n / seconds for label, seconds in best.items()}


def numpy_forward(weights, x):
    """the NumPy twin of the forward pass: sigmoid(x W1 + b1) W2 + b2, softmax"""
    W1, b1, W2, b2 = weights
    h = x @ W1 + b1
    g = 1 / (1 + np.exp(-h))
    z = g @ W2 + b2
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, default=0)
    args = parser.parse_args(argv)
    x, _ = benchmarking.mnist_like(10000, seed=0)
    model = refnn.Sequential([Dense(128, activation="sigmoid"),
                              Dense(10, activation="softmax")], seed=0, dtype="float32")
    model.build((784,))
    weights = model.get_weights()
    runs = {}
    for threads in (1, 2):
        for batch in (32, 1024):
            def run(threads=threads, batch=batch):
                with refnn.num_threads(threads):
                    model.predict(x, batch_size=batch, verbose=0)
            runs[f"refnn predict, {threads} thread(s), batch_size={batch}"] = run
    for threads in (1, 2):
        for batch in (32, 1024):
            def run(threads=threads, batch=batch):
                with threadpool_limits(threads, user_api="blas"):
                    for s in range(0, len(x), batch):
                        numpy_forward(weights, x[s:s + batch])
            runs[f"NumPy, OpenBLAS on {threads} thread(s), batches of {batch}"] = run
    with scaling.busy_cores(args.busy):
        rates = best_rates(runs, len(x))
    print(f"predict, 784-128-10 float32, 10,000 rows, beside {args.busy} busy process(es)")
    for label, rate in rates.items():
        print(f"  {label:<52}{rate:>12,.0f} samples/s")


if __name__ == "__main__":
    main()
