"""Double descent: test error against model size, across the interpolation threshold.

Data: n training images of Fashion-MNIST (7x7 average-pooled: d = 49 inputs, centred, scaled by
one global factor), a fraction ν of their labels replaced by a different class at random (the
label-noise sweep includes ν = 0, clean labels), and a separate test set with clean labels.
Targets are one-hot, K = 10 outputs; the loss is the mean squared error.

Two families of one-hidden-layer ReLU networks of width h:
    random_features  the hidden layer stays at its random initialisation (He normal); only the
                     output layer [W2; b2] is fitted, to the features G = [relu(X W1 + b1), 1]:
                     a linear least-squares problem solved exactly, for every ridge λ at once,
                     from one SVD G = U S V^T:
                         β_λ = V diag(s / (s² + n λ)) U^T Y     minimises |G β - Y|²/n + λ|β|²
                         λ = 0: the minimum-norm least-squares solution β = G⁺ Y (the limit of
                         gradient descent from zero)                     P = (h + 1) K
    network          both layers trained by full-batch L-BFGS in float64 from Keras's default
                     initialisation, run until the loss stops falling (or max_iterations),
                     no regularisation                                   P = (d + 1) h + (h + 1) K
The interpolation threshold is P ~ n K (as many trained parameters as fitted numbers): there the
model just manages to fit every training target, noise included, and the lecture's claim is that
the test error peaks there, between a first descent (below) and a second one (above). The
controls: clean labels (ν = 0) and ridge (λ > 0), which the theory says shrinks the peak.
When Fashion-MNIST is not installed, a generated data set stands in (settings["dataset"] says so).
"""
from __future__ import annotations

import functools
import math
import sys
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..layers import Dense
from ..model import Sequential
from ..optimizers import LBFGS
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, sweep
from ._common import average_pool, fashion_mnist_subset

Findings = dict[str, Any]         # an ExperimentResult's findings

NAME = "double_descent"
CLAIM = ("With label noise and no regularisation, test error against model size falls, rises to "
         "a peak at the interpolation threshold (parameters ~ samples x outputs), and falls again "
         "as the model grows further.")

K = 10

QUICK = {"n_train": 100, "n_test": 1000, "label_noise": 0.2, "noise_levels": [0.0, 0.2],
         "ridges": [0.0, 1e-3, 1e-2, 1e-1],
         "network_widths": [4, 8, 16, 32, 128],
         "random_features_widths": [10, 25, 50, 75, 100, 150, 200, 400, 800],
         "max_iterations": 400}
FULL = {"n_train": 400, "n_test": 5000, "label_noise": 0.2, "noise_levels": [0.0, 0.1, 0.2, 0.4],
        "ridges": [0.0, 1e-4, 1e-3, 1e-2, 1e-1],
        "network_widths": [1, 4, 8, 16, 32, 48, 64, 80, 128, 256, 512],
        "random_features_widths": [10, 50, 100, 200, 300, 350, 400, 450, 500, 800, 1600, 3200],
        "max_iterations": 5000}
FAMILIES = ("random_features", "network")


# ---------------------------------------------------------------- data
def noisy_labels(y: NDArray[Any], fraction: float, rng: np.random.Generator
                 ) -> tuple[NDArray[Any], NDArray[Any]]:
    """A copy of y with round(fraction n) labels, chosen at random, moved to another class."""
    y = y.copy()
    flip = rng.choice(y.shape[0], int(round(fraction * y.shape[0])), replace=False)
    y[flip] = (y[flip] + rng.integers(1, K, flip.shape[0])) % K
    return y, flip


@functools.lru_cache(maxsize=8)
def data(n_train: int, n_test: int, label_noise: float, seed: int
         ) -> tuple[NDArray[Any], NDArray[Any], NDArray[Any], NDArray[Any], str, NDArray[Any]]:
    """(x, y with a fraction label_noise relabelled, x_test, y_test, the data's description,
    the relabelled samples' indices), read-only: the seed's subset, 7x7-pooled, centred and
    scaled by one number."""
    x, y, x_test, y_test, description = fashion_mnist_subset(n_train, n_test, seed)
    x, x_test = average_pool(x, 4), average_pool(x_test, 4)         # 7x7: d = 49
    mean, scale = x.mean(axis=0), x.std()
    x, x_test = (x - mean) / scale, (x_test - mean) / scale
    y_noisy, flipped = noisy_labels(y, label_noise, np.random.default_rng([seed, 5]))
    out = x, y_noisy, x_test, y_test
    for a in (*out, flipped):               # shared by the cache: read-only
        a.setflags(write=False)
    return (*out, description, flipped)


# ---------------------------------------------------------------- the two families
def _scores(yhat: NDArray[Any], Y: NDArray[Any], y: NDArray[Any]) -> tuple[float, float]:
    return float(np.mean((yhat - Y) ** 2)), float(np.mean(np.argmax(yhat, axis=1) != y))


def tag(noise: float, ridge: float) -> str:
    """The key of one (label noise, ridge) curve: 'noise=0.2,ridge=0.01'."""
    return f"noise={noise:g},ridge={ridge:g}"


def random_features(h: int, x: NDArray[Any], x_test: NDArray[Any], seed: int
                    ) -> list[NDArray[Any]]:
    """G and G_test: [relu(X W1 + b1), 1] for the seed's fixed He-normal hidden layer."""
    features = Sequential([Dense(h, activation="relu", kernel_initializer="he_normal",
                                 input_shape=(x.shape[1],))], seed=seed, dtype="float64")
    return [np.hstack([features.predict(a, batch_size=a.shape[0]), np.ones((a.shape[0], 1))])
            for a in (x, x_test)]


def ridge_solutions(G: NDArray[np.float64], Y: NDArray[np.float64], ridges: Iterable[float]
                    ) -> dict[float, NDArray[np.float64]]:
    """{λ: β_λ} minimising |G β - Y|²/n + λ|β|² (λ = 0: the minimum-norm solution G⁺ Y, with
    singular values below lstsq's cut-off treated as 0)."""
    n = G.shape[0]
    U, S, Vt = np.linalg.svd(G, full_matrices=False)
    UtY = U.T @ Y
    keep = S > S.max() * max(G.shape) * np.finfo(np.float64).eps
    out: dict[float, NDArray[np.float64]] = {}
    for lam in ridges:
        if lam == 0:
            factor = np.where(keep, 1.0 / np.where(keep, S, 1.0), 0.0)     # s⁺
        else:
            factor = S / (S ** 2 + n * lam)
        out[lam] = Vt.T @ (factor[:, None] * UtY)
    return out


def fit_random_features(s: Settings, h: int, seed: int) -> TaskResult:
    """Every (label noise, ridge) fit of the width-h random-features model (and which data
    it saw: the data set, the inputs' dimension d, the number of relabelled samples)."""
    x, _, _, _, description, flipped = data(s["n_train"], s["n_test"], s["label_noise"], seed)
    out: TaskResult = {"params": (h + 1) * K, "d": x.shape[1],
                       "flipped_labels": int(flipped.shape[0]), "dataset": description}
    for noise in s["noise_levels"]:
        x, y, x_test, y_test, _, _ = data(s["n_train"], s["n_test"], noise, seed)
        G, G_test = random_features(h, x, x_test, seed)
        Y, Y_test = np.eye(K)[y], np.eye(K)[y_test]
        for lam, beta in ridge_solutions(G, Y, s["ridges"]).items():
            key = tag(noise, lam)
            out[f"train_mse@{key}"], out[f"train_error@{key}"] = _scores(G @ beta, Y, y)
            out[f"test_mse@{key}"], out[f"test_error@{key}"] = _scores(G_test @ beta, Y_test,
                                                                       y_test)
            out[f"norm@{key}"] = float(np.linalg.norm(beta))
    return out


def fit_network(s: Settings, h: int, seed: int) -> TaskResult:
    """Both layers trained: d -> h (relu) -> K (linear), L-BFGS on the noisy labels."""
    x, y, x_test, y_test, _, _ = data(s["n_train"], s["n_test"], s["label_noise"], seed)
    Y, Y_test = np.eye(K)[y], np.eye(K)[y_test]
    model = Sequential([Dense(h, activation="relu", input_shape=(x.shape[1],)), Dense(K)],
                       seed=seed, dtype="float64")
    model.compile(loss="mse", optimizer=LBFGS(max_iterations=s["max_iterations"],
                                              tolerance=1e-10, ftol=1e-16))
    model.fit(x, Y, epochs=1, verbose=0)
    train_mse, train_error = _scores(model.predict(x, batch_size=x.shape[0]), Y, y)
    test_mse, test_error = _scores(model.predict(x_test, batch_size=x_test.shape[0]), Y_test,
                                   y_test)
    return {"params": model.count_params(), "train_mse": train_mse, "train_error": train_error,
            "test_mse": test_mse, "test_error": test_error,
            "iterations": int(model.optimizer.iterations)}


def tasks(settings: Settings) -> list[Task]:
    """One task per (family, width)."""
    return [{"family": family, "width": h} for family in FAMILIES
            for h in settings[f"{family}_widths"]]


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    fit = fit_random_features if task["family"] == "random_features" else fit_network
    return fit(s, task["width"], seed)


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


def summarise(P: ArrayLike, test_error: ArrayLike, nK: float) -> dict[str, float]:
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




CURVE = ("peak_error", "peak_params_over_nK", "rise", "second_fall", "largest_error")


def _curve_values(per_seed_curves: Iterable[ArrayLike], P: ArrayLike, nK: float
                  ) -> dict[str, list[float]]:
    """{stat: [value per seed]} of summarise() over each seed's curve."""
    shapes = [summarise(P, curve, nK) for curve in per_seed_curves]
    return {k: [shape[k] for shape in shapes] for k in CURVE}


def _ci(f: Findings, key: str, digits: int = 3) -> str:
    half = f.get(f"{key}_ci", math.nan)
    return f"{f[key]:.{digits}g}" + ("" if math.isnan(half) else f" ± {half:.2g}")


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Random features: per width, the test error of the minimum-norm fit with noisy and clean
    labels and of the strongest ridge, and per (noise, ridge) curve the shape of the test error
    (peak, its place, rise above the best smaller model, fall to the largest one), each per seed
    and then mean ± interval. Trained networks: per width, errors and iterations; the shape of
    their test error and test mse curves."""
    seeds = list(per_seed)
    nK = s["n_train"] * K
    grouped = sweep.by_task(per_seed)
    rf = [(t, v) for t, v in grouped if t["family"] == "random_features"]
    net = [(t, v) for t, v in grouped if t["family"] == "network"]
    noisy, strongest = s["label_noise"], max(s["ridges"])
    main, clean = tag(noisy, 0.0), tag(0.0, 0.0)
    rows = []
    for t, v in rf:
        rows.append([t["width"], v["params"][0] / nK]
                    + [c for key in (f"test_error@{main}", f"test_error@{clean}",
                                     f"test_error@{tag(noisy, strongest)}", f"train_error@{main}",
                                     f"norm@{main}") for c in sweep.cells(v[key])])
    findings: Findings = {}
    series: dict[str, Any] = {"random_features": {}, "network": {}}
    P_rf = [v["params"][0] for _, v in rf]
    curves_rows = []
    for noise in s["noise_levels"]:
        for lam in s["ridges"]:
            key = tag(noise, lam)
            per_seed_curves = [[v[f"test_error@{key}"][i] for _, v in rf]
                               for i in range(len(seeds))]
            shape = _curve_values(per_seed_curves, P_rf, nK)
            for stat in CURVE:
                findings.update(sweep.findings_of(f"rf_{key}_{stat}", shape[stat]))
            curves_rows.append([noise, lam] + [c for stat in CURVE
                                               for c in sweep.cells(shape[stat])])
            series["random_features"][key] = [float(np.mean(v[f"test_error@{key}"]))
                                              for _, v in rf]
    series["random_features"]["params_over_nK"] = [p / nK for p in P_rf]
    series["random_features"]["width"] = [t["width"] for t, _ in rf]
    series["random_features"]["ci"] = {
        key: [sweep.cells(v[f"test_error@{key}"])[1] for _, v in rf]
        for key in (main, clean, tag(noisy, strongest))}
    peaks = _curve_values([[v[f"test_error@{main}"][i] for _, v in rf]
                           for i in range(len(seeds))], P_rf, nK)["peak_params_over_nK"]
    findings["rf_seeds_peaking_within_2x_of_threshold"] = sum(0.5 <= r <= 2.0 for r in peaks)
    P_net = [v["params"][0] for _, v in net]
    net_rows = []
    for t, v in net:
        net_rows.append([t["width"], int(v["params"][0]), v["params"][0] / nK]
                        + [c for k in ("train_error", "test_error", "test_mse", "iterations")
                           for c in sweep.cells(v[k])])
    for metric, prefix in (("test_error", "network"), ("test_mse", "network_mse")):
        curves = [[v[metric][i] for _, v in net] for i in range(len(seeds))]
        shape = _curve_values(curves, P_net, nK)
        for stat in CURVE:
            findings.update(sweep.findings_of(f"{prefix}_{stat}", shape[stat]))
    findings.update(sweep.findings_of("network_largest_train_error", net[-1][1]["train_error"]))
    findings.update(sweep.findings_of("network_smallest_train_error", net[0][1]["train_error"]))
    series["network"] = {"params_over_nK": [p / nK for p in P_net],
                         "width": [t["width"] for t, _ in net],
                         **{k: [float(np.mean(v[k])) for _, v in net]
                            for k in ("train_error", "test_error", "test_mse")},
                         "ci": {k: [sweep.cells(v[k])[1] for _, v in net]
                                for k in ("test_error", "test_mse")}}
    series["tables"] = {
        "curves": {"columns": ["label noise", "ridge"] + sweep.interval_columns(
            "peak test err", "peak at P/(nK)", "rise", "second fall", "largest model's err"),
            "rows": curves_rows},
        "network": {"columns": ["width", "params P", "P/(nK)"] + sweep.interval_columns(
            "train err", "test err", "test mse", "L-BFGS iterations"), "rows": net_rows}}
    series["per_seed"] = sweep.per_seed_series(per_seed)
    first = rf[0][1]                        # numbers over seeds; the seed-free ones
    d = int(first["d"][0])
    settings = {**s, "seeds": seeds, "dataset": per_seed[seeds[0]][0][1]["dataset"],
                "inputs": f"7x7 average-pooled images (d = {d}), centred, one global scale",
                "flipped_labels": int(first["flipped_labels"][0]), "n_outputs": K,
                "loss": "mse (one-hot)",
                "random_features_solver": "exact: SVD, minimum-norm (λ = 0) and ridge",
                "network_optimizer": "lbfgs (full batch, float64), no regularisation",
                "threshold_width": {"network": round((nK - K) / (d + 1 + K), 1),
                                    "random_features": nK / K - 1}}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["width", "P/(nK)"] + sweep.interval_columns(
            f"test err (ν={noisy:g}, min-norm)", "test err (ν=0, min-norm)",
            f"test err (ν={noisy:g}, λ={strongest:g})", f"train err (ν={noisy:g}, min-norm)",
            f"‖β‖ (ν={noisy:g}, min-norm)"),
        rows=rows, findings=findings, conclusion=_conclusion(findings, s), settings=settings,
        series=series)


def _above(f, key):
    """whether the interval of finding `key` lies above 0"""
    half = f[f"{key}_ci"]
    return f[key] - (0.0 if math.isnan(half) else half) > 0


def _shape(f, prefix):
    """'peaks and falls again' etc., from the intervals of the rise and the second fall."""
    rises, falls = _above(f, f"{prefix}_rise"), _above(f, f"{prefix}_second_fall")
    if rises and falls:
        return "peaks and falls again", True
    if rises:
        return "rises above the best smaller model and does not fall again", False
    if falls:
        return "falls beyond the threshold without a peak above the smaller models", False
    return "shows no peak", False


def _conclusion(f, s):
    noisy, strongest = s["label_noise"], max(s["ridges"])
    main, clean, ridged = tag(noisy, 0), tag(0, 0), tag(noisy, strongest)
    out = []
    for key, what in ((main, f"label noise {noisy:g}, minimum-norm"),
                      (clean, "clean labels, minimum-norm"),
                      (ridged, f"label noise {noisy:g}, ridge λ = {strongest:g}")):
        text, _ = _shape(f, f"rf_{key}")
        out.append(f"Random features ({what}): the test error {text} (peak "
                   f"{_ci(f, f'rf_{key}_peak_error')} at P/(nK) = "
                   f"{_ci(f, f'rf_{key}_peak_params_over_nK')}, rise {_ci(f, f'rf_{key}_rise')},"
                   f" second fall {_ci(f, f'rf_{key}_second_fall')}).")
    text, _ = _shape(f, "network")
    mse_text, _ = _shape(f, "network_mse")
    out.append(f"Trained networks (label noise {noisy:g}): the test error {text} (rise "
               f"{_ci(f, 'network_rise')}, second fall {_ci(f, 'network_second_fall')}); the "
               f"test mse {mse_text} (peak at P/(nK) = "
               f"{_ci(f, 'network_mse_peak_params_over_nK')}, rise {_ci(f, 'network_mse_rise')}).")
    return " ".join(out)


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    noisy = s["label_noise"]
    main, clean = tag(noisy, 0), tag(0, 0)
    _, peak = _shape(f, f"rf_{main}")
    _, clean_peak = _shape(f, f"rf_{clean}")
    # the smallest λ from which on every stronger ridge of the sweep shows no rise
    vanish = []
    for lam in sorted(s["ridges"], reverse=True):
        if lam == 0 or _above(f, f"rf_{tag(noisy, lam)}_rise"):
            break
        vanish.append(lam)
    _, net_peak = _shape(f, "network")
    _, net_mse_peak = _shape(f, "network_mse")
    shows = []
    shows.append(
        f"With {noisy:g} label noise the minimum-norm random-features fit has a peak of the test "
        f"error at P/(nK) = {_ci(f, f'rf_{main}_peak_params_over_nK')}, between a first and a "
        "second descent: the double descent, at the interpolation threshold." if peak else
        "The minimum-norm random-features fit shows no peak these seeds support.")
    shows.append(
        ("With clean labels the peak is there as well (peak "
         f"{_ci(f, f'rf_{clean}_peak_error')} against {_ci(f, f'rf_{main}_peak_error')}): in "
         "this setting label noise is not needed for the peak; the threshold itself is.")
        if clean_peak else "With clean labels the peak is not supported by the intervals.")
    shows.append(
        f"A ridge penalty λ ≥ {min(vanish):g} removes it (no rise above the best smaller model "
        "that the intervals support), as Nakkiran et al. (2021) show for optimally tuned ridge."
        if vanish else "No ridge value of the sweep removes the peak.")
    shows.append(
        "The trained two-layer networks' test error " + (
            "peaks too" if net_peak else "has no peak that the intervals support")
        + ("; their test mse does peak, at P/(nK) = "
           f"{_ci(f, 'network_mse_peak_params_over_nK')}." if net_mse_peak else
           ", nor has their test mse."))
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** Belkin, Hsu, Ma & Mandal (2019), *Reconciling modern machine-learning "
        "practice and the classical bias–variance trade-off* (random Fourier features and "
        "two-layer networks on MNIST: the test error peaks where the model first interpolates); "
        "Advani & Saxe (2020) and Mei & Montanari (2022) (the peak of the minimum-norm "
        "solution, and its removal by ridge); Nakkiran et al. (2021), *Optimal regularization "
        "can mitigate double descent*.", "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 5 --out docs/results`", "",
        f"**Setup.** {s['dataset']}; {s['inputs']}; "
        f"{s['flipped_labels']} of the training labels ({noisy:g}) relabelled to another class "
        f"at random (label-noise sweep: {s['noise_levels']}), the test labels clean; one-hot "
        f"targets, mean squared error. Random features: a fixed He-normal relu layer of width h, "
        f"the output layer solved exactly (SVD): the minimum-norm least-squares fit and ridge "
        f"λ in {s['ridges'][1:]}; threshold at h = {s['threshold_width']['random_features']:g}. "
        f"Trained networks: both layers by L-BFGS (up to {s['max_iterations']} iterations, "
        f"float64, no regularisation); threshold at h ≈ {s['threshold_width']['network']:g}. "
        f"Seeds {s['seeds']} (data subset, label noise, initial weights).", "",
        "Random features, per width:", "",
        markdown_table(result.columns, result.rows), "",
        "Shape of each random-features curve (per seed, then mean ± interval; rise: the peak "
        "near the threshold, P/(nK) in [1/4, 4], above the best smaller model; second fall: the "
        "peak above the largest model):", "",
        markdown_table(**result.series["tables"]["curves"]), "",
        "Trained networks (label noise " f"{noisy:g}):", "",
        markdown_table(**result.series["tables"]["network"]), "",
        f"**Result.** {result.conclusion}", "",
        "**What it shows.** " + " ".join(shows), "",
        f"**Differences from the papers.** {s['n_train']} training images at 7x7 pixels instead "
        "of thousands at full size; relu random features instead of random Fourier features; "
        "the trained networks stop where L-BFGS stops (the iteration column), which near the "
        "threshold is not always a global minimum.", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """Test error against P/(nK): random features (minimum-norm, noisy and clean; strongest
    ridge) and the trained networks, mean ± interval over the seeds."""
    from ..plotting import pyplot
    plt = pyplot()
    s = result.settings
    noisy, strongest = s["label_noise"], max(s["ridges"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    rf = result.series["random_features"]
    for key, label, style in ((tag(noisy, 0), f"min-norm, noise {noisy:g}", "o-"),
                              (tag(0, 0), "min-norm, clean labels", "s-"),
                              (tag(noisy, strongest), f"ridge {strongest:g}, noise {noisy:g}",
                               "^-")):
        half = [0.0 if math.isnan(h) else h for h in rf["ci"][key]]
        axes[0].errorbar(rf["params_over_nK"], rf[key], yerr=half, fmt=style, capsize=3,
                         label=label)
    net = result.series["network"]
    half = [0.0 if math.isnan(h) else h for h in net["ci"]["test_error"]]
    axes[1].errorbar(net["params_over_nK"], net["test_error"], yerr=half, fmt="o-", capsize=3,
                     label="test error")
    axes[1].plot(net["params_over_nK"], net["train_error"], "s--", label="train error (noisy)")
    for ax, title in zip(axes, ("random features (exact fits)", "two-layer networks (L-BFGS)")):
        ax.set_xscale("log")
        ax.axvline(1.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("trained parameters P / (n K)")
        ax.set_ylabel("error rate")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Double descent ({s['dataset'].split(':')[0]}, n = {s['n_train']}, "
                 f"{len(s['seeds'])} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
