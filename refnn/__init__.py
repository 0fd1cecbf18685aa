"""refnn: a gradient-checked reference implementation of feed-forward neural networks.

The hot kernels are compiled C (Cython, src_c/), reached only through refnn.kernels; above
them, refnn.textbook follows the lecture's backpropagation step by step, the Keras-style
Sequential model trains networks of layers with the usual losses and optimizers, and
refnn.gradcheck proves every gradient against central finite differences.

The package imports its parts when they are first used (PEP 562), not here: the twins in
refnn.reference and the table of refnn.activations are pure Python and must import in a tree
whose compiled modules are missing, which is exactly when they are needed. `refnn.Sequential`,
`from refnn import load_model`, `refnn.layers` and the other names of __all__ work as before;
the first of them that needs the compiled modules raises MissingExtensionError, an ImportError
that says what to run, when the build is missing.
"""
import importlib

# gradcheck is pure Python and NumPy; imported here so that the name refnn.gradcheck is always
# the function, never the submodule the import system would bind over it on a later import
from .gradcheck import GradcheckReport, check_function, gradcheck

__version__ = "0.1.0"

# the compiled extensions, built from src_c/*.pyx; refnn.kernels is the one module importing them
COMPILED = ("_activations", "_dense", "_losses", "_optimizers", "_textbook", "_train")

_SUBMODULES = ("kernels", "textbook", "layers", "losses", "metrics", "optimizers", "callbacks",
               "datasets", "utils")
_FROM_MODULE = {"Sequential": "model", "load_model": "model",    # name -> the module defining it
                "NonFiniteError": "_validate", "TrainingDivergedError": "_validate",
                "set_num_threads": "kernels.threads", "get_num_threads": "kernels.threads",
                "num_threads": "kernels.threads"}

__all__ = ["Sequential", "load_model", "gradcheck", "check_function", "GradcheckReport",
           "NonFiniteError", "TrainingDivergedError", "set_num_threads", "get_num_threads",
           "num_threads", *_SUBMODULES, "__version__"]


class MissingExtensionError(ImportError):
    """refnn's compiled extensions (refnn/_*.so, built from src_c/) are not in this tree."""


def _compiled(name):
    """refnn.<name>, a compiled extension; MissingExtensionError, saying what to run, when the
    build is missing (the error `from . import _dense` in refnn.kernels then raises)."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"{__name__}.{name}":
            raise                               # the extension is there; something it needs is not
        raise MissingExtensionError(
            f"refnn's compiled extensions are missing (no module {error.name}): build them "
            f"from the source tree with `pip install -e .` or `python setup.py build_ext "
            f"--inplace`. refnn.reference and refnn.activations work without them.") from None


def __getattr__(name):
    """PEP 562: a public name or submodule, imported on first use."""
    if name in _SUBMODULES:
        value = importlib.import_module(f"{__name__}.{name}")
    elif name in _FROM_MODULE:
        value = getattr(importlib.import_module(f"{__name__}.{_FROM_MODULE[name]}"), name)
    elif name in COMPILED:
        value = _compiled(name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
