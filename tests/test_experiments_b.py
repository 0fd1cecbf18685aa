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

from refnn.experiments import (flatness)

from experiment_runs import quick


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
