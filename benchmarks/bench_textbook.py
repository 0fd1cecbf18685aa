"""The textbook's per-sample SGD epoch on a 784-128-10 sigmoid network (eta 0.1, float32),
on 60,000 random MNIST-shaped samples: the compiled kernels.sgd_per_sample against its NumPy
twin vectorized.sgd_per_sample, whose Python loop over samples is about ten times slower and
is therefore timed on the first 6,000 samples only. Compare them by samples per second
(extra_info["samples_per_s"], also printed at the end of the run), not by time.

test_textbook_epoch_ratio measures both in one go, interleaved, and records the ratio. The
project's target is a C kernel at least 5x the NumPy loop's samples/s; it is reported, never
asserted: a benchmark measures.
"""
import numpy as np
import pytest

from refnn import kernels
from refnn.benchmarking import mnist_like, textbook_epoch_ratio, textbook_weights
from refnn.reference import vectorized

SIZES = [784, 128, 10]
N_SAMPLES = 60_000          # one epoch of MNIST's training set
N_NUMPY = 6_000             # the NumPy loop's share
ROUNDS = 3
IMPLS = {"c": (kernels, N_SAMPLES), "numpy": (vectorized, N_NUMPY)}


@pytest.fixture(scope="module")
def mnist():
    """X (60000, 784) float32, half the inputs exactly 0, the rest uniform in [0, 1);
    Y one-hot (60000, 10); seed 0."""
    return mnist_like(N_SAMPLES, n_features=SIZES[0], n_classes=SIZES[-1], seed=0)


@pytest.mark.parametrize("impl", list(IMPLS))
def test_textbook_epoch(benchmark, mnist, bench_summary, impl):
    """One per-sample epoch, weights fresh from step 1 in every round (setup, not timed)."""
    B, n = IMPLS[impl]
    X, Y = mnist[0][:n], mnist[1][:n]
    weights = textbook_weights(SIZES, seed=0)

    def fresh():
        return ([w.copy() for w in weights], X, Y), {"eta": 0.1, "activation": "sigmoid"}

    benchmark.group = "textbook epoch 784-128-10 per sample (compare samples/s)"
    benchmark.extra_info.update(impl=impl, n_samples=n, sizes=SIZES, dtype="float32")
    new_weights, E = benchmark.pedantic(B.sgd_per_sample, setup=fresh, rounds=ROUNDS,
                                        iterations=1)
    assert E.shape == (n,) and np.isfinite(E).all()
    assert not np.array_equal(new_weights[0], weights[0])      # the epoch trained something
    if benchmark.stats is not None:                             # None with --benchmark-disable
        samples_per_s = n / benchmark.stats.stats.min
        benchmark.extra_info["samples_per_s"] = samples_per_s
        bench_summary(f"textbook epoch, {impl:5s}: {samples_per_s:9.0f} samples/s "
                      f"(best of {ROUNDS}, {n} samples)")


def test_textbook_epoch_ratio(benchmark, bench_summary):
    """C and NumPy timed back to back, best of 3 each, same data, one run: the speed-up."""
    benchmark.group = "textbook epoch C / NumPy ratio (one run, interleaved)"
    result = benchmark.pedantic(textbook_epoch_ratio, kwargs={
        "n_samples": N_SAMPLES, "n_numpy": N_NUMPY, "hidden": SIZES[1], "repeat": ROUNDS,
        "seed": 0}, rounds=1, iterations=1)
    benchmark.extra_info.update(result)
    line = (f"textbook epoch, one run: C {result['c']:.0f} samples/s, NumPy {result['numpy']:.0f} "
            f"samples/s, ratio {result['ratio']:.1f}x (target >= 5x)")
    print(line)
    bench_summary(line)
    assert result["c"] > 0 and result["numpy"] > 0
