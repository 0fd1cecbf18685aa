"""The boundary's promise: nothing unchecked reaches C. Calls that used to reach the nogil loops
unchecked (the removed `trusted=True` path) now fail with a clear error, in a fresh process so
that a crash would show as a signal rather than kill the test run."""
import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from refnn import update_rules

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


# ---------------------------------------------------------------- declarations held together
def test_activation_codes_are_the_compiled_enum():
    """refnn/activations.py declares each activation's code; src_c/_core.pxd's enum must agree."""
    from refnn import _activations, activations
    assert _activations.ACTIVATION_CODES == activations.CODES


def test_each_declared_rule_is_the_compiled_rule():
    from refnn import _optimizers
    from refnn.update_rules import RULES
    for rule in RULES.values():
        assert _optimizers.rule_signature(rule.code) == (
            len(rule.scalars), rule.required, len(rule.slots) - rule.required), rule.name
    assert _optimizers.rule_signature(max(r.code for r in RULES.values()) + 1) is None


def test_a_rule_declared_unlike_the_compiled_one_is_refused(monkeypatch):
    from refnn.kernels import updates
    from refnn.update_rules import RULES, Rule
    bad = Rule("adam2", RULES["adam"].code, "", ("momentum", "velocity"), 2,
               RULES["adam"].scalars)                 # the compiled rule has an optional slot
    monkeypatch.setattr(updates, "RULES", {"adam2": bad})
    with pytest.raises(ImportError, match=r"'adam2'.*declares.*\(4, 2, 0\).*takes \(4, 2, 1\)"):
        updates._check_rules()


# ---------------------------------------------------------------- the one rule entry point
@pytest.mark.parametrize("args, error, match", [
    (("adamw", [], (0.1,)), ValueError, "unknown rule 'adamw'; valid: adagrad, adam, adamax"),
    (("adam", [None, "v"], (0.1, 0.9, 0.999, 1e-7)), ValueError,
     "momentum is required by adam, got None"),
    (("adam", ["m"], (0.1, 0.9, 0.999, 1e-7)), ValueError, "slots must hold 2 to 3 arrays"),
    (("adam", ["m", "v"], (0.1, 0.9, 0.999)), ValueError,
     r"scalars must be 4 finite numbers for adam \(alpha, beta_1, beta_2, adam_epsilon\)"),
    (("adam", ["m", "v"], (0.1, 1.0, 0.999, 1e-7)), ValueError,
     r"beta_1 must be in \[0, 1\), got 1.0"),
    (("nadam", ["m", "v"], (0.1, 0.9, 0.999, 1e-7, 0.5, 0.5, float("nan"))), ValueError,
     "v_correction must be a finite number > 0"),
    (("sgd", ["m"], (0.1, 0.9, 2)), ValueError, "nesterov must be 0 or 1"),
    (("adamax", ["m", "v"], (0.1, 0.9, 0.999, "1e-7")), TypeError,
     "adamax_epsilon must be a number"),
])
def test_apply_rule_refuses_bad_calls_and_changes_nothing(args, error, match):
    from refnn import kernels
    rule, slots, scalars = args
    w, g = np.ones((3, 2)), np.full((3, 2), 0.5)
    arrays = {"m": np.full((3, 2), 0.25), "v": np.full((3, 2), 0.25)}
    slots = [arrays.get(s, s) for s in slots]
    with pytest.raises(error, match=match):
        kernels.apply_rule(rule, w, g, slots, scalars)
    assert np.all(w == 1.0) and all(np.all(a == 0.25) for a in arrays.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["nadam", "adamax"])
def test_apply_rule_is_the_optimizers_update(name, dtype):
    """kernels.apply_rule on one array, with the optimizer's scalars, equals its apply()."""
    from refnn import kernels, optimizers
    rng = np.random.default_rng(1)
    w = rng.normal(size=(4, 3)).astype(dtype)
    g = rng.normal(size=(4, 3)).astype(dtype)
    opt = optimizers.get(name)
    opt.build([w])
    rule, slots = opt.fused_rule()
    scalars = opt.fused_scalars()
    mine = w.copy()
    own = [np.zeros_like(w) for _ in slots[0]]
    kernels.apply_rule(rule, mine, g, own, scalars)
    opt.apply([w], [g])
    np.testing.assert_array_equal(mine, w)
    for a, b in zip(own, slots[0]):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- BLAS: chosen once, sizes fit
def test_use_blas_is_refused_while_a_trainer_exists():
    from refnn import kernels
    W = [np.ones((2, 2)), np.zeros(2)]
    trainer = kernels.DenseTrainer(W, np.ones((4, 2)), np.ones((4, 2)), ["linear"],
                                   "mean_squared_error", 2)
    with pytest.raises(RuntimeError, match=r"use_blas\('scipy'\) refused: 1 DenseTrainer"):
        kernels.use_blas("scipy")
    del trainer
    assert kernels.use_blas("auto") == kernels.BLAS


def test_an_unknown_refnn_blas_warns_and_import_still_works():
    env_code = """
        import warnings
        warnings.simplefilter("always")
        with warnings.catch_warnings(record=True) as caught:
            import refnn
            blas = refnn.kernels.BLAS            # refnn imports its kernels on first use
        print(blas)
        print([str(w.message) for w in caught])
    """
    env = {**os.environ, "PYTHONPATH": str(ROOT), "REFNN_BLAS": "mkl"}
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(env_code)],
                            capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[0] in ("numpy", "scipy")
    assert "REFNN_BLAS='mkl' is not one of auto, numpy, scipy; using 'auto'" in result.stdout


def test_sizes_beyond_the_blas_integers_are_refused(monkeypatch):
    """scipy's cython_blas takes 32-bit sizes: a size that does not fit is a clear error (here
    with the limit lowered, so the test need not allocate 2^31 rows)."""
    from refnn import kernels
    from refnn.kernels import blas
    monkeypatch.setattr(blas, "BLAS_INT_MAX", 10)
    W, b = np.ones((3, 2)), np.zeros(2)
    kernels.dense_forward(np.ones((10, 3)), W, b)
    for call in (lambda: kernels.dense_forward(np.ones((11, 3)), W, b),
                 lambda: kernels.dense_backward(np.ones((11, 3)), W, np.ones((11, 2))),
                 lambda: kernels.epsilon_backward(np.ones((11, 2)), W, np.ones((11, 3)), "relu"),
                 lambda: kernels.DenseTrainer([W, b], np.ones((20, 3)), np.ones((20, 2)),
                                              ["linear"], "mean_squared_error", 11)):
        with pytest.raises(ValueError, match=r"is 11, more than the .* largest matrix size 10"):
            call()


# ---------------------------------------------------------------- the twins stand alone
@pytest.mark.parametrize("path", ["refnn/reference/optimizers.py", "refnn/update_rules.py"])
def test_twins_and_declarations_import_nothing_compiled(path):
    """Loaded by file path with every compiled module blocked, they import and work."""
    code = f"""
        import importlib.abc, importlib.util, sys
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.startswith("refnn._") and name != "refnn._validate":
                    raise ImportError("compiled module blocked: " + name)
        sys.meta_path.insert(0, Block())
        import types
        sys.modules["refnn"] = types.ModuleType("refnn")       # no refnn/__init__ (kernels)
        sys.modules["refnn"].__path__ = [{str(ROOT / "refnn")!r}]
        spec = importlib.util.spec_from_file_location("refnn.twin", {str(ROOT / path)!r})
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        print(sorted(n for n in sys.modules if n.startswith("refnn.")))
    """
    result = _run(code)
    assert result.returncode == 0, result.stderr
    assert "kernels" not in result.stdout and "_optimizers" not in result.stdout


def test_nadam_twin_is_its_formula():
    """The twin against its formula at t = 1, by hand (defaults; w = 1, g = 0.5)."""
    from refnn.reference.optimizers import nadam_reference
    (w, slots), = nadam_reference(np.array([1.0]), [np.array([0.5])])
    u_1, u_2 = 0.9 * (1 - 0.5 * 0.96), 0.9 * (1 - 0.5 * 0.96 ** 2)
    m_hat = u_2 * 0.05 / (1 - u_1 * u_2) + (1 - u_1) * 0.5 / (1 - u_1)
    assert w[0] == pytest.approx(1 - 0.001 * m_hat / (np.sqrt(0.00025 / 0.001) + 1e-7),
                                 rel=1e-15)
    assert slots["momentum"][0] == pytest.approx(0.05, rel=1e-15)
    assert slots["velocity"][0] == pytest.approx(0.00025, rel=1e-15)


# out-of-range floats for each kind of scalar: the check's fast path (a tuple of floats, once
# per batch) must refuse exactly what the named checks refuse
BAD_FLOATS = {"positive": (0.0, -1.0, math.inf, math.nan),
              "nonnegative": (-1e-300, math.inf, math.nan),
              "fraction": (1.0, -0.5, math.nan),
              "flag": (0.5, 2.0, math.nan)}


@pytest.mark.parametrize("rule", update_rules.TABLE, ids=lambda r: r.name)
def test_each_scalar_out_of_range_is_refused_by_name(rule):
    good = tuple(0.5 if kind in ("fraction", "positive", "nonnegative") else 1.0
                 for _, kind in rule.scalars)
    assert rule.check_scalars(good) == good
    assert rule.check_scalars(list(good)) == good                 # the named checks' path
    for i, (name, kind) in enumerate(rule.scalars):
        for bad in BAD_FLOATS[kind]:
            values = good[:i] + (bad,) + good[i + 1:]
            with pytest.raises(ValueError, match=name):
                rule.check_scalars(values)
