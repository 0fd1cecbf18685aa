"""Every Python code block of README.md and docs/*.md runs as written.

Each file's blocks run in order in one fresh interpreter, sharing one namespace (as a reader
typing them in would), in an empty working directory. A file whose blocks need the
Fashion-MNIST package or an optional extra (scikit-learn, onnx) skips, saying so, where it is
not installed."""
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import refnn

ROOT = Path(refnn.__file__).parent.parent
FASHION = Path("/usr/share/datasets/fashion-mnist")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)
# what in a block needs an optional extra: (pattern, the module it needs, the extra)
EXTRAS = [(re.compile(r"^\s*(from|import) (sklearn|refnn\.sklearn)\b", re.MULTILINE), "sklearn",
           "sklearn"),
          (re.compile(r"format=[\"']onnx[\"']"), "onnx", "onnx")]


def python_blocks(path):
    return BLOCK.findall(path.read_text(encoding="utf-8"))


def test_the_block_finder_finds_the_readme_examples():
    blocks = python_blocks(ROOT / "README.md")
    assert len(blocks) >= 2
    assert any("net.step(X[1], Y[1], eta=0.5)" in b for b in blocks)


@pytest.mark.parametrize("path", [p for p in DOCS if python_blocks(p)], ids=lambda p: p.name)
def test_every_python_block_runs_as_written(path, tmp_path):
    blocks = python_blocks(path)
    if any("fashion_mnist()" in b for b in blocks) and not FASHION.is_dir():
        pytest.skip(f"{path.name} loads Fashion-MNIST: apt-get install dataset-fashion-mnist")
    for pattern, module, extra in EXTRAS:
        if any(pattern.search(b) for b in blocks):
            pytest.importorskip(module, reason=f"{path.name} needs {module}: "
                                               f"pip install -e '.[{extra}]'")
    runner = "namespace = {'__name__': '__main__'}\n"
    for i, block in enumerate(blocks):
        runner += (f"print('--- block {i}', flush=True)\n"
                   f"exec(compile({block!r}, '{path.name}, block {i}', 'exec'), namespace)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", runner], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, textwrap.shorten(out.stdout[-2000:], 2000) + out.stderr[-4000:]
    assert out.stdout.count("--- block") == len(blocks)


# --- the API reference (docs/conf.py, docs/api/): built with warnings as errors, with every
# public name in it

def public_modules():
    """refnn's public modules: no part of the dotted name starts with _, and not the command line
    (its commands are documented in docs/tour.md)."""
    import pkgutil
    return ["refnn"] + sorted(m.name for m in pkgutil.walk_packages(refnn.__path__, "refnn.")
                              if not any(p.startswith("_") for p in m.name.split(".")[1:])
                              and not m.name.startswith("refnn.cli"))


def public_names(module):
    """(name, object) the module offers: its __all__ (less submodules), or else the functions and
    classes it defines."""
    import inspect
    if hasattr(module, "__all__"):
        return [(n, getattr(module, n)) for n in module.__all__
                if not inspect.ismodule(getattr(module, n))]
    return [(n, v) for n, v in vars(module).items() if not n.startswith("_")
            and (inspect.isfunction(v) or inspect.isclass(v))
            and v.__module__ == module.__name__]


@pytest.fixture(scope="module")
def api_reference(tmp_path_factory):
    for needed in ("sphinx", "myst_parser"):
        pytest.importorskip(needed, reason=f"the API reference needs {needed}: "
                                           f"pip install -e '.[docs]'")
    out = tmp_path_factory.mktemp("html")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    build = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html",
                            str(ROOT / "docs"), str(out)], env=env, capture_output=True,
                           text=True, timeout=300)
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    from sphinx.util.inventory import InventoryFile
    with open(out / "objects.inv", "rb") as f:
        inventory = InventoryFile.load(f, "", lambda base, uri: uri)
    entries = getattr(inventory, "data", inventory)         # Sphinx >= 8.2 wraps the dict
    return {name for kind in entries if kind.startswith("py:") for name in entries[kind]}


def test_the_api_reference_documents_every_public_name(api_reference):
    import importlib
    import inspect
    missing = []
    for module_name in public_modules():
        module = importlib.import_module(module_name)
        if module_name not in api_reference:
            missing.append(module_name)
        for name, obj in public_names(module):
            where = {f"{module_name}.{name}"}
            if inspect.isclass(obj) or inspect.isfunction(obj):
                where.add(f"{obj.__module__}.{obj.__qualname__}")
            else:                                   # data: documented in the module defining it
                where |= {f"{sub}.{name}" for sub in public_modules() if sub.startswith(module_name)
                          and getattr(importlib.import_module(sub), name, None) is obj}
            if not where & api_reference:
                missing.append(f"{module_name}.{name}")
    assert not missing, f"{len(missing)} public names not in the API reference: {missing}"


def test_the_api_reference_checker_sees_a_missing_name(api_reference):
    # the oracle of the test above: names it must find, and one it must not
    assert {"refnn.model.Sequential", "refnn.model.Sequential.fit", "refnn.layers.core.Dense",
            "refnn.textbook.BackpropNetwork.step", "refnn.kernels"} <= api_reference
    assert "refnn.model.Sequential.no_such_method" not in api_reference


# --- shown command output (tools/regenerate_docs.py): what the docs show is what the code prints

def regenerate(*args, cwd=None):
    return subprocess.run([sys.executable, str(ROOT / "tools" / "regenerate_docs.py"), *args],
                          capture_output=True, text=True, timeout=1800, cwd=cwd)


SHOWN = """\
Some text.

<!-- output: fast -->
```
$ python -c "print(6 * 7); print('trained in 0.3 s')"
{answer}
trained in 1.7 s
$ python -c "print('a'); print('b'); print('c'); print('d')"
a
[...]
d
```
"""


def test_the_check_finds_a_shown_output_the_code_no_longer_prints(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(SHOWN.format(answer=41), encoding="utf-8")
    out = regenerate("--check", str(page))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "page.md:4: the shown output differs" in out.stdout
    assert "-41\n+42" in out.stdout
    assert page.read_text(encoding="utf-8") == SHOWN.format(answer=41)      # --check writes nothing
    # without --check the block is rewritten from what the code prints; the duration and the
    # elision stay as shown (a duration is not a difference)
    assert regenerate(str(page)).returncode == 0
    assert page.read_text(encoding="utf-8") == SHOWN.format(answer=42)
    assert regenerate("--check", str(page)).returncode == 0


def test_the_check_asks_for_a_mark_on_a_block_of_output(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```\n$ python -m refnn trace\nrefnn trace: ...\n```\n", encoding="utf-8")
    out = regenerate("--check", str(page))
    assert out.returncode == 1
    assert "page.md:1: a block showing a command's output has no <!-- output: ... --> mark" \
        in out.stdout


def test_every_fast_shown_output_is_what_the_code_prints():
    # the README's and the tour's blocks marked "fast" (seconds); `--plot` needs matplotlib
    pytest.importorskip("matplotlib", reason="the shown `demo --plot` needs matplotlib: "
                                             "pip install -e '.[plot]'")
    out = regenerate("--check")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]


@pytest.mark.skipif(os.environ.get("REFNN_LONG_TESTS") != "1",
                    reason="the long blocks (Fashion-MNIST training) run with REFNN_LONG_TESTS=1")
def test_every_long_shown_output_is_what_the_code_prints():
    if not FASHION.is_dir():
        pytest.skip("the tour trains on Fashion-MNIST: apt-get install dataset-fashion-mnist")
    out = regenerate("--check", "--long")
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
