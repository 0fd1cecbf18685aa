"""The portable build and the run-time choice of the AVX2 and AVX-512 builds
(refnn/kernels/_dispatch.py).

Oracles: the baseline build for the others (the same formulas, float64 to 1e-12), the
disassembly of the modules for what each build may use (the baseline names no AVX register,
the AVX2 build no AVX-512 one), NumPy's own CPU detection for which build may load.
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
# the variants this build has and this CPU runs, the best first (as "auto" tries them)
RUNNABLE = [v for v, (package, _) in _dispatch.VARIANTS.items()
            if any((ROOT / package).glob("_train*.so")) and _dispatch.supports(v)]
needs_avx2 = pytest.mark.skipif(
    "avx2" not in RUNNABLE,
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
def test_the_best_build_the_cpu_runs_is_chosen_and_every_build_agrees_with_the_baseline():
    base = run_build("baseline")
    assert (base["variant"], base["module"]) == ("baseline", "refnn._train")
    assert run_build("auto")["variant"] == RUNNABLE[0]
    for variant in RUNNABLE:
        fast = run_build(variant)
        package = _dispatch.VARIANTS[variant][0]
        assert (fast["variant"], fast["module"]) == (variant, f"refnn.{package}._train")
        for dtype, rtol in (("float64", 1e-12), ("float32", 1e-5)):
            for key in ("weights_", "kernels_"):
                for a, b in zip(base[key + dtype], fast[key + dtype]):
                    np.testing.assert_allclose(np.array(b), np.array(a), rtol=rtol, atol=rtol)


def registers(path, pattern):
    """How many operands in the disassembly of the compiled module at `path` name a register
    that matches `pattern` (without the %)."""
    text = subprocess.run(["objdump", "-d", "--no-show-raw-insn", str(path)],
                          capture_output=True, text=True, check=True).stdout
    return len(re.findall("%" + pattern + r"\b", text))


AVX = r"[yz]mm\d+"                              # AVX's 256-bit registers or AVX-512's
AVX512 = r"(zmm\d+|[xy]mm(1[6-9]|2\d|3[01])|k[1-7])"   # only AVX-512 names these


@needs_avx2
@pytest.mark.skipif(shutil.which("objdump") is None, reason="objdump (binutils) is not installed")
def test_each_build_holds_the_instructions_of_its_level_and_none_above():
    baseline = sorted(ROOT.glob("_*.so"))
    assert len(baseline) == len(refnn.COMPILED)
    assert [registers(p, AVX) for p in baseline] == [0] * len(baseline)
    avx2 = sorted((ROOT / "_avx2").glob("_*.so"))
    assert {p.name for p in avx2} == {p.name for p in baseline}
    assert [registers(p, AVX512) for p in avx2] == [0] * len(avx2)
    # the checks can fail: each AVX2 module does use AVX registers, each AVX-512 module
    # AVX-512 ones
    assert all(registers(p, AVX) > 0 for p in avx2)
    avx512 = sorted((ROOT / "_avx512").glob("_*.so"))
    assert {p.name for p in avx512} == {p.name for p in baseline}
    assert all(registers(p, AVX512) > 0 for p in avx512)


def test_a_cpu_without_avx2_gets_the_baseline_and_asking_for_avx2_there_is_refused():
    v3 = dict.fromkeys(_dispatch.VARIANTS["avx2"][1], True)
    assert _dispatch.supports("avx2", v3)
    no_avx2 = dict(v3, AVX2=False, FMA3=False)
    assert not _dispatch.supports("avx2", no_avx2)
    assert not _dispatch.supports("avx512", dict(no_avx2, AVX512F=True, AVX512CD=True,
                                                 AVX512BW=True, AVX512DQ=True, AVX512VL=True))
    assert _dispatch.choose("auto", no_avx2)[0] == "baseline"
    with pytest.raises(ImportError, match="REFNN_CPU=avx2: this CPU lacks AVX2, FMA3; use"):
        _dispatch.choose("avx2", no_avx2)
    # NumPy not saying is treated as not having the features
    assert _dispatch.choose("auto", {})[0] == "baseline"


@needs_avx2
def test_a_cpu_with_avx2_but_not_all_of_avx512_gets_the_avx2_build():
    v4 = dict.fromkeys(_dispatch.VARIANTS["avx512"][1], True)
    assert _dispatch.supports("avx512", v4)
    for name in ("AVX512F", "AVX512CD", "AVX512BW", "AVX512DQ", "AVX512VL"):
        assert not _dispatch.supports("avx512", dict(v4, **{name: False}))
    v3_only = dict(v4, AVX512BW=False, AVX512VL=False)   # e.g. Knights Landing: F and CD only
    variant, modules = _dispatch.choose("auto", v3_only)
    assert variant == "avx2" and modules["_train"].__name__ == "refnn._avx2._train"
    with pytest.raises(ImportError,
                       match="REFNN_CPU=avx512: this CPU lacks AVX512BW, AVX512VL; use"):
        _dispatch.choose("avx512", v3_only)


def test_refnn_cpu_names_its_choices():
    with pytest.raises(ImportError,
                       match="REFNN_CPU must be one of auto, baseline, avx512, avx2, got 'sse9'"):
        _dispatch.choose("sse9")
    variant, modules = _dispatch.choose("BASELINE")
    assert variant == "baseline" and modules["_dense"] is refnn._dense


def test_numpy_reports_the_features_the_choice_reads():
    features = _dispatch.cpu_features()
    if sys.platform == "linux" and os.uname().machine == "x86_64":
        assert features.get("SSE2") is True      # every x86-64 CPU has SSE2
        flags = Path("/proc/cpuinfo").read_text().split()
        assert features.get("AVX2", False) == ("avx2" in flags)
        assert features.get("AVX512F", False) == ("avx512f" in flags)


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
