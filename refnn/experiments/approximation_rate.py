"""Approximation rates: how fast the sup-norm error of a ReLU network falls with its size.

Three targets on [-1, 1]:
    smooth   f(x) = sin(2 pi x) + cos(3 pi x) / 2            (analytic)
    jump     f(x) = sin(pi x) / 2 + [x > 0.3]                 (smooth pieces, a jump of 1)
    cusp     f(x) = sqrt(|x|)                     (smooth except at 0, where f' blows up:
                                                   non-uniform smoothness)
Two families of ReLU networks, each grown in its parameter count W:
    shallow-wide   1 hidden layer of growing width n:          W = 3n + 1
    deep-narrow    L hidden layers of width 8, growing depth:  W = 16 + 72 (L - 1) + 9
Each network is fitted by full-batch L-BFGS in float64 (mean squared error on a uniform grid; for
the cusp plus points graded geometrically towards it, 2^-k, so that the data resolve it); the error
is measured on a dense grid of 20001 points plus points graded towards the jump and the cusp:
    sup-norm  e_inf = max |f(x) - net(x)|    (all points)
    L2        e_2 = sqrt(mean (f(x) - net(x))^2)    (the uniform grid: the mean over [-1, 1])
The rate alpha comes from a least-squares line through (log W, log e):  e ~ C W^-alpha.

Every fit starts from kinks spread evenly over [-1, 1] and the output layer at its least-squares
fit (see `network`), and keeps the best of `restarts` initialisations by training loss.

Reading the numbers. For the jump no continuous function gets closer than half the jump in the
sup-norm, so e_inf >= 1/2 at every W and its rate is 0 whatever the depth: the jump's rate can only
be read in L2, and there the data set a floor: samples h apart fix the jump only to within h, and
even a perfect ramp across that gap leaves e_2 = sqrt(h / 24) (0.013 for the full setting's grid).
Approximation theory bounds what the best network of size W can do; a trained network is the best
that L-BFGS finds, so the measured alpha also contains the optimiser's shortfall.
"""
import time

import numpy as np

from ..layers import Dense
from ..model import Sequential
from ..optimizers import LBFGS
from . import ExperimentResult
from ._common import log_log_slope

CLAIM = ("Depth cannot improve the approximation rate alpha (error ~ C W^-alpha in the number "
         "of weights W) for smooth functions, but it does for functions with jumps and with "
         "non-uniform smoothness.")

JUMP_AT = 0.3


def _smooth(x):
    return np.sin(2 * np.pi * x) + 0.5 * np.cos(3 * np.pi * x)


def _jump(x):
    return 0.5 * np.sin(np.pi * x) + (x > JUMP_AT)


def _cusp(x):
    return np.sqrt(np.abs(x))


# name -> (f, its singular points, training points graded towards them?, a description).
# Not for the jump: graded points there would ask for a slope of 2^24 and dominate the loss.
TARGETS = {
    "smooth": (_smooth, (), False, "sin(2 pi x) + cos(3 pi x)/2"),
    "jump": (_jump, (JUMP_AT,), False, "sin(pi x)/2 + [x > 0.3]"),
    "cusp": (_cusp, (0.0,), True, "sqrt(|x|)"),
}

DEEP_WIDTH = 8
EVAL_POINTS = 20001

SETTINGS = {
    True: {"shallow_widths": [8, 16, 32], "deep_depths": [2, 3, 4], "n_train": 129,
           "max_iterations": 100, "restarts": 1},
    False: {"shallow_widths": [8, 16, 32, 64, 128], "deep_depths": [2, 3, 4, 6, 8],
            "n_train": 513, "max_iterations": 2000, "restarts": 2},
}


def points(singular, n_uniform, levels=24):
    """n_uniform equispaced points of [-1, 1], plus x0 and x0 +- 2^-k (k = 1 .. levels) for each
    singular point x0 (kept inside [-1, 1]), sorted, without repeats."""
    x = [np.linspace(-1.0, 1.0, n_uniform)]
    for x0 in singular:
        graded = x0 + np.concatenate([-(2.0 ** -np.arange(1, levels + 1)), [0.0],
                                      2.0 ** -np.arange(1, levels + 1)])
        x.append(graded[(graded >= -1) & (graded <= 1)])
    return np.unique(np.concatenate(x))


def network(widths, seed, x, y):
    """A float64 ReLU network 1 -> widths... -> 1, set up for the fit of y on x.

    The first layer's kinks x = -b_j / w_j are spread evenly over [-1, 1] (with the default zero
    biases every unit would have its kink at x = 0), the hidden layers keep their He-uniform
    initial kernels, and the output layer starts at the least-squares fit of y on the last hidden
    layer's outputs; for the shallow network that is the best piecewise-linear function with
    these evenly spaced kinks. L-BFGS then moves every weight, the kinks included."""
    layers = [Dense(widths[0], activation="relu", kernel_initializer="he_uniform",
                    input_shape=(1,))]
    layers += [Dense(w, activation="relu", kernel_initializer="he_uniform") for w in widths[1:]]
    layers.append(Dense(1))
    model = Sequential(layers, seed=seed, dtype="float64")
    weights = model.get_weights()
    n = widths[0]
    kinks = -1.0 + (np.arange(n) + np.random.default_rng([seed, 1]).uniform(size=n)) * 2.0 / n
    weights[1] = -weights[0][0] * kinks                 # h_j = w_j (x - kink_j)
    g = x
    for W, b in zip(weights[:-2:2], weights[1:-2:2]):  # the hidden layers: g = relu(g W + b)
        g = np.maximum(g @ W + b, 0.0)
    G = np.hstack([g, np.ones((g.shape[0], 1))])
    coef = np.linalg.lstsq(G, y, rcond=None)[0]         # output layer: min ||G [W; b] - y||
    weights[-2], weights[-1] = coef[:-1], coef[-1]
    model.set_weights(weights)
    return model


def fit(f, singular, graded, widths, n_train, max_iterations, restarts, seed):
    """Train `restarts` networks (seeds seed, seed+1, ...), keep the lowest training loss;
    return its errors on the dense grid."""
    x = points(singular if graded else (), n_train)[:, None]
    y = f(x)
    grid = np.linspace(-1.0, 1.0, EVAL_POINTS)
    x_eval = np.union1d(grid, points(singular, 3))[:, None]     # + the graded points
    uniform = np.isin(x_eval[:, 0], grid)
    y_eval = f(x_eval[:, 0])
    best = None
    for r in range(restarts):
        model = network(widths, seed + r, x, y)
        model.compile(loss="mse", optimizer=LBFGS(max_iterations=max_iterations,
                                                  tolerance=1e-12, ftol=1e-15))
        history = model.fit(x, y, epochs=1, verbose=0)
        train_mse = float(history.history["loss"][-1])
        if best is None or train_mse < best[0]:
            best = (train_mse, model, model.optimizer.iterations)
    train_mse, model, iterations = best
    r = model.predict(x_eval, batch_size=x_eval.shape[0])[:, 0] - y_eval
    return {"W": model.count_params(), "sup_error": float(np.max(np.abs(r))),      # all points
            "l2_error": float(np.sqrt(np.mean(r[uniform] ** 2))),             # the uniform grid
            "train_mse": train_mse,
            "iterations": int(iterations)}


def rate(W, errors):
    """alpha of the least-squares line log e = log C - alpha log W."""
    return -log_log_slope(W, errors)


def run(quick=True, seed=0):
    s = SETTINGS[bool(quick)]
    start = time.perf_counter()
    architectures = {
        "shallow": [[n] for n in s["shallow_widths"]],
        "deep": [[DEEP_WIDTH] * L for L in s["deep_depths"]],
    }
    rows, findings, series = [], {}, {}
    for name, (f, singular, graded, _) in TARGETS.items():
        for arch, width_lists in architectures.items():
            fits = [fit(f, singular, graded, widths, s["n_train"], s["max_iterations"],
                        s["restarts"], seed) for widths in width_lists]
            W = [r["W"] for r in fits]
            sup = [r["sup_error"] for r in fits]
            l2 = [r["l2_error"] for r in fits]
            alpha_sup, alpha_l2 = rate(W, sup), rate(W, l2)
            findings[f"alpha_sup_{name}_{arch}"] = alpha_sup
            findings[f"alpha_l2_{name}_{arch}"] = alpha_l2
            findings[f"min_sup_error_{name}_{arch}"] = min(sup)
            series[f"{name}/{arch}"] = {
                "depth": [len(w) for w in width_lists], "width": [w[0] for w in width_lists],
                "W": W, "sup_error": sup, "l2_error": l2,
                "train_mse": [r["train_mse"] for r in fits],
                "iterations": [r["iterations"] for r in fits]}
            rows.append([name, arch, f"{W[0]}-{W[-1]}", sup[0], sup[-1], alpha_sup, l2[-1],
                         alpha_l2])
    for name in TARGETS:
        findings[f"depth_gain_sup_{name}"] = (findings[f"alpha_sup_{name}_deep"]
                                              - findings[f"alpha_sup_{name}_shallow"])
        findings[f"depth_gain_l2_{name}"] = (findings[f"alpha_l2_{name}_deep"]
                                             - findings[f"alpha_l2_{name}_shallow"])
    seconds = time.perf_counter() - start
    settings = {"quick": bool(quick), "seed": seed, **s, "deep_width": DEEP_WIDTH,
                "targets": {k: v[3] for k, v in TARGETS.items()}, "optimizer": "lbfgs",
                "loss": "mse", "dtype": "float64", "activation": "relu",
                "eval_points": EVAL_POINTS, "seconds": round(seconds, 1)}
    return ExperimentResult(
        name="approximation_rate", claim=CLAIM,
        columns=["function", "architecture", "W", "sup err (smallest W)", "sup err (largest W)",
                 "alpha sup", "L2 err (largest W)", "alpha L2"],
        rows=rows, findings=findings, settings=settings, series=series,
        conclusion=("Quick setting (three sizes, few L-BFGS iterations): the rates are rough. "
                    if quick else "") + _conclusion(findings))


def _conclusion(fd):
    def pair(kind, name):
        return (f"{fd[f'alpha_{kind}_{name}_shallow']:.2f} shallow vs "
                f"{fd[f'alpha_{kind}_{name}_deep']:.2f} deep")

    def verdict(gain, claimed_gain):
        if gain > 0.25:
            text = f"depth improves the rate by {gain:.2f}"
        elif gain < -0.25:
            text = f"depth does not improve the rate (the deep networks' is {-gain:.2f} lower)"
        else:
            text = "depth does not measurably change the rate"
        return text + (" (as claimed)." if (gain > 0.25) == claimed_gain else " (not as claimed).")

    jump_floor = min(fd["min_sup_error_jump_shallow"], fd["min_sup_error_jump_deep"])
    return " ".join([
        f"smooth: alpha_sup {pair('sup', 'smooth')}: "
        + verdict(fd["depth_gain_sup_smooth"], False),
        f"jump: the sup-norm error stays >= {jump_floor:.2f} at every W (no continuous function "
        f"gets closer than half the jump), so there is no sup-norm rate ({pair('sup', 'jump')}); "
        f"in L2, alpha {pair('l2', 'jump')}: " + verdict(fd["depth_gain_l2_jump"], True),
        f"cusp: alpha_sup {pair('sup', 'cusp')}: " + verdict(fd["depth_gain_sup_cusp"], True),
    ])


def plot(result, path):
    """Log-log panels, one column per target: the sup-norm error (top) and the L2 error (bottom)
    against W, shallow and deep, with the fitted lines C W^-alpha."""
    from ..plotting import pyplot
    plt = pyplot()
    from matplotlib.ticker import NullFormatter
    names = list(TARGETS)
    fig, axes = plt.subplots(2, len(names), figsize=(11, 6))
    for col, name in enumerate(names):
        for row, kind in enumerate(("sup", "l2")):
            ax = axes[row, col]
            for arch, style in (("shallow", "o-"), ("deep", "s-")):
                s = result.series[f"{name}/{arch}"]
                W = np.asarray(s["W"], float)
                err = np.asarray(s[f"{kind}_error"], float)
                alpha = result.findings[f"alpha_{kind}_{name}_{arch}"]
                line = ax.loglog(W, err, style, label=f"{arch}: alpha = {alpha:.2f}")[0]
                log_c = np.mean(np.log(err) + alpha * np.log(W))
                ax.loglog(W, np.exp(log_c) * W ** -alpha, ":", color=line.get_color())
            if name == "jump" and kind == "sup":
                ax.axhline(0.5, color="grey", lw=0.8, ls="--", label="half the jump")
            if name == "jump" and kind == "l2":          # a perfect ramp across one sample gap
                h = 2.0 / (result.settings["n_train"] - 1)
                ax.axhline(np.sqrt(h / 24), color="grey", lw=0.8, ls="--",
                           label="data floor sqrt(h/24)")
            ax.xaxis.set_minor_formatter(NullFormatter())
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
            if row == 0:
                ax.set_title(f"{name}: {TARGETS[name][3]}")
            else:
                ax.set_xlabel("parameters W")
    axes[0, 0].set_ylabel("sup-norm error")
    axes[1, 0].set_ylabel("L2 error")
    fig.suptitle("Approximation rate: error ~ C W^-alpha (ReLU networks trained by L-BFGS; "
                 "shallow: 1 hidden layer, deep: width 8)")
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)
    return path
