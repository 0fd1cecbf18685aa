"""The lottery ticket: a sub-network found by iterative magnitude pruning, rewound to its
original initial weights, trains as well as the dense network (Frankle & Carbin, 2019).

Iterative magnitude pruning (IMP) with rewinding, for one seed:
  level 0  train the dense network from its initial weights W_0 (and biases b_0) to W_T^0;
  level k  prune, in each hidden kernel, the fraction `rate` of the weights still alive with the
           smallest |W_T^(k-1)| (the output kernel at rate / 2, as in the paper; biases are never
           pruned): mask m_k; rewind the survivors to W_0 (the ticket W_0 * m_k) and train it
           with the same optimizer, batches and epochs to W_T^k.
After `levels` rounds a fraction (1 - rate)^k of the hidden kernels' weights is left. At each
level k >= 1 four networks are measured on the test set:
  pruned          W_T^(k-1) * m_k, not retrained
  ticket          W_0 * m_k, retrained                (the winning ticket)
  random_reinit   W_0' * m_k with a fresh initialisation W_0', retrained      (control: the init)
  random_mask     W_0 * m' with a random mask m' of the same size per layer, retrained
                                                                              (control: the mask)
The paper's claim is that the ticket matches the dense network where both controls fall behind.
Masks are Dense.set_kernel_mask: a pruned weight is exactly 0 and stays so through training.
Data: a Fashion-MNIST subset (a generated stand-in when it is not installed; settings["dataset"]).
Tasks are the levels; each recomputes (or finds cached) the masks of the levels before it.
"""
from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..layers import Dense
from ..model import Sequential
from ..optimizers import Adam
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, sweep
from ._common import classifier, fashion_mnist_subset

Findings = dict[str, Any]         # an ExperimentResult's findings
Mask = NDArray[np.bool_]          # a kernel's mask: True where the weight is kept

NAME = "lottery_ticket"
CLAIM = ("A network pruned to a small fraction of its weights and rewound to its original "
         "initialisation (a winning ticket) retrains to the accuracy of the dense network, while "
         "the same sparse architecture with a new random initialisation trains worse.")

QUICK = {"n_train": 1500, "n_test": 2000, "hidden": [64], "epochs": 6, "batch_size": 50,
         "learning_rate": 1.2e-3, "rate": 0.5, "levels": 3}
FULL = {"n_train": 10000, "n_test": 5000, "hidden": [300, 100], "epochs": 12, "batch_size": 60,
        "learning_rate": 1.2e-3, "rate": 0.4, "levels": 6}
ARMS = ("ticket", "random_reinit", "random_mask")


def network(hidden: Sequence[int], seed: int) -> Sequential:
    """784 -> hidden (relu) -> 10 (softmax); see _common.classifier."""
    return classifier(784, hidden, seed)


def prune_further(kernels: Sequence[NDArray[Any]], masks: Sequence[Mask], rate: float
                  ) -> list[Mask]:
    """Per kernel: the mask after pruning the fraction `rate` (the last kernel, the output
    layer's, at rate / 2) of the weights still alive (mask True) with the smallest |w|. Ties
    broken by position."""
    out = []
    for i, (W, mask) in enumerate(zip(kernels, masks)):
        p = rate / 2 if i == len(kernels) - 1 else rate
        alive = np.flatnonzero(mask.ravel())
        n_pruned = int(round(p * alive.size))
        order = alive[np.argsort(np.abs(W.ravel()[alive]), kind="stable")]
        new = mask.ravel().copy()
        new[order[:n_pruned]] = False
        out.append(new.reshape(W.shape))
    return out


def random_masks(masks: Sequence[Mask], rng: np.random.Generator) -> list[Mask]:
    """Masks keeping as many weights per kernel as `masks`, at random positions."""
    out = []
    for m in masks:
        new = np.zeros(m.size, dtype=bool)
        new[rng.choice(m.size, int(m.sum()), replace=False)] = True
        out.append(new.reshape(m.shape))
    return out


def dense_layers(model: Sequential) -> list[Dense]:
    return [layer for layer in model.layers if isinstance(layer, Dense)]


def apply_masks(model: Sequential, masks: Sequence[Mask]) -> None:
    for layer, mask in zip(dense_layers(model), masks):
        layer.set_kernel_mask(mask)


def train(model: Sequential, x: ArrayLike, y: ArrayLike, s: Settings) -> Sequential:
    """Adam, fixed epochs and batch size (the batch order follows the model's seed: the dense,
    rewound and random networks, all made with one seed, see the same batches)."""
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=Adam(learning_rate=s["learning_rate"]))
    model.fit(x, y, batch_size=s["batch_size"], epochs=s["epochs"], verbose=0)
    return model


def accuracy(model: Sequential, x: ArrayLike, y: NDArray[Any]) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=2048), axis=1) == y))


def kernels_of(model: Sequential) -> list[NDArray[Any]]:
    return [layer.W.copy() for layer in dense_layers(model)]


def pruned_weights_zero(model: Sequential, masks: Sequence[Mask]) -> bool:
    """True when every pruned kernel entry is exactly 0."""
    return all(not np.any(layer.W[~m]) for layer, m in zip(dense_layers(model), masks))


@functools.lru_cache(maxsize=4)
def _data(n_train, n_test, seed):
    x, y, x_test, y_test, description = fashion_mnist_subset(n_train, n_test, seed)
    out = x.astype(np.float32), y, x_test.astype(np.float32), y_test
    for a in out:                           # shared by the cache: read-only
        a.setflags(write=False)
    return (*out, description)


def _trained(s: Settings, seed: int, masks: Sequence[Mask] | None,
             initial: Sequence[NDArray[Any]]) -> Sequential:
    """A network with weights `initial`, pruned by `masks` (None: dense), trained."""
    model = network(s["hidden"], seed)
    model.set_weights(initial)
    if masks is not None:
        apply_masks(model, masks)
    x, y, _, _, _ = _data(s["n_train"], s["n_test"], seed)
    return train(model, x, y, s)


@functools.lru_cache(maxsize=16)
def _imp(settings_json: str, seed: int, level: int
         ) -> tuple[list[Mask] | None, list[NDArray[Any]], list[NDArray[Any]]]:
    """Level `level` of the IMP chain: (mask m_k or None, the ticket's trained kernels W_T^k,
    its trained weights). Cached, so that a serial sweep trains each level once."""
    s = json.loads(settings_json)
    initial = network(s["hidden"], seed).get_weights()
    masks: list[Mask] | None = None
    if level == 0:
        masks = None
    else:
        previous, kernels, _ = _imp(settings_json, seed, level - 1)
        if previous is None:
            previous = [np.ones(W.shape, dtype=bool) for W in kernels]
        masks = prune_further(kernels, previous, s["rate"])
    model = _trained(s, seed, masks, initial)
    return masks, kernels_of(model), model.get_weights()


def tasks(settings: Settings) -> list[Task]:
    """One task per pruning level (0: the dense network)."""
    return [{"level": k} for k in range(settings["levels"] + 1)]


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    """Test accuracies at one level: the ticket, its two controls and the pruned network
    before retraining (the dense network's at level 0)."""
    key = json.dumps(s, sort_keys=True)
    k = task["level"]
    x, y, x_test, y_test, _ = _data(s["n_train"], s["n_test"], seed)
    masks, _, weights = _imp(key, seed, k)
    model = network(s["hidden"], seed)
    model.set_weights(weights)
    ticket = accuracy(model, x_test, y_test)
    if masks is None:                       # level 0, the dense network; which data it was
        return {"kept": 1.0, "ticket": ticket, "pruned": ticket, "random_reinit": ticket,
                "random_mask": ticket, "train_accuracy": accuracy(model, x, y),
                "dataset": _data(s["n_train"], s["n_test"], seed)[4]}
    n_kernel = sum(m.size for m in masks)
    out: TaskResult = {"kept": sum(int(m.sum()) for m in masks) / n_kernel, "ticket": ticket,
                       "train_accuracy": accuracy(model, x, y)}
    previous = network(s["hidden"], seed)                       # W_T^(k-1) * m_k, not retrained
    previous.set_weights(_imp(key, seed, k - 1)[2])
    apply_masks(previous, masks)
    out["pruned"] = accuracy(previous, x_test, y_test)
    initial = network(s["hidden"], seed).get_weights()
    fresh = network(s["hidden"], seed + 1000).get_weights()     # a fresh W_0'
    reinit = _trained(s, seed, masks, fresh)
    out["random_reinit"] = accuracy(reinit, x_test, y_test)
    shuffled = random_masks(masks, np.random.default_rng([seed, 11, k]))
    random_mask = _trained(s, seed, shuffled, initial)
    out["random_mask"] = accuracy(random_mask, x_test, y_test)
    out["pruned_weights_zero"] = float(pruned_weights_zero(model, masks)
                                       and pruned_weights_zero(reinit, masks)
                                       and pruned_weights_zero(random_mask, shuffled))
    return out


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


VALUES = ("ticket", "random_reinit", "random_mask", "pruned")


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Rows per level: the fraction kept and every arm's test accuracy, mean ± interval.
    Findings per level (by % of hidden weights pruned): each arm's accuracy, the ticket minus
    the dense network and minus each control (per seed, then mean and interval)."""
    seeds = list(per_seed)
    grouped = sweep.by_task(per_seed)
    dense = grouped[0][1]["ticket"]
    rows: list[list[Any]] = [["dense", 0.0, 1.0] + [c for k in VALUES
                                                     for c in sweep.cells(dense)]]
    findings: Findings = sweep.findings_of("dense_accuracy", dense)
    series: dict[str, Any] = {"kept": [], "pruned_percent": []}
    for arm in VALUES:
        series[arm] = []
    all_zero = True
    for task, v in grouped[1:]:
        k = task["level"]
        pct = int(round(100 * (1 - (1 - s["rate"]) ** k)))      # of the hidden kernels
        rows.append([f"level {k}", pct / 100, v["kept"][0]]
                    + [c for arm in VALUES for c in sweep.cells(v[arm])])
        for arm in VALUES:
            findings.update(sweep.findings_of(f"{arm}_{pct}_accuracy", v[arm]))
            series[arm].append(findings[f"{arm}_{pct}_accuracy"])
        findings.update(sweep.findings_of(
            f"ticket_{pct}_minus_dense", [a - b for a, b in zip(v["ticket"], dense)]))
        findings[f"ticket_{pct}_vs_dense"] = sweep.sign_of(findings, f"ticket_{pct}_minus_dense")
        for control in ("random_reinit", "random_mask"):
            findings.update(sweep.findings_of(
                f"{control}_{pct}_minus_dense", [a - b for a, b in zip(v[control], dense)]))
            findings[f"{control}_{pct}_vs_dense"] = sweep.sign_of(
                findings, f"{control}_{pct}_minus_dense")
            findings.update(sweep.findings_of(
                f"ticket_{pct}_minus_{control}",
                [a - b for a, b in zip(v["ticket"], v[control])]))
            findings[f"ticket_{pct}_vs_{control}"] = sweep.sign_of(
                findings, f"ticket_{pct}_minus_{control}")
        series["kept"].append(v["kept"][0])
        series["pruned_percent"].append(pct)
        all_zero = all_zero and min(v["pruned_weights_zero"]) == 1.0
    findings["pruned_weights_exactly_zero"] = bool(all_zero)
    series["per_seed"] = sweep.per_seed_series(per_seed)
    description = per_seed[seeds[0]][0][1]["dataset"]
    settings = {**s, "seeds": seeds, "dataset": description, "optimizer": "adam",
                "loss": "sparse_categorical_crossentropy",
                "pruning": "iterative, layer-wise magnitude, rewound to W_0; output layer at "
                           "half the rate"}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["network", "hidden pruned", "weights kept"] + sweep.interval_columns(
            "ticket (rewound to W_0)", "random re-init", "random mask", "pruned, not retrained"),
        rows=rows, findings=findings, conclusion=_conclusion(findings, series),
        settings=settings, series=series)


def _ci(f, key, scale=1.0, digits=3):
    half = f[f"{key}_ci"]
    return f"{scale * f[key]:.{digits}g}" + ("" if math.isnan(half) else
                                             f" ± {scale * half:.2g}")


def _conclusion(f, series):
    parts = [f"Dense test accuracy {_ci(f, 'dense_accuracy')}."]
    words = {1: "above", -1: "below", 0: "not separable from"}
    for pct in series["pruned_percent"]:
        verdict = [f"{words[f[f'ticket_{pct}_vs_dense']]} the dense network"]
        for control, name in (("random_reinit", "random re-initialisation"),
                              ("random_mask", "a random mask")):
            verdict.append(f"{words[f[f'ticket_{pct}_vs_{control}']]} {name}")
        parts.append(
            f"{pct} % pruned: ticket {_ci(f, f'ticket_{pct}_accuracy')}, random re-init "
            f"{_ci(f, f'random_reinit_{pct}_accuracy')}, random mask "
            f"{_ci(f, f'random_mask_{pct}_accuracy')}, not retrained "
            f"{_ci(f, f'pruned_{pct}_accuracy')}: the ticket is {', '.join(verdict)} "
            f"(paired differences {_ci(f, f'ticket_{pct}_minus_dense', 100, 2)}, "
            f"{_ci(f, f'ticket_{pct}_minus_random_reinit', 100, 2)} and "
            f"{_ci(f, f'ticket_{pct}_minus_random_mask', 100, 2)} points).")
    parts.append("Pruned weights stayed exactly 0 through retraining."
                 if f["pruned_weights_exactly_zero"] else "Some pruned weights did not stay 0.")
    return " ".join(parts)


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    pcts = result.series["pruned_percent"]
    sparsest = pcts[-1]
    holds = [p for p in pcts if f[f"ticket_{p}_vs_dense"] >= 0]
    beats = [p for p in pcts if f[f"ticket_{p}_vs_random_reinit"] > 0
             and f[f"ticket_{p}_vs_random_mask"] > 0]
    fall = [p for p in pcts if f[f"random_reinit_{p}_vs_dense"] < 0
            and f[f"random_mask_{p}_vs_dense"] < 0]
    shows = (f"Over {len(s['seeds'])} seeds (differences paired by seed: the arms share the "
             f"data and the batch order) the ticket is not below the dense network at "
             f"{', '.join(map(str, holds)) or 'no'} % pruned"
             + (f" and below it at {', '.join(str(p) for p in pcts if p not in holds)} %"
                if len(holds) < len(pcts) else "")
             + f"; it is above both controls at {', '.join(map(str, beats)) or 'no'} % pruned, "
             f"and both controls are below the dense network at "
             f"{', '.join(map(str, fall)) or 'no'} % pruned. ")
    shows += ("Neither the mask with other initial weights nor the initial weights with "
              "another mask does as well: the mask and its own initial weights win "
              "together." if beats else
              "These seeds do not show the ticket beating its controls; no claim is made about "
              "where the quality lies.")
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** Frankle & Carbin (2019), *The lottery ticket hypothesis*: iterative "
        "magnitude pruning with rewinding to the original initialisation finds sub-networks "
        "(of LeNet-300-100 on MNIST, down to a few % of the weights) that train to the dense "
        "network's accuracy, while the same masks with random re-initialisation do not.", "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 5 --out docs/results`", "",
        f"**Setup.** {s['dataset']}; 784-{'-'.join(map(str, s['hidden']))}-10 relu network, "
        f"Adam (η = {s['learning_rate']}), {s['epochs']} epochs of batches of "
        f"{s['batch_size']}; {s['levels']} rounds of iterative magnitude pruning, each removing "
        f"{int(100 * s['rate'])} % of the surviving hidden weights (the output layer half as "
        f"many) and rewinding to W_0; controls at each level: the same mask with a fresh "
        f"initialisation (random re-init), and a random mask of the same size per layer with "
        f"the original W_0 (random mask). Seeds {s['seeds']} (data subset, initial weights, "
        "batch order).", "",
        markdown_table(result.columns, result.rows), "",
        f"**Result.** {result.conclusion}", "",
        f"**What it shows.** {shows}", "",
        f"**Differences from the paper.** A {s['n_train']}-image training set and "
        f"{s['epochs']} epochs instead of 60,000 images and early stopping; "
        f"{s['levels']} pruning rounds at {int(100 * s['rate'])} % instead of 20 % per round, "
        f"down to {100 - sparsest} % of the hidden weights; accuracy at the end of training, "
        "not at the early-stopping iteration.", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """Test accuracy (mean and 95 % interval over the seeds) against the fraction of weights
    kept: the ticket, its two controls, the pruned network before retraining, the dense one."""
    from ..plotting import pyplot
    plt = pyplot()
    f, s = result.findings, result.series
    kept = np.asarray(s["kept"]) * 100
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labels = {"ticket": "ticket: rewound to W_0 + retrained", "random_reinit":
              "random re-init + retrained", "random_mask": "random mask (W_0) + retrained",
              "pruned": "pruned, not retrained"}
    for arm, style in zip(VALUES, ("o-", "s-", "D-", "^:")):
        half = [f[f"{arm}_{p}_accuracy_ci"] for p in s["pruned_percent"]]
        half = [0.0 if math.isnan(h) else h for h in half]
        ax.errorbar(kept, s[arm], yerr=half, fmt=style, capsize=3, label=labels[arm])
    ax.axhline(f["dense_accuracy"], color="k", lw=1, ls="--", label="dense")
    ax.set_xscale("log")
    ax.set_xticks(kept, [f"{k:.3g}" for k in kept])
    ax.minorticks_off()
    ax.invert_xaxis()
    ax.set_xlabel("kernel weights kept (%)")
    ax.set_ylabel("test accuracy")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"Lottery ticket ({result.settings['dataset'].split(':')[0]}, "
                 f"784-{'-'.join(map(str, result.settings['hidden']))}-10, iterative magnitude "
                 f"pruning, {len(result.settings['seeds'])} seeds)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
