"""Dropout: less over-fitting, and two ways to keep the expected output right.

While training, dropout zeroes each input of the next layer with probability `rate` (keep ratio
k = 1 - rate), so the next layer's weighted sum h = (g * mask) W + b is random. The two variants
differ in where they make up for the missing inputs:
    inverted (Keras)             training g * mask / k,   inference g
    scale_at_inference (textbook) training g * mask,       inference g * k (the weights times k)
In both, for the layer right after a dropout of a given g, the inference value of h is the
expectation of its training value over the masks, E[h_train] = h_inference (further on, through
non-linear layers, only approximately: E[f(h)] != f(E[h])); and an inverted network with the
next layer's kernel W is exactly the scale-at-inference network with kernel W / k.

The measurement: a small noisy problem (two overlapping Gaussian classes, few training points)
and a network much larger than it needs, 2 -> width -> width -> 1 (relu, sigmoid output),
trained with Adam without dropout and with dropout after each hidden layer in both variants
(one task per variant; each seed draws its own data set and initial weights). Every
`eval_every` epochs the inference-mode losses on the training, validation and test sets and the
test accuracy are recorded. Reported, as mean and 95 % interval over the seeds:
    final          training and test loss, their gap, and the accuracies after `epochs` epochs
    early-stopped  the test loss and accuracy at the evaluation with the lowest validation loss
                   (`n_val` held-out points), and that lowest validation loss
and, per dropout variant, the differences from no dropout paired by seed (the same data and
initial weights). For each dropout network a Monte Carlo estimate, over `mc_masks` masks, of
E[h_train] for the layer after the first dropout and for the output yhat, compared with the
inference values:
    rel_err = ||mean_masks(h_train) - h_inference|| / ||h_inference||
    z_rms   = rms of (mean_masks - inference) / (std_masks / sqrt(mc_masks))  (about 1 if unbiased)
and the twin check: the inverted network converted to scale_at_inference (kernels after a
dropout divided by k) gives the same inference outputs and the same training loss on one mask.
"""
from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import NDArray

from .. import datasets
from ..layers import Context, Dense, Dropout, Layer
from ..model import Sequential
from ..optimizers import Adam
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, stats, sweep

Findings = dict[str, Any]         # an ExperimentResult's findings

NAME = "dropout"
CLAIM = ("Dropout reduces over-fitting (a higher training loss but a lower test loss), and its "
         "two variants, inverted dropout and scaling the weights by the keep ratio at inference, "
         "give the same expected outputs.")

VARIANTS = ("none", "inverted", "scale_at_inference")

QUICK = {"n_train": 40, "n_val": 200, "n_test": 500, "noise": 0.5, "width": 128, "rate": 0.5,
         "epochs": 150, "batch_size": 10, "learning_rate": 1e-3, "eval_every": 10,
         "mc_masks": 400, "mc_samples": 100}
FULL = {"n_train": 40, "n_val": 200, "n_test": 2000, "noise": 0.5, "width": 128, "rate": 0.5,
        "epochs": 150, "batch_size": 10, "learning_rate": 1e-3, "eval_every": 5,
        "mc_masks": 4000, "mc_samples": 200}

FINAL = ("train_loss", "test_loss", "gap", "train_acc", "test_acc")
EARLY = ("es_test_loss", "es_test_acc", "best_val_loss")
PAIRED = ("test_loss", "test_acc", "es_test_loss", "es_test_acc")   # dropout - none, per seed
CHECKS = ("hidden_rel_err", "hidden_z_rms", "output_rel_err", "output_z_rms")


def noisy_blobs(n_train: int, n_val: int, n_test: int, noise: float, seed: int
                ) -> tuple[NDArray[Any], ...]:
    """Two Gaussian classes centred at (2, 2) and (-2, -2), overlapping (Bayes accuracy about
    0.92 at noise 0.5); inputs scaled by 1/5. (x, y) of the training, validation and test sets."""
    X, labels = datasets.blobs(n_train + n_val + n_test, noise=noise, seed=seed)
    X = X / 5.0
    y = labels.astype(np.float64)[:, None]
    cut = np.cumsum([n_train, n_val])
    return tuple(a for part in zip(np.split(X, cut), np.split(y, cut)) for a in part)


def build(variant: str, width: int, rate: float, seed: int | None) -> Sequential:
    hidden = lambda **kw: Dense(width, activation="relu", **kw)       # noqa: E731
    layers: list[Layer]
    if variant == "none":
        layers = [hidden(input_shape=(2,)), hidden()]
    else:
        layers = [hidden(input_shape=(2,)), Dropout(rate, mode=variant),
                  hidden(), Dropout(rate, mode=variant)]
    return Sequential(layers + [Dense(1, activation="sigmoid")], seed=seed, dtype="float64")


def train(variant: str, data: Sequence[NDArray[Any]], s: Settings, seed: int
          ) -> tuple[Sequential, dict[str, list[float]]]:
    """Train; every `eval_every` epochs the inference-mode training, validation and test loss
    and the test accuracy. Returns the model and {"epochs": [...], "train": [...], ...}."""
    Xtr, ytr, Xval, yval, Xte, yte = data
    model = build(variant, s["width"], s["rate"], seed)
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=s["learning_rate"]),
                  metrics=["acc"])
    curves: dict[str, list[float]] = {"epochs": [], "train": [], "val": [], "test": [],
                                      "test_acc": []}
    for start in range(0, s["epochs"], s["eval_every"]):
        model.fit(Xtr, ytr, batch_size=s["batch_size"],
                  epochs=min(s["eval_every"], s["epochs"] - start), verbose=0)
        curves["epochs"].append(min(start + s["eval_every"], s["epochs"]))
        # evaluate gives [loss, acc]: the model has a metric
        curves["train"].append(float(cast("list[float]", model.evaluate(
            Xtr, ytr, batch_size=1024, verbose=0))[0]))
        curves["val"].append(float(cast("list[float]", model.evaluate(
            Xval, yval, batch_size=1024, verbose=0))[0]))
        test_loss, test_acc = cast("list[float]",
                                   model.evaluate(Xte, yte, batch_size=1024, verbose=0))
        curves["test"].append(float(test_loss))
        curves["test_acc"].append(float(test_acc))
    return model, curves


def _training_forward(model: Sequential, X: NDArray[Any], rng: np.random.Generator
                      ) -> NDArray[Any]:
    """The training-mode output (dropout active, masks from rng); each Dense keeps its h."""
    ctx = Context(training=True, rng=rng)
    g = X
    for layer in model.layers:
        g = layer.forward(g, ctx)
    return g


def expectation_check(model: Sequential, X: NDArray[Any], n_masks: int, seed: int,
                      chunk: int = 100) -> dict[str, tuple[float, float]]:
    """E over dropout masks of the training-mode h (the Dense layer after the first dropout) and
    yhat, by Monte Carlo, against their inference values. Returns {name: (rel_err, z_rms)}."""
    after = next(i for i, l in enumerate(model.layers) if isinstance(l, Dropout)) + 1
    ctx = Context(training=False)
    g = X
    for i, layer in enumerate(model.layers):
        g = layer.forward(g, ctx)
        if i == after:
            h_inference = np.array(layer.h)
    inference = {"hidden": h_inference, "output": np.array(g)}
    # sums of the differences from the inference value d = draw - inference, and of d^2
    sums = {k: np.zeros_like(v) for k, v in inference.items()}
    squares = {k: np.zeros_like(v) for k, v in inference.items()}
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    for start in range(0, n_masks, chunk):
        k = min(chunk, n_masks - start)
        out = _training_forward(model, np.tile(X, (k, 1)), rng)
        draws = {"hidden": np.asarray(model.layers[after].h).reshape(k, n, -1),
                 "output": np.asarray(out).reshape(k, n, -1)}
        for name, draw in draws.items():
            d = draw - inference[name]
            sums[name] += d.sum(axis=0)
            squares[name] += (d * d).sum(axis=0)
    check: dict[str, tuple[float, float]] = {}
    for name, value in inference.items():
        bias = sums[name] / n_masks                         # mean over masks - inference value
        var = np.maximum(squares[name] / n_masks - bias * bias, 0.0) * n_masks / (n_masks - 1)
        stderr = np.sqrt(var / n_masks)
        random = stderr > 1e-12 * (np.abs(value) + 1)   # entries that vary with the mask at all
        z = bias[random] / stderr[random]
        rel_err = float(np.linalg.norm(bias) / np.linalg.norm(value))
        check[name] = (rel_err, float(np.sqrt(np.mean(z * z))) if z.size else 0.0)
    return check


def twin_check(model: Sequential, rate: float, X: NDArray[Any], y: NDArray[Any]
               ) -> tuple[float, float]:
    """The inverted network as a scale_at_inference network (each kernel after a dropout divided
    by k = 1 - rate): max |difference| of inference outputs and of the training loss (same mask)."""
    keep = 1.0 - rate
    units = cast(Dense, model.layers[0]).units                 # build's first layer
    twin = build("scale_at_inference", units, rate, model.seed)
    twin.compile(loss="binary_crossentropy", optimizer="adam")
    weights = model.get_weights()
    i = 0
    follows_dropout = False
    for layer in model.layers:
        if isinstance(layer, Dropout):
            follows_dropout = True
            continue
        if follows_dropout:
            weights[i] = weights[i] / keep                 # the kernel after the dropout
        i += len(layer.weights)
        follows_dropout = False
    twin.set_weights(weights)
    inference_diff = float(np.max(np.abs(model.predict(X, batch_size=1024)
                                         - twin.predict(X, batch_size=1024))))
    loss_a, _ = model.loss_and_gradients(X, y)
    loss_b, _ = twin.loss_and_gradients(X, y)
    return inference_diff, abs(loss_a - loss_b)


def tasks(settings: Settings) -> list[Task]:
    """One task per variant: no dropout, inverted, scale at inference."""
    return [{"variant": v} for v in VARIANTS]


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    """Train one network on the seed's data set: its final and early-stopped numbers, its
    curves, and for a dropout network the expectation and twin checks."""
    variant = task["variant"]
    data = noisy_blobs(s["n_train"], s["n_val"], s["n_test"], s["noise"], seed)
    Xtr, ytr, Xval, yval, Xte, yte = data
    model, curves = train(variant, data, s, seed)
    train_loss, train_acc = cast("list[float]",
                                 model.evaluate(Xtr, ytr, batch_size=1024, verbose=0))
    test_loss, test_acc = cast("list[float]", model.evaluate(Xte, yte, batch_size=1024, verbose=0))
    best = int(np.argmin(curves["val"]))            # early stopping: the lowest validation loss
    out = {"train_loss": float(train_loss), "test_loss": float(test_loss),
           "gap": float(test_loss - train_loss), "train_acc": float(train_acc),
           "test_acc": float(test_acc), "es_test_loss": curves["test"][best],
           "es_test_acc": curves["test_acc"][best], "best_val_loss": curves["val"][best],
           "es_epoch": curves["epochs"][best], "curve_train": curves["train"],
           "curve_test": curves["test"], "curve_val": curves["val"]}
    if variant != "none":
        check = expectation_check(model, Xte[:s["mc_samples"]], s["mc_masks"], seed + 1)
        for where in ("hidden", "output"):
            out[f"{where}_rel_err"], out[f"{where}_z_rms"] = check[where]
    if variant == "inverted":
        out["twin_inference_max_abs_diff"], out["twin_training_loss_abs_diff"] = \
            twin_check(model, s["rate"], Xte, yte)
    return out


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Rows: per variant, mean ± interval over the seeds of the final and early-stopped numbers
    and of the expectation checks. Findings: VARIANT_KEY (and _ci) of those; for each dropout
    variant VARIANT_minus_none_KEY (paired by seed) for KEY in PAIRED, with _separated (its
    interval excludes 0) and the fraction of seeds with a lower final test loss; the twin
    checks' largest value over the seeds."""
    seeds = list(per_seed)
    rows: list[list[Any]] = []
    findings: Findings = {}
    series: dict[str, Any] = {"epochs": None}
    v_of = dict((t["variant"], v) for t, v in sweep.by_task(per_seed))
    for i, variant in enumerate(VARIANTS):
        v = v_of[variant]
        row: list[Any] = [variant]
        for k in FINAL + EARLY + CHECKS:
            if k in v:
                findings.update(sweep.findings_of(f"{variant}_{k}", v[k]))
                row += sweep.cells(v[k])
            else:
                row += [math.nan, math.nan]
        rows.append(row)
        findings[f"{variant}_es_epoch"] = float(np.mean(v["es_epoch"]))
        for curve in ("train", "test", "val"):
            values = np.array([per_seed[seed][i][1][f"curve_{curve}"] for seed in seeds])
            series[f"{variant}/{curve}"] = [float(x) for x in values.mean(axis=0)]
        if variant == "none":
            continue
        for k in PAIRED:
            diff = [a - b for a, b in zip(v[k], v_of["none"][k])]
            findings.update(sweep.findings_of(f"{variant}_minus_none_{k}", diff))
            lo, hi = (findings[f"{variant}_minus_none_{k}"] + sign
                      * findings[f"{variant}_minus_none_{k}_ci"] for sign in (-1, 1))
            findings[f"{variant}_minus_none_{k}_separated"] = bool(lo > 0 or hi < 0)
        findings[f"{variant}_lower_test_loss_fraction"] = sweep.fraction(
            a < b for a, b in zip(v["test_loss"], v_of["none"]["test_loss"]))
        findings[f"{variant}_train_loss_separated_from_none"] = stats.separated(
            v["train_loss"], v_of["none"]["train_loss"])
    for k in ("twin_inference_max_abs_diff", "twin_training_loss_abs_diff"):
        findings[k] = float(max(v_of["inverted"][k]))
    series["epochs"] = list(range(s["eval_every"], s["epochs"], s["eval_every"])) + [s["epochs"]]
    series["per_seed"] = sweep.per_seed_series(per_seed)
    settings = {**s, "seeds": seeds, "optimizer": "adam", "dtype": "float64",
                "data": "blobs(noise) / 5: training, validation and test sets"}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["dropout"] + sweep.interval_columns(*(FINAL + EARLY + CHECKS)),
        rows=rows, findings=findings, conclusion=_conclusion(findings, s, seeds),
        settings=settings, series=series)


def _ci(f: Findings, key: str, digits: int = 3) -> str:
    half = f[f"{key}_ci"]
    return f"{f[key]:.{digits}g}" + ("" if math.isnan(half) else f" ± {half:.2g}")


def _conclusion(f, s, seeds):
    n = len(seeds)
    return (
        f"Without dropout the network fits the {s['n_train']} noisy points (training loss "
        f"{_ci(f, 'none_train_loss')}) and over-fits (test loss {_ci(f, 'none_test_loss')}); "
        f"with dropout {s['rate']} (inverted / scale at inference) the training loss is "
        f"{_ci(f, 'inverted_train_loss')} / {_ci(f, 'scale_at_inference_train_loss')} and the "
        f"final test loss {_ci(f, 'inverted_test_loss')} / "
        f"{_ci(f, 'scale_at_inference_test_loss')}, lower than without dropout on "
        f"{round(f['inverted_lower_test_loss_fraction'] * n)} / "
        f"{round(f['scale_at_inference_lower_test_loss_fraction'] * n)} of {n} seeds (paired "
        f"difference {_ci(f, 'inverted_minus_none_test_loss')} / "
        f"{_ci(f, 'scale_at_inference_minus_none_test_loss')}). Test accuracy: "
        f"{_ci(f, 'none_test_acc')} without, {_ci(f, 'inverted_test_acc')} / "
        f"{_ci(f, 'scale_at_inference_test_acc')} with dropout. Early-stopped at the lowest "
        f"validation loss, the test loss is {_ci(f, 'none_es_test_loss')} without and "
        f"{_ci(f, 'inverted_es_test_loss')} / {_ci(f, 'scale_at_inference_es_test_loss')} "
        f"with dropout (paired difference {_ci(f, 'inverted_minus_none_es_test_loss')} / "
        f"{_ci(f, 'scale_at_inference_minus_none_es_test_loss')}). The layer after the dropout "
        f"has E[h_train] = h_inference within Monte Carlo error (z_rms "
        f"{_ci(f, 'inverted_hidden_z_rms', 2)} / {_ci(f, 'scale_at_inference_hidden_z_rms', 2)}); "
        f"through the non-linear layers the output's expectation is only approximately the "
        f"inference output (relative difference {_ci(f, 'inverted_output_rel_err', 2)} / "
        f"{_ci(f, 'scale_at_inference_output_rel_err', 2)}, z_rms "
        f"{_ci(f, 'inverted_output_z_rms', 2)} / {_ci(f, 'scale_at_inference_output_z_rms', 2)}"
        f"). The inverted network with its kernels after the dropout divided by the keep ratio "
        f"is the scale-at-inference network (largest output difference over the seeds "
        f"{f['twin_inference_max_abs_diff']:.1e}).")


def _claim_of(f, variant, key, what, lower_is_better):
    """What the paired difference of KEY supports, in words."""
    if not f[f"{variant}_minus_none_{key}_separated"]:
        return f"no {what} difference is supported"
    lower = f[f"{variant}_minus_none_{key}"] < 0
    return f"{what} {'lower' if lower else 'higher'} with dropout" + (
        "" if lower == lower_is_better else " (worse)")


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    shows = []
    for variant, name in (("inverted", "Inverted dropout"),
                          ("scale_at_inference", "Scaling at inference")):
        shows.append(
            f"{name}: at the end of training "
            f"{_claim_of(f, variant, 'test_loss', 'test loss', True)}"
            f" and {_claim_of(f, variant, 'test_acc', 'test accuracy', False)}; early-stopped, "
            f"{_claim_of(f, variant, 'es_test_loss', 'test loss', True)} and "
            f"{_claim_of(f, variant, 'es_test_acc', 'test accuracy', False)}.")
    def gain(key):
        return any(f[f"{v}_minus_none_{key}_separated"] and f[f"{v}_minus_none_{key}"] < 0
                   for v in VARIANTS[1:])
    if gain("test_loss") and not gain("es_test_loss"):
        shows.append("Dropout's gain here is one over training too long: against early stopping "
                     "on a validation set no gain is supported.")
    elif gain("es_test_loss"):
        shows.append("Dropout lowers the test loss even against early stopping.")
    else:
        shows.append("These seeds support no gain in test loss from dropout.")
    columns, rows = result.columns, result.rows
    cut = 1 + 2 * len(FINAL + EARLY)
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** Srivastava, Hinton, Krizhevsky, Sutskever & Salakhutdinov (2014), "
        "*Dropout: a simple way to prevent neural networks from overfitting* (less over-fitting "
        "of large networks; at test time the weights scaled by the keep probability, which "
        "inverted dropout moves to training time).", "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 10 --out docs/results`", "",
        f"**Setup.** Two overlapping Gaussian classes (noise {s['noise']}, Bayes accuracy about "
        f"0.92), {s['n_train']} training, {s['n_val']} validation and {s['n_test']} test "
        f"points; 2-{s['width']}-{s['width']}-1 relu network, Adam (η = "
        f"{s['learning_rate']}), {s['epochs']} epochs of batches of {s['batch_size']}, dropout "
        f"{s['rate']} after each hidden layer; losses recorded every {s['eval_every']} epochs "
        f"(early stopping: the evaluation with the lowest validation loss); float64. Seeds "
        f"{s['seeds']} (each its own data set, initial weights, batch order and masks). "
        f"es_: early-stopped. Monte Carlo checks over {s['mc_masks']} masks on "
        f"{s['mc_samples']} test points.", "",
        markdown_table(columns[:cut], [r[:cut] for r in rows]), "",
        markdown_table([columns[0]] + columns[cut:], [[r[0]] + r[cut:] for r in rows[1:]]), "",
        f"**Result.** {result.conclusion}", "",
        f"**What it shows.** {' '.join(shows)}", "",
        "**Differences from the paper.** A 2-D toy problem with 40 training points instead of "
        "image and speech benchmarks; one dropout rate, no max-norm constraint; early stopping "
        "on a fixed grid of epochs.", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """Training (solid), test (dashed) and validation (dotted) loss against the epoch, for each
    variant (means over the seeds)."""
    from ..plotting import pyplot
    plt = pyplot()
    colours = {"none": "tab:red", "inverted": "tab:blue", "scale_at_inference": "tab:green"}
    fig, ax = plt.subplots(figsize=(6.4, 4))
    epochs = result.series["epochs"]
    for variant in VARIANTS:
        label = ("no dropout" if variant == "none" else
                 f"dropout {result.settings['rate']}, {variant}")
        ax.plot(epochs, result.series[f"{variant}/train"], "-", color=colours[variant],
                label=f"{label}: train")
        ax.plot(epochs, result.series[f"{variant}/test"], "--", color=colours[variant],
                label=f"{label}: test")
        ax.plot(epochs, result.series[f"{variant}/val"], ":", color=colours[variant],
                label=f"{label}: validation")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy (inference mode)")
    ax.set_title(f"{result.settings['n_train']} noisy training points, "
                 f"2-{result.settings['width']}-{result.settings['width']}-1 relu")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
