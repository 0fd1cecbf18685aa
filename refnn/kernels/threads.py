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

Because the numbers do not depend on it, the default may change the count from step to step:
a trainer left to the default runs its steps on at most default_num_threads() threads, on the
count its last probe timed fastest (ThreadChoice). A count set with set_num_threads, num_threads
or REFNN_NUM_THREADS is used as it is.
"""
from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator

from .._validate import int_between, positive_number
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
    """How many threads the next training step will use (on the default: at most)."""
    return default_num_threads() if _chosen is None else _chosen


def chosen_num_threads() -> int | None:
    """The count set with set_num_threads (or num_threads, REFNN_NUM_THREADS); None: the
    default."""
    return _chosen


# A round trip longer than this: the two cores are apart (README, Threads: on the development
# machine single round trips took 30-100 ns in one state and 200-451 ns in the other, and the
# means of 1,000 of them 27-160 ns and 320-700 ns; a step on two threads gained little in the
# second state, and a plain C step cut by rows lost)
APART_NS = 200.0


def core_round_trip(rounds: int = 1000, budget: float = 0.05) -> float | None:
    """How far apart the first two cores this process may run on are, in nanoseconds: the time
    for a cache line written on one to be seen on the other and answered (the mean of `rounds`
    round trips of two threads pinned to the two cores; src_c/pool.h). The threads of a step
    pass the weights between the cores in the same way, so two threads gain less as this
    grows. None with fewer than two cores, off Linux, or when the round trips did not all end
    within `budget` seconds (a core busy with another process)."""
    rounds = int_between("rounds", rounds, low=1, high=10**7)
    budget = positive_number("budget", budget)
    if budget > 10:
        raise ValueError(f"budget must be at most 10 seconds, got {budget!r}")
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):          # not Linux
        return None
    if len(cpus) < 2:
        return None
    from ._dispatch import _train
    ns = _train.round_trip_ns(cpus[0], cpus[1], rounds, budget)
    return None if ns < 0 else float(ns)


class ThreadChoice:
    """The thread count of one trainer's steps on the default setting, tuned to the machine as
    it is now. More threads are not always faster: beside a busy process a woken helper waits
    for a core while the caller waits for its piece, and when the host runs the two cores far
    apart the threads' exchange of each step's weights grows several times dearer
    (core_round_trip tells the two states apart; benchmarks/thread_phases.py shows both). So
    the steps start on the default's count, and WARMUP seconds later, then every PERIOD
    seconds, they run on two counts in turn: the current one and a neighbour (half of it, or
    twice it up to the default, by turns), in ROUNDS rounds of one untimed and BLOCK timed
    steps on each; the count whose median step was shorter is kept until the next probe. Only
    full batches are timed (record)."""

    WARMUP = 0.05         # seconds on the default's count before the first probe
    PERIOD = 1.0          # seconds a choice stands before the next probe
    ROUNDS, BLOCK = 2, 4  # a probe: ROUNDS x (1 + BLOCK) steps on each of its two counts

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.limit = 0                    # the default the current count was chosen under
        self.current = 1                  # the count between probes
        self.next_probe = math.inf
        self.plan: list[tuple[int, bool]] = []    # the probe's steps to come: (count, timed)
        self.times: dict[int, list[float]] = {}   # the probe's step times, by count
        self.upwards = False              # whether the next neighbour is twice the count

    def threads(self, limit: int) -> int:
        """The count for the next step, at most `limit` (the default's count now)."""
        if limit != self.limit:           # first call, or the default changed: start over
            self.limit, self.current, self.plan = limit, limit, []
            self.next_probe = self.clock() + self.WARMUP
        if limit == 1:
            return 1
        if not self.plan and self.clock() >= self.next_probe:
            down, up = max(1, self.current // 2), min(limit, 2 * self.current)
            if down == self.current or (up != self.current and self.upwards):
                other = up
            else:
                other = down
            self.upwards = not self.upwards
            self.plan = ([(self.current, False)] + [(self.current, True)] * self.BLOCK
                         + [(other, False)] + [(other, True)] * self.BLOCK) * self.ROUNDS
            self.times = {self.current: [], other: []}
        return self.plan[0][0] if self.plan else self.current

    def record(self, seconds: float) -> None:
        """The wall-clock time of a full batch's step, run on the count threads() gave."""
        if not self.plan:
            return
        count, timed = self.plan.pop(0)
        if timed:
            self.times[count].append(seconds)
        if not self.plan:                 # the probe is over: keep the faster count
            self.current = min(self.times, key=lambda c: statistics.median(self.times[c]))
            self.next_probe = self.clock() + self.PERIOD


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
