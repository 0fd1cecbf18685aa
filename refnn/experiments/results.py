"""Saved results of the theory lab, and docs/experiments.md generated from them.

    save(result, per_seed, directory)   directory/NAME.json: every per-seed number of every task,
                                        the settings, the summary, and where it ran (refnn's version
                                        and git commit, CPU, build stamp, Python / NumPy / SciPy,
                                        thread counts); directory/NAME.csv: the summary table (and
                                        directory/NAME.TABLE.csv per extra table in
                                        result.series["tables"])
    load(directory)                     {name: Saved} of every NAME.json there
    markdown(directory)                 docs/experiments.md's text: a header, then each experiment's
                                        report() of the summary recomputed from the saved per-seed
                                        numbers (so the document follows the numbers, never drifts)
                                        and its figure
    write_docs(directory, path)         writes it, and the figures (docs/figures/NAME.png)
Tables use the sweep's convention: a column "x ±" after a column "x" holds the half-width of the
95 % interval of x's mean; markdown_table writes the pair as one cell "mean ± half-width".
"""
from __future__ import annotations

import csv
import json
import math
import os
import platform
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from . import NAMES, ExperimentResult, PerSeed, Settings
from . import module as _module
from .sweep import WholeRun, is_whole_run, per_seed_from_series, per_seed_series

FORMAT = 1
DOCS_COMMAND = "python -m refnn experiment --regenerate-docs docs/results"


# ---------------------------------------------------------------- where it ran
def _git_commit() -> str | None:
    """The commit of the tree refnn is imported from ("+dirty" with uncommitted changes to the
    code: refnn/, src_c/, setup.py), or None outside a git checkout."""
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True,
                              text=True, timeout=10)
        if head.returncode:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ":/refnn", ":/src_c", ":/setup.py"],
                               cwd=here, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _build_stamp() -> Any:
    path = Path(__file__).resolve().parent.parent / "_build_stamp.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _blas_threads() -> dict[str, int] | None:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return {f"{i['internal_api']} ({i.get('threading_layer', '')})": i["num_threads"]
            for i in threadpool_info()}


def environment() -> dict[str, Any]:
    """Where and with what a result was computed (plain data, no paths)."""
    import numpy
    import scipy

    from .. import __version__
    try:
        import threadpoolctl  # noqa: F401
        task_threads = 1                    # sweep.run_one limits BLAS to one thread per task
    except ImportError:
        task_threads = None
    return {"refnn": __version__, "git_commit": _git_commit(), "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(), "machine": platform.machine(),
            "build_stamp": _build_stamp(), "python": platform.python_version(),
            "numpy": numpy.__version__, "scipy": scipy.__version__,
            "thread_variables": {k: os.environ.get(k) for k in
                                 ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")},
            "blas_threads_main": _blas_threads(), "blas_threads_per_task": task_threads}


# ---------------------------------------------------------------- save and load
@dataclass
class Saved:
    """One saved experiment: its summary, every per-seed number, its settings and environment."""
    name: str
    result: ExperimentResult
    per_seed: PerSeed
    settings: Settings
    environment: dict[str, Any]
    sweep: dict[str, Any]


def _summary_dict(result: ExperimentResult) -> dict[str, Any]:
    data = result.to_dict()
    data["series"] = {k: v for k, v in data["series"].items() if k != "per_seed"}
    return data


def _write_csv(path: str | os.PathLike[str], columns: Sequence[Any],
               rows: Iterable[Sequence[Any]]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)


def save(result: ExperimentResult, per_seed: PerSeed, directory: str | os.PathLike[str],
         sweep: Mapping[str, Any] | None = None, settings: Settings | None = None) -> Path:
    """Write directory/NAME.json and the CSV tables of one experiment; returns the JSON's path.
    settings: what summarize() was given (default: result.settings); sweep: how it ran
    ({"jobs": 2} or {"scheduler": True}), recorded as it is."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    seeds = list(per_seed)
    data = {"format": FORMAT, "experiment": result.name,
            "settings": result.settings if settings is None else settings,
            "seeds": seeds, "per_seed": per_seed_series(per_seed),
            "summary": _summary_dict(result), "environment": environment(),
            "sweep": dict(sweep or {})}
    path = folder / f"{result.name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    _write_csv(folder / f"{result.name}.csv", result.columns, result.rows)
    for table, t in result.series.get("tables", {}).items():
        _write_csv(folder / f"{result.name}.{table}.csv", t["columns"], t["rows"])
    return path


def load_one(path: str | os.PathLike[str]) -> Saved:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(f"{Path(path).name}: format {data.get('format')!r}, expected {FORMAT}")
    per_seed = per_seed_from_series(data["per_seed"])
    result = ExperimentResult(**data["summary"])
    result.series["per_seed"] = data["per_seed"]
    return Saved(data["experiment"], result, per_seed, data["settings"], data["environment"],
                 data.get("sweep", {}))


def load(directory: str | os.PathLike[str]) -> dict[str, Saved]:
    """{name: Saved} for every experiment saved in `directory`, in the lab's order."""
    folder = Path(directory)
    if not folder.is_dir():
        raise FileNotFoundError(f"directory must hold saved results, got {str(folder)!r} "
                                "(not a directory)")
    return {name: load_one(folder / f"{name}.json") for name in NAMES
            if (folder / f"{name}.json").is_file()}


# ---------------------------------------------------------------- markdown
def number_text(v: object, digits: int = 3) -> str:
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    if math.isnan(v):
        return "–"
    return f"{v:.{digits}g}"


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[Any]], digits: int = 3
                   ) -> str:
    """A markdown table; a column "x" followed by "x ±" becomes one cell "mean ± half-width"."""
    groups: list[tuple[str, int, bool]] = []
    i = 0
    while i < len(columns):
        paired = i + 1 < len(columns) and columns[i + 1] == f"{columns[i]} ±"
        groups.append((columns[i], i, paired))
        i += 2 if paired else 1

    def cell(row: Sequence[Any], j: int, paired: bool) -> str:
        if not paired:
            return number_text(row[j], digits).replace("|", "\\|")
        mean, half = row[j], row[j + 1]
        if isinstance(half, float) and math.isnan(half):
            return f"{number_text(mean, digits)}"
        return f"{number_text(mean, digits)} ± {number_text(half, 2)}"

    lines = ["| " + " | ".join(name.replace("|", "\\|") for name, _, _ in groups) + " |",
             "|" + "---|" * len(groups)]
    lines += ["| " + " | ".join(cell(r, j, p) for _, j, p in groups) + " |" for r in rows]
    return "\n".join(lines)


def _protocol(saved: Saved) -> ModuleType | WholeRun:
    """What summarizes and reports saved results: the module, or WholeRun for results saved
    as whole runs (an experiment saved before it had tasks() keeps being read as it was)."""
    if is_whole_run(saved.per_seed):
        return WholeRun(_module(saved.name), claim=saved.result.claim)
    return _module(saved.name)


def resummarize(saved: Saved) -> ExperimentResult:
    """The summary recomputed from the saved per-seed numbers by today's summarize()."""
    settings = {k: v for k, v in saved.settings.items()
                if not (is_whole_run(saved.per_seed) and k in ("seeds", "protocol"))}
    return _protocol(saved).summarize(settings, saved.per_seed)


def _header(loaded: Mapping[str, Saved]) -> str:
    kinds = {"quick" if s.settings.get("quick") else "full" for s in loaded.values()}
    envs = {(s.environment.get("refnn"), s.environment.get("git_commit"),
             s.environment.get("cpu")) for s in loaded.values()}
    lines = [
        "# The theory lab", "",
        f"<!-- generated by `{DOCS_COMMAND}` from the saved results in docs/results/; "
        "edit the experiments' report() and regenerate, not this file -->", "",
        "The second half of the lecture explains why deep networks are trained the way they are "
        "and what theory says about why they work. Each claim below is an experiment you can "
        "run, over several seeds, in parallel, and save:", "",
        "```bash",
        "python -m refnn experiment                                 # the list",
        "python -m refnn experiment NAME --quick --seeds 3 --out DIR      # seconds, as the tests",
        "python -m refnn experiment NAME --seeds 5 --jobs 2 --out DIR     # full, 2 processes",
        "python -m refnn experiment NAME --seeds 5 --scheduler tcp://HOST:8786 --out DIR  # Dask",
        f"{DOCS_COMMAND}     # this file, from saved results",
        "```", "",
        "Every number below is the mean over the seeds with the half-width of its 95 % Student's "
        "t interval (refnn.experiments.stats); a difference is claimed only where the "
        "intervals support it (the two intervals apart, or the interval of the per-seed "
        "difference away from 0). --jobs and --scheduler need the optional extra: pip install "
        "'refnn[lab]'. Every per-seed number, the settings and the machine are in "
        "docs/results/NAME.json, each table also as docs/results/NAME.csv. Parallel and serial "
        "sweeps give the same numbers (each task runs with one BLAS thread).", ""]
    if "quick" in kinds:
        lines += ["**These are the quick settings' results** (small networks and data, what the "
                  "tests run); the full settings' results replace them when they are saved under "
                  "docs/results/ and this file is regenerated.", ""]
    lines += ["| experiment | the claim | setting | seeds |", "|---|---|---|---|"]
    for name, s in loaded.items():
        claim = _protocol(s).CLAIM.replace("|", "\\|")
        lines.append(f"| [{name}](#{name}) | {claim} | "
                     f"{'quick' if s.settings.get('quick') else 'full'} | "
                     f"{', '.join(map(str, s.per_seed))} |")
    lines.append("")
    for version, commit, cpu in sorted(envs, key=str):
        lines.append(f"Computed with refnn {version}"
                     + (f" at commit {commit[:12]}" if commit else "")
                    + (" with uncommitted changes" if commit and commit.endswith("+dirty") else "")
                    + f" on {cpu}.")
    return "\n".join(lines) + "\n"


def markdown(directory: str | os.PathLike[str], names: Sequence[str] = NAMES) -> str:
    """docs/experiments.md's text from the results saved in `directory`; every experiment of
    `names` must be there."""
    loaded = load(directory)
    missing = [n for n in names if n not in loaded]
    if missing:
        raise FileNotFoundError(f"directory {str(directory)!r} lacks the saved results of "
                                f"{', '.join(missing)} (python -m refnn experiment NAME --out DIR)")
    loaded = {n: loaded[n] for n in names}
    sections = [_protocol(s).report(resummarize(s)).strip() + "\n"
                + ("" if is_whole_run(s.per_seed) else f"\n![{n}](figures/{n}.png)\n")
                for n, s in loaded.items()]
    return _header(loaded) + "\n" + "\n".join(sections)


def write_docs(directory: str | os.PathLike[str], path: str | os.PathLike[str],
               names: Sequence[str] = NAMES, figures: bool = True) -> str:
    """Write markdown(directory) to `path` and, when `figures` (it needs matplotlib), each
    experiment's figure to figures/NAME.png beside it; returns the text."""
    text = markdown(directory, names)
    if figures:
        folder = Path(path).parent / "figures"
        folder.mkdir(parents=True, exist_ok=True)
        for name, saved in load(directory).items():
            if name in names and not is_whole_run(saved.per_seed):
                _module(name).plot(resummarize(saved), str(folder / f"{name}.png"))
    Path(path).write_text(text, encoding="utf-8")
    return text
