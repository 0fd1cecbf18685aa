"""The package's layers: the oracles import without the compiled modules, and the imports run
one way, command line -> API -> boundary (refnn.kernels) -> compiled core.

In a copy of the package without its compiled modules (a tree whose build is missing), the twins
and the fit oracle import and compute, and the first use of anything needing the build raises
an ImportError that says what to run. Over the source tree, an import graph read from the ASTs
of refnn/**.py holds the layers: refnn.reference imports nothing compiled and nothing of refnn
outside refnn.reference and refnn.activations; only refnn.kernels imports the compiled
extensions; nothing in the library imports refnn.cli; refnn.kernels imports no higher layer.
"""
import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import refnn

PACKAGE = Path(refnn.__file__).parent
SOURCE = PACKAGE.parent
COMPILED = {f"refnn.{name}" for name in refnn.COMPILED}


# ---------------------------------------------------------------------------------------------
# A tree without the build


@pytest.fixture(scope="module")
def tree_without_build(tmp_path_factory):
    """A copy of refnn's .py files (no compiled modules) in a temporary directory."""
    root = tmp_path_factory.mktemp("no_build")
    shutil.copytree(PACKAGE, root / "refnn",
                    ignore=shutil.ignore_patterns("*.so", "*.pyd", "__pycache__", "*.pyc"))
    assert not [p for p in (root / "refnn").rglob("*") if p.suffix in (".so", ".pyd")]
    return root


# an editable install of refnn (setuptools' __editable__ finder) would supply the modules the
# copied tree lacks from the installed tree: the interpreter below drops that finder first
HIDE_EDITABLE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path
                    if not getattr(f, "__module__", "").startswith("__editable__")]
"""


def run_without_build(root, code):
    """Run `code` in a fresh interpreter that sees only the copied tree; its stdout."""
    env = dict(os.environ, PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1")
    code = HIDE_EDITABLE + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_the_twins_and_the_fit_oracle_import_and_compute_without_the_build(tree_without_build):
    out = run_without_build(tree_without_build, f"""
        import sys
        import numpy as np
        import refnn.reference.pure, refnn.reference.vectorized
        from refnn.reference import pure, vectorized
        from refnn.reference.training import FitOracle
        from refnn.contender import NumpyMLP
        import refnn
        assert refnn.__file__.startswith({str(tree_without_build)!r}), refnn.__file__
        # h = g_prev @ W + b = 1*0.5 + 2*0.25 + 0.125 = 1.125
        print(pure.dense_forward([[1.0, 2.0]], [[0.5], [0.25]], [0.125]))
        print(vectorized.activation_forward(np.array([[0.0]]), "sigmoid")[0, 0])   # 1/(1+1)
        weights = [np.array([[0.5], [-0.25]]), np.array([0.25])]
        for net in (FitOracle(weights, ["linear"], "mse", optimizer="sgd", learning_rate=0.5),
                    NumpyMLP(weights, ["linear"], "mse", optimizer="sgd", learning_rate=0.5)):
            # the worked example of test_reference_training.py: loss 1, dW (1, -3), db 0
            print(net.train_batch([[1.0, 2.0], [2.0, -1.0]], [[1.25], [0.5]]),
                  net.get_weights()[0].ravel().tolist())
        print(sorted(name for name in sys.modules if name.startswith("refnn.")
                     and name.split(".")[1] in refnn.COMPILED))
        """)
    assert out.splitlines() == [
        "[[1.125]]",
        "0.5",
        "1.0 [0.0, 1.25]",                      # W - eta dW = (0.5 - 0.5, -0.25 + 1.5)
        "1.0 [0.0, 1.25]",
        "[]",                                   # nothing compiled was imported, or tried
    ]


NEEDS_THE_BUILD = ["refnn.Sequential", "from refnn import Sequential, load_model",
                   "refnn.kernels", "import refnn.model", "from refnn.layers import Dense",
                   "from refnn.textbook import BackpropNetwork", "import refnn.benchmarking"]


def test_what_needs_the_build_says_so_and_what_to_run(tree_without_build):
    out = run_without_build(tree_without_build, f"""
        import refnn
        for statement in {NEEDS_THE_BUILD!r}:
            try:
                exec(statement if " " in statement else "import refnn; " + statement)
            except ImportError as error:
                print(type(error).__name__, "|", error)
            else:
                print("no error |", statement)
        print(refnn.gradcheck.__module__, refnn.__version__)    # pure Python: still there
        """)
    lines = out.splitlines()
    assert len(lines) == len(NEEDS_THE_BUILD) + 1
    for statement, line in zip(NEEDS_THE_BUILD, lines):
        kind, message = line.split(" | ", 1)
        assert kind == "MissingExtensionError", (statement, line)
        assert "compiled extensions are missing" in message, (statement, line)
        assert "pip install -e ." in message and "python setup.py build_ext --inplace" in message
        assert "circular" not in message and "partially initialized" not in message
    assert lines[-1] == "refnn.gradcheck 0.1.0"


def test_the_command_line_without_the_build_says_so_on_one_line(tree_without_build):
    """python -m refnn (and the refnn script, refnn.__main__:run) in a tree without the build:
    one line naming the cause and what to run, exit status 1, no traceback"""
    env = dict(os.environ, PYTHONPATH=str(tree_without_build), PYTHONDONTWRITEBYTECODE="1")
    code = HIDE_EDITABLE + "import runpy; runpy.run_module('refnn', run_name='__main__')"
    for args in ([], ["demo"]):
        proc = subprocess.run([sys.executable, "-c", code, *args], cwd=tree_without_build,
                              env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc.stderr
        assert proc.stdout == ""
        lines = proc.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("refnn: error: refnn's compiled "
                                                       "extensions are missing"), proc.stderr
        assert "pip install -e ." in lines[0]


def test_the_lazy_package_offers_every_public_name():
    """with the build present, the names of __all__ resolve to what they always were"""
    code = """
        import refnn
        from refnn import Sequential, load_model, gradcheck, check_function, GradcheckReport
        from refnn import kernels, textbook, layers, losses, metrics, optimizers, callbacks
        from refnn import datasets, utils
        import refnn.model, refnn.gradcheck
        assert Sequential is refnn.model.Sequential and load_model is refnn.model.load_model
        assert callable(refnn.gradcheck) and refnn.gradcheck is gradcheck   # the function
        assert kernels is refnn.kernels and refnn.layers.Dense
        assert set(refnn.__all__) <= set(dir(refnn))
        for name in refnn.__all__:
            getattr(refnn, name)
        try:
            refnn.no_such_name
        except AttributeError as error:
            assert "no_such_name" in str(error)
        print("ok")
        """
    env = dict(os.environ, PYTHONPATH=str(SOURCE))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ok\n"


# ---------------------------------------------------------------------------------------------
# The import graph


def python_modules():
    """{module name: path} for every refnn/**.py"""
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(SOURCE).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = python_modules()
KNOWN = set(MODULES) | COMPILED


def imports(name, path):
    """The modules `name` imports (at any depth of its code), as absolute names: for
    `from P import x` the submodule P.x when there is one, else P."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[:len(package) - node.level + 1]
                                + ([node.module] if node.module else []))
            else:
                base = node.module
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in KNOWN else base)
    return found


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def within(name, *packages):
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_the_graph_is_read_from_the_tree():
    assert {"refnn.kernels", "refnn.model", "refnn.reference.pure"} <= set(GRAPH)
    # the boundary reaches the compiled modules through kernels/_dispatch.py, which loads them
    # by name from the build chosen for this CPU: every one of them, and nothing else
    assert "refnn.kernels._dispatch" in GRAPH["refnn.kernels"]
    assert "refnn" in GRAPH["refnn.kernels._dispatch"]        # COMPILED and _compiled
    assert "refnn.reference.vectorized" in GRAPH["refnn.reference.training"]
    # the compiled modules refnn names are the ones setup.py builds, one per src_c/*.pyx
    pyx = {f"refnn.{p.stem}" for p in (SOURCE / "src_c").glob("*.pyx")}
    assert not pyx or pyx == COMPILED


def test_the_twins_import_nothing_compiled_and_nothing_above_them():
    for name, imported in GRAPH.items():
        if within(name, "refnn.reference"):
            ours = {m for m in imported if within(m, "refnn")}
            outside = {m for m in ours if not within(m, "refnn.reference", "refnn.activations")}
            assert not outside, f"{name} imports {sorted(outside)}"
            assert not imported & COMPILED


def test_only_the_boundary_imports_the_compiled_extensions():
    for name, imported in GRAPH.items():
        if not within(name, "refnn.kernels"):
            assert not imported & COMPILED, f"{name} imports {sorted(imported & COMPILED)}"


def test_nothing_in_the_library_imports_the_command_line():
    for name, imported in GRAPH.items():
        if not within(name, "refnn.cli") and name != "refnn.__main__":
            assert not {m for m in imported if within(m, "refnn.cli")}, name


def test_the_boundary_imports_no_higher_layer():
    """refnn.kernels sits on the compiled core and the pure declarations only"""
    below = ("refnn.kernels", "refnn._validate", "refnn.activations", "refnn.update_rules",
             "refnn._sources")                 # the build's record (standard library only)
    for name, imported in GRAPH.items():
        if within(name, "refnn.kernels"):
            higher = {m for m in imported if within(m, "refnn") and m not in COMPILED
                      and not within(m, *below)}
            if name == "refnn.kernels._dispatch":
                # the package root's list of compiled modules and its loader (which says what
                # to run when the build is missing); the root imports only pure modules (below)
                higher.discard("refnn")
            assert not higher, f"{name} imports {sorted(higher)}"


def test_the_package_itself_imports_only_pure_modules():
    """refnn/__init__.py imports at import time only what needs no build (gradcheck)"""
    ours = {m for m in GRAPH["refnn"] if within(m, "refnn")}
    assert ours == {"refnn.gradcheck"}
    assert {m for m in GRAPH["refnn.gradcheck"] if within(m, "refnn")} == {
        "refnn._validate", "refnn.gradcheck_report"}
    assert {m for m in GRAPH["refnn.gradcheck_report"] if within(m, "refnn")} <= {
        "refnn._validate"}


@pytest.mark.parametrize("name", ["refnn.loss_functions", "refnn.callbacks_keras",
                                  "refnn.losses", "refnn.callbacks", "refnn.weighting",
                                  "refnn.backprop", "refnn.scaling", "refnn.kernels.threads"])
def test_every_module_imports_first_in_a_fresh_interpreter(name):
    # a module imported before its partner (losses and loss_functions, callbacks and
    # callbacks_keras import each other's names) must not fail as a circular import
    import subprocess
    import sys
    result = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True,
                            text=True, timeout=60, cwd=str(SOURCE))
    assert result.returncode == 0, result.stderr
