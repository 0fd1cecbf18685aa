"""The project's fuzzers (tests/fuzz/fuzz_*.py, hypothesis properties), each run in a child
process, so that a crash (a signal, an abort of a sanitizer build) fails this test with the
child's output instead of ending the test run.

    fuzz_kernels   refnn.kernels against the NumPy twins: shapes, dtypes, layouts, strides,
                   misalignment, aliasing, special values
    fuzz_model     random calls of the model API: refused calls leave the model unchanged
    fuzz_files     crafted model, IDX and CSV files: the documented error within 64 MiB
    fuzz_cli       random command lines: a result, or one line and exit status 2

Quick and reproducible by default (a few hundred examples per property, derandomised); with
REFNN_LONG_TESTS=1 each property draws REFNN_FUZZ_EXAMPLES fresh examples (default 2,000)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

FUZZ = Path(__file__).resolve().parent / "fuzz"
ROOT = FUZZ.parent.parent


@pytest.mark.parametrize("target", sorted(p.stem for p in FUZZ.glob("fuzz_*.py")))
def test_fuzzer_finds_no_problem(target):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
        OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env.pop("REFNN_TRACEBACK", None)
    long = os.environ.get("REFNN_LONG_TESTS") == "1"
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-W", "ignore::DeprecationWarning", str(FUZZ / f"{target}.py")],
                          cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=6 * 3600 if long else 900)
    how = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
           else f"exited with {proc.returncode}")
    assert proc.returncode == 0, f"{target} {how}:\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert " passed" in proc.stdout.splitlines()[-1] and "failed" not in proc.stdout
