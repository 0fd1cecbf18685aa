"""Which build of the compiled kernels runs here: the one module that imports them.

The default build is portable (it assumes nothing beyond the baseline instruction set, SSE2
on x86-64) and, on x86-64, builds every module a second time for the x86-64-v3 level (AVX2,
FMA, BMI1/2, F16C, LZCNT, MOVBE), as refnn._avx2.<name> (setup.py). The import below takes
the fastest build this CPU can run; both builds compute the same formulas
(tests/test_dispatch.py holds them to each other).

REFNN_CPU chooses by hand: "baseline" the portable build, "avx2" the AVX2 build (an error if
the CPU or the build lacks it), "auto" (the default) the best available. A host-tuned build
(REFNN_NATIVE=1 at build time) has no variants, so it is always the one loaded.
"""
import importlib
import os

from .. import COMPILED, MissingExtensionError, _compiled, _sources

# variant: (its package under refnn, the CPU features it needs as NumPy names them)
VARIANTS = {"avx2": ("_avx2", ("AVX", "AVX2", "FMA3", "F16C", "BMI", "BMI2", "LZCNT", "MOVBE"))}
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


def supports(variant, features=None):
    """Whether this CPU can run `variant`'s build."""
    features = cpu_features() if features is None else features
    return all(features.get(name, False) for name in VARIANTS[variant][1])


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
    for variant, (package, needs) in VARIANTS.items():
        if requested not in ("auto", variant):
            continue
        if not supports(variant, features):
            if requested == variant:
                raise ImportError(f"REFNN_CPU={variant}: this CPU lacks "
                                  f"{' or '.join(needs)}; use REFNN_CPU=baseline or auto")
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
