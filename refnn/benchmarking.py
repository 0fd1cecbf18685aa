"""Timing helpers (MNIST-shaped data, best-of-n wall-clock times, the textbook epoch in C and in
NumPy) and the speed workloads: refnn's fit against the NumPy contender (refnn.contender) and more.

Speed is only ever compared as a ratio of two figures measured in the same process, on the same
data, one after the other. The BLAS's thread counts are fixed by the environment before Python
starts (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS, MKL_NUM_THREADS): once NumPy is imported,
changing them has no effect (THREAD_VARIABLES names them); refnn.scaling runs each thread
setting in its own interpreter. `blas_threads()` reports what the BLAS libraries actually use,
when threadpoolctl happens to be installed.
"""
from __future__ import annotations

import math
import os
import textwrap
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np
from numpy.typing import DTypeLike, NDArray

from . import kernels
from .kernels.threads import core_round_trip
from .reference import vectorized
from .textbook import BackpropNetwork

if TYPE_CHECKING:
    from .model import Sequential
    from .optimizers import Optimizer

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def mnist_like(n: int, n_features: int = 784, n_classes: int = 10, zero_fraction: float = 0.5,
               seed: int = 0, dtype: DTypeLike = np.float32
               ) -> tuple[NDArray[Any], NDArray[Any]]:
    """n random samples shaped like MNIST: X (n, n_features) and one-hot Y (n, n_classes).

    Each input is, independently, exactly 0 with probability `zero_fraction` (the blank
    background of a digit) and otherwise uniform in [0, 1). Each sample's class is uniform.
    The same seed gives the same arrays.
    """
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype)
    # NumPy's stubs take one literal float dtype per overload of random(); it is a float dtype
    X = rng.random((n, n_features), dtype=dtype)  # type: ignore[arg-type]
    X[rng.random((n, n_features), dtype=dtype) < zero_fraction] = 0  # type: ignore[arg-type]
    labels = rng.integers(0, n_classes, n)
    Y = np.zeros((n, n_classes), dtype)
    Y[np.arange(n), labels] = 1
    return X, Y


def textbook_weights(sizes: Sequence[int], seed: int = 0, dtype: DTypeLike = np.float32
                     ) -> list[NDArray[Any]]:
    """[W1, b1, W2, b2, ...] for `sizes`, initialised as BackpropNetwork does (step 1)."""
    return BackpropNetwork(sizes, seed=seed, dtype=np.dtype(dtype).name).get_weights()


# Before each timed run the machine is left idle this long: OpenBLAS's worker threads keep
# spinning for about 0.1 s after a multi-threaded call (OPENBLAS_THREAD_TIMEOUT, 2^28 cycles
# by default), and would take a core from whatever is timed next. Measured on W1 with refnn
# on two threads: 238-259 ms an epoch right after NumPy's 2-thread products, 179-197 ms after
# a pause of 0.3 s.
SETTLE_SECONDS = 0.3


def _time_once(fn: Callable[..., object], setup: Callable[[], Any] | None = None,
               settle: float = SETTLE_SECONDS) -> float:
    """Seconds taken by fn() (or fn(setup()), setup not timed), after `settle` seconds idle."""
    args = () if setup is None else (setup(),)
    time.sleep(settle)
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def best_time(fn: Callable[..., object], repeat: int = 3,
              setup: Callable[[], Any] | None = None) -> float:
    """The shortest of `repeat` wall-clock times of fn(), in seconds (time.perf_counter).

    With `setup`, each run is fn(setup()): setup prepares fresh inputs (e.g. copies of weights
    that fn updates in place) and is not timed. The minimum is the run least disturbed by the
    rest of the machine.
    """
    if repeat < 1:
        raise ValueError(f"repeat must be at least 1, got {repeat}")
    return min(_time_once(fn, setup) for _ in range(repeat))


def textbook_epoch_ratio(n_samples: int = 60000, n_numpy: int = 6000, hidden: int = 128,
                         repeat: int = 3, seed: int = 0) -> dict[str, Any]:
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

    def fresh_weights() -> list[NDArray[Any]]:
        return [w.copy() for w in weights]

    def run_c(w: list[NDArray[Any]]) -> None:
        kernels.sgd_per_sample(w, X, Y, eta=0.1, activation="sigmoid")     # updates w in place

    def run_numpy(w: list[vectorized.Values]) -> None:
        vectorized.sgd_per_sample(w, X_numpy, Y_numpy, eta=0.1, activation="sigmoid")

    c_times: list[float] = []
    numpy_times: list[float] = []
    for _ in range(repeat):
        c_times.append(_time_once(run_c, fresh_weights))
        numpy_times.append(_time_once(run_numpy, fresh_weights))
    c_seconds, numpy_seconds = min(c_times), min(numpy_times)
    c_rate, numpy_rate = n_samples / c_seconds, n_numpy / numpy_seconds
    return {"c": c_rate, "numpy": numpy_rate, "ratio": c_rate / numpy_rate,
            "c_seconds": c_seconds, "numpy_seconds": numpy_seconds,
            "n_samples": n_samples, "n_numpy": n_numpy, "sizes": sizes}


def blas_threads() -> dict[str, int] | None:
    """{library: threads} for each BLAS/OpenMP library loaded in this process, as threadpoolctl
    reports them; None when threadpoolctl is not installed (it is optional)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return {f"{info['internal_api']} ({os.path.basename(info['filepath'])})": info["num_threads"]
            for info in threadpool_info()}


# ---------------------------------------------------------------------------------------------
# The speed workloads, side by side: refnn, its NumPy twin, PyTorch and scikit-learn when
# installed, and the GEMM-only cap (the matrix products of the epoch, timed alone with NumPy).

Workload = dict[str, Any]           # one of WORKLOADS (its "n" shrunk by workload(quick=True))
WORKLOADS: dict[str, Workload] = {
    "W1": {"title": "the lecture's Keras model: 784-128-10, sigmoid + softmax, CE, Adam, batch 200",
           "hidden": [128], "activation": "sigmoid", "optimizer": "adam", "batch_size": 200,
           "dtype": "float32", "n": 60000},
    "W2": {"title": "the textbook per-sample algorithm: 784-128-10 sigmoid, squared error, SGD, "
                    "batch 1", "hidden": [128], "activation": "sigmoid", "batch_size": 1,
           "dtype": "float32", "n": 10000},
    "W3": {"title": "deeper: 784-256-256-10 relu, softmax + CE, SGD momentum 0.9, batch 64",
           "hidden": [256, 256], "activation": "relu", "optimizer": "sgd", "batch_size": 64,
           "dtype": "float32", "n": 60000},
    "W4": {"title": "W1 in float64", "hidden": [128], "activation": "sigmoid",
           "optimizer": "adam", "batch_size": 200, "dtype": "float64", "n": 60000},
    "W5": {"title": "scikit-learn's MLPClassifier as it comes (784-100-10 relu, adam, alpha "
                    "1e-4, batch 200) against refnn.sklearn's, one epoch",
           "hidden": [100], "activation": "relu", "optimizer": "adam", "batch_size": 200,
           "dtype": "float64", "n": 20000},
    "W6": {"title": "scikit-learn's MLPClassifier as it comes on its digits data (64-100-10 "
                    "relu, adam, alpha 1e-4, batch 200) against refnn.sklearn's, 20 epochs",
           "inputs": 64, "data": "digits", "epochs": 20,
           "hidden": [100], "activation": "relu", "optimizer": "adam", "batch_size": 200,
           "dtype": "float64", "n": 1797},
}
ESTIMATOR_WORKLOADS = ("W5", "W6")   # refnn.sklearn against scikit-learn, whole fits timed
LEARNING_RATE = {"adam": 0.001, "sgd": 0.01}

# an implementation's (epoch(state), or epoch() without setup; setup() -> state, or None;
# samples per epoch)
Run = tuple[Callable[..., object], Union[Callable[[], Any], None], int]


def layer_sizes(w: Workload) -> list[int]:
    """n_0, the hidden layers' sizes, n_L"""
    return [w.get("inputs", 784)] + list(w["hidden"]) + [10]


def glorot_weights(sizes: Sequence[int], dtype: DTypeLike, seed: int) -> list[NDArray[Any]]:
    """Keras's initial weights (glorot_uniform kernels, zero biases), shared by every impl."""
    rng = np.random.default_rng(seed)
    weights: list[NDArray[Any]] = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (n_in + n_out))
        weights += [kernels.aligned_copy(rng.uniform(-limit, limit, (n_in, n_out)), dtype),
                    kernels.aligned_copy(np.zeros(n_out), dtype)]     # as Dense.build
    return weights


def gemm_cap_epoch(X: NDArray[Any], sizes: Sequence[int], batch_size: int) -> Callable[[], None]:
    """A function running the matrix products of one epoch alone, with NumPy's BLAS: per batch
    the forward products g_{l-1} W_l, the weight gradients g_{l-1}^T epsilon_l and the error
    products epsilon_l W_l^T (not for the input layer), on preallocated arrays, nothing else
    (whole batches only)."""
    dtype = X.dtype
    n = X.shape[0]
    rng = np.random.default_rng(0)
    W = [rng.random((a, b), dtype=dtype) for a, b in zip(sizes[:-1], sizes[1:])]
    G = [np.empty((batch_size, s), dtype) for s in sizes[1:]]
    E = [rng.random((batch_size, s), dtype=dtype) for s in sizes[1:]]
    dW = [np.empty_like(w) for w in W]
    dE = [np.empty((batch_size, s), dtype) for s in sizes[1:-1]]

    def epoch() -> None:
        for start in range(0, n - batch_size + 1, batch_size):
            A = X[start:start + batch_size]
            for l, w in enumerate(W):
                np.matmul(A, w, out=G[l])
                A = G[l]
            for l in range(len(W) - 1, -1, -1):
                A = X[start:start + batch_size] if l == 0 else G[l - 1]
                np.matmul(A.T, E[l], out=dW[l])
                if l > 0:
                    np.matmul(E[l], W[l].T, out=dE[l - 1])
    return epoch


def workload_optimizer(w: Workload) -> Optimizer:
    """the workload's refnn optimizer: Adam, or SGD with momentum 0.9"""
    from .optimizers import SGD, Adam
    return Adam(LEARNING_RATE["adam"]) if w["optimizer"] == "adam" else \
        SGD(LEARNING_RATE["sgd"], momentum=0.9)


def refnn_run(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int
               ) -> tuple[Callable[[Sequential], object], Callable[[], Sequential]]:
    from .layers import Dense
    from .model import Sequential
    sizes = layer_sizes(w)

    def setup() -> Sequential:
        model = Sequential([Dense(s, activation=w["activation"]) for s in sizes[1:-1]]
                           + [Dense(10, activation="softmax")], seed=seed, dtype=w["dtype"])
        model.build((784,))
        model.set_weights(glorot_weights(sizes, w["dtype"], seed))
        model.compile(loss="categorical_crossentropy", optimizer=workload_optimizer(w))
        return model
    return lambda m: m.fit(X, Y, batch_size=w["batch_size"], epochs=1, verbose=0), setup


def epoch_phases(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int = 0,
                 threads: int = 1) -> tuple[dict[str, float], float]:
    """Where an epoch of refnn's mini-batch training goes: one epoch of the workload run as
    fit runs it (training.CompiledStep, the compiled step with the optimizer's update fused
    into it, batch after batch) on `threads` of refnn's threads, timed by phase. Returns
    ({phase: seconds}, epoch seconds): the step's phases (DenseTrainer.PHASES), each summed
    over the threads, and "rest": what the phases leave of the threads' time (the epoch's
    wall-clock time times `threads`). On one thread the rest is the Python loop around the
    steps; on more, also the time a thread waited for the others' pieces or did not run."""
    from .training import CompiledStep
    sizes = layer_sizes(w)
    weights = glorot_weights(sizes, w["dtype"], seed)
    activations = [w["activation"]] * (len(sizes) - 2) + ["softmax"]
    batch = w["batch_size"]
    step = CompiledStep(weights, X, Y, activations, "softmax_crossentropy", batch,
                        workload_optimizer(w))
    step.trainer.threads = threads
    order = np.random.default_rng(seed).permutation(X.shape[0]).astype(np.intp)
    start = time.perf_counter()
    for first in range(0, X.shape[0], batch):
        step.step(order[first:first + batch])
    total = time.perf_counter() - start
    phases = step.trainer.phase_seconds()
    phases["rest"] = max(0.0, threads * total - sum(phases.values()))
    return phases, total


def workload(name: str, quick: bool = False, seed: int = 0
             ) -> tuple[Workload, NDArray[Any], NDArray[Any]]:
    """The settings and the data of workload `name`: (settings dict, X, Y)."""
    if name not in WORKLOADS:
        raise ValueError(f"unknown workload {name!r}; valid: {', '.join(WORKLOADS)}")
    w = dict(WORKLOADS[name])
    if w.get("data") == "digits":
        if quick:
            w["epochs"] = 2
        return w, *digits(w["dtype"])
    if quick:
        w["n"] = max(w["batch_size"] * 10, w["n"] // 20)
    X, Y = mnist_like(w["n"], seed=seed, dtype=w["dtype"])
    return w, X, Y


def digits(dtype: DTypeLike) -> tuple[NDArray[Any], NDArray[Any]]:
    """scikit-learn's digits (1,797 images of 8 x 8 pixels from 0 to 16): X / 16 and one-hot Y;
    without scikit-learn, MNIST-like data of that shape (which no run then times)."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        return mnist_like(1797, n_features=64, dtype=dtype)
    X, labels = load_digits(return_X_y=True)
    return (np.ascontiguousarray(X / 16.0, dtype=dtype),
            np.eye(10, dtype=dtype)[labels])


def workload_runs(name: str, w: Workload, X: NDArray[Any], Y: NDArray[Any], threads: int = 1,
                  seed: int = 0) -> tuple[dict[str, Run], dict[str, str]]:
    """{impl: (epoch(state), setup() -> state, samples per epoch)} for every implementation
    that is installed, and {impl: why not} for the others."""
    from .bench_peers import (Pair, estimator_runs, numpy_run, per_sample_runs, sklearn_run,
                              torch_module, torch_run)
    if name == "W2":
        runs = per_sample_runs(w, X, Y, seed, threads)
        return runs, ({} if "pytorch" in runs else {"pytorch": "not installed"})
    if name in ESTIMATOR_WORKLOADS:
        fits = estimator_runs(w, X, Y, seed)
        if fits is None:
            return {}, {"scikit-learn": "not installed"}
        return {impl: (fn, setup, w["n"] * w.get("epochs", 1))
                for impl, (fn, setup) in fits.items()}, {}
    pairs: dict[str, Pair] = {"refnn": refnn_run(w, X, Y, seed),
                              "numpy": numpy_run(w, X, Y, seed)}
    if torch_module() is not None:
        pairs["pytorch"] = torch_run(w, X, Y, seed, threads)
    if (sk := sklearn_run(w, X, Y, seed)) is not None:
        pairs["scikit-learn"] = sk
    missing = {impl: "not installed" for impl in ("pytorch", "scikit-learn") if impl not in pairs}
    return {impl: (fn, setup, w["n"]) for impl, (fn, setup) in pairs.items()}, missing


def fit_peak_mib(w: Workload, X: NDArray[Any], Y: NDArray[Any], seed: int = 0) -> float:
    """tracemalloc's peak during refnn's fit (one epoch), in MiB: what fit allocates beyond
    its inputs (the data are in memory, float32, before it starts)."""
    import tracemalloc
    fn, setup = refnn_run(w, X, Y, seed)
    model = setup()
    tracemalloc.start()
    try:
        fn(model)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def run_workload(name: str, threads: int = 1, quick: bool = False, repeat: int = 5,
                 seed: int = 0) -> dict[str, Any]:
    """Measure one workload: {impl: samples/s}, the GEMM-only cap (timed in the same rounds),
    the round trip between two cores before each round (kernels.threads.core_round_trip, in
    ns; where measured), where refnn's epoch goes (epoch_phases, the least disturbed of
    `repeat` epochs), and on W1 fit's memory peak."""
    w, X, Y = workload(name, quick, seed)
    repeat = 1 if quick else repeat
    result: dict[str, Any] = {"name": name, "title": w["title"], "threads": threads,
                              "n": w["n"], "rates": {}}
    runs, result["missing"] = workload_runs(name, w, X, Y, threads, seed)
    if not runs:
        return result                    # nothing installed to measure
    mini_batch = name != "W2" and name not in ESTIMATOR_WORKLOADS
    if name != "W2":                     # the cap: whole batches only, scaled to every sample
        full = (w["n"] // w["batch_size"]) * w["batch_size"]
        runs["cap"] = (gemm_cap_epoch(X, layer_sizes(w), w["batch_size"]), None, full)
    # rounds interleaved (refnn, numpy, ..., cap, refnn, numpy, ...), the best of each kept: a
    # passing disturbance of the machine then spoils one round of each, not all of one
    best = {impl: math.inf for impl in runs}
    trips = []                           # how far apart two cores are, before each round
    for _ in range(repeat):
        trips.append(core_round_trip())
        for impl, (fn, setup, _) in runs.items():
            best[impl] = min(best[impl], _time_once(fn, setup, 0.0 if quick else SETTLE_SECONDS))
    result["round_trip_ns"] = [t for t in trips if t is not None]
    for impl, (_, _, count) in runs.items():
        result["rates"][impl] = count / best[impl]
    if "cap" in result["rates"]:
        result["cap"] = result["rates"].pop("cap")
    if mini_batch:
        result["phases"] = min((epoch_phases(w, X, Y, seed, threads) for _ in range(repeat)),
                               key=lambda measured: measured[1])[0]
    if name == "W1":
        result["fit_peak_mib"] = fit_peak_mib(w, X, Y, seed)
    return result


def format_result(r: Mapping[str, Any]) -> str:
    lines = [f"{r['name']}: {r['title']}  ({r['n']} samples, {r['threads']} thread"
             f"{'s' if r['threads'] != 1 else ''})"]
    if "refnn" not in r["rates"]:
        return "\n".join(lines + [f"  not measured: {impl} {why}"
                                  for impl, why in r["missing"].items()])
    ref = r["rates"]["refnn"]
    for impl, rate in r["rates"].items():
        ratio = "" if impl == "refnn" else f"   refnn is {ref / rate:5.2f}x"
        lines.append(f"  {impl:<13}{rate:>12,.0f} samples/s{ratio}")
    for impl, why in r.get("missing", {}).items():
        lines.append(f"  {impl:<13}{'—':>12}  ({why})")
    if "cap" in r:
        lines.append(f"  {'GEMM-only cap':<13}{r['cap']:>12,.0f} samples/s   refnn reaches "
                     f"{ref / r['cap']:.2f} of it")
        if r["name"] in ESTIMATOR_WORKLOADS and "scikit-learn" in r["rates"]:
            # the most any implementation with the same matrix products could gain on it
            times = r["cap"] / r["rates"]["scikit-learn"]
            lines.append(f"  scikit-learn's epoch takes {times:.2f}x the time of its matrix "
                         f"products alone")
    if "phases" in r:                   # wrapped between the phases, never inside one
        lines += [line.replace("\0", " ") for line in textwrap.wrap(
            format_phases(r["phases"], r["threads"]).replace(" ", "\0").replace(",\0", ", "), 96,
            initial_indent="  ", subsequent_indent="      ")]
    if "fit_peak_mib" in r:
        lines.append(f"  fit allocates at most {r['fit_peak_mib']:.1f} MiB beyond its inputs "
                     f"(tracemalloc peak)")
    return "\n".join(lines)


def format_phases(phases: Mapping[str, float], threads: int = 1) -> str:
    """'refnn's epoch, by phase: matrix products 322 ms (82%), gather 28 ms (7%), ...':
    the two matrix-product phases together, then the others, largest first; on more than one
    thread, 'refnn's epoch on 2 threads, by phase (summed over the threads): ...'."""
    products = sum(v for k, v in phases.items() if k.endswith("matrix products"))
    parts = [("matrix products", products)] + sorted(
        ((k, v) for k, v in phases.items() if not k.endswith("matrix products")),
        key=lambda kv: -kv[1])
    total = sum(v for _, v in parts)
    heading = ("refnn's epoch, by phase: " if threads == 1 else
               f"refnn's epoch on {threads} threads, by phase (summed over the threads): ")
    return heading + ", ".join(
        f"{k} {v * 1e3:.0f} ms ({v / total:.0%})" for k, v in parts)
