"""Which BLAS multiplies the kernels' matrices: chosen once at import (REFNN_BLAS), switched
later only while no DenseTrainer exists; and the check that every size handed to it fits its
integer type."""
from __future__ import annotations

import gc
import weakref
from types import ModuleType

import numpy as np

from ._dispatch import _dense, _train
from .._validate import choice

def _openblas(package: ModuleType, pattern: str, functions: tuple[str, ...]
              ) -> tuple[int | None, ...] | None:
    """The addresses of `functions` in the OpenBLAS a wheel of `package` ships (in
    <site-packages>/<package>.libs, already loaded by the package: the same library), or None
    when there is no such library or it lacks one of them."""
    import ctypes
    import glob
    import os
    if package.__file__ is None:         # numpy and scipy have one; a namespace package not
        return None
    libs = os.path.join(os.path.dirname(os.path.dirname(package.__file__)),
                        f"{package.__name__}.libs")
    for path in sorted(glob.glob(os.path.join(libs, pattern))):
        try:
            lib = ctypes.CDLL(path)
            return tuple(ctypes.cast(getattr(lib, f), ctypes.c_void_p).value for f in functions)
        except (OSError, AttributeError):
            continue
    return None


def _numpy_openblas() -> tuple[int | None, ...] | None:
    """(sgemm, dgemm) addresses in NumPy's own OpenBLAS (the ILP64 scipy-openblas64 build that
    NumPy's wheels ship), or None when this NumPy has no such library."""
    return _openblas(np, "libscipy_openblas64_*", ("scipy_sgemm_64_", "scipy_dgemm_64_"))


def _thread_setting(blas: str) -> tuple[int | None, ...]:
    """(set, get) addresses of the thread setting of the OpenBLAS that `blas` ("numpy" or
    "scipy") is, or (0, 0) when it is another BLAS."""
    if blas == "numpy":
        found = _openblas(np, "libscipy_openblas64_*", ("scipy_openblas_set_num_threads64_",
                                                        "scipy_openblas_get_num_threads64_"))
    else:
        import scipy
        found = _openblas(scipy, "libscipy_openblas*", ("scipy_openblas_set_num_threads",
                                                        "scipy_openblas_get_num_threads"))
    return found or (0, 0)


BLAS_CHOICES = ("auto", "numpy", "scipy")
# the DenseTrainers alive (refnn.kernels.trainer): each holds a step that runs gemm
TRAINERS: weakref.WeakSet[object] = weakref.WeakSet()


def use_blas(which: str = "auto") -> str:
    """Choose the BLAS of the kernels' matrix products: "numpy" (NumPy's OpenBLAS, the one
    NumPy's own @ uses, 64-bit sizes), "scipy" (scipy.linalg.cython_blas, 32-bit sizes) or
    "auto" (numpy when found). The environment variable REFNN_BLAS sets it at import. Returns
    the name in use. Refused while a DenseTrainer exists: a step running in another thread
    must not see the library change under it."""
    which = choice("blas", which, BLAS_CHOICES)
    if TRAINERS:
        gc.collect()                 # a trainer kept only by a reference cycle is not alive
    alive = len(TRAINERS)
    if alive:
        raise RuntimeError(f"use_blas({which!r}) refused: {alive} DenseTrainer(s) exist (a "
                           f"model's fit may be running); choose the BLAS before training")
    found = _numpy_openblas() if which in ("auto", "numpy") else None
    if which == "numpy" and found is None:
        raise ValueError("NumPy's OpenBLAS was not found (this NumPy is built another way); "
                         "use 'scipy'")
    for module in (_dense, _train):
        module.use_blas(*(found or (0, 0)))
    global BLAS, BLAS_INT_MAX
    BLAS = "numpy" if found else "scipy"
    _train.limit_blas(*_thread_setting(BLAS))        # one record, _train's, for every module
    _dense.share_blas_limit(_train.blas_limit_address())
    BLAS_INT_MAX = 2 ** 63 - 1 if found else 2 ** 31 - 1     # the BLAS's integer type
    return BLAS


def _blas_from_environment() -> str:
    """use_blas(REFNN_BLAS); an unknown value is named in a warning and "auto" is used, so that
    `import refnn` still works."""
    import os
    import warnings
    wanted = os.environ.get("REFNN_BLAS", "auto")
    if wanted not in BLAS_CHOICES:
        warnings.warn(f"REFNN_BLAS={wanted!r} is not one of {', '.join(BLAS_CHOICES)}; "
                      f"using 'auto'", RuntimeWarning, stacklevel=3)
        wanted = "auto"
    try:
        return use_blas(wanted)
    except ValueError as e:
        warnings.warn(f"REFNN_BLAS={wanted!r}: {e}; using 'scipy'", RuntimeWarning, stacklevel=3)
        return use_blas("scipy")


BLAS: str                       # "numpy" or "scipy"
BLAS_INT_MAX: int               # the BLAS's largest matrix size
_blas_from_environment()        # sets both


MAX_THREADS = _train.MAX_THREADS      # refnn's threads in one step, at most


def user_blas_threads() -> int:
    """The BLAS's own thread setting as the user has it (refnn's steps set 1 while they run and
    put it back), or 0 when the BLAS is not one refnn can steer."""
    return _train.blas_user_threads()


def check_blas_sizes(**sizes: int) -> None:
    """Every matrix size passed to the BLAS fits its integer type (32 bits for scipy's)."""
    for name, n in sizes.items():
        if n > BLAS_INT_MAX:
            raise ValueError(f"{name} is {n}, more than the {BLAS} BLAS's largest matrix size "
                             f"{BLAS_INT_MAX}; use smaller batches or layers")
