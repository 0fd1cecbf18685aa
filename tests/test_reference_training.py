"""refnn.reference.training.FitOracle, the oracle of mini-batch training, follows Sequential.fit:
the same weights and reported losses after two epochs (float64, to 1e-12), one Adam step worked
by hand, float32 kept throughout. (The fast NumPy contender is held to this oracle in
test_contender.py.)"""
import numpy as np
import pytest

import refnn
from refnn import Sequential
from refnn.layers import Dense
from refnn.reference.training import FitOracle, adam_update, sgd_update


def data(kind, n, d, k, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    X[rng.random(X.shape) < 0.3] = 0.0
    Y = {"onehot": lambda: np.eye(k)[rng.integers(0, k, n)],
         "binary": lambda: (rng.random((n, k)) < 0.5).astype(float),
         "real": lambda: rng.normal(size=(n, k))}[kind]()
    return X, Y


def refnn_model(sizes, activations, loss, optimizer, dtype):
    layers = [Dense(sizes[1], activation=activations[0], input_shape=(sizes[0],))]
    layers += [Dense(n, activation=a) for n, a in zip(sizes[2:], activations[1:])]
    model = Sequential(layers, seed=5, dtype=dtype)
    model.compile(loss=loss, optimizer=optimizer)
    return model


# sizes, activations, refnn loss name, twin loss name, targets, refnn optimizer, twin options
CASES = {
    "sigmoid-softmax-ce-adam": (
        [6, 8, 4], ["sigmoid", "softmax"], "categorical_crossentropy",
        "categorical_crossentropy", "onehot",
        lambda: refnn.optimizers.Adam(learning_rate=0.01),
        dict(optimizer="adam", learning_rate=0.01)),
    "relu-relu-softmax-ce-nesterov": (
        [6, 8, 7, 4], ["relu", "relu", "softmax"], "categorical_crossentropy",
        "categorical_crossentropy", "onehot",
        lambda: refnn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
        dict(optimizer="sgd", learning_rate=0.05, momentum=0.9, nesterov=True)),
    "relu-relu-softmax-ce-momentum": (
        [6, 8, 7, 4], ["relu", "relu", "softmax"], "categorical_crossentropy",
        "categorical_crossentropy", "onehot",
        lambda: refnn.optimizers.SGD(learning_rate=0.05, momentum=0.8),
        dict(optimizer="sgd", learning_rate=0.05, momentum=0.8)),
    "tanh-sigmoid-bce-adam": (
        [6, 8, 3], ["tanh", "sigmoid"], "binary_crossentropy", "binary_crossentropy", "binary",
        lambda: refnn.optimizers.Adam(learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        dict(optimizer="adam", learning_rate=0.02, beta_1=0.8, beta_2=0.99, epsilon=1e-6)),
    "linear-tanh-mse-sgd": (
        [6, 8, 3], ["linear", "tanh"], "mse", "mean_squared_error", "real",
        lambda: refnn.optimizers.SGD(learning_rate=0.05),
        dict(optimizer="sgd", learning_rate=0.05)),
    "tanh-sigmoid-linear-mse-adam": (
        [6, 8, 5, 3], ["tanh", "sigmoid", "linear"], "mse", "mse", "real",
        lambda: refnn.optimizers.Adam(learning_rate=0.01),
        dict(optimizer="adam", learning_rate=0.01)),
}


def train_both(case, dtype, n=53, batch_size=8, epochs=2):
    """The refnn model (fit, shuffle off) and the twin (fit_epoch in order) from the same
    initial weights; 53 samples in batches of 8 end on a short batch of 5."""
    sizes, acts, loss, twin_loss, targets, optimizer, options = CASES[case]
    X, Y = data(targets, n, sizes[0], sizes[-1])
    X, Y = X.astype(dtype), Y.astype(dtype)
    model = refnn_model(sizes, acts, loss, optimizer(), dtype)
    initial = model.get_weights()
    net = FitOracle(initial, acts, twin_loss, **options)
    history = model.fit(X, Y, batch_size=batch_size, epochs=epochs, shuffle=False, verbose=0)
    losses = [net.fit_epoch(X, Y, batch_size) for _ in range(epochs)]
    return model, net, initial, history.history["loss"], losses


@pytest.mark.parametrize("case", list(CASES))
def test_two_epochs_equal_refnn_fit_float64(case):
    model, net, initial, fit_losses, twin_losses = train_both(case, np.float64)
    assert model._fast_plan() is not None           # fit took the compiled step
    for w_twin, w_fit, w0 in zip(net.get_weights(), model.get_weights(), initial):
        assert w_twin.dtype == np.float64
        np.testing.assert_allclose(w_twin, w_fit, rtol=1e-12, atol=1e-13)
        assert not np.allclose(w_twin, w0)          # training moved every array
    np.testing.assert_allclose(twin_losses, fit_losses, rtol=1e-12, atol=0)
    assert net.iterations == model.optimizer.iterations == 2 * 7


def test_fit_epoch_order_is_the_batches_in_turn():
    """fit_epoch(order=p) = train_batch on X[p[0:8]], X[p[8:16]], ..., X[p[48:53]]; its loss is
    the batch losses weighted by the batch sizes."""
    sizes, acts, _, loss, targets, _, options = CASES["sigmoid-softmax-ce-adam"]
    X, Y = data(targets, 53, sizes[0], sizes[-1])
    weights = refnn_model(sizes, acts, "categorical_crossentropy", "adam", "float64").get_weights()
    order = np.random.default_rng(1).permutation(53)
    a, b = FitOracle(weights, acts, loss, **options), FitOracle(weights, acts, loss, **options)
    epoch_loss = a.fit_epoch(X, Y, 8, order=order)
    batch_losses = [b.train_batch(X[order[s:s + 8]], Y[order[s:s + 8]]) for s in range(0, 53, 8)]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-13, atol=1e-15)
    sizes_ = [8] * 6 + [5]
    assert epoch_loss == pytest.approx(np.dot(batch_losses, sizes_) / 53, rel=1e-13)
    assert a.iterations == b.iterations == 7


# ---------------------------------------------------------------------------------------------
# One Adam step worked by hand: a single linear unit, 2 inputs, mean squared error.
# Every number is a binary fraction, exact in float32 and float64.

W = np.array([[0.5], [-0.25]])
b = np.array([0.25])
X_HAND = np.array([[1.0, 2.0],
                   [2.0, -1.0]])
Y_HAND = np.array([[1.25],
                   [0.5]])
# forward, h = x @ W + b:
#   h_1 = 1*0.5 + 2*(-0.25) + 0.25 = 0.25,   r_1 = yhat_1 - y_1 = 0.25 - 1.25 = -1
#   h_2 = 2*0.5 + (-1)*(-0.25) + 0.25 = 1.5, r_2 = 1.5 - 0.5 = 1
# loss = 1/n sum_i 1/k r_i^2 = (1 + 1) / 2 = 1
LOSS = 1.0
# epsilon = 2 r / (n k) * f'(h) = 2 r / 2 * 1 = r = (-1, 1)
# dW = X^T epsilon = (1*(-1) + 2*1, 2*(-1) + (-1)*1) = (1, -3);   db = -1 + 1 = 0
# Adam with eta = 0.125, beta_1 = 0.5, beta_2 = 0.75, adam_epsilon = 0.5, t = 1:
#   alpha = eta sqrt(1 - 0.75) / (1 - 0.5) = 0.125 * 0.5 / 0.5 = 0.125
#   m = 0 + (g - 0)(1 - 0.5) = g/2:     dW -> (0.5, -1.5),   db -> 0
#   v = 0 + (g^2 - 0)(1 - 0.75) = g^2/4: dW -> (0.25, 2.25), db -> 0
#   step = alpha m / (sqrt(v) + 0.5):  0.125*0.5/(0.5+0.5) = 0.0625,
#                                      0.125*(-1.5)/(1.5+0.5) = -0.09375,   db: 0/0.5 = 0
#   W = (0.5 - 0.0625, -0.25 + 0.09375) = (0.4375, -0.15625);   b = 0.25
W_NEW, B_NEW = [[0.4375], [-0.15625]], [0.25]
M, V = ([[0.5], [-1.5]], [0.0]), ([[0.25], [2.25]], [0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_adam_step_by_hand(dtype):
    net = FitOracle([W.astype(dtype), b.astype(dtype)], ["linear"], "mean_squared_error",
                   optimizer="adam", learning_rate=0.125, beta_1=0.5, beta_2=0.75, epsilon=0.5)
    loss = net.train_batch(X_HAND.astype(dtype), Y_HAND.astype(dtype))
    assert loss == LOSS
    np.testing.assert_array_equal(net.grads[0], [[1.0], [-3.0]])
    np.testing.assert_array_equal(net.grads[1], [0.0])
    np.testing.assert_array_equal(net.slots["momentum"][0], M[0])
    np.testing.assert_array_equal(net.slots["momentum"][1], M[1])
    np.testing.assert_array_equal(net.slots["velocity"][0], V[0])
    np.testing.assert_array_equal(net.slots["velocity"][1], V[1])
    W1, b1 = net.get_weights()
    np.testing.assert_array_equal(W1, W_NEW)
    np.testing.assert_array_equal(b1, B_NEW)
    assert W1.dtype == b1.dtype == dtype
    assert net.iterations == 1


# ---------------------------------------------------------------------------------------------
# float32


def arrays(net):
    """every array the oracle keeps: weights, gradients and the optimizer's slots"""
    return net.params + net.grads + [a for slot in net.slots.values() for a in slot]


def test_float32_stays_float32_and_follows_refnn_fit(tol):
    model, net, _, fit_losses, twin_losses = train_both("sigmoid-softmax-ce-adam", np.float32)
    for w_twin, w_fit in zip(net.get_weights(), model.get_weights()):
        assert w_twin.dtype == np.float32
        np.testing.assert_allclose(w_twin, w_fit, rtol=tol[np.float32], atol=1e-6)
    np.testing.assert_allclose(twin_losses, fit_losses, rtol=tol[np.float32])
    assert len(arrays(net)) == 3 * 4 + 4
    for a in arrays(net):
        assert a.dtype == np.float32
    assert net.dtype == np.float32


def test_float32_weights_cast_float64_data():
    sizes, acts, _, loss, targets, _, options = CASES["tanh-sigmoid-bce-adam"]
    X, Y = data(targets, 20, sizes[0], sizes[-1])   # float64 data
    weights = refnn_model(sizes, acts, "binary_crossentropy", "adam", "float32").get_weights()
    net = FitOracle(weights, acts, loss, **options)
    assert isinstance(net.fit_epoch(X, Y, 6), float)
    assert all(w.dtype == np.float32 for w in net.get_weights())
    assert all(a.dtype == np.float32 for a in arrays(net))


def test_the_callers_weights_are_copied():
    weights = [np.full((3, 2), 0.1), np.zeros(2)]
    before = [w.copy() for w in weights]
    net = FitOracle(weights, ["softmax"], "categorical_crossentropy", optimizer="sgd",
                   learning_rate=0.5)
    net.train_batch(np.eye(3)[:2], np.eye(2))
    for w, w0 in zip(weights, before):
        np.testing.assert_array_equal(w, w0)
    assert not np.array_equal(net.get_weights()[0], weights[0])
    net.get_weights()[0][...] = 7                   # get_weights returns copies
    assert not (net.get_weights()[0] == 7).any()


@pytest.mark.parametrize("kwargs, message", [
    (dict(activations=["sigmoid", "sigmoid"], loss="categorical_crossentropy"), "softmax"),
    (dict(activations=["softmax", "softmax"], loss="categorical_crossentropy"), "layer 1"),
    (dict(activations=["relu"], loss="categorical_crossentropy"), "2 activations"),
    (dict(activations=["relu", "linear"], loss="hinge"), "loss"),
    (dict(activations=["relu", "linear"], loss="mse", optimizer="rmsprop"), "optimizer"),
    (dict(activations=["relu", "linear"], loss="mse", momentum=1.0), "momentum"),
])
def test_bad_configuration_is_refused(kwargs, message):
    weights = [np.zeros((3, 4)), np.zeros(4), np.zeros((4, 2)), np.zeros(2)]
    with pytest.raises(ValueError, match=message):
        FitOracle(weights, **kwargs)


def test_bad_data_is_refused():
    net = FitOracle([np.zeros((3, 2)), np.zeros(2)], ["sigmoid"], "binary_crossentropy")
    with pytest.raises(ValueError, match="X must have 3 columns"):
        net.train_batch(np.zeros((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="Y must have shape"):
        net.train_batch(np.zeros((4, 3)), np.zeros((5, 2)))
    with pytest.raises(ValueError, match="order must hold indices"):
        net.fit_epoch(np.zeros((4, 3)), np.zeros((4, 2)), 2, order=[0, 1, 4])
    assert net.iterations == 0


# ---------------------------------------------------------------------------------------------
# The oracle's parts against independent forms: the update rules against the papers' forms,
# the gradients against central differences of the mean loss


def test_adam_update_is_the_bias_corrected_rule(rng):
    """Keras's form (alpha, m and v uncorrected) = Kingma & Ba's Algorithm 1 with
    m_hat = m / (1 - beta_1^t), v_hat = v / (1 - beta_2^t) and the stability constant
    adam_epsilon sqrt(1 - beta_2^t) next to sqrt(v_hat) (Keras's epsilon is the paper's eps hat)."""
    w, m, v = rng.normal(size=5), np.zeros(5), np.zeros(5)
    w_paper, m_paper, v_paper = w.copy(), np.zeros(5), np.zeros(5)
    eta, beta_1, beta_2, adam_epsilon = 0.01, 0.8, 0.95, 1e-3
    for t in range(1, 5):
        grad = rng.normal(size=5)
        w, m, v = adam_update(w, grad, m, v, t, eta, beta_1, beta_2, adam_epsilon)
        m_paper = beta_1 * m_paper + (1 - beta_1) * grad
        v_paper = beta_2 * v_paper + (1 - beta_2) * grad ** 2
        m_hat, v_hat = m_paper / (1 - beta_1 ** t), v_paper / (1 - beta_2 ** t)
        w_paper = w_paper - eta * m_hat / (np.sqrt(v_hat)
                                           + adam_epsilon / np.sqrt(1 - beta_2 ** t))
        np.testing.assert_allclose(w, w_paper, rtol=1e-13)
        np.testing.assert_allclose(m, m_paper, rtol=1e-13)
        np.testing.assert_allclose(v, v_paper, rtol=1e-13)


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_update_is_the_lecture_rule(nesterov, rng):
    """Keras stores m = -v of the lecture's v = gamma v + eta g, w' = w - v
    (Nesterov: w' = w - (gamma v + eta g)); momentum 0 is w' = w - eta g."""
    eta, gamma = 0.1, 0.9
    w, m = rng.normal(size=4), np.zeros(4)
    w_lecture, v = w.copy(), np.zeros(4)
    for _ in range(4):
        grad = rng.normal(size=4)
        w, m = sgd_update(w, grad, m, eta, gamma, nesterov)
        v = gamma * v + eta * grad
        w_lecture = w_lecture - (gamma * v + eta * grad if nesterov else v)
        np.testing.assert_allclose(w, w_lecture, rtol=1e-13)
        np.testing.assert_allclose(m, -v, rtol=1e-13)
    grad = rng.normal(size=4)
    w_plain, none = sgd_update(w, grad, None, eta, 0.0, False)
    assert none is None
    np.testing.assert_array_equal(w_plain, w - eta * grad)


@pytest.mark.parametrize("case", list(CASES))
def test_gradients_equal_central_differences(case, rng):
    sizes, acts, _, loss, targets, _, options = CASES[case]
    X, Y = data(targets, 5, sizes[0], sizes[-1], seed=4)
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights += [rng.normal(scale=0.5, size=(n_in, n_out)), rng.normal(scale=0.5, size=n_out)]
    net = FitOracle(weights, acts, loss, **options)
    _, grads = net.gradients(X, Y)
    step = 1e-6
    for i, w in enumerate(net.params):
        numeric = np.zeros_like(w)
        for j in np.ndindex(w.shape):
            saved = w[j]
            w[j] = saved + step
            up = net.gradients(X, Y)[0].mean()
            w[j] = saved - step
            down = net.gradients(X, Y)[0].mean()
            w[j] = saved
            numeric[j] = (up - down) / (2 * step)      # dL/dw by central differences
        np.testing.assert_allclose(grads[i], numeric, rtol=1e-6, atol=1e-8)
