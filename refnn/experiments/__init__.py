"""The theory lab: the lecture's claims about deep networks as runnable experiments.

Each experiment is a module here with
    NAME, CLAIM                     its name; the lecture's claim in one sentence
    QUICK, FULL                     its settings (quick: seconds, for tests; full: minutes)
    tasks(settings)                 the independent units of one seed's run (JSON-able dicts)
    run_task(settings, task, seed)  -> {key: number or short list}: one unit, a pure function
    summarize(settings, per_seed)   per_seed = {seed: [(task, result), ...]} -> ExperimentResult,
                                    every number as mean and 95 % interval over the seeds
    report(result)                  its section of docs/experiments.md (markdown)
    run(quick=True, seed=0)         one seed, serially: sweep.run_single
    plot(result, path)              writes a PNG (needs the matplotlib extra)
and is reached by name: refnn.experiments.run("depth"), python -m refnn experiment depth.
sweep runs the (seed, task) pairs serially, in local processes or on a Dask cluster; results
saves them and writes docs/experiments.md from them; stats gives the mean and its interval.
What several experiments use (data, networks built alike, the log-log slope) is in _common.
"""
from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Union

# the protocol's data, all JSON-able
Settings = dict[str, Any]           # an experiment's QUICK or FULL, with "quick" set
Task = dict[str, Any]               # one unit of a seed's run
TaskResult = dict[str, Any]         # run_task's {key: number or short list}
PerSeed = dict[int, list[tuple[Task, TaskResult]]]     # {seed: [(task, result), ...]}
PlotPath = Union[str, os.PathLike[str]]                 # where plot() writes (and returns)

NAMES = ("vanishing_gradients", "dropout", "depth", "approximation_rate", "double_descent",
         "lottery_ticket", "overparameterization", "flatness")


@dataclass
class ExperimentResult:
    """What an experiment measured: a table (rows of plain Python values), the headline
    numbers it concludes from (`findings`), and a sentence saying what they show."""
    name: str
    claim: str
    columns: list[Any]
    rows: list[Any]
    findings: dict[str, Any] = field(default_factory=dict)
    conclusion: str = ""
    settings: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)   # curves for the plot (plain lists)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "claim": self.claim, "columns": list(self.columns),
                "rows": [list(r) for r in self.rows], "findings": dict(self.findings),
                "conclusion": self.conclusion, "settings": dict(self.settings),
                "series": dict(self.series)}

    def _no_interval(self, i: int) -> bool:
        """Whether column i is an interval ("... ±") with none to show (a single seed)."""
        return str(self.columns[i]).endswith("±") and all(
            isinstance(r[i], float) and math.isnan(r[i]) for r in self.rows)

    def table(self) -> str:
        """The rows as a fixed-width text table; interval columns that a single seed leaves
        empty are left out (the text after the table says so)."""
        def fmt(v: object) -> str:
            if isinstance(v, float):
                return f"{v:.4g}"
            return str(v)
        keep = [i for i in range(len(self.columns)) if not self._no_interval(i)]
        cells = [[str(self.columns[i]) for i in keep]] + [[fmt(r[i]) for i in keep]
                                                          for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(keep))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __str__(self) -> str:
        text = [f"experiment: {self.name}", f"claim: {self.claim}", "", self.table()]
        if any(self._no_interval(i) for i in range(len(self.columns))):
            text.append("(one seed: no intervals; --seeds N runs N seeds and gives mean ± 95 % "
                        "interval)")
        findings = {k: v for k, v in self.findings.items()
                    if not (k.endswith("_ci") and isinstance(v, float) and math.isnan(v))}
        if findings:
            text += [""] + [f"{k}: {v:.4g}" if isinstance(v, float) else f"{k}: {v}"
                            for k, v in findings.items()]
        if self.conclusion:
            text += ["", self.conclusion]
        return "\n".join(text)


def module(name: str) -> ModuleType:
    """The module of experiment `name` (the error lists the valid names)."""
    if not isinstance(name, str) or name not in NAMES:
        raise ValueError(f"unknown experiment {name!r}; valid: {', '.join(NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")


def run(name: str, quick: bool = True, seed: int = 0) -> ExperimentResult:
    """Experiment `name`'s result for one seed (see sweep.run for several, in parallel)."""
    return module(name).run(quick=quick, seed=seed)


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    return module(result.name).plot(result, path)
