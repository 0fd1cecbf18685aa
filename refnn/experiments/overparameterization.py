"""Over-parameterisation: wide networks fit their training data while their weights barely move.

Theory (Jacot et al. 2018; Du et al. 2019) for a one-hidden-layer relu network in the
neural-tangent-kernel (NTK) parameterisation
    f(x) = a . relu(W x) / sqrt(m),    W (m x d), a (m,) drawn from N(0, 1),  ||x|| = 1
trained by gradient descent on the squared error: when the width m is large enough, the
training loss goes to 0 and every weight stays close to its initial value, the relative
movement ||theta - theta_0|| / ||theta_0|| shrinking like 1 / sqrt(m) (the network behaves
like its linearisation around theta_0, a kernel method).

refnn has one learning rate for all layers and no 1/sqrt(m) factor, so the NTK network is
built as an exact reparameterisation of standard Dense layers without biases:
    kernels W~ = W^T / sqrt(m) and a~ = a / sqrt(m) (both N(0, 1/m)),  inputs x~ = sqrt(m) x,
    learning rate eta / m
gives W~^T x~ = W x, a~ . relu(.) = f(x), and gradient descent on (W~, a~) moves (W, a) exactly
as gradient descent with learning rate eta in the NTK parameterisation. Relative movements are
the same in both (each layer is only rescaled by a constant).
For comparison, the "standard" rows train Keras's defaults (glorot_uniform kernels, zero biases,
unscaled inputs) with a fixed learning rate.

The measurement: n points on the unit sphere in d dimensions with random +-1 labels (nothing to
generalise: the network has to memorise), mean squared error, full-batch gradient descent for
`steps` steps; per width, the final training loss and the relative movement of the hidden
kernel, of the output kernel and of all weights together.
"""
import math

import numpy as np

from ..layers import Dense
from ..model import Sequential
from ..optimizers import SGD
from . import ExperimentResult
from ._common import log_log_slope

NAME = "overparameterization"
CLAIM = ("As the width of a network grows, gradient descent drives the training loss to about 0 "
         "while the weights stay close to their initial values: the relative movement "
         "||W - W0|| / ||W0|| shrinks (like 1/sqrt(width)).")

PARAMETERIZATIONS = ("ntk", "standard")

QUICK = {"widths": [4, 32, 256, 2048], "n_samples": 20, "n_features": 5, "steps": 500,
         "ntk_learning_rate": 1.0, "standard_learning_rate": 0.5}
FULL = {"widths": [4, 16, 64, 256, 1024, 4096, 16384], "n_samples": 40, "n_features": 5,
        "steps": 2000, "ntk_learning_rate": 1.0, "standard_learning_rate": 0.5}


def sphere_data(n_samples, n_features, seed):
    """x uniform on the unit sphere, y = +-1 at random, both fixed by the seed."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = rng.choice([-1.0, 1.0], size=(n_samples, 1))
    return X, y


def build(parameterization, width, n_features, s, seed):
    """The model, its inputs' scale and its learning rate."""
    if parameterization == "ntk":
        model = Sequential([Dense(width, activation="relu", use_bias=False,
                                  input_shape=(n_features,)),
                            Dense(1, use_bias=False)], seed=seed, dtype="float64")
        rng = np.random.default_rng([seed, width])
        model.set_weights([rng.standard_normal((n_features, width)) / math.sqrt(width),
                           rng.standard_normal((width, 1)) / math.sqrt(width)])
        return model, math.sqrt(width), s["ntk_learning_rate"] / width
    if parameterization == "standard":
        model = Sequential([Dense(width, activation="relu", input_shape=(n_features,)), Dense(1)],
                           seed=seed, dtype="float64")
        return model, 1.0, s["standard_learning_rate"]
    raise ValueError(f"parameterization must be one of {PARAMETERIZATIONS}, "
                     f"got {parameterization!r}")


def relative_movement(w, w0):
    return float(np.linalg.norm(w - w0) / np.linalg.norm(w0))


def run(quick=True, seed=0):
    s = dict(QUICK if quick else FULL)
    X, y = sphere_data(s["n_samples"], s["n_features"], seed)
    n = s["n_samples"]
    rows, findings, series = [], {}, {}
    for parameterization in PARAMETERIZATIONS:
        losses, movements = [], []
        for width in s["widths"]:
            model, scale, learning_rate = build(parameterization, width, s["n_features"], s, seed)
            model.compile(loss="mse", optimizer=SGD(learning_rate=learning_rate))
            Xs = X * scale
            w0 = model.get_weights()
            loss0 = model.evaluate(Xs, y, batch_size=n, verbose=0)
            model.fit(Xs, y, batch_size=n, epochs=s["steps"], shuffle=False, verbose=0)
            w = model.get_weights()
            loss = model.evaluate(Xs, y, batch_size=n, verbose=0)
            kernels = [(a, b) for a, b in zip(w, w0) if b.ndim == 2]      # hidden, output
            hidden = relative_movement(*kernels[0])
            output = relative_movement(*kernels[1])
            total = float(math.sqrt(sum(np.sum((a - b) ** 2) for a, b in zip(w, w0)))
                          / math.sqrt(sum(np.sum(b ** 2) for b in w0)))
            rows.append([parameterization, width, loss0, loss, hidden, output, total])
            key = f"{parameterization}_{width}"
            findings[f"{key}_loss"] = loss
            findings[f"{key}_movement"] = total
            losses.append(loss)
            movements.append(total)
        series[f"{parameterization}/loss"] = losses
        series[f"{parameterization}/movement"] = movements
        # the over-parameterised widths: more hidden units than training samples
        wide = [i for i, m in enumerate(s["widths"]) if m >= n]
        findings[f"{parameterization}_movement_slope"] = log_log_slope(
            [s["widths"][i] for i in wide], [movements[i] for i in wide])
    f = findings
    widest, narrowest = s["widths"][-1], s["widths"][0]
    conclusion = (
        f"NTK parameterisation: the training loss goes from {f[f'ntk_{narrowest}_loss']:.2g} at "
        f"width {narrowest} to {f[f'ntk_{widest}_loss']:.2g} at width {widest}, and the relative "
        f"movement of the weights from {f[f'ntk_{narrowest}_movement']:.2g} to "
        f"{f[f'ntk_{widest}_movement']:.2g} (slope {f['ntk_movement_slope']:.2f} in log-log; "
        f"theory -0.5). Keras's default parameterisation also fits at large width (loss "
        f"{f[f'standard_{widest}_loss']:.2g}) but its weights move as much at every width "
        f"(relative movement {f[f'standard_{widest}_movement']:.2g} at width {widest}, slope "
        f"{f['standard_movement_slope']:.2f}).")
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["parameterization", "width", "loss_init", "loss_final", "movement_hidden",
                 "movement_output", "movement_all"],
        rows=rows, findings=findings, conclusion=conclusion,
        settings={**s, "quick": bool(quick), "seed": int(seed), "optimizer": "sgd (full batch)",
                  "loss": "mse", "dtype": "float64"},
        series=series)


def plot(result, path):
    """Final training loss (left) and relative weight movement (right) against the width."""
    from ..plotting import pyplot
    plt = pyplot()
    widths = result.settings["widths"]
    colours = {"ntk": "tab:blue", "standard": "tab:red"}
    labels = {"ntk": "NTK parameterisation", "standard": "Keras defaults (glorot, fixed rate)"}
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for p in PARAMETERIZATIONS:
        left.loglog(widths, result.series[f"{p}/loss"], "o-", color=colours[p], label=labels[p])
        right.loglog(widths, result.series[f"{p}/movement"], "o-", color=colours[p],
                     label=labels[p])
    ntk = result.series["ntk/movement"]
    reference = [ntk[-1] * math.sqrt(widths[-1] / m) for m in widths]
    right.loglog(widths, reference, ":", color="gray", label="1/sqrt(width)")
    left.set_ylabel(f"training loss after {result.settings['steps']} steps")
    right.set_ylabel("||theta - theta_0|| / ||theta_0||")
    for ax in (left, right):
        ax.set_xlabel("width (hidden units)")
        ax.grid(True, which="major", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"{result.settings['n_samples']} random labels on the unit sphere in "
                 f"{result.settings['n_features']} dimensions, full-batch gradient descent")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
