"""One model, one training thread: while fit() runs in one thread, another thread's fit,
predict, evaluate, set_weights, compile, add and save are refused (before, a second fit ran
silently and gave run-to-run different weights; a predict changed Dropout/BatchNorm state
under the training). Different models train in parallel exactly as they do one at a time.

Oracle for the last: the same fits run one after the other."""
import threading

import numpy as np
import pytest

import refnn
from refnn.callbacks import Callback
from refnn.layers import BatchNormalization, Dense, Dropout


def data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(200, 6)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 200)]
    return x, y


def model(seed=0):
    m = refnn.Sequential([Dense(16, activation="relu", input_shape=(6,)), Dropout(0.2),
                          BatchNormalization(), Dense(3, activation="softmax")], seed=seed)
    m.compile("categorical_crossentropy", optimizer="adam", metrics=["acc"])
    return m


class Pause(Callback):
    """Holds fit inside its first batch until the test has tried its calls."""

    def __init__(self):
        super().__init__()
        self.inside, self.go = threading.Event(), threading.Event()

    def on_batch_end(self, batch, logs=None):
        if batch == 0:
            self.model.predict(data()[0][:2])          # its own thread may use the model
            self.inside.set()
            assert self.go.wait(60)


def test_another_thread_is_refused_every_call_that_reads_or_changes_a_model_in_training(tmp_path):
    x, y = data()
    m = model()
    pause = Pause()
    errors = []

    def train():
        try:
            m.fit(x, y, epochs=1, batch_size=50, verbose=0, callbacks=[pause])
        except Exception as e:                       # pragma: no cover (reported below)
            errors.append(e)

    t = threading.Thread(target=train)
    t.start()
    try:
        assert pause.inside.wait(60)
        weights = m.get_weights()
        calls = {"fit": lambda: m.fit(x, y, verbose=0),
                 "predict": lambda: m.predict(x),
                 "evaluate": lambda: m.evaluate(x, y, verbose=0),
                 "set_weights": lambda: m.set_weights(weights),
                 "compile": lambda: m.compile("mse", optimizer="sgd"),
                 "add": lambda: m.add(Dense(2)),
                 "save": lambda: m.save(tmp_path / "m.npz")}
        for name, call in calls.items():
            with pytest.raises(RuntimeError, match=f"^{name} refused: .*fit\\(\\).* another "
                                                   f"thread"):
                call()
    finally:
        pause.go.set()
        t.join(60)
    assert not errors
    assert m.optimizer.iterations == 4 and not (tmp_path / "m.npz").exists()
    m.predict(x)                                     # after fit returns: fine again


def test_different_models_fit_in_parallel_exactly_as_one_after_the_other():
    runs = [(model(seed), *data(seed)) for seed in (1, 2)]
    again = [(model(seed), *data(seed)) for seed in (1, 2)]
    for m, x, y in runs:
        m.fit(x, y, epochs=3, batch_size=20, verbose=0)
    threads = [threading.Thread(target=m.fit, args=(x, y),
                                kwargs=dict(epochs=3, batch_size=20, verbose=0))
               for m, x, y in again]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for (a, _, _), (b, _, _) in zip(runs, again):
        for wa, wb in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(wa, wb)
