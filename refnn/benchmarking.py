"""Timing helpers: MNIST-shaped data, best-of-n wall-clock times, and the per-sample textbook
epoch measured in C and in NumPy in one run.

Speed is only ever compared as a ratio of two figures measured in the same process, on the same
data, one after the other. Thread counts are fixed by the environment before Python starts
(OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS): once NumPy is imported, changing
them has no effect (THREAD_VARIABLES names them). `blas_threads()` reports what the BLAS
libraries actually use, when threadpoolctl happens to be installed.
"""
import os
import time

import numpy as np

from . import kernels
from .reference import vectorized
from .textbook import BackpropNetwork

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def mnist_like(n, n_features=784, n_classes=10, zero_fraction=0.5, seed=0, dtype=np.float32):
    """n random samples shaped like MNIST: X (n, n_features) and one-hot Y (n, n_classes).

    Each input is, independently, exactly 0 with probability `zero_fraction` (the blank
    background of a digit) and otherwise uniform in [0, 1). Each sample's class is uniform.
    The same seed gives the same arrays.
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    X = rng.random((n, n_features), dtype=dtype)
    X[rng.random((n, n_features), dtype=dtype) < zero_fraction] = 0
    labels = rng.integers(0, n_classes, n)
    Y = np.zeros((n, n_classes), dtype)
    Y[np.arange(n), labels] = 1
    return X, Y


def textbook_weights(sizes, seed=0, dtype=np.float32):
    """[W1, b1, W2, b2, ...] for `sizes`, initialised as BackpropNetwork does (step 1)."""
    return BackpropNetwork(sizes, seed=seed, dtype=np.dtype(dtype).name).get_weights()


def _time_once(fn, setup=None):
    """Seconds taken by fn() (or fn(setup()), setup not timed)."""
    if setup is None:
        start = time.perf_counter()
        fn()
    else:
        arg = setup()
        start = time.perf_counter()
        fn(arg)
    return time.perf_counter() - start


def best_time(fn, repeat=3, setup=None):
    """The shortest of `repeat` wall-clock times of fn(), in seconds (time.perf_counter).

    With `setup`, each run is fn(setup()): setup prepares fresh inputs (e.g. copies of weights
    that fn updates in place) and is not timed. The minimum is the run least disturbed by the
    rest of the machine.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    return min(_time_once(fn, setup) for _ in range(repeat))


def textbook_epoch_ratio(n_samples=60000, n_numpy=6000, hidden=128, repeat=3, seed=0):
    """Samples per second of one per-sample SGD epoch (the textbook algorithm, sigmoid, eta 0.1,
    float32) on a 784-hidden-10 network: the compiled kernels.sgd_per_sample over n_samples
    MNIST-like samples, and the NumPy twin vectorized.sgd_per_sample over the first n_numpy
    of them (it is about ten times slower).

    Both start from the same initial weights, on the same data, and are timed back to back,
    C then NumPy, `repeat` times; each keeps its best time.

    Returns {"c": samples/s, "numpy": samples/s, "ratio": c / numpy,
             "c_seconds", "numpy_seconds", "n_samples", "n_numpy", "sizes"}.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    if not 0 < n_numpy <= n_samples:
        raise ValueError(f"n_numpy must be in 1..n_samples ({n_samples}), got {n_numpy}")
    sizes = [784, hidden, 10]
    X, Y = mnist_like(n_samples, seed=seed)
    X_numpy, Y_numpy = X[:n_numpy], Y[:n_numpy]
    weights = textbook_weights(sizes, seed=seed)

    def fresh_weights():
        return [w.copy() for w in weights]

    def run_c(w):
        kernels.sgd_per_sample(w, X, Y, eta=0.1, activation="sigmoid")     # updates w in place

    def run_numpy(w):
        vectorized.sgd_per_sample(w, X_numpy, Y_numpy, eta=0.1, activation="sigmoid")

    c_times, numpy_times = [], []
    for _ in range(repeat):
        c_times.append(_time_once(run_c, fresh_weights))
        numpy_times.append(_time_once(run_numpy, fresh_weights))
    c_seconds, numpy_seconds = min(c_times), min(numpy_times)
    c_rate, numpy_rate = n_samples / c_seconds, n_numpy / numpy_seconds
    return {"c": c_rate, "numpy": numpy_rate, "ratio": c_rate / numpy_rate,
            "c_seconds": c_seconds, "numpy_seconds": numpy_seconds,
            "n_samples": n_samples, "n_numpy": n_numpy, "sizes": sizes}


def blas_threads():
    """{library: threads} for each BLAS/OpenMP library loaded in this process, as threadpoolctl
    reports them; None when threadpoolctl is not installed (it is optional)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return {f"{info['internal_api']} ({os.path.basename(info['filepath'])})": info["num_threads"]
            for info in threadpool_info()}
