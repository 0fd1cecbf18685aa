"""Fixtures shared by the test files.

tol        the relative tolerance of a result computed along another path of floating-point
           operations than its oracle, by dtype: {np.float32: 2e-5, np.float64: 1e-12}
rng        a seeded NumPy generator (seed 0), fresh for each test
"""
import numpy as np
import pytest

TOL = {np.float32: 2e-5, np.float64: 1e-12}


@pytest.fixture
def tol():
    return dict(TOL)


@pytest.fixture
def rng():
    return np.random.default_rng(0)
