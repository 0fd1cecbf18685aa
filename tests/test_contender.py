"""refnn.contender.NumpyMLP, the fast NumPy contender of the speed benchmarks, computes what the
oracle of fit (refnn.reference.training.FitOracle) computes: the same weights, losses and
optimizer state after two shuffled epochs of every configuration (float64 to 1e-12, float32 to
its tolerance), the worked Adam step, and float32 kept throughout in buffers made once."""
import numpy as np
import pytest

import refnn
from refnn.contender import NumpyMLP
from refnn.reference.training import FitOracle
from test_reference_training import (B_NEW, CASES, LOSS, W_NEW, X_HAND, Y_HAND, W, b, data,
                                     refnn_model)


def random_weights(rng, sizes, dtype):
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6 / (n_in + n_out))                     # glorot_uniform's range
        weights += [rng.uniform(-limit, limit, (n_in, n_out)), rng.normal(0, 0.1, n_out)]
    return [w.astype(dtype) for w in weights]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", list(CASES))
def test_two_shuffled_epochs_equal_the_oracle(case, dtype, rng, tol):
    sizes, acts, _, loss, targets, _, options = CASES[case]
    X, Y = data(targets, 53, sizes[0], sizes[-1])
    X, Y = X.astype(dtype), Y.astype(dtype)
    weights = random_weights(rng, sizes, dtype)
    fast = NumpyMLP(weights, acts, loss, **options)
    oracle = FitOracle(weights, acts, loss, **options)
    for _ in range(2):                                      # 6 batches of 8, one of 5
        order = rng.permutation(53)
        loss_fast = fast.fit_epoch(X, Y, 8, order=order)
        loss_oracle = oracle.fit_epoch(X, Y, 8, order=order)
        assert loss_fast == pytest.approx(loss_oracle, rel=tol[dtype])
    atol = 1e-6 if dtype == np.float32 else 1e-13
    for w_fast, w_oracle, w0 in zip(fast.get_weights(), oracle.get_weights(), weights):
        assert w_fast.dtype == w_oracle.dtype == dtype
        np.testing.assert_allclose(w_fast, w_oracle, rtol=tol[dtype], atol=atol)
        assert not np.allclose(w_fast, w0)                      # training moved every array
    for g_fast, g_oracle in zip(fast.grads, oracle.grads):      # the last batch's gradients
        np.testing.assert_allclose(g_fast, g_oracle, rtol=tol[dtype], atol=atol)
    if "momentum" in oracle.slots:
        for m_fast, m_oracle in zip(fast._m, oracle.slots["momentum"]):
            np.testing.assert_allclose(m_fast, m_oracle, rtol=tol[dtype], atol=atol)
    assert fast.iterations == oracle.iterations == 2 * 7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_adam_step_by_hand(dtype):
    """the Adam step worked by hand in test_reference_training.py, exact in both dtypes"""
    net = NumpyMLP([W.astype(dtype), b.astype(dtype)], ["linear"], "mean_squared_error",
                   optimizer="adam", learning_rate=0.125, beta_1=0.5, beta_2=0.75, epsilon=0.5)
    assert net.train_batch(X_HAND.astype(dtype), Y_HAND.astype(dtype)) == LOSS
    np.testing.assert_array_equal(net.grads[0], [[1.0], [-3.0]])
    np.testing.assert_array_equal(net.grads[1], [0.0])
    W1, b1 = net.get_weights()
    np.testing.assert_array_equal(W1, W_NEW)
    np.testing.assert_array_equal(b1, B_NEW)
    assert W1.dtype == b1.dtype == dtype
    assert net.iterations == 1


def test_float32_weights_cast_float64_data():
    sizes, acts, _, loss, targets, _, options = CASES["tanh-sigmoid-bce-adam"]
    X, Y = data(targets, 20, sizes[0], sizes[-1])   # float64 data
    weights = refnn_model(sizes, acts, "binary_crossentropy", "adam", "float32").get_weights()
    net = NumpyMLP(weights, acts, loss, **options)
    assert isinstance(net.fit_epoch(X, Y, 6), float)
    assert all(w.dtype == np.float32 for w in net.get_weights())
    assert all(a.dtype == np.float32 for a in net.buffers.values())


def test_buffers_are_made_once_and_reused_by_a_short_last_batch(tol):
    sizes, acts, _, loss, targets, _, options = CASES["relu-relu-softmax-ce-nesterov"]
    X, Y = data(targets, 53, sizes[0], sizes[-1])
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    weights = refnn_model(sizes, acts, "categorical_crossentropy", "adam", "float32").get_weights()
    net = NumpyMLP(weights, acts, loss, **options)
    net.train_batch(X[:8], Y[:8])                   # the buffers are made for 8 rows
    made = {name: (id(a), a.ctypes.data, a.shape) for name, a in net.buffers.items()}
    assert made["g1"][2] == (8, sizes[1]) and made["Xb"][2] == (8, sizes[0])
    net.train_batch(X[8:13], Y[8:13])               # a short batch: views of the same buffers
    net.fit_epoch(X, Y, 8)                          # 6 full batches and one of 5
    net.train_batch(X[:8], Y[:8])
    assert {name: (id(a), a.ctypes.data, a.shape) for name, a in net.buffers.items()} == made
    assert net.iterations == 1 + 1 + 7 + 1
    # the short batches trained as well as the full ones: the same weights as refnn's fit,
    # which sees the same batches
    model = refnn_model(sizes, acts, "categorical_crossentropy",
                        refnn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
                        "float32")
    model.set_weights(weights)
    for xb, yb in [(X[:8], Y[:8]), (X[8:13], Y[8:13]), (X, Y), (X[:8], Y[:8])]:
        model.fit(xb, yb, batch_size=8, shuffle=False, verbose=0)
    for w_twin, w_fit in zip(net.get_weights(), model.get_weights()):
        np.testing.assert_allclose(w_twin, w_fit, rtol=tol[np.float32], atol=1e-6)


def test_the_callers_weights_are_copied():
    weights = [np.full((3, 2), 0.1), np.zeros(2)]
    net = NumpyMLP(weights, ["softmax"], "categorical_crossentropy", optimizer="sgd",
                   learning_rate=0.5)
    net.train_batch(np.eye(3)[:2], np.eye(2))
    np.testing.assert_array_equal(weights[0], 0.1)
    assert not np.array_equal(net.get_weights()[0], weights[0])


@pytest.mark.parametrize("kwargs, message", [
    (dict(activations=["sigmoid", "sigmoid"], loss="categorical_crossentropy"), "softmax"),
    (dict(activations=["relu", "linear"], loss="mse", optimizer="rmsprop"), "optimizer"),
])
def test_the_oracles_checks_refuse_a_bad_configuration(kwargs, message):
    weights = [np.zeros((3, 4)), np.zeros(4), np.zeros((4, 2)), np.zeros(2)]
    with pytest.raises(ValueError, match=message):
        NumpyMLP(weights, **kwargs)
    with pytest.raises(ValueError, match="X must have 3 columns"):
        NumpyMLP(weights, ["relu", "linear"], "mse").train_batch(np.zeros((4, 2)), np.zeros((4, 2)))
