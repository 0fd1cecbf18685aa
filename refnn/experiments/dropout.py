"""Dropout: less over-fitting, and two ways to keep the expected output right.

While training, dropout zeroes each input of the next layer with probability `rate` (keep ratio
k = 1 - rate), so the next layer's weighted sum h = (g * mask) W + b is random. The two variants
differ in where they make up for the missing inputs:
    inverted (Keras)             training g * mask / k,   inference g
    scale_at_inference (textbook) training g * mask,       inference g * k (the weights times k)
In both, for the layer right after a dropout of a given g, the inference value of h is the
expectation of its training value over the masks, E[h_train] = h_inference (further on, through
non-linear layers, only approximately: E[f(h)] != f(E[h])); and an inverted network with the
next layer's kernel W is exactly the scale-at-inference network with kernel W / k.

The measurement: a small noisy problem (two overlapping Gaussian classes, few training points)
and a network much larger than it needs, 2 -> width -> width -> 1 (relu, sigmoid output),
trained with Adam without dropout and with dropout after each hidden layer in both variants,
on `repeats` data sets (repeat r drawn with seed + r). Reported: training and test loss
(inference mode), their gap, and the accuracies, averaged over the data sets, and in how many of
them dropout lowered the test loss; on the first data set, for each dropout network a
Monte Carlo estimate, over `mc_masks` masks, of E[h_train] for the layer after the first dropout
and for the output yhat, compared with the inference values:
    rel_err = ||mean_masks(h_train) - h_inference|| / ||h_inference||
    z_rms   = rms of (mean_masks - inference) / (std_masks / sqrt(mc_masks))  (about 1 if unbiased)
and the twin check: the inverted network converted to scale_at_inference (kernels after a
dropout divided by k) gives the same inference outputs and the same training loss on one mask.
"""
import numpy as np

from .. import datasets
from ..layers import Context, Dense, Dropout
from ..model import Sequential
from ..optimizers import Adam
from . import ExperimentResult

NAME = "dropout"
CLAIM = ("Dropout reduces over-fitting (a higher training loss but a lower test loss), and its "
         "two variants, inverted dropout and scaling the weights by the keep ratio at inference, "
         "give the same expected outputs.")

VARIANTS = ("none", "inverted", "scale_at_inference")

QUICK = {"n_train": 40, "n_test": 500, "noise": 0.5, "width": 128, "rate": 0.5, "epochs": 150,
         "batch_size": 10, "learning_rate": 1e-3, "eval_every": 10, "mc_masks": 400,
         "mc_samples": 100, "repeats": 1}
FULL = {"n_train": 40, "n_test": 2000, "noise": 0.5, "width": 128, "rate": 0.5, "epochs": 150,
        "batch_size": 10, "learning_rate": 1e-3, "eval_every": 5, "mc_masks": 4000,
        "mc_samples": 200, "repeats": 10}


def noisy_blobs(n_train, n_test, noise, seed):
    """Two Gaussian classes centred at (2, 2) and (-2, -2), overlapping (Bayes accuracy about
    0.92 at noise 0.5); inputs scaled by 1/5."""
    X, y = datasets.blobs(n_train + n_test, noise=noise, seed=seed)
    X = X / 5.0
    y = y.astype(np.float64)[:, None]
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def build(variant, width, rate, seed):
    hidden = lambda **kw: Dense(width, activation="relu", **kw)       # noqa: E731
    if variant == "none":
        layers = [hidden(input_shape=(2,)), hidden()]
    else:
        layers = [hidden(input_shape=(2,)), Dropout(rate, mode=variant),
                  hidden(), Dropout(rate, mode=variant)]
    return Sequential(layers + [Dense(1, activation="sigmoid")], seed=seed, dtype="float64")


def train(variant, data, s, seed):
    """Train; the inference-mode training and test loss every `eval_every` epochs."""
    Xtr, ytr, Xte, yte = data
    model = build(variant, s["width"], s["rate"], seed)
    model.compile(loss="binary_crossentropy", optimizer=Adam(learning_rate=s["learning_rate"]),
                  metrics=["acc"])
    epochs, train_curve, test_curve = [], [], []
    for start in range(0, s["epochs"], s["eval_every"]):
        model.fit(Xtr, ytr, batch_size=s["batch_size"],
                  epochs=min(s["eval_every"], s["epochs"] - start), verbose=0)
        epochs.append(min(start + s["eval_every"], s["epochs"]))
        train_curve.append(model.evaluate(Xtr, ytr, batch_size=1024, verbose=0)[0])
        test_curve.append(model.evaluate(Xte, yte, batch_size=1024, verbose=0)[0])
    return model, epochs, train_curve, test_curve


def _training_forward(model, X, rng):
    """The training-mode output (dropout active, masks from rng); each Dense keeps its h."""
    ctx = Context(training=True, rng=rng)
    g = X
    for layer in model.layers:
        g = layer.forward(g, ctx)
    return g


def expectation_check(model, X, n_masks, seed, chunk=100):
    """E over dropout masks of the training-mode h (the Dense layer after the first dropout) and
    yhat, by Monte Carlo, against their inference values. Returns {name: (rel_err, z_rms)}."""
    after = next(i for i, l in enumerate(model.layers) if isinstance(l, Dropout)) + 1
    ctx = Context(training=False)
    g = X
    for i, layer in enumerate(model.layers):
        g = layer.forward(g, ctx)
        if i == after:
            h_inference = np.array(layer.h)
    inference = {"hidden": h_inference, "output": np.array(g)}
    # sums of the differences from the inference value d = draw - inference, and of d^2
    sums = {k: np.zeros_like(v) for k, v in inference.items()}
    squares = {k: np.zeros_like(v) for k, v in inference.items()}
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    for start in range(0, n_masks, chunk):
        k = min(chunk, n_masks - start)
        out = _training_forward(model, np.tile(X, (k, 1)), rng)
        draws = {"hidden": np.asarray(model.layers[after].h).reshape(k, n, -1),
                 "output": np.asarray(out).reshape(k, n, -1)}
        for name, draw in draws.items():
            d = draw - inference[name]
            sums[name] += d.sum(axis=0)
            squares[name] += (d * d).sum(axis=0)
    check = {}
    for name, value in inference.items():
        bias = sums[name] / n_masks                         # mean over masks - inference value
        var = np.maximum(squares[name] / n_masks - bias * bias, 0.0) * n_masks / (n_masks - 1)
        stderr = np.sqrt(var / n_masks)
        random = stderr > 1e-12 * (np.abs(value) + 1)   # entries that vary with the mask at all
        z = bias[random] / stderr[random]
        rel_err = float(np.linalg.norm(bias) / np.linalg.norm(value))
        check[name] = (rel_err, float(np.sqrt(np.mean(z * z))) if z.size else 0.0)
    return check


def twin_check(model, rate, X, y):
    """The inverted network as a scale_at_inference network (each kernel after a dropout divided
    by k = 1 - rate): max |difference| of inference outputs and of the training loss (same mask)."""
    keep = 1.0 - rate
    twin = build("scale_at_inference", model.layers[0].units, rate, model.seed)
    twin.compile(loss="binary_crossentropy", optimizer="adam")
    weights = model.get_weights()
    i = 0
    follows_dropout = False
    for layer in model.layers:
        if isinstance(layer, Dropout):
            follows_dropout = True
            continue
        if follows_dropout:
            weights[i] = weights[i] / keep                 # the kernel after the dropout
        i += len(layer.weights)
        follows_dropout = False
    twin.set_weights(weights)
    inference_diff = float(np.max(np.abs(model.predict(X, batch_size=1024)
                                         - twin.predict(X, batch_size=1024))))
    loss_a, _ = model.loss_and_gradients(X, y)
    loss_b, _ = twin.loss_and_gradients(X, y)
    return inference_diff, abs(loss_a - loss_b)


def run(quick=True, seed=0):
    s = dict(QUICK if quick else FULL)
    rows, findings, series = [], {}, {}
    runs = {v: [] for v in VARIANTS}                 # per variant, per repeat: the numbers
    curves = {v: ([], []) for v in VARIANTS}
    for repeat in range(s["repeats"]):
        data = noisy_blobs(s["n_train"], s["n_test"], s["noise"], seed + repeat)
        Xtr, ytr, Xte, yte = data
        for variant in VARIANTS:
            model, epochs, train_curve, test_curve = train(variant, data, s, seed + repeat)
            train_loss, train_acc = model.evaluate(Xtr, ytr, batch_size=1024, verbose=0)
            test_loss, test_acc = model.evaluate(Xte, yte, batch_size=1024, verbose=0)
            runs[variant].append([train_loss, test_loss, test_loss - train_loss, train_acc,
                                  test_acc, min(test_curve)])
            curves[variant][0].append(train_curve)
            curves[variant][1].append(test_curve)
            if repeat == 0 and variant != "none":   # the expectation, on the first data set
                check = expectation_check(model, Xte[:s["mc_samples"]], s["mc_masks"], seed + 1)
                for where in ("hidden", "output"):
                    findings[f"{variant}_{where}_rel_err"] = check[where][0]
                    findings[f"{variant}_{where}_z_rms"] = check[where][1]
            if repeat == 0 and variant == "inverted":
                inference_diff, loss_diff = twin_check(model, s["rate"], Xte, yte)
                findings["twin_inference_max_abs_diff"] = inference_diff
                findings["twin_training_loss_abs_diff"] = loss_diff
    series["epochs"] = epochs
    for variant in VARIANTS:
        mean = [float(v) for v in np.mean(runs[variant], axis=0)]
        checks = [findings.get(f"{variant}_{k}", "-") for k in
                  ("hidden_rel_err", "hidden_z_rms", "output_rel_err", "output_z_rms")]
        rows.append([variant] + mean + checks)
        for name, value in zip(("train_loss", "test_loss", "gap", "train_acc", "test_acc"), mean):
            findings[f"{variant}_{name}"] = value
        series[f"{variant}/train"] = [float(v) for v in np.mean(curves[variant][0], axis=0)]
        series[f"{variant}/test"] = [float(v) for v in np.mean(curves[variant][1], axis=0)]
        if variant != "none":   # in how many data sets dropout lowered the test loss
            findings[f"{variant}_lower_test_loss_count"] = int(sum(
                a[1] < b[1] for a, b in zip(runs[variant], runs["none"])))
    f = findings
    over = f"averaged over {s['repeats']} data sets, " if s["repeats"] > 1 else ""
    conclusion = (
        f"Without dropout the network fits the {s['n_train']} noisy points ({over}training loss "
        f"{f['none_train_loss']:.3f}) and over-fits (test loss {f['none_test_loss']:.3f}); with "
        f"dropout {s['rate']} the training loss is {f['inverted_train_loss']:.3f} / "
        f"{f['scale_at_inference_train_loss']:.3f} (inverted / scale at inference) and the test "
        f"loss {f['inverted_test_loss']:.3f} / {f['scale_at_inference_test_loss']:.3f}, lower in "
        f"{f['inverted_lower_test_loss_count']} / {f['scale_at_inference_lower_test_loss_count']} "
        f"of {s['repeats']} data sets. The layer after the dropout has E[h_train] = h_inference "
        f"within Monte Carlo error (z_rms {f['inverted_hidden_z_rms']:.2f} / "
        f"{f['scale_at_inference_hidden_z_rms']:.2f}); through the non-linear layers the output's "
        f"expectation is only approximately the inference output (relative difference "
        f"{f['inverted_output_rel_err']:.3f} / {f['scale_at_inference_output_rel_err']:.3f}, z_rms "
        f"{f['inverted_output_z_rms']:.1f} / {f['scale_at_inference_output_z_rms']:.1f}). The "
        f"inverted network with its kernels after the dropout divided by the keep ratio is the "
        f"scale-at-inference network (largest output difference "
        f"{f['twin_inference_max_abs_diff']:.1e}).")
    return ExperimentResult(
        name=NAME, claim=CLAIM,
        columns=["dropout", "train_loss", "test_loss", "gap", "train_acc", "test_acc",
                 "best_test_loss", "hidden_rel_err", "hidden_z_rms", "output_rel_err",
                 "output_z_rms"],
        rows=rows, findings=findings, conclusion=conclusion,
        settings={**s, "quick": bool(quick), "seed": int(seed), "optimizer": "adam",
                  "dtype": "float64", "data": "blobs(noise) / 5, repeat r with seed + r"},
        series=series)


def plot(result, path):
    """Training (solid) and test (dashed) loss against the epoch, for each variant."""
    from ..plotting import pyplot
    plt = pyplot()
    colours = {"none": "tab:red", "inverted": "tab:blue", "scale_at_inference": "tab:green"}
    fig, ax = plt.subplots(figsize=(6.4, 4))
    epochs = result.series["epochs"]
    for variant in VARIANTS:
        label = ("no dropout" if variant == "none" else
                 f"dropout {result.settings['rate']}, {variant}")
        ax.plot(epochs, result.series[f"{variant}/train"], "-", color=colours[variant],
                label=f"{label}: train")
        ax.plot(epochs, result.series[f"{variant}/test"], "--", color=colours[variant],
                label=f"{label}: test")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("binary cross-entropy (inference mode)")
    ax.set_title(f"{result.settings['n_train']} noisy training points, "
                 f"2-{result.settings['width']}-{result.settings['width']}-1 relu")
    ax.legend(fontsize=7)
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
