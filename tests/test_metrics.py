"""Tests of refnn.metrics: which accuracy "acc" means, values against hand-computed ones
(Keras's documented examples among them), batched updates against one shot, names kept."""
import json

import numpy as np
import pytest

from refnn import losses, metrics
from refnn.metrics import (BinaryAccuracy, CategoricalAccuracy, MeanAbsoluteError,
                           MeanSquaredError, Metric, SparseCategoricalAccuracy)


# ---------------------------------------------------------------------------------------
# "acc" / "accuracy": chosen from the loss and the output shape
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("loss, output_shape, cls", [
    ("binary_crossentropy", (8, 1), BinaryAccuracy),
    # Keras 3 chooses by the shapes, not the loss: binary cross-entropy on 5 sigmoid outputs
    # (multi-label) is measured by categorical accuracy (compile_utils.get_metric)
    (losses.BinaryCrossentropy(), (8, 5), CategoricalAccuracy),
    ("binary_crossentropy", None, BinaryAccuracy),            # the shape not known yet
    ("mean_squared_error", (8, 1), BinaryAccuracy),           # a 1-unit output
    ("huber", (8, 1), BinaryAccuracy),
    ("categorical_crossentropy", (8, 1), BinaryAccuracy),
    ("sparse_categorical_crossentropy", (8, 10), SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(), (8, 10), SparseCategoricalAccuracy),
    ("categorical_crossentropy", (8, 10), CategoricalAccuracy),
    ("CategoricalCrossentropy", (8, 10), CategoricalAccuracy),
    ("mse", (8, 3), CategoricalAccuracy),
    (None, (8, 3), CategoricalAccuracy),
    (None, (8, 1), BinaryAccuracy),
    ("sparse_categorical_crossentropy", None, SparseCategoricalAccuracy),
], ids=lambda v: None if isinstance(v, (tuple, type)) else str(v))
@pytest.mark.parametrize("identifier", ["acc", "accuracy", "ACC", "Accuracy"])
def test_accuracy_is_chosen_as_keras_does_and_keeps_its_name(identifier, loss, output_shape, cls):
    metric = metrics.get(identifier, loss, output_shape)
    assert type(metric) is cls
    assert metric.name == identifier


def test_accuracy_needs_loss_or_shape():
    with pytest.raises(ValueError, match=r"^'accuracy' needs the loss or the output shape"):
        metrics.get("acc")
    with pytest.raises(ValueError, match=r"^unknown loss 'hinge'"):
        metrics.get("acc", "hinge", (4, 2))


@pytest.mark.parametrize("identifier, cls", [
    ("mse", MeanSquaredError), ("MSE", MeanSquaredError),
    ("mean_squared_error", MeanSquaredError), ("MeanSquaredError", MeanSquaredError),
    ("mae", MeanAbsoluteError), ("MAE", MeanAbsoluteError),
    ("mean_absolute_error", MeanAbsoluteError),
    ("binary_accuracy", BinaryAccuracy), ("BinaryAccuracy", BinaryAccuracy),
    ("categorical_accuracy", CategoricalAccuracy),
    ("sparse_categorical_accuracy", SparseCategoricalAccuracy),
    ("binary_crossentropy", metrics.BinaryCrossentropy), ("bce", metrics.BinaryCrossentropy),
    ("categorical_crossentropy", metrics.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", metrics.SparseCategoricalCrossentropy),
])
def test_names_are_kept_as_written(identifier, cls):
    metric = metrics.get(identifier, "categorical_crossentropy", (4, 3))
    assert type(metric) is cls
    assert metric.name == identifier


def test_get_instances_classes_and_unknown_names():
    m = BinaryAccuracy(name="bin", threshold=0.7)
    assert metrics.get(m) is m
    assert metrics.get(BinaryAccuracy).name == "binary_accuracy"
    assert MeanSquaredError().name == "mean_squared_error"
    with pytest.raises(ValueError, match=r"^unknown metric 'f1'; valid: .*acc.*accuracy.*"
                                         r"binary_accuracy.*mae.*mse"):
        metrics.get("f1")
    with pytest.raises(TypeError, match=r"^metric must be a name, a Metric or a config dict, "
                                        r"got int 3"):
        metrics.get(3)


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------

def test_keras_documented_examples():
    # keras.metrics.BinaryAccuracy: y [1,1,0,0], yhat [0.98,1,0,0.6] -> 1,1,1,0 -> 0.75
    assert BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]]) == 0.75
    # CategoricalAccuracy: argmax y = 2, 1; argmax yhat = 1 (0.9 > 0.8), 1 -> 0, 1 -> 0.5
    assert CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]],
                                 [[0.1, 0.9, 0.8], [0.05, 0.95, 0]]) == 0.5
    # SparseCategoricalAccuracy: y = 2, 1; argmax yhat = 1, 1 -> 0, 1 -> 0.5
    assert SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]) == 0.5
    assert SparseCategoricalAccuracy()([2, 1], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]]) == 0.5


def test_binary_accuracy_per_output_and_threshold():
    y = [[1, 0, 1], [0, 0, 1]]
    yhat = [[0.7, 0.5, 0.2], [0.1, 0.6, 0.9]]
    # yhat > 0.5: [1, 0, 0] vs [1, 0, 1] -> 2/3; [0, 1, 1] vs [0, 0, 1] -> 2/3  (0.5 is not > 0.5)
    # the function gives the matches element by element, as Keras 3's (shape (n, k))
    np.testing.assert_array_equal(metrics.binary_accuracy(y, yhat), [[1, 1, 0], [1, 0, 1]])
    assert BinaryAccuracy()(y, yhat) == pytest.approx(2 / 3, rel=1e-15)
    # threshold 0.65: [1, 0, 0] -> 2/3; [0, 0, 1] -> 3/3
    assert BinaryAccuracy(threshold=0.65)(y, yhat) == pytest.approx(5 / 6, rel=1e-15)
    # a soft label never equals a thresholded prediction (Keras compares y == (yhat > t))
    assert BinaryAccuracy()([[0.3]], [[0.2]]) == 0.0
    # (n,) targets with a 1-unit output
    assert BinaryAccuracy()([1, 0, 1, 1], [[0.9], [0.4], [0.2], [0.51]]) == 0.75
    for bad in (0, 1, 1.5, -0.1, "0.5", True):
        with pytest.raises(ValueError, match=r"^threshold must be a number in \(0, 1\)"):
            BinaryAccuracy(threshold=bad)


def test_categorical_accuracy_takes_the_first_maximum():
    # ties go to the first index, as argmax: row 0 predicts 0 (tie 0.4/0.4), truth 1 -> wrong
    y = [[0, 1, 0], [0, 0, 1], [1, 0, 0]]
    yhat = [[0.4, 0.4, 0.2], [0.1, 0.2, 0.7], [0.5, 0.3, 0.2]]
    np.testing.assert_array_equal(metrics.categorical_accuracy(y, yhat), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(metrics.sparse_categorical_accuracy([1, 2, 0], yhat),
                                  [0.0, 1.0, 1.0])


def test_regression_metrics_by_hand():
    y = [[1.0, 2.0], [0.0, -1.0]]
    yhat = [[1.5, 1.0], [0.0, 1.0]]
    # r = [0.5, -1], [0, 2]: mse (0.25 + 1)/2 = 0.625, (0 + 4)/2 = 2 -> mean 1.3125
    #                        mae (0.5 + 1)/2 = 0.75,   (0 + 2)/2 = 1 -> mean 0.875
    assert MeanSquaredError()(y, yhat) == 1.3125
    assert MeanAbsoluteError()(y, yhat) == 0.875
    np.testing.assert_array_equal(metrics.mean_absolute_error(y, yhat), [0.75, 1.0])


def test_crossentropy_metrics_equal_the_losses():
    rng = np.random.default_rng(0)
    yhat = rng.dirichlet(np.ones(4), size=6)
    index = rng.integers(0, 4, size=6)
    Y = np.eye(4)[index]
    assert metrics.get("categorical_crossentropy")(Y, yhat) == pytest.approx(
        losses.CategoricalCrossentropy()(Y, yhat), rel=1e-15)
    assert metrics.get("sparse_categorical_crossentropy")(index, yhat) == pytest.approx(
        -np.mean(np.log(yhat[np.arange(6), index])), rel=1e-12)
    assert metrics.get("bce")(Y, yhat) == pytest.approx(
        -np.mean(Y * np.log(yhat) + (1 - Y) * np.log(1 - yhat)), rel=1e-12)


# ---------------------------------------------------------------------------------------
# Running mean: batches equal one shot
# ---------------------------------------------------------------------------------------

def _data(kind, n, k, seed=1):
    rng = np.random.default_rng(seed)
    yhat = rng.uniform(size=(n, k))
    if kind == "sparse":
        return rng.integers(0, k, size=n).astype(float), yhat
    if kind == "onehot":
        return np.eye(k)[rng.integers(0, k, size=n)], yhat
    if kind == "binary":
        return rng.integers(0, 2, size=(n, k)).astype(float), yhat
    return rng.normal(size=(n, k)), yhat


@pytest.mark.parametrize("identifier, loss, kind, k", [
    ("acc", "binary_crossentropy", "binary", 1),
    ("acc", "binary_crossentropy", "binary", 3),
    ("acc", "categorical_crossentropy", "onehot", 4),
    ("accuracy", "sparse_categorical_crossentropy", "sparse", 4),
    ("mse", "mse", "regression", 2),
    ("mae", "mse", "regression", 2),
    ("categorical_crossentropy", "categorical_crossentropy", "onehot", 4),
])
@pytest.mark.parametrize("batch_size", [1, 7, 32, 103])
def test_batched_update_equals_one_shot(identifier, loss, kind, k, batch_size):
    n = 103
    y, yhat = _data(kind, n, k)
    metric = metrics.get(identifier, loss, (n, k))
    one_shot = metric(y, yhat)
    # the independent value: the per-sample values averaged by hand
    expected = np.mean(metric.per_sample(y, yhat))
    assert one_shot == pytest.approx(expected, rel=1e-15)
    assert metric.result() == 0.0 and metric.count == 0   # __call__ leaves the totals alone
    for start in range(0, n, batch_size):
        metric.update(y[start:start + batch_size], yhat[start:start + batch_size])
    assert metric.count == n
    assert metric.result() == pytest.approx(one_shot, rel=1e-13)
    metric.reset()
    assert metric.result() == 0.0 and metric.count == 0


def test_accuracy_counts_exactly():
    # 103 samples, 3 classes: the batched accuracy is a count over 103, to the last bit
    y, yhat = _data("sparse", 103, 3, seed=2)
    right = int(np.sum(y == np.argmax(yhat, axis=1)))
    metric = SparseCategoricalAccuracy()
    for start in range(0, 103, 10):
        metric.update(y[start:start + 10], yhat[start:start + 10])
    assert metric.result() == right / 103
    assert metric(y, yhat) == right / 103


# ---------------------------------------------------------------------------------------
# Bad input and configs
# ---------------------------------------------------------------------------------------

def test_bad_shapes_name_y():
    with pytest.raises(ValueError, match=r"^y must have the shape of yhat, \(2, 3\); got \(2,\)"):
        CategoricalAccuracy()([0, 1], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^y must hold class indices with shape \(2,\)"):
        SparseCategoricalAccuracy()(np.eye(3)[:2], np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"^y must be finite"):
        MeanSquaredError()([[np.nan]], [[1.0]])
    with pytest.raises(ValueError, match=r"^yhat must be a 2-D array"):
        MeanAbsoluteError()([1.0], [1.0])


@pytest.mark.parametrize("metric", [BinaryAccuracy(name="acc", threshold=0.3),
                                    CategoricalAccuracy(name="accuracy"),
                                    SparseCategoricalAccuracy(), MeanSquaredError(name="mse"),
                                    MeanAbsoluteError(), metrics.BinaryCrossentropy()],
                         ids=lambda m: type(m).__name__)
def test_config_round_trip(metric):
    config = metric.get_config()
    assert json.loads(json.dumps(config)) == config
    for restored in (metrics.deserialize(config), Metric.from_config(config),
                     metrics.get(config)):
        assert type(restored) is type(metric)
        assert restored.get_config() == config and restored.name == metric.name


def test_config_errors():
    with pytest.raises(ValueError, match=r"^unknown metric class_name 'Nope'; valid:"):
        metrics.deserialize({"class_name": "Nope", "name": "x"})
    with pytest.raises(ValueError, match=r"must have a 'class_name' key"):
        metrics.deserialize({"name": "acc"})
    with pytest.raises(ValueError, match=r"^config does not fit CategoricalAccuracy"):
        metrics.deserialize({"class_name": "CategoricalAccuracy", "threshold": 0.5})
    with pytest.raises(TypeError, match=r"^name must be a string"):
        BinaryAccuracy(name=3)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_checked_update_gives_what_the_checking_one_gives(dtype):
    """fit and evaluate pass their own checked arrays (checked=True): every metric's running
    value is then the same as when it checks and converts them itself."""
    rng = np.random.default_rng(5)
    n, k = 37, 4
    yhat = rng.dirichlet(np.ones(k), n).astype(dtype)
    labels = rng.integers(0, k, n)
    one_hot = np.eye(k, dtype=dtype)[labels]
    yhat1 = rng.random((n, 1)).astype(dtype)
    binary = (rng.random(n) < 0.5).astype(dtype)
    cases = [(metrics.CategoricalAccuracy(), one_hot, yhat),
             (metrics.SparseCategoricalAccuracy(), labels.astype(dtype), yhat),
             (metrics.SparseCategoricalAccuracy(), labels.reshape(-1, 1), yhat),
             (metrics.BinaryAccuracy(), binary, yhat1),
             (metrics.BinaryAccuracy(threshold=0.3), binary.reshape(-1, 1), yhat1),
             (metrics.BinaryAccuracy(), one_hot, yhat),
             (metrics.MeanAbsoluteError(), one_hot, yhat),
             (metrics.MeanAbsoluteError(), binary, yhat1),
             (metrics.MeanSquaredError(), one_hot, yhat),
             (metrics.CategoricalCrossentropy(), one_hot, yhat)]
    for metric, y, p in cases:
        for chunk in (slice(0, 20), slice(20, n)):
            metric.update(y[chunk], p[chunk], checked=True)
        fresh = type(metric).from_config(metric.get_config())
        fresh.update(y, p)
        assert metric.result() == pytest.approx(fresh.result(), rel=1e-15, abs=0), metric
        assert metric.count == n
