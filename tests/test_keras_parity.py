"""Where refnn says it behaves as Keras 3, it does: each case here is Keras 3's behaviour,
worked out from its source (keras/src/callbacks/early_stopping.py, keras/src/trainers/
data_adapters/data_adapter_utils.py, keras/src/trainers/trainer.py, keras/src/losses/losses.py,
keras/src/metrics/accuracy_metrics.py, keras/src/utils/numerical_utils.py) or copied from its
tests, named at each case."""
import math

import numpy as np
import pytest

import refnn
from refnn.callbacks import Callback, EarlyStopping
from refnn.layers import Dense


class Weights:
    """A stand-in model: its one weight says which epoch it is from."""

    def __init__(self):
        self.w, self.stop_training = -1, False

    def get_weights(self):
        return [np.array(self.w)]

    def set_weights(self, weights):
        self.w = int(weights[0])


def run(callback, values):
    """The monitored values epoch by epoch: (epochs run, the weights training ends with)."""
    model = Weights()
    callback.set_model(model)
    callback.on_train_begin()
    for epoch, value in enumerate(values):
        model.w = epoch
        callback.on_epoch_end(epoch, {"val_loss": value})
        if model.stop_training:
            break
    callback.on_train_end()
    return epoch + 1, model.w


def test_early_stopping_never_stops_on_an_epoch_that_improved_even_short_of_the_baseline():
    """Keras 3: `best` starts at +inf, not at the baseline; the baseline only decides whether
    the wait counter restarts. Every epoch improves here: training runs to the end (refnn
    started `best` at the baseline and stopped after epoch 2)."""
    stop = EarlyStopping(patience=2, baseline=0.1)
    assert run(stop, [0.5, 0.4, 0.3, 0.2]) == (4, 3)
    assert stop.best == 0.2 and stop.stopped_epoch == 0


def test_early_stopping_with_a_baseline_never_reached_stops_after_patience_epochs():
    """Keras 3's docstring: if no epoch improves on `baseline`, training runs for `patience`
    epochs and restores the best weights of that set."""
    stop = EarlyStopping(patience=2, baseline=0.1, restore_best_weights=True)
    assert run(stop, [0.5, 0.4, 0.45, 0.6, 0.2]) == (3, 1)    # stopped after epoch 3, best 2


def test_restore_best_weights_also_when_fit_runs_all_its_epochs():
    """Keras 3 restores in on_train_end whether or not it stopped training (refnn restored
    only when it stopped it)."""
    stop = EarlyStopping(patience=5, restore_best_weights=True)
    assert run(stop, [0.5, 0.3, 0.4, 0.35]) == (4, 1)
    assert stop.stopped_epoch == 0


def test_the_first_monitored_epoch_is_the_best_so_far():
    """Keras 3 keeps the first monitored epoch's weights even when nothing improves (NaN)."""
    stop = EarlyStopping(patience=1, restore_best_weights=True, start_from_epoch=1)
    assert run(stop, [math.nan, math.nan, math.nan, math.nan]) == (2, 1)


def test_early_stopping_in_fit_ends_on_the_best_epoch():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(40, 1))
    model = refnn.Sequential([Dense(4, activation="tanh", input_shape=(3,)), Dense(1)], seed=0)
    model.compile("mse", optimizer=refnn.optimizers.SGD(learning_rate=0.05))

    class Keep(Callback):
        weights = []

        def on_epoch_end(self, epoch, logs=None):
            self.weights.append(self.model.get_weights())

    history = model.fit(x, y, epochs=6, verbose=0, validation_split=0.25,
                        callbacks=[Keep(), EarlyStopping(patience=10,
                                                         restore_best_weights=True)])
    best = int(np.argmin(history.history["val_loss"]))
    for a, b in zip(model.get_weights(), Keep.weights[best]):
        np.testing.assert_array_equal(a, b)


def small(seed=0):
    model = refnn.Sequential([Dense(3, activation="tanh", input_shape=(2,)), Dense(1)],
                             seed=seed)
    model.compile("mse", optimizer=refnn.optimizers.SGD(learning_rate=0.1))
    return model


def test_validation_split_holds_out_what_keras_does():
    """Keras 3 (data_adapter_utils.train_validation_split): split_at = floor(n (1 - split));
    10 samples with 0.25 -> 3 for validation (refnn took floor(n split) = 2)."""
    x, y = np.arange(20.0).reshape(10, 2), np.arange(10.0).reshape(10, 1)
    seen = {}

    class Sizes(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen["val"] = logs["val_loss"]

    model = small()
    model.fit(x, y, epochs=1, batch_size=10, validation_split=0.25, verbose=0,
              callbacks=[Sizes()], shuffle=False)
    held = small()
    held.set_weights(model.get_weights())
    assert seen["val"] == pytest.approx(held.evaluate(x[7:], y[7:], verbose=0), rel=1e-6)
    oracle = small()
    oracle.fit(x[:7], y[:7], epochs=1, batch_size=10, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), oracle.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_epochs_is_the_index_of_the_last_epoch():
    """Keras 3: fit(epochs=3, initial_epoch=1) runs epochs 1 and 2 (refnn ran three more)."""
    x, y = np.ones((4, 2)), np.ones((4, 1))
    model = small()
    history = model.fit(x, y, epochs=3, initial_epoch=1, verbose=0)
    assert history.epoch == [1, 2] and model.optimizer.iterations == 2
    assert small().fit(x, y, epochs=2, initial_epoch=2, verbose=0).epoch == []


def test_acc_with_binary_crossentropy_on_several_outputs_is_categorical_accuracy():
    """Keras 3 (compile_utils.get_metric) chooses the accuracy by the shapes: a multi-label
    model with 3 sigmoid outputs gets categorical accuracy (tf.keras 2, and refnn before,
    chose binary accuracy from the loss)."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(30, 4)), (rng.random((30, 3)) > 0.5).astype(float)
    model = refnn.Sequential([Dense(3, activation="sigmoid", input_shape=(4,))], seed=0)
    model.compile("binary_crossentropy", optimizer="sgd", metrics=["acc"])
    _, acc = model.evaluate(x, y, verbose=0)
    yhat = model.predict(x)
    assert acc == pytest.approx(np.mean(np.argmax(yhat, 1) == np.argmax(y, 1)), abs=1e-12)


def test_binary_accuracy_the_function_is_element_wise_and_to_categorical_is_float64():
    """Keras 3: metrics.binary_accuracy returns the matches, shape (n, k); to_categorical on
    NumPy input returns float64 (numerical_utils: np.zeros((batch_size, num_classes)))."""
    from refnn.metrics import binary_accuracy
    from refnn.utils import to_categorical
    assert binary_accuracy([[1, 0], [0, 0]], [[0.9, 0.8], [0.1, 0.2]]).tolist() == \
        [[1.0, 0.0], [1.0, 1.0]]
    assert to_categorical([0, 2]).dtype == np.float64


def test_binary_crossentropy_clips_in_the_predictions_dtype():
    """Keras 3's own test (losses_test.py, BinaryCrossentropyTest.test_unweighted): targets
    [[1, 0], [1, 0]], float32 predictions [[1, 1], [1, 0]] -> 3.98559; in float32 the clip's
    1 - 1e-7 is 1 - 1.19e-7, so a prediction 1.0 with target 0 costs 15.94, not 16.12."""
    bce = refnn.losses.BinaryCrossentropy()
    y, p = np.array([[1, 0], [1, 0]]), np.array([[1, 1], [1, 0]], np.float32)
    assert bce(y, p) == pytest.approx(3.98559, abs=1e-5)
    assert bce([[0.0]], np.array([[1.0]], np.float32)) == pytest.approx(15.942385, abs=1e-5)
    assert bce([[0.0]], np.array([[1.0]], np.float64)) == pytest.approx(16.118096, abs=1e-5)
    # Keras's unweighted case, float32 (0.20046903)
    y3 = np.eye(3, dtype=np.float32)
    p3 = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]], np.float32)
    assert bce(y3, p3) == pytest.approx(0.20046903, abs=1e-6)


class Recorder(Callback):
    """Every hook Keras 3 calls, in order, with the logs' keys."""

    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        if name.startswith("on_") and name not in ("on_batch_begin", "on_batch_end"):
            def record(*args, **kwargs):
                logs = args[-1] if args and isinstance(args[-1], dict) else kwargs.get("logs")
                self.calls.append((name,) + tuple(a for a in args if isinstance(a, int))
                                  + (tuple(sorted(logs)) if logs else (),))
            return record
        return super().__getattribute__(name)


def test_fit_evaluate_and_predict_call_keras_3s_hooks_in_keras_3s_order():
    """keras/src/trainers/trainer.py and the backends' fit/evaluate/predict loops: batch
    hooks around each step, the validation's on_test_* inside the epoch, logs as listed."""
    x, y = np.ones((5, 2)), np.ones((5, 1))
    model = small()
    rec = Recorder()
    model.fit(x, y, epochs=1, batch_size=3, verbose=0, validation_data=(x, y), callbacks=[rec])
    assert rec.calls == [
        ("on_train_begin", ()), ("on_epoch_begin", 0, ()),
        ("on_train_batch_begin", 0, ()), ("on_train_batch_end", 0, ("loss",)),
        ("on_train_batch_begin", 1, ()), ("on_train_batch_end", 1, ("loss",)),
        ("on_test_begin", ()), ("on_test_batch_begin", 0, ()),
        ("on_test_batch_end", 0, ("loss",)), ("on_test_end", ("loss",)),
        ("on_epoch_end", 0, ("loss", "val_loss")), ("on_train_end", ())]
    rec.calls.clear()
    assert model.evaluate(x, y, batch_size=2, verbose=0, callbacks=[rec], return_dict=True) \
        .keys() == {"loss"}
    assert [c[0] for c in rec.calls] == ["on_test_begin"] + [
        "on_test_batch_begin", "on_test_batch_end"] * 3 + ["on_test_end"]
    rec.calls.clear()
    model.predict(x, batch_size=4, callbacks=[rec])
    assert rec.calls == [("on_predict_begin", ()), ("on_predict_batch_begin", 0, ()),
                         ("on_predict_batch_end", 0, ("outputs",)),
                         ("on_predict_batch_begin", 1, ()),
                         ("on_predict_batch_end", 1, ("outputs",)), ("on_predict_end", ())]


def test_on_batch_end_still_hears_training_batches_and_summary_returns_none(capsys):
    """Keras 3's Callback.on_train_batch_end calls on_batch_end (backwards compatibility);
    model.summary() prints and returns None, so a notebook shows it once."""
    ends = []

    class Old(Callback):
        def on_batch_end(self, batch, logs=None):
            ends.append(batch)

    model = small()
    model.fit(np.ones((4, 2)), np.ones((4, 1)), batch_size=2, epochs=1, verbose=0,
              callbacks=[Old()])
    assert ends == [0, 1]
    assert model.summary() is None and "Total params: 13" in capsys.readouterr().out
    values = model.evaluate(np.ones((4, 2)), np.ones((4, 1)), verbose=0, return_dict=True)
    assert list(values) == ["loss"]


def test_verbose_auto_draws_the_live_bar_in_a_notebook(monkeypatch):
    """In a notebook stdout is no terminal, yet Keras's verbose="auto" shows its live bar
    (io_utils: an IPython kernel counts as interactive); in a log file one line per epoch."""
    import io
    import sys

    from refnn.training import verbosity
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert verbosity("auto") == 2
    monkeypatch.setitem(sys.modules, "ipykernel", object())
    assert verbosity("auto") == 1


# --------------------------------------------------------------------------- more callbacks
from refnn.callbacks import (CSVLogger, LearningRateScheduler, ModelCheckpoint,  # noqa: E402
                             ReduceLROnPlateau)


class Rate:
    """A stand-in model with an optimizer whose learning rate the callbacks move."""

    def __init__(self, lr):
        self.optimizer = type("Opt", (), {})()
        self.optimizer.learning_rate = lr
        self.stop_training = False


def test_reduce_lr_on_plateau_follows_keras_3():
    """keras/src/callbacks/reduce_lr_on_plateau.py, worked by hand: patience 2, factor 0.5,
    cooldown 1, min_lr 0.2; val_loss 1.0, then no improvement."""
    cb = ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    model = Rate(1.0)
    cb.set_model(model)
    cb.on_train_begin()
    rates = []
    for epoch, value in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        rates.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == (rates[-2] if epoch else 1.0)
    # epoch 0 best; 1, 2 wait -> halve at 2; 3 ends the cooldown and waits (Keras counts the
    # wait once the counter is back at 0); 4 -> 0.25; 5 waits; 6 -> max(0.125, min_lr 0.2)
    assert rates == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2]
    with pytest.raises(ValueError, match="does not support a factor >= 1.0"):
        ReduceLROnPlateau(factor=1.0)


def test_learning_rate_scheduler_takes_keras_schedules_and_logs_the_rate():
    """keras/src/callbacks/learning_rate_scheduler.py: schedule(epoch, lr) or schedule(epoch);
    the epoch's logs hold "learning_rate"."""
    x, y = np.ones((4, 2)), np.ones((4, 1))
    model = small()
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[
        LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)])
    assert history.history["learning_rate"] == [0.1, 0.05, 0.025]
    history = small().fit(x, y, epochs=2, verbose=0,
                          callbacks=[LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))])
    assert history.history["learning_rate"] == [0.01, 0.02]
    with pytest.raises(ValueError, match="should be a float"):
        small().fit(x, y, epochs=1, verbose=0,
                    callbacks=[LearningRateScheduler(lambda epoch, lr: "fast")])


def test_csv_logger_writes_keras_rows(tmp_path):
    """keras/src/callbacks/csv_logger.py: a header "epoch" and the sorted log keys; epochs
    0-based; append=True adds rows without a second header."""
    path = tmp_path / "log.csv"
    x, y = np.ones((8, 2)), np.ones((8, 1))
    model = small()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.25, callbacks=[CSVLogger(path)])
    model.fit(x, y, epochs=3, initial_epoch=2, verbose=0, validation_split=0.25,
              callbacks=[CSVLogger(path, append=True)])
    rows = path.read_text().splitlines()
    assert rows[0] == "epoch,loss,val_loss" and [r.split(",")[0] for r in rows[1:]] == \
        ["0", "1", "2"]


def test_model_checkpoint_keeps_the_best_and_resumes_to_the_same_weights(tmp_path):
    """save_best_only writes only when the monitored value improves; a fit stopped after
    epoch 2 and resumed from its checkpoint ends on the weights of an uninterrupted fit."""
    x = np.random.default_rng(0).normal(size=(16, 2))
    y = x.sum(axis=1, keepdims=True)
    full = small()
    full.fit(x, y, epochs=4, batch_size=4, verbose=0)
    first = small()
    path = tmp_path / "ckpt-{epoch}.npz"
    first.fit(x, y, epochs=2, batch_size=4, verbose=0, callbacks=[ModelCheckpoint(path)])
    resumed = refnn.load_model(tmp_path / "ckpt-2.npz")
    resumed.fit(x, y, epochs=4, initial_epoch=2, batch_size=4, verbose=0)
    for a, b in zip(resumed.get_weights(), full.get_weights()):
        np.testing.assert_array_equal(a, b)

    best = tmp_path / "best.weights.npz"
    saved = []

    class Seen(Callback):
        def on_epoch_end(self, epoch, logs=None):
            saved.append(best.exists() and best.stat().st_mtime_ns)

    model = small()
    model.fit(x, y, epochs=3, batch_size=4, verbose=0, validation_split=0.25, callbacks=[
        ModelCheckpoint(best, monitor="val_loss", save_best_only=True, save_weights_only=True,
                        initial_value_threshold=-1.0), Seen()])
    assert not best.exists()                        # nothing beat the threshold -1
    with pytest.raises(ValueError, match=r"must end in \.weights\.npz"):
        ModelCheckpoint(tmp_path / "w.npz", save_weights_only=True)


def test_save_weights_and_layer_weights(tmp_path):
    """Keras 3: model.save_weights / load_weights; layer.get_weights / set_weights."""
    model, other = small(0), small(1)
    model.save_weights(tmp_path / "m.weights.npz")
    other.load_weights(tmp_path / "m.weights.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    kernel, bias = model.layers[0].get_weights()
    assert kernel.shape == (2, 3) and bias.shape == (3,)
    model.layers[0].set_weights([np.zeros((2, 3)), np.ones(3)])
    assert model.layers[0].W.dtype == np.float32 and model.layers[0].b.tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match=r"weights\[0\] must have shape \(2, 3\)"):
        model.layers[0].set_weights([np.zeros((3, 3)), np.ones(3)])
    assert model.layers[0].b.tolist() == [1, 1, 1]
    wide = refnn.Sequential([Dense(5, input_shape=(2,)), Dense(1)], seed=0)
    with pytest.raises(ValueError, match="cannot load these weights"):
        wide.load_weights(tmp_path / "m.weights.npz")


def test_backup_and_restore_resumes_an_interrupted_fit_to_the_same_weights(tmp_path):
    """Keras 3's BackupAndRestore: a fit that crashed after epoch 2 is run again in a fresh
    process (here: a fresh model); it starts at epoch 2 from the backup and ends on the
    weights, optimizer state and generators of an uninterrupted fit, bit for bit."""
    from refnn.callbacks import BackupAndRestore
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 2)), rng.normal(size=(24, 1))

    def make():
        model = refnn.Sequential([Dense(4, activation="tanh", input_shape=(2,)),
                                  refnn.layers.Dropout(0.25), Dense(1)], seed=3)
        model.compile("mse", optimizer="adam")
        return model

    full = make()
    full.fit(x, y, epochs=5, batch_size=5, verbose=0)

    class Crash(Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("the machine went down")

    first = make()
    with pytest.raises(RuntimeError, match="went down"):
        first.fit(x, y, epochs=5, batch_size=5, verbose=0,
                  callbacks=[BackupAndRestore(tmp_path / "backup"), Crash()])
    epochs = []

    class Epochs(Callback):
        def on_epoch_begin(self, epoch, logs=None):
            epochs.append(epoch)

    again = make()
    again.fit(x, y, epochs=5, batch_size=5, verbose=0,
              callbacks=[BackupAndRestore(tmp_path / "backup"), Epochs()])
    assert epochs == [2, 3, 4]
    for a, b in zip(again.get_weights() + again.optimizer.get_state(),
                    full.get_weights() + full.optimizer.get_state()):
        np.testing.assert_array_equal(a, b)
    assert list((tmp_path / "backup").iterdir()) == []          # deleted when training ended


@pytest.mark.parametrize("fast", [True, False], ids=["compiled", "layers"])
@pytest.mark.parametrize("output, loss", [("softmax", "categorical_crossentropy"),
                                          ("sigmoid", "binary_crossentropy")])
def test_fit_and_evaluate_report_the_same_loss_on_the_same_data(output, loss, fast):
    """fit computes the loss from the logits (docs/keras.md); evaluate does too, so the two
    agree on the same weights and data, also where a probability is within 1e-7 of 0 or 1
    (evaluate clipped there: about 16.1 against fit's exact value)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 3)) * 30                      # saturated outputs
    y = np.eye(3)[rng.integers(0, 3, 16)]
    model = refnn.Sequential([Dense(3, activation=output, input_shape=(3,))], seed=0,
                             dtype="float64")
    model.compile(loss, optimizer=refnn.optimizers.SGD(learning_rate=1e-300))
    model.use_fast_path = fast
    reported = model.fit(x, y, epochs=1, batch_size=16, shuffle=False, verbose=0)
    clipped = refnn.losses.get(loss)(y, model.predict(x))    # from clipped probabilities
    assert abs(clipped - reported.history["loss"][0]) > 0.5
    assert model.evaluate(x, y, verbose=0) == pytest.approx(reported.history["loss"][0],
                                                            rel=1e-12)


# --------------------------------------------------------------------------- loss options
from refnn import losses as L  # noqa: E402


@pytest.mark.parametrize("loss, y, h, expected", [
    # keras/src/losses/losses_test.py, BinaryCrossentropyTest.test_unweighted (with logits)
    (L.BinaryCrossentropy(from_logits=True), [[1, 0, 1], [0, 1, 1]],
     [[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]], 3.3333),
    # ... test_label_smoothing: (10 + 5 ls) / 3
    (L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1), [[1, 0, 1]],
     [[10.0, -10.0, -10.0]], (10.0 + 5.0 * 0.1) / 3.0),
    # CategoricalCrossentropyTest.test_unweighted (with logits) and test_label_smoothing
    (L.CategoricalCrossentropy(from_logits=True), np.eye(3),
     [[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]], 0.0573),
    (L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1), [[1, 0, 0]],
     [[100.0, -100.0, -100.0]], 400.0 * 0.1 / 3.0),
    # SparseCategoricalCrossentropyTest.test_unweighted (with logits)
    (L.SparseCategoricalCrossentropy(from_logits=True), [0, 1, 2],
     [[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]], 0.0573),
])
def test_from_logits_and_label_smoothing_give_keras_3s_numbers(loss, y, h, expected):
    assert loss(y, np.array(h)) == pytest.approx(expected, abs=1e-4)


def test_label_smoothing_from_probabilities_and_its_config():
    """Keras: y (1 - s) + s/2 (binary), y (1 - s) + s/k (categorical), then the usual loss."""
    y, p = np.array([[1.0, 0.0, 0.0]]), np.array([[0.7, 0.2, 0.1]])
    smooth = L.CategoricalCrossentropy(label_smoothing=0.3)
    target = y * 0.7 + 0.1
    assert smooth(y, p) == pytest.approx(float(-(target * np.log(p)).sum()), rel=1e-12)
    b = L.BinaryCrossentropy(label_smoothing=0.2)
    t = y * 0.8 + 0.1
    assert b(y, p) == pytest.approx(float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()),
                                    rel=1e-12)
    assert L.get(smooth.get_config()) == smooth
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\], got 1.5"):
        L.CategoricalCrossentropy(label_smoothing=1.5)
    with pytest.raises(TypeError):
        L.SparseCategoricalCrossentropy(label_smoothing=0.1)    # not in Keras 3 either


# the issue's "gradcheck passes with regularisers, sample weights, label smoothing and
# from_logits on every loss they apply to": each option alone on each loss it applies to, then
# all of a loss's options at once
APPLIES = {
    "mean_squared_error": ("regularizers", "sample_weight"),
    "huber": ("regularizers", "sample_weight"),
    "binary_crossentropy": ("regularizers", "sample_weight", "label_smoothing", "from_logits"),
    "categorical_crossentropy": ("regularizers", "sample_weight", "label_smoothing",
                                 "from_logits"),
    "sparse_categorical_crossentropy": ("regularizers", "sample_weight", "from_logits"),
}
OUTPUT = {"mean_squared_error": "sigmoid", "huber": "linear", "binary_crossentropy": "sigmoid",
          "categorical_crossentropy": "softmax", "sparse_categorical_crossentropy": "softmax"}
MATRIX = ([(loss, (option,)) for loss, options in APPLIES.items() for option in options]
          + [(loss, options) for loss, options in APPLIES.items()])


@pytest.mark.parametrize("loss_name, options", MATRIX,
                         ids=[f"{l}-{'+'.join(o)}" for l, o in MATRIX])
def test_gradcheck_passes_with_every_option_on_every_loss_it_applies_to(loss_name, options):
    rng = np.random.default_rng(0)
    k, n = 3, 8
    x = rng.normal(size=(n, 3))
    labels = rng.integers(0, k, n)
    y = {"sparse_categorical_crossentropy": labels,
         "categorical_crossentropy": np.eye(k)[labels],
         "binary_crossentropy": (rng.random((n, k)) > 0.5) * 1.0}.get(
        loss_name, rng.normal(size=(n, k)) * 0.5)
    kwargs = {"from_logits": True} if "from_logits" in options else {}
    if "label_smoothing" in options:
        kwargs["label_smoothing"] = 0.2
    loss = type(L.get(loss_name))(**kwargs)
    regularized = ({"kernel_regularizer": R.L1L2(0.01, 0.03), "bias_regularizer": "l2"}
                   if "regularizers" in options else {})
    model = refnn.Sequential([
        Dense(4, activation="tanh", input_shape=(3,), **regularized),
        Dense(k, activation="linear" if "from_logits" in options else OUTPUT[loss_name],
              **regularized)], seed=0, dtype="float64")
    model.compile(loss, optimizer="sgd")
    w = rng.uniform(0.0, 3.0, n) if "sample_weight" in options else None
    if w is not None:
        w[3] = 0.0
        plain, _ = model.loss_and_gradients(x, y)
        assert model.loss_and_gradients(x, y, sample_weight=w)[0] != pytest.approx(plain)
    report = refnn.gradcheck(model, x, y, max_entries_per_tensor=None, sample_weight=w)
    assert report.ok, str(report)


def test_label_smoothing_trains_on_the_compiled_step_as_on_the_layer_path():
    """The smoothed targets go into the compiled step: equal to the layer path to 1e-12."""
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(20, 3)), np.eye(3)[rng.integers(0, 3, 20)]
    models = []
    for fast in (True, False):
        model = refnn.Sequential([Dense(5, activation="tanh", input_shape=(3,)),
                                  Dense(3, activation="softmax")], seed=0, dtype="float64")
        model.compile(L.CategoricalCrossentropy(label_smoothing=0.2), optimizer="adam")
        model.use_fast_path = fast
        models.append((model, model.fit(x, y, epochs=3, batch_size=4, verbose=0)))
    (fast, h_fast), (slow, h_slow) = models
    assert fast._fast_plan() is not None and slow._fast_plan() is None
    np.testing.assert_allclose(h_fast.history["loss"], h_slow.history["loss"], rtol=1e-12)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    plain = refnn.Sequential([Dense(5, activation="tanh", input_shape=(3,)),
                              Dense(3, activation="softmax")], seed=0, dtype="float64")
    plain.compile("categorical_crossentropy", optimizer="adam")
    plain.fit(x, y, epochs=3, batch_size=4, verbose=0)
    assert not np.allclose(plain.get_weights()[0], fast.get_weights()[0])   # it does change


# --------------------------------------------------------------------------- schedules
from refnn.optimizers import schedules as S  # noqa: E402


@pytest.mark.parametrize("schedule, step, expected", [
    # keras/src/optimizers/schedules/learning_rate_schedule_test.py
    (S.ExponentialDecay(0.1, 3, 0.5), 5, 0.1 * 0.5 ** (5 / 3)),
    (S.ExponentialDecay(0.1, 3, 0.5, staircase=True), 5, 0.1 * 0.5 ** 1),
    (S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]), 0, 1.0),
    (S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]), 100, 1.0),
    (S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]), 105, 0.1),
    (S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]), 110, 0.1),
    (S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]), 120, 0.01),
    (S.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001]), 999, 0.001),
    (S.PolynomialDecay(0.05, 10, end_learning_rate=0.0), 5, 0.05 * 0.5),     # halfway
    (S.PolynomialDecay(0.05, 10, end_learning_rate=0.001), 20, 0.001),       # past the end
    (S.PolynomialDecay(0.05, 10, end_learning_rate=0.001, cycle=True), 15,   # second cycle
     (0.05 - 0.001) * (1 - 15 / 20) + 0.001),
    (S.InverseTimeDecay(0.1, 10, 0.5), 3, 0.1 / (1 + 0.5 * 3 / 10)),
    (S.InverseTimeDecay(0.1, 10, 0.5, staircase=True), 13, 0.1 / (1 + 0.5 * 1)),
    (S.CosineDecay(0.1, 100, alpha=0.1), 30,
     0.1 * ((1 - 0.1) * 0.5 * (1 + math.cos(math.pi * 30 / 100)) + 0.1)),
    (S.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10), 5, 0.05),   # warm-up
    (S.CosineDecay(0.0, 100, warmup_target=0.1, warmup_steps=10), 60,
     0.1 * 0.5 * (1 + math.cos(math.pi * 50 / 100))),
])
def test_learning_rate_schedules_follow_keras_3s_formulas(schedule, step, expected):
    assert schedule(step) == pytest.approx(expected, rel=1e-12)
    assert S.deserialize(S.serialize(schedule))(step) == schedule(step)


@pytest.mark.parametrize("fast", [True, False], ids=["compiled", "layers"])
def test_a_schedule_drives_the_rate_of_every_step_on_both_paths(fast, tmp_path):
    """Keras: the rate of a step is schedule(iterations before it). The same training with
    the rate set by hand before each batch gives the same weights bit for bit; the compiled
    step runs it (equal to the layer path to 1e-12, float64); save and load keep it."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 3)), np.eye(2)[rng.integers(0, 2, 24)]
    schedule = S.ExponentialDecay(0.05, 2, 0.5)

    def make(rate):
        model = refnn.Sequential([Dense(4, activation="tanh", input_shape=(3,)),
                                  Dense(2, activation="softmax")], seed=0, dtype="float64")
        model.compile("categorical_crossentropy", refnn.optimizers.Adam(learning_rate=rate))
        model.use_fast_path = fast
        return model

    scheduled = make(schedule)
    assert (scheduled._fast_plan() is not None) == fast
    scheduled.fit(x, y, epochs=2, batch_size=6, verbose=0)

    class ByHand(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.model.optimizer.learning_rate = schedule(self.model.optimizer.iterations)

    by_hand = make(0.05)
    by_hand.fit(x, y, epochs=2, batch_size=6, verbose=0, callbacks=[ByHand()])
    for a, b in zip(scheduled.get_weights(), by_hand.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert scheduled.optimizer.learning_rate == schedule(8)
    with pytest.raises(TypeError, match="not settable"):
        scheduled.optimizer.learning_rate = 0.1
    config = scheduled.optimizer.get_config()
    assert config["learning_rate"] == {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5, "staircase": False}}
    assert refnn.optimizers.Adam.from_config(config).learning_rate == 0.05   # iterations 0
    scheduled.save(tmp_path / "m.npz")
    assert refnn.load_model(tmp_path / "m.npz").optimizer.learning_rate == schedule(8)


# --------------------------------------------------------------------------- regularizers
from refnn import regularizers as R  # noqa: E402


def test_regularizers_follow_keras_3():
    """keras/src/regularizers/regularizers.py: L1 l1 sum|w|, L2 l2 sum w^2 (no 1/2), defaults
    0.01; by name "l1", "l2", "l1_l2" (defaults 0.0 for both in L1L2)."""
    w = np.array([[1.0, -2.0], [0.5, 0.0]])
    assert R.L1(0.1)(w) == pytest.approx(0.1 * 3.5, rel=1e-15)
    assert R.L2(0.1)(w) == pytest.approx(0.1 * 5.25, rel=1e-15)
    assert R.get("l2") == R.L2(0.01) and R.get("l1_l2") == R.L1L2(0.0, 0.0)
    np.testing.assert_array_equal(R.L1L2(0.1, 0.2).gradient(w), 0.1 * np.sign(w) + 0.4 * w)


def test_a_regularized_model_reports_the_penalty_and_gradcheck_covers_it(tmp_path):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(8, 3)), np.eye(2)[rng.integers(0, 2, 8)]
    model = refnn.Sequential([Dense(4, activation="tanh", input_shape=(3,),
                                    kernel_regularizer=R.L2(0.05), bias_regularizer="l1"),
                              Dense(2, activation="softmax", kernel_regularizer=R.L1(0.02))],
                             seed=0, dtype="float64")
    model.compile("categorical_crossentropy", optimizer="sgd")
    assert model._fast_plan() is None                  # the layer-by-layer step
    assert refnn.gradcheck(model, x, y, max_entries_per_tensor=None).ok
    W1, b1, W2, _ = model.get_weights()
    penalty = 0.05 * np.sum(W1 ** 2) + 0.01 * np.sum(np.abs(b1)) + 0.02 * np.sum(np.abs(W2))
    plain = refnn.losses.CategoricalCrossentropy()(y, model.predict(x))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(plain + penalty, rel=1e-9)
    history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    assert history.history["loss"][0] == pytest.approx(plain + penalty, rel=1e-9)
    model.save(tmp_path / "m.npz")
    loaded = refnn.load_model(tmp_path / "m.npz")
    assert loaded.layers[0].kernel_regularizer == R.L2(0.05)
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


# --------------------------------------------------------------------------- clipping, decay
def test_gradient_clipping_as_keras_3():
    """keras/src/optimizers/optimizer_test.py: clipnorm=1 on [100, 100] -> [0.707, 0.707];
    clipvalue=1 -> [1, 1]; global_clipnorm scales all gradients by one factor."""
    g = [np.array([100.0, 100.0])]
    np.testing.assert_allclose(refnn.optimizers.SGD(clipnorm=1)._clip(g)[0],
                               [2 ** 0.5 / 2, 2 ** 0.5 / 2], rtol=1e-12)
    np.testing.assert_array_equal(refnn.optimizers.SGD(clipvalue=1)._clip(g)[0], [1.0, 1.0])
    two = [np.array([3.0]), np.array([4.0])]                       # global norm 5
    clipped = refnn.optimizers.SGD(global_clipnorm=1)._clip(two)
    np.testing.assert_allclose([clipped[0][0], clipped[1][0]], [0.6, 0.8], rtol=1e-12)
    with pytest.raises(ValueError, match="only one of clipnorm, clipvalue and global_clipnorm"):
        refnn.optimizers.Adam(clipnorm=1, clipvalue=1)


def test_adamw_and_weight_decay_as_keras_3():
    """keras/src/optimizers/adamw_test.py, test_single_step: AdamW(learning_rate=0.5) on
    [1, 2, 3, 4] with gradients [0.1, 0.2, 0.3, 0.4] -> [0.498, 1.496, 2.494, 3.492]; SGD with
    weight_decay: w <- w - w wd eta, then the step."""
    w = np.array([1.0, 2.0, 3.0, 4.0])
    refnn.optimizers.AdamW(learning_rate=0.5).apply([w], [np.array([0.1, 0.2, 0.3, 0.4])])
    # Keras's test compares to 4 decimals (epsilon moves the 6th): so do we
    np.testing.assert_allclose(w, [0.498, 1.496, 2.494, 3.492], atol=1e-4)
    v = np.array([2.0])
    refnn.optimizers.SGD(learning_rate=1.0, weight_decay=0.004).apply([v], [np.array([1.0])])
    np.testing.assert_allclose(v, [2 - 2 * 0.004 - 1], rtol=1e-12)


@pytest.mark.parametrize("options", [dict(clipnorm=0.5), dict(clipvalue=0.01),
                                     dict(global_clipnorm=0.3), dict(weight_decay=0.1)])
def test_clipping_and_weight_decay_on_the_compiled_step_equal_the_layer_path(options):
    """The compiled forward and backward with the clipped, decayed update in Python: equal to
    the layer-by-layer path to 1e-12 in float64, and different from no option."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(24, 3)) * 3, np.eye(2)[rng.integers(0, 2, 24)]
    results = []
    for fast, opts in ((True, options), (False, options), (True, {})):
        model = refnn.Sequential([Dense(4, activation="tanh", input_shape=(3,)),
                                  Dense(2, activation="softmax")], seed=0, dtype="float64")
        model.compile("categorical_crossentropy",
                      refnn.optimizers.Adam(learning_rate=0.05, **opts))
        model.use_fast_path = fast
        model.fit(x, y, epochs=2, batch_size=6, verbose=0)
        results.append(model.get_weights())
    for a, b in zip(results[0], results[1]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert not np.allclose(results[0][0], results[2][0])
