"""Depth: plain against residual networks of growing depth on one task, with the controls that
say what the skip connections do.

A plain network passes its signal through every layer in turn, forward and backward; past some
depth the signal that reaches the far end is too small (or too distorted) to learn from, and
adding layers makes training worse instead of better. A residual block computes h' = h + F(h),
so the identity path carries the signal through any number of blocks and the deep network can
do at least what the shallower one does (F = 0).

The measurement: the two-spirals task (`n_samples` points, inputs scaled into [-2, 2]), width
`width`, relu, Adam, the same data, seed and number of epochs for every network. A network of
depth L has L Dense layers, the 1-unit sigmoid output included. The arms:
    plain          Dense(w, relu) x (L - 1), Dense(1, sigmoid), glorot_uniform kernels
    residual       Dense(w, relu), then (L - 2) / 2 blocks Residual([Dense(w, relu), Dense(w)]),
                   Dense(1, sigmoid)                      (the same number of layers and weights)
    skips_removed  the residual network's own layers, with its initial weights, one after the
                   other without the skips: relu and linear layers alternating
    batch_norm     plain, with batch normalisation between h and relu in every hidden layer
    he             plain, with he_normal hidden kernels (Var W = 2 / fan_in)
One task is one (arm, depth) network. Reported per arm and depth, over the seeds (each seed its
own spirals, initial weights and batch order): the training loss and accuracy after training
(mean and 95 % interval), and the fraction of seeds whose network "learns", i.e. reaches
training accuracy `learned_acc` (whether a deep plain network learns depends on the seed).
"""
from __future__ import annotations

import math
import sys
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import datasets
from ..layers import Dense
from ..model import Sequential
from ..optimizers import Adam
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, sweep
from ._common import deep_network, with_initializer

Findings = dict[str, Any]         # an ExperimentResult's findings

NAME = "depth"
CLAIM = ("Past some depth a plain network stops learning (a deeper one trains worse than a "
         "shallower one), while a residual network of the same depth keeps learning.")

ARMS = ("plain", "residual", "skips_removed", "batch_norm", "he")

QUICK = {"depths": [4, 24], "width": 32, "n_samples": 200, "epochs": 40, "batch_size": 16,
         "learning_rate": 3e-3, "learned_acc": 0.9}
FULL = {"depths": [4, 8, 16, 24, 32, 48], "width": 32, "n_samples": 500, "epochs": 100,
        "batch_size": 16, "learning_rate": 1e-3, "learned_acc": 0.9}


def spirals(n_samples: int, seed: int) -> tuple[NDArray[Any], NDArray[np.float64]]:
    X, y = datasets.spirals(n_samples, seed=seed)
    return X / 2.5, y.astype(np.float64)[:, None]


def without_skips(residual: Sequential) -> Sequential:
    """A plain Sequential of the residual network's own Dense layers (the same units,
    activations and weights), one after the other: h' = F(h) where it had h' = h + F(h)."""
    layers: list[Dense] = []
    for layer in residual.layers:
        for dense in getattr(layer, "layers", [layer]):
            layers.append(Dense(dense.units, activation=dense.activation))
    model = Sequential([Dense(layers[0].units, activation=layers[0].activation,
                              input_shape=residual.layers[0].input_shape)] + layers[1:],
                       seed=residual.seed, dtype="float64")
    model.set_weights(residual.get_weights())
    return model


def build(arm: str, depth: int, width: int, seed: int) -> Sequential:
    """`depth` Dense layers in all (the output included), float64."""
    if depth < 2 or depth % 2:
        raise ValueError(f"depth must be an even number >= 2, got {depth}")
    if arm not in ARMS:
        raise ValueError(f"arm must be one of {ARMS}, got {arm!r}")
    if arm in ("residual", "skips_removed"):
        model = deep_network(2, depth, width, "relu", residual=True, seed=seed)
        return model if arm == "residual" else without_skips(model)
    model = deep_network(2, depth, width, "relu", batch_norm=arm == "batch_norm", seed=seed)
    return with_initializer(model, "he_normal", seed) if arm == "he" else model


def tasks(settings: Settings) -> list[Task]:
    """One task per (arm, depth)."""
    return [{"arm": arm, "depth": d} for arm in ARMS for d in settings["depths"]]


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    """Train one network on the seed's spirals: its final training loss and accuracy, whether
    it learned, and its loss curve."""
    X, y = spirals(s["n_samples"], seed)
    model = build(task["arm"], task["depth"], s["width"], seed)
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=s["learning_rate"]),
                  metrics=["acc"])
    history = model.fit(X, y, batch_size=s["batch_size"], epochs=s["epochs"], verbose=0)
    loss, acc = cast("list[float]", model.evaluate(X, y, batch_size=1024, verbose=0))
    return {"loss": float(loss), "acc": float(acc), "learned": float(acc >= s["learned_acc"]),
            "curve": [float(v) for v in history.history["loss"]]}


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Rows: per depth, for each arm the loss and accuracy (mean ± interval) and the fraction of
    seeds that learned. Findings: ARM_DEPTH_loss / _acc (and _ci), ARM_DEPTH_learned (the
    fraction), ARM_deepest_all_learning (the deepest depth at which every seed learned, 0 if
    none). series: per arm and depth the mean loss curve."""
    seeds = list(per_seed)
    findings: Findings = {}
    series: dict[str, Any] = {}
    for i, (task, v) in enumerate(sweep.by_task(per_seed)):
        key = f"{task['arm']}_{task['depth']}"
        findings.update(sweep.findings_of(f"{key}_loss", v["loss"]))
        findings.update(sweep.findings_of(f"{key}_acc", v["acc"]))
        findings[f"{key}_learned"] = float(np.mean(v["learned"]))
        curves = np.array([per_seed[seed][i][1]["curve"] for seed in seeds])
        series[f"{task['arm']}/{task['depth']}"] = [float(x) for x in curves.mean(axis=0)]
    rows = []
    for d in s["depths"]:
        row: list[Any] = [d]
        for arm in ARMS:
            row += [findings[f"{arm}_{d}_acc"], findings[f"{arm}_{d}_acc_ci"],
                    findings[f"{arm}_{d}_learned"]]
        rows.append(row)
    loss_rows = [[d] + [c for arm in ARMS for c in (findings[f"{arm}_{d}_loss"],
                                                     findings[f"{arm}_{d}_loss_ci"])]
                 for d in s["depths"]]
    for arm in ARMS:
        every = [d for d in s["depths"] if findings[f"{arm}_{d}_learned"] == 1.0]
        findings[f"{arm}_deepest_all_learning"] = max(every) if every else 0
    series["tables"] = {"loss": {"columns": ["depth"] + sweep.interval_columns(
        *[f"{arm}_loss" for arm in ARMS]), "rows": loss_rows}}
    series["per_seed"] = sweep.per_seed_series(per_seed)
    settings = {**s, "seeds": seeds, "optimizer": "adam", "dtype": "float64",
                "data": "spirals / 2.5", "arms": list(ARMS)}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    columns = ["depth"]
    for arm in ARMS:
        columns += [f"{arm}_acc", f"{arm}_acc ±", f"{arm}_learned"]
    return ExperimentResult(name=NAME, claim=CLAIM, columns=columns, rows=rows,
                            findings=findings, conclusion=_conclusion(findings, s, seeds),
                            settings=settings, series=series)


def _ci(f: Findings, key: str, digits: int = 3) -> str:
    half = f[f"{key}_ci"]
    return f"{f[key]:.{digits}g}" + ("" if math.isnan(half) else f" ± {half:.2g}")


def _seeds_text(f: Findings, key: str, n: int) -> str:
    return f"{round(f[key] * n)} of {n} seeds"


def _conclusion(f: Findings, s: Settings, seeds: list[int]) -> str:
    n, deepest, shallow = len(seeds), s["depths"][-1], s["depths"][0]
    return (
        f"Training accuracy (≥ {s['learned_acc']} counts as learning) at depth {shallow}: plain "
        f"{_ci(f, f'plain_{shallow}_acc')}; at depth {deepest}: plain "
        f"{_ci(f, f'plain_{deepest}_acc')} (learns in "
        f"{_seeds_text(f, f'plain_{deepest}_learned', n)}), residual "
        f"{_ci(f, f'residual_{deepest}_acc')} ("
        f"{_seeds_text(f, f'residual_{deepest}_learned', n)}), the residual network's layers "
        f"without the skips {_ci(f, f'skips_removed_{deepest}_acc')} ("
        f"{_seeds_text(f, f'skips_removed_{deepest}_learned', n)}), plain with batch "
        f"normalisation {_ci(f, f'batch_norm_{deepest}_acc')} ("
        f"{_seeds_text(f, f'batch_norm_{deepest}_learned', n)}), plain with He initialisation "
        f"{_ci(f, f'he_{deepest}_acc')} ({_seeds_text(f, f'he_{deepest}_learned', n)}). The "
        f"deepest depth at which every seed learns: "
        + ", ".join(f"{arm} {f[f'{arm}_deepest_all_learning'] or 'none'}" for arm in ARMS) + ".")


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    deepest, shallow = s["depths"][-1], s["depths"][0]

    def learns(arm: str) -> bool:
        return f[f"{arm}_{deepest}_learned"] == 1.0

    def fails(arm: str) -> bool:
        return f[f"{arm}_{deepest}_learned"] == 0.0
    shows = []
    if fails("plain") and f[f"plain_{shallow}_learned"] == 1.0:
        shows.append(f"The plain network learns at depth {shallow} on every seed and at depth "
                     f"{deepest} on none.")
    else:
        shows.append(f"The plain network's cliff depends on the seed: at depth {deepest} "
                     f"{round(f[f'plain_{deepest}_learned'] * len(s['seeds']))} of "
                     f"{len(s['seeds'])} seeds learn.")
    if learns("residual"):
        shows.append(f"The residual network learns at depth {deepest} on every seed.")
    if learns("skips_removed"):
        shows.append("So do the residual network's own layers without the skips: at these "
                     "depths it is not the identity path that rescues the residual network, "
                     "but its architecture (every other layer linear, so half the relus) and "
                     "its initial weights; the plain network's failure is one of its "
                     "all-relu, glorot-initialised stack.")
    elif fails("skips_removed"):
        shows.append(f"The residual network's own layers without the skips do not learn at "
                     f"depth {deepest}: there the skips make the difference.")
    rescued = [a for a in ("batch_norm", "he") if learns(a)]
    if rescued:
        shows.append(" and ".join({"batch_norm": "batch normalisation",
                                   "he": "He initialisation"}[a] for a in rescued)
                     + f" rescue{'s' if len(rescued) == 1 else ''} the plain network at depth "
                     f"{deepest}.")
    for arm, name in (("batch_norm", "Batch normalisation"), ("he", "He initialisation")):
        above = (f[f"{arm}_{deepest}_acc"] - f[f"{arm}_{deepest}_acc_ci"]
                 > f[f"plain_{deepest}_acc"] + f[f"plain_{deepest}_acc_ci"])
        if above and not learns(arm):
            shows.append(f"{name} lifts the plain network's accuracy at depth {deepest} above "
                         f"chance (intervals apart) without making it learn on every seed.")
    loss = result.series.get("tables", {}).get("loss")
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** He, Zhang, Ren & Sun (2016), *Deep residual learning for image "
        "recognition*: plain networks deeper than about 20 layers train worse than shallower "
        "ones (the degradation problem), residual networks do not. The controls follow the "
        "usual explanations: Ioffe & Szegedy (2015) on batch normalisation, He et al. (2015) on "
        "initialisation for relu.", "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 5 --out docs/results`", "",
        f"**Setup.** Two spirals ({s['n_samples']} points, inputs / 2.5), width {s['width']}, "
        f"relu, Adam (η = {s['learning_rate']}), {s['epochs']} epochs of batches of "
        f"{s['batch_size']}, float64; depths {s['depths']} Dense layers (the sigmoid output "
        f"included); arms: plain (glorot_uniform), residual (blocks Residual([Dense(w, relu), "
        f"Dense(w)])), skips_removed (the residual network's layers and initial weights, no "
        f"skips), batch_norm (plain with batch normalisation), he (plain with he_normal "
        f"kernels). Seeds {s['seeds']} (data, initial weights, batch order). Table: training "
        f"accuracy (mean ± 95 % interval) and the fraction of seeds reaching {s['learned_acc']}.",
        "",
        markdown_table(result.columns, result.rows), "",
        "Training loss (mean ± 95 % interval):", "",
        markdown_table(loss["columns"], loss["rows"]) if loss else "", "",
        f"**Result.** {result.conclusion}", "",
        f"**What it shows.** {' '.join(shows)}", "",
        "**Differences from the paper.** Fully connected networks of width "
        f"{s['width']} on a 2-D toy task with {s['n_samples']} points, training loss only (the "
        "paper's degradation is also a training-error effect); Adam instead of SGD with "
        "momentum; no batch normalisation inside the residual blocks.", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """Final training accuracy against depth per arm (left) and the plain and residual mean
    loss curves (right)."""
    from ..plotting import pyplot
    plt = pyplot()
    depths = result.settings["depths"]
    colours = {"plain": "tab:red", "residual": "tab:blue", "skips_removed": "tab:purple",
               "batch_norm": "tab:green", "he": "tab:orange"}
    f = result.findings
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for arm in ARMS:
        mean = np.array([f[f"{arm}_{d}_acc"] for d in depths])
        half = np.nan_to_num(np.array([f[f"{arm}_{d}_acc_ci"] for d in depths]))
        left.errorbar(depths, mean, yerr=half, fmt="o-", color=colours[arm], label=arm,
                      capsize=3)
    left.set_xlabel("depth (Dense layers)")
    left.set_ylabel(f"training accuracy after {result.settings['epochs']} epochs")
    left.legend(fontsize=7)
    left.grid(True, alpha=0.3)
    shades = np.linspace(0.35, 1.0, len(depths))
    for arm, cmap in (("plain", plt.cm.Reds), ("residual", plt.cm.Blues)):
        for depth, shade in zip(depths, shades):
            right.plot(range(1, result.settings["epochs"] + 1), result.series[f"{arm}/{depth}"],
                       color=cmap(shade), label=f"{arm} {depth}")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss (mean over seeds)")
    right.set_yscale("log")
    right.legend(fontsize=6, ncol=2)
    right.grid(True, alpha=0.3)
    fig.suptitle(f"two spirals, width {result.settings['width']}, relu")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
