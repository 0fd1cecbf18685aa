"""ONNX export: the exported graph, run by onnxruntime, equals refnn's predict."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ONNX export needs the optional extra onnx")
ort = pytest.importorskip("onnxruntime", reason="running the exported graph needs onnxruntime")

from refnn import Sequential  # noqa: E402
from refnn.activations import LAYER_NAMES  # noqa: E402
from refnn.export import OPSET, to_onnx  # noqa: E402
from refnn.layers import (  # noqa: E402
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Residual,
)

# float32: the runtime's kernels sum in another order than BLAS; float64: the same formulas
TOLERANCES = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}


def _run(model, path, x):
    model.export(str(path), format="onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": x})
    return out


def _trained_statistics(model):
    """Moving statistics away from 0 / 1, so that batch normalisation's export is tested."""
    rng = np.random.default_rng(5)
    for layer in model.leaf_layers():
        if isinstance(layer, BatchNormalization):
            layer.moving_mean[...] = rng.normal(size=layer.moving_mean.shape)
            layer.moving_variance[...] = rng.uniform(0.5, 2.0, size=layer.moving_variance.shape)
            layer.gamma[...] = rng.uniform(0.5, 1.5, size=layer.gamma.shape)
            layer.beta[...] = rng.normal(size=layer.beta.shape)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", LAYER_NAMES)
def test_dense_with_each_activation(tmp_path, dtype, activation):
    model = Sequential([Flatten(input_shape=(3, 4)), Dense(6, activation=activation),
                        Dense(5, activation=activation)], seed=0, dtype=dtype)
    x = np.random.default_rng(1).normal(size=(9, 3, 4)).astype(dtype)
    out = _run(model, tmp_path / "m.onnx", x)
    assert out.dtype == np.dtype(dtype) and out.shape == (9, 5)
    np.testing.assert_allclose(out, model.predict(x), **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("mode", ["inverted", "scale_at_inference"])
def test_every_layer_kind(tmp_path, dtype, mode):
    model = Sequential([
        Flatten(input_shape=(2, 5)),
        Dense(8, activation="relu", batch_norm=True),
        Dropout(0.25, mode=mode),
        Residual([Dense(8, activation="tanh"), BatchNormalization()]),
        Activation("sigmoid"),
        BatchNormalization(),
        Dense(3, activation="softmax")], seed=2, dtype=dtype)
    _trained_statistics(model)
    x = np.random.default_rng(3).normal(size=(11, 2, 5)).astype(dtype)
    out = _run(model, tmp_path / "m.onnx", x)
    np.testing.assert_allclose(out, model.predict(x), **TOLERANCES[dtype])
    if mode == "scale_at_inference":     # the keep ratio is in the graph: a second oracle
        assert any(n.op_type == "Mul" and n.name.startswith("dropout")
                   for n in to_onnx(model).graph.node)


def test_trained_model_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    Y = np.eye(3, dtype="float32")[rng.integers(0, 3, size=64)]
    model = Sequential([Dense(8, activation="relu", input_shape=(4,)),
                        Dense(3, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    model.fit(X, Y, epochs=3, verbose=0)
    np.testing.assert_allclose(_run(model, tmp_path / "m.onnx", X), model.predict(X),
                               **TOLERANCES["float32"])


def test_graph_states_its_opset_and_io(tmp_path):
    model = Sequential([Dense(2, input_shape=(3,))], seed=0)
    model.export(str(tmp_path / "m.onnx"))
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert [o.version for o in proto.opset_import if o.domain == ""] == [OPSET] == [17]
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]


def test_bad_export_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="format"):
        Sequential([Dense(2, input_shape=(3,))]).export(str(tmp_path / "m"), format="tflite")
    with pytest.raises(ValueError, match="built"):
        Sequential([Dense(2)]).export(str(tmp_path / "m.onnx"))
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regressor"])
def test_sklearn_estimators_export(tmp_path, kind):
    pytest.importorskip("sklearn", reason="the estimators need scikit-learn")
    from refnn.sklearn import MLPClassifier, MLPRegressor
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 4))
    if kind == "regressor":
        est = MLPRegressor((6,), max_iter=5, random_state=0).fit(X, X @ [1.0, 2.0, 0.0, -1.0])
        expected = est.predict(X)[:, None]
    else:
        y = rng.integers(0, 2 if kind == "binary" else 3, size=60)
        est = MLPClassifier((6,), max_iter=5, random_state=0).fit(X, y)
        expected = est.predict_proba(X)
        expected = expected[:, 1:] if kind == "binary" else expected
    est.export(str(tmp_path / "m.onnx"))
    session = ort.InferenceSession(str(tmp_path / "m.onnx"), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"input": X})
    np.testing.assert_allclose(out, expected, **TOLERANCES["float64"])


def test_command_line_export_equals_the_saved_model(tmp_path, capsys):
    from refnn import cli, load_model
    onnx_path, npz_path = tmp_path / "spirals.onnx", tmp_path / "spirals.npz"
    assert cli.main(["train", "spirals", "--epochs", "2", "--verbose", "0",
                     "--save", str(npz_path), "--export", str(onnx_path)]) == 0
    assert "exported the network" in capsys.readouterr().out
    model = load_model(str(npz_path))
    x = np.random.default_rng(0).normal(size=(20, 2)).astype(model.dtype)
    np.testing.assert_allclose(_run(model, tmp_path / "again.onnx", x), model.predict(x),
                               **TOLERANCES[model.dtype.name])
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"input": x})[0], model.predict(x),
                               **TOLERANCES[model.dtype.name])


def test_command_line_export_refuses_a_wrong_suffix(tmp_path, capsys):
    from refnn import cli
    assert cli.main(["train", "spirals", "--epochs", "1", "--export",
                     str(tmp_path / "m.npz")]) == 2
    assert ".onnx" in capsys.readouterr().err


def test_the_trained_lecture_model_reaches_the_same_test_accuracy_in_onnxruntime(tmp_path):
    """The lecture's Keras model trained on Fashion-MNIST, exported and run by onnxruntime on
    the 10,000 test images: the same predicted classes as refnn's predict, so the same test
    accuracy."""
    from refnn.datasets import fashion_mnist
    from refnn.utils import to_categorical
    try:
        (x_train, y_train), (x_test, y_test) = fashion_mnist(normalize=True)
    except FileNotFoundError as e:
        pytest.skip(f"Fashion-MNIST is not installed ({e}); apt-get install "
                    f"dataset-fashion-mnist")
    model = Sequential([Flatten(input_shape=(28, 28)), Dense(128, activation="sigmoid"),
                        Dense(10, activation="softmax")], seed=0)
    model.compile("categorical_crossentropy", optimizer="adam", metrics=["acc"])
    model.fit(x_train, to_categorical(y_train), batch_size=200, epochs=1, verbose=0)
    _, accuracy = model.evaluate(x_test, to_categorical(y_test), verbose=0)
    out = _run(model, tmp_path / "lecture.onnx", x_test)
    classes = np.argmax(out, axis=1)
    np.testing.assert_array_equal(classes, np.argmax(model.predict(x_test), axis=1))
    assert np.mean(classes == y_test) == pytest.approx(accuracy, abs=1e-12) and accuracy > 0.8
