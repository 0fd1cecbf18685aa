"""The speed workloads W1-W6 (refnn.benchmarking.WORKLOADS), one benchmark per workload and
implementation: refnn, its NumPy twin, and PyTorch and scikit-learn when installed (skipped,
saying so, when not). Compare by samples per second (extra_info["samples_per_s"]), measured in
one run with the threads pinned by benchmarks/conftest.py; plus the GEMM-only cap of each
mini-batch workload, where refnn's epoch goes by phase, and the memory fit allocates on W1.

    python -m pytest benchmarks/bench_workloads.py --benchmark-only
    REFNN_BENCH_QUICK=1 ...       (a twentieth of the samples: a smoke run)

The same figures, as a table with ratios: python -m refnn bench.
"""
import os

import pytest

from refnn import benchmarking

QUICK = os.environ.get("REFNN_BENCH_QUICK", "") not in ("", "0")
THREADS = int(os.environ.get("OPENBLAS_NUM_THREADS", "1"))
IMPLS = ("refnn", "numpy", "pytorch", "scikit-learn")


@pytest.fixture(scope="module", params=list(benchmarking.WORKLOADS))
def workload(request):
    name = request.param
    w, X, Y = benchmarking.workload(name, quick=QUICK)
    runs, missing = benchmarking.workload_runs(name, w, X, Y, threads=THREADS)
    return name, w, X, Y, runs, missing


@pytest.mark.parametrize("impl", IMPLS)
def test_workload(benchmark, workload, impl):
    name, w, X, Y, runs, missing = workload
    if impl not in runs:
        pytest.skip(f"{impl}: {missing.get(impl, 'not measured for ' + name)}")
    fn, setup, count = runs[impl]
    benchmark.group = f"{name}: {w['title']}"
    benchmark.pedantic(fn, setup=lambda: ((setup(),), {}), rounds=1 if QUICK else 3,
                       iterations=1)
    benchmark.extra_info["samples_per_s"] = count / benchmark.stats.stats.min
    benchmark.extra_info["samples"] = count


def test_gemm_only_cap(benchmark, workload):
    name, w, X, Y, runs, missing = workload
    if name == "W2":
        pytest.skip("W2 is per sample: matrix-vector products, no GEMM cap")
    benchmark.group = f"{name}: {w['title']}"
    full = (w["n"] // w["batch_size"]) * w["batch_size"]
    benchmark.pedantic(benchmarking.gemm_cap_epoch(X, benchmarking.layer_sizes(w), w["batch_size"]),
                       rounds=1 if QUICK else 3)
    benchmark.extra_info["samples_per_s"] = full / benchmark.stats.stats.min


def test_refnn_epoch_by_phase(benchmark, workload):
    """Where refnn's epoch goes (benchmarking.epoch_phases): extra_info["phases_ms"]."""
    name, w, X, Y, runs, missing = workload
    if name == "W2":
        pytest.skip("W2 is per sample: the per-sample kernel has no phases to time")
    benchmark.group = f"{name}: {w['title']}"
    phases, _ = benchmark.pedantic(benchmarking.epoch_phases, args=(w, X, Y),
                                   rounds=1 if QUICK else 3)
    benchmark.extra_info["phases_ms"] = {k: round(v * 1e3, 2) for k, v in phases.items()}
    print("\n" + benchmarking.format_phases(phases))


def test_fit_memory_on_w1(benchmark):
    """fit's allocations on W1 (tracemalloc's peak), timed as one fit."""
    w, X, Y = benchmarking.workload("W1", quick=QUICK)
    peak = benchmark.pedantic(benchmarking.fit_peak_mib, args=(w, X, Y), rounds=1)
    benchmark.extra_info["fit_peak_mib"] = peak
    print(f"\nfit on W1 ({w['n']} samples) allocates at most {peak:.1f} MiB beyond its inputs")
