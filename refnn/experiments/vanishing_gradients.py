"""Vanishing gradients: the gradient norm of each layer of a deep network.

Backpropagation multiplies the error term by f'(h) W^T once per layer on its way to the input:
    epsilon_{l-1} = (epsilon_l W_l^T) * f'(h_{l-1}),     dE/dW_l = g_{l-1}^T epsilon_l
With sigmoid, f' = g (1 - g) <= 1/4, so with weights of the usual size each layer scales the
error term down by a factor of about 4 and the first layers receive almost no gradient. relu
(f' = 1 where h > 0), batch normalisation (which rescales h to unit variance, undoing the
shrinking) and skip connections (h' = h + F(h): dE/dh = dE/dh' + ..., an identity path) keep
the error term from vanishing.

The measurement: networks of `depth` Dense layers (width `width`, Keras's glorot_uniform
initialisation, a 1-unit sigmoid output, binary cross-entropy) on a binary task with Gaussian
inputs in `width` dimensions (so every hidden kernel, the first included, is width x width).
For each activation (sigmoid, tanh, relu) and each architecture
    plain       Dense(w, f) x (depth - 1), Dense(1, sigmoid)
    batch_norm  the same with batch normalisation between h and f in every hidden layer
    skip        Dense(w, f), then blocks Residual([Dense(w, f), Dense(w)]), Dense(1, sigmoid)
the norm ||dE/dW_l|| of every kernel (float64, model.loss_and_gradients on the whole training
set) at initialisation and after training with plain SGD. The headline number is
    ratio = ||dE/dW_1|| / ||dE/dW_{depth-1}||    (first layer over last hidden layer)
which is about 1 when the gradient reaches the input intact and << 1 when it vanishes.
"""
import numpy as np

from ..optimizers import SGD
from . import ExperimentResult
from ._common import deep_network

NAME = "vanishing_gradients"
CLAIM = ("In a deep sigmoid network the gradient shrinks layer by layer towards the input, so "
         "the first layers barely learn; relu, batch normalisation and skip connections keep "
         "it alive.")

ACTIVATIONS = ("sigmoid", "tanh", "relu")
ARCHITECTURES = ("plain", "batch_norm", "skip")

QUICK = {"depth": 10, "width": 32, "n_samples": 512, "epochs": 10, "batch_size": 32,
         "learning_rate": 0.05}
FULL = {"depth": 20, "width": 32, "n_samples": 2048, "epochs": 30, "batch_size": 32,
        "learning_rate": 0.05}


def teacher_data(n_samples, n_features, seed):
    """x ~ N(0, I); y = 1 where a random one-hidden-layer tanh teacher (16 units) is positive."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    W = rng.standard_normal((n_features, 16)) / np.sqrt(n_features)
    v = rng.standard_normal(16)
    y = (np.tanh(X @ W) @ v > 0).astype(np.float64)[:, None]
    return X, y


def build(activation, architecture, depth, width, seed):
    """`depth` Dense layers in all (the output included), float64."""
    if depth < 4:
        raise ValueError(f"depth must be at least 4, got {depth}")
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {architecture!r}")
    return deep_network(width, depth, width, activation, residual=architecture == "skip",
                        batch_norm=architecture == "batch_norm", seed=seed)


def kernel_gradient_norms(model, X, y):
    """The loss and ||dE/dW|| of every Dense kernel, from the input side to the output."""
    loss, grads = model.loss_and_gradients(X, y)
    return loss, [float(np.linalg.norm(g)) for g in grads if g.ndim == 2]


def run(quick=True, seed=0):
    s = dict(QUICK if quick else FULL)
    X, y = teacher_data(s["n_samples"], s["width"], seed)
    rows, findings, series = [], {}, {}
    for activation in ACTIVATIONS:
        for architecture in ARCHITECTURES:
            model = build(activation, architecture, s["depth"], s["width"], seed)
            model.compile(loss="binary_crossentropy",
                          optimizer=SGD(learning_rate=s["learning_rate"]))
            loss0, norms0 = kernel_gradient_norms(model, X, y)
            model.fit(X, y, batch_size=s["batch_size"], epochs=s["epochs"], verbose=0)
            loss1, norms1 = kernel_gradient_norms(model, X, y)
            ratio0 = norms0[0] / norms0[-2]          # first layer / last hidden layer
            ratio1 = norms1[0] / norms1[-2]
            key = f"{activation}_{architecture}"
            rows.append([activation, architecture, ratio0, ratio1, norms0[0], norms0[-2],
                         loss0, loss1])
            findings[f"{key}_ratio_init"] = ratio0
            findings[f"{key}_ratio_trained"] = ratio1
            findings[f"{key}_loss_init"] = loss0
            findings[f"{key}_loss_trained"] = loss1
            series[f"{key}/init"] = norms0
            series[f"{key}/trained"] = norms1
    f = findings
    conclusion = (
        f"At initialisation the first layer of the {s['depth']}-layer plain sigmoid network gets "
        f"{f['sigmoid_plain_ratio_init']:.1e} times the last hidden layer's gradient, tanh "
        f"{f['tanh_plain_ratio_init']:.2g} and relu {f['relu_plain_ratio_init']:.2g} times. "
        f"Batch normalisation lifts sigmoid to {f['sigmoid_batch_norm_ratio_init']:.2g}, skip "
        f"connections to {f['sigmoid_skip_ratio_init']:.2g}; relu with skip connections has "
        f"{f['relu_skip_ratio_init']:.2g}, relu with batch normalisation "
        f"{f['relu_batch_norm_ratio_init']:.2g} (the gradient grows towards the input). After "
        f"{s['epochs']} epochs of SGD the plain sigmoid network's loss is "
        f"{f['sigmoid_plain_loss_trained']:.3f} (chance: log 2 = 0.693).")
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["activation", "network", "ratio_init", "ratio_trained", "first_init",
                 "last_hidden_init", "loss_init", "loss_trained"],
        rows=rows, findings=findings, conclusion=conclusion,
        settings={**s, "quick": bool(quick), "seed": int(seed), "optimizer": "sgd",
                  "initializer": "glorot_uniform", "dtype": "float64",
                  "ratio": "||dE/dW_1|| / ||dE/dW_(depth-1)||"},
        series=series)


def plot(result, path):
    """Gradient norm per layer, at initialisation (left) and after training (right)."""
    from ..plotting import pyplot
    plt = pyplot()
    colours = {"sigmoid": "tab:red", "tanh": "tab:orange", "relu": "tab:blue"}
    styles = {"plain": "-", "batch_norm": "--", "skip": ":"}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, when in zip(axes, ("init", "trained")):
        for activation in ACTIVATIONS:
            for architecture in ARCHITECTURES:
                norms = result.series[f"{activation}_{architecture}/{when}"]
                ax.semilogy(range(1, len(norms) + 1), norms, styles[architecture],
                            color=colours[activation], marker=".",
                            label=f"{activation}, {architecture}")
        ax.set_xlabel("layer (1 = input side)")
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_title("at initialisation" if when == "init" else
                     f"after {result.settings['epochs']} epochs of SGD")
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("||dE/dW|| of the layer's kernel")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{result.settings['depth']}-layer networks, width {result.settings['width']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
