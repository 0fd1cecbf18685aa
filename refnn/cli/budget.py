"""What a command line asks of the machine's memory, checked before it is asked for.

A flag such as `--layers 100000000` or `--samples 1000000000` used to end in the kernel's
out-of-memory kill, or a MemoryError traceback, minutes in. The commands estimate, from the
flags alone, the bytes the run will hold at once and refuse (one line, exit status 2) what is
more than the memory available now (MemAvailable of /proc/meminfo; the physical memory where
that is not known). The estimates are upper bounds of the large arrays, not of Python's
overhead; what they leave out is small beside them.
"""
from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from numpy.typing import DTypeLike

from .parsing import UsageError

# bytes per generated 2-D point while a set is made and prepared: the raw points (2 float64)
# and labels (int64), the split's copies, the standardised inputs, their float32 copies and
# one-hot targets: 7 copies of 3 numbers, rounded up
BYTES_PER_TOY_POINT = 200


def available_bytes() -> int | None:
    """The memory available to a new allocation now, in bytes; None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _size(nbytes: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if nbytes >= scale:
            return f"{nbytes / scale:,.1f} {unit}"
    return f"{nbytes:,} bytes"


def require(nbytes: int, what: str) -> None:
    """Refuse a run whose estimate, nbytes, is more than the memory available now."""
    available = available_bytes()
    if available is not None and nbytes > available:
        raise UsageError(f"{what} needs about {_size(nbytes)} of memory, more than the "
                         f"{_size(available)} available")


def toy_points(n: int) -> None:
    require(n * BYTES_PER_TOY_POINT, f"--samples {n}: generating {n:,} points")


def training(sizes: Sequence[int], batch_size: int, dtype: DTypeLike, flag_text: str) -> None:
    """A network of layer sizes `sizes` (inputs first) trained on batches of batch_size:
    its weights, their gradients and up to three optimizer slots (5 copies of the P weights),
    the float64 draw of the largest weight matrix as it is initialised (2 copies), and a
    batch's sums, activations and error terms (3 per unit); exact integers."""
    itemsize = np.dtype(dtype).itemsize
    weights = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    largest = max(a * b for a, b in zip(sizes, sizes[1:]))
    units = sum(sizes[1:])
    nbytes = 5 * itemsize * weights + 2 * 8 * largest + 3 * itemsize * batch_size * units
    require(nbytes, f"{flag_text}: training a network of {_count(weights)} weights on batches "
                    f"of {batch_size}")


def _count(n: int) -> str:
    return f"{n:,}" if n < 10**15 else f"over 10^{int(math.log10(n))}"
