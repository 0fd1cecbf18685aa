"""Bad input to the Keras-style API: a clear error, nothing lost, no crash.

The rule (DESIGN.md, Boundaries): Python validates, and the error names the argument, what
was expected and what was received; a failed call leaves the weights and the optimizer state
as they were; no input crashes the process.

Tables, each row one call that must fail with one exception type and one message, followed
by a check that get_weights(), optimizer.get_state() and optimizer.iterations are
bit-identical to what they were before the call:
  - bad x (NaN/inf, object/complex/string, empty, wrong per-sample shape, ...) at fit,
    evaluate, predict, loss_and_gradients and in validation_data, for float32 and float64;
  - bad y for each loss (one-hot given to the sparse loss, indices given to the dense one,
    k + 1 columns, 3-D, class indices out of range, NaN/inf, ...) at the same entry points;
  - the arguments of fit, evaluate and predict; compile; the layers and the model's structure;
    set_weights; load_model (including a file that carries a pickle: it is refused unread).
Then what must be accepted: uint8 images, bool and int x, integer class labels, any memory
layout, each giving exactly the float result. Last, a seeded fuzz in a child process, so
that a crash fails one test instead of ending the test run.

The models are warmed by one epoch of Adam before the bad call, so that the optimizer's
slots, its iteration count and batch normalisation's moving statistics are not at their
initial values: a failed call that touched them would show.
"""
import json
import re
import zipfile

import numpy as np
import pytest

from refnn._validate import TrainingDivergedError
from refnn import Sequential, load_model
from refnn.callbacks import Callback, EarlyStopping, History
from refnn.layers import Activation, BatchNormalization, Dense, Dropout, Flatten, Residual
from refnn.optimizers import SGD

DTYPES = ("float32", "float64")
INPUT_SHAPE = (28, 28)
N, K = 12, 3                      # samples, classes (units of the output layer)

_rng = np.random.default_rng(20240607)
X = _rng.random((N,) + INPUT_SHAPE)                       # float64 in [0, 1)
LABELS = np.array([0, 1, 2, 1, 0, 2, 2, 1, 0, 0, 1, 2])   # every class present
ONE_HOT = np.eye(K)[LABELS]
TARGETS = {
    "categorical_crossentropy": ONE_HOT,
    "sparse_categorical_crossentropy": LABELS,
    "binary_crossentropy": (_rng.random((N, K)) < 0.5).astype(np.float64),
    "mean_squared_error": _rng.normal(size=(N, K)),
    "huber": 2 * _rng.normal(size=(N, K)),
}
OUTPUT_ACTIVATION = {
    "categorical_crossentropy": "softmax",
    "sparse_categorical_crossentropy": "softmax",
    "binary_crossentropy": "sigmoid",
    "mean_squared_error": "linear",
    "huber": "linear",
}
LOSSES = tuple(TARGETS)
VALID_LOSSES = ("mean_squared_error", "mse", "huber", "binary_crossentropy",
                "categorical_crossentropy", "sparse_categorical_crossentropy")
VALID_OPTIMIZERS = ("sgd", "adagrad", "rmsprop", "adam", "lbfgs")
VALID_METRICS = ("acc", "accuracy", "mse", "mae")
VALID_ACTIVATIONS = ("sigmoid", "tanh", "relu", "softmax", "linear")
VALID_INITIALIZERS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "zeros", "ones")


# =======================================================================================
# helpers
# =======================================================================================

def layers_for(loss="categorical_crossentropy", input_shape=INPUT_SHAPE):
    return [Flatten(input_shape=input_shape),
            Dense(8, activation="relu"),
            BatchNormalization(),
            Dropout(0.25),
            Dense(K, activation=OUTPUT_ACTIVATION[loss])]


def make_model(dtype, loss="categorical_crossentropy", optimizer="adam", warm=True):
    """A built, compiled model; warm: after one epoch, so every piece of state has moved."""
    model = Sequential(layers_for(loss), seed=0, dtype=dtype)
    model.compile(loss=loss, optimizer=optimizer, metrics=["acc"])
    if warm:
        model.fit(X, TARGETS[loss], batch_size=4, epochs=1, verbose=0)
    return model


def snapshot(model):
    """Everything a failed call must leave alone: weights (batch normalisation's moving
    statistics included), the optimizer's state and its iteration count."""
    weights = model.get_weights() if model.built else []
    opt = model.optimizer
    state = [np.array(s, copy=True) for s in opt.get_state()] if opt is not None else []
    return {"weights": weights, "optimizer_state": state,
            "iterations": opt.iterations if opt is not None else None, "optimizer": opt,
            "loss": model.loss, "n_layers": len(model.layers)}


def assert_same_arrays(before, after, what="weights"):
    """Bit-identical lists: same count, dtype, shape and bytes (np.array_equal ignores dtype)."""
    assert len(after) == len(before), f"{what}: {len(before)} arrays before, {len(after)} after"
    for i, (u, v) in enumerate(zip(before, after)):
        same = v.dtype == u.dtype and v.shape == u.shape and v.tobytes() == u.tobytes()
        assert same, f"{what}[{i}] changed"


def assert_unchanged(before, after):
    """Bit-identical arrays and iteration count; the same optimizer, loss and layers."""
    for key in ("weights", "optimizer_state"):
        assert_same_arrays(before[key], after[key], key)
    assert after["iterations"] == before["iterations"], "optimizer.iterations changed"
    assert after["optimizer"] is before["optimizer"], "the model's optimizer was replaced"
    assert after["loss"] is before["loss"], "the model's loss was replaced"
    assert after["n_layers"] == before["n_layers"], "the model's layers changed"


def refused(model, call, exc, pattern):
    """call() raises exc with a message matching pattern (re.search) and changes nothing."""
    before = snapshot(model)
    with pytest.raises(exc) as info:
        call()
    message = str(info.value)
    assert re.search(pattern, message), f"message {message!r} does not match {pattern!r}"
    assert_unchanged(before, snapshot(model))
    return message


def assert_lists(message, names):
    """An unknown-name error lists the valid names."""
    missing = [n for n in names if not re.search(rf"(?<![\w]){re.escape(n)}(?![\w])", message)]
    assert not missing, f"message {message!r} does not list {missing}"


def put(value, where):
    """A float copy of an array with `value` at index `where`."""
    def make(a):
        a = np.array(a, dtype=np.float64)
        a[where if a.ndim == len(where) else where[:a.ndim]] = value
        return a
    return make


def names(pattern, **kw):
    """Put the argument names ({x}, {y}) into a regex without str.format (regexes use braces)."""
    for key, value in kw.items():
        pattern = pattern.replace("{" + key + "}", re.escape(value))
    return pattern


def samples_pattern(a, b):
    """The message names x or y and gives both sample counts."""
    return rf"^(?=.*\b{a}\b)(?=.*\b{b}\b)({{x}}|{{y}})\b"


# =======================================================================================
# bad data at fit / evaluate / predict / loss_and_gradients / validation_data
# =======================================================================================

SLOTS = ("fit", "evaluate", "predict", "loss_and_gradients", "validation_data")
X_NAME = {"fit": "x", "evaluate": "x", "predict": "x", "loss_and_gradients": "X",
          "validation_data": "x_val"}
Y_NAME = {"fit": "y", "evaluate": "y", "loss_and_gradients": "Y", "validation_data": "y_val"}


def call_slot(model, slot, x, y):
    if slot == "fit":
        return model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    if slot == "evaluate":
        return model.evaluate(x, y, verbose=0)
    if slot == "predict":
        return model.predict(x)
    if slot == "loss_and_gradients":
        return model.loss_and_gradients(x, y)
    if slot == "validation_data":
        loss = model.loss.name
        return model.fit(X, TARGETS[loss], batch_size=4, epochs=1, verbose=0,
                         validation_data=(x, y))
    raise AssertionError(slot)


# (id, make bad x from the good X, needs y (not for predict), exception, message regex)
BAD_X = [
    ("NaN", put(np.nan, (3, 5, 7)), False, ValueError, r"^{x} must be finite.*\bnan\b"),
    ("+inf", put(np.inf, (3, 5, 7)), False, ValueError, r"^{x} must be finite.*(?<!-)\binf\b"),
    ("-inf", put(-np.inf, (3, 5, 7)), False, ValueError, r"^{x} must be finite.*-inf\b"),
    ("object array", lambda x: x.astype(object), False, TypeError, r"^{x} .*object"),
    ("complex", lambda x: x.astype(np.complex128), False, TypeError, r"^{x} .*complex"),
    ("strings", lambda x: x.astype(str), False, TypeError, r"^{x} .*(number|str)"),
    ("a str", lambda x: "images.npy", False, TypeError, r"^{x} .*str"),
    ("None", lambda x: None, False, TypeError, r"^{x} "),
    ("ragged list", lambda x: [x[0], x[1][:20]], False, (ValueError, TypeError), r"^{x} "),
    ("empty", lambda x: x[:0], False, ValueError, r"^{x} must not be empty"),
    ("per-sample (28, 27)", lambda x: x[:, :, :27], False, ValueError,
     r"^{x} has per-sample shape \(28, 27\).*\(28, 28\)"),
    ("per-sample (784,)", lambda x: x.reshape(len(x), -1), False, ValueError,
     r"^{x} has per-sample shape \(784,\).*\(28, 28\)"),
    ("per-sample (28, 28, 1)", lambda x: x[..., None], False, ValueError,
     r"^{x} has per-sample shape \(28, 28, 1\).*\(28, 28\)"),
    ("1-D", lambda x: x[0, 0], False, ValueError, r"^{x} .*\(28,\)"),
    ("scalar", lambda x: 0.5, False, ValueError, r"^{x} .*\(\)"),
    ("fewer samples than y", lambda x: x[:-2], True, ValueError, samples_pattern(10, 12)),
    ("more samples than y", lambda x: np.concatenate([x, x[:2]]), True, ValueError,
     samples_pattern(14, 12)),
]


def _bad_x_params():
    for slot in SLOTS:
        for kind, make, needs_y, exc, pattern in BAD_X:
            if needs_y and slot == "predict":
                continue
            yield pytest.param(slot, make, exc, pattern, id=f"{slot}-{kind}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slot, make, exc, pattern", list(_bad_x_params()))
def test_bad_x_is_refused_by_name_and_changes_nothing(dtype, slot, make, exc, pattern):
    model = make_model(dtype)
    bad = make(X)
    pattern = names(pattern, x=X_NAME[slot], y=Y_NAME.get(slot, "y"))
    refused(model, lambda: call_slot(model, slot, bad, ONE_HOT), exc, pattern)


def _dense_k_plus_1(y):
    return np.concatenate([y, np.zeros((len(y), 1))], axis=1)


# (id, losses it applies to (None: all), make bad y from the good targets, exception, regex)
BAD_Y = [
    ("NaN", None, put(np.nan, (5, 1)), ValueError, r"^{y} must be finite.*\bnan\b"),
    ("+inf", None, put(np.inf, (5, 1)), ValueError, r"^{y} must be finite.*(?<!-)\binf\b"),
    ("-inf", None, put(-np.inf, (5, 1)), ValueError, r"^{y} must be finite.*-inf\b"),
    ("3-D", None, lambda y: np.asarray(y, dtype=float).reshape(N, 1, -1), ValueError,
     r"^{y} .*3-D"),
    ("fewer samples", None, lambda y: y[:-2], ValueError, samples_pattern(10, 12)),
    ("more samples", None, lambda y: np.concatenate([y, y[:2]]), ValueError,
     samples_pattern(14, 12)),
    ("empty", None, lambda y: y[:0], ValueError, r"^{y} "),
    ("object array", None, lambda y: np.asarray(y).astype(object), TypeError, r"^{y} .*object"),
    ("complex", None, lambda y: np.asarray(y).astype(np.complex128), TypeError,
     r"^{y} .*complex"),
    ("strings", None, lambda y: np.asarray(y).astype(str), TypeError, r"^{y} .*(number|str)"),
    ("None", None, lambda y: None, TypeError, r"^{y} "),
    # dense targets: shape (n, k)
    ("k+1 columns", ("categorical_crossentropy", "binary_crossentropy", "mean_squared_error",
                     "huber"), _dense_k_plus_1, ValueError, r"^{y} .*\(12, 3\).*\(12, 4\)"),
    ("class indices (n,)", ("categorical_crossentropy",), lambda y: LABELS, ValueError,
     r"^{y} .*\(12, 3\).*\(12,\).*sparse_categorical_crossentropy"),
    ("class indices (n, 1)", ("categorical_crossentropy",), lambda y: LABELS[:, None],
     ValueError, r"^{y} .*\(12, 3\).*\(12, 1\).*sparse_categorical_crossentropy"),
    ("(n,) for k=3", ("mean_squared_error", "huber", "binary_crossentropy"),
     lambda y: LABELS.astype(float), ValueError, r"^{y} .*\(12, 3\).*\(12,\)"),
    ("above 1", ("categorical_crossentropy", "binary_crossentropy"), put(2.0, (5, 1)),
     ValueError, r"^{y} must lie in \[0, 1\].*\b2(\.0)?\b"),
    ("below 0", ("categorical_crossentropy", "binary_crossentropy"), put(-0.5, (5, 1)),
     ValueError, r"^{y} must lie in \[0, 1\].*-0\.5"),
    # sparse targets: class indices (n,) or (n, 1) in [0, k)
    ("one-hot", ("sparse_categorical_crossentropy",), lambda y: ONE_HOT, ValueError,
     r"^{y} .*\(12,\).*\(12, 3\).*(?<!sparse_)categorical_crossentropy"),
    ("k+1 columns", ("sparse_categorical_crossentropy",), lambda y: np.zeros((N, K + 1)),
     ValueError, r"^{y} .*\(12,\).*\(12, 4\)"),
    ("(n, 2) indices", ("sparse_categorical_crossentropy",), lambda y: np.stack([y, y], 1),
     ValueError, r"^{y} .*\(12,\).*\(12, 2\)"),
    ("index == k", ("sparse_categorical_crossentropy",), put(K, (5,)), ValueError,
     r"^{y} .*\[0, 3\).*\b3\b"),
    ("index 1000", ("sparse_categorical_crossentropy",), put(1000, (5,)), ValueError,
     r"^{y} .*\[0, 3\).*\b1000\b"),
    ("index -1", ("sparse_categorical_crossentropy",), put(-1, (5,)), ValueError,
     r"^{y} .*\[0, 3\).*-1\b"),
    ("index 1.5", ("sparse_categorical_crossentropy",), put(1.5, (5,)), ValueError,
     r"^{y} .*integer.*\b1\.5\b"),
    ("index -0.5 in (n, 1)", ("sparse_categorical_crossentropy",),
     lambda y: put(-0.5, (5,))(y)[:, None], ValueError, r"^{y} .*-0\.5"),
]


def _bad_y_params():
    for slot in ("fit", "evaluate", "loss_and_gradients", "validation_data"):
        for kind, losses, make, exc, pattern in BAD_Y:
            for loss in (losses or LOSSES):
                yield pytest.param(slot, loss, make, exc, pattern, id=f"{slot}-{loss}-{kind}")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slot, loss, make, exc, pattern", list(_bad_y_params()))
def test_bad_y_is_refused_by_name_and_changes_nothing(dtype, slot, loss, make, exc, pattern):
    model = make_model(dtype, loss)
    bad = make(TARGETS[loss])
    pattern = names(pattern, x=X_NAME[slot], y=Y_NAME[slot])
    refused(model, lambda: call_slot(model, slot, X, bad), exc, pattern)


@pytest.mark.parametrize("slot", SLOTS)
def test_finite_x_too_large_for_float32_is_named_as_such(slot):
    """1e39 is a finite float64 that float32 cannot hold: the message must say so (and name x),
    not report an 'inf' the user never wrote."""
    model = make_model("float32")
    big = put(1e39, (3, 5, 7))(X)
    pattern = names(r"^{x} .*(float32|1e\+39)", x=X_NAME[slot])
    with np.errstate(over="ignore"):
        message = refused(model, lambda: call_slot(model, slot, big, ONE_HOT), ValueError,
                          pattern)
    assert "must be finite, got inf" not in message


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("slot", SLOTS)
def test_finite_x_that_overflows_inside_the_network_is_reported_as_x(dtype, slot):
    """x finite and of the model's dtype, but so large that the weighted sums overflow.
    Either the call returns (Keras gives NaN/inf outputs; fit stops before a non-finite
    update) or it fails with a ValueError that names x, having changed nothing. An error
    about an internal array (h, g_prev) tells the user nothing; and in validation_data it
    must not come after an epoch of updates."""
    model = make_model(dtype)
    big = np.full_like(X, np.finfo(dtype).max / 2)
    before = snapshot(model)
    try:
        with np.errstate(all="ignore"):
            call_slot(model, slot, big, ONE_HOT)
    except ValueError as e:
        if isinstance(e, TrainingDivergedError):
            assert slot == "fit" and re.search(
                r"in epoch 1, batch 1 of \d+: .*before any update: the values of x may be too "
                r"large", str(e)), str(e)
        else:
            assert re.match(names(r"{x}\b", x=X_NAME[slot]), str(e)), \
                f"the error does not name {X_NAME[slot]}: {e!r}"
        assert_unchanged(before, snapshot(model))
    else:
        if slot in ("predict", "evaluate", "loss_and_gradients"):
            assert_unchanged(before, snapshot(model))


# =======================================================================================
# the arguments of fit, evaluate, predict and loss_and_gradients
# =======================================================================================

FIT_ARGS = [
    ("batch_size", 0, ValueError, r"^batch_size\b.*\b0\b"),
    ("batch_size", -1, ValueError, r"^batch_size\b.*-1\b"),
    ("batch_size", 2.5, TypeError, r"^batch_size\b.*2\.5"),
    ("batch_size", "32", TypeError, r"^batch_size\b.*'32'"),
    ("batch_size", True, TypeError, r"^batch_size\b.*True"),
    ("epochs", 0, ValueError, r"^epochs\b.*\b0\b"),
    ("epochs", -2, ValueError, r"^epochs\b.*-2\b"),
    ("epochs", 1.5, TypeError, r"^epochs\b.*1\.5"),
    ("epochs", "3", TypeError, r"^epochs\b.*'3'"),
    ("initial_epoch", -1, ValueError, r"^initial_epoch\b.*-1\b"),
    ("verbose", 3, ValueError, r"^verbose\b.*\b3\b"),
    ("verbose", -1, ValueError, r"^verbose\b.*-1\b"),
    ("verbose", "loud", ValueError, r"^verbose\b.*'loud'"),
    ("validation_split", 1.0, ValueError, r"^validation_split\b.*\b1(\.0)?\b"),
    ("validation_split", 1.5, ValueError, r"^validation_split\b.*\b1\.5\b"),
    ("validation_split", -0.1, ValueError, r"^validation_split\b.*-0\.1\b"),
    ("validation_split", float("nan"), ValueError, r"^validation_split\b.*nan"),
    ("validation_split", "0.2", TypeError, r"^validation_split\b.*'0\.2'"),
    # 5 % of 12 samples is 0.6: no validation sample
    # as Keras: floor(12 (1 - 0.95)) = 0 training samples
    ("validation_split", 0.95, ValueError, r"^validation_split\b.*\b12\b.*\bno\b"),
    ("validation_data", (X,), ValueError, r"^validation_data\b.*(x_val, y_val).*\bgot\b"),
    ("validation_data", X, ValueError, r"^validation_data\b.*\bgot\b"),
    ("validation_data", {"x": X, "y": ONE_HOT}, ValueError, r"^validation_data\b.*\bgot\b"),
    ("validation_data", (X, ONE_HOT, ONE_HOT, ONE_HOT), ValueError,
     r"^validation_data\b.*\bgot\b"),
    ("callbacks", [object()], TypeError, r"^callbacks\b.*\bobject\b"),
    ("callbacks", ["history"], TypeError, r"^callbacks\b.*\bstr\b"),
    ("callbacks", [History], TypeError, r"^callbacks\b.*\btype\b"),
    ("callbacks", 5, TypeError, r"^callbacks\b.*\bint\b"),
    ("shuffle", "yes", TypeError, r"^shuffle\b.*'yes'"),
    ("shuffle", 1, TypeError, r"^shuffle\b.*\b1\b"),
    ("shuffle", None, TypeError, r"^shuffle\b.*None"),
]


def _short(value):
    """A test id for an argument value: arrays by their shape."""
    if isinstance(value, np.ndarray):
        return f"array{value.shape}"
    if isinstance(value, dict):
        return "dict"
    if isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value):
        return f"{type(value).__name__} of {len(value)} arrays"
    return repr(value)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("arg, value, exc, pattern", [
    pytest.param(*row, id=f"{row[0]}={_short(row[1])}") for row in FIT_ARGS])
def test_fit_refuses_bad_arguments_and_changes_nothing(dtype, arg, value, exc, pattern):
    model = make_model(dtype)
    kwargs = dict(batch_size=4, epochs=1, verbose=0)
    kwargs[arg] = value
    refused(model, lambda: model.fit(X, ONE_HOT, **kwargs), exc, pattern)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fit_takes_a_single_callback_or_refuses_it_by_name(dtype):
    """Keras 3 flattens `callbacks`, so one Callback works like [callback]. Refusing it is
    fine too, with a TypeError naming callbacks; "'History' object is not iterable" is not."""
    model, twin = make_model(dtype), make_model(dtype)
    before = snapshot(model)
    try:
        model.fit(X, ONE_HOT, batch_size=4, verbose=0, callbacks=Callback())
    except TypeError as e:
        assert re.match(r"callbacks\b", str(e)), f"the error does not name callbacks: {e!r}"
        assert_unchanged(before, snapshot(model))
    else:
        twin.fit(X, ONE_HOT, batch_size=4, verbose=0, callbacks=[Callback()])
        assert_unchanged(snapshot(twin) | {"optimizer": None, "loss": None},
                         snapshot(model) | {"optimizer": None, "loss": None})


@pytest.mark.parametrize("dtype", DTYPES)
def test_early_stopping_on_a_value_fit_does_not_report_moves_no_weight_before_failing(dtype):
    """EarlyStopping(monitor="val_loss") without validation data. Keras warns and trains on;
    refusing is fine too, but then before the first update, not after an epoch of them."""
    import warnings
    model = make_model(dtype)
    before = snapshot(model)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(X, ONE_HOT, batch_size=4, epochs=2, verbose=0,
                      callbacks=[EarlyStopping(monitor="val_loss")])
    except ValueError as e:
        assert "val_loss" in str(e)
        assert_unchanged(before, snapshot(model))
    else:
        assert model.optimizer.iterations > before["iterations"]
        assert any(issubclass(w.category, RuntimeWarning) and "'val_loss'" in str(w.message)
                   for w in caught), [str(w.message) for w in caught]


EVALUATE_PREDICT_ARGS = [
    ("batch_size", 0, ValueError, r"^batch_size\b.*\b0\b"),
    ("batch_size", -1, ValueError, r"^batch_size\b.*-1\b"),
    ("batch_size", 2.5, TypeError, r"^batch_size\b.*2\.5"),
    ("batch_size", "32", TypeError, r"^batch_size\b.*'32'"),
    ("batch_size", True, TypeError, r"^batch_size\b.*True"),
    ("verbose", 3, ValueError, r"^verbose\b.*\b3\b"),
    ("verbose", "loud", ValueError, r"^verbose\b.*'loud'"),
]


@pytest.mark.parametrize("method", ["evaluate", "predict"])
@pytest.mark.parametrize("arg, value, exc, pattern", [
    pytest.param(*row, id=f"{row[0]}={row[1]!r}") for row in EVALUATE_PREDICT_ARGS])
def test_evaluate_and_predict_refuse_bad_arguments(method, arg, value, exc, pattern):
    model = make_model("float32")
    args = (X, ONE_HOT) if method == "evaluate" else (X,)
    kwargs = {"verbose": 0, arg: value}
    refused(model, lambda: getattr(model, method)(*args, **kwargs), exc, pattern)


@pytest.mark.parametrize("value", ["no", 1, None])
def test_loss_and_gradients_refuses_a_training_flag_that_is_not_a_bool(value):
    """training="no" is truthy: taken silently it would mean training mode."""
    model = make_model("float64")
    refused(model, lambda: model.loss_and_gradients(X, ONE_HOT, training=value), TypeError,
            r"^training\b")


# =======================================================================================
# a failed call leaves the random streams alone, and an unbuilt model unbuilt
# =======================================================================================

FAILING_CALLS = [
    ("fit bad y", lambda m: m.fit(X, LABELS, verbose=0)),
    ("fit bad x_val", lambda m: m.fit(X, ONE_HOT, verbose=0,
                                      validation_data=(put(np.nan, (0, 0, 0))(X), ONE_HOT))),
    ("fit split leaves none", lambda m: m.fit(X, ONE_HOT, verbose=0, validation_split=0.95)),
    ("fit bad callback", lambda m: m.fit(X, ONE_HOT, verbose=0, callbacks=[object()])),
    ("fit batch_size 0", lambda m: m.fit(X, ONE_HOT, verbose=0, batch_size=0)),
    ("evaluate bad y", lambda m: m.evaluate(X, LABELS, verbose=0)),
    ("loss_and_gradients bad y", lambda m: m.loss_and_gradients(X, ONE_HOT[:-1])),
    ("set_weights bad", lambda m: m.set_weights(m.get_weights()[:-1])),
]


@pytest.mark.parametrize("dtype", DTYPES)
def test_failed_calls_leave_training_exactly_where_it_was(dtype):
    """After every failing call above, the next fit (shuffling, dropout masks, Adam's step)
    gives bit-for-bit the weights of a twin model that never saw them."""
    model, twin = make_model(dtype), make_model(dtype)
    for _label, call in FAILING_CALLS:
        with pytest.raises((ValueError, TypeError)):
            call(model)
    for m in (model, twin):
        m.fit(X, ONE_HOT, batch_size=4, epochs=2, verbose=0)
    assert_same_arrays(twin.get_weights(), model.get_weights())
    assert model.optimizer.iterations == twin.optimizer.iterations


def unbuilt_model(dtype, loss="categorical_crossentropy"):
    model = Sequential([Flatten(), Dense(8, activation="relu"), BatchNormalization(),
                        Dense(K, activation=OUTPUT_ACTIVATION[loss])], seed=0, dtype=dtype)
    model.compile(loss=loss, optimizer="adam")
    return model


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_failed_first_fit_does_not_fix_the_input_shape(dtype):
    """The first fit builds the model from x. If it fails (here: y of the wrong shape, with x
    of the wrong per-sample shape), the model must not stay built for that x: the next fit
    on the right data must work and equal a fresh model's."""
    model, twin = unbuilt_model(dtype), unbuilt_model(dtype)
    with pytest.raises(ValueError, match=r"^y\b"):
        model.fit(X[:, :, :27], ONE_HOT[:, :2], verbose=0)
    model.fit(X, ONE_HOT, batch_size=4, verbose=0)
    twin.fit(X, ONE_HOT, batch_size=4, verbose=0)
    assert_same_arrays(twin.get_weights(), model.get_weights())


# =======================================================================================
# compile, and what needs it
# =======================================================================================

@pytest.mark.parametrize("kwargs, exc, pattern, valid", [
    pytest.param(dict(loss="categorical_crossentropyy"), ValueError,
                 r"\bloss\b.*'categorical_crossentropyy'", VALID_LOSSES, id="unknown loss"),
    pytest.param(dict(loss="cce", optimizer="adam"), ValueError, r"\bloss\b.*'cce'",
                 VALID_LOSSES, id="unknown loss alias"),
    pytest.param(dict(loss="mse", optimizer="adadelta"), ValueError, r"\boptimizer\b.*'adadelta'",
                 VALID_OPTIMIZERS, id="unknown optimizer"),
    pytest.param(dict(loss="mse", metrics=["acuracy"]), ValueError, r"\bmetric\b.*'acuracy'",
                 VALID_METRICS, id="unknown metric"),
    pytest.param(dict(loss=5), TypeError, r"^loss\b.*\bint\b", (), id="loss=5"),
    pytest.param(dict(loss=None), TypeError, r"^loss\b.*None", (), id="loss=None"),
    pytest.param(dict(loss="mse", optimizer=5), TypeError, r"^optimizer\b.*\bint\b", (),
                 id="optimizer=5"),
    pytest.param(dict(loss="mse", optimizer=None), TypeError, r"^optimizer\b.*None", (),
                 id="optimizer=None"),
    pytest.param(dict(loss="mse", optimizer=SGD), TypeError, r"^optimizer\b", (),
                 id="optimizer class, not instance"),
    pytest.param(dict(loss="mse", metrics="acc"), TypeError, r"^metrics\b.*'acc'", (),
                 id="metrics='acc'"),
    pytest.param(dict(loss="mse", metrics=[5]), TypeError, r"^metrics\b.*\b5\b", (),
                 id="metrics=[5]"),
    pytest.param(dict(loss="mse", metrics={"acc"}), TypeError, r"^metrics\b", (),
                 id="metrics=set"),
    pytest.param(dict(loss="mse", optimizer={"name": "adam", "learning_rate": -1.0}),
                 ValueError, r"^learning_rate\b.*-1", (), id="learning_rate=-1"),
    pytest.param(dict(loss="mse", optimizer={"name": "adam", "lr": 0.1}), ValueError,
                 r"\blr\b", (), id="unknown optimizer key"),
    pytest.param(dict(loss={"name": "huber", "delta": -1.0}), ValueError, r"^delta\b.*-1", (),
                 id="huber delta=-1"),
])
def test_compile_refuses_bad_arguments_and_keeps_the_old_compile(kwargs, exc, pattern, valid):
    model = make_model("float32")
    message = refused(model, lambda: model.compile(**kwargs), exc, pattern)
    assert_lists(message, valid)
    model.fit(X, ONE_HOT, batch_size=4, verbose=0)          # still compiled as before


def test_compile_on_an_unbuilt_model_refuses_an_unknown_metric_at_once():
    """The name is unknown whatever the output shape: it must fail in compile, not later."""
    model = Sequential([Flatten(), Dense(K, activation="softmax")], seed=0)
    with pytest.raises(ValueError) as info:
        model.compile(loss="categorical_crossentropy", optimizer="adam", metrics=["acuracy"])
    assert re.search(r"\bmetric\b.*'acuracy'", str(info.value))
    assert_lists(str(info.value), VALID_METRICS)
    assert not model.compiled


@pytest.mark.parametrize("dtype", DTYPES)
def test_compile_with_an_optimizer_built_for_another_model_keeps_the_old_one(dtype):
    """An optimizer's slots fit one model's weights; handing it to another model is refused,
    and the model keeps its own optimizer and state."""
    other = Sequential([Flatten(input_shape=(4,)), Dense(2)], seed=0, dtype=dtype)
    other.compile(loss="mse", optimizer="adam")
    other.fit(np.ones((3, 4)), np.ones((3, 2)), verbose=0)
    model = make_model(dtype)
    refused(model, lambda: model.compile(loss="categorical_crossentropy",
                                         optimizer=other.optimizer),
            ValueError, r"optimizer|weights")


@pytest.mark.parametrize("method", ["fit", "evaluate", "loss_and_gradients"])
def test_training_calls_before_compile_say_to_call_compile(method):
    model = Sequential(layers_for(), seed=0)
    args = (X, ONE_HOT)
    kwargs = {"verbose": 0} if method != "loss_and_gradients" else {}
    before = snapshot(model)
    with pytest.raises(ValueError, match=r"compile\("):
        getattr(model, method)(*args, **kwargs)
    assert_unchanged(before, snapshot(model))


def test_predict_before_compile_works_as_in_keras():
    model = Sequential(layers_for(), seed=0)
    before = model.predict(X)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    assert before.shape == (N, K)
    assert np.array_equal(before, model.predict(X))


@pytest.mark.parametrize("method", ["get_weights", "set_weights", "count_params", "summary",
                                    "save"])
def test_calls_that_need_weights_before_the_model_is_built(method, tmp_path):
    model = Sequential([Flatten(), Dense(K)], seed=0)
    args = {"set_weights": ([],), "save": (tmp_path / "unused.npz",)}.get(method, ())
    with pytest.raises(ValueError, match=r"not built"):
        getattr(model, method)(*args)
    assert not (tmp_path / "unused.npz").exists()


# =======================================================================================
# layers and the model's structure
# =======================================================================================

LAYER_ROWS = [
    ("Dense(0)", lambda: Dense(0), ValueError, r"^units\b.*\b0\b", ()),
    ("Dense(-3)", lambda: Dense(-3), ValueError, r"^units\b.*-3\b", ()),
    ("Dense(2.5)", lambda: Dense(2.5), TypeError, r"^units\b.*2\.5", ()),
    ("Dense('4')", lambda: Dense("4"), TypeError, r"^units\b.*'4'", ()),
    ("Dense(True)", lambda: Dense(True), TypeError, r"^units\b.*True", ()),
    ("Dense(None)", lambda: Dense(None), TypeError, r"^units\b.*None", ()),
    ("activation softmx", lambda: Dense(4, activation="softmx"), ValueError,
     r"\bactivation\b.*'softmx'", VALID_ACTIVATIONS),
    ("activation 5", lambda: Dense(4, activation=5), (ValueError, TypeError),
     r"\bactivation\b.*\b5\b", VALID_ACTIVATIONS),
    ("Activation('softmx')", lambda: Activation("softmx"), ValueError,
     r"\bactivation\b.*'softmx'", VALID_ACTIVATIONS),
    ("kernel_initializer", lambda: Dense(4, kernel_initializer="glorot"), ValueError,
     r"\bkernel_initializer\b.*'glorot'", VALID_INITIALIZERS),
    ("bias_initializer", lambda: Dense(4, bias_initializer="zero"), ValueError,
     r"\bbias_initializer\b.*'zero'", VALID_INITIALIZERS),
    ("use_bias='yes'", lambda: Dense(4, use_bias="yes"), TypeError, r"^use_bias\b.*'yes'", ()),
    ("Dropout(1.0)", lambda: Dropout(1.0), ValueError, r"^rate\b.*\[0, 1\).*\b1\.0\b", ()),
    ("Dropout(-0.1)", lambda: Dropout(-0.1), ValueError, r"^rate\b.*-0\.1\b", ()),
    ("Dropout(1.5)", lambda: Dropout(1.5), ValueError, r"^rate\b.*\b1\.5\b", ()),
    ("Dropout(nan)", lambda: Dropout(float("nan")), ValueError, r"^rate\b.*nan", ()),
    ("Dropout('0.5')", lambda: Dropout("0.5"), TypeError, r"^rate\b.*'0\.5'", ()),
    ("Dropout mode", lambda: Dropout(0.5, mode="classic"), ValueError, r"\bmode\b.*'classic'",
     ("inverted", "scale_at_inference")),
    ("BN momentum=1.5", lambda: BatchNormalization(momentum=1.5), ValueError,
     r"^momentum\b.*\b1\.5\b", ()),
    ("BN momentum=-0.1", lambda: BatchNormalization(momentum=-0.1), ValueError,
     r"^momentum\b.*-0\.1\b", ()),
    ("BN epsilon=0", lambda: BatchNormalization(epsilon=0), ValueError, r"^epsilon\b.*\b0", ()),
    ("BN center='no'", lambda: BatchNormalization(center="no"), TypeError, r"^center\b", ()),
    ("Residual(5)", lambda: Residual(5), TypeError, r"Residual\b.*\bint\b", ()),
    ("Residual([])", lambda: Residual([]), TypeError, r"Residual\b.*\blist\b", ()),
    ("input_shape (28, 0)", lambda: Flatten(input_shape=(28, 0)), ValueError,
     r"^input_shape\b.*\b0\b", ()),
    ("input_shape (28, -1)", lambda: Flatten(input_shape=(28, -1)), ValueError,
     r"^input_shape\b.*-1\b", ()),
    ("input_shape (28, 2.5)", lambda: Flatten(input_shape=(28, 2.5)), TypeError,
     r"^input_shape\b.*2\.5", ()),
    ("input_shape '28x28'", lambda: Flatten(input_shape="28x28"), (ValueError, TypeError),
     r"^input_shape\b.*'28x28'", ()),
    ("name=5", lambda: Dense(4, name=5), TypeError, r"^name\b.*\bint\b", ()),
    ("Sequential dtype float16", lambda: Sequential([], dtype="float16"), TypeError,
     r"^dtype\b.*float16", ()),
    ("Sequential seed -1", lambda: Sequential([], seed=-1), ValueError, r"^seed\b.*-1\b", ()),
    ("Sequential seed 1.5", lambda: Sequential([], seed=1.5), TypeError, r"^seed\b.*1\.5", ()),
    ("Sequential([5])", lambda: Sequential([5]), TypeError, r"\blayers?\b.*\bint\b", ()),
    ("Sequential([Dense])", lambda: Sequential([Dense]), TypeError, r"\blayers?\b.*\btype\b", ()),
    ("Sequential(Dense(3))", lambda: Sequential(Dense(3)), TypeError,
     r"\blayers\b.*\b(Dense|list)\b", ()),
    ("Dense on (28, 28) without Flatten", lambda: Sequential([Dense(4, input_shape=(28, 28))]),
     ValueError, r"\(28, 28\).*Flatten", ()),
    ("Residual block changes the shape",
     lambda: Sequential([Flatten(input_shape=(4,)), Residual(Dense(3))]), ValueError,
     r"Residual\b.*\(4,\).*\(3,\)", ()),
]


@pytest.mark.parametrize("make, exc, pattern, valid", [
    pytest.param(*row[1:], id=row[0]) for row in LAYER_ROWS])
def test_layer_and_model_construction_refuses_bad_arguments(make, exc, pattern, valid):
    with pytest.raises(exc) as info:
        make()
    message = str(info.value)
    assert re.search(pattern, message), f"message {message!r} does not match {pattern!r}"
    assert_lists(message, valid)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_after_two_d_samples_fails_at_the_first_fit_and_leaves_the_model_buildable(dtype):
    model = Sequential([Dense(8, activation="relu"), Dense(K, activation="softmax")], seed=0,
                       dtype=dtype)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match=r"\(28, 28\).*Flatten"):
        model.fit(X, ONE_HOT, verbose=0)
    twin = Sequential([Dense(8, activation="relu"), Dense(K, activation="softmax")], seed=0,
                      dtype=dtype)
    twin.compile(loss="categorical_crossentropy", optimizer="adam")
    flat = X.reshape(N, -1)
    model.fit(flat, ONE_HOT, batch_size=4, verbose=0)
    twin.fit(flat, ONE_HOT, batch_size=4, verbose=0)
    assert_same_arrays(twin.get_weights(), model.get_weights())


def test_residual_block_that_changes_the_shape_fails_at_the_first_fit():
    model = Sequential([Flatten(), Residual([Dense(5, activation="tanh")])], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"Residual\b.*\(4,\).*\(5,\)"):
        model.fit(np.ones((3, 4)), np.ones((3, 4)), verbose=0)


def test_a_layer_of_a_built_model_cannot_join_another_model():
    first = Sequential(layers_for(), seed=0)
    with pytest.raises(ValueError, match=r"already belongs|another model"):
        Sequential([Flatten(input_shape=(4,)), first.layers[1]])
    model = make_model("float32")
    refused(model, lambda: model.add(first.layers[-1]), ValueError,
            r"already belongs|another model")


def test_a_layer_of_an_unbuilt_model_cannot_join_another_model():
    """Two models sharing one Dense would overwrite each other's weights at build."""
    shared = Dense(4)
    Sequential([Flatten(), shared])
    with pytest.raises(ValueError, match=r"already belongs|another model"):
        Sequential([Flatten(), shared])


def test_the_same_layer_twice_in_one_model_is_refused():
    shared = Dense(4, activation="tanh")
    with pytest.raises(ValueError, match=r"already belongs|twice|another model"):
        Sequential([Flatten(), shared, shared])


@pytest.mark.parametrize("bad", [5, "dense", Dense, None])
def test_add_refuses_what_is_not_a_layer(bad):
    model = make_model("float32")
    refused(model, lambda: model.add(bad), TypeError, r"\blayers?\b.*\bgot\b")


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_failed_add_leaves_the_model_as_it_was(dtype):
    """add() on a built model builds the new layer; when that fails the layer must not stay
    in the model (a model with an unbuilt layer inside cannot predict any more)."""
    model = make_model(dtype)
    expected = model.predict(X)
    refused(model, lambda: model.add(Residual(Dense(7))), ValueError, r"Residual\b.*\(3,\).*\(7,\)")
    assert len(model.layers) == 5
    assert np.array_equal(model.predict(X), expected)


# =======================================================================================
# set_weights
# =======================================================================================

def _entry(index, make):
    def bad(weights):
        weights = list(weights)
        weights[index] = make(weights[index])
        return weights
    return bad


# the weights: kernel, bias, gamma, beta, moving_mean, moving_variance, kernel, bias
LAST = 7

SET_WEIGHTS_LIST = [
    ("one fewer", lambda ws: ws[:-1], ValueError, r"^weights\b.*\b8\b.*\b7\b"),
    ("one more", lambda ws: ws + [ws[-1]], ValueError, r"^weights\b.*\b8\b.*\b9\b"),
    ("empty list", lambda ws: [], ValueError, r"^weights\b.*\b8\b.*\b0\b"),
    ("None", lambda ws: None, (TypeError, ValueError), r"^weights\b.*None"),
    ("a dict", lambda ws: {str(i): w for i, w in enumerate(ws)}, (TypeError, ValueError),
     r"^weights\b.*dict"),
    ("one array", lambda ws: ws[0], (TypeError, ValueError), r"^weights\b.*ndarray"),
]

SET_WEIGHTS_ENTRY = [
    ("transposed kernel", 0, lambda w: w.T, ValueError, r"\(784, 8\).*\(8, 784\)"),
    ("transposed kernel", 6, lambda w: w.T, ValueError, r"\(8, 3\).*\(3, 8\)"),
    ("bias too long", LAST, lambda w: np.append(w, 0), ValueError, r"\(3,\).*\(4,\)"),
    ("bias as a column", LAST, lambda w: w[:, None], ValueError, r"\(3,\).*\(3, 1\)"),
    ("scalar", LAST, lambda w: 0.5, ValueError, r"\(3,\).*\(\)"),
    ("NaN", 0, put(np.nan, (2, 3)), ValueError, r"must be finite.*\bnan\b"),
    ("NaN", LAST, put(np.nan, (1,)), ValueError, r"must be finite.*\bnan\b"),
    ("+inf", LAST, put(np.inf, (1,)), ValueError, r"must be finite.*\binf\b"),
    ("-inf", 5, put(-np.inf, (1,)), ValueError, r"must be finite.*-inf\b"),
    ("strings", LAST, lambda w: w.astype(str), TypeError, r"(number|str)"),
    ("a str", LAST, lambda w: "weights.npz", TypeError, r"\bstr\b"),
    ("None", LAST, lambda w: None, TypeError, r""),
    ("object array", LAST, lambda w: w.astype(object), TypeError, r"\bobject\b"),
    ("complex", LAST, lambda w: w.astype(np.complex64), TypeError, r"\bcomplex"),
    ("ragged", LAST, lambda w: [[1.0], [1.0, 2.0], 3.0], (ValueError, TypeError), r""),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make, exc, pattern", [
    pytest.param(*row[1:], id=row[0]) for row in SET_WEIGHTS_LIST])
def test_set_weights_refuses_a_bad_list(dtype, make, exc, pattern):
    model = make_model(dtype)
    bad = make(model.get_weights())
    refused(model, lambda: model.set_weights(bad), exc, pattern)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index, make, exc, pattern", [
    pytest.param(*row[1:], id=f"{row[0]}-weights[{row[1]}]") for row in SET_WEIGHTS_ENTRY])
def test_set_weights_refuses_a_bad_array_names_it_and_writes_nothing(dtype, index, make, exc,
                                                                     pattern):
    """The bad array is checked before any is written: with it last, a partial write of the
    first seven would show."""
    model = make_model(dtype)
    name = model.weight_names()[index]
    bad = _entry(index, make)([w + 1 for w in model.get_weights()])
    refused(model, lambda: model.set_weights(bad), exc,
            rf"^({re.escape(name)}|weights\[{index}\])\b.*{pattern}")


@pytest.mark.parametrize("dtype", DTYPES)
def test_set_weights_accepts_other_dtypes_and_lists(dtype):
    model = make_model(dtype)
    target = [np.round(w.astype(np.float64) * 4) / 4 for w in model.get_weights()]
    for weights in ([w.astype(np.float64) for w in target],
                    [w.astype(np.float32) for w in target],
                    [w.tolist() for w in target],
                    tuple(np.asfortranarray(w) for w in target)):
        model.set_weights(weights)
        for w, t in zip(model.get_weights(), target):
            assert w.dtype == np.dtype(dtype)
            assert np.array_equal(w, t)


# =======================================================================================
# load_model
# =======================================================================================

def saved(tmp_path):
    """A warm model saved to tmp_path; its arrays and its parsed config."""
    model = make_model("float32")
    path = tmp_path / "good.npz"
    model.save(path)
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    return model, path, arrays, json.loads(str(arrays["config_json"]))


def _with_config(edit):
    def make(tmp_path, arrays, config):
        config = json.loads(json.dumps(config))
        edit(config)
        return _write(tmp_path, {**arrays, "config_json": np.array(json.dumps(config))})
    return make


def _with_arrays(edit):
    def make(tmp_path, arrays, config):
        arrays = dict(arrays)
        edit(arrays)
        return _write(tmp_path, arrays)
    return make


def _write(tmp_path, arrays):
    path = tmp_path / "model.npz"
    np.savez(path, **arrays)
    return path


def _file(content):
    def make(tmp_path, arrays, config):
        path = tmp_path / "model.npz"
        path.write_bytes(content(tmp_path) if callable(content) else content)
        return path
    return make


def _plain_npy(tmp_path, arrays, config):
    path = tmp_path / "model.npy"
    np.save(path, np.arange(5.0))
    return path


def _truncated(tmp_path, arrays, config):
    good = _write(tmp_path, arrays).read_bytes()
    path = tmp_path / "truncated.npz"
    path.write_bytes(good[:len(good) // 2])
    return path


def _garbage_member(tmp_path, arrays, config):
    path = tmp_path / "model.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config_json.npy", b"\x93NUMPY garbage")
    return path


def _set(keys, value):
    def edit(config):
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return edit


def _drop(keys):
    def edit(config):
        node = config
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return edit


LOAD_ROWS = [
    ("missing file", lambda tmp_path, arrays, config: tmp_path / "missing.npz", None),
    ("a directory", lambda tmp_path, arrays, config: tmp_path, None),
    ("a text file", _file(b"not a model\n"), None),
    ("an empty file", _file(b""), None),
    ("a truncated npz", _truncated, None),
    ("a plain .npy", _plain_npy, None),
    ("a garbage member", _garbage_member, None),
    ("no config", _with_arrays(lambda a: a.pop("config_json")), r"config"),
    ("malformed JSON", _with_arrays(lambda a: a.update(config_json=np.array("{not json"))),
     r"JSON"),
    ("config is a list", _with_arrays(lambda a: a.update(config_json=np.array("[1, 2]"))), None),
    ("config is numbers", _with_arrays(lambda a: a.update(config_json=np.arange(3))), None),
    ("not a refnn file", _with_config(_set(["format"], "keras")), None),
    ("format version 99", _with_config(_set(["version"], 99)), r"\b99\b"),
    ("no model section", _with_config(_drop(["model"])), r"model"),
    ("layers not a list", _with_config(_set(["model", "layers"], "Dense")), None),
    ("unknown layer class", _with_config(_set(["model", "layers", 1, "class_name"], "Conv2D")),
     r"Conv2D"),
    ("layer config a string", _with_config(_set(["model", "layers", 1, "config"], "units=8")),
     None),
    ("unknown layer argument", _with_config(_set(["model", "layers", 1, "config", "filters"], 3)),
     r"filters"),
    ("units a string", _with_config(_set(["model", "layers", 1, "config", "units"], "8")),
     r"units"),
    ("units 0", _with_config(_set(["model", "layers", 1, "config", "units"], 0)), r"units"),
    ("units 10**15", _with_config(_set(["model", "layers", 1, "config", "units"], 10 ** 15)),
     None),
    ("unknown activation",
     _with_config(_set(["model", "layers", 1, "config", "activation"], "softmx")), r"softmx"),
    ("dtype float16", _with_config(_set(["model", "dtype"], "float16")), r"float16"),
    ("unknown loss", _with_config(_set(["compile", "loss", "name"], "hinge")), r"hinge"),
    ("unknown optimizer", _with_config(_set(["compile", "optimizer", "name"], "adadelta")),
     r"adadelta"),
    ("unknown metric", _with_config(_set(["compile", "metrics"], ["acuracy"])), r"acuracy"),
    ("bad random state", _with_config(_set(["rng", "shuffle"], {"bit_generator": "MT19937"})),
     None),
    ("kernel of the wrong shape",
     _with_arrays(lambda a: a.update(weight_0=np.zeros((3, 3), np.float32))), r"\(3, 3\)"),
    ("input_shape that does not fit the weights",
     _with_config(_set(["model", "layers", 0, "config", "input_shape"], [28, 27])), r"shape"),
    ("NaN weights", _with_arrays(lambda a: a.update(weight_1=np.full(8, np.nan, np.float32))),
     r"finite|nan"),
    ("string weights", _with_arrays(lambda a: a.update(weight_1=np.array(["w"] * 8))), None),
    ("a weight missing", _with_arrays(lambda a: a.pop("weight_3")), r"weight"),
    ("optimizer state of the wrong shape",
     _with_arrays(lambda a: a.update(optimizer_1=np.zeros((2, 2), np.float32))), r"\(2, 2\)"),
    ("optimizer state missing", _with_arrays(lambda a: a.pop("optimizer_1")), r"optimizer"),
]


@pytest.mark.parametrize("make, extra", [pytest.param(*row[1:], id=row[0]) for row in LOAD_ROWS])
def test_load_model_refuses_a_bad_file_naming_it(tmp_path, make, extra):
    _, _, arrays, config = saved(tmp_path)
    path = make(tmp_path, arrays, config)
    with pytest.raises(ValueError) as info:
        load_model(path)
    message = str(info.value)
    assert path.name in message, f"the message does not name the file: {message!r}"
    if extra:
        assert re.search(extra, message), f"message {message!r} does not match {extra!r}"


@pytest.mark.parametrize("path", [None, 3, ["model.npz"]])
def test_load_model_refuses_a_path_that_is_not_one(path):
    with pytest.raises(TypeError, match=r"\bpath\b"):
        load_model(path)


def test_load_model_takes_the_good_file(tmp_path):
    model, path, _, _ = saved(tmp_path)
    loaded = load_model(path)
    assert np.array_equal(loaded.predict(X), model.predict(X))
    for a, b in zip(loaded.optimizer.get_state(), model.optimizer.get_state()):
        assert np.array_equal(a, b)


class _Payload:
    """Unpickling this object calls open(marker, "w"): the marker file proves code ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("where", ["weight_0", "config_json", "optimizer_1", "extra"])
def test_load_model_refuses_a_pickle_without_unpickling_it(tmp_path, where):
    _, _, arrays, _ = saved(tmp_path)
    marker = tmp_path / "code_ran"
    payload = np.array([_Payload(marker)], dtype=object)
    path = tmp_path / "evil.npz"
    np.savez(path, **{**arrays, where: payload})        # np.savez pickles object arrays
    # the payload is live: unpickling it does create the marker (in another place)
    live = tmp_path / "control"
    live.mkdir()
    control = tmp_path / "control.npz"
    np.savez(control, payload=np.array([_Payload(live / "code_ran")], dtype=object))
    with np.load(control, allow_pickle=True) as data:
        data["payload"][0].close()
    assert (live / "code_ran").exists()

    with pytest.raises(ValueError) as info:
        load_model(path)
    assert path.name in str(info.value)
    assert not marker.exists(), "load_model unpickled the file: its code ran"


def test_load_model_refuses_a_pickle_file_without_unpickling_it(tmp_path):
    import pickle
    marker = tmp_path / "code_ran"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(ValueError) as info:
        load_model(path)
    assert path.name in str(info.value)
    assert not marker.exists(), "load_model unpickled the file: its code ran"


# =======================================================================================
# what must be accepted: integer/bool data, any layout, integer labels
# =======================================================================================

IMAGES = (_rng.random((N,) + INPUT_SHAPE) * 256).astype(np.uint8)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["uint8", "int64", "int8", "bool", "float16"])
def test_integer_bool_and_half_x_give_the_float_result(dtype, kind):
    data = IMAGES.astype(kind) if kind != "bool" else IMAGES > 127
    as_float = data.astype(np.float64)
    model, twin = make_model(dtype), make_model(dtype)
    assert np.array_equal(model.predict(data), model.predict(as_float))
    assert model.evaluate(data, ONE_HOT, verbose=0) == model.evaluate(as_float, ONE_HOT, verbose=0)
    loss_a, grads_a = model.loss_and_gradients(data, ONE_HOT)
    loss_b, grads_b = model.loss_and_gradients(as_float, ONE_HOT)
    assert loss_a == loss_b
    assert all(np.array_equal(a, b) for a, b in zip(grads_a, grads_b))
    model.fit(data, ONE_HOT, batch_size=4, epochs=2, verbose=0,
              validation_data=(data, ONE_HOT))
    twin.fit(as_float, ONE_HOT, batch_size=4, epochs=2, verbose=0,
             validation_data=(as_float, ONE_HOT))
    assert_same_arrays(twin.get_weights(), model.get_weights())


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("layout", ["fortran", "reversed", "strided", "read-only", "list"])
def test_any_layout_of_x_gives_the_same_result(dtype, layout):
    model = make_model(dtype)
    expected = model.predict(X)
    if layout == "fortran":
        x = np.asfortranarray(X)
    elif layout == "reversed":
        x = X[::-1][::-1]
    elif layout == "strided":
        x = np.repeat(X, 2, axis=2)[:, :, ::2]
    elif layout == "read-only":
        x = X.copy()
        x.flags.writeable = False
    else:
        x = X.tolist()
    assert np.array_equal(model.predict(x), expected)
    loss, _ = model.loss_and_gradients(x, ONE_HOT)
    assert loss == model.loss_and_gradients(X, ONE_HOT)[0]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("labels", [
    pytest.param(LABELS.astype(np.int64), id="int64 (n,)"),
    pytest.param(LABELS.astype(np.int32), id="int32 (n,)"),
    pytest.param(LABELS.astype(np.uint8), id="uint8 (n,)"),
    pytest.param(LABELS.astype(np.int64)[:, None], id="int64 (n, 1)"),
    pytest.param(LABELS.astype(np.float32), id="float32 (n,)"),
    pytest.param(LABELS.tolist(), id="list"),
])
def test_integer_class_labels_are_taken_by_the_sparse_loss(dtype, labels):
    loss = "sparse_categorical_crossentropy"
    model, twin = make_model(dtype, loss), make_model(dtype, loss)
    reference = LABELS.astype(np.float64)
    la, ga = model.loss_and_gradients(X, labels)
    lb, gb = model.loss_and_gradients(X, reference)
    assert la == lb and all(np.array_equal(a, b) for a, b in zip(ga, gb))
    assert model.evaluate(X, labels, verbose=0) == model.evaluate(X, reference, verbose=0)
    model.fit(X, labels, batch_size=4, epochs=2, verbose=0)
    twin.fit(X, reference, batch_size=4, epochs=2, verbose=0)
    assert_same_arrays(twin.get_weights(), model.get_weights())


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "binary_crossentropy"])
@pytest.mark.parametrize("kind", ["int64", "uint8", "bool"])
def test_integer_and_bool_one_hot_targets_give_the_float_result(loss, kind):
    y = TARGETS[loss].astype(kind)
    model = make_model("float64", loss)
    la, ga = model.loss_and_gradients(X, y)
    lb, gb = model.loss_and_gradients(X, TARGETS[loss])
    assert la == lb and all(np.array_equal(a, b) for a, b in zip(ga, gb))


def test_build_takes_keras_spelling_with_the_batch_axis_and_refuses_bad_shapes_by_name():
    """Keras builds with the batch axis first, model.build((None, 784)); refnn's build takes
    the per-sample shape. Both mean the same model; a bad shape is refused naming it (it was a
    raw TypeError from int(None), and (2.5,) was silently truncated to (2,))."""
    a, b = (Sequential([Dense(3)], seed=0) for _ in range(2))
    a.build((None, 4))
    b.build((4,))
    assert a.input_shape == b.input_shape == (4,)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    for bad, error in [((None,), TypeError), ((2.5,), TypeError), ((0,), ValueError),
                       (("a",), TypeError), ((4, None), TypeError), ((), ValueError)]:
        m = Sequential([Dense(3)], seed=0)
        with pytest.raises(error, match="input_shape"):
            m.build(bad)
        assert not m.built


def test_add_to_a_compiled_model_keeps_it_usable_and_a_refused_add_changes_nothing():
    """add() on a compiled model raised (the optimizer was built for the old weights) but left
    the layer appended, and every later fit failed. Now an optimizer that has not stepped is
    replaced by a fresh one of its configuration; one with state refuses, and the model is
    exactly as before."""
    x = np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 1] * 4]
    m = Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")], seed=0)
    m.compile("categorical_crossentropy", optimizer="adam")
    m.add(Dense(2, activation="softmax"))                   # not trained yet: fine
    assert len(m.layers) == 3 and m.output_shape == (2,)
    m.fit(x, y, epochs=1, batch_size=4, verbose=0)
    before = m.get_weights()
    state = [np.array(s) for s in m.optimizer.get_state()]
    with pytest.raises(ValueError, match="was built for weights"):
        m.add(Dense(2, activation="softmax"))
    assert len(m.layers) == 3 and m.output_shape == (2,)
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(m.optimizer.get_state(), state):
        np.testing.assert_array_equal(a, b)
    m.fit(x, y, epochs=1, batch_size=4, verbose=0)             # and it still trains
    assert m.optimizer.iterations == 4


def test_an_optimizer_compiled_into_one_model_is_refused_by_another():
    """m2.compile(loss, optimizer=m1.optimizer) silently shared one set of slots between two
    models of the same shapes."""
    m1, m2 = (Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")], seed=s)
              for s in (0, 1))
    m1.compile("categorical_crossentropy", optimizer="adam")
    with pytest.raises(ValueError, match="this Adam belongs to another model"):
        m2.compile("categorical_crossentropy", optimizer=m1.optimizer)
    assert not m2.compiled
    m1.compile("mse", optimizer=m1.optimizer)              # its own model may recompile with it
    m2.compile("categorical_crossentropy", optimizer=SGD())
    assert m1.optimizer is not m2.optimizer


def test_flatten_counts_its_size_exactly():
    """np.prod wrapped around: input_shape (3, 6148914691236517206) gave 2 features."""
    with pytest.raises(ValueError, match="Flatten: input_shape .* more than an array can index"):
        Sequential([Flatten(input_shape=(3, 6148914691236517206)), Dense(2)])
    m = Sequential([Flatten(input_shape=(3, 5, 7)), Dense(2)])
    assert m.layers[0].output_shape == (105,)
