"""Pure-Python and NumPy twins of every kernel; the oracles; they never call compiled code.

refnn.reference.pure        plain loops over Python floats, the `math` module only
refnn.reference.vectorized  the same functions and argument names, in vectorized NumPy
"""
from . import pure, vectorized

__all__ = ["pure", "vectorized"]
