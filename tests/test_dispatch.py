"""The portable build and the run-time choice of the AVX2 build (refnn/kernels/_dispatch.py).

Oracles: the baseline build for the AVX2 one (the same formulas, float64 to 1e-12), the
disassembly of the baseline modules for "portable" (no AVX register is ever named), NumPy's
own CPU detection for which build may load.
"""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import refnn
from refnn.kernels import _dispatch

ROOT = Path(refnn.__file__).parent
HAS_AVX2_BUILD = any((ROOT / "_avx2").glob("_train*.so"))
needs_avx2 = pytest.mark.skipif(
    not (HAS_AVX2_BUILD and _dispatch.supports("avx2")),
    reason="this build or this CPU has no AVX2 variant (host-tuned, debug or non-x86 build)")

# One training run and a few kernels, printed as JSON: run once per build, compared here.
SCRIPT = r"""
import json, sys
import numpy as np
import refnn
from refnn import kernels as K
from refnn.kernels import _dispatch
out = {"variant": _dispatch.VARIANT, "module": _dispatch._train.__name__}
for dtype in ("float64", "float32"):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20)).astype(dtype)
    y = rng.integers(0, 4, 300)
    model = refnn.Sequential([refnn.layers.Dense(32, activation="tanh"),
                              refnn.layers.Dense(16, activation="sigmoid"),
                              refnn.layers.Dense(4, activation="softmax")], seed=1,
                             dtype=dtype)
    model.compile("sparse_categorical_crossentropy", optimizer="adam")
    model.fit(X, y, epochs=3, batch_size=50, verbose=0)
    out["weights_" + dtype] = [w.tolist() for w in model.get_weights()]
    h = rng.normal(size=(64, 33)).astype(dtype) * 4
    out["kernels_" + dtype] = [K.activation_forward(h, a).tolist()
                               for a in ("sigmoid", "tanh", "softmax", "relu")]
print(json.dumps(out))
"""


def run_build(cpu):
    env = dict(os.environ, REFNN_CPU=cpu, PYTHONPATH=str(ROOT.parent))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@needs_avx2
def test_the_avx2_build_is_chosen_where_the_cpu_has_it_and_agrees_with_the_baseline():
    base, fast = run_build("baseline"), run_build("auto")
    assert (base["variant"], base["module"]) == ("baseline", "refnn._train")
    assert (fast["variant"], fast["module"]) == ("avx2", "refnn._avx2._train")
    for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
        for key in ("weights_", "kernels_"):
            for a, b in zip(base[key + dtype], fast[key + dtype]):
                np.testing.assert_allclose(np.array(b), np.array(a), rtol=rtol, atol=rtol)


def avx_registers(path):
    """How many instructions of the compiled module at `path` name a ymm or zmm register."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)],
                          capture_output=True, text=True, check=True).stdout
    return len(re.findall(r"%[yz]mm\d", text))


@needs_avx2
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_the_baseline_modules_hold_no_avx_instruction():
    baseline = sorted(ROOT.glob("_*.so"))
    variants = sorted((ROOT / "_avx2").glob("_*.so"))
    assert len(baseline) == len(variants) == len(refnn.COMPILED)
    assert {p.name for p in baseline} == {p.name for p in variants}
    assert [avx_registers(p) for p in baseline] == [0] * len(baseline)
    # the check can fail: the AVX2 build's modules do use those registers
    assert all(avx_registers(p) > 0 for p in variants)


def test_a_cpu_without_avx2_gets_the_baseline_and_asking_for_avx2_there_is_refused():
    v3 = dict.fromkeys(_dispatch.VARIANTS["avx2"][1], True)
    assert _dispatch.supports("avx2", v3)
    no_avx2 = dict(v3, AVX2=False)
    assert not _dispatch.supports("avx2", no_avx2)
    assert _dispatch.choose("auto", no_avx2)[0] == "baseline"
    with pytest.raises(ImportError, match="REFNN_CPU=avx2: this CPU lacks AVX or AVX2 or FMA3"):
        _dispatch.choose("avx2", no_avx2)
    # NumPy not saying is treated as not having the features
    assert _dispatch.choose("auto", {})[0] == "baseline"


def test_refnn_cpu_names_its_choices():
    with pytest.raises(ImportError,
                       match="REFNN_CPU must be one of auto, baseline, avx2, got 'sse9'"):
        _dispatch.choose("sse9")
    variant, modules = _dispatch.choose("BASELINE")
    assert variant == "baseline" and modules["_dense"] is refnn._dense


def test_numpy_reports_the_features_the_choice_reads():
    features = _dispatch.cpu_features()
    if sys.platform == "linux" and os.uname().machine == "x86_64":
        assert features.get("SSE2") is True      # every x86-64 CPU has SSE2
        flags = Path("/proc/cpuinfo").read_text().split()
        assert features.get("AVX2", False) == ("avx2" in flags)


def test_stale_extensions_are_refused_with_what_to_run(tmp_path, monkeypatch):
    """An in-place build records the digest of src_c/ it compiled (refnn/_sources.py); edited
    or checked-out sources, or no record, make the import stop and say what to run."""
    from refnn import _sources
    from refnn.kernels import _dispatch
    src = tmp_path / "src_c"
    src.mkdir()
    (src / "_train.pyx").write_text("# the step\n")
    (src / "_core.pxd").write_text("# a core\n")
    stamp = tmp_path / "stamp.json"
    assert _sources.staleness(stamp, src) is None          # nothing built: "missing" instead
    (tmp_path / "_train.cpython-311-x86_64-linux-gnu.so").write_bytes(b"")
    assert _sources.staleness(stamp, src) == "no record of the sources they were built from"
    _sources.write_stamp(stamp, src)
    assert _sources.staleness(stamp, src) is None
    (src / "_core.pxd").write_text("# a core, edited\n")
    assert _sources.staleness(stamp, src) == "src_c/ changed since they were built"
    assert _sources.staleness(stamp, tmp_path / "nowhere") is None      # an installed package
    monkeypatch.setattr(_sources, "staleness", lambda: "src_c/ changed since they were built")
    with pytest.raises(ImportError, match=r"stale \(src_c/ changed since they were built\): "
                                          r"rebuild them with `pip install -e \.`"):
        _dispatch.check_fresh()
    monkeypatch.setenv("REFNN_ALLOW_STALE", "1")
    _dispatch.check_fresh()


def test_this_trees_extensions_were_built_from_its_sources():
    from refnn import _sources
    assert _sources.staleness() is None
