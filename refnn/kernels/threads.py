"""How many threads refnn's compiled training step runs on: one setting for the process
(refnn.set_num_threads, refnn.get_num_threads and refnn.num_threads are these functions).

    set_num_threads(n)     n threads from now on (None: back to the default)
    get_num_threads()      how many the next step will use
    num_threads(n)         the same as a context manager: `with refnn.num_threads(1): ...`
    REFNN_NUM_THREADS      the environment variable that sets it when refnn is imported

The default is the number of cores this process may run on (os.sched_getaffinity), lowered to
a limit the process was given: OMP_NUM_THREADS, OPENBLAS_NUM_THREADS or MKL_NUM_THREADS in the
environment (joblib's worker processes get these), or the BLAS's own thread setting
(threadpoolctl's `threadpool_limits` lowers it).

The numbers do not depend on this setting: a step's work is cut into pieces by the sizes of
the batch and of the layers alone (src_c/pool.h, src_c/_train.pyx), so fit gives bit-identical
weights on 1, 2, 3 or 4 threads. refnn's threads sleep when idle, and while they run, the BLAS
they call runs on one thread each; the BLAS's setting is the user's again when the step ends.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Iterator

from .._validate import int_between
from . import blas as _blas

MAX_THREADS = _blas.MAX_THREADS
LIMIT_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")

_chosen: int | None = None      # set_num_threads(n): n; None: the default


def available_cores() -> int:
    """The cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):          # not Linux
        return os.cpu_count() or 1


def _environment_limit() -> int | None:
    """The smallest valid whole number in LIMIT_VARIABLES, or None."""
    limits = []
    for name in LIMIT_VARIABLES:       # read before every step: unset ones cost no exception
        value = os.environ.get(name)
        if not value:
            continue
        try:
            limits.append(int(value))
        except ValueError:
            continue
    limits = [n for n in limits if n >= 1]
    return min(limits) if limits else None


def default_num_threads() -> int:
    """The cores this process may run on, lowered to the limits it was given (see above)."""
    n = available_cores()
    for limit in (_environment_limit(), _blas.user_blas_threads() or None):
        if limit is not None:
            n = min(n, limit)
    return max(1, min(n, MAX_THREADS))


def get_num_threads() -> int:
    """How many threads the next training step will use."""
    return default_num_threads() if _chosen is None else _chosen


def set_num_threads(n: int | None) -> None:
    """Run refnn's training steps on `n` threads (1 to MAX_THREADS) from now on; None goes back
    to the default (see the module's docstring). The result of fit is the same for any n."""
    global _chosen
    _chosen = None if n is None else int_between("n", n, low=1, high=MAX_THREADS)


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[None]:
    """`with refnn.num_threads(n):` runs the block's training steps on n threads (None: the
    default), and puts the previous setting back after it."""
    global _chosen
    previous = _chosen
    set_num_threads(n)
    try:
        yield
    finally:
        _chosen = previous


def _from_environment() -> None:
    """set_num_threads(REFNN_NUM_THREADS) when it is set; a bad value is named in a warning and
    the default is kept, so that `import refnn` still works."""
    value = os.environ.get("REFNN_NUM_THREADS", "").strip()
    if not value:
        return
    try:
        set_num_threads(int(value))
    except (ValueError, TypeError):
        warnings.warn(f"REFNN_NUM_THREADS={value!r} is not a whole number from 1 to "
                      f"{MAX_THREADS}; using the default ({default_num_threads()})",
                      RuntimeWarning, stacklevel=3)


_from_environment()
