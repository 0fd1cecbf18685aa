"""layer.trainable = False (freezing), as Keras 3 does it.

A frozen layer's weights stay bit for bit through fit (the layer-by-layer step, a plain
Dense stack that would otherwise take the compiled step, L-BFGS), move to
non_trainable_weights, get no optimizer slots and count as non-trainable in summary();
gradients still flow through it to the layers before it. A frozen batch normalisation runs in
inference mode. A change of trainable takes effect at the next compile(). The oracles are
NumPy backpropagation written out here, finite differences (refnn.gradcheck), scipy's minimum
of a NumPy loss and hand-counted parameters.
"""
import re
import warnings

import numpy as np
import pytest
from scipy import optimize as scipy_optimize

from refnn import Sequential, gradcheck, load_model
from refnn.layers import (Activation, BatchNormalization, Context, Dense, Dropout, Flatten,
                          Residual, deserialize, serialize)
from refnn.optimizers import LBFGS, SGD, Adam

SAME = dict(rtol=1e-12, atol=1e-13)          # two float64 computations of the same quantity


def data(n=12, d=3, k=2, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    Y = np.eye(k)[rng.integers(0, k, n)]
    return X, Y


def softmax(h):
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def three_layer_model(frozen, seed=3, optimizer=None):
    """tanh - tanh - softmax, float64, categorical cross-entropy; layer `frozen` frozen"""
    layers = [Dense(4, activation="tanh", input_shape=(3,)), Dense(4, activation="tanh"),
              Dense(2, activation="softmax")]
    if frozen is not None:
        layers[frozen].trainable = False
    m = Sequential(layers, seed=seed, dtype="float64")
    m.compile(loss="categorical_crossentropy", optimizer=optimizer or SGD(learning_rate=0.5))
    return m


def numpy_gradients(weights, X, Y):
    """Backpropagation written out for tanh - tanh - softmax + CE (mean over n samples):
    epsilon_3 = (yhat - y) / n,  epsilon_l = (epsilon_{l+1} W_{l+1}^T) (1 - g_l^2),
    dW_l = g_{l-1}^T epsilon_l,  db_l = sum over samples of epsilon_l."""
    W1, b1, W2, b2, W3, b3 = weights
    g1 = np.tanh(X @ W1 + b1)
    g2 = np.tanh(g1 @ W2 + b2)
    yhat = softmax(g2 @ W3 + b3)
    e3 = (yhat - Y) / X.shape[0]
    e2 = (e3 @ W3.T) * (1 - g2 ** 2)           # through W3 ...
    e1 = (e2 @ W2.T) * (1 - g1 ** 2)           # ... and through the (maybe frozen) W2
    return [X.T @ e1, e1.sum(0), g1.T @ e2, e2.sum(0), g2.T @ e3, e3.sum(0)]


# --------------------------------------------------------------------------- fit
@pytest.mark.parametrize("frozen", [0, 1, 2])
def test_one_sgd_step_leaves_the_frozen_layer_and_moves_the_others_by_eta_grad(frozen):
    """fit with one full batch is one SGD step: w' = w - eta dL/dw for the trainable weights
    (dL/dw from the NumPy backpropagation above, also through the frozen layer), w' = w bit
    for bit for the frozen layer's."""
    X, Y = data()
    m = three_layer_model(frozen)
    before = m.get_weights()
    grads = numpy_gradients(before, X, Y)
    m.fit(X, Y, batch_size=len(X), epochs=1, shuffle=False, verbose=0)
    after = m.get_weights()
    eta = 0.5
    for i, (w0, w1, g) in enumerate(zip(before, after, grads)):
        if i // 2 == frozen:
            np.testing.assert_array_equal(w1, w0)
        else:
            assert np.abs(g).max() > 1e-3                 # the step is not a no-op
            np.testing.assert_allclose(w1, w0 - eta * g, **SAME)
    assert m.optimizer.iterations == 1


def test_many_steps_with_adam_keep_the_frozen_layer_bit_identical():
    X, Y = data(n=40, seed=1)
    m = three_layer_model(1, optimizer=Adam(learning_rate=0.05))
    frozen_before = [w.copy() for w in m.layers[1].weights]
    trained_before = [w.copy() for w in m.layers[0].weights + m.layers[2].weights]
    m.fit(X, Y, batch_size=8, epochs=4, verbose=0)
    for w0, w1 in zip(frozen_before, m.layers[1].weights):
        np.testing.assert_array_equal(w1, w0)
    for w0, w1 in zip(trained_before, m.layers[0].weights + m.layers[2].weights):
        assert np.abs(w1 - w0).max() > 1e-3
    assert m.optimizer.iterations == 20


def test_a_frozen_plain_dense_stack_leaves_the_compiled_step_and_stays_put():
    """A Flatten + Dense stack takes the compiled step (which updates every W and b); with a
    frozen layer it takes the layer-by-layer step, and the frozen weights stay bit for bit."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 2, 3)).astype(np.float32)
    y = rng.integers(0, 3, 50)

    def model():
        m = Sequential([Flatten(input_shape=(2, 3)), Dense(5, activation="relu"),
                        Dense(3, activation="softmax")], seed=4)
        m.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
        return m

    plain = model()
    assert plain._fast_plan() is not None
    m = model()
    m.layers[1].trainable = False
    m.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    assert m._fast_plan() is None
    W, b = (w.copy() for w in m.layers[1].weights)
    W_out = m.layers[2].W.copy()
    m.fit(x, y, batch_size=10, epochs=3, verbose=0)
    np.testing.assert_array_equal(m.layers[1].W, W)
    np.testing.assert_array_equal(m.layers[1].b, b)
    assert np.abs(m.layers[2].W - W_out).max() > 1e-3


def test_a_model_built_by_its_first_fit_starts_frozen():
    """No input_shape: fit builds the model, and the layer frozen before is frozen from the
    first step (its weights are the initial ones the same seed gives a model built first)."""
    X, Y = data()

    def layers():
        return [Dense(4, activation="relu", trainable=False), Dense(2, activation="softmax")]
    reference = Sequential(layers(), seed=6, dtype="float64")
    reference.build((3,))
    m = Sequential(layers(), seed=6, dtype="float64")
    m.compile(loss="categorical_crossentropy", optimizer=SGD(learning_rate=0.5))
    assert m._fast_plan() is None
    m.fit(X, Y, batch_size=4, epochs=2, verbose=0)
    np.testing.assert_array_equal(m.layers[0].W, reference.layers[0].W)
    np.testing.assert_array_equal(m.layers[0].b, reference.layers[0].b)
    assert np.abs(m.layers[1].W - reference.layers[1].W).max() > 1e-3


def test_gradients_through_a_frozen_layer_pass_gradcheck_and_equal_the_unfrozen_model():
    """Freezing changes what is applied, not the derivative: loss_and_gradients of the frozen
    model equals that of the same model unfrozen and passes the finite-difference check."""
    X, Y = data(n=6)
    frozen, free = three_layer_model(1), three_layer_model(None)
    free.set_weights(frozen.get_weights())
    loss_a, grads_a = frozen.loss_and_gradients(X, Y)
    loss_b, grads_b = free.loss_and_gradients(X, Y)
    np.testing.assert_allclose(loss_a, loss_b, **SAME)
    assert len(grads_a) == len(grads_b) == 6
    for a, b, c in zip(grads_a, grads_b, numpy_gradients(frozen.get_weights(), X, Y)):
        np.testing.assert_allclose(a, b, **SAME)
        np.testing.assert_allclose(a, c, **SAME)
    report = gradcheck(frozen, X, Y)
    assert report.ok and report.n_checked == sum(w.size for w in frozen.get_weights()), str(report)


def test_lbfgs_leaves_the_frozen_layers_and_reaches_the_optimum_of_the_others():
    """L-BFGS packs only the trainable weights. With the two tanh layers frozen, what is left is
    softmax regression on fixed features g2, a convex problem: its minimum, found here by
    scipy on a NumPy loss, is the loss fit must reach; the frozen layers stay bit for bit."""
    X, Y = data(n=60, seed=5)
    m = three_layer_model(None, optimizer=LBFGS(tolerance=1e-10, ftol=1e-15))
    m.layers[0].trainable = m.layers[1].trainable = False
    m.compile(loss="categorical_crossentropy", optimizer=LBFGS(tolerance=1e-10, ftol=1e-15))
    W1, b1, W2, b2, W3, b3 = m.get_weights()
    g2 = np.tanh(np.tanh(X @ W1 + b1) @ W2 + b2)

    def loss_and_grad(v):                     # mean cross-entropy of softmax(g2 W3 + b3)
        W, b = v[:8].reshape(4, 2), v[8:]
        yhat = softmax(g2 @ W + b)
        epsilon = (yhat - Y) / len(X)
        return -np.mean(np.sum(Y * np.log(yhat), axis=1)), np.concatenate([(g2.T @ epsilon).ravel(),
                                                                           epsilon.sum(0)])
    best = scipy_optimize.minimize(loss_and_grad, np.concatenate([W3.ravel(), b3]), jac=True,
                                   method="BFGS", options={"gtol": 1e-10})
    loss0 = m.loss_and_gradients(X, Y)[0]
    m.fit(X, Y, epochs=1, verbose=0)
    for w0, w1 in zip((W1, b1, W2, b2), m.get_weights()[:4]):
        np.testing.assert_array_equal(w1, w0)
    loss, grads = m.loss_and_gradients(X, Y)
    assert loss < loss0 - 0.05
    np.testing.assert_allclose(loss, best.fun, rtol=1e-9)
    assert max(np.abs(g).max() for g in grads[4:]) < 1e-7
    assert max(np.abs(g).max() for g in grads[:4]) > 1e-3      # the frozen ones: not optimised


def test_lbfgs_with_every_layer_frozen_changes_nothing():
    X, Y = data()
    m = three_layer_model(None, optimizer=LBFGS())
    m.trainable = False
    m.compile(loss="categorical_crossentropy", optimizer=LBFGS())
    before = m.get_weights()
    history = m.fit(X, Y, epochs=2, verbose=0)
    for w0, w1 in zip(before, m.get_weights()):
        np.testing.assert_array_equal(w1, w0)
    np.testing.assert_allclose(history.history["loss"], [m.evaluate(X, Y, verbose=0)] * 2, **SAME)


# --------------------------------------------------------------------------- weights, summary
def test_weights_keep_their_order_and_move_to_non_trainable_weights():
    layer = Dense(3, input_shape=(2,))
    m = Sequential([layer, Dense(1)], seed=0)
    W, b = layer.W, layer.b
    order = [id(w) for w in m.weights]
    layer.trainable = False
    assert layer.trainable_weights == []
    assert [id(w) for w in layer.non_trainable_weights] == [id(W), id(b)]
    assert [id(w) for w in layer.weights] == [id(W), id(b)]
    assert [id(w) for w in m.weights] == order                # get_weights() order: unchanged
    assert [id(w) for w in m.non_trainable_weights] == [id(W), id(b)]
    assert [w.shape for w in m.trainable_weights] == [(3, 1), (1,)]
    assert [w.shape for w in m.get_weights()] == [(2, 3), (3,), (3, 1), (1,)]


def test_summary_counts_frozen_weights_as_non_trainable():
    m = Sequential([Dense(4, input_shape=(3,), trainable=False),  # 3*4 + 4 = 16, frozen
                    Dense(5, activation="relu", batch_norm=True),  # 4*5 + 5 + 5 + 5 = 35
                    #                                                trained, + 5 + 5 moving
                    Dense(2, activation="softmax")], seed=0)       # 5*2 + 2 = 12
    m.compile(loss="categorical_crossentropy", optimizer="sgd")
    shown = []
    m.summary(print_fn=shown.append)
    text = shown[-1]
    assert "Total params: 73" in text                                 # 16 + 45 + 12
    assert "Trainable params: 47" in text                             # 35 + 12
    assert "Non-trainable params: 26" in text                         # 16 + 10
    m.layers[1].trainable = False                     # shown at once (Keras 3), trained at compile
    m.summary(print_fn=shown.append)
    text = shown[-1]
    assert "Trainable params: 12" in text and "Non-trainable params: 61" in text


def test_optimizer_slots_belong_to_the_trainable_weights_only():
    m = three_layer_model(1, optimizer=Adam())
    state = m.optimizer.get_state()
    # iterations, then momentum and velocity for W1, b1, W3, b3 (not W2, b2)
    assert [s.shape for s in state[1:]] == [(3, 4), (4,), (4, 2), (2,)] * 2
    m2 = three_layer_model(None, optimizer=Adam())
    assert len(m2.optimizer.get_state()) == 1 + 2 * 6
    X, Y = data()
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    state = m.optimizer.get_state()
    assert int(state[0]) == 3 and len(state) == 9 and all(np.abs(s).max() > 0 for s in state[1:])
    sgd = three_layer_model(0, optimizer=SGD(momentum=0.9))
    assert [s.shape for s in sgd.optimizer.get_state()[1:]] == [(4, 4), (4,), (4, 2), (2,)]


# --------------------------------------------------------------------------- batch normalisation
def bn_model(freeze):
    m = Sequential([Dense(4, input_shape=(3,)), BatchNormalization(trainable=not freeze),
                    Activation("tanh"), Dense(2, activation="softmax")], seed=1, dtype="float64")
    m.compile(loss="categorical_crossentropy", optimizer=SGD(learning_rate=0.3))
    rng = np.random.default_rng(7)
    bn = m.layers[1]
    bn.gamma[...] = rng.uniform(0.5, 1.5, 4)
    bn.beta[...] = rng.uniform(-0.5, 0.5, 4)
    bn.moving_mean[...] = rng.normal(size=4)
    bn.moving_variance[...] = rng.uniform(0.5, 2.0, 4)
    return m


def test_frozen_batch_normalization_runs_in_inference_mode_and_keeps_its_statistics():
    X, Y = data(n=16, seed=2)
    m = bn_model(freeze=True)
    bn = m.layers[1]
    gamma, beta, mean, var = (w.copy() for w in bn.weights)
    W1, b1 = m.layers[0].W.copy(), m.layers[0].b.copy()
    # training forward == inference forward == the formula with the moving statistics
    h = X @ W1 + b1
    expected = gamma * (h - mean) / np.sqrt(var + 1e-3) + beta
    ctx = Context(training=True, rng=np.random.default_rng(0), update_state=True)
    np.testing.assert_allclose(bn.forward(h, ctx), expected, **SAME)
    np.testing.assert_allclose(bn.forward(h, Context(training=False)), expected, **SAME)
    np.testing.assert_allclose(m.loss_and_gradients(X, Y)[0],
                               m.loss_and_gradients(X, Y, training=False)[0], **SAME)
    m.fit(X, Y, batch_size=4, epochs=3, verbose=0)
    for w0, w1 in zip((gamma, beta, mean, var), bn.weights):
        np.testing.assert_array_equal(w1, w0)
    assert np.abs(m.layers[0].W - W1).max() > 1e-3              # trained through the frozen BN
    # the same model unfrozen uses batch statistics and moves all four
    free = bn_model(freeze=False)
    assert abs(free.loss_and_gradients(X, Y)[0]
               - free.loss_and_gradients(X, Y, training=False)[0]) > 1e-3
    free.fit(X, Y, batch_size=4, epochs=3, verbose=0)
    assert all(np.abs(w1 - w0).max() > 1e-3
               for w0, w1 in zip((gamma, beta, mean, var), free.layers[1].weights))


def test_a_frozen_dense_layer_freezes_its_batch_normalization():
    X, Y = data(n=16, seed=3)
    dense = Dense(4, activation="tanh", input_shape=(3,), batch_norm=True, trainable=False)
    assert dense.batch_norm.trainable is False
    m = Sequential([dense, Dense(2, activation="softmax")], seed=0, dtype="float64")
    m.compile(loss="categorical_crossentropy", optimizer="adam")
    assert m._trainable_mask == [False] * 6 + [True, True]
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)               # moves the statistics if it could
    before = [w.copy() for w in dense.weights]
    m.fit(X, Y, batch_size=4, epochs=2, verbose=0)
    for w0, w1 in zip(before, dense.weights):
        np.testing.assert_array_equal(w1, w0)
    np.testing.assert_array_equal(dense.batch_norm.moving_mean, np.zeros(4))  # never updated
    dense.trainable = True                                         # and back: both follow
    assert dense.batch_norm.trainable is True and dense.trainable_mask() == [True] * 4 + [False] * 2


# --------------------------------------------------------------------------- compile, save, load
def test_a_change_after_compile_waits_for_the_next_compile():
    """As in Keras: fit trains what was trainable at compile() (and warns) until compile()
    is called again."""
    X, Y = data()
    m = three_layer_model(None)
    W1 = m.layers[0].W.copy()
    m.layers[0].trainable = False
    with pytest.warns(UserWarning, match=r"trainable attribute of dense_0 changed since compile"):
        m.fit(X, Y, batch_size=len(X), epochs=1, verbose=0)
    assert np.abs(m.layers[0].W - W1).max() > 1e-4              # still trained, as compiled
    with pytest.raises(ValueError, match="compile with a new optimizer"):
        m.compile(loss="categorical_crossentropy", optimizer=m.optimizer)   # built for 6 arrays
    m.compile(loss="categorical_crossentropy", optimizer=SGD(learning_rate=0.5))
    W1 = m.layers[0].W.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m.fit(X, Y, batch_size=len(X), epochs=1, verbose=0)
    np.testing.assert_array_equal(m.layers[0].W, W1)
    m.layers[0].trainable = True                                   # unfreezing waits too
    with pytest.warns(UserWarning, match="dense_0"):
        m.fit(X, Y, batch_size=len(X), epochs=1, verbose=0)
    np.testing.assert_array_equal(m.layers[0].W, W1)


def test_a_frozen_batch_normalization_keeps_its_mode_until_compile():
    X, Y = data(n=16)
    m = bn_model(freeze=False)
    m.layers[1].trainable = False
    mean = m.layers[1].moving_mean.copy()
    with pytest.warns(UserWarning, match="batchnormalization_1"):
        m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    assert np.abs(m.layers[1].moving_mean - mean).max() > 1e-4   # batch statistics, as compiled
    m.compile(loss="categorical_crossentropy", optimizer="sgd")
    mean = m.layers[1].moving_mean.copy()
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    np.testing.assert_array_equal(m.layers[1].moving_mean, mean)


def test_save_load_keeps_layers_frozen_and_training_continues_identically(tmp_path):
    X, Y = data(n=24, seed=4)
    m = Sequential([Dense(4, activation="tanh", input_shape=(3,), trainable=False),
                    Dense(4, activation="tanh", batch_norm=True),
                    Residual([Dense(4, activation="tanh"), BatchNormalization()], trainable=False),
                    Dense(2, activation="softmax")], seed=2, dtype="float64")
    m.compile(loss="categorical_crossentropy", optimizer=Adam(learning_rate=0.02))
    m.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    path = tmp_path / "frozen.npz"
    m.save(path)
    m2 = load_model(path)
    assert [l.trainable for l in m2.layers] == [False, True, False, True]
    assert [l.trainable for l in m2.layers[2].layers] == [False, False]
    assert m2._trainable_mask == m._trainable_mask
    assert [l.get_config() for l in m2.layers] == [l.get_config() for l in m.layers]
    for a, b in zip(m2.optimizer.get_state(), m.optimizer.get_state()):
        np.testing.assert_array_equal(a, b)
    frozen = [w.copy() for w in m2.layers[0].weights + m2.layers[2].weights]
    m.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    m2.fit(X, Y, batch_size=8, epochs=2, verbose=0)
    for a, b in zip(m2.get_weights(), m.get_weights()):
        np.testing.assert_array_equal(a, b)
    for w0, w1 in zip(frozen, m2.layers[0].weights + m2.layers[2].weights):
        np.testing.assert_array_equal(w1, w0)


def test_load_after_a_change_since_compile_compiles_the_change_with_a_fresh_optimizer(tmp_path):
    X, Y = data()
    m = three_layer_model(None, optimizer=Adam())
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    m.layers[2].trainable = False
    m.save(tmp_path / "m.npz")
    with pytest.warns(UserWarning, match="optimizer state is not restored"):
        m2 = load_model(tmp_path / "m.npz")
    assert m2._trainable_mask == [True] * 4 + [False] * 2
    assert int(m2.optimizer.get_state()[0]) == 0 and len(m2.optimizer.get_state()) == 9


def test_get_config_carries_trainable_for_every_layer():
    layers = [Flatten(trainable=False), Dense(3, trainable=False),
              Activation("relu", trainable=False), Dropout(0.5, trainable=False),
              BatchNormalization(trainable=False),
              Residual([Dense(3)], trainable=False)]
    for layer in layers:
        config = layer.get_config()
        assert config["trainable"] is False
        again = deserialize(serialize(layer))
        assert again.trainable is False and again.get_config() == config
    assert layers[-1].layers[0].trainable is False          # a frozen block freezes its layers
    assert Dense(3).get_config()["trainable"] is True
    assert deserialize({"class_name": "Dense", "config": {"units": 3}}).trainable is True


def test_a_frozen_model_trains_nothing():
    X, Y = data()
    m = Sequential([Dense(3, input_shape=(3,)), Dense(2, activation="softmax")],
                   seed=0, trainable=False)
    assert [l.trainable for l in m.layers] == [False, False]
    m.compile(loss="categorical_crossentropy", optimizer="adam")
    before = m.get_weights()
    m.fit(X, Y, batch_size=4, epochs=1, verbose=0)
    for w0, w1 in zip(before, m.get_weights()):
        np.testing.assert_array_equal(w1, w0)
    assert m.optimizer.get_state()[1:] == [] and m.trainable_weights == []
    assert m.get_config()["trainable"] is False


# --------------------------------------------------------------------------- bad values
@pytest.mark.parametrize("bad", [1, 0, "False", None, 1.0, [True]])
def test_trainable_must_be_a_bool(bad):
    got = f"{type(bad).__name__} {bad!r}"
    with pytest.raises(TypeError, match=r"^trainable must be True or False, got " + re.escape(got)):
        Dense(3, trainable=bad)
    layer = Dense(3)
    with pytest.raises(TypeError, match=re.escape(got)):
        layer.trainable = bad
    assert layer.trainable is True                                 # unchanged
    with pytest.raises(TypeError, match="trainable must be True or False"):
        Sequential([Dense(2, input_shape=(3,))], trainable=bad)
    m = Sequential([Dense(2, input_shape=(3,))])
    with pytest.raises(TypeError, match="trainable must be True or False"):
        m.trainable = bad
    assert m.trainable is True and m.layers[0].trainable is True
    with pytest.raises(TypeError, match="trainable must be True or False"):
        deserialize({"class_name": "BatchNormalization", "config": {"trainable": bad}})


def test_a_numpy_bool_is_accepted_as_a_bool():
    layer = Dense(3, trainable=np.bool_(False))
    assert layer.trainable is False
    layer.trainable = np.bool_(True)
    assert layer.trainable is True
