"""refnn: a gradient-checked reference implementation of feed-forward neural networks.

The hot kernels are compiled C (Cython, src_c/), reached only through refnn.kernels; above
them, refnn.textbook follows the lecture's backpropagation step by step, and refnn.gradcheck
proves every gradient against central finite differences.
"""
__version__ = "0.1.0"

from . import kernels, textbook
from .gradcheck import GradcheckReport, check_function, gradcheck

__all__ = ["kernels", "textbook", "gradcheck", "check_function", "GradcheckReport",
           "__version__"]
