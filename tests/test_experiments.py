"""The theory lab, every experiment: a result of plain values, a small PNG, the same result
for the same seed. The phenomena are asserted in test_experiments_a.py and _b.py."""
import json

import pytest

from experiment_runs import plain, quick
from png_files import PNG_SIGNATURE
from refnn import experiments
from refnn.experiments import ExperimentResult


@pytest.mark.parametrize("name", experiments.NAMES)
def test_result_is_a_table_of_plain_values(name):
    result = quick(name)
    assert isinstance(result, ExperimentResult)
    assert result.name == name
    assert result.claim == experiments.module(name).CLAIM and len(result.claim) > 40
    assert result.rows and all(len(row) == len(result.columns) for row in result.rows)
    data = result.to_dict()
    assert plain(data), "an ExperimentResult must hold plain Python values only"
    text = json.dumps(data)                     # NaN: the interval of a single seed
    assert json.dumps(json.loads(text)) == text
    assert result.settings["quick"] is True and result.settings["seed"] == 0
    assert result.findings
    assert all(isinstance(v, (bool, int, float)) for v in result.findings.values())
    text = str(result)
    assert result.columns[0] in text and result.conclusion in text


@pytest.mark.parametrize("name", experiments.NAMES)
def test_plot_writes_a_small_png(name, tmp_path):
    pytest.importorskip("matplotlib")
    path = tmp_path / f"{name}.png"
    experiments.plot(quick(name), str(path))
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert 5_000 < len(data) < 150_000


@pytest.mark.parametrize("name,seed", [("overparameterization", 3), ("flatness", 1)])
def test_same_seed_same_result(name, seed):
    a = experiments.run(name, quick=True, seed=seed)
    b = experiments.run(name, quick=True, seed=seed)
    assert a.rows == b.rows and a.findings == b.findings
