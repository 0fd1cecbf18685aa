"""Input checks shared by every public entry point.

Python validates, C computes: before any array reaches a compiled kernel it has been checked
here for type, dtype, number of dimensions, emptiness, finiteness and contiguity. Every error
names the argument, what was expected and what was received.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class NonFiniteError(ValueError):
    """An array holds NaN or infinity where finite numbers are required."""


class TrainingDivergedError(ValueError, FloatingPointError):
    """Training produced NaN or infinity (the learning rate is too large for the data)."""


def as_dtype(name: str, dtype: DTypeLike) -> np.dtype[Any]:
    """The float dtype a model computes in: 'float32' or 'float64' (or the NumPy types)."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{name} must be 'float32' or 'float64', got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise TypeError(f"{name} must be 'float32' or 'float64', got {dt.name!r}")
    return dt


def _shape_text(ndim: int) -> str:
    return {1: "a 1-D array", 2: "a 2-D array"}.get(ndim, f"a {ndim}-D array")


def as_array(name: str, a: ArrayLike, *, dtype: DTypeLike | None = None,
             ndim: int | Iterable[int] | None = None, allow_int: bool = True,
             allow_empty: bool = False, check_finite: bool = True,
             contiguous: bool = True) -> NDArray[Any]:
    """Check `a` and return it as a C-contiguous, aligned float array (a copy where `a` is
    not: a buffer at an odd offset is copied, never handed to C as it is).

    dtype      the float dtype to return; None keeps a float32/float64 input as it is
               (other inputs become float64)
    ndim       required number of dimensions (an int, a tuple of ints, or None for any)
    allow_int  integer and boolean data (uint8 images, 0/1 labels) is converted to float;
               False for raw kernel arguments, which take float32/float64 only
    """
    if a is None:
        raise TypeError(f"{name} must be an array of numbers, got None")
    arr = to_ndarray(name, a)
    if arr.dtype.byteorder not in "=|":                  # big-endian data: the same numbers, native
        arr = arr.astype(arr.dtype.newbyteorder("="))
    kind = arr.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real-valued, got complex dtype {arr.dtype.name}")
    if kind not in "fiub":
        raise TypeError(f"{name} must be an array of numbers, got dtype {arr.dtype.name!r}"
                        + (" (object array: ragged or mixed entries?)" if kind == "O" else ""))
    if kind in "iub" and not allow_int:
        raise TypeError(f"{name} must be float32 or float64, got {arr.dtype.name}")
    if kind == "f" and arr.dtype not in FLOAT_DTYPES and not allow_int:
        raise TypeError(f"{name} must be float32 or float64, got {arr.dtype.name}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(_shape_text(d) for d in allowed)
            raise ValueError(f"{name} must be {want}, got {arr.ndim}-D with shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if dtype is None:
        target = arr.dtype if arr.dtype in FLOAT_DTYPES else np.dtype(np.float64)
    else:
        target = np.dtype(dtype)
        if not allow_int and arr.dtype != target:
            raise TypeError(f"{name} must have dtype {target.name} like the other arrays, "
                            f"got {arr.dtype.name}")
    source = arr
    with np.errstate(over="ignore"):                     # reported below, naming the dtype
        arr = np.asarray(arr, dtype=target, order="C" if contiguous else "K")
    if not arr.flags.aligned:           # C loads a float only from an address its size divides
        arr = arr.copy()
    if check_finite and kind == "f" and arr.size and not all_finite(arr):
        if source.dtype.itemsize > arr.dtype.itemsize and np.isfinite(source).all():
            raise NonFiniteError(f"{name} has values too large for {target.name} (largest "
                                 f"magnitude {np.abs(source).max():.3g}); use dtype='float64'")
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise NonFiniteError(f"{name} must be finite, got {arr[where]} at index "
                         f"{where if len(where) != 1 else where[0]}")
    return arr


def to_ndarray(name: str, a: ArrayLike, what: str = "numbers") -> NDArray[Any]:
    """a as a NumPy array (itself if it is one), or an error naming it: a string is not an
    array of `what`, and a ragged list cannot be one."""
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, (str, bytes)):
        raise TypeError(f"{name} must be an array of {what}, got a {type(a).__name__}")
    try:
        return np.asarray(a)
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name} must be a rectangular array of {what}; "
                         f"could not convert it: {e}") from None


def all_finite(arr: NDArray[Any]) -> bool:
    """No NaN or infinity in arr, without a temporary the size of arr.

    A sum that is finite proves every term finite (a NaN or an infinity makes any sum NaN or
    infinite): one vectorised pass over memory in the array's own dtype. Only when the sum is
    not finite (a bad value, or large values summing past the dtype's range) is the array
    scanned for real, a block at a time."""
    with np.errstate(all="ignore"):
        if np.isfinite(np.sum(arr)):
            return True
    flat = arr.reshape(-1)
    block = 1 << 16
    return all(np.isfinite(flat[i:i + block]).all() for i in range(0, flat.size, block))


def check_dim(name: str, actual: object, expected: object, what: str, reference: str) -> None:
    """Raise ValueError unless actual == expected, e.g.
    check_dim("g_prev", 3, 2, "features (columns)", "W has {expected} rows") ->
    'g_prev has 3 features (columns), but W has 2 rows'."""
    if actual != expected:
        raise ValueError(f"{name} has {actual} {what}, but {reference.format(expected=expected)}")


def check_same_samples(**arrays: NDArray[Any]) -> None:
    """All arrays have the same number of rows (samples)."""
    items = list(arrays.items())
    first_name, first = items[0]
    for name, arr in items[1:]:
        if arr.shape[0] != first.shape[0]:
            raise ValueError(f"{first_name} and {name} must have the same number of samples, "
                             f"got {first.shape[0]} and {arr.shape[0]}")


def _real(name: str, value: object, bound: str = "") -> float:
    """A real number (bools refused) as a float; an int too large for a float is refused as
    not finite, naming the argument."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    try:
        return float(value)
    except OverflowError:                   # only an integer overflows float()
        bits = int(value).bit_length()      # type: ignore[arg-type]  # Real: no __int__ in its stub
        raise ValueError(f"{name} must be a finite number{bound}, got an integer of "
                         f"{bits} bits, too large for a float") from None


def positive_number(name: str, value: object, *, allow_zero: bool = False) -> float:
    """A finite real number > 0 (or >= 0)."""
    bound = " >= 0" if allow_zero else " > 0"
    value = _real(name, value, bound)
    if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value


def finite_number(name: str, value: object) -> float:
    """A finite real number of either sign (a threshold, an offset); bools are refused."""
    value = _real(name, value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return value


def positive_int(name: str, value: object, *, allow_zero: bool = False) -> int:
    """An int > 0 (or >= 0); bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    value = int(value)
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value}")
    return value


def int_between(name: str, value: object, *, low: int, high: int) -> int:
    """An int from low to high; bools and floats are refused."""
    if isinstance(value, bool) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if not low <= int(value) <= high:
        raise ValueError(f"{name} must be from {low} to {high}, got {value}")
    return int(value)


def sample_shape(name: str, shape: object, *,
                 batch_axis: bool = False) -> tuple[int, ...]:
    """A per-sample shape: a tuple of positive ints (an int n means (n,)). With batch_axis, a
    leading None (the batch axis of Keras's build((None, 784))) is accepted and dropped."""
    if isinstance(shape, (numbers.Integral, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    if isinstance(shape, (tuple, list)) and batch_axis and len(shape) > 1 and shape[0] is None:
        shape = tuple(shape[1:])
    if not isinstance(shape, (tuple, list)) or not shape:
        batch = ", or (None, 28, 28) with the batch axis" if batch_axis else ""
        raise ValueError(f"{name} must be a tuple of positive ints such as (28, 28){batch} "
                         f"(without the batch axis), got {shape!r}")
    return tuple(positive_int(f"{name} entry", d) for d in shape)


def flag(name: str, value: object) -> bool:
    """True or False (a NumPy bool too); anything else is refused, naming what was received."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__} {value!r}")
    return bool(value)


def choice(name: str, value: object, valid: Iterable[str]) -> str:
    """One of the names in `valid`; the error lists them."""
    if not isinstance(value, str) or value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(sorted(valid))}")
    return value


def rate(name: str, value: object) -> float:
    """A probability that leaves something over: 0 <= rate < 1 (a dropout rate)."""
    value = positive_number(name, value, allow_zero=True)
    if value >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return value


def fraction(name: str, value: object) -> float:
    """A proper part of a whole: 0 < fraction < 1 (the part of the data held out)."""
    value = positive_number(name, value)
    if value >= 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return value


def _sequence(name: str, values: object, what: str) -> list[Any]:
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a sequence of {what}, "
                        f"got {type(values).__name__} {values!r}")
    return list(values)


def sizes(name: str, values: object) -> tuple[int, ...]:
    """Layer sizes: a sequence of ints > 0, possibly empty, as a tuple; the error names the
    entry, e.g. layers[1] must be > 0, got 0."""
    return tuple(positive_int(f"{name}[{i}]", v)
                 for i, v in enumerate(_sequence(name, values, "integers > 0 such as (128, 64)")))


def finite_numbers(name: str, values: object) -> tuple[float, ...]:
    """A non-empty sequence of finite real numbers, as a tuple of floats."""
    values = _sequence(name, values, "numbers such as (0, 1)")
    if not values:
        raise ValueError(f"{name} must hold at least one number, got none")
    return tuple(finite_number(f"{name}[{i}]", v) for i, v in enumerate(values))
