"""The theory lab: vanishing_gradients, depth, dropout, flatness
(the other four are in test_experiments_a.py).

The phenomenon tests assert on the mean over three seeds with its 95 % interval
(experiment_runs.quick_seeds: low() and high() are the interval's ends), and each shows a control
arm where the phenomenon vanishes (batch normalisation for the initialisation of relu networks,
...). The other tests check the constructions against independent oracles. flatness is
calibrated on Fashion-MNIST: its phenomenon tests skip when it is not installed.
"""
import math

import numpy as np
import pytest

from experiment_runs import quick_seeds
from refnn.experiments import _common, flatness


def low(f, key):
    """The lower end of the 95 % interval of finding `key` (mean - half-width)."""
    return f[key] - f[f"{key}_ci"]


def high(f, key):
    return f[key] + f[f"{key}_ci"]


# --------------------------------------------------------------------------- vanishing gradients
def test_he_initialisation_draws_the_hidden_kernels_with_variance_two_over_fan_in():
    model = _common.deep_network(64, 5, 64, "relu", seed=0)
    before = model.get_weights()
    _common.with_initializer(model, "he_normal", seed=0)
    after = model.get_weights()
    kernels = [i for i, w in enumerate(before) if w.ndim == 2]
    for i in kernels[:-1]:                            # N(0, 2 / 64), truncated and rescaled
        assert abs(after[i].std() * math.sqrt(64 / 2) - 1) < 0.05
        assert np.abs(after[i]).max() <= 2 * math.sqrt(2 / 64) / 0.8796 + 1e-12
    for i, (a, b) in enumerate(zip(before, after)):
        if i == kernels[-1] or a.ndim == 1:           # the output kernel and the biases stay
            np.testing.assert_array_equal(a, b)
    # glorot_uniform, U(+-sqrt(6 / 128)): standard deviation sqrt(1 / 64), half He's
    assert abs(before[0].std() * math.sqrt(64) - 1) < 0.05


def test_sigmoid_gradient_vanishes_towards_the_input_where_normalisation_and_skips_keep_it():
    r = quick_seeds("vanishing_gradients")
    f = r.findings
    assert r.settings["depth"] == 10 and r.settings["seeds"] == [0, 1, 2]
    # the 10-layer plain sigmoid network: the first layer gets < 1/1000 of the last hidden
    # layer's gradient (measured: about 1e-5), and the geometric mean falls layer by layer
    assert high(f, "sigmoid_plain_log10_ratio_init") < -3
    norms = r.series["sigmoid_plain/init"]
    assert all(a < b for a, b in zip(norms[:-1], norms[1:])), norms
    # and it does not learn: the loss stays at log 2 = 0.693 (chance)
    assert low(f, "sigmoid_plain_loss_trained") > 0.68
    # the controls: batch normalisation and skip connections, same activation, same depth
    for arm in ("batch_norm", "skip"):
        assert low(f, f"sigmoid_{arm}_log10_ratio_init") > -1.5, arm
        assert high(f, f"sigmoid_{arm}_loss_trained") < 0.65, arm


@pytest.mark.parametrize("key", ["tanh_plain", "relu_plain", "sigmoid_batch_norm",
                                 "tanh_batch_norm", "tanh_skip", "relu_skip"])
def test_gradient_reaches_the_first_layer(key):
    f = quick_seeds("vanishing_gradients").findings
    assert -1 < low(f, f"{key}_log10_ratio_init") and high(f, f"{key}_log10_ratio_init") < 1


def test_relu_keeps_the_gradient_only_with_he_initialisation():
    f = quick_seeds("vanishing_gradients").findings
    # with glorot_uniform every relu layer halves the signal: the ratio is about 1 (above) but
    # every layer's gradient is small, and the plain relu network barely learns
    assert high(f, "relu_plain_log10_first_init") < -1.5
    assert high(f, "relu_plain_log10_last_hidden_init") < -1.0
    assert low(f, "relu_plain_loss_trained") > 0.5
    # He's initialisation: gradients about ten times larger (intervals apart), and it learns
    assert low(f, "relu_plain_he_log10_first_init") > high(f, "relu_plain_log10_first_init")
    assert f["relu_plain_he_log10_first_init"] > f["relu_plain_log10_first_init"] + 0.8
    assert high(f, "relu_plain_he_loss_trained") < low(f, "relu_plain_loss_trained")
    assert f["relu_plain_he_loss_trained"] < f["relu_plain_loss_trained"] - 0.3
    # the control: with batch normalisation the kernels' scale is normalised away, and the
    # initialisation no longer matters (the means within 0.3 decades, the losses within 0.15)
    assert abs(f["relu_batch_norm_he_log10_first_init"]
               - f["relu_batch_norm_log10_first_init"]) < 0.3
    assert abs(f["relu_batch_norm_he_loss_trained"] - f["relu_batch_norm_loss_trained"]) < 0.15


def test_relu_with_batch_norm_grows_the_gradient_towards_the_input():
    # not vanishing, rather the opposite (at depth 20 the full run measures about 17)
    assert low(quick_seeds("vanishing_gradients").findings, "relu_batch_norm_log10_ratio_init") > 0


# --------------------------------------------------------------------------- dropout
DROPOUT_SEEDS = tuple(range(10))      # the quick effect is a few hundredths: 3 seeds cannot
_dropout = {}                         # separate it (seed 3 gains nothing), 10 seeds do


def dropout_seeds():
    """dropout's quick setting over DROPOUT_SEEDS, once per test session (about 30 s)."""
    if "result" not in _dropout:
        from refnn.experiments import sweep
        _dropout["result"] = sweep.run("dropout", quick=True, seeds=DROPOUT_SEEDS)
    return _dropout["result"]


@pytest.mark.parametrize("variant", ["inverted", "scale_at_inference"])
def test_dropout_lowers_the_final_test_loss_but_not_the_early_stopped_one(variant):
    f = dropout_seeds().findings
    assert high(f, "none_train_loss") < 0.15                  # the big network fits the noise
    assert f[f"{variant}_train_loss"] > f["none_train_loss"]
    # the phenomenon, paired by seed: after all the epochs dropout lowers the test loss
    assert high(f, f"{variant}_minus_none_test_loss") < 0
    assert f[f"{variant}_minus_none_test_loss"] < -0.04
    assert f[f"{variant}_gap"] < f["none_gap"]
    # ... and the accuracy barely moves (about one point on an overlap of 8 %)
    assert abs(f[f"{variant}_minus_none_test_acc"]) < 0.03
    # the control: stopped at the lowest validation loss, the networks with and without
    # dropout have the same test loss (within 0.015, interval included)
    d, half = f[f"{variant}_minus_none_es_test_loss"], f[f"{variant}_minus_none_es_test_loss_ci"]
    assert abs(d) + half < 0.015
    assert f["none_es_test_loss"] < f["none_test_loss"] - 0.1   # early stopping is what helps


@pytest.mark.parametrize("variant", ["inverted", "scale_at_inference"])
def test_inference_value_is_the_expectation_over_masks(variant):
    f = dropout_seeds().findings
    # the layer after the dropout: the Monte Carlo mean differs from the inference value only
    # by sampling noise (z scores of rms 1)
    assert 0.8 < low(f, f"{variant}_hidden_z_rms") and high(f, f"{variant}_hidden_z_rms") < 1.25
    assert high(f, f"{variant}_hidden_rel_err") < 0.05
    # through the non-linear layers the inference output is close to the mean output, but
    # measurably not equal to it
    assert high(f, f"{variant}_output_rel_err") < 0.1
    assert low(f, f"{variant}_output_z_rms") > 2


def test_inverted_dropout_is_scale_at_inference_with_rescaled_kernels():
    f = dropout_seeds().findings                 # the largest difference over the seeds
    assert f["twin_inference_max_abs_diff"] < 1e-12
    assert f["twin_training_loss_abs_diff"] < 1e-12


def test_validation_set_is_disjoint_from_training_and_test():
    from refnn.experiments import dropout
    Xtr, ytr, Xval, yval, Xte, yte = dropout.noisy_blobs(40, 200, 500, 0.5, seed=1)
    assert [len(a) for a in (Xtr, ytr, Xval, yval, Xte, yte)] == [40, 40, 200, 200, 500, 500]
    rows = {tuple(x) for x in np.concatenate([Xtr, Xval, Xte])}
    assert len(rows) == 740                      # no point in two of the sets


# --------------------------------------------------------------------------- depth
def test_skips_removed_is_the_residual_networks_layers_one_after_the_other():
    from refnn.experiments import depth
    residual = depth.build("residual", 6, 5, seed=3)
    plain = depth.build("skips_removed", 6, 5, seed=3)
    w = residual.get_weights()                    # dense_0, 2 blocks of 2 Dense, the output
    x = np.random.default_rng(0).normal(size=(7, 2))
    relu = lambda h: np.maximum(h, 0)             # noqa: E731

    def forward(skips):                           # NumPy, from the weights alone
        g = relu(x @ w[0] + w[1])
        for i in (2, 6):
            F = relu(g @ w[i] + w[i + 1]) @ w[i + 2] + w[i + 3]
            g = g + F if skips else F
        return 1 / (1 + np.exp(-(g @ w[10] + w[11])))
    np.testing.assert_allclose(residual.predict(x), forward(skips=True), rtol=1e-12)
    np.testing.assert_allclose(plain.predict(x), forward(skips=False), rtol=1e-12)
    assert [type(l).__name__ for l in plain.layers] == ["Dense"] * 6


def test_plain_network_stops_learning_where_the_residual_one_keeps_learning():
    r = quick_seeds("depth")
    f, depths = r.findings, r.settings["depths"]
    shallow, deep = depths[0], depths[-1]
    assert deep >= 24
    # the phenomenon: the plain network learns when shallow and is at chance when deep, on
    # every seed (log 2 = 0.693: chance)
    assert f[f"plain_{shallow}_learned"] == 1 and low(f, f"plain_{shallow}_acc") > 0.85
    assert f[f"plain_{deep}_learned"] == 0 and high(f, f"plain_{deep}_acc") < 0.6
    assert low(f, f"plain_{deep}_loss") > 0.65
    # the control: the residual network of the same depth learns on every seed
    assert f[f"residual_{deep}_learned"] == 1 and low(f, f"residual_{deep}_acc") > 0.9
    assert high(f, f"residual_{deep}_loss") < 0.2
    # in the quick setting its layers without the skips do not (the full run says otherwise
    # at other depths, see docs/experiments.md): here the skips make the difference
    assert f[f"skips_removed_{deep}_learned"] == 0
    assert low(f, f"residual_{deep}_acc") > high(f, f"skips_removed_{deep}_acc")


def test_he_initialisation_moves_the_deep_plain_network_off_chance():
    f = quick_seeds("depth").findings
    deep = 24
    assert low(f, f"he_{deep}_acc") > high(f, f"plain_{deep}_acc")
    # and every arm's learned fraction is a fraction of the three seeds
    for key, v in f.items():
        if key.endswith("_learned"):
            assert v in (0, 1 / 3, 2 / 3, 1), key


# --------------------------------------------------------------------------- flatness
def test_filter_normalised_direction_has_the_weights_column_norms():
    rng = np.random.default_rng(0)
    weights = [rng.normal(size=(6, 4)), rng.normal(size=4), rng.normal(size=(4, 3)),
               rng.normal(size=3)]
    names = ["a/kernel", "a/bias", "b/kernel", "b/bias"]
    d = flatness.direction(weights, names, rng, "filter")
    for w, dw, name in zip(weights, d, names):
        if name.endswith("bias"):
            assert not dw.any()
        else:
            np.testing.assert_allclose(np.linalg.norm(dw, axis=0), np.linalg.norm(w, axis=0))
    d = flatness.direction(weights, names, rng, "layer")
    assert np.linalg.norm(d[2]) == pytest.approx(np.linalg.norm(weights[2]))


def _tiny_classifier():
    model = _common.classifier(4, [3], seed=5).astype("float64")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd", metrics=["acc"])
    rng = np.random.default_rng(1)
    return model, rng.normal(size=(30, 4)), rng.integers(0, 10, 30)


def test_hessian_top_eigenvalue_is_the_full_hessians():
    model, x, y = _tiny_classifier()
    theta = model.get_weights()
    sizes = [w.size for w in theta]

    def gradient(flat):                       # the gradient at theta + flat, flattened
        parts = np.split(flat, np.cumsum(sizes)[:-1])
        model.set_weights([w + p.reshape(w.shape) for w, p in zip(theta, parts)])
        return np.concatenate([g.ravel() for g in model.loss_and_gradients(x, y)[1]])
    n, step = sum(sizes), 1e-5
    H = np.array([(gradient(step * e) - gradient(-step * e)) / (2 * step) for e in np.eye(n)])
    model.set_weights(theta)
    eigenvalues = np.linalg.eigvalsh((H + H.T) / 2)   # the oracle: NumPy on the whole Hessian
    top = eigenvalues[np.argmax(np.abs(eigenvalues))]
    assert flatness.hessian_top(model, x, y, 200, 1e-4, seed=0) == pytest.approx(top, rel=1e-3)
    for a, b in zip(model.get_weights(), theta):      # the model's weights are untouched
        np.testing.assert_array_equal(a, b)


def test_normalised_sharpness_and_input_sensitivity_ignore_a_rescaling_the_hessian_does_not():
    # relu is positively homogeneous: kernel and bias of layer 1 times c, kernel of layer 2
    # divided by c compute the same function (Dinh et al. 2017)
    model, x, y = _tiny_classifier()
    names, theta = model.weight_names(), model.get_weights()
    c = 4.0
    scaled = [theta[0] * c, theta[1] * c, theta[2] / c, theta[3]]
    ts = np.array([-0.25, 0.0, 0.25])
    measured = []
    for weights in (theta, scaled):
        model.set_weights(weights)
        rng = np.random.default_rng(3)
        slices = [flatness.loss_slice(model, x, y, flatness.direction(weights, names, rng), ts)
                  for _ in range(3)]
        measured.append((slices, flatness.hessian_top(model, x, y, 100, 1e-4, seed=0),
                         flatness.input_sensitivity(model, x, 0.01, 2, seed=0)))
    (a, ha, sa), (b, hb, sb) = measured
    np.testing.assert_allclose(a, b, rtol=1e-10)       # filter-normalised: the same slices
    assert sa == pytest.approx(sb, rel=1e-10)          # the same function, the same outputs
    assert hb > 2 * ha                                 # the Hessian sees the rescaling


FLATNESS_SEEDS = tuple(range(5))          # input sensitivity needs 5 to separate (3 do not)
_flatness = {}


def flatness_seeds():
    """flatness' quick setting over FLATNESS_SEEDS, once per test session (about 30 s)."""
    if "result" not in _flatness:
        from experiment_runs import fashion_mnist_installed
        if not fashion_mnist_installed():
            pytest.skip("flatness' quick run is calibrated on Fashion-MNIST, which is not "
                        "installed (apt-get install dataset-fashion-mnist, or set REFNN_DATA)")
        from refnn.experiments import sweep
        _flatness["result"] = sweep.run("flatness", quick=True, seeds=FLATNESS_SEEDS)
    return _flatness["result"]


def test_large_batch_minimum_is_sharper_by_every_measure_but_does_not_generalise_worse():
    r = flatness_seeds()
    f = r.findings
    # every run reached the target loss: the comparison is over all the seeds' pairs
    assert f["pairs"] == len(FLATNESS_SEEDS) and f["small_missed"] == f["large_missed"] == 0
    assert abs(f["small_train_loss"] - f["large_train_loss"]) < 0.03  # compared at one height
    # the phenomenon, paired by seed: log(large / small) > 0 beyond its interval, for the
    # weight-space measures and for the output's sensitivity to the input
    for key in flatness.MEASURES:
        assert low(f, f"large_over_small_{key}") > 0, key
    assert f["large_over_small_hessian_top"] > math.log(5)
    # what does not hold in the quick setting: the large batch does not generalise worse
    assert not f["small_minus_large_test_acc_separated"]
    assert abs(f["small_minus_large_test_acc"]) < 0.02
    # the slices start at the minimum: L(0) is the lowest point of every mean curve
    t = np.asarray(r.series["t"])
    for label in ("small", "large"):
        mean = np.mean(r.series[label]["filter"], axis=0)
        assert np.argmin(mean) == np.argmin(np.abs(t))


def test_a_run_that_misses_the_target_is_counted_and_left_out():
    settings = {"batch_sizes": [16, 800]}
    run = {"reached": 1.0, "epochs": 10, "train_loss": 0.15, "train_acc": 0.9, "test_loss": 1.0,
           "test_acc": 0.8, "sharpness_filter": 0.1, "sharpness_layer": 0.1, "hessian_top": 2.0,
           "input_sensitivity": 0.1, "slices_filter": [[0.2, 0.15, 0.2]],
           "slices_layer": [[0.2, 0.15, 0.2]]}
    tasks = flatness.tasks(settings)
    per_seed = {s: [(tasks[0], dict(run)), (tasks[1], {**run, "hessian_top": 2.0 * (s + 2)})]
                for s in range(3)}
    per_seed[1][0][1].update(reached=0.0, hessian_top=1000.0)    # seed 1's small batch missed
    f = flatness.summarize({**flatness.QUICK, **settings}, per_seed).findings
    assert f["small_missed"] == 1 and f["large_missed"] == 0 and f["pairs"] == 2
    assert f["small_hessian_top"] == pytest.approx(2.0)          # the missed run is left out
    # log(large / small) over seeds 0 and 2: log 2 and log 4
    assert f["large_over_small_hessian_top"] == pytest.approx((math.log(2) + math.log(4)) / 2)
