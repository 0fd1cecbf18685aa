"""Benchmarks (pytest-benchmark): the compiled kernels against their NumPy twins.

Run:    python -m pytest benchmarks/ -p no:cacheprovider --benchmark-only -q

Threads. The benchmarks run single-threaded: before NumPy is imported, this file sets
OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and MKL_NUM_THREADS to REFNN_BENCH_THREADS (default 1),
each only where the user has not set it already. So

    REFNN_BENCH_THREADS=2 python -m pytest benchmarks/ --benchmark-only

runs them on two threads, and a variable set by hand (OPENBLAS_NUM_THREADS=4 ...) wins for its
library. The report header says whether the setting can have taken effect (BLAS libraries read
it once, when they are loaded) and, when threadpoolctl is installed, what they actually use.

Collection. pytest collects test_*.py; the files here are bench_*.py, and the hook below
collects them when benchmarks/ is on the command line, so no -o python_files=... is needed.

Speed is never asserted: the figures are compared as ratios measured in one run.
"""
import fnmatch
import os
import sys

# as refnn.benchmarking.THREAD_VARIABLES, which cannot be imported yet: it would import numpy
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_threads = os.environ.get("REFNN_BENCH_THREADS", "1")
_numpy_loaded_first = "numpy" in sys.modules       # then its BLAS has read the variables already
_set_here = [name for name in THREAD_VARIABLES if name not in os.environ]
for _name in _set_here:
    os.environ[_name] = _threads

import numpy as np      # noqa: E402  (after the thread variables, on purpose)
import pytest           # noqa: E402

from refnn.benchmarking import blas_threads   # noqa: E402

BENCH_FILES = "bench_*.py"


def pytest_collect_file(file_path, parent):
    """Collect benchmarks/bench_*.py as test modules (unless pytest collects them anyway:
    named on the command line, or matched by the user's python_files)."""
    if not fnmatch.fnmatch(file_path.name, BENCH_FILES):
        return None
    if parent.session.isinitpath(file_path) or any(
            fnmatch.fnmatch(file_path.name, pattern)
            for pattern in parent.config.getini("python_files")):
        return None
    return pytest.Module.from_parent(parent, path=file_path)


def pytest_report_header(config):
    settings = " ".join(f"{name}={os.environ.get(name)}" for name in THREAD_VARIABLES)
    origin = (f"{', '.join(_set_here)} set by benchmarks/conftest.py from REFNN_BENCH_THREADS"
              if _set_here else "all from the environment")
    lines = [f"refnn benchmarks: {settings} ({origin})"]
    if _numpy_loaded_first and _set_here:
        lines.append("refnn benchmarks: WARNING numpy was imported before benchmarks/conftest.py "
                     "set the thread variables, so they may not apply; set them in the "
                     "environment instead")
    in_use = blas_threads()
    lines.append("refnn benchmarks: threads in use "
                 + (str(in_use) if in_use is not None else
                    f"unknown (no threadpoolctl); variables set before numpy was imported: "
                    f"{'no' if _numpy_loaded_first and _set_here else 'yes'}"))
    return lines


@pytest.fixture(scope="session")
def layer_arrays():
    """layer_arrays(n, n_in, n_out) -> {"g_prev", "W", "b", "epsilon"}: the inputs of one dense
    layer for a batch of n samples, float32, fixed seed, made once per size:
    g_prev uniform in [0, 1) (n, n_in); W (n_in, n_out) and b (n_out,) uniform in
    (-1/sqrt(n_in), 1/sqrt(n_in)) as BackpropNetwork initialises them; epsilon (n, n_out)
    normal with standard deviation 0.01, an error term of the size backpropagation produces."""
    cache = {}

    def make(n, n_in, n_out, seed=0, dtype=np.float32):
        key = (n, n_in, n_out, seed, np.dtype(dtype))
        if key not in cache:
            rng = np.random.default_rng(seed)
            a = 1 / np.sqrt(n_in)
            cache[key] = {
                "g_prev": rng.random((n, n_in), dtype=dtype),
                "W": rng.uniform(-a, a, (n_in, n_out)).astype(dtype),
                "b": rng.uniform(-a, a, n_out).astype(dtype),
                "epsilon": (0.01 * rng.standard_normal((n, n_out))).astype(dtype),
            }
        return cache[key]

    return make


_summary = []


@pytest.fixture(scope="session")
def bench_summary():
    """bench_summary(line): a line printed after the run (samples/s, ratios), -q or not."""
    return _summary.append


def pytest_terminal_summary(terminalreporter):
    if _summary:
        terminalreporter.section("refnn: samples per second")
        for line in _summary:
            terminalreporter.write_line(line)
