"""refnn's own threads: one epoch of refnn's fit on the mini-batch workloads (W1, W3, W4) at
1, 2 and 4 threads and at the default, in one run on the same data. Compare by samples per
second (extra_info["samples_per_s"]): the ratio of 2 threads to 1 is refnn's scaling.

    python -m pytest benchmarks/bench_threads.py --benchmark-only
    REFNN_BENCH_QUICK=1 ...       (a twentieth of the samples: a smoke run)

The BLAS inside refnn's threads runs single-threaded whatever benchmarks/conftest.py pins; the
thread count here is refnn's (refnn.num_threads). On a busy machine, compare with
`python -m refnn bench --workload W1 --threads 1,default --busy 1`.
"""
import os

import pytest

import refnn
from refnn import benchmarking

QUICK = os.environ.get("REFNN_BENCH_QUICK", "") not in ("", "0")
SETTINGS = [1, 2, 4, None]                  # None: refnn's default (refnn.get_num_threads())


@pytest.fixture(scope="module", params=["W1", "W3", "W4"])
def workload(request):
    name = request.param
    w, X, Y = benchmarking.workload(name, quick=QUICK)
    fn, setup = benchmarking.refnn_run(w, X, Y, seed=0)
    return name, w, fn, setup


@pytest.mark.parametrize("threads", SETTINGS, ids=["1", "2", "4", "default"])
def test_threads(benchmark, workload, threads):
    name, w, fn, setup = workload
    benchmark.group = f"{name}: {w['title']}"
    with refnn.num_threads(threads):
        benchmark.pedantic(fn, setup=lambda: ((setup(),), {}), rounds=1 if QUICK else 5,
                           iterations=1)
        benchmark.extra_info["threads"] = refnn.get_num_threads()
    benchmark.extra_info["samples_per_s"] = w["n"] / benchmark.stats.stats.min
