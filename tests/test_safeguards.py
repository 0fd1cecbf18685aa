"""What keeps fit's state whole (refnn/safeguards.py). Training that diverges stops with
TrainingDivergedError naming the epoch and the batch, and leaves the weights and the
optimizer's state exactly as they were after the batch before; a second Ctrl-C never cuts a
step in half. Both on the compiled path and the layer-by-layer one.

The oracle: the same training, stopped by a callback right after that earlier batch."""
import os
import re
import signal
import warnings

import numpy as np
import pytest

import refnn
from refnn import Sequential
from refnn.callbacks import Callback
from refnn.layers import Dense, Dropout
from refnn import TrainingDivergedError


class StopAfter(Callback):
    """Stops training after batch `batch` (0-based) of epoch `epoch` (0-based)."""

    def __init__(self, epoch, batch):
        super().__init__()
        self.epoch, self.batch, self.current = epoch, batch, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == self.batch:
            self.model.stop_training = True


class RaiseRateAt(Callback):
    """From epoch `epoch` on, the optimizer's learning rate is `rate`."""

    def __init__(self, epoch, rate):
        super().__init__()
        self.epoch, self.rate = epoch, rate

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            self.model.optimizer.learning_rate = self.rate


def make(case, fast):
    dtype, optimizer, dropout = case["dtype"], case["optimizer"], case.get("dropout", False)
    model = Sequential([Dense(8, activation="relu", input_shape=(3,)),
                        *([Dropout(0.2)] if dropout else []), Dense(2)], dtype=dtype, seed=0)
    model.compile(loss="mse", optimizer=optimizer())
    model.use_fast_path = fast
    return model


def data(case):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)) * case.get("x_scale", 1.0), rng.normal(size=(64, 2))
    return x.astype(case["dtype"]), (y * case.get("y_scale", 1.0)).astype(case["dtype"])


CASES = {
    # Adam's update overflows in float32 (v = g^2) while the loss is still finite
    "adam-update-overflow-f32": dict(dtype="float32",
                                     optimizer=lambda: refnn.optimizers.Adam(learning_rate=1e6)),
    # the same overflow in the second epoch: the rate jumps there (the state to put back is
    # then that after batches of a shuffled epoch)
    "adam-overflow-epoch-2": dict(dtype="float32", rate_at=(1, 1e8),
                                  optimizer=lambda: refnn.optimizers.Adam(learning_rate=1e-3)),
    # SGD with momentum: the loss overflows in the second epoch
    "sgd-loss-overflow-f64": dict(dtype="float64", x_scale=10.0, y_scale=10.0,
                                  optimizer=lambda: refnn.optimizers.SGD(learning_rate=0.01,
                                                                         momentum=0.9)),
    # inputs near float32's largest value: the first forward pass overflows
    "huge-inputs-f32": dict(dtype="float32", x_scale=1e37,
                            optimizer=lambda: refnn.optimizers.SGD(learning_rate=0.01)),
    "adam-dropout-f32": dict(dtype="float32", dropout=True,
                             optimizer=lambda: refnn.optimizers.Adam(learning_rate=1e6)),
}


def callbacks(case):
    return [RaiseRateAt(*case["rate_at"])] if "rate_at" in case else []


def state(model):
    return model.get_weights() + model.optimizer.get_state() + [
        np.array(repr(model._shuffle_rng.bit_generator.state)),
        np.array(repr(model._dropout_rng.bit_generator.state))]


@pytest.mark.parametrize("name, fast", [
    pytest.param(name, fast, id=f"{name}-{'compiled' if fast else 'layers'}")
    for name in CASES for fast in (True, False)
    if not (fast and CASES[name].get("dropout"))])      # Dropout: the layer-by-layer path only
def test_a_diverging_fit_raises_and_keeps_the_state_after_the_batch_before(name, fast):
    case = CASES[name]
    x, y = data(case)
    model = make(case, fast)
    assert (model._fast_plan() is not None) == fast
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # and no RuntimeWarning on the way
        with pytest.raises(TrainingDivergedError) as info:
            model.fit(x, y, batch_size=8, epochs=20, verbose=0, callbacks=callbacks(case))
    found = re.search(r"training diverged in epoch (\d+), batch (\d+) of 8: ", str(info.value))
    assert found, str(info.value)
    epoch, batch = int(found[1]) - 1, int(found[2]) - 1
    assert "try a smaller learning rate" in str(info.value)
    for w in model.get_weights() + model.optimizer.get_state()[1:]:
        assert np.isfinite(w).all()

    oracle = make(case, fast)
    if batch > 0:
        oracle.fit(x, y, batch_size=8, epochs=epoch + 1, verbose=0,
                   callbacks=callbacks(case) + [StopAfter(epoch, batch - 1)])
    elif epoch > 0:
        oracle.fit(x, y, batch_size=8, epochs=epoch, verbose=0, callbacks=callbacks(case))
        oracle._shuffle_rng.permutation(x.shape[0])     # the diverging epoch drew its order
    else:
        oracle._shuffle_rng.permutation(x.shape[0])
    assert oracle.optimizer.iterations == 8 * epoch + batch == model.optimizer.iterations
    for a, b in zip(state(model), state(oracle)):
        np.testing.assert_array_equal(a, b)


def test_the_cases_cover_an_overflowing_update_after_earlier_batches_in_a_later_epoch():
    """What the replay is there for: a compiled step that changed the weights, not the first
    batch, not the first epoch."""
    case = CASES["adam-overflow-epoch-2"]
    x, y = data(case)
    model = make(case, True)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, batch [2-8] of 8: the update "
                                                    r"overflowed"):
        model.fit(x, y, batch_size=8, epochs=20, verbose=0, callbacks=callbacks(case))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, make_optimizer", [
    ("sgd", lambda: refnn.optimizers.SGD(learning_rate=1e300, momentum=0.5)),
    ("adam", lambda: refnn.optimizers.Adam(learning_rate=1e300)),
    ("rmsprop", lambda: refnn.optimizers.RMSprop(learning_rate=1e300, centered=True)),
    ("adagrad", lambda: refnn.optimizers.Adagrad(learning_rate=1e300)),
    ("nadam", lambda: refnn.optimizers.Nadam(learning_rate=1e300)),
    ("adamax", lambda: refnn.optimizers.Adamax(learning_rate=1e300)),
])
def test_an_overflowing_apply_changes_nothing(name, make_optimizer, dtype):
    """Optimizer.apply: an update that would leave NaN or infinity in a weight or a slot is
    refused, after one good step, with the weights, the slots and iterations as they were."""
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=(3, 4)).astype(dtype), rng.normal(size=4).astype(dtype)]
    opt = make_optimizer()
    with np.errstate(all="ignore"):
        opt.learning_rate = 1e-3
        opt.apply(weights, [rng.normal(size=w.shape).astype(dtype) for w in weights])
        before = [w.copy() for w in weights], opt.get_state()
        opt.learning_rate = 1e300 if dtype == "float64" else 1e38
        grads = [rng.normal(size=w.shape).astype(dtype) * 1e19 for w in weights]
        grads[1][0] = np.finfo(dtype).max
        try:
            opt.apply(weights, grads)
        except TrainingDivergedError as e:
            assert re.search(r"the update of weights\[\d\] by \w+ would leave NaN or infinity",
                             str(e))
        else:
            pytest.fail("the overflowing update was applied")
    for a, b in zip(weights + opt.get_state(), before[0] + before[1]):
        np.testing.assert_array_equal(a, b)
    assert opt.iterations == 1


# --------------------------------------------------------------------------- Ctrl-C twice
def _press_ctrl_c():
    os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("fast", [True, False], ids=["compiled", "layers"])
def test_a_second_ctrl_c_inside_a_step_waits_for_the_step_to_finish(fast, monkeypatch):
    """Ctrl-C pressed twice while batch 3 is being computed: the first asks fit to stop, the
    second raises KeyboardInterrupt, but only once that step has finished: the weights and the
    optimizer's state are exactly those after 3 whole batches (the oracle: the same training
    stopped by a callback after batch 3), never a step cut in half (before, the compiled path
    could keep batch 3's weights with iterations 2, the layer path update some arrays and not
    others)."""
    case = CASES["sgd-loss-overflow-f64"] | {"x_scale": 1.0, "y_scale": 1.0}
    x, y = data(case)
    model = make(case, fast)
    calls = {"n": 0}
    if fast:                          # in CompiledStep.step, just before the compiled call
        target, name = model.optimizer, "fused_scalars"
        press_on = (3,)               # the third batch, both presses
    else:                             # in Optimizer._apply, between two arrays' updates
        import refnn.kernels as kernels
        target, name = kernels, "apply_rule"
        press_on = (9, 10)            # the third batch's first and second of four arrays
    original = getattr(target, name)

    def pressing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] in press_on:
            _press_ctrl_c()
            if len(press_on) == 1:
                _press_ctrl_c()
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, pressing)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0)
    monkeypatch.undo()
    oracle = make(case, fast)
    oracle.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[StopAfter(0, 2)])
    assert model.optimizer.iterations == oracle.optimizer.iterations == 3
    for a, b in zip(state(model), state(oracle)):
        np.testing.assert_array_equal(a, b)


def test_ctrl_c_twice_during_a_full_batch_step_puts_the_epoch_start_back(monkeypatch):
    """L-BFGS writes trial weights while it searches: a second Ctrl-C inside its step
    interrupts at once and leaves the weights as the epoch began."""
    x, y = data(CASES["sgd-loss-overflow-f64"] | {"x_scale": 1.0})
    model = Sequential([Dense(8, activation="tanh", input_shape=(3,)), Dense(2)],
                       dtype="float64", seed=0)
    model.compile(loss="mse", optimizer=refnn.optimizers.LBFGS())
    model.fit(x, y, epochs=1, verbose=0)
    before = model.get_weights()
    from refnn.training import FullBatch
    original, calls = FullBatch._fun, {"n": 0}

    def pressing(self, v):
        calls["n"] += 1
        if calls["n"] == 3:                       # inside minimize, at a trial point
            result = original(self, v)
            _press_ctrl_c()
            _press_ctrl_c()
            return result
        return original(self, v)

    monkeypatch.setattr(FullBatch, "_fun", pressing)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, epochs=1, verbose=0)
    assert calls["n"] == 3
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
