"""Sweeps of the theory lab: the (seed, task) runs of an experiment give the same numbers
serially, in local processes (joblib) and on a local Dask cluster; saved results load back as
they were written. The cheap experiment here is overparameterization's quick setting."""
import csv
import json
import math
import sys

import pytest

from refnn.experiments import overparameterization, results, sweep

NAME = "overparameterization"
SEEDS = [0, 1]

_serial = {}


def serial():
    """The serial sweep, computed once per test session."""
    if "per_seed" not in _serial:
        _serial["per_seed"] = sweep.collect(NAME, quick=True, seeds=SEEDS)
    return _serial["per_seed"]


def test_serial_sweep_is_each_seeds_run_task_by_task():
    per_seed = serial()
    assert list(per_seed) == SEEDS
    settings = sweep.settings_of(NAME, True)
    assert [t for t, _ in per_seed[1]] == overparameterization.tasks(settings)
    # an independent recomputation of one task, outside the sweep
    task = {"parameterization": "ntk", "width": 32}
    i = overparameterization.tasks(settings).index(task)
    assert per_seed[1][i][1] == overparameterization.run_task(settings, task, 1)
    # and the seeds differ (data and initial weights follow the seed)
    assert per_seed[0][i][1] != per_seed[1][i][1]


def test_summary_is_mean_and_interval_over_the_seeds():
    per_seed = serial()
    result = overparameterization.summarize(sweep.settings_of(NAME, True), per_seed)
    i = result.columns.index("loss_final")
    row = next(r for r in result.rows if r[:2] == ["ntk", 32])
    a, b = (next(r for t, r in per_seed[s] if t == {"parameterization": "ntk", "width": 32})
            for s in SEEDS)
    mean = (a["loss_final"] + b["loss_final"]) / 2
    # two seeds: t_{0.975, 1} = 12.706, s = |a - b| / sqrt(2), half-width t s / sqrt(2)
    half = 12.706204736 * abs(a["loss_final"] - b["loss_final"]) / 2
    assert row[i] == pytest.approx(mean, rel=1e-12)
    assert row[i + 1] == pytest.approx(half, rel=1e-9)
    assert sweep.per_seed_from_series(result.series["per_seed"]) == per_seed


def test_two_local_processes_give_the_serial_numbers():
    pytest.importorskip("joblib")
    assert sweep.collect(NAME, quick=True, seeds=SEEDS, jobs=2) == serial()


def test_a_local_dask_cluster_gives_the_serial_numbers():
    pytest.importorskip("joblib")
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        per_seed = sweep.collect(NAME, quick=True, seeds=SEEDS,
                                 scheduler=cluster.scheduler_address)
    assert per_seed == serial()


def test_a_parallel_sweep_without_joblib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "joblib", None)        # import joblib raises ImportError
    with pytest.raises(ImportError, match=r"refnn\[lab\]"):
        sweep.collect(NAME, quick=True, seeds=1, jobs=2)


@pytest.mark.parametrize("kwargs,message", [
    ({"seeds": 0}, "seeds must be >= 1"), ({"seeds": [1, 1]}, "seeds must be distinct"),
    ({"seeds": [-1]}, "non-negative"), ({"seeds": "3"}, "seeds must be"),
    ({"jobs": 0}, "jobs must be an int >= 1"), ({"jobs": 1.5}, "jobs must be"),
    ({"scheduler": "localhost"}, "scheduler must be a Dask scheduler address")])
def test_bad_sweep_arguments_are_named(kwargs, message):
    with pytest.raises((ValueError, TypeError), match=message):
        sweep.collect(NAME, quick=True, **kwargs)


def test_saved_results_load_back_with_every_per_seed_number(tmp_path):
    per_seed = serial()
    result = overparameterization.summarize(sweep.settings_of(NAME, True), per_seed)
    path = results.save(result, per_seed, tmp_path, sweep={"jobs": 1})
    data = json.loads(path.read_text())
    env = data["environment"]
    for key in ("refnn", "git_commit", "cpu", "build_stamp", "thread_variables",
                "blas_threads_per_task", "numpy"):
        assert key in env
    assert data["seeds"] == SEEDS and data["settings"]["quick"] is True
    saved = results.load(tmp_path)[NAME]
    assert saved.per_seed == per_seed
    assert saved.result.rows == result.rows and saved.result.findings.keys() == \
        result.findings.keys()
    assert results.resummarize(saved).rows == result.rows
    with open(tmp_path / f"{NAME}.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == result.columns
    assert [float(v) for v in table[1][2:]] == result.rows[0][2:]


def test_markdown_table_joins_mean_and_interval():
    text = results.markdown_table(["arm", "acc", "acc ±", "n"],
                                  [["a", 0.8123, 0.0141, 3], ["b", 0.5, math.nan, 1]])
    assert text.splitlines() == ["| arm | acc | n |", "|---|---|---|",
                                 "| a | 0.812 ± 0.014 | 3 |", "| b | 0.5 | 1 |"]


def test_an_experiment_without_tasks_runs_whole_per_seed():
    # WholeRun wraps a module that has only run(quick, seed): one task per seed, its findings
    # summarised as mean and interval; here around overparameterization's run() itself
    whole = sweep.WholeRun(overparameterization)
    settings = {"quick": True}
    assert whole.tasks(settings) == [sweep.WHOLE_RUN]
    per_seed = {s: [(sweep.WHOLE_RUN, whole.run_task(settings, sweep.WHOLE_RUN, s))]
                for s in SEEDS}
    assert sweep.is_whole_run(per_seed) and not sweep.is_whole_run(serial())
    result = whole.summarize(settings, per_seed)
    runs = [overparameterization.run(quick=True, seed=s).findings for s in SEEDS]
    row = next(r for r in result.rows if r[0] == "ntk_movement_slope")
    assert row[1] == pytest.approx(sum(f["ntk_movement_slope"] for f in runs) / 2, rel=1e-12)
    assert result.findings["ntk_movement_slope_ci"] == row[2] > 0
    text = whole.report(result)
    assert text.startswith("## overparameterization\n") and "ntk_movement_slope" in text
