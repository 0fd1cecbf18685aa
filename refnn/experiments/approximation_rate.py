"""Approximation rates: how fast the error of a ReLU network falls with its number of weights W,
e ~ C W^-alpha, separating what networks of a size CAN do (constructed networks) from what
training reaches (L-BFGS).

Targets on [-1, 1] (d = 1) and on [-1, 1]^2 (d = 2):
    smooth     sin(2 pi x) + cos(3 pi x) / 2           sin(pi x1) cos(pi x2)
    jump       sin(pi x) / 2 + [x > 0.3]               [|x| < 0.6] (a disk: a jump along a circle)
    cusp       sqrt(|x|)                               |x|^(1/2)  (non-uniform smoothness at 0)
Networks, each family grown in W:
    interpolant  (d = 1, constructed, no training) the piecewise-linear interpolant of f at n
                 knots, which IS a shallow ReLU network with n - 1 hidden units:
                     s(x) = f(t_0) + sum_j (m_j - m_(j-1)) relu(x - t_j)   (slopes m_j, m_-1 = 0)
                 uniform knots, and for the cusp also knots graded towards 0 (t ~ sign(u)|u|^4):
                 what a shallow network with well-placed kinks achieves (free-knot rate)
    shallow      1 hidden layer of growing width, trained
    deep         hidden layers of width 8, growing depth, trained
Training: full-batch L-BFGS in float64 on the mean squared error, from kinks spread over the
domain and the output layer at its least-squares fit (see `network`); d = 1 on a uniform grid
(for the cusp plus points graded towards 0), d = 2 on a uniform grid. Errors on a dense grid:
    sup-norm  e_inf = max |f - net|,    L2  e_2 = sqrt(mean (f - net)^2)
The rate alpha is the slope of the least-squares line through (log W, -log e); over seeds (the
trained networks' initialisation) it is reported as mean and 95 % interval.

What theory says. A shallow ReLU network in d = 1 is a piecewise-linear function: for a smooth
(C^2) target its best sup error with n pieces falls like n^-2, so alpha = 2 (the uniform
interpolant attains it); the cusp sqrt|x| with uniform knots only gives alpha = 1/2, with graded
knots again 2 (Birman & Solomyak's free-knot rates: non-uniform smoothness needs adaptivity, not
depth, in d = 1). Deep networks do better for smooth targets: Yarotsky (2017) builds x^2 to
error 4^-m with O(m) weights, so depth DOES improve rates for smooth functions. For a jump no
continuous function gets within half the jump in the sup-norm (e_inf >= 1/2 always): its rate is
read in L2, where the interpolant with knots h apart gives e_2 ~ sqrt(h), alpha = 1/2.
"""
from __future__ import annotations

import functools
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..layers import Dense
from ..model import Sequential
from ..optimizers import LBFGS
from . import ExperimentResult, PerSeed, PlotPath, Settings, Task, TaskResult, sweep
from ._common import log_log_slope

Findings = dict[str, Any]         # an ExperimentResult's findings

NAME = "approximation_rate"
CLAIM = ("Depth cannot improve the approximation rate alpha (error ~ C W^-alpha in the number "
         "of weights W) for smooth functions, but it does for functions with jumps and with "
         "non-uniform smoothness.")

JUMP_AT = 0.3
DISK_RADIUS = 0.6
DEEP_WIDTH = 8


def _smooth(x):
    return np.sin(2 * np.pi * x[:, 0]) + 0.5 * np.cos(3 * np.pi * x[:, 0])


def _jump(x):
    return 0.5 * np.sin(np.pi * x[:, 0]) + (x[:, 0] > JUMP_AT)


def _cusp(x):
    return np.sqrt(np.linalg.norm(x, axis=1))


def _smooth2(x):
    return np.sin(np.pi * x[:, 0]) * np.cos(np.pi * x[:, 1])


def _disk(x):
    return (np.linalg.norm(x, axis=1) < DISK_RADIUS).astype(np.float64)


# name -> (f, d, the point training data are graded towards (d = 1) or None, a description)
TARGETS = {
    "smooth": (_smooth, 1, None, "sin(2 pi x) + cos(3 pi x)/2"),
    "jump": (_jump, 1, None, "sin(pi x)/2 + [x > 0.3]"),
    "cusp": (_cusp, 1, 0.0, "sqrt(|x|)"),
    "smooth_2d": (_smooth2, 2, None, "sin(pi x1) cos(pi x2)"),
    "jump_2d": (_disk, 2, None, "[|x| < 0.6] (disk)"),
    "cusp_2d": (_cusp, 2, None, "|x|^(1/2)"),
}
SINGULAR = {"jump": JUMP_AT, "cusp": 0.0}       # 1-D points the error grid is graded towards

QUICK = {"targets": list(TARGETS), "shallow_widths": [8, 16, 32], "deep_depths": [2, 3, 4],
         "knots": [9, 17, 33, 65], "n_train": 129, "n_train_2d": 17, "eval_points": 20001,
         "eval_side_2d": 101, "max_iterations": 100}
FULL = {"targets": list(TARGETS), "shallow_widths": [8, 16, 32, 64, 128],
        "deep_depths": [2, 3, 4, 6, 8], "knots": [9, 17, 33, 65, 129, 257, 513],
        "n_train": 513, "n_train_2d": 41, "eval_points": 20001, "eval_side_2d": 301,
        "max_iterations": 2000}


# ---------------------------------------------------------------- points
def points(singular: Iterable[float], n_uniform: int, levels: int = 24) -> NDArray[np.float64]:
    """n_uniform equispaced points of [-1, 1], plus x0 and x0 +- 2^-k (k = 1 .. levels) for each
    singular point x0 (kept inside [-1, 1]), sorted, without repeats."""
    x = [np.linspace(-1.0, 1.0, n_uniform)]
    for x0 in singular:
        graded = x0 + np.concatenate([-(2.0 ** -np.arange(1, levels + 1)), [0.0],
                                      2.0 ** -np.arange(1, levels + 1)])
        x.append(graded[(graded >= -1) & (graded <= 1)])
    return np.unique(np.concatenate(x))


def grid_2d(side: int) -> NDArray[np.float64]:
    """side x side equispaced points of [-1, 1]^2 as (side^2, 2)."""
    t = np.linspace(-1.0, 1.0, side)
    a, b = np.meshgrid(t, t, indexing="ij")
    return np.column_stack([a.ravel(), b.ravel()])


@functools.lru_cache(maxsize=8)
def _data(name, n_train, n_train_2d, eval_points, eval_side_2d):
    """(x, y, x_eval, y_eval, uniform): training points, the error grid, and which of the
    error grid's points are uniform (the L2 error's mean is over those)."""
    f, d, graded, _ = TARGETS[name]
    if d == 1:
        x = points(() if graded is None else (graded,), n_train)[:, None]
        grid = np.linspace(-1.0, 1.0, eval_points)
        singular = (SINGULAR[name],) if name in SINGULAR else ()
        x_eval = np.union1d(grid, points(singular, 3))[:, None]    # + the graded points
        uniform = np.isin(x_eval[:, 0], grid)
    else:
        x = grid_2d(n_train_2d)
        x_eval = grid_2d(eval_side_2d)
        uniform = np.ones(x_eval.shape[0], dtype=bool)
    y, y_eval = f(x)[:, None], f(x_eval)
    for a in (x, y, x_eval, y_eval, uniform):
        a.setflags(write=False)
    return x, y, x_eval, y_eval, uniform


# ---------------------------------------------------------------- networks
def interpolant(f: Callable[[NDArray[np.float64]], ArrayLike], knots: ArrayLike) -> Sequential:
    """The piecewise-linear interpolant of f at the sorted 1-D `knots`, as the shallow ReLU
    network s(x) = f(t_0) + sum_j (m_j - m_(j-1)) relu(x - t_j), j = 0 .. n-2 (m_j the slope on
    [t_j, t_(j+1)], m_-1 = 0): 1 -> n-1 (relu) -> 1, float64."""
    t = np.asarray(knots, dtype=np.float64)
    v = np.asarray(f(t[:, None]), dtype=np.float64).reshape(-1)   # f takes (n, 1) points
    m = np.diff(v) / np.diff(t)                           # slopes, one per piece
    model = Sequential([Dense(t.size - 1, activation="relu", input_shape=(1,)), Dense(1)],
                       seed=0, dtype="float64")
    model.set_weights([np.ones((1, t.size - 1)), -t[:-1],          # h_j = x - t_j
                       np.diff(m, prepend=0.0)[:, None], np.array([v[0]])])
    return model


def knots(n: int, graded_at: float | None = None) -> NDArray[np.float64]:
    """n knots on [-1, 1]: uniform, or graded towards `graded_at` (0): t = sign(u) |u|^4."""
    u = np.linspace(-1.0, 1.0, n)
    if graded_at is None:
        return u
    return np.sign(u) * np.abs(u) ** 4


def network(widths: Sequence[int], seed: int, x: NDArray[np.float64], y: NDArray[np.float64]
            ) -> Sequential:
    """A float64 ReLU network d -> widths... -> 1, set up for the fit of y on x.

    The first layer's kinks are spread over the domain (with the default zero biases every
    unit's kink would pass through 0): in d = 1 evenly, x = -b_j / w_j at jittered equal
    spacings; in d > 1 each unit's hyperplane through a random point of the square. The hidden
    layers keep their He-uniform initial kernels, and the output layer starts at the
    least-squares fit of y on the last hidden layer's outputs. L-BFGS then moves every
    weight, the kinks included."""
    d = x.shape[1]
    layers = [Dense(widths[0], activation="relu", kernel_initializer="he_uniform",
                    input_shape=(d,))]
    layers += [Dense(w, activation="relu", kernel_initializer="he_uniform") for w in widths[1:]]
    layers.append(Dense(1))
    model = Sequential(layers, seed=seed, dtype="float64")
    weights = model.get_weights()
    n = widths[0]
    rng = np.random.default_rng([seed, 1])
    if d == 1:
        kinks = -1.0 + (np.arange(n) + rng.uniform(size=n)) * 2.0 / n
        weights[1] = -weights[0][0] * kinks               # h_j = w_j (x - kink_j)
    else:
        through = rng.uniform(-1.0, 1.0, size=(n, d))     # h_j = w_j . (x - p_j)
        weights[1] = -np.einsum("ij,ji->i", through, weights[0])
    g = x
    for W, b in zip(weights[:-2:2], weights[1:-2:2]):    # the hidden layers: g = relu(g W + b)
        g = np.maximum(g @ W + b, 0.0)
    G = np.hstack([g, np.ones((g.shape[0], 1))])
    coef = np.linalg.lstsq(G, y, rcond=None)[0]           # output layer: min ||G [W; b] - y||
    weights[-2], weights[-1] = coef[:-1], coef[-1]
    model.set_weights(weights)
    return model


def _errors(model, x_eval, y_eval, uniform):
    r = model.predict(x_eval, batch_size=x_eval.shape[0])[:, 0] - y_eval
    return {"W": model.count_params(), "sup_error": float(np.max(np.abs(r))),
            "l2_error": float(np.sqrt(np.mean(r[uniform] ** 2)))}


def rate(W: ArrayLike, errors: ArrayLike) -> float:
    """alpha of the least-squares line log e = log C - alpha log W."""
    return -log_log_slope(W, errors)


# ---------------------------------------------------------------- the protocol
def families(s: Settings, name: str) -> dict[str, list[int]]:
    """The families measured on target `name`, each a list of sizes."""
    out = {}
    if TARGETS[name][1] == 1:
        out["interpolant"] = s["knots"]
        if name == "cusp":
            out["interpolant_graded"] = s["knots"]
    out["shallow"] = s["shallow_widths"]
    out["deep"] = s["deep_depths"]
    return out


def tasks(settings: Settings) -> list[Task]:
    """One task per (target, family, size); the constructed interpolants do not depend on the
    seed but run per seed all the same (they cost milliseconds)."""
    return [{"target": name, "family": fam, "size": size} for name in settings["targets"]
            for fam, sizes in families(settings, name).items() for size in sizes]


def run_task(s: Settings, task: Task, seed: int) -> TaskResult:
    name, fam, size = task["target"], task["family"], task["size"]
    x, y, x_eval, y_eval, uniform = _data(name, s["n_train"], s["n_train_2d"],
                                          s["eval_points"], s["eval_side_2d"])
    if fam.startswith("interpolant"):
        model = interpolant(TARGETS[name][0],
                            knots(size, 0.0 if fam == "interpolant_graded" else None))
        return {**_errors(model, x_eval, y_eval, uniform), "train_mse": 0.0, "iterations": 0}
    widths = [size] if fam == "shallow" else [DEEP_WIDTH] * size
    model = network(widths, seed, x, y)
    model.compile(loss="mse", optimizer=LBFGS(max_iterations=s["max_iterations"],
                                              tolerance=1e-12, ftol=1e-15))
    history = model.fit(x, y, epochs=1, verbose=0)
    return {**_errors(model, x_eval, y_eval, uniform),
            "train_mse": float(history.history["loss"][-1]),
            "iterations": int(model.optimizer.iterations)}


def run(quick: bool = True, seed: int = 0) -> ExperimentResult:
    return sweep.run_single(sys.modules[__name__], quick, seed)


def summarize(s: Settings, per_seed: PerSeed) -> ExperimentResult:
    """Per (target, family): W, the errors at the largest W and the rates alpha (sup, L2), per
    seed then mean ± interval. Findings: alpha_{sup,l2}_{target}_{family}, the depth gain
    (deep minus shallow alpha, per seed), and the trained shallow network's sup error over the
    uniform interpolant's at about the same W (the optimiser's shortfall, d = 1)."""
    seeds = list(per_seed)
    findings, rows, series, shortfall_W = {}, [], {}, {}
    for name in s["targets"]:
        alphas = {}
        for fam in families(s, name):
            idx = [i for i, (t, _) in enumerate(per_seed[seeds[0]])
                   if t["target"] == name and t["family"] == fam]
            runs = [[per_seed[seed][i][1] for i in idx] for seed in seeds]
            W = [r["W"] for r in runs[0]]
            a_sup = [rate(W, [r["sup_error"] for r in rs]) for rs in runs]
            a_l2 = [rate(W, [r["l2_error"] for r in rs]) for rs in runs]
            alphas[fam] = (a_sup, a_l2)
            key = f"{name}_{fam}"
            findings.update(sweep.findings_of(f"alpha_sup_{key}", a_sup))
            findings.update(sweep.findings_of(f"alpha_l2_{key}", a_l2))
            sup_last = [rs[-1]["sup_error"] for rs in runs]
            l2_last = [rs[-1]["l2_error"] for rs in runs]
            findings.update(sweep.findings_of(f"sup_error_largest_{key}", sup_last))
            findings.update(sweep.findings_of(f"l2_error_largest_{key}", l2_last))
            rows.append([name, fam, f"{W[0]}-{W[-1]}"] + sweep.cells(sup_last)
                        + sweep.cells(a_sup) + sweep.cells(l2_last) + sweep.cells(a_l2))
            series[key] = {"W": W, "sup_error": [float(np.mean([rs[j]["sup_error"]
                                                                for rs in runs]))
                                                 for j in range(len(W))],
                           "l2_error": [float(np.mean([rs[j]["l2_error"] for rs in runs]))
                                        for j in range(len(W))]}
        for kind, k in (("sup", 0), ("l2", 1)):
            findings.update(sweep.findings_of(
                f"depth_gain_{kind}_{name}",
                [b - a for a, b in zip(alphas["shallow"][k], alphas["deep"][k])]))
        if "interpolant" in alphas:             # shortfall at the largest shallow network
            W_net = series[f"{name}_shallow"]["W"][-1]
            W_int = series[f"{name}_interpolant"]["W"]
            j = int(np.argmin(np.abs(np.log(np.asarray(W_int) / W_net))))
            i_int = [i for i, (t, _) in enumerate(per_seed[seeds[0]])
                     if t["target"] == name and t["family"] == "interpolant"][j]
            i_net = [i for i, (t, _) in enumerate(per_seed[seeds[0]])
                     if t["target"] == name and t["family"] == "shallow"][-1]
            findings.update(_ratio_findings(
                f"shortfall_sup_{name}",
                [per_seed[seed][i_net][1]["sup_error"] / per_seed[seed][i_int][1]["sup_error"]
                 for seed in seeds]))
            if "interpolant_graded" in alphas:
                i_graded = [i for i, (t, _) in enumerate(per_seed[seeds[0]])
                            if t["target"] == name and t["family"] == "interpolant_graded"][j]
                findings.update(_ratio_findings(
                    f"shortfall_graded_sup_{name}",
                    [per_seed[seed][i_net][1]["sup_error"]
                     / per_seed[seed][i_graded][1]["sup_error"] for seed in seeds]))
            shortfall_W[name] = {"interpolant": W_int[j], "shallow": W_net}
    series["per_seed"] = sweep.per_seed_series(per_seed)
    settings = {**s, "seeds": seeds, "deep_width": DEEP_WIDTH,
                "target_formulas": {k: v[3] for k, v in TARGETS.items() if k in s["targets"]},
                "optimizer": "lbfgs", "loss": "mse", "dtype": "float64", "activation": "relu"}
    if len(seeds) == 1:
        settings["seed"] = seeds[0]
    settings["shortfall_W"] = shortfall_W
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["target", "network", "W"] + sweep.interval_columns(
            "sup err (largest W)", "alpha sup", "L2 err (largest W)", "alpha L2"),
        rows=rows, findings=findings, settings=settings, series=series,
        conclusion=_conclusion(findings, s))


def _ratio_findings(prefix, ratios):
    """The per-seed ratios' mean with its interval, and the same of their log10: a ratio's
    spread over seeds is multiplicative (43 = mean of 68, 33 and 29, say), and a t interval
    on the ratio itself can reach below 0; the log's interval, carried back, cannot."""
    return {**sweep.findings_of(prefix, ratios),
            **sweep.findings_of(f"log10_{prefix}", [math.log10(r) for r in ratios])}


def _ci(f: Findings, key: str, digits: int = 2) -> str:
    half = f.get(f"{key}_ci", math.nan)
    return f"{f[key]:.{digits}f}" + ("" if math.isnan(half) else f" ± {half:.2f}")


def _conclusion(f, s):
    words = {1: "improves", -1: "lowers", 0: "does not measurably change"}
    out = []
    for name in s["targets"]:
        kind = "l2" if name.startswith("jump") else "sup"
        text = (f"{name} (alpha {kind}): shallow {_ci(f, f'alpha_{kind}_{name}_shallow')}, "
                f"deep {_ci(f, f'alpha_{kind}_{name}_deep')}")
        if f"alpha_{kind}_{name}_interpolant" in f:
            text += f", constructed interpolant {_ci(f, f'alpha_{kind}_{name}_interpolant')}"
        if f"alpha_{kind}_{name}_interpolant_graded" in f:
            text += f" (graded knots {_ci(f, f'alpha_{kind}_{name}_interpolant_graded')})"
        text += f": depth {words[sweep.sign_of(f, f'depth_gain_{kind}_{name}')]} the trained rate."
        out.append(text)
    return " ".join(out)


def report(result: ExperimentResult) -> str:
    """The section of docs/experiments.md."""
    from .results import markdown_table
    f, s = result.findings, result.settings
    shows = []
    if "alpha_sup_smooth_interpolant" in f:
        shows.append(
            f"The constructed shallow networks (piecewise-linear interpolants) reach the rates "
            f"theory gives: alpha_sup {_ci(f, 'alpha_sup_smooth_interpolant')} on the smooth "
            f"target (theory 2), {_ci(f, 'alpha_sup_cusp_interpolant')} on the cusp with "
            f"uniform knots (theory 1/2) and {_ci(f, 'alpha_sup_cusp_interpolant_graded')} "
            "with knots graded towards it (theory 2): in one dimension non-uniform smoothness "
            "is handled by placing the kinks, which a shallow network can do.")
    if "shortfall_sup_smooth" in f:
        def times(key, what):
            """the geometric mean over the seeds, with its 95 % interval (from log10's)"""
            mean, half = f[f"log10_{key}"], f[f"log10_{key}_ci"]
            if math.isnan(half):
                return f"{10 ** mean:.3g} times {what}"
            return (f"{10 ** mean:.3g} times {what} (95 % interval {10 ** (mean - half):.3g} "
                    f"to {10 ** (mean + half):.3g}"
                    + (": not separable from 1)" if mean - half <= 0 <= mean + half else ")"))
        smooth = times("shortfall_sup_smooth", "the uniform interpolant's on the smooth target")
        cusp = times("shortfall_sup_cusp", "on the cusp")
        text = (f"Against the constructed networks of the same size the trained shallow "
                f"network's sup error is {smooth} and {cusp}")
        if "shortfall_graded_sup_cusp" in f:
            text += ", " + times("shortfall_graded_sup_cusp", "the graded interpolant's")
        shows.append(text + " (geometric means over the seeds): the trained rates measure what "
                     "L-BFGS reaches at these budgets, "
                     "an upper bound on the approximation error, not the approximation rate.")
    gains = [n for n in s["targets"]
             if sweep.sign_of(f, f"depth_gain_{'l2' if n.startswith('jump') else 'sup'}_{n}") != 0]
    shows.append(
        "Depth changes the trained rate beyond the intervals for: "
        + (", ".join(gains) if gains else "no target") + ". "
        "The claim's first half conflicts with theory: Yarotsky (2017) shows deep ReLU networks "
        "approximate smooth functions at better rates than any fixed depth allows (x² to "
        "error 4^-m with O(m) weights), and the depth separations that are proved (Telgarsky "
        "2016; Eldan & Shamir 2016; Safran & Shamir 2017) concern oscillating or radial "
        "targets in d ≥ 2 and sizes far beyond these.")
    return "\n".join([
        f"## {NAME}", "",
        f"**Claim.** {CLAIM}", "",
        "**Echoes.** Yarotsky (2017), *Error bounds for approximations with deep ReLU "
        "networks*; Petersen & Voigtlaender (2018), *Optimal approximation of piecewise smooth "
        "functions using deep ReLU neural networks* (jumps); DeVore (1998), *Nonlinear "
        "approximation* (free-knot piecewise-linear rates for non-uniform smoothness).", "",
        f"**Command.** `python -m refnn experiment {NAME} --seeds 5 --out docs/results`", "",
        f"**Setup.** Targets {', '.join(f'{k}: {v}' for k, v in s['target_formulas'].items())}."
        f" Constructed (d = 1): the piecewise-linear interpolant at {s['knots']} knots, an exact "
        f"shallow ReLU network. Trained: shallow widths {s['shallow_widths']}, deep networks of "
        f"width {s['deep_width']} and depths {s['deep_depths']}, L-BFGS (up to "
        f"{s['max_iterations']} iterations, float64) on {s['n_train']} points (d = 1) or a "
        f"{s['n_train_2d']}² grid (d = 2). Errors on {s['eval_points']} points (d = 1) or a "
        f"{s['eval_side_2d']}² grid (d = 2). Seeds {s['seeds']} (the trained networks' "
        "initialisation).", "",
        markdown_table(result.columns, result.rows), "",
        f"**Result.** {result.conclusion}", "",
        "**What it shows.** " + " ".join(shows), "",
        "**Differences from the theory.** The theorems are about the best network of each size; "
        "here the trained ones are what L-BFGS reaches in a fixed budget, and the constructed "
        "baselines are shallow and one-dimensional only. For the jumps the sup-norm error "
        "cannot fall below 1/2, so their rates are read in L2.", ""])


def plot(result: ExperimentResult, path: PlotPath) -> PlotPath:
    """Log-log panels, one per target: the error (sup; L2 for the jumps) against W for every
    family, mean over the seeds."""
    from ..plotting import pyplot
    plt = pyplot()
    names = result.settings["targets"]
    cols = 3
    fig, axes = plt.subplots(math.ceil(len(names) / cols), cols, figsize=(12, 7), squeeze=False)
    for ax, name in zip(axes.ravel(), names):
        kind = "l2" if name.startswith("jump") else "sup"
        for fam, style in (("interpolant", "k:"), ("interpolant_graded", "k--"),
                           ("shallow", "o-"), ("deep", "s-")):
            key = f"{name}_{fam}"
            if key not in result.series:
                continue
            c = result.series[key]
            alpha = result.findings[f"alpha_{kind}_{key}"]
            ax.loglog(c["W"], c[f"{kind}_error"], style, label=f"{fam}: alpha = {alpha:.2f}")
        ax.set_title(f"{name} ({kind} error)", fontsize=9)
        ax.set_xlabel("weights W")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle(f"Approximation rates (mean over {len(result.settings['seeds'])} seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=85)
    plt.close(fig)
    return path
