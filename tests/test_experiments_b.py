"""The theory lab, part two: approximation_rate, double_descent, lottery_ticket, flatness.

Each test runs an experiment's quick setting (seed 0, once per test session) and asserts the
phenomenon it measures, with margins taken from the quick runs of seeds 0 to 3; where the quick
setting cannot show the lecture's claim, the test asserts what it does show, and
docs/experiments.md gives the full run's result. double_descent, lottery_ticket and flatness are
calibrated on Fashion-MNIST: their phenomenon tests skip when it is not installed (the experiments
then run on a generated stand-in, which one test checks with the data set hidden).
"""
import numpy as np
import pytest

from refnn.experiments import (approximation_rate, flatness)

from experiment_runs import quick


# --------------------------------------------------------------------------- approximation rate
def test_rate_of_an_exact_power_law():
    W = [10, 100, 1000]
    assert approximation_rate.rate(W, [3 * w ** -1.5 for w in W]) == pytest.approx(1.5)


def test_training_points_resolve_the_singular_point():
    x = approximation_rate.points((0.0,), 5, levels=10)
    assert np.all(np.diff(x) > 0) and x[0] == -1 and x[-1] == 1
    assert 0.0 in x and 2.0 ** -10 in x and -(2.0 ** -10) in x


def test_output_layer_starts_at_the_least_squares_fit():
    x = np.linspace(-1, 1, 101)[:, None]
    y = np.sin(3 * x)
    for widths in ([12], [8, 8]):
        model = approximation_rate.network(widths, 0, x, y)
        model.compile(loss="mse", optimizer="sgd")
        loss, grads = model.loss_and_gradients(x, y)
        # least squares: the gradient of the loss with respect to the output layer is zero
        assert np.abs(grads[-2]).max() < 1e-10 and abs(grads[-1][0]) < 1e-10
        assert np.abs(grads[0]).max() > 1e-6          # the other layers still have to move


def test_no_network_gets_closer_to_the_jump_than_half_its_height():
    r = quick("approximation_rate")
    # any continuous function is >= 1/2 away from a jump of 1 somewhere next to it
    for arch in ("shallow", "deep"):
        assert min(r.series[f"jump/{arch}"]["sup_error"]) >= 0.45
        assert abs(r.findings[f"alpha_sup_jump_{arch}"]) < 0.35    # so no sup-norm rate


def test_smooth_target_error_falls_with_the_width():
    r = quick("approximation_rate")
    s = r.series["smooth/shallow"]
    assert s["W"] == sorted(s["W"]) and s["sup_error"][-1] < 0.5 * s["sup_error"][0]
    assert s["sup_error"][-1] < 0.12
    assert r.findings["alpha_sup_smooth_shallow"] > 0.7
    # the points graded towards the cusp let every network follow it to within 0.15
    assert max(r.series["cusp/shallow"]["sup_error"] + r.series["cusp/deep"]["sup_error"]) < 0.15


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


def test_large_batch_minimum_is_sharper():
    r = quick("flatness")
    f = r.findings
    assert f["small_reached_target_loss"] and f["large_reached_target_loss"]
    assert abs(f["small_train_loss"] - f["large_train_loss"]) < 0.06   # compared at one height
    assert f["sharpness_ratio_filter"] > 1.2
    assert f["sharpness_ratio_layer"] > 1.5
    # the slices start at the minimum: L(0) is the lowest point of every mean curve
    t = np.asarray(r.series["t"])
    for label in ("small", "large"):
        mean = np.mean(r.series[label]["filter"], axis=0)
        assert np.argmin(mean) == np.argmin(np.abs(t))
