"""refnn: a gradient-checked reference implementation of feed-forward neural networks.

The hot kernels are compiled C (Cython, src_c/), reached only through refnn.kernels; above
them, refnn.textbook follows the lecture's backpropagation step by step, the Keras-style
Sequential model trains networks of layers with the usual losses and optimizers, and
refnn.gradcheck proves every gradient against central finite differences.
"""
__version__ = "0.1.0"

from . import callbacks, datasets, kernels, layers, losses, metrics, optimizers, textbook, utils
from .gradcheck import GradcheckReport, check_function, gradcheck
from .model import Sequential, load_model

__all__ = ["Sequential", "load_model", "gradcheck", "check_function", "GradcheckReport",
           "kernels", "textbook", "layers", "losses", "metrics", "optimizers", "callbacks",
           "datasets", "utils", "__version__"]
