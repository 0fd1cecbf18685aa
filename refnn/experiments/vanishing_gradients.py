"""Vanishing gradients: the gradient norm of each layer of a deep network.

Backpropagation multiplies the error term by f'(h) W^T once per layer on its way to the input:
    epsilon_{l-1} = (epsilon_l W_l^T) * f'(h_{l-1}),     dE/dW_l = g_{l-1}^T epsilon_l
With sigmoid, f' = g (1 - g) <= 1/4, so with weights of the usual size each layer scales the
error term down by a factor of about 4 and the first layers receive almost no gradient. relu
(f' = 1 where h > 0), batch normalisation (which rescales h to unit variance, undoing the
shrinking) and skip connections (h' = h + F(h): dE/dh = dE/dh' + ..., an identity path) keep
the error term from vanishing.

relu keeps the *ratio* between layers, not the *size*: with Keras's glorot_uniform kernels
(Var W = 2 / (fan_in + fan_out) = 1 / width here) each relu layer halves the variance of its
signal, forward and backward alike, so every layer's gradient is small. He et al. (2015) draw
Var W = 2 / fan_in ("he_normal"), which keeps the variance through relu layers; the relu rows
are measured with both (plain and batch_norm), so that "relu fixes it" is stated with its
condition. (With skip connections He's kernels add the variance of F(h) to that of h in every
block: the initial loss is 2 to 5 and SGD at this learning rate can overflow, so that arm is
left out.)

The measurement: networks of `depth` Dense layers (width `width`, a 1-unit sigmoid output,
binary cross-entropy) on a binary task with Gaussian inputs in `width` dimensions (so every
hidden kernel, the first included, is width x width). For each activation (sigmoid, tanh, relu)
and each architecture
    plain       Dense(w, f) x (depth - 1), Dense(1, sigmoid)
    batch_norm  the same with batch normalisation between h and f in every hidden layer
    skip        Dense(w, f), then blocks Residual([Dense(w, f), Dense(w)]), Dense(1, sigmoid)
with glorot_uniform kernels, and for relu plain and batch_norm also with he_normal kernels:
the norm ||dE/dW_l|| of every kernel (float64, model.loss_and_gradients on the whole training
set) at initialisation and after training with plain SGD. The headline number is
    ratio = ||dE/dW_1|| / ||dE/dW_{depth-1}||    (first layer over last hidden layer)
which is about 1 when the gradient reaches the input intact and << 1 when it vanishes; ratios and
norms span orders of magnitude, so their logarithms are averaged over the seeds (tables: log10).
One task is one (activation, architecture, initializer) network.
"""
from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..model import Sequential
from ..optimizers import SGD
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, stats, sweep
from ._common import deep_network, with_initializer

Findings = dict[str, Any]         # an ExperimentResult's findings

NAME = "vanishing_gradients"
CLAIM = ("In a deep sigmoid network the gradient shrinks layer by layer towards the input, so "
         "the first layers barely learn; relu, batch normalisation and skip connections keep "
         "it alive.")

ACTIVATIONS = ("sigmoid", "tanh", "relu")
ARCHITECTURES = ("plain", "batch_norm", "skip")
DEFAULT_INIT, HE_INIT = "glorot_uniform", "he_normal"
HE_ARCHITECTURES = ("plain", "batch_norm")      # relu networks measured with He's kernels too
LAYER_TABLE = ("relu_plain", "relu_plain_he", "relu_batch_norm", "relu_batch_norm_he")

QUICK = {"depth": 10, "width": 32, "n_samples": 512, "epochs": 10, "batch_size": 32,
         "learning_rate": 0.05}
FULL = {"depth": 20, "width": 32, "n_samples": 2048, "epochs": 30, "batch_size": 32,
        "learning_rate": 0.05}

VALUES = ("log10_ratio_init", "log10_ratio_trained", "log10_first_init",
          "log10_last_hidden_init", "loss_init", "loss_trained")


def teacher_data(n_samples: int, n_features: int, seed: int
                 ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """x ~ N(0, I); y = 1 where a random one-hidden-layer tanh teacher (16 units) is positive."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    W = rng.standard_normal((n_features, 16)) / np.sqrt(n_features)
    v = rng.standard_normal(16)
    y = (np.tanh(X @ W) @ v > 0).astype(np.float64)[:, None]
    return X, y


def build(activation: str, architecture: str, depth: int, width: int, seed: int,
          initializer: str = DEFAULT_INIT) -> Sequential:
    """`depth` Dense layers in all (the output included), float64."""
    if depth < 4:
        raise ValueError(f"depth must be at least 4, got {depth}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    model = deep_network(width, depth, width, activation, residual=architecture == "skip",
                         batch_norm=architecture == "batch_norm", seed=seed)
    if initializer != DEFAULT_INIT:
        with_initializer(model, initializer, seed)
    return model


def kernel_gradient_norms(model: Sequential, X: NDArray[Any], y: NDArray[Any]
                          ) -> tuple[float, list[float]]:
    """The loss and ||dE/dW|| of every Dense kernel, from the input side to the output."""
    loss, grads = model.loss_and_gradients(X, y)
    return loss, [float(np.linalg.norm(g)) for g in grads if g.ndim == 2]


def key_of(task: Task) -> str:
    """"relu_plain" for the default initialisation, "relu_plain_he" for He's."""
    he = "_he" if task["initializer"] == HE_INIT else ""
    return f"{task['activation']}_{task['architecture']}{he}"


def tasks(settings: Settings) -> list[Task]:
    """Every (activation, architecture) with the default initialisation, then relu with He's."""
    return ([{"activation": a, "architecture": n, "initializer": DEFAULT_INIT}
             for a in ACTIVATIONS for n in ARCHITECTURES]
            + [{"activation": "relu", "architecture": n, "initializer": HE_INIT}
               for n in HE_ARCHITECTURES])


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    """One network: its kernels' gradient norms and its loss, at initialisation and trained."""
    X, y = teacher_data(s["n_samples"], s["width"], seed)
    model = build(task["activation"], task["architecture"], s["depth"], s["width"], seed,
                  task["initializer"])
    model.compile(loss="binary_crossentropy", optimizer=SGD(learning_rate=s["learning_rate"]))
    loss0, norms0 = kernel_gradient_norms(model, X, y)
    model.fit(X, y, batch_size=s["batch_size"], epochs=s["epochs"], verbose=0)
    loss1, norms1 = kernel_gradient_norms(model, X, y)
    return {"log10_ratio_init": math.log10(norms0[0] / norms0[-2]),    # first / last hidden
            "log10_ratio_trained": math.log10(norms1[0] / norms1[-2]),
            "log10_first_init": math.log10(norms0[0]),
            "log10_last_hidden_init": math.log10(norms0[-2]),
            "loss_init": float(loss0), "loss_trained": float(loss1),
            "norms_init": norms0, "norms_trained": norms1}


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Rows: per network, mean ± interval over the seeds of every number. Findings: the same
    as KEY_VALUE and KEY_VALUE_ci (KEY as key_of); the relu comparisons of the two
    initialisations (separated: the intervals do not overlap). series: per network the
    geometric mean over the seeds of every layer's gradient norm; series["tables"]["relu_layers"]:
    per layer, relu's log10 ||dE/dW_l|| at initialisation with both initialisations."""
    seeds = list(per_seed)
    rows: list[list[Any]] = []
    findings: Findings = {}
    series: dict[str, Any] = {}
    values: dict[str, dict[str, list[float]]] = {}
    for i, (task, v) in enumerate(sweep.by_task(per_seed)):
        key = key_of(task)
        values[key] = v
        rows.append([task["activation"], task["architecture"], task["initializer"]]
                    + [c for k in VALUES for c in sweep.cells(v[k])])
        for k in VALUES:
            findings.update(sweep.findings_of(f"{key}_{k}", v[k]))
        for when in ("init", "trained"):
            norms = np.array([per_seed[seed][i][1][f"norms_{when}"] for seed in seeds])
            series[f"{key}/{when}"] = [float(x) for x in 10 ** np.log10(norms).mean(axis=0)]
    for architecture in HE_ARCHITECTURES:       # relu: He's initialisation against the default
        a, b = values[f"relu_{architecture}"], values[f"relu_{architecture}_he"]
        for k in ("log10_first_init", "log10_last_hidden_init", "loss_trained"):
            findings[f"relu_{architecture}_he_vs_default_{k}_separated"] = stats.separated(a[k],
                                                                                           b[k])
    findings["sigmoid_plain_vs_relu_plain_ratio_separated"] = stats.separated(
        values["sigmoid_plain"]["log10_ratio_init"], values["relu_plain"]["log10_ratio_init"])
    columns: list[str] = ["layer"]
    table: list[list[Any]] = []
    for key in LAYER_TABLE:
        columns += sweep.interval_columns(key)
    per_layer = {key: np.log10([per_seed[seed][i][1]["norms_init"] for seed in seeds])
                 for i, key in enumerate(key_of(t) for t in tasks(s))}
    for layer in range(s["depth"]):
        table.append([layer + 1] + [c for key in LAYER_TABLE
                                    for c in sweep.cells(per_layer[key][:, layer])])
    series["tables"] = {"relu_layers": {"columns": columns, "rows": table}}
    series["per_seed"] = sweep.per_seed_series(per_seed)
    settings = {**s, "seeds": seeds, "optimizer": "sgd", "dtype": "float64",
                "initializers": [DEFAULT_INIT, HE_INIT],
                "ratio": "||dE/dW_1|| / ||dE/dW_(depth-1)||"}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["activation", "network", "initializer"] + sweep.interval_columns(*VALUES),
        rows=rows, findings=findings, conclusion=_conclusion(findings, s), settings=settings,
        series=series)


def _ci(f: Findings, key: str, digits: int = 2) -> str:
    half = f[f"{key}_ci"]
    return f"{f[key]:.{digits}g}" + ("" if math.isnan(half) else f" ± {half:.2g}")


def _conclusion(f, s):
    he_lifts = f["relu_plain_he_vs_default_log10_first_init_separated"] and \
        f["relu_plain_log10_first_init"] < f["relu_plain_he_log10_first_init"]
    he_trains = f["relu_plain_he_vs_default_loss_trained_separated"] and \
        f["relu_plain_he_loss_trained"] < f["relu_plain_loss_trained"]
    return (
        f"At initialisation, log10 of the first layer's gradient over the last hidden layer's in "
        f"the {s['depth']}-layer plain networks: sigmoid {_ci(f, 'sigmoid_plain_log10_ratio_init')}"
        f", tanh {_ci(f, 'tanh_plain_log10_ratio_init')}, relu "
        f"{_ci(f, 'relu_plain_log10_ratio_init')}; with sigmoid, batch normalisation brings it to "
        f"{_ci(f, 'sigmoid_batch_norm_log10_ratio_init')} and skip connections to "
        f"{_ci(f, 'sigmoid_skip_log10_ratio_init')}. After {s['epochs']} epochs of SGD the plain "
        f"sigmoid network's loss is {_ci(f, 'sigmoid_plain_loss_trained', 3)} (chance: log 2 = "
        f"0.693). relu keeps the ratio but not the size: with glorot_uniform kernels the plain "
        f"relu network's first and last hidden layers get log10 ||dE/dW|| = "
        f"{_ci(f, 'relu_plain_log10_first_init')} and "
        f"{_ci(f, 'relu_plain_log10_last_hidden_init')}, with he_normal kernels "
        f"{_ci(f, 'relu_plain_he_log10_first_init')} and "
        f"{_ci(f, 'relu_plain_he_log10_last_hidden_init')}"
        + (" (intervals apart)" if he_lifts else " (the intervals overlap)")
        + f"; its loss after training is {_ci(f, 'relu_plain_loss_trained', 3)} with the default "
        f"and {_ci(f, 'relu_plain_he_loss_trained', 3)} with He's initialisation"
        + (" (intervals apart)." if he_trains else " (the intervals overlap)."))


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    he_lifts = f["relu_plain_he_vs_default_log10_first_init_separated"] and \
        f["relu_plain_log10_first_init"] < f["relu_plain_he_log10_first_init"]
    he_trains = f["relu_plain_he_vs_default_loss_trained_separated"] and \
        f["relu_plain_he_loss_trained"] < f["relu_plain_loss_trained"]
    vanishes = f["sigmoid_plain_vs_relu_plain_ratio_separated"] and \
        f["sigmoid_plain_log10_ratio_init"] < -1
    shows = []
    if vanishes:
        shows.append("In the plain sigmoid network the gradient vanishes towards the input "
                     "(its ratio is orders of magnitude below relu's, intervals apart); batch "
                     "normalisation and skip connections lift it.")
    else:
        shows.append("These seeds do not separate the sigmoid network's ratio from relu's.")
    if he_lifts:
        shows.append("relu alone does not fix it: with the default glorot_uniform kernels every "
                     "relu layer's gradient is small (the ratio near 1 hides it) and the plain "
                     "relu network "
                     + ("trains worse" if he_trains else "is not shown to train worse")
                     + "; with He's initialisation the gradients are larger at every layer. "
                     "\"relu fixes vanishing gradients\" holds with He initialisation.")
    else:
        shows.append("These seeds do not separate He's initialisation from the default for "
                     "relu; no claim about the initialisation is made.")
    tables = result.series.get("tables", {})
    layers = tables.get("relu_layers")
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** Hochreiter (1991) and Bengio, Simard & Frasconi (1994) on the vanishing "
        "gradient; Glorot & Bengio (2010), *Understanding the difficulty of training deep "
        "feedforward neural networks* (per-layer gradient norms of deep sigmoid networks); He, "
        "Zhang, Ren & Sun (2015), *Delving deep into rectifiers* (Var W = 2 / fan_in keeps the "
        "signal's variance through relu layers); Ioffe & Szegedy (2015) on batch normalisation; "
        "He et al. (2016) on residual connections.", "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 5 --out docs/results`", "",
        f"**Setup.** {s['depth']} Dense layers of width {s['width']} (the 1-unit sigmoid output "
        f"included), binary cross-entropy on {s['n_samples']} Gaussian points labelled by a "
        f"random tanh teacher, float64; gradient norms ||dE/dW_l|| on the whole training set at "
        f"initialisation and after {s['epochs']} epochs of SGD (η = {s['learning_rate']}, "
        f"batches of {s['batch_size']}); kernels glorot_uniform (Keras's default) and, for "
        f"plain and batch-normalised relu networks, also he_normal. Seeds {s['seeds']} (data, "
        "teacher, initial weights, batch order). Table: log10 of ratio = ||dE/dW_1|| / "
        "||dE/dW_(depth-1)|| and of the two norms, and the loss, as mean ± 95 % interval over "
        "the seeds.", "",
        markdown_table(result.columns, result.rows), "",
        f"relu's log10 ||dE/dW_l|| per layer at initialisation (layer 1 at the input, layer "
        f"{s['depth']} the output), with "
        "both initialisations:", "",
        markdown_table(layers["columns"], layers["rows"]) if layers else "", "",
        f"**Result.** {result.conclusion}", "",
        f"**What it shows.** {' '.join(shows)}", "",
        "**Differences from the papers.** Small fully connected networks (width "
        f"{s['width']}) on a synthetic task instead of image benchmarks; the gradient is "
        "measured on the whole training set at two moments, not along training.", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """Gradient norm per layer (geometric mean over the seeds), at initialisation (left) and
    after training (right)."""
    from ..plotting import pyplot
    plt = pyplot()
    colours = {"sigmoid": "tab:red", "tanh": "tab:orange", "relu": "tab:blue"}
    styles = {"plain": "-", "batch_norm": "--", "skip": ":"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, when in zip(axes, ("init", "trained")):
        for task in tasks(result.settings):
            key = key_of(task)
            norms = result.series[f"{key}/{when}"]
            he = task["initializer"] == HE_INIT
            ax.semilogy(range(1, len(norms) + 1), norms, styles[task["architecture"]],
                        color="tab:green" if he else colours[task["activation"]],
                        marker="x" if he else ".",
                        label=f"{task['activation']}, {task['architecture']}"
                              + (", He init" if he else ""))
        ax.set_xlabel("layer (1 = input side)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title("at initialisation" if when == "init" else
                     f"after {result.settings['epochs']} epochs of SGD")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("||dE/dW|| of the layer's kernel")
    axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle(f"{result.settings['depth']}-layer networks, width {result.settings['width']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
