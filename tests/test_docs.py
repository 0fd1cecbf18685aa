"""Every Python code block of README.md and docs/*.md runs as written.

Each file's blocks run in order in one fresh interpreter, sharing one namespace (as a reader
typing them in would), in an empty working directory. A block that needs the Fashion-MNIST
package skips, saying so, where the package is not installed."""
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
    runner = "namespace = {'__name__': '__main__'}\n"
    for i, block in enumerate(blocks):
        runner += (f"print('--- block {i}', flush=True)\n"
                   f"exec(compile({block!r}, '{path.name}, block {i}', 'exec'), namespace)\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="Agg")
    out = subprocess.run([sys.executable, "-c", runner], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, textwrap.shorten(out.stdout[-2000:], 2000) + out.stderr[-4000:]
    assert out.stdout.count("--- block") == len(blocks)
