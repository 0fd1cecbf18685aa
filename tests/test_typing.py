"""The public API's type hints: present on every public callable of the annotated modules, and
read by a type checker (mypy) as a user's code meets them.

mypy runs on small user-style files with refnn's own modules followed silently (as for an
installed package: their insides are not the user's errors); what the user's code is told about
refnn's names is compared with the hints, and a wrong call must be reported."""
import importlib
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

# the modules whose hints are complete (the others gain theirs module by module)
ANNOTATED = ["refnn.layers", "refnn.optimizers", "refnn.activations", "refnn.units",
             "refnn.textbook", "refnn.networks", "refnn.preprocessing", "refnn.utils",
             "refnn.datasets", "refnn.saving", "refnn.plotting", "refnn.reference",
             "refnn.sklearn", "refnn.export", "refnn.update_rules", "refnn.contender",
             "refnn.gradcheck_report", "refnn.terminal"]


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


def test_every_public_callable_of_the_annotated_modules_has_hints():
    # the private modules holding public classes (refnn.sklearn._mlp, refnn.export._onnx)
    # count too: their classes and functions are what the public names are
    annotated, total, missing = coverage(modules_under(ANNOTATED, public_only=False))
    assert total > 200
    assert not missing, f"{annotated} of {total} annotated; without hints: {missing}"


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
