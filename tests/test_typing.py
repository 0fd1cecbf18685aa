"""The public API's type hints: present on every public callable of the annotated modules, and
read by a type checker (mypy) as a user's code meets them.

mypy runs on small user-style files with refnn's own modules followed silently (as for an
installed package: their insides are not the user's errors); what the user's code is told about
refnn's names is compared with the hints, and a wrong call must be reported."""
import importlib
import importlib.util
import inspect
import os
import pkgutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import refnn

ROOT = Path(refnn.__file__).parent.parent

# the public modules whose hints are not complete yet (each gains its hints, then leaves the list)
NOT_YET_ANNOTATED = []


def modules_under(prefixes, public_only=True):
    """The modules named by prefixes and the modules inside them (importable ones: the optional
    extras' modules are skipped where their library is missing)."""
    names = ["refnn"] if "refnn" in prefixes else []
    for info in pkgutil.walk_packages(refnn.__path__, "refnn."):
        if not any(info.name == p or info.name.startswith(p + ".") for p in prefixes):
            continue
        if public_only and any(part.startswith("_") for part in info.name.split(".")[1:]):
            continue
        names.append(info.name)
    modules = []
    for name in sorted(names):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:            # scikit-learn or onnx not installed
            continue
    return modules


def public_callables(module):
    """(qualified name, function) for each public function the module defines and, for each
    public class it defines, its __init__, __call__ and public methods and properties."""
    for name, obj in vars(module).items():
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj
        elif inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") and attr not in ("__init__", "__call__"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if isinstance(member, property):
                    member = member.fget
                if inspect.isfunction(member):
                    yield f"{module.__name__}.{name}.{attr}", member


def is_annotated(function):
    """Every parameter but self/cls has a hint, and so has the return."""
    signature = inspect.signature(function)
    parameters = list(signature.parameters.values())
    if parameters and parameters[0].name in ("self", "cls"):
        parameters = parameters[1:]
    return (all(p.annotation is not p.empty for p in parameters)
            and signature.return_annotation is not signature.empty)


def coverage(modules):
    """(annotated, total, [names not annotated]) over the modules' public callables."""
    found = [(name, is_annotated(f)) for m in modules for name, f in public_callables(m)]
    missing = [name for name, ok in found if not ok]
    return len(found) - len(missing), len(found), missing


def public_api_modules():
    """refnn's public modules, and the private modules whose names a public module lists in its
    __all__ (refnn.sklearn._mlp, refnn.export._onnx): their classes and functions are what the
    public names are."""
    public = modules_under(["refnn"])
    reexported = {getattr(getattr(m, name, None), "__module__", None)
                  for m in public for name in getattr(m, "__all__", ())}
    private = [importlib.import_module(name) for name in sorted(reexported - {None})
               if name.startswith("refnn.")
               and any(part.startswith("_") for part in name.split(".")[1:])]
    return public + private


def test_every_public_callable_has_hints():
    modules = public_api_modules()
    names = {m.__name__ for m in modules}
    expected = {"refnn.model", "refnn.layers.core"}
    if importlib.util.find_spec("sklearn") is not None:      # the optional extra's estimators
        expected.add("refnn.sklearn._mlp")
    assert expected <= names
    annotated, total, _ = coverage(modules)
    assert total > 600                           # the count reaches the whole API
    missing = coverage([m for m in modules if m.__name__ not in NOT_YET_ANNOTATED])[2]
    assert not missing, f"{annotated} of {total} annotated; without hints: {missing}"


def test_the_modules_not_yet_annotated_still_lack_hints():
    # a module that gained all its hints leaves NOT_YET_ANNOTATED, so that the test above
    # keeps it so
    for name in NOT_YET_ANNOTATED:
        assert coverage([importlib.import_module(name)])[2], f"{name} is annotated now"


def test_the_count_sees_a_missing_hint():
    # the oracle of the test above: a function with one parameter left bare is not annotated
    def half(x: float, y) -> float:
        return x / 2

    def full(x: float, *args: int, **kwargs: str) -> None:
        pass

    assert not is_annotated(half)
    assert is_annotated(full)
    assert not is_annotated(lambda x: x)


def test_the_package_says_it_is_typed():
    assert (ROOT / "refnn" / "py.typed").is_file()


def test_mypy_is_clean_on_the_package(tmp_path):
    # `mypy` in the project's root, with its configuration (pyproject.toml: files = refnn)
    pytest.importorskip("mypy", reason="the type checker is mypy: pip install mypy")
    if not (ROOT / "pyproject.toml").is_file():
        pytest.skip("refnn is installed without its source tree (no pyproject.toml)")
    out = subprocess.run([sys.executable, "-m", "mypy", "--cache-dir",
                          str(tmp_path / "mypy-cache")], cwd=ROOT, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


# --- mypy on a user's code

def run_mypy(tmp_path, source):
    pytest.importorskip("mypy", reason="the type checker is mypy: pip install mypy")
    path = tmp_path / "user_code.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    env = dict(os.environ, MYPYPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-m", "mypy", "--config-file",
                          str(ROOT / "pyproject.toml"), "--follow-imports=silent",
                          "--cache-dir", str(tmp_path / "mypy-cache"), str(path)],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return out.returncode, out.stdout + out.stderr


def test_mypy_reads_the_hints_a_user_meets(tmp_path):
    code, out = run_mypy(tmp_path, """
        import numpy as np

        from refnn.datasets import spirals
        from refnn.layers import Dense
        from refnn.optimizers import Adam
        from refnn.textbook import BackpropNetwork
        from refnn.utils import split, to_categorical

        X, y = spirals(200, noise=0.1, seed=0)
        reveal_type(X)
        (X_a, y_a), (X_b, y_b) = split(X, y, fraction=0.25, seed=0)
        Y = to_categorical(y, 2)
        net = BackpropNetwork([2, 3, 2], seed=0, backend="numpy")
        trace = net.step(X[0], Y[0], eta=0.5)
        reveal_type(trace.E)
        reveal_type(net.fit(X, Y, eta=0.1, epochs=2))
        reveal_type(Dense(4, activation="relu").get_weights())
        reveal_type(Adam(learning_rate=0.01).get_state())
        """)
    assert code == 0, out
    # the spelling varies by version: "builtins.float" or "float"; NumPy's array shape
    # "tuple[Any, ...]" or "Any"
    revealed = [line.split("Revealed type is ")[1].strip('"').replace("builtins.", "")
                .replace("tuple[Any, ...]", "Any")
                for line in out.splitlines() if "Revealed type is" in line]
    array = "numpy.ndarray[Any, numpy.dtype[{}]]"
    assert revealed == [array.format("numpy.float64"), "float", "list[float]",
                        f"list[{array.format('Any')}]", f"list[{array.format('Any')}]"], out

def test_mypy_reports_a_wrong_call(tmp_path):
    code, out = run_mypy(tmp_path, """
        from refnn.layers import Dense
        from refnn.textbook import BackpropNetwork

        net = BackpropNetwork("2-3-1")
        Dense("ten")
        net.step([0.0, 1.0], [1.0], eta="fast")
        """)
    assert code == 1, out
    assert 'Argument 1 to "BackpropNetwork" has incompatible type "str"' in out
    assert 'Argument 1 to "Dense" has incompatible type "str"; expected "int"' in out
    assert 'Argument "eta" to "step" of "BackpropNetwork" has incompatible type "str"' in out
