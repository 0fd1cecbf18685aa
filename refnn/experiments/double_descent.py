"""Double descent: test error against hidden width, across the interpolation threshold.

Data: n training images of Fashion-MNIST (7x7 average-pooled: d = 49 inputs, centred, scaled by
one global factor), a fraction `label_noise` of their labels replaced by a different class at
random, and a separate test set with clean labels. Targets are one-hot, K = 10 outputs; the loss
is the mean squared error; no regularisation of any kind; every fit is full-batch L-BFGS in
float64, run until the training loss stops falling (or max_iterations).

Two families of one-hidden-layer ReLU networks of width h:
    network          both layers trained                 P = (d + 1) h + (h + 1) K
    random_features  the hidden layer stays at its random initialisation (He normal), only the
                     output layer is trained, from zero; that is linear least squares on the
                     features relu(X W1 + b1), and from zero L-BFGS converges to its minimum-norm
                     solution                             P = (h + 1) K
The interpolation threshold is P ~ n K (as many trained parameters as fitted numbers): there the
network just manages to fit every training target, noise included, and the lecture's claim is
that the test error peaks there, between a first descent (below) and a second one (above).
When Fashion-MNIST is not installed, a generated data set stands in (settings["dataset"] says so).
"""
import time

import numpy as np

from ..layers import Dense
from ..model import Sequential
from ..optimizers import LBFGS
from . import ExperimentResult
from ._common import average_pool, fashion_mnist_subset

CLAIM = ("With label noise and no regularisation, test error against model size falls, rises to "
         "a peak at the interpolation threshold (parameters ~ samples x outputs), and falls again "
         "as the model grows further.")

K = 10

SETTINGS = {
    True: {"n_train": 100, "n_test": 1000, "label_noise": 0.2,
           "network_widths": [4, 8, 16, 32, 128],
           "random_features_widths": [10, 25, 50, 100, 200, 800],
           "max_iterations": 200},
    False: {"n_train": 400, "n_test": 5000, "label_noise": 0.2,
            "network_widths": [1, 4, 8, 16, 32, 48, 64, 80, 128, 256, 512],
            "random_features_widths": [10, 50, 100, 200, 300, 400, 500, 800, 1600, 3200],
            "max_iterations": 2000},
}


# ---------------------------------------------------------------- data
def noisy_labels(y, fraction, rng):
    """A copy of y with round(fraction n) labels, chosen at random, moved to another class."""
    y = y.copy()
    flip = rng.choice(y.shape[0], int(round(fraction * y.shape[0])), replace=False)
    y[flip] = (y[flip] + rng.integers(1, K, flip.shape[0])) % K
    return y, flip


def data(n_train, n_test, label_noise, seed):
    x, y, x_test, y_test, description = fashion_mnist_subset(n_train, n_test, seed)
    x, x_test = average_pool(x, 4), average_pool(x_test, 4)         # 7x7: d = 49
    mean, scale = x.mean(axis=0), x.std()
    x, x_test = (x - mean) / scale, (x_test - mean) / scale
    y_noisy, flipped = noisy_labels(y, label_noise, np.random.default_rng([seed, 5]))
    return x, y_noisy, x_test, y_test, description, flipped


# ---------------------------------------------------------------- the two families
def _lbfgs(max_iterations):
    return LBFGS(max_iterations=max_iterations, tolerance=1e-10, ftol=1e-16)


def _scores(yhat, Y, y):
    return float(np.mean((yhat - Y) ** 2)), float(np.mean(np.argmax(yhat, axis=1) != y))


def fit_network(h, x, Y, x_test, Y_test, y, y_test, max_iterations, seed):
    """Both layers trained: d -> h (relu) -> K (linear)."""
    model = Sequential([Dense(h, activation="relu", input_shape=(x.shape[1],)), Dense(K)],
                       seed=seed, dtype="float64")
    model.compile(loss="mse", optimizer=_lbfgs(max_iterations))
    model.fit(x, Y, epochs=1, verbose=0)
    train = _scores(model.predict(x, batch_size=x.shape[0]), Y, y)
    test = _scores(model.predict(x_test, batch_size=x_test.shape[0]), Y_test, y_test)
    return model.count_params(), train, test


def fit_random_features(h, x, Y, x_test, Y_test, y, y_test, max_iterations, seed):
    """The hidden layer fixed at its random initialisation; only the output layer trained,
    from zero weights."""
    features = Sequential([Dense(h, activation="relu", kernel_initializer="he_normal",
                                 input_shape=(x.shape[1],))], seed=seed, dtype="float64")
    F, F_test = (features.predict(a, batch_size=a.shape[0]) for a in (x, x_test))
    head = Sequential([Dense(K, kernel_initializer="zeros", input_shape=(h,))], seed=seed,
                      dtype="float64")
    head.compile(loss="mse", optimizer=_lbfgs(max_iterations))
    head.fit(F, Y, epochs=1, verbose=0)
    train = _scores(head.predict(F, batch_size=F.shape[0]), Y, y)
    test = _scores(head.predict(F_test, batch_size=F_test.shape[0]), Y_test, y_test)
    return head.count_params(), train, test


FAMILIES = {"network": fit_network, "random_features": fit_random_features}


def summarise(P, test_error, nK):
    """The shape of one curve: the peak among the sizes with P/(nK) in [1/4, 4] (among all when
    none is), the best test error below that peak (first descent), and the error of the largest
    model (second descent)."""
    ratio = np.asarray(P, float) / nK
    err = np.asarray(test_error, float)
    near = np.flatnonzero((ratio >= 0.25) & (ratio <= 4.0))
    if near.size == 0:                      # no size near the threshold: the whole curve
        near = np.arange(err.size)
    i_peak = int(near[np.argmax(err[near])])
    below = err[:i_peak + 1]
    return {"peak_error": float(err[i_peak]), "peak_index": i_peak,
            "peak_params_over_nK": float(ratio[i_peak]),
            "first_error": float(err[0]), "min_error_below_peak": float(below.min()),
            "largest_error": float(err[-1]),
            "rise": float(err[i_peak] - below.min()), "second_fall": float(err[i_peak] - err[-1])}


def run(quick=True, seed=0):
    s = SETTINGS[bool(quick)]
    start = time.perf_counter()
    x, y, x_test, y_test, description, flipped = data(s["n_train"], s["n_test"],
                                                      s["label_noise"], seed)
    Y, Y_test = np.eye(K)[y], np.eye(K)[y_test]
    n, d = x.shape
    nK = n * K
    rows, findings, series = [], {}, {}
    for family, fit in FAMILIES.items():
        curve = {"width": [], "params": [], "params_over_nK": [], "train_mse": [],
                 "train_error": [], "test_mse": [], "test_error": [], "seconds": []}
        for h in s[f"{family}_widths"]:
            tic = time.perf_counter()
            P, (train_mse, train_error), (test_mse, test_error) = fit(
                h, x, Y, x_test, Y_test, y, y_test, s["max_iterations"], seed)
            values = [h, P, P / nK, train_mse, train_error, test_mse, test_error]
            for key, v in zip(curve, values + [round(time.perf_counter() - tic, 2)]):
                curve[key].append(v)
            rows.append([family] + values)
        series[family] = curve
        summary = summarise(curve["params"], curve["test_error"], nK)
        summary["peak_width"] = curve["width"][summary.pop("peak_index")]
        summary["largest_train_mse"] = curve["train_mse"][-1]
        mse_summary = summarise(curve["params"], curve["test_mse"], nK)
        summary["peak_test_mse"] = mse_summary["peak_error"]
        summary["peak_test_mse_params_over_nK"] = mse_summary["peak_params_over_nK"]
        summary["largest_test_mse"] = mse_summary["largest_error"]
        summary["min_test_mse_below_peak"] = mse_summary["min_error_below_peak"]
        for k, v in summary.items():
            findings[f"{family}_{k}"] = v
    threshold = {"network": (nK - K) / (d + 1 + K), "random_features": nK / K - 1}
    settings = {"quick": bool(quick), "seed": seed, **s, "dataset": description,
                "inputs": "7x7 average-pooled images (d = 49), centred, one global scale",
                "flipped_labels": int(flipped.shape[0]), "n_outputs": K, "loss": "mse (one-hot)",
                "optimizer": "lbfgs (full batch, float64)", "regularisation": "none",
                "threshold_width": {k: round(v, 1) for k, v in threshold.items()},
                "seconds": round(time.perf_counter() - start, 1)}
    return ExperimentResult(
        name="double_descent", claim=CLAIM,
        columns=["family", "width", "params P", "P/(nK)", "train mse", "train err", "test mse",
                 "test err"],
        rows=rows, findings=findings, conclusion=_conclusion(findings), settings=settings,
        series=series)


def _conclusion(fd):
    out = []
    for family in FAMILIES:
        f = {k[len(family) + 1:]: v for k, v in fd.items() if k.startswith(family + "_")}
        falls = f["first_error"] > f["min_error_below_peak"] + 0.005
        rises = f["rise"] > 0.02
        falls_again = f["second_fall"] > 0.02
        shape = ("falls, peaks and falls again" if falls and rises and falls_again else
                 "peaks and falls again (no first descent)" if rises and falls_again else
                 "shows no clear peak")
        out.append(f"{family}: test error {f['first_error']:.3f} -> {f['min_error_below_peak']:.3f}"
                   f" -> peak {f['peak_error']:.3f} at P/(nK) = {f['peak_params_over_nK']:.2f} "
                   f"(width {f['peak_width']}) -> {f['largest_error']:.3f}: it {shape}"
                   + (" as claimed." if falls and rises and falls_again else "."))
    return " ".join(out)


def plot(result, path):
    """Test error (and training mse) against P/(nK), one panel per family."""
    from ..plotting import pyplot
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, family in zip(axes, FAMILIES):
        c = result.series[family]
        ax.semilogx(c["params_over_nK"], c["test_error"], "o-", label="test error")
        ax.semilogx(c["params_over_nK"], c["train_error"], "s--",
                    label="train error (noisy labels)")
        ax2 = ax.twinx()
        ax2.semilogx(c["params_over_nK"], c["test_mse"], "^:", color="tab:red", label="test mse")
        ax2.set_yscale("log")
        ax2.set_ylabel("test mse", color="tab:red")
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("trained parameters P / (n K)")
        ax.set_ylabel("error rate")
        ax.set_title(family.replace("_", " "))
        ax.grid(True, which="both", alpha=0.3)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=8, loc="lower left")
    fig.suptitle(f"Double descent ({result.settings['dataset'].split(':')[0]}, "
                 f"n = {result.settings['n_train']}, {int(100 * result.settings['label_noise'])} % "
                 f"label noise)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
