"""Depth: plain against residual networks of growing depth on one task.

A plain network passes its signal through every layer in turn, forward and backward; past some
depth the signal that reaches the far end is too small (or too distorted) to learn from, and
adding layers makes training worse instead of better. A residual block computes h' = h + F(h),
so the identity path carries the signal through any number of blocks and the deep network can
do at least what the shallower one does (F = 0).

The measurement: the two-spirals task (`n_samples` points, inputs scaled into [-2, 2]), width
`width`, relu, Keras's glorot_uniform initialisation, Adam, the same data, seed and number of
epochs for every network. A network of depth L has L Dense layers, the 1-unit sigmoid output
included:
    plain      Dense(w, relu) x (L - 1), Dense(1, sigmoid)
    residual   Dense(w, relu), then (L - 2) / 2 blocks Residual([Dense(w, relu), Dense(w)]),
               Dense(1, sigmoid)                       (the same layers, the same parameters)
Reported: the training loss and accuracy after training, per depth and kind, and the loss
curves. A network "learns" when its training accuracy reaches `learned_acc`.
"""
import numpy as np

from .. import datasets
from ..optimizers import Adam
from . import ExperimentResult
from ._common import deep_network

NAME = "depth"
CLAIM = ("Past some depth a plain network stops learning (a deeper one trains worse than a "
         "shallower one), while a residual network of the same depth keeps learning.")

KINDS = ("plain", "residual")

QUICK = {"depths": [4, 8, 24], "width": 32, "n_samples": 200, "epochs": 40, "batch_size": 16,
         "learning_rate": 3e-3, "learned_acc": 0.9}
FULL = {"depths": [4, 8, 16, 24, 32, 48], "width": 32, "n_samples": 500, "epochs": 100,
        "batch_size": 16, "learning_rate": 1e-3, "learned_acc": 0.9}


def spirals(n_samples, seed):
    X, y = datasets.spirals(n_samples, seed=seed)
    return X / 2.5, y.astype(np.float64)[:, None]


def build(kind, depth, width, seed):
    """`depth` Dense layers in all (the output included)."""
    if depth < 2 or depth % 2:
        raise ValueError(f"depth must be an even number >= 2, got {depth}")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return deep_network(2, depth, width, "relu", residual=kind == "residual", seed=seed)


def run(quick=True, seed=0):
    s = dict(QUICK if quick else FULL)
    X, y = spirals(s["n_samples"], seed)
    rows, findings, series = [], {}, {}
    for depth in s["depths"]:
        row = [depth]
        for kind in KINDS:
            model = build(kind, depth, s["width"], seed)
            model.compile(loss="binary_crossentropy",
                          optimizer=Adam(learning_rate=s["learning_rate"]), metrics=["acc"])
            history = model.fit(X, y, batch_size=s["batch_size"], epochs=s["epochs"], verbose=0)
            loss, acc = model.evaluate(X, y, batch_size=1024, verbose=0)
            row += [loss, acc]
            findings[f"{kind}_{depth}_loss"] = loss
            findings[f"{kind}_{depth}_acc"] = acc
            series[f"{kind}/{depth}"] = [float(v) for v in history.history["loss"]]
        rows.append(row)
    for kind in KINDS:
        learned = [d for d in s["depths"] if findings[f"{kind}_{d}_acc"] >= s["learned_acc"]]
        findings[f"{kind}_deepest_learning"] = max(learned) if learned else 0
    deepest = s["depths"][-1]
    f = findings
    conclusion = (
        f"The deepest plain network that reaches training accuracy {s['learned_acc']} has depth "
        f"{f['plain_deepest_learning']}; at depth {deepest} the plain network ends at loss "
        f"{f[f'plain_{deepest}_loss']:.3f} (accuracy {f[f'plain_{deepest}_acc']:.3f}) and the "
        f"residual one at loss {f[f'residual_{deepest}_loss']:.3f} (accuracy "
        f"{f[f'residual_{deepest}_acc']:.3f}).")
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["depth", "plain_loss", "plain_acc", "residual_loss", "residual_acc"],
        rows=rows, findings=findings, conclusion=conclusion,
        settings={**s, "quick": bool(quick), "seed": int(seed), "optimizer": "adam",
                  "initializer": "glorot_uniform", "dtype": "float64", "data": "spirals / 2.5"},
        series=series)


def plot(result, path):
    """Final training loss against depth (left) and the loss curves (right)."""
    from ..plotting import pyplot
    plt = pyplot()
    depths = result.settings["depths"]
    colours = {"plain": "tab:red", "residual": "tab:blue"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in KINDS:
        left.plot(depths, [result.findings[f"{kind}_{d}_loss"] for d in depths], "o-",
                  color=colours[kind], label=kind)
    left.set_xlabel("depth (Dense layers)")
    left.set_ylabel(f"training loss after {result.settings['epochs']} epochs")
    left.set_yscale("log")
    left.legend()
    left.grid(True, alpha=0.3)
    shades = np.linspace(0.35, 1.0, len(depths))
    for kind, cmap in (("plain", plt.cm.Reds), ("residual", plt.cm.Blues)):
        for depth, shade in zip(depths, shades):
            right.plot(range(1, result.settings["epochs"] + 1), result.series[f"{kind}/{depth}"],
                       color=cmap(shade), label=f"{kind} {depth}")
    right.set_xlabel("epoch")
    right.set_ylabel("training loss")
    right.set_yscale("log")
    right.legend(fontsize=6, ncol=2)
    right.grid(True, alpha=0.3)
    fig.suptitle(f"two spirals, width {result.settings['width']}, relu")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
