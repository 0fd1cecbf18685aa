"""python -m refnn experiment: the theory lab (refnn.experiments), one experiment or the list."""
import textwrap

from . import parsing, running
from .parsing import PROG, UsageError, one_line


def register(subparsers):
    p = parsing.add_command(
        subparsers, "experiment",
        help="run one of the theory lab's experiments (or list them)",
        description=(
            "The theory lab: the lecture's claims about deep networks as runnable "
            "experiments (refnn.experiments). Without a name, lists those available."),
        examples=["experiment                      list the experiments",
                  "experiment depth --quick",
                  "experiment vanishing_gradients --plot vanishing.png"])
    p.add_argument("name", nargs="?", help="the experiment to run")
    p.add_argument("--quick", action="store_true", help="small settings: seconds, not minutes")
    p.add_argument("--seed", type=parsing.nonnegative_int, default=0,
                   help="fixes every random choice")
    p.add_argument("--plot", metavar="FILE.png",
                   help="write the experiment's picture (needs matplotlib: "
                        "pip install -e '.[plot]')")
    p.set_defaults(run=run)


def available_experiments():
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


def run(args):
    from .. import experiments
    if args.name is None:
        found = available_experiments()
        if not found:
            print("no experiments are available yet")
            return 0
        print(f"experiments ({PROG} experiment NAME [--quick] [--plot FILE.png]):")
        width = max(len(name) for name, _ in found)
        for name, claim in found:
            print(textwrap.fill(claim, 100, initial_indent=f"  {name.ljust(width)}  ",
                                subsequent_indent=" " * (width + 4)))
        return 0
    if args.name not in experiments.NAMES:
        raise UsageError(f"unknown experiment {args.name!r}; valid: "
                         f"{', '.join(experiments.NAMES)}")
    try:
        experiments.module(args.name)
    except Exception as e:
        raise UsageError(f"the experiment {args.name!r} is not available in this refnn "
                         f"({one_line(e)})") from None
    running.require_matplotlib(args.plot)
    result = experiments.run(args.name, quick=args.quick, seed=args.seed)
    print(result)
    if args.plot:
        experiments.plot(result, args.plot)
        print(f"\nwrote {args.plot}")
    return 0
