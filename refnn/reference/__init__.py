"""Pure-Python and NumPy twins of every kernel; the oracles; they never call compiled code.

refnn.reference.pure        plain loops over Python floats, the `math` module only
refnn.reference.vectorized  the same functions and argument names, in vectorized NumPy
refnn.reference.training    FitOracle: mini-batch training as Sequential.fit does it, composed
                            of the NumPy twins and Keras's update rules, written to be obviously
                            right (the fast NumPy contender of the benchmarks is refnn.contender)

They import nothing of refnn but each other and refnn.activations (the table of activations,
plain Python), so they work in a tree whose compiled modules are missing or broken.
"""
from . import pure, vectorized

__all__ = ["pure", "vectorized"]
