"""Flat and sharp minima: the training loss around the minimum that small-batch and
large-batch training find (Keskar et al. 2017; the plots of Li et al. 2018), and how sensitive
the trained network is to its input.

The same network, from the same initial weights, is trained with a small and with a full-size
batch by the same optimizer (SGD with momentum, the same learning rate), each until its
training loss, evaluated on the whole training set at the end of an epoch, first falls to the
same target, so that the two minima are compared at the same height. A run that does not
reach the target within `max_epochs` is flagged (reached = 0): it is not at a minimum of that
height, so it is left out of the comparison and counted. One task is one batch size; each
seed draws its own data subset and initial weights, and the comparisons are paired by seed
(both runs of a seed must reach the target).

Three measures of the minimum theta*, all on the training loss L:
    sharpness (weight space, random directions)  L(t) = L(theta* + t d) along random Gaussian
             directions d normalised so that the picture does not depend on the weights' scale
             (a ReLU network computes the same function when one layer is scaled by c and the
             next by 1/c):
               filter  per unit j of each Dense layer, the column d[:, j] of the kernel
                       direction gets the norm of the column W[:, j] (Li et al.: per filter)
               layer   each kernel direction gets the norm of its kernel
             biases are not moved, as in Li et al.;  sharpness = mean over directions and
             t = +-1/4 of L(theta* + t d) - L(theta*)
    hessian_top  the largest eigenvalue of the Hessian of L at theta* (all weights), by power
             iteration on Hessian-vector products taken as central differences of gradients,
               H v ~ (grad L(theta* + step v) - grad L(theta* - step v)) / (2 step),  ||v|| = 1
             in float64 (Keskar et al. use a related maximum of L in a small box)
    input_sensitivity  the lecture's sense of flat: how much the output moves when the input
             does, E ||yhat(x + delta) - yhat(x)|| / ||delta|| over test images x and Gaussian
             perturbations delta of `input_noise` per pixel
The lecture's claim: large batches end in sharper minima, and those generalise worse.
Data: a Fashion-MNIST subset, 2x2 average-pooled to 14x14 inputs (a generated stand-in when
Fashion-MNIST is not installed; settings["dataset"]).
"""
from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..callbacks import Callback, Logs
from ..model import Sequential
from ..optimizers import SGD
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, sweep
from ._common import average_pool, classifier, fashion_mnist_subset

Findings = dict[str, Any]         # an ExperimentResult's findings

NAME = "flatness"
CLAIM = ("Small-batch training ends in flat minima and large-batch training in sharp ones "
         "(the loss rises faster along random directions around them), and the sharp minima "
         "generalise worse.")

T_SHARPNESS = 0.25

QUICK = {"n_train": 800, "n_test": 2000, "hidden": [48], "learning_rate": 0.05,
         "momentum": 0.9, "batch_sizes": [16, 800], "target_loss": 0.15, "max_epochs": 2000,
         "directions": 3, "points": 17, "power_iterations": 20, "hvp_step": 1e-4,
         "input_noise": 0.01, "input_draws": 4, "sensitivity_samples": 500}
FULL = {"n_train": 2000, "n_test": 5000, "hidden": [64, 32], "learning_rate": 0.05,
        "momentum": 0.9, "batch_sizes": [16, 2000], "target_loss": 0.1, "max_epochs": 2000,
        "directions": 8, "points": 41, "power_iterations": 50, "hvp_step": 1e-4,
        "input_noise": 0.01, "input_draws": 8, "sensitivity_samples": 2000}

MEASURES = ("sharpness_filter", "sharpness_layer", "hessian_top", "input_sensitivity")
SCORES = ("epochs", "train_loss", "train_acc", "test_loss", "test_acc")
ARMS = ("small", "large")


class StopAtLoss(Callback):
    """Stop training at the end of the first epoch whose logged `monitor` is <= target."""

    def __init__(self, target: float, monitor: str = "loss") -> None:
        self.target = target
        self.monitor = monitor
        self.epochs = 0
        self.reached = False

    def on_epoch_end(self, epoch: int, logs: Logs | None = None) -> None:
        self.epochs = epoch + 1
        if logs is not None and logs.get(self.monitor, np.inf) <= self.target:
            self.reached = True
            self.model.stop_training = True


def direction(weights: Sequence[NDArray[Any]], names: Sequence[str], rng: np.random.Generator,
              normalisation: str = "filter") -> list[NDArray[Any]]:
    """A random direction in weight space, normalised per filter (kernel column) or per layer
    to the weights' own norms; 0 for the biases."""
    d = []
    for w, name in zip(weights, names):
        if not name.endswith("kernel"):
            d.append(np.zeros_like(w))
            continue
        r = rng.normal(size=w.shape)
        if normalisation == "filter":           # column j: the incoming weights of unit j
            r *= np.linalg.norm(w, axis=0) / np.maximum(np.linalg.norm(r, axis=0), 1e-12)
        elif normalisation == "layer":
            r *= np.linalg.norm(w) / np.linalg.norm(r)
        else:
            raise ValueError(f"normalisation must be 'filter' or 'layer', got {normalisation!r}")
        d.append(r)
    return d


def loss_slice(model: Sequential, x: NDArray[Any], y: NDArray[Any], d: Sequence[NDArray[Any]],
               ts: Iterable[float]) -> list[float]:
    """L(theta* + t d) on (x, y) for each t; the model's weights are restored afterwards."""
    theta = model.get_weights()
    out = []
    try:
        for t in ts:
            model.set_weights([w + t * dw for w, dw in zip(theta, d)])
            scores = cast("list[float]",             # [loss, acc]: the model has a metric
                          model.evaluate(x, y, batch_size=x.shape[0], verbose=0))
            out.append(float(scores[0]))
    finally:
        model.set_weights(theta)
    return out


def hessian_top(model: Sequential, x: ArrayLike, y: ArrayLike, iterations: int, step: float,
                seed: int) -> float:
    """The largest eigenvalue of the Hessian of the training loss at the model's weights, by
    power iteration on finite-difference Hessian-vector products (float64 copy of the model)."""
    twin = model.astype("float64")
    theta = [w.astype(np.float64) for w in twin.get_weights()]
    x = np.asarray(x, dtype=np.float64)

    def gradient(v: list[NDArray[Any]], t: float) -> list[NDArray[Any]]:
        twin.set_weights([w + t * dw for w, dw in zip(theta, v)])
        return twin.loss_and_gradients(x, y)[1]

    rng = np.random.default_rng([seed, 23])
    v = [rng.normal(size=w.shape) for w in theta]
    eigenvalue = 0.0
    for _ in range(iterations):
        norm = math.sqrt(sum(float(np.sum(a * a)) for a in v))
        v = [a / norm for a in v]
        Hv = [(gp - gm) / (2 * step) for gp, gm in zip(gradient(v, step), gradient(v, -step))]
        eigenvalue = sum(float(np.sum(a * b)) for a, b in zip(v, Hv))    # v^T H v, ||v|| = 1
        v = Hv
    return eigenvalue


def input_sensitivity(model: Sequential, x: NDArray[Any], noise: float, draws: int,
                      seed: int) -> float:
    """E ||yhat(x + delta) - yhat(x)|| / ||delta||, delta ~ N(0, noise^2 I), over the rows of x
    and `draws` perturbations of each."""
    rng = np.random.default_rng([seed, 29])
    p = model.predict(x, batch_size=x.shape[0])
    ratios = []
    for _ in range(draws):
        delta = (noise * rng.standard_normal(x.shape)).astype(x.dtype)
        q = model.predict(x + delta, batch_size=x.shape[0])
        ratios.append(np.linalg.norm(q - p, axis=1) / np.linalg.norm(delta, axis=1))
    return float(np.mean(ratios))


def data(s: Settings, seed: int
         ) -> tuple[NDArray[Any], NDArray[np.int64], NDArray[Any], NDArray[np.int64], str]:
    """The seed's training and test images, 14x14, float32."""
    x, y, x_test, y_test, description = fashion_mnist_subset(s["n_train"], s["n_test"], seed)
    x, x_test = (average_pool(a, 2).astype(np.float32) for a in (x, x_test))
    return x, y, x_test, y_test, description


def tasks(settings: Settings) -> list[Task]:
    """One task per batch size: the small one, then the large one."""
    return [{"arm": arm, "batch_size": b} for arm, b in zip(ARMS, settings["batch_sizes"])]


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    """Train the seed's network with the task's batch size until the target loss; its scores,
    its three measures of flatness, and its loss slices (for the plot)."""
    x, y, x_test, y_test, _ = data(s, seed)
    batch_size = task["batch_size"]
    ts = slice_points(s)
    model = classifier(196, s["hidden"], seed)                  # 14x14 inputs
    model.compile(loss="sparse_categorical_crossentropy", metrics=["acc"],
                  optimizer=SGD(learning_rate=s["learning_rate"], momentum=s["momentum"]))
    # the training set as validation data: "val_loss" is the training loss at the epoch's end
    # (the epoch's mean "loss" runs ahead of it by a batch-size dependent amount)
    stop = StopAtLoss(s["target_loss"], monitor="val_loss")
    model.fit(x, y, batch_size=batch_size, epochs=s["max_epochs"], verbose=0, callbacks=[stop],
              validation_data=(x, y))
    train_loss, train_acc = cast("list[float]",
                                 model.evaluate(x, y, batch_size=x.shape[0], verbose=0))
    test_loss, test_acc = cast("list[float]", model.evaluate(x_test, y_test,
                                                             batch_size=x_test.shape[0],
                                                             verbose=0))
    out: TaskResult = {"reached": float(stop.reached), "epochs": stop.epochs,
                       "steps": stop.epochs * -(-x.shape[0] // batch_size),
                       "train_loss": float(train_loss), "train_acc": float(train_acc),
                       "test_loss": float(test_loss), "test_acc": float(test_acc)}
    names, theta = model.weight_names(), model.get_weights()
    i0 = int(np.argmin(np.abs(ts)))
    near = np.flatnonzero(np.isclose(np.abs(ts), T_SHARPNESS))
    for normalisation in ("filter", "layer"):
        rng = np.random.default_rng([seed, 17])      # the same draws for every batch size
        L = np.asarray([loss_slice(model, x, y, direction(theta, names, rng, normalisation), ts)
                        for _ in range(s["directions"])])
        out[f"sharpness_{normalisation}"] = float(np.mean(L[:, near] - L[:, [i0]]))
        out[f"slices_{normalisation}"] = L.tolist()
    out["hessian_top"] = hessian_top(model, x, y, s["power_iterations"], s["hvp_step"], seed)
    out["input_sensitivity"] = input_sensitivity(model, x_test[:s["sensitivity_samples"]],
                                                 s["input_noise"], s["input_draws"], seed)
    return out


def slice_points(s: Settings) -> NDArray[np.float64]:
    """t in [-1, 1] at s["points"] points, with -1/4, 0 and 1/4 among them."""
    return np.union1d(np.linspace(-1.0, 1.0, s["points"]), [-T_SHARPNESS, 0.0, T_SHARPNESS])


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


def _mean_ci(values: Sequence[float]) -> list[float]:
    """(mean, half-width) over the values, (NaN, NaN) when there are none."""
    return sweep.cells(values) if len(values) else [math.nan, math.nan]


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Rows: per batch size, over the runs that reached the target, mean ± interval of every
    score and measure, and how many runs missed the target. Findings: ARM_KEY (and _ci) over
    the reached runs; ARM_missed (the count); pairs (the seeds where both reached);
    large_over_small_KEY: the mean ± interval over those pairs of log(large / small) of each
    measure (> 0: the large-batch minimum is sharper), with _separated (interval excludes 0),
    and small_minus_large_test_acc / _test_loss, paired the same way."""
    seeds = list(per_seed)
    runs = {arm: [dict(per_seed[seed][i][1]) for seed in seeds] for i, arm in enumerate(ARMS)}
    reached = {arm: [r for r in runs[arm] if r["reached"]] for arm in ARMS}
    pairs = [k for k in range(len(seeds))
             if runs["small"][k]["reached"] and runs["large"][k]["reached"]]
    findings: Findings = {"pairs": len(pairs), "seeds": len(seeds)}
    rows = []
    for arm, batch_size in zip(ARMS, s["batch_sizes"]):
        findings[f"{arm}_batch_size"] = batch_size
        findings[f"{arm}_missed"] = len(runs[arm]) - len(reached[arm])
        row: list[Any] = [arm, batch_size, len(reached[arm]), findings[f"{arm}_missed"]]
        for key in SCORES + MEASURES:
            findings[f"{arm}_{key}"], findings[f"{arm}_{key}_ci"] = _mean_ci(
                [r[key] for r in reached[arm]])
            row += [findings[f"{arm}_{key}"], findings[f"{arm}_{key}_ci"]]
        rows.append(row)

    def paired(name: str, values: list[float]) -> None:
        findings[name], findings[f"{name}_ci"] = _mean_ci(values)
        lo, hi = findings[name] - findings[f"{name}_ci"], findings[name] + findings[f"{name}_ci"]
        findings[f"{name}_separated"] = bool(lo > 0 or hi < 0)     # False with < 2 pairs (NaN)
    for key in MEASURES:
        paired(f"large_over_small_{key}", [math.log(runs["large"][k][key] / runs["small"][k][key])
                                           for k in pairs])
        findings[f"large_sharper_{key}_count"] = sum(runs["large"][k][key] > runs["small"][k][key]
                                                     for k in pairs)
    for key in ("test_acc", "test_loss"):
        paired(f"small_minus_large_{key}", [runs["small"][k][key] - runs["large"][k][key]
                                            for k in pairs])
    series: dict[str, Any] = {"t": slice_points(s).tolist()}
    first = pairs[0] if pairs else 0
    for arm, batch_size in zip(ARMS, s["batch_sizes"]):
        r = runs[arm][first]
        series[arm] = {"batch_size": batch_size, "seed": seeds[first], "filter":
                       r["slices_filter"], "layer": r["slices_layer"],
                       "test_accuracy": r["test_acc"], "sharpness_filter": r["sharpness_filter"],
                       "sharpness_layer": r["sharpness_layer"]}
    series["per_seed"] = sweep.per_seed_series(per_seed)
    _, _, _, _, description = data(s, seeds[0])
    settings = {**s, "seeds": seeds, "dataset": description,
                "inputs": "14x14 (2x2 average-pooled)", "optimizer": "sgd (momentum)",
                "loss": "sparse_categorical_crossentropy",
                "sharpness": f"mean over directions and t = +-{T_SHARPNESS} of "
                             "L(theta* + t d) - L(theta*), training loss"}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    columns = ["batch", "batch size", "reached", "missed"] + sweep.interval_columns(
        *(SCORES + MEASURES))
    return ExperimentResult(name=NAME, claim=CLAIM, columns=columns, rows=rows,
                            findings=findings, conclusion=_conclusion(findings), settings=settings,
                            series=series)


def _ci(f: Findings, key: str, digits: int = 3) -> str:
    half = f[f"{key}_ci"]
    if math.isnan(f[key]):
        return "–"
    return f"{f[key]:.{digits}g}" + ("" if math.isnan(half) else f" ± {half:.2g}")


LABELS = {"sharpness_filter": "sharpness (filter-normalised directions)",
          "sharpness_layer": "sharpness (layer-normalised directions)",
          "hessian_top": "the Hessian's top eigenvalue",
          "input_sensitivity": "the input sensitivity"}


def _verdict(f, key):
    name = f"large_over_small_{key}"
    if not f[f"{name}_separated"]:
        return "not separated"
    return "larger with the large batch" if f[name] > 0 else "smaller with the large batch"


def _conclusion(f):
    measures = "; ".join(
        f"{LABELS[k]} {_ci(f, f'small_{k}')} vs {_ci(f, f'large_{k}')}, log ratio "
        f"{_ci(f, f'large_over_small_{k}', 2)} ({_verdict(f, k)}; larger in "
        f"{f[f'large_sharper_{k}_count']} of {f['pairs']})" for k in MEASURES)
    acc = f["small_minus_large_test_acc"]
    gen = ("not separated" if not f["small_minus_large_test_acc_separated"] else
           "the small batch generalises better" if acc > 0 else
           "the small batch generalises worse")
    return (f"Batch {f['small_batch_size']} vs {f['large_batch_size']}, over the {f['pairs']} "
            f"of {f['seeds']} seeds where both runs reached the target loss ({f['small_missed']} "
            f"small-batch and {f['large_missed']} large-batch runs missed it and are left out): "
            f"{measures}. Test accuracy {_ci(f, 'small_test_acc')} vs "
            f"{_ci(f, 'large_test_acc')}, paired difference "
            f"{_ci(f, 'small_minus_large_test_acc', 2)} ({gen}); training loss "
            f"{_ci(f, 'small_train_loss')} vs {_ci(f, 'large_train_loss')}.")


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    sharper = [LABELS[k] for k in MEASURES if f[f"large_over_small_{k}_separated"]
               and f[f"large_over_small_{k}"] > 0]
    flatter = [LABELS[k] for k in MEASURES if f[f"large_over_small_{k}_separated"]
               and f[f"large_over_small_{k}"] < 0]
    unclear = [LABELS[k] for k in MEASURES if not f[f"large_over_small_{k}_separated"]]
    shows = []
    if sharper:
        shows.append(f"The large-batch minima are sharper by {', '.join(sharper)}.")
    if flatter:
        shows.append(f"They are flatter by {', '.join(flatter)}.")
    if unclear:
        shows.append(f"These seeds do not separate the two by {', '.join(unclear)}.")
    if f["small_minus_large_test_acc_separated"]:
        shows.append("The small batch generalises " + (
            "better" if f["small_minus_large_test_acc"] > 0 else "worse")
            + " (paired test accuracy, interval apart from 0).")
    else:
        shows.append("That sharp minima generalise worse is not supported: the paired test "
                     "accuracy difference's interval includes 0.")
    if f["small_minus_large_test_loss_separated"]:
        shows.append("The small batch's test loss is " + (
            "higher" if f["small_minus_large_test_loss"] > 0 else "lower")
            + f" (paired difference {_ci(f, 'small_minus_large_test_loss', 2)}).")
    if sharper and (flatter or unclear):
        shows.append("The measures disagree: sharpness is not one number, and the claim holds "
                     "only for the measures listed as sharper.")
    cut = 4 + 2 * len(SCORES)
    columns, rows = result.columns, result.rows
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** Keskar, Mudigere, Nocedal, Smelyanskiy & Tang (2017), *On large-batch "
        "training for deep learning: generalization gap and sharp minima*; Li, Xu, Taylor, "
        "Studer & Goldstein (2018), *Visualizing the loss landscape of neural nets* "
        "(filter-normalised directions); Dinh, Pascanu, Bengio & Bengio (2017), *Sharp minima "
        "can generalize for deep nets* (why a measure must not depend on the weights' scale).",
        "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 5 --out docs/results`", "",
        f"**Setup.** {s['dataset']}, 14x14 inputs; 196-{'-'.join(map(str, s['hidden']))}-10 "
        f"relu network, SGD with momentum {s['momentum']} (η = {s['learning_rate']}), batch "
        f"{s['batch_sizes'][0]} vs {s['batch_sizes'][1]}, each from the same initial weights "
        f"until the training loss at an epoch's end is ≤ {s['target_loss']} (at most "
        f"{s['max_epochs']} epochs; a run that misses it is left out). Sharpness: "
        f"{s['directions']} random directions, t = ±{T_SHARPNESS}; Hessian: "
        f"{s['power_iterations']} power iterations; input sensitivity: noise "
        f"{s['input_noise']} per pixel on {s['sensitivity_samples']} test images. Seeds "
        f"{s['seeds']} (data subset, initial weights, batch order); comparisons paired by "
        "seed.", "",
        markdown_table(columns[:cut], [r[:cut] for r in rows]), "",
        markdown_table(columns[:2] + columns[cut:], [r[:2] + r[cut:] for r in rows]), "",
        f"**Result.** {result.conclusion}", "",
        f"**What it shows.** {' '.join(shows)}", "",
        "**Differences from the papers.** A one- or two-hidden-layer network on a few thousand "
        "pooled images instead of convolutional networks on full data sets; both runs stopped "
        "at one training-loss height rather than trained to convergence; the large batch is "
        "the whole training set. Full-batch gradient descent with momentum β and rate η is "
        "unstable along a direction of curvature above 2(1 + β)/η "
        f"(= {2 * (1 + s['momentum']) / s['learning_rate']:.3g} here), so that bound, not "
        "the data alone, limits the large-batch Hessian eigenvalue (Cohen et al. 2021, *edge "
        "of stability*).", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """The 1-D loss slices of the first seed where both runs reached the target: the mean over
    directions (thick) and each direction (thin)."""
    from ..plotting import pyplot
    plt = pyplot()
    t = np.asarray(result.series["t"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, kind in zip(axes, ("filter", "layer")):
        for label, color in (("small", "tab:blue"), ("large", "tab:red")):
            s = result.series[label]
            L = np.asarray(s[kind])
            for curve in L:
                ax.plot(t, curve, color=color, lw=0.6, alpha=0.35)
            ax.plot(t, L.mean(axis=0), color=color, lw=2,
                    label=f"batch {s['batch_size']}: sharpness {s[f'sharpness_{kind}']:.3g}, "
                          f"test acc {s['test_accuracy']:.3f}")
        ax.axvspan(-T_SHARPNESS, T_SHARPNESS, color="grey", alpha=0.1)
        ax.set_yscale("log")
        ax.set_xlabel("t  (theta* + t d)")
        ax.set_title(f"{kind}-normalised directions")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("training loss")
    fig.suptitle(f"Loss along random directions around the minimum: small vs large batch "
                 f"(seed {result.series['small']['seed']})")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
