"""refnn.training: the step protocol and its strategies, chosen per model."""
import numpy as np
import pytest

import refnn
from refnn import Sequential, training
from refnn.layers import BatchNormalization, Dense, Dropout, Flatten, Residual, leaves, walk
from refnn.optimizers import SGD


def data(n=40, d=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.eye(k)[rng.integers(0, k, n)]
    return x, y


def model(optimizer, fast=True, extra=(), loss="categorical_crossentropy"):
    m = Sequential([Dense(6, activation="tanh", input_shape=(5,))] + list(extra)
                   + [Dense(3, activation="softmax")], seed=3, dtype="float64")
    m.compile(loss=loss, optimizer=optimizer)
    m.use_fast_path = fast
    return m


def test_strategy_for_picks_the_compiled_step_the_layer_step_and_full_batch():
    x, y = data()
    assert type(training.strategy_for(model("adam"), x, y, 8)) is training.CompiledStep
    assert type(training.strategy_for(model("adam", fast=False), x, y, 8)) is training.LayerStep
    with_dropout = model("adam", extra=[Dropout(0.2)])
    assert type(training.strategy_for(with_dropout, x, y, 8)) is training.LayerStep
    huber = model("adam", loss="huber")                       # no compiled step declared
    assert type(training.strategy_for(huber, x, y, 8)) is training.LayerStep
    assert type(training.strategy_for(model("lbfgs"), x, y, 8)) is training.FullBatch


class UnfusedSGD(SGD):
    """SGD whose update the compiled step cannot run itself: it goes through apply()."""

    def fused_rule(self):
        return None


def test_the_compiled_step_applies_an_optimizer_without_a_fused_rule_through_apply():
    x, y = data()
    fast = model(UnfusedSGD(learning_rate=0.1, momentum=0.9))
    slow = model(SGD(learning_rate=0.1, momentum=0.9), fast=False)
    assert fast._fast_plan() is not None
    fast.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    slow.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    assert fast.optimizer.iterations == slow.optimizer.iterations == 10


def test_one_compiled_step_is_one_sgd_step_on_the_batch_gradient():
    """w' = w - eta dL/dw, with dL/dw from loss_and_gradients on the same batch."""
    x, y = data()
    m = model(SGD(learning_rate=0.5))
    eta, idx = 0.5, np.arange(8, dtype=np.intp)
    before = m.get_weights()
    loss, grads = m.loss_and_gradients(x[idx], y[idx])
    yhat_before = m.predict(x[idx])
    weights = [w for l in m.layers for w in (l.W, l.b)]
    step = training.CompiledStep(weights, x, y, ["tanh", "softmax"], "softmax_crossentropy", 8,
                                 m.optimizer)
    step_loss, yhat, logs = step.step(idx)
    assert logs is None and step_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(yhat, yhat_before, rtol=1e-12)      # outputs before the update
    for w, w0, g in zip(m.get_weights(), before, grads):
        np.testing.assert_allclose(w, w0 - eta * g, rtol=1e-12, atol=1e-14)
    assert m.optimizer.iterations == 1


def test_a_diverged_compiled_step_neither_updates_nor_counts():
    x, y = data()
    x[3] = 1e308                                      # finite, but h overflows
    m = Sequential([Dense(6, input_shape=(5,)), Dense(3, activation="softmax")], seed=3,
                   dtype="float64")
    m.compile(loss="categorical_crossentropy", optimizer=SGD(learning_rate=0.1))
    weights = [w for l in m.layers for w in (l.W, l.b)]
    before = [w.copy() for w in weights]
    step = training.CompiledStep(weights, x, y, ["linear", "softmax"], "softmax_crossentropy",
                                 8, m.optimizer)
    with pytest.raises(training.Diverged, match="the loss was") as info:
        step.step(np.arange(8, dtype=np.intp))
    assert not info.value.changed                   # nothing to put back
    assert not np.isfinite(step.trainer.mean_loss)
    assert m.optimizer.iterations == 0
    for a, b in zip(weights, before):
        np.testing.assert_array_equal(a, b)


def test_walk_and_leaves_visit_blocks_outside_in():
    dense_bn = Dense(4, batch_norm=True)
    inner = Dense(4)
    block = Residual([dense_bn, inner])
    assert [l for l, _ in walk(block)] == [block, dense_bn, dense_bn.batch_norm, inner]
    assert leaves(block) == [dense_bn, dense_bn.batch_norm, inner]
    inner.trainable = False
    assert [t for _, t in walk(block)] == [True, True, True, False]
    assert [t for _, t in walk(block, trained=False)] == [False] * 4
    bn = BatchNormalization()
    assert leaves(bn) == [bn] and [l for l, _ in walk(Flatten())][0].__class__ is Flatten


def test_load_model_is_one_function_under_its_three_names():
    from refnn.model import load_model
    assert refnn.load_model is load_model is refnn.saving.load_model
