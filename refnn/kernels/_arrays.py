"""Array checks shared by the kernels' entry points (no compiled code here)."""
from __future__ import annotations

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
