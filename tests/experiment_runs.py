"""Quick runs of the theory lab's experiments, each computed once per test session and shared
by the experiment tests (tests/test_experiments*.py)."""
import pytest

from refnn import experiments
from refnn.experiments import _common

NEEDS_FASHION_MNIST = ("double_descent", "lottery_ticket", "flatness")

_cache = {}


def fashion_mnist_installed():
    try:
        _common._fashion_mnist_uint8()
    except FileNotFoundError:
        return False
    return True


def quick(name):
    """experiments.run(name, quick=True, seed=0), once; skipped (saying why) for the
    experiments calibrated on Fashion-MNIST when it is not installed."""
    if name in NEEDS_FASHION_MNIST and not fashion_mnist_installed():
        pytest.skip(f"{name}'s quick run is calibrated on Fashion-MNIST, which is not installed "
                    "(apt-get install dataset-fashion-mnist, or set REFNN_DATA)")
    if name not in _cache:
        _cache[name] = experiments.run(name, quick=True, seed=0)
    return _cache[name]


def plain(value):
    """Only plain Python values: bool, int, float, str, None, and lists / dicts of them."""
    if isinstance(value, (bool, int, float, str)) or value is None:
        return True
    if isinstance(value, list):
        return all(plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and plain(v) for k, v in value.items())
    return False


QUICK_SEEDS = (0, 1, 2)
_swept = {}


def quick_seeds(name):
    """experiments.sweep.run(name, quick=True, seeds=QUICK_SEEDS), once per test session: the
    mean and 95 % interval over three seeds that the phenomenon tests assert on (skipped as
    quick() is, for the experiments calibrated on Fashion-MNIST when it is absent)."""
    from refnn.experiments import sweep
    if name in NEEDS_FASHION_MNIST and not fashion_mnist_installed():
        pytest.skip(f"{name}'s quick run is calibrated on Fashion-MNIST, which is not installed "
                    "(apt-get install dataset-fashion-mnist, or set REFNN_DATA)")
    if name not in _swept:
        _swept[name] = sweep.run(name, quick=True, seeds=QUICK_SEEDS)
    return _swept[name]
