"""The lottery ticket: a pruned sub-network, rewound to its initial weights, trains as well as the
dense network; the same sub-network with fresh random weights does not (Frankle & Carbin, 2019).

Procedure (one-shot pruning):
  1. train a dense ReLU network from its initial weights W_0 to W_T;
  2. keep, in each hidden kernel, the (1 - p) largest |W_T| entries; the output kernel is pruned
     at half the rate, p/2, as in the paper (biases are never pruned);
  3. compare, at each pruning fraction p:
       pruned      W_T * mask, no retraining
       rewound     W_0 * mask, retrained with the same optimizer, batches and epochs (the ticket)
       random      W_0' * mask with a fresh initialisation W_0', retrained the same way (same
                   batches)
Masks are Dense.set_kernel_mask: a pruned weight is exactly 0 and stays so through training.
Data: a Fashion-MNIST subset (a generated stand-in when it is not installed; settings["dataset"]).
"""
import time

import numpy as np

from ..layers import Dense
from ..optimizers import Adam
from . import ExperimentResult
from ._common import classifier, fashion_mnist_subset

CLAIM = ("A network pruned to a small fraction of its weights and rewound to its original "
         "initialisation (a winning ticket) retrains to the accuracy of the dense network, while "
         "the same sparse architecture with a new random initialisation trains worse.")

SETTINGS = {
    True: {"n_train": 1500, "n_test": 2000, "hidden": [64], "epochs": 6, "batch_size": 50,
           "learning_rate": 1.2e-3, "fractions": [0.5, 0.8, 0.9]},
    False: {"n_train": 10000, "n_test": 5000, "hidden": [300, 100], "epochs": 12,
            "batch_size": 60, "learning_rate": 1.2e-3, "fractions": [0.5, 0.8, 0.9, 0.95, 0.98]},
}


def network(hidden, seed):
    """784 -> hidden (relu) -> 10 (softmax); see _common.classifier."""
    return classifier(784, hidden, seed)


def magnitude_masks(kernels, fraction):
    """Per kernel: False for the `fraction` of entries with the smallest |w| (the last kernel,
    the output layer's, at fraction / 2), True elsewhere. Ties broken by position."""
    masks = []
    for i, W in enumerate(kernels):
        p = fraction / 2 if i == len(kernels) - 1 else fraction
        n_pruned = int(round(p * W.size))
        order = np.argsort(np.abs(W), axis=None, kind="stable")
        mask = np.ones(W.size, dtype=bool)
        mask[order[:n_pruned]] = False
        masks.append(mask.reshape(W.shape))
    return masks


def dense_layers(model):
    return [layer for layer in model.layers if isinstance(layer, Dense)]


def apply_masks(model, masks):
    for layer, mask in zip(dense_layers(model), masks):
        layer.set_kernel_mask(mask)


def train(model, x, y, s):
    """Adam, fixed epochs and batch size (the batch order follows the model's seed: the dense,
    rewound and random networks, all made with one seed, see the same batches)."""
    model.compile(loss="sparse_categorical_crossentropy",
                  optimizer=Adam(learning_rate=s["learning_rate"]))
    model.fit(x, y, batch_size=s["batch_size"], epochs=s["epochs"], verbose=0)
    return model


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, batch_size=2048), axis=1) == y))


def kernels_of(model):
    return [layer.W.copy() for layer in dense_layers(model)]


def pruned_weights_zero(model, masks):
    """True when every pruned kernel entry is exactly 0."""
    return all(not np.any(layer.W[~m]) for layer, m in zip(dense_layers(model), masks))


def run(quick=True, seed=0):
    s = SETTINGS[bool(quick)]
    start = time.perf_counter()
    x, y, x_test, y_test, description = fashion_mnist_subset(s["n_train"], s["n_test"], seed)
    x, x_test = x.astype(np.float32), x_test.astype(np.float32)

    dense = network(s["hidden"], seed)
    initial = dense.get_weights()                                  # W_0 (and the biases' b_0)
    train(dense, x, y, s)
    trained = dense.get_weights()                                  # W_T
    dense_acc = accuracy(dense, x_test, y_test)
    dense_train_acc = accuracy(dense, x, y)
    n_kernel = sum(W.size for W in kernels_of(dense))

    rows = [["dense", 0.0, 1.0, dense_acc, dense_acc, dense_acc]]
    findings = {"dense_accuracy": dense_acc, "dense_train_accuracy": dense_train_acc}
    series = {"fraction": [], "kept": [], "pruned": [], "rewound": [], "random": []}
    all_zero = True
    for p in s["fractions"]:
        masks = magnitude_masks(kernels_of(dense), p)
        kept = sum(int(m.sum()) for m in masks) / n_kernel

        pruned = network(s["hidden"], seed)                        # W_T * mask, no retraining
        pruned.set_weights(trained)
        apply_masks(pruned, masks)
        acc_pruned = accuracy(pruned, x_test, y_test)

        rewound = network(s["hidden"], seed)                       # W_0 * mask, retrained
        rewound.set_weights(initial)
        apply_masks(rewound, masks)
        train(rewound, x, y, s)
        acc_rewound = accuracy(rewound, x_test, y_test)

        random = network(s["hidden"], seed)                        # W_0' * mask, retrained
        random.set_weights(network(s["hidden"], seed + 1000).get_weights())   # a fresh W_0'
        apply_masks(random, masks)
        train(random, x, y, s)
        acc_random = accuracy(random, x_test, y_test)

        zero = pruned_weights_zero(rewound, masks) and pruned_weights_zero(random, masks)
        all_zero = all_zero and zero
        rows.append(["pruned", p, kept, acc_pruned, acc_rewound, acc_random])
        key = f"{int(round(100 * p))}"
        findings[f"pruned_{key}_accuracy"] = acc_pruned
        findings[f"rewound_{key}_accuracy"] = acc_rewound
        findings[f"random_{key}_accuracy"] = acc_random
        findings[f"rewound_{key}_minus_dense"] = acc_rewound - dense_acc
        findings[f"rewound_{key}_minus_random"] = acc_rewound - acc_random
        for k, v in (("fraction", p), ("kept", kept), ("pruned", acc_pruned),
                     ("rewound", acc_rewound), ("random", acc_random)):
            series[k].append(v)
    findings["pruned_weights_exactly_zero"] = bool(all_zero)
    settings = {"quick": bool(quick), "seed": seed, **s, "dataset": description,
                "optimizer": "adam", "loss": "sparse_categorical_crossentropy",
                "pruning": "one-shot, layer-wise magnitude; output layer at half the fraction",
                "kernel_weights": n_kernel, "seconds": round(time.perf_counter() - start, 1)}
    return ExperimentResult(
        name="lottery_ticket", claim=CLAIM,
        columns=["network", "pruned fraction", "weights kept", "pruned, not retrained",
                 "rewound + retrained", "random init + retrained"],
        rows=rows, findings=findings, conclusion=_conclusion(findings, s["fractions"]),
        settings=settings, series=series)


def _conclusion(fd, fractions):
    dense = fd["dense_accuracy"]
    parts = [f"dense test accuracy {dense:.3f}."]
    for p in fractions:
        k = f"{int(round(100 * p))}"
        r, q = fd[f"rewound_{k}_accuracy"], fd[f"random_{k}_accuracy"]
        z = fd[f"pruned_{k}_accuracy"]
        verdict = ("ticket within 2 points of dense" if r >= dense - 0.02 else
                   "ticket more than 2 points below dense")
        verdict += (", better than random re-initialisation" if r - q > 0.005 else
                    ", no better than random re-initialisation")
        parts.append(f"{k} % pruned: no retraining {z:.3f}, rewound {r:.3f}, random {q:.3f} "
                     f"({verdict}).")
    parts.append("Pruned weights stayed exactly 0 through retraining."
                 if fd["pruned_weights_exactly_zero"] else
                 "Some pruned weights did not stay 0.")
    return " ".join(parts)


def plot(result, path):
    """Test accuracy against the fraction of weights kept (left), and the two retrained variants
    against the dense network, in points (right)."""
    from ..plotting import pyplot
    plt = pyplot()
    s = result.series
    dense = result.findings["dense_accuracy"]
    kept = np.asarray(s["kept"]) * 100
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    ax = axes[0]
    ax.plot(kept, s["rewound"], "o-", label="rewound to W_0 + retrained (ticket)")
    ax.plot(kept, s["random"], "s-", label="random re-init + retrained")
    ax.plot(kept, s["pruned"], "^-", label="pruned, not retrained")
    ax.axhline(dense, color="k", lw=1, ls="--", label="dense")
    ax.set_ylabel("test accuracy")
    ax2 = axes[1]
    ax2.plot(kept, 100 * (np.asarray(s["rewound"]) - dense), "o-", label="ticket - dense")
    ax2.plot(kept, 100 * (np.asarray(s["random"]) - dense), "s-", label="random re-init - dense")
    ax2.axhline(0, color="k", lw=1, ls="--")
    ax2.axhspan(-2, 0, color="grey", alpha=0.12, label="within 2 points of dense")
    ax2.set_ylabel("test accuracy - dense (points)")
    for a in axes:
        a.set_xscale("log")
        a.set_xticks(kept, [f"{k:.3g}" for k in kept])
        a.minorticks_off()
        a.invert_xaxis()
        a.set_xlabel("kernel weights kept (%)")
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=8)
    fig.suptitle(f"Lottery ticket ({result.settings['dataset'].split(':')[0]}, "
                 f"784-{'-'.join(map(str, result.settings['hidden']))}-10, one-shot magnitude "
                 f"pruning)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
