"""docs/experiments.md is generated from saved results: the command line saves a sweep, the
generator writes one section per experiment from the saved per-seed numbers, and the committed
file is exactly the regeneration of the committed results in docs/results/."""
import csv
import json
import re
from pathlib import Path

import pytest

from refnn import cli, experiments
from refnn.experiments import results

ROOT = Path(__file__).resolve().parent.parent
PROTOCOL = ("tasks", "run_task", "summarize", "report")


def swept_names():
    """The experiments that follow the sweep protocol."""
    return [n for n in experiments.NAMES
            if all(hasattr(experiments.module(n), f) for f in PROTOCOL)]


@pytest.fixture(scope="module")
def quick_results(tmp_path_factory):
    """Quick results of every swept experiment, 2 seeds, saved through the command line."""
    from experiment_runs import fashion_mnist_installed
    directory = tmp_path_factory.mktemp("results")
    names = [n for n in swept_names()
             if n not in ("double_descent", "lottery_ticket", "flatness")
             or fashion_mnist_installed()]
    for name in names:
        assert cli.main(["experiment", name, "--quick", "--seeds", "2", "--out",
                         str(directory)]) == 0
    return directory, names


def test_the_command_line_saves_every_per_seed_number(quick_results):
    directory, names = quick_results
    for name in names:
        data = json.loads((directory / f"{name}.json").read_text())
        assert data["experiment"] == name and data["seeds"] == [0, 1]
        assert len(data["per_seed"]["results"]) == 2
        assert len(data["per_seed"]["results"][0]) == len(data["per_seed"]["tasks"])
        with open(directory / f"{name}.csv", newline="", encoding="utf-8") as f:
            table = list(csv.reader(f))
        assert table[0] == data["summary"]["columns"]
        assert len(table) == len(data["summary"]["rows"]) + 1


def check_structure(text, names, claims=True):
    """A header, then one section per experiment in order, each with its claim, intervals and
    a table; every table of the file rectangular."""
    assert text.startswith("# The theory lab\n")
    assert re.findall(r"^## (\w+)$", text, re.M) == list(names)
    for table in re.findall(r"((?:^\|.*\|\n)+)", text, re.M):     # every table, the header's too
        widths = {len(re.findall(r"(?<!\\)\|", line)) for line in table.splitlines()}
        assert len(widths) == 1, f"ragged table\n{table}"
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        name = section.split("\n", 1)[0]
        assert (f"**Claim.** {experiments.module(name).CLAIM}" if claims else "**Claim.** ") \
            in section
        assert "±" in section, f"{name}: no interval in its section"
        assert "nan" not in section.lower(), f"{name}: a NaN in its section"
        assert re.search(r"^\|.*\|$", section, re.M), f"{name}: no table"


def test_regenerated_docs_have_a_header_and_one_section_per_experiment(quick_results):
    directory, names = quick_results
    text = results.markdown(directory, names=names)
    assert "quick settings' results" in text
    check_structure(text, names)


def test_regenerating_writes_the_same_file_twice_and_the_figures(quick_results, tmp_path):
    pytest.importorskip("matplotlib")
    from png_files import PNG_SIGNATURE
    directory, names = quick_results
    a = results.write_docs(directory, tmp_path / "a.md", names=names)
    assert results.markdown(directory, names=names) == a == (tmp_path / "a.md").read_text()
    for name in names:
        assert f"![{name}](figures/{name}.png)" in a
        assert (tmp_path / "figures" / f"{name}.png").read_bytes()[:8] == PNG_SIGNATURE


def test_regenerating_from_an_incomplete_directory_names_what_is_missing(tmp_path, capsys):
    assert cli.main(["experiment", "--regenerate-docs", str(tmp_path),
                     "--docs-file", str(tmp_path / "x.md")]) == 2
    err = capsys.readouterr().err
    assert "lacks the saved results of vanishing_gradients" in err
    assert not (tmp_path / "x.md").exists()


def test_the_committed_docs_are_the_regeneration_of_the_committed_results():
    saved = ROOT / "docs" / "results"
    if not all((saved / f"{n}.json").is_file() for n in experiments.NAMES):
        pytest.skip("docs/results/ does not hold the saved results of all eight experiments")
    text = (ROOT / "docs" / "experiments.md").read_text()
    assert results.markdown(saved) == text
    check_structure(text, experiments.NAMES, claims=False)     # claims as they were saved
