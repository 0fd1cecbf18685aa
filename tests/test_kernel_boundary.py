"""The boundary's promise: nothing unchecked reaches C. Calls that used to reach the nogil loops
unchecked (the removed `trusted=True` path) now fail with a clear error, in a fresh process so
that a crash would show as a signal rather than kill the test run."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(code):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, env=env, timeout=120)


@pytest.mark.parametrize("extra, error, message", [
    ("", "ValueError", "grad must have the shape of w, (50000000,), got (1,)"),
    (", trusted=True", "TypeError", "unexpected keyword argument 'trusted'"),
])
def test_a_mismatched_update_is_a_clear_error_not_a_crash(extra, error, message):
    result = _run(f"""
        import numpy as np
        from refnn import kernels
        try:
            kernels.sgd_update(np.zeros(50_000_000), np.ones(1), 0.1{extra})
        except Exception as e:
            print(type(e).__name__, e)
    """)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(error) and message in result.stdout, result.stdout


def test_optimizers_have_no_unchecked_apply():
    import refnn.optimizers as optimizers
    for cls in optimizers.OPTIMIZERS.values():
        assert not hasattr(cls, "apply_trusted"), cls
