"""Flat and sharp minima: the training loss along random directions around the minimum that
small-batch and large-batch training find (Keskar et al. 2017; the plots of Li et al. 2018).

The same network, from the same initial weights, is trained with a small and with a
full-size batch by the same optimizer (SGD with momentum, the same learning rate), each until its
training loss first falls to the same target, so that the two minima are compared at the same
height. Around each minimum theta* the loss is traced along random directions d:
        L(t) = L(theta* + t d),   t in [-1, 1]
d is Gaussian and then normalised so that the picture does not depend on the weights' scale
(a ReLU network computes the same function when one layer is scaled by c and the next by 1/c):
    filter   per unit j of each Dense layer, the column d[:, j] of the kernel direction gets the
             norm of the column W[:, j] (Li et al.: per filter)
    layer    each kernel direction gets the norm of its kernel
and the biases are not moved (their direction is 0), as in Li et al.
The sharpness of a run is the mean loss increase a quarter of the way out,
        sharpness = mean over directions and t = +-1/4 of L(theta* + t d) - L(theta*)
The full setting repeats this for `repeats` seeds (each a new data subset and initialisation) and
reports the means; the plot shows the slices of the first.
The lecture's claim: large batches end in sharper minima, and those generalise worse.
Data: a Fashion-MNIST subset, 2x2 average-pooled to 14x14 inputs (a generated stand-in when
Fashion-MNIST is not installed; settings["dataset"]).
"""
import time

import numpy as np

from ..callbacks import Callback
from ..optimizers import SGD
from . import ExperimentResult
from ._common import average_pool, classifier, fashion_mnist_subset

CLAIM = ("Small-batch training ends in flat minima and large-batch training in sharp ones "
         "(the loss rises faster along random directions around them), and the sharp minima "
         "generalise worse.")

T_SHARPNESS = 0.25

SETTINGS = {
    True: {"n_train": 800, "n_test": 2000, "hidden": [48], "learning_rate": 0.05,
           "momentum": 0.9, "batch_sizes": [16, 800], "target_loss": 0.15, "max_epochs": 2000,
           "directions": 3, "points": 17, "repeats": 1},
    False: {"n_train": 2000, "n_test": 5000, "hidden": [64, 32], "learning_rate": 0.05,
            "momentum": 0.9, "batch_sizes": [16, 2000], "target_loss": 0.1, "max_epochs": 2000,
            "directions": 8, "points": 41, "repeats": 3},
}


class StopAtLoss(Callback):
    """Stop training at the end of the first epoch whose mean training loss is <= target."""

    def __init__(self, target):
        self.target = target
        self.epochs = 0
        self.reached = False

    def on_epoch_end(self, epoch, logs=None):
        self.epochs = epoch + 1
        if logs is not None and logs.get("loss", np.inf) <= self.target:
            self.reached = True
            self.model.stop_training = True


def direction(weights, names, rng, normalisation="filter"):
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


def loss_slice(model, x, y, d, ts):
    """L(theta* + t d) on (x, y) for each t; the model's weights are restored afterwards."""
    theta = model.get_weights()
    out = []
    try:
        for t in ts:
            model.set_weights([w + t * dw for w, dw in zip(theta, d)])
            out.append(float(model.evaluate(x, y, batch_size=x.shape[0], verbose=0)[0]))
    finally:
        model.set_weights(theta)
    return out


def train_and_slice(x, y, x_test, y_test, batch_size, ts, s, seed):
    """Train the network from its seed's initial weights with one batch size until the target
    loss; return its scores and its loss slices along s["directions"] random directions of each
    normalisation (the same Gaussian draws for every batch size)."""
    model = classifier(196, s["hidden"], seed)                  # 14x14 inputs
    model.compile(loss="sparse_categorical_crossentropy", metrics=["acc"],
                  optimizer=SGD(learning_rate=s["learning_rate"], momentum=s["momentum"]))
    stop = StopAtLoss(s["target_loss"])
    model.fit(x, y, batch_size=batch_size, epochs=s["max_epochs"], verbose=0, callbacks=[stop])
    train_loss, train_acc = model.evaluate(x, y, batch_size=x.shape[0], verbose=0)
    test_loss, test_acc = model.evaluate(x_test, y_test, batch_size=x_test.shape[0], verbose=0)
    names, theta = model.weight_names(), model.get_weights()
    out = {"epochs": stop.epochs, "steps": stop.epochs * -(-x.shape[0] // batch_size),
           "reached": stop.reached, "train_loss": train_loss, "train_accuracy": train_acc,
           "test_loss": test_loss, "test_accuracy": test_acc}
    i0 = int(np.argmin(np.abs(ts)))
    near = np.flatnonzero(np.isclose(np.abs(ts), T_SHARPNESS))
    for normalisation in ("filter", "layer"):
        rng = np.random.default_rng([seed, 17])
        L = np.asarray([loss_slice(model, x, y, direction(theta, names, rng, normalisation), ts)
                        for _ in range(s["directions"])])
        out[f"sharpness_{normalisation}"] = float(np.mean(L[:, near] - L[:, [i0]]))
        out[f"slices_{normalisation}"] = L.tolist()
    return out


def run(quick=True, seed=0):
    s = SETTINGS[bool(quick)]
    start = time.perf_counter()
    ts = np.union1d(np.linspace(-1.0, 1.0, s["points"]), [-T_SHARPNESS, 0.0, T_SHARPNESS])
    rows, runs = [], {"small": [], "large": []}
    for repeat in range(s["repeats"]):                   # a new data subset and initialisation
        seed_r = seed + repeat
        x, y, x_test, y_test, description = fashion_mnist_subset(s["n_train"], s["n_test"],
                                                                 seed_r)
        x, x_test = (average_pool(a, 2).astype(np.float32) for a in (x, x_test))  # 14x14
        for label, batch_size in zip(("small", "large"), s["batch_sizes"]):
            r = train_and_slice(x, y, x_test, y_test, batch_size, ts, s, seed_r)
            runs[label].append(r)
            rows.append([seed_r, batch_size, r["epochs"], r["steps"], r["train_loss"],
                         r["train_accuracy"], r["test_loss"], r["test_accuracy"],
                         r["sharpness_filter"], r["sharpness_layer"]])
    findings, series = {}, {"t": ts.tolist()}
    for label, batch_size in zip(("small", "large"), s["batch_sizes"]):
        rs = runs[label]
        findings[f"{label}_batch_size"] = batch_size
        findings[f"{label}_reached_target_loss"] = all(r["reached"] for r in rs)
        for key in ("epochs", "train_loss", "train_accuracy", "test_accuracy", "test_loss",
                    "sharpness_filter", "sharpness_layer"):
            findings[f"{label}_{key}"] = float(np.mean([r[key] for r in rs]))
        series[label] = {"batch_size": batch_size, "filter": rs[0]["slices_filter"],
                         "layer": rs[0]["slices_layer"], "test_accuracy": rs[0]["test_accuracy"],
                         "sharpness_filter": [r["sharpness_filter"] for r in rs],
                         "sharpness_layer": [r["sharpness_layer"] for r in rs]}
    for kind in ("filter", "layer"):
        findings[f"sharpness_ratio_{kind}"] = (findings[f"large_sharpness_{kind}"]
                                              / findings[f"small_sharpness_{kind}"])
        findings[f"large_sharper_{kind}_count"] = sum(
            a[f"sharpness_{kind}"] > b[f"sharpness_{kind}"]
            for a, b in zip(runs["large"], runs["small"]))
    findings["small_generalises_better_count"] = sum(
        b["test_accuracy"] > a["test_accuracy"] for a, b in zip(runs["large"], runs["small"]))
    findings["test_accuracy_small_minus_large"] = (findings["small_test_accuracy"]
                                                   - findings["large_test_accuracy"])
    findings["repeats"] = s["repeats"]
    settings = {"quick": bool(quick), "seed": seed, **s, "dataset": description,
                "inputs": "14x14 (2x2 average-pooled)", "optimizer": "sgd (momentum)",
                "loss": "sparse_categorical_crossentropy",
                "sharpness": f"mean over directions and t = +-{T_SHARPNESS} of "
                             "L(theta* + t d) - L(theta*), training loss",
                "seconds": round(time.perf_counter() - start, 1)}
    return ExperimentResult(
        name="flatness", claim=CLAIM,
        columns=["seed", "batch size", "epochs", "steps", "train loss", "train acc", "test loss",
                 "test acc", "sharpness (filter)", "sharpness (layer)"],
        rows=rows, findings=findings, conclusion=_conclusion(findings), settings=settings,
        series=series)


def _conclusion(fd):
    ratio = fd["sharpness_ratio_filter"]
    gap = fd["test_accuracy_small_minus_large"]
    n = fd["repeats"]
    sharper = ("the large-batch minima are sharper" if ratio > 1.1 else
               "the large-batch minima are not sharper" if ratio < 0.9 else
               "the two kinds of minima are about equally sharp")
    return (f"sharpness (filter-normalised{', mean of %d runs' % n if n > 1 else ''}) "
            f"{fd['small_sharpness_filter']:.3g} with batch {fd['small_batch_size']} vs "
            f"{fd['large_sharpness_filter']:.3g} with batch {fd['large_batch_size']} (ratio "
            f"{ratio:.2f}, larger in {fd['large_sharper_filter_count']} of {n}; "
            f"layer-normalised ratio {fd['sharpness_ratio_layer']:.2f}): {sharper}. Test "
            f"accuracy {fd['small_test_accuracy']:.3f} vs {fd['large_test_accuracy']:.3f} "
            f"(small batch better in {fd['small_generalises_better_count']} of {n}): the small "
            "batch " + ("generalises better" if gap > 0.005 else
                        "does not generalise better" if gap < -0.005 else
                        "generalises about as well")
            + f" (train loss {fd['small_train_loss']:.3g} vs {fd['large_train_loss']:.3g}, "
            f"test loss {fd['small_test_loss']:.3g} vs {fd['large_test_loss']:.3g}).")


def plot(result, path):
    """The 1-D loss slices: the mean over directions (thick) and each direction (thin)."""
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
            sharp = s[f"sharpness_{kind}"][0]
            ax.plot(t, L.mean(axis=0), color=color, lw=2,
                    label=f"batch {s['batch_size']}: sharpness {sharp:.3g}, "
                          f"test acc {s['test_accuracy']:.3f}")
        ax.axvspan(-T_SHARPNESS, T_SHARPNESS, color="grey", alpha=0.1)
        ax.set_yscale("log")
        ax.set_xlabel("t  (theta* + t d)")
        ax.set_title(f"{kind}-normalised directions")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("training loss")
    fig.suptitle(f"Loss along random directions around the minimum: small vs large batch "
                 f"(seed {result.settings['seed']})")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
