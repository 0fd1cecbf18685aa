"""Array checks shared by the kernels' entry points, and where the arrays that the compiled
loops stream through are placed (no compiled code here)."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .._validate import as_array


def _first(name: str, a: ArrayLike, ndim: int) -> NDArray[Any]:
    """The array that fixes the dtype of a call: float32 or float64, nothing else."""
    return as_array(name, a, ndim=ndim, allow_int=False)


def _like(name: str, a: ArrayLike, ndim: int, dtype: DTypeLike | None) -> NDArray[Any]:
    return as_array(name, a, ndim=ndim, dtype=dtype, allow_int=False)


def _writable_target(name: str, w: object, dtype: DTypeLike | None) -> NDArray[Any]:
    """A parameter array updated in place: the caller's array itself when it is a C-contiguous,
    writeable array of `dtype`, else a checked copy (written back by _write_back)."""
    if not isinstance(w, np.ndarray):
        raise TypeError(f"{name} must be a NumPy array (it is updated in place), "
                        f"got {type(w).__name__}")
    if not w.flags.writeable:
        raise ValueError(f"{name} is read-only; it is updated in place")
    return as_array(name, w, ndim=w.ndim, dtype=dtype, allow_int=False)


def _write_back(originals: Sequence[NDArray[Any] | None],
                works: Sequence[NDArray[Any] | None]) -> None:
    """Each working copy back into the array it was made from (None goes with None)."""
    for original, work in zip(originals, works):
        if work is not original and original is not None:
            original[...] = work


def _ready(a: object, like: NDArray[Any], writeable: bool = True) -> bool:
    """a is a C-contiguous (writable) float array with like's dtype and shape."""
    return (type(a) is np.ndarray and a.dtype == like.dtype and a.shape == like.shape
            and a.dtype in (np.float32, np.float64) and a.flags.c_contiguous and a.flags.aligned
            and (a.flags.writeable or not writeable))


def refuse_overlap(updated: Mapping[str, object], others: Mapping[str, object]) -> None:
    """Arrays updated in place ({name: array}) must share no memory with each other or with
    the other arguments ({name: array}): the loops read an entry after writing another, so an
    overlap would give results that depend on the order of the loop (NumPy's out= copies
    instead; an in-place kernel cannot). Arrays only read may overlap each other."""
    named = [(n, a) for n, a in {**updated, **others}.items() if isinstance(a, np.ndarray)]
    for i, (first, a) in enumerate(named):
        for second, b in named[i + 1:]:
            if first not in updated and second not in updated:
                continue
            try:
                # NumPy's stubs name only max_work -1 and 0; a positive bound is documented
                overlap = np.shares_memory(a, b, max_work=10**6)  # type: ignore[arg-type]
            except np.exceptions.TooHardError:
                overlap = True
            if overlap:
                name, other = (first, second) if first in updated else (second, first)
                raise ValueError(f"{name} and {other} share memory; {name} is updated in "
                                 f"place, so it must not overlap another argument (pass a "
                                 f"copy)")


# The arrays one update loop streams through together (a weight array, its gradient and its
# optimizer's slots) start on a cache line, and at different places within a 4 KiB page.
# - On a line: the loops' vectors are 32 or 64 bytes wide, and NumPy's arrays are aligned to
#   16 bytes only (malloc's alignment: a large array is a fresh mapping plus malloc's 16-byte
#   header, so it starts 16 bytes past a line). At 16 or 48 bytes past a line every second
#   32-byte vector spans two lines. Measured on W3 (SGD with momentum, one thread, in one
#   process, the arrays 0, 16, 32, 48 bytes past a line in turn): the fused update took 43-62
#   ms an epoch at 0 and 32, 164-171 ms at 16 and 48 (README).
# - Apart in the page: the CPU matches a load against the stores still in flight by the low 12
#   bits of the address (4K aliasing): when two such arrays start at the same place in their
#   pages, the load from one waits on the store to the other, element after element. Layers
#   such as 784 x 128 floats are whole pages, and malloc puts arrays of one size one after
#   another, 16 bytes apart within the page. Measured on one thread, W1 (Adam): the fused
#   update took 24-33 ms an epoch as allocated, about 10 ms with the arrays staggered.
LINE = 64           # bytes in a cache line
PAGE = 4096
STAGGER = 768       # bytes between the page offsets of neighbours: w (0), g (1), slots (2-4)


def _placed(shape: tuple[int, ...], dtype: DTypeLike | None, offset: int, modulus: int
            ) -> NDArray[Any]:
    """An uninitialised C-contiguous array whose first element's address is `offset` modulo
    `modulus` bytes (a view of a byte buffer `modulus` bytes longer than it)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buffer = np.empty(nbytes + modulus, np.uint8)
    start = (offset - buffer.ctypes.data) % modulus
    return buffer[start:start + nbytes].view(dtype).reshape(shape)


def aligned_empty(shape: int | tuple[int, ...], dtype: DTypeLike | None) -> NDArray[Any]:
    """An uninitialised C-contiguous array whose first element starts a cache line."""
    return _placed(shape if isinstance(shape, tuple) else (shape,), dtype, 0, LINE)


def aligned_copy(a: ArrayLike, dtype: DTypeLike | None) -> NDArray[Any]:
    """a cast to `dtype`, in a C-contiguous array that starts a cache line"""
    out = aligned_empty(np.shape(a), dtype)
    out[...] = a
    return out


def staggered_like(like: NDArray[Any], k: int, value: float | None = None) -> NDArray[Any]:
    """A C-contiguous array of like's shape and dtype (filled with `value`; None: not
    initialised) that starts a cache line, k * STAGGER bytes after the line where like's first
    element lies, within a page. Arrays smaller than a page start a cache line."""
    if like.nbytes < PAGE:
        a = aligned_empty(like.shape, like.dtype)
    else:
        line = like.ctypes.data - like.ctypes.data % LINE
        a = _placed(like.shape, like.dtype, (line + k * STAGGER) % PAGE, PAGE)
    if value is not None:
        a.fill(value)
    return a
