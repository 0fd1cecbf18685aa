"""Sweeps: every (seed, task) of an experiment as an independent run, serially, in local
processes or on a Dask cluster, gathered in a fixed order and summarised over the seeds.

An experiment module splits ONE seed's run into tasks (the protocol, see the package docstring):
    tasks(settings)                -> [task, ...]   JSON-able dicts, no seed in them
    run_task(settings, task, seed) -> {key: number or short list}, a pure function of its arguments
    summarize(settings, per_seed)  -> ExperimentResult,  per_seed = {seed: [(task, result), ...]}
so a sweep over seeds x tasks is a flat list of independent calls. Where they run does not change
what they compute: each call runs with one BLAS thread (when threadpoolctl is there to set it), and
the results are put back in (seed, task) order before summarize sees them. Hence

    run(name, quick, seeds)                            serial, in this process
    run(name, quick, seeds, jobs=4)                    joblib, 4 local worker processes (loky)
    run(name, quick, seeds, scheduler="tcp://h:8786")  joblib's Dask backend on that cluster

give the same numbers. joblib and dask.distributed are the optional extra `lab`; a serial sweep
needs neither.
"""
from __future__ import annotations

import importlib
import math
import numbers
from collections.abc import Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn, cast

from numpy.typing import ArrayLike

from . import PerSeed, PlotPath, Settings, Task, TaskResult
from . import module as _module
from .stats import mean_interval

if TYPE_CHECKING:
    from . import ExperimentResult

LAB_EXTRA = "pip install 'refnn[lab]' (joblib, dask[distributed])"


# ---------------------------------------------------------------- the protocol
WHOLE_RUN = {"run": "whole"}            # the one task of an experiment without tasks()


class WholeRun:
    """The protocol for an experiment module that has only run(quick, seed): one task per seed,
    the whole run, whose numeric findings are the task's result; summarized as the mean and
    interval of each finding over the seeds."""

    def __init__(self, module: ModuleType, claim: str | None = None) -> None:
        self.module = module
        self.NAME = module.__name__.rsplit(".", 1)[-1]
        self.CLAIM = module.CLAIM if claim is None else claim      # saved results keep theirs

    def tasks(self, settings: Settings) -> list[Task]:
        return [dict(WHOLE_RUN)]

    def run_task(self, settings: Settings, task: Task, seed: int) -> TaskResult:
        result = self.module.run(quick=settings["quick"], seed=seed)
        out: TaskResult = {k: float(v) for k, v in result.findings.items()
                           if isinstance(v, numbers.Real) and math.isfinite(v)}
        out["conclusion"] = result.conclusion
        return out

    def summarize(self, settings: Settings, per_seed: PerSeed) -> ExperimentResult:
        from . import ExperimentResult
        seeds = list(per_seed)
        (_, values), = by_task(per_seed)
        rows = [[key] + cells(v) for key, v in values.items()]
        findings: dict[str, Any] = {}
        for key, v in values.items():
            findings.update(findings_of(key, v))
        first = per_seed[seeds[0]][0][1]
        return ExperimentResult(
            name=self.NAME, claim=self.CLAIM, columns=["finding"] + interval_columns("value"),
            rows=rows, findings=findings,
            conclusion=f"Seed {seeds[0]}'s run: {first.get('conclusion', '')}",
            settings={**settings, "seeds": seeds, "protocol": "whole run per seed"},
            series={"per_seed": per_seed_series(per_seed)})

    def report(self, result: ExperimentResult) -> str:
        from .results import markdown_table
        s = result.settings
        return "\n".join([
            f"## {self.NAME}", "",
            f"**Claim.** {self.CLAIM}", "",
            f"**Command.** `python -m refnn experiment {self.NAME} --seeds 5 --out "
            "docs/results`", "",
            f"Each finding of the experiment's run, mean and 95 % interval over the seeds "
            f"{s['seeds']} ({'quick' if s.get('quick') else 'full'} setting):", "",
            markdown_table(result.columns, result.rows), "",
            f"**Result.** {result.conclusion}", ""])

    def plot(self, result: ExperimentResult, path: PlotPath) -> NoReturn:
        raise ValueError(f"{self.NAME}: a summary of whole runs has no figure")


def protocol(name: str) -> ModuleType | WholeRun:
    """Experiment `name`'s module when it splits its run into tasks, else WholeRun(module)."""
    m = _module(name)
    return m if hasattr(m, "tasks") else WholeRun(m)


def is_whole_run(per_seed: PerSeed) -> bool:
    return all(len(r) == 1 and r[0][0] == WHOLE_RUN for r in per_seed.values())


# ---------------------------------------------------------------- arguments
def settings_of(name: str, quick: bool) -> Settings:
    """A copy of experiment `name`'s QUICK or FULL settings, with "quick" set (only "quick" for
    an experiment without tasks())."""
    m = _module(name)
    if not hasattr(m, "tasks"):
        return {"quick": bool(quick)}
    return {**(m.QUICK if quick else m.FULL), "quick": bool(quick)}


def seed_list(seeds: int | Iterable[int]) -> list[int]:
    """seeds: a number N (the seeds 0 .. N-1) or a sequence of distinct non-negative ints."""
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 (how many) or a list of seeds, got {seeds}")
        return list(range(int(seeds)))
    try:
        values = list(cast("Iterable[int]", seeds))     # a whole number went above
    except TypeError:
        raise TypeError(f"seeds must be an int or a list of ints, got {seeds!r}") from None
    if not values or not all(isinstance(s, numbers.Integral) and not isinstance(s, bool)
                             and s >= 0 for s in values):
        raise ValueError(f"seeds must be a non-empty list of non-negative ints, got {values!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"seeds must be distinct, got {values!r}")
    return [int(s) for s in values]


def _check_jobs(jobs: object, scheduler: object) -> None:
    if not isinstance(jobs, numbers.Integral) or isinstance(jobs, bool) or jobs < 1:
        raise ValueError(f"jobs must be an int >= 1, got {jobs!r}")
    if scheduler is not None and (not isinstance(scheduler, str) or "://" not in scheduler):
        raise ValueError("scheduler must be a Dask scheduler address such as "
                         f"'tcp://127.0.0.1:8786', got {scheduler!r}")


def _require(package: str) -> ModuleType:
    try:
        return importlib.import_module(package)
    except ImportError:
        raise ImportError(f"a parallel sweep needs {package}, which is not installed: "
                          f"{LAB_EXTRA}") from None


# ---------------------------------------------------------------- one run
def run_one(name: str, settings: Settings, task: Task, seed: int) -> TaskResult:
    """experiment `name`'s run_task(settings, task, seed) with one BLAS thread: the unit of work
    a sweep sends to a worker (a module-level function, so that it pickles)."""
    m = protocol(name)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:                     # comes with joblib; without it, BLAS as it is
        return m.run_task(settings, task, seed)
    with threadpool_limits(limits=1):
        return m.run_task(settings, task, seed)


def collect(name: str, quick: bool = True, seeds: int | Iterable[int] = 1, jobs: int = 1,
            scheduler: str | None = None) -> PerSeed:
    """per_seed = {seed: [(task, result), ...]} (tasks in tasks() order) of every (seed, task)
    of experiment `name`: serially (jobs=1, no scheduler), in `jobs` local processes, or
    through joblib's Dask backend on the cluster at `scheduler`."""
    seed_values = seed_list(seeds)
    _check_jobs(jobs, scheduler)
    settings = settings_of(name, quick)
    tasks = protocol(name).tasks(settings)
    calls = [(seed, task) for seed in seed_values for task in tasks]
    if jobs == 1 and scheduler is None:
        results = [run_one(name, settings, task, seed) for seed, task in calls]
    else:
        joblib = _require("joblib")
        work = (joblib.delayed(run_one)(name, settings, task, seed) for seed, task in calls)
        if scheduler is None:
            results = joblib.Parallel(n_jobs=jobs, backend="loky")(work)
        else:
            distributed = _require("distributed")
            with distributed.Client(scheduler, set_as_default=False) as client:
                with joblib.parallel_config(backend="dask", client=client):
                    results = joblib.Parallel(n_jobs=-1)(work)
    per_seed: PerSeed = {seed: [] for seed in seed_values}
    for (seed, task), result in zip(calls, results):        # joblib keeps the calls' order
        per_seed[seed].append((task, result))
    return per_seed


def run(name: str, quick: bool = True, seeds: int | Iterable[int] = 1, jobs: int = 1,
        scheduler: str | None = None) -> ExperimentResult:
    """The ExperimentResult of experiment `name` over `seeds` (see collect)."""
    per_seed = collect(name, quick, seeds, jobs, scheduler)
    return protocol(name).summarize(settings_of(name, quick), per_seed)


def run_single(module: ModuleType, quick: bool, seed: int) -> ExperimentResult:
    """A module's run(quick, seed): its tasks for one seed, in order, then summarize."""
    settings = {**(module.QUICK if quick else module.FULL), "quick": bool(quick)}
    results = [(task, module.run_task(settings, task, seed)) for task in module.tasks(settings)]
    return module.summarize(settings, {seed: results})


# ---------------------------------------------------------------- helpers for summarize
def by_task(per_seed: PerSeed) -> list[tuple[Task, dict[str, list[float]]]]:
    """[(task, {key: [value of each seed]}), ...] in tasks() order: every numeric entry of the
    tasks' results gathered over the seeds (lists and strings are left out)."""
    seeds = list(per_seed)
    out = []
    for i, (task, first) in enumerate(per_seed[seeds[0]]):
        values: dict[str, list[float]] = {}
        for key, v in first.items():
            if isinstance(v, numbers.Real):
                values[key] = [float(per_seed[s][i][1][key]) for s in seeds]
        out.append((task, values))
    return out


def cells(values: ArrayLike) -> list[float]:
    """[mean, half-width of its 95 % interval] of the per-seed values: two table cells (the
    half-width is NaN for one seed; see stats.mean_interval). Seeds that agree up to rounding
    (a seed-free quantity) get a half-width of exactly 0."""
    mean, half = mean_interval(values)
    if half <= 1e-12 * abs(mean):
        half = 0.0
    return [mean, half]


def interval_columns(*names: str) -> list[str]:
    """The column names of mean-and-interval cells: "x", "x ±" for each name."""
    return [c for n in names for c in (n, f"{n} ±")]


def findings_of(prefix: str, values: ArrayLike) -> dict[str, float]:
    """{prefix: mean, prefix_ci: half-width} of the per-seed values (the findings' convention)."""
    mean, half = cells(values)
    return {prefix: mean, f"{prefix}_ci": half}


def sign_of(findings: dict[str, Any], key: str) -> int:
    """+1 / -1 when the 95 % interval of finding `key` lies above / below 0; 0 when it holds
    0 or there is no interval (one seed): nothing is claimed then."""
    mean, half = findings[key], findings[f"{key}_ci"]
    if math.isnan(half):
        return 0
    return 1 if mean - half > 0 else -1 if mean + half < 0 else 0


def per_seed_series(per_seed: PerSeed) -> dict[str, Any]:
    """per_seed as plain data for result.series["per_seed"]: {"seeds": [...], "tasks": [...],
    "results": [[result of each task] for each seed]}."""
    seeds = list(per_seed)
    return {"seeds": seeds, "tasks": [t for t, _ in per_seed[seeds[0]]],
            "results": [[r for _, r in per_seed[s]] for s in seeds]}


def per_seed_from_series(series: dict[str, Any]) -> PerSeed:
    """The inverse of per_seed_series."""
    return {int(s): list(zip(series["tasks"], results))
            for s, results in zip(series["seeds"], series["results"])}


def fraction(flags: Iterable[object]) -> float:
    """The fraction of seeds for which a condition held (for "k of n seeds" statements)."""
    values = list(flags)
    return sum(bool(f) for f in values) / len(values) if values else math.nan
