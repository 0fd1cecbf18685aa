"""What the compiled step fuses besides the update rule, each held to an independent oracle:
Keras 3's clipping and weight decay (against Optimizer.apply, the layer-by-layer path's
update), an L1/L2 penalty's gradient (against NumPy) and sample weights (against the
unweighted step run one sample at a time)."""
import numpy as np
import pytest

import refnn
from refnn import Sequential
from refnn.kernels import DenseTrainer
from refnn.layers import Dense
from refnn.optimizers import SGD, Adam, AdamW, RMSprop

OPTIONS = {
    "clipvalue": dict(clipvalue=0.02),
    "clipnorm": dict(clipnorm=0.05),
    "global_clipnorm": dict(global_clipnorm=0.08),
    "weight_decay": dict(weight_decay=0.1),
    "clipnorm+decay": dict(clipnorm=0.05, weight_decay=0.05),
}
RULES = {"sgd": lambda **o: SGD(learning_rate=0.1, momentum=0.9, **o),
         "adam": lambda **o: Adam(learning_rate=0.01, **o),
         "rmsprop": lambda **o: RMSprop(learning_rate=0.01, **o)}


def problem(n=90, d=12, k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = np.eye(k)[rng.integers(0, k, n)]
    return x, y


def fitted(optimizer, fast, dtype="float64", threads=2):
    x, y = problem()
    model = Sequential([Dense(20, activation="tanh", input_shape=(12,)),
                        Dense(3, activation="softmax")], seed=1, dtype=dtype)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    model.use_fast_path = fast
    with refnn.num_threads(threads):
        model.fit(x, y, batch_size=32, epochs=4, verbose=0)
    return model.get_weights(), model.optimizer.get_state()


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("option", list(OPTIONS))
def test_fused_clipping_and_decay_equal_the_optimizers_apply(rule, option):
    fast, fast_state = fitted(RULES[rule](**OPTIONS[option]), True)
    slow, slow_state = fitted(RULES[rule](**OPTIONS[option]), False)
    plain, _ = fitted(RULES[rule](), True)
    for a, b in zip(fast + fast_state, slow + slow_state):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    # the option did something: without it the weights differ
    assert max(np.abs(a - b).max() for a, b in zip(fast, plain)) > 1e-4


def test_adamw_trains_on_the_compiled_path_as_on_the_layer_path():
    fast, _ = fitted(AdamW(learning_rate=0.01, weight_decay=0.05), True)
    slow, _ = fitted(AdamW(learning_rate=0.01, weight_decay=0.05), False)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_the_fused_path_is_taken_with_clipping_and_decay():
    optimizer = Adam(clipnorm=1.0, weight_decay=0.01)
    model = Sequential([Dense(3, activation="softmax", input_shape=(12,))], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer)
    assert model._fast_plan() is not None
    optimizer.build(model.get_weights())
    assert optimizer.fused_rule() is not None
    assert optimizer.fused_options() == {"clip": ("norm", 1.0), "decay": (0.01, 0.001)}


def _trainer(x, y, sample_weight=None, batch=90):
    rng = np.random.default_rng(5)
    W = [rng.normal(size=(12, 20)) * 0.3, rng.normal(size=20) * 0.1,
         rng.normal(size=(20, 3)) * 0.3, rng.normal(size=3) * 0.1]
    return DenseTrainer(W, x, y, ["tanh", "softmax"], "softmax_crossentropy", batch,
                        sample_weight=sample_weight)


def test_a_penalty_adds_its_gradient_before_the_update():
    x, y = problem()
    order = np.arange(90, dtype=np.intp)
    penalty = [(0.01, 0.2), (0.0, 0.0), (0.03, 0.0), (0.0, 0.5)]
    fused = _trainer(x, y)
    sgd = SGD(learning_rate=0.1)
    sgd.build(fused.weights)
    fused.set_update(*sgd.fused_rule())
    oracle = _trainer(x, y)
    before = [w.copy() for w in oracle.weights]
    fused.step(order, scalars=sgd.fused_scalars(), penalty=penalty)
    oracle.step(order)                                           # the loss's gradient alone
    for w0, w, g, (c1, c2) in zip(before, fused.weights, oracle.grads, penalty):
        expected = w0 - 0.1 * (g + c1 * np.sign(w0) + c2 * w0)  # one SGD step on the sum
        np.testing.assert_allclose(w, expected, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_the_step_weighs_the_penalty_of_the_weights_before_the_update(threads):
    x, y = problem()
    order = np.arange(90, dtype=np.intp)
    penalty = [(0.01, 0.2), (0.0, 0.0), (0.03, 0.0), (0.0, 0.5)]
    fused = _trainer(x, y)
    fused.threads = threads
    sgd = SGD(learning_rate=0.1)
    sgd.build(fused.weights)
    fused.set_update(*sgd.fused_rule())
    before = [w.copy() for w in fused.weights]
    fused.step(order, scalars=sgd.fused_scalars())
    assert fused.penalty == 0.0                                  # none given
    fused.step(order, scalars=sgd.fused_scalars(), penalty=penalty)
    after = [w.copy() for w in fused.weights]
    # oracle: NumPy's sums of c1 |w| + (c2 / 2) w^2 over the weights the second step started from
    expected = sum(c1 * np.abs(w).sum() + c2 / 2 * (w ** 2).sum()
                   for w, (c1, c2) in zip(_after_one_plain_step(x, y, order), penalty))
    assert fused.penalty == pytest.approx(expected, rel=1e-13)
    assert not any(np.array_equal(a, b) for a, b in zip(before[::2], after[::2]))


def _after_one_plain_step(x, y, order):
    trainer = _trainer(x, y)
    sgd = SGD(learning_rate=0.1)
    sgd.build(trainer.weights)
    trainer.set_update(*sgd.fused_rule())
    trainer.step(order, scalars=sgd.fused_scalars())
    return trainer.weights


def test_sample_weights_weigh_each_samples_loss_and_gradient():
    x, y = problem()
    w = np.random.default_rng(2).uniform(0, 3, size=90)
    w[[4, 17]] = 0.0
    order = np.random.default_rng(3).permutation(90)[:40].astype(np.intp)
    weighted = _trainer(x, y, sample_weight=w, batch=40)
    weighted.step(order)
    # oracle: the unweighted step on one sample at a time gives loss_i and its gradient;
    # Keras's weighted loss is (1/m) sum_i w_i loss_i over the m samples of the batch
    one = _trainer(x, y, batch=1)
    loss, grads = 0.0, [np.zeros_like(g) for g in one.grads]
    for i in order:
        one.step(np.array([i], dtype=np.intp))
        loss += w[i] * one.mean_loss / len(order)
        for total, g in zip(grads, one.grads):
            total += w[i] * g / len(order)
    assert weighted.mean_loss == pytest.approx(loss, rel=1e-13)
    for a, b in zip(weighted.grads, grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(penalty=[(0.1, 0.1)]), ValueError, "penalty must hold one pair"),
    (dict(penalty=[(0.1, -1.0)] * 4), ValueError, "penalty c2 must be a finite number >= 0"),
    (dict(clip=("sideways", 1.0)), ValueError, "clip kind"),
    (dict(clip=("norm", 0.0)), ValueError, "clip must be a finite number > 0"),
    (dict(decay=(0.1, 0.0)), ValueError, "decay eta must be a finite number > 0")])
def test_bad_options_are_refused_and_change_nothing(kwargs, error, match):
    x, y = problem()
    trainer = _trainer(x, y)
    sgd = SGD(learning_rate=0.1)
    sgd.build(trainer.weights)
    trainer.set_update(*sgd.fused_rule())
    before = [w.copy() for w in trainer.weights]
    with pytest.raises(error, match=match):
        trainer.step(np.arange(90, dtype=np.intp), scalars=sgd.fused_scalars(), **kwargs)
    for a, b in zip(before, trainer.weights):
        assert a.tobytes() == b.tobytes()


@pytest.mark.parametrize("bad,match", [(np.full(89, 1.0), "sample_weight"),
                                       (np.full(90, -1.0), "sample_weight must be >= 0"),
                                       (np.full(90, np.nan), "sample_weight")])
def test_bad_sample_weights_are_refused(bad, match):
    x, y = problem()
    with pytest.raises(ValueError, match=match):
        _trainer(x, y, sample_weight=bad)
