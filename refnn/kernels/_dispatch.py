"""Which build of the compiled kernels runs here: the one module that imports them.

The default build is portable (it assumes nothing beyond the baseline instruction set, SSE2
on x86-64) and, on x86-64, builds every module twice more (setup.py): for the x86-64-v3 level
(AVX2, FMA, BMI1/2, F16C, LZCNT, MOVBE) as refnn._avx2.<name>, and for the x86-64-v4 level
(that and AVX-512 F, CD, BW, DQ, VL) as refnn._avx512.<name>. The import below takes the
fastest build this CPU can run; all builds compute the same formulas (tests/test_dispatch.py
holds each to the baseline).

REFNN_CPU chooses by hand: "baseline" the portable build, "avx2" or "avx512" that build (an
error if the CPU or the build lacks it), "auto" (the default) the best available. A host-tuned
build (REFNN_NATIVE=1 at build time) has no variants, so it is always the one loaded.
"""
import importlib
import os

from .. import COMPILED, MissingExtensionError, _compiled, _sources

# variant: (its package under refnn, the CPU features it needs as NumPy names them), the best
# first: "auto" takes the first one the CPU supports and the build has
X86_64_V3 = ("AVX", "AVX2", "FMA3", "F16C", "BMI", "BMI2", "LZCNT", "MOVBE")
X86_64_V4 = X86_64_V3 + ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL")
VARIANTS = {"avx512": ("_avx512", X86_64_V4), "avx2": ("_avx2", X86_64_V3)}
CHOICES = ("auto", "baseline", *VARIANTS)


def cpu_features():
    """{feature: bool} of this CPU and operating system, as NumPy detected them at import
    (NumPy checks that the OS saves the AVX registers too); empty where NumPy does not say."""
    for where in ("numpy._core._multiarray_umath", "numpy.core._multiarray_umath"):
        try:
            return dict(importlib.import_module(where).__cpu_features__)
        except (ImportError, AttributeError):
            continue
    return {}


def lacks(variant, features=None):
    """The features `variant`'s build needs that this CPU (or `features`) does not report."""
    features = cpu_features() if features is None else features
    return [name for name in VARIANTS[variant][1] if not features.get(name, False)]


def supports(variant, features=None):
    """Whether this CPU can run `variant`'s build."""
    return not lacks(variant, features)


def _load(package):
    """{name: module} of one build: refnn.<name>, or refnn.<package>.<name>."""
    if package is None:
        return {name: _compiled(name) for name in COMPILED}
    return {name: importlib.import_module(f"refnn.{package}.{name}") for name in COMPILED}


def choose(requested=None, features=None):
    """(variant, {name: module}): the build REFNN_CPU (or `requested`) asks for."""
    requested = os.environ.get("REFNN_CPU", "auto") if requested is None else requested
    requested = requested.strip().lower() or "auto"
    if requested not in CHOICES:
        raise ImportError(f"REFNN_CPU must be one of {', '.join(CHOICES)}, got {requested!r}")
    if requested == "baseline":
        return "baseline", _load(None)
    for variant, (package, _) in VARIANTS.items():
        if requested not in ("auto", variant):
            continue
        missing = lacks(variant, features)
        if missing:
            if requested == variant:
                raise ImportError(f"REFNN_CPU={variant}: this CPU lacks {', '.join(missing)}; "
                                  f"use REFNN_CPU=baseline or auto")
            continue
        try:
            return variant, _load(package)
        except ModuleNotFoundError:
            if requested == variant:
                raise ImportError(f"REFNN_CPU={variant}: this build has no {variant} variant "
                                  f"(a host-tuned or debug build has none)") from None
    return "baseline", _load(None)


class StaleExtensionError(MissingExtensionError):
    """The compiled extensions in this source tree were built from other sources."""


def check_fresh():
    """StaleExtensionError when this source tree's extensions were not built from its src_c/
    (refnn/_sources.py); REFNN_ALLOW_STALE=1 skips the check."""
    if os.environ.get("REFNN_ALLOW_STALE", "") not in ("", "0"):
        return
    why = _sources.staleness()
    if why is not None:
        raise StaleExtensionError(
            f"refnn's compiled extensions are stale ({why}): rebuild them with `pip install -e "
            f".` or `python setup.py build_ext --inplace` (REFNN_ALLOW_STALE=1 imports them "
            f"anyway)")


check_fresh()
VARIANT, _modules = choose()
_activations = _modules["_activations"]
_dense = _modules["_dense"]
_losses = _modules["_losses"]
_optimizers = _modules["_optimizers"]
_textbook = _modules["_textbook"]
_train = _modules["_train"]
