"""The speed workloads at several thread settings, on an idle or a busy machine: what
`python -m refnn bench --threads 1,2 [--busy]` runs.

Each setting is measured in a fresh interpreter (the BLAS libraries read their thread count
once, when they are loaded): a number T runs refnn's steps on T threads and gives NumPy's BLAS
and PyTorch T threads too (REFNN_NUM_THREADS, OPENBLAS_NUM_THREADS, OMP_NUM_THREADS,
MKL_NUM_THREADS); "default" clears them all, so that every library does what it does when
nobody sets anything. Each interpreter prints its tables as refnn.benchmarking formats them
and hands its figures back; then the scaling is printed: refnn's samples/s at each setting and
its ratio to the first.

With more than one setting the interpreters alternate: every setting once, then every
setting again (PASSES passes of REPEAT rounds each), and each implementation keeps its best
rate over the passes, as the rounds inside one interpreter do. A slow change of the machine
(another tenant's job starting, the busy process moving between cores) then reaches every
setting, instead of all the rounds of one of them; the tables are printed once, at the end.

--busy N starts N processes that each keep one core busy (a loop in Python, at normal
priority) for the whole measurement: the condition of a notebook beside a running job. The
ratios are measured with the same busy processes running throughout.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO, Union

from .benchmarking import THREAD_VARIABLES, WORKLOADS, format_result, run_workload
from .kernels.threads import APART_NS

SETTING_VARIABLES = ("REFNN_NUM_THREADS",) + THREAD_VARIABLES
BUSY_LOOP = "while True: pass"
PASSES = 2          # with several settings: each is measured this many times, alternating ...
REPEAT = 3          # ... in interpreters timing REPEAT rounds (one setting alone: one of 5)

Setting = Union[int, str]       # a thread count, or "default"
Result = dict[str, Any]         # refnn.benchmarking.run_workload's


def parse_settings(text: str) -> list[Setting]:
    """'1,2' -> [1, 2]; 'default,1' -> ['default', 1]. ValueError names what is wrong."""
    settings: list[Setting] = []
    for part in str(text).split(","):
        part = part.strip().lower()
        if part == "default":
            settings.append("default")
        elif part.isdigit() and int(part) >= 1:
            settings.append(int(part))
        else:
            raise ValueError(f"threads must be whole numbers >= 1 or 'default', separated by "
                             f"commas, got {text!r}")
    if len(set(settings)) != len(settings):
        raise ValueError(f"threads lists a setting twice: {text!r}")
    return settings


def setting_environment(setting: Setting, environ: Mapping[str, str] | None = None
                        ) -> dict[str, str]:
    """The environment of the interpreter that measures `setting`."""
    env = {k: v for k, v in (os.environ if environ is None else environ).items()
           if k not in SETTING_VARIABLES}
    if setting != "default":
        env.update({v: str(setting) for v in SETTING_VARIABLES})
    return env


@contextlib.contextmanager
def busy_cores(n: int) -> Iterator[list[subprocess.Popen[bytes]]]:
    """n processes, each keeping one core busy, for the duration of the with block."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY_LOOP], stdin=subprocess.DEVNULL)
             for _ in range(n)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def _cpu_seconds(pids: Iterable[int] = ()) -> tuple[float | None, float, float]:
    """(seconds the whole machine's CPUs were busy, seconds the processes `pids` used, seconds
    this process's finished children used); the first is None where /proc/stat is missing."""
    import resource
    tick = os.sysconf("SC_CLK_TCK")
    try:
        with open("/proc/stat", encoding="ascii") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        machine = (sum(fields) - fields[3] - fields[4]) / tick          # less idle and iowait
    except (OSError, ValueError, IndexError):
        machine = None
    own = 0.0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", encoding="ascii") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            own += (int(stat[11]) + int(stat[12])) / tick                 # utime + stime
        except (OSError, ValueError, IndexError):
            pass
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return machine, own, children.ru_utime + children.ru_stime


def measure_setting(workloads: Sequence[str], setting: Setting, out: TextIO | None,
                    quick: bool = False, seed: int = 0, busy_pids: Sequence[int] = (),
                    repeat: int | None = None) -> list[Result]:
    """Run the workloads in a fresh interpreter at `setting` (`repeat` rounds each; None: the
    benchmark's own number), passing its tables through to `out` (None: not shown); returns
    its results (refnn.benchmarking.run_workload's dicts), each with "others": the cores other
    processes kept busy meanwhile, on average (None where not known)."""
    import time
    start, wall = _cpu_seconds(busy_pids), time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        results = os.path.join(folder, "results.json")
        cmd = [sys.executable, "-m", "refnn.scaling", "--results", results,
               "--seed", str(seed)] + (["--quick"] if quick else []) + (
               [] if repeat is None else ["--repeat", str(repeat)]) + list(workloads)
        proc = subprocess.run(cmd, env=setting_environment(setting), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
        shown = out if out is not None else (sys.stderr if proc.returncode else None)
        if shown is not None:                   # a failed interpreter says why, always
            shown.write(proc.stdout)
            shown.flush()
        if proc.returncode:
            raise RuntimeError(f"the benchmark process for threads={setting} failed (exit "
                               f"{proc.returncode})")
        with open(results, encoding="utf-8") as f:
            measured = json.load(f)
    end, wall = _cpu_seconds(busy_pids), time.perf_counter() - wall
    others = None
    if start[0] is not None and end[0] is not None:
        others = max(0.0, (end[0] - start[0]) - (end[1] - start[1]) - (end[2] - start[2])) / wall
    for r in measured:
        r["others"] = others
    return measured


def best_of_passes(passes: Sequence[Sequence[Result]]) -> list[Result]:
    """One setting's results from several passes, workload by workload: each rate (every
    implementation's, the cap's) the best of the passes, the memory peak the largest; where
    the epoch went, from the pass in which refnn was fastest; "others" the passes' mean; the
    cores' round trips, all the passes' together."""
    merged = []
    for results in zip(*passes):
        best = dict(max(results, key=lambda r: r["rates"].get("refnn", 0.0)))
        best["rates"] = {impl: max(r["rates"][impl] for r in results)
                         for impl in best["rates"] if all(impl in r["rates"] for r in results)}
        for key in ("cap", "fit_peak_mib"):
            if all(key in r for r in results):
                best[key] = max(r[key] for r in results)
        best["round_trip_ns"] = [t for r in results for t in r.get("round_trip_ns", [])]
        others = [r.get("others") for r in results]
        best["others"] = (None if any(o is None for o in others)
                          else sum(others) / len(others))
        merged.append(best)
    return merged


def _span(values: Sequence[float], unit: str) -> str:
    """'27 ns' for one value (or all alike), '27-64 ns' for the least and the most"""
    low, high = f"{min(values):.0f}", f"{max(values):.0f}"
    return f"{low} {unit}" if low == high else f"{low}-{high} {unit}"


def format_scaling(measured: Mapping[Setting, Sequence[Result]], busy: int = 0) -> str:
    """refnn's samples/s per workload and setting, and each setting's ratio to the first."""
    settings = list(measured)
    condition = (f"beside {busy} process{'es' if busy != 1 else ''} keeping a core busy"
                 if busy else "with no busy process started")
    lines = [f"refnn's scaling {condition} (samples/s; ratio to threads={settings[0]}):"]
    names = [r["name"] for r in measured[settings[0]]]
    for i, name in enumerate(names):
        base = measured[settings[0]][i]["rates"]["refnn"]
        cells = []
        for s in settings:
            r = measured[s][i]
            label = f"default ({r['refnn_threads']})" if s == "default" else str(s)
            rate = r["rates"]["refnn"]
            cells.append(f"threads={label} {rate:,.0f} ({rate / base:.2f}x)")
        lines.append(f"  {name}: " + ", ".join(cells))
    others = [measured[s][0]["others"] for s in settings]
    if all(o is not None for o in others):
        lines.append("  other processes kept " + ", ".join(
            f"{o:.2f}" for o in others) + " cores busy on average meanwhile (" + ", ".join(
            f"threads={s}" for s in settings) + ")")
    trips = [[t for r in measured[s] for t in r.get("round_trip_ns", [])] for s in settings]
    if all(trips):
        lines.append("  a cache line from one core to another and back took " + ", ".join(
            _span(t, "ns") for t in trips) + " between the runs (" + ", ".join(
            f"threads={s}" for s in settings) + "; kernels.threads.core_round_trip)")
        apart = [sum(t > APART_NS for t in ts) for ts in trips]
        if any(apart):
            lines.append(f"  the cores were apart (over {APART_NS:.0f} ns) in " + ", ".join(
                f"{a} of {len(ts)}" for a, ts in zip(apart, trips)) + " of those probes: a step "
                "on two threads gains little while they are (README: Threads)")
    return "\n".join(lines)


def run_workloads(workloads: Iterable[str] | None = None, threads: Iterable[Setting] = (1,),
                  out: TextIO | None = None, quick: bool = False, seed: int = 0, busy: int = 0
                  ) -> dict[Setting, list[Result]]:
    """Measure the workloads (default all) at each thread setting (see parse_settings), each
    in its own interpreter, beside `busy` busy processes; print the tables, then the scaling
    when there is more than one setting. Returns {setting: [result, ...]}."""
    out = out or sys.stdout
    workloads = list(workloads or WORKLOADS)
    for name in workloads:
        if name not in WORKLOADS:
            raise ValueError(f"unknown workload {name!r}; valid: {', '.join(WORKLOADS)}")
    settings = parse_settings(",".join(str(t) for t in threads))
    measured: dict[Setting, list[Result]] = {}
    with busy_cores(busy) as procs:
        pids = [p.pid for p in procs]
        if len(settings) == 1 or quick:             # nothing to alternate with, or a quick look
            for setting in settings:
                measured[setting] = measure_setting(workloads, setting, out, quick, seed, pids)
        else:
            passes: dict[Setting, list[list[Result]]] = {s: [] for s in settings}
            for i in range(PASSES):                 # 1, 2, 1, 2: the settings alternate
                for setting in settings:
                    out.write(f"measuring threads={setting} (pass {i + 1} of {PASSES}) ...\n")
                    out.flush()
                    passes[setting].append(measure_setting(workloads, setting, None, quick,
                                                           seed, pids, REPEAT))
            out.write("\n")
            for setting in settings:
                measured[setting] = best_of_passes(passes[setting])
                for r in measured[setting]:
                    out.write(format_result(r) + "\n\n")
    if len(settings) > 1 or busy:
        out.write(format_scaling(measured, busy) + "\n")
    return measured


def main(argv: Sequence[str] | None = None) -> int:
    """The measuring interpreter: the workloads at the thread setting of its environment."""
    import argparse
    from . import get_num_threads
    parser = argparse.ArgumentParser(prog="python -m refnn.scaling")
    parser.add_argument("workloads", nargs="*", default=None)
    parser.add_argument("--results", required=True)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    results = []
    repeat = {} if args.repeat is None else {"repeat": args.repeat}
    for name in args.workloads or list(WORKLOADS):
        r = run_workload(name, threads=get_num_threads(), quick=args.quick, seed=args.seed,
                         **repeat)
        r["refnn_threads"] = get_num_threads()
        print(format_result(r) + "\n", flush=True)
        results.append(r)
    with open(args.results, "w", encoding="utf-8") as f:
        json.dump(results, f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
