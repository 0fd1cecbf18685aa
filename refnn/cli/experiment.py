"""python -m refnn experiment: the theory lab (refnn.experiments): one experiment (or all) over
seeds, in parallel, saved; the list; or docs/experiments.md regenerated from saved results."""
from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from . import parsing, running
from .parsing import PROG, UsageError, one_line

if TYPE_CHECKING:
    from .parsing import Subparsers
    from ..experiments import ExperimentResult

ALL = "all"


def register(subparsers: Subparsers) -> None:
    p = parsing.add_command(
        subparsers, "experiment",
        help="run one of the theory lab's experiments (or list them)",
        description=(
            "The theory lab: the lecture's claims about deep networks as runnable "
            "experiments (refnn.experiments). Without a name, lists those available. "
            "--seeds N runs the seeds S .. S+N-1 (S = --seed) and reports every number as the "
            "mean with its 95 % interval; --jobs and --scheduler spread the runs over local "
            "processes or a Dask cluster (the optional extra: pip install 'refnn[lab]') "
            "without changing the numbers; --out DIR saves them (NAME.json with every "
            "per-seed number and the machine, NAME.csv). --regenerate-docs DIR writes "
            "docs/experiments.md from the results saved in DIR."),
        examples=["experiment                      list the experiments",
                  "experiment depth --quick",
                  "experiment depth --quick --seeds 3 --out results",
                  "experiment all --quick --seeds 3 --jobs 2 --out results",
                  "experiment double_descent --seeds 5 --scheduler tcp://10.0.0.5:8786 "
                  "--out results",
                  "experiment --regenerate-docs docs/results",
                  "experiment vanishing_gradients --plot vanishing.png"])
    p.add_argument("name", nargs="?", help=f"the experiment to run ('{ALL}': every one)")
    p.add_argument("--quick", action="store_true", help="small settings: seconds, not minutes")
    p.add_argument("--seed", type=parsing.nonnegative_int, default=0,
                   help="fixes every random choice (the first seed with --seeds)")
    p.add_argument("--seeds", type=parsing.positive_int, default=1, metavar="N",
                   help="run N seeds and report means with 95 %% intervals")
    p.add_argument("--jobs", type=parsing.positive_int, default=1, metavar="N",
                   help="local worker processes (joblib)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="run on the Dask cluster of this scheduler (joblib's Dask backend)")
    p.add_argument("--out", metavar="DIR", help="save NAME.json and NAME.csv there")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the experiment's picture (needs matplotlib: "
                        "pip install -e '.[plot]')")
    p.add_argument("--regenerate-docs", metavar="DIR",
                   help="write docs/experiments.md (or --docs-file) from the results in DIR")
    p.add_argument("--docs-file", metavar="FILE.md", default="docs/experiments.md",
                   help="the file --regenerate-docs writes")
    p.set_defaults(run=run)


def available_experiments() -> list[tuple[str, str]]:
    """(name, claim) of each experiment module that imports."""
    from .. import experiments
    found = []
    for name in experiments.NAMES:
        try:
            module = experiments.module(name)
        except Exception:                   # not written yet, or broken: not available
            continue
        found.append((name, getattr(module, "CLAIM", "")))
    return found


def _list() -> int:
    found = available_experiments()
    if not found:
        print("no experiments are available yet")
        return 0
    print(f"experiments ({PROG} experiment NAME [--quick] [--seeds N] [--out DIR] "
          "[--plot FILE.png]):")
    width = max(len(name) for name, _ in found)
    for name, claim in found:
        print(textwrap.fill(claim, 100, initial_indent=f"  {name.ljust(width)}  ",
                            subsequent_indent=" " * (width + 4)))
    return 0


def _regenerate(args: argparse.Namespace) -> int:
    from ..experiments import results
    if args.name is not None:
        raise UsageError("--regenerate-docs takes no experiment name: it writes every "
                         "experiment's section from the results saved in DIR")
    if not Path(args.regenerate_docs).is_dir():
        raise UsageError(f"--regenerate-docs must be a directory of saved results, got "
                         f"{args.regenerate_docs!r}")
    try:
        import matplotlib  # noqa: F401
        figures = True
    except ImportError:
        figures = False
    results.write_docs(args.regenerate_docs, args.docs_file, figures=figures)
    where = Path(args.docs_file).parent / "figures"
    print(f"wrote {args.docs_file} from the results in {args.regenerate_docs}"
          + (f", and the figures in {where}" if figures else
             f"; the figures in {where} are left as they are (they need matplotlib: "
             "pip install -e '.[plot]')"))
    return 0


def _module(name: str) -> ModuleType:
    from .. import experiments
    try:
        return experiments.module(name)
    except Exception as e:
        raise UsageError(f"the experiment {name!r} is not available in this refnn "
                         f"({one_line(e)})") from None


def _sweep(name: str, args: argparse.Namespace) -> ExperimentResult:
    """Every seed's tasks through refnn.experiments.sweep; the result, saved when --out."""
    from ..experiments import results, sweep
    seeds = list(range(args.seed, args.seed + args.seeds))
    per_seed = sweep.collect(name, quick=args.quick, seeds=seeds, jobs=args.jobs,
                             scheduler=args.scheduler)
    settings = sweep.settings_of(name, args.quick)
    result = sweep.protocol(name).summarize(settings, per_seed)
    if args.out:
        path = results.save(result, per_seed, args.out, settings=settings,
                            sweep={"jobs": args.jobs, "scheduler": args.scheduler is not None})
        print(f"wrote {path} and its CSV table", flush=True)
    return result


def run(args: argparse.Namespace) -> int:
    from .. import experiments
    if args.regenerate_docs is not None:
        return _regenerate(args)
    if args.name is None:
        return _list()
    if args.name != ALL and args.name not in experiments.NAMES:
        raise UsageError(f"unknown experiment {args.name!r}; valid: "
                         f"{', '.join(experiments.NAMES)} (or {ALL})")
    names = experiments.NAMES if args.name == ALL else (args.name,)
    if args.plot and len(names) > 1:
        raise UsageError(f"--plot draws one experiment, not {ALL}")
    for name in names:
        _module(name)
    running.require_matplotlib(args.plot)
    swept = args.seeds > 1 or args.jobs > 1 or args.scheduler or args.out
    for name in names:
        if swept:
            result = _sweep(name, args)
        else:
            result = experiments.run(name, quick=args.quick, seed=args.seed)
        print(result)
        if args.plot:
            experiments.plot(result, args.plot)
            print(f"\nwrote {args.plot}")
    return 0
