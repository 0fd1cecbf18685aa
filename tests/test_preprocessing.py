"""Data preparation (refnn.preprocessing) and the network built for it (refnn.networks): the
scaling against its formula, the parts against refnn.utils.split, the output layer against the
table of task and loss, the parameter count against sum (n_in + 1) n_out."""
import csv

import numpy as np
import pytest

from refnn import datasets
from refnn.networks import build_model, make_optimizer, output_layer
from refnn.optimizers import SGD, Adam
from refnn.preprocessing import PreparedData, prepare_csv, prepare_toy, standardise
from refnn.utils import split


def test_standardise_uses_the_training_parts_statistics():
    rng = np.random.default_rng(0)
    x_train = rng.normal(3.0, 2.0, size=(50, 3))
    x_train[:, 2] = 7.0                                   # a constant column
    x_test = rng.normal(size=(10, 3))
    a, b, mean, std = standardise(x_train, x_test)
    for j in range(2):                                    # x' = (x - mean) / std, by hand
        m = sum(x_train[:, j]) / 50
        s = (sum((x_train[:, j] - m) ** 2) / 50) ** 0.5
        assert mean[j] == pytest.approx(m) and std[j] == pytest.approx(s)
        assert np.allclose(b[:, j], (x_test[:, j] - m) / s)
    assert std[2] == 1.0 and np.all(a[:, 2] == 0.0)       # constant: shifted, not divided
    assert np.allclose(a[:, :2].mean(axis=0), 0) and np.allclose(a[:, :2].std(axis=0), 1)


def test_standardise_refuses_parts_of_different_width():
    with pytest.raises(ValueError, match="x_test has 2 columns, but x_train has 3"):
        standardise(np.zeros((4, 3)), np.zeros((2, 2)))


def test_prepare_toy_splits_as_utils_split_and_scales_the_points():
    data = prepare_toy("circles", n_samples=200, noise=0.05, seed=3, test_fraction=0.25)
    X, y = datasets.circles(200, noise=0.05, seed=3)
    (Xa, ya), (Xb, yb) = split(X, y, 0.25, seed=3)
    assert np.array_equal(data.raw_train[0], Xa) and np.array_equal(data.y_test, yb)
    mean, std = data.scale
    assert np.allclose(data.x_train * std + mean, Xa) and np.allclose(data.x_test * std + mean, Xb)
    assert (data.task, data.kind, data.n_classes, data.n_inputs) == ("classification", "toy", 2, 2)
    assert data.describe() == "circles: 150 training and 50 test samples, 2 inputs, 2 classes"
    short = prepare_toy("circles", 200, 0.05, 3, 0.25, limit=20)
    assert short.x_train.shape == (20, 2) and short.raw_train[0].shape == (20, 2)
    assert np.array_equal(short.x_train, data.x_train[:20])     # the same scaling


@pytest.mark.parametrize("kwargs, error, match", [
    ({"name": "moons"}, ValueError, "unknown name 'moons'"),
    ({"test_fraction": 1.0}, ValueError, "test_fraction must lie strictly between 0 and 1"),
    ({"limit": 0}, ValueError, "limit must be > 0"),
])
def test_prepare_toy_names_a_wrong_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        prepare_toy(**{"name": "xor", **kwargs})


def _write(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return path


def test_prepare_csv_standardises_a_regression_target(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=40)
    price = 100 + 5 * x
    path = _write(tmp_path / "p.csv", [["x", "price"]] + [[f"{a:.6f}", f"{b:.6f}"]
                                                           for a, b in zip(x, price)])
    data = prepare_csv(path, target="price", test_fraction=0.25, seed=0)
    assert data.task == "regression" and data.n_classes == 0
    prep = data.preprocessing
    table = datasets.load_csv(path, target="price")
    (_, ya), (_, yb) = split(table.X, table.y, 0.25, seed=0)
    assert prep["target_mean"] == pytest.approx(ya.mean())
    assert np.allclose(data.y_test * prep["target_std"] + prep["target_mean"], yb)
    assert prep["features"] == ["x"] and prep["target"] == "price"


def test_prepare_csv_keeps_class_names_and_one_hot_columns(tmp_path):
    rows = [["colour", "size", "kind"]] + [[c, str(i), k] for i, (c, k) in enumerate(
        [("red", "a"), ("blue", "b"), ("red", "b"), ("blue", "a")] * 5)]
    data = prepare_csv(_write(tmp_path / "k.csv", rows), test_fraction=0.2, seed=0)
    assert data.class_names == ["a", "b"] and data.preprocessing["classes"] == ["a", "b"]
    assert data.preprocessing["one_hot"] == ["colour (2 values)"]
    assert data.x_train.shape == (16, 3) and data.kind == "csv"


def _data(task="classification", k=3, n_in=4):
    x = np.zeros((6, n_in))
    y = np.arange(6) % k if task == "classification" else np.linspace(0, 1, 6)
    names = [str(c) for c in range(k)] if task == "classification" else None
    return PreparedData("d", "toy", task, (x, y), (x, y), class_names=names)


@pytest.mark.parametrize("task, k, loss, expected", [
    ("regression", 0, "auto", (1, "linear", "mse", ["mae"])),
    ("regression", 0, "huber", (1, "linear", "huber", ["mae"])),
    ("classification", 2, "auto", (1, "sigmoid", "binary_crossentropy", ["acc"])),
    ("classification", 3, "auto", (3, "softmax", "sparse_categorical_crossentropy", ["acc"])),
    ("classification", 3, "categorical_crossentropy", (3, "softmax", "categorical_crossentropy",
                                                       ["acc"])),
    ("classification", 3, "mse", (3, "sigmoid", "mse", ["acc"])),
])
def test_the_output_layer_follows_the_task_and_the_loss(task, k, loss, expected):
    out = output_layer(_data(task, k), loss)
    assert (out.units, out.activation, out.loss, out.metrics) == expected
    y = np.array([0, 2, 1])
    targets = out.targets(y) if task == "classification" else None
    if loss in ("categorical_crossentropy", "mse") and task == "classification":
        assert np.array_equal(targets, np.eye(3)[y])      # one-hot
    elif task == "classification":
        assert targets is y


@pytest.mark.parametrize("task, k, loss, match", [
    ("regression", 0, "binary_crossentropy", "a regression target takes 'mse' or 'huber'"),
    ("classification", 3, "binary_crossentropy", "needs two classes; d has 3"),
    ("classification", 3, "hinge", "unknown loss 'hinge'"),
])
def test_a_loss_that_does_not_fit_the_task_is_named(task, k, loss, match):
    with pytest.raises(ValueError, match=match):
        output_layer(_data(task, k), loss)


def test_build_model_stacks_the_hidden_layers_and_the_output():
    network = build_model(_data(k=3, n_in=4), layers=(5, 6), activation="tanh", dropout=0.5,
                          seed=0, dtype="float64")
    model = network.model
    assert model.count_params() == (4 + 1) * 5 + (5 + 1) * 6 + (6 + 1) * 3
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense", "Dropout",
                                                        "Dense"]
    assert model.layers[-1].activation == "softmax" and network.loss.startswith("sparse")
    assert model.dtype == np.float64
    bare = build_model(_data(k=2, n_in=4), layers=()).model      # no hidden layer
    assert bare.count_params() == 4 + 1


@pytest.mark.parametrize("kwargs, match", [
    ({"layers": (5, 0)}, r"layers\[1\] must be > 0, got 0"),
    ({"activation": "softmax"}, "unknown activation 'softmax'"),
    ({"dropout": 1.0}, r"dropout must be in \[0, 1\)"),
    ({"dtype": "float16"}, "dtype must be 'float32' or 'float64'"),
])
def test_build_model_names_a_wrong_argument(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        build_model(_data(), **kwargs)


def test_make_optimizer_by_name():
    assert isinstance(make_optimizer("adam"), Adam)
    sgd = make_optimizer("sgd", 0.25)
    assert isinstance(sgd, SGD) and sgd.learning_rate == 0.25
    with pytest.raises(ValueError, match="learning_rate does not apply to 'lbfgs'"):
        make_optimizer("lbfgs", 0.1)
    with pytest.raises(ValueError, match="unknown optimizer 'adadelta'"):
        make_optimizer("adadelta")
