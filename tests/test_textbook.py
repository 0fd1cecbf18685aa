"""BackpropNetwork: the textbook algorithm, three backends with the same numbers, XOR."""
import numpy as np
import pytest

from refnn import gradcheck
from refnn.textbook import BackpropNetwork

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
XOR_Y = np.array([0, 1, 1, 0], dtype=float)
ACTIVATIONS = ["sigmoid", "tanh", "relu", "linear"]


def data(n, n_in, n_out, seed=0, zeros=0.3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (n, n_in))
    X[rng.uniform(size=X.shape) < zeros] = 0.0            # exact zeros: skipped by the C loop
    Y = rng.uniform(0, 1, (n, n_out))
    return X, Y


def test_xor_is_learned_by_a_2_2_1_sigmoid_network():
    net = BackpropNetwork([2, 2, 1], activation="sigmoid", seed=0)
    history = net.fit(XOR_X, XOR_Y, eta=0.5, epochs=5000)
    yhat = net.predict(XOR_X).ravel()
    assert np.all((yhat > 0.5) == (XOR_Y == 1)), yhat
    assert np.all(np.abs(yhat - XOR_Y) < 0.1), yhat
    assert history[-1] < 1e-3 < history[0]


def test_xor_from_most_starting_points():
    """Per-sample backprop on XOR has local minima: most seeds reach them not."""
    learned = 0
    for seed in range(10):
        net = BackpropNetwork([2, 2, 1], seed=seed)
        net.fit(XOR_X, XOR_Y, eta=0.5, epochs=4000)
        learned += np.all((net.predict(XOR_X).ravel() > 0.5) == (XOR_Y == 1))
    assert learned >= 7


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backends_give_the_same_weights_after_steps_and_epochs(activation):
    X, Y = data(12, 4, 3, seed=1)
    nets = {b: BackpropNetwork([4, 5, 3, 3], activation=activation, seed=3, backend=b)
            for b in ("c", "numpy", "python")}
    for net in nets.values():
        for i in range(4):
            net.step(X[i], Y[i], eta=0.05)
        net.fit(X, Y, eta=0.05, epochs=3)
    ref = nets["python"].get_weights()
    for backend in ("c", "numpy"):
        for got, want in zip(nets[backend].get_weights(), ref):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_float32_c_matches_float64_within_float32_rounding():
    X, Y = data(200, 6, 2, seed=2)
    n32 = BackpropNetwork([6, 8, 2], seed=4, dtype="float32")
    n64 = BackpropNetwork([6, 8, 2], seed=4, dtype="float64")
    n64.set_weights(n32.get_weights())
    n32.fit(X, Y, eta=0.1, epochs=2)
    n64.fit(X, Y, eta=0.1, epochs=2)
    for got, want in zip(n32.get_weights(), n64.get_weights()):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-5)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_fit_equals_a_loop_of_steps(activation):
    X, Y = data(9, 3, 2, seed=5)
    a = BackpropNetwork([3, 4, 2], activation=activation, seed=6)
    b = BackpropNetwork([3, 4, 2], activation=activation, seed=6)
    history = a.fit(X, Y, eta=0.2, epochs=1)
    E = [b.step(X[i], Y[i], eta=0.2).E for i in range(len(X))]
    assert history[0] == pytest.approx(np.mean(E), rel=1e-12)
    for got, want in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_trace_is_consistent_with_the_network():
    X, Y = data(1, 3, 2, seed=7)
    net = BackpropNetwork([3, 4, 2], seed=8)
    before = net.get_weights()
    yhat = net.predict(X)[0]
    loss, grads = net.loss_and_gradients(X, Y)
    t = net.step(X[0], Y[0], eta=0.3)
    np.testing.assert_allclose(t.g[-1], yhat, rtol=1e-15)
    assert t.E == pytest.approx(0.5 * np.sum((yhat - Y[0]) ** 2), rel=1e-14)
    assert t.E == pytest.approx(loss, rel=1e-14)
    # the slide's output error for a sigmoid output
    np.testing.assert_allclose(t.epsilon[-1], (yhat - Y[0]) * yhat * (1 - yhat), rtol=1e-14)
    # g_l = sigmoid(h_l), and dE/dW_l = g_{l-1}^T epsilon_l
    for l in range(2):
        np.testing.assert_allclose(t.g[l + 1], 1 / (1 + np.exp(-t.h[l])), rtol=1e-14)
        np.testing.assert_allclose(t.grads[2 * l], np.outer(t.g[l], t.epsilon[l]), rtol=1e-14)
    for w0, w1, g, g_batch in zip(before, net.get_weights(), t.grads, grads):
        np.testing.assert_allclose(g, g_batch, rtol=1e-13, atol=1e-16)
        np.testing.assert_allclose(w1, w0 - 0.3 * g, rtol=1e-15)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("backend", ["c", "numpy", "python"])
def test_network_gradients_agree_with_finite_differences(activation, backend):
    X, Y = data(5, 3, 2, seed=9, zeros=0.0)
    net = BackpropNetwork([3, 4, 2], activation=activation, seed=10, backend=backend)
    report = gradcheck(net, X, Y)
    assert report.ok, str(report)
    assert report.max_rel_error < 1e-6


def test_mean_of_per_sample_gradients_is_the_batch_gradient():
    X, Y = data(7, 3, 2, seed=11)
    net = BackpropNetwork([3, 5, 2], activation="tanh", seed=12)
    loss, grads = net.loss_and_gradients(X, Y)
    per_sample = [net.loss_and_gradients(X[i:i + 1], Y[i:i + 1]) for i in range(len(X))]
    assert loss == pytest.approx(np.mean([p[0] for p in per_sample]), rel=1e-13)
    for k, g in enumerate(grads):
        np.testing.assert_allclose(g, np.mean([p[1][k] for p in per_sample], axis=0),
                                   rtol=1e-12, atol=1e-15)


def test_initial_weights_are_small_seeded_and_in_keras_order():
    a = BackpropNetwork([784, 128, 10], seed=0, dtype="float32")
    b = BackpropNetwork([784, 128, 10], seed=0, dtype="float32")
    c = BackpropNetwork([784, 128, 10], seed=1, dtype="float32")
    wa = a.get_weights()
    assert [w.shape for w in wa] == [(784, 128), (128,), (128, 10), (10,)]
    assert all(w.dtype == np.float32 for w in wa)
    assert np.abs(wa[0]).max() <= 1 / np.sqrt(784) and np.abs(wa[2]).max() <= 1 / np.sqrt(128)
    assert all(np.array_equal(x, y) for x, y in zip(wa, b.get_weights()))
    assert not np.array_equal(wa[0], c.get_weights()[0])


def test_set_weights_casts_and_copies():
    net = BackpropNetwork([2, 3, 1], dtype="float32")
    ws = [np.ones((2, 3)), np.zeros(3), np.ones((3, 1)), np.zeros(1)]
    net.set_weights(ws)
    ws[0][0, 0] = 99.0                                   # the network kept its own copy
    got = net.get_weights()
    assert got[0].dtype == np.float32 and got[0][0, 0] == 1.0
    got[1][0] = 5.0                                      # and get_weights hands out copies
    assert net.get_weights()[1][0] == 0.0


def test_shuffled_fit_is_reproducible_and_differs_from_ordered():
    X, Y = data(30, 3, 1, seed=13)
    runs = []
    for shuffle in (True, True, False):
        net = BackpropNetwork([3, 3, 1], seed=14)
        net.fit(X, Y, eta=0.5, epochs=2, shuffle=shuffle, seed=15)
        runs.append(net.get_weights()[0])
    assert np.array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], runs[2])


def test_relu_kink_is_reported_not_failed():
    X = np.array([[1.0, 0.0]])
    Y = np.array([[0.5]])
    net = BackpropNetwork([2, 2, 1], activation="relu", seed=0)
    W1, b1, W2, b2 = net.get_weights()
    W1[:, 0] = [0.25, 0.0]
    b1[0] = -0.25                                        # h_1 = 1 * 0.25 - 0.25 = 0: on the kink
    W2[:] = 1.0
    net.set_weights([W1, b1, W2, b2])
    report = gradcheck(net, X, Y)
    assert report.ok, str(report)
    assert sum(row.n_kinks for row in report.rows) > 0


@pytest.mark.parametrize("backend", ["c", "numpy", "python"])
def test_step_takes_a_number_as_the_target_of_a_one_output_network(backend):
    """The README's net.step(X[1], Y[1], eta=0.5) with Y of shape (n,): a 0-D target is the
    one output's target, the same step as with the vector [y]."""
    a = BackpropNetwork([2, 2, 1], activation="sigmoid", seed=0, backend=backend)
    b = BackpropNetwork([2, 2, 1], activation="sigmoid", seed=0, backend=backend)
    ta = a.step(np.array([0.0, 1.0]), np.int64(1), eta=0.5)
    tb = b.step(np.array([0.0, 1.0]), np.array([1.0]), eta=0.5)
    assert ta.E == tb.E
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    two = BackpropNetwork([2, 2, 2], activation="sigmoid", seed=0, backend=backend)
    with pytest.raises(ValueError, match="y has 1 entries, expected 2"):
        two.step(np.array([0.0, 1.0]), 1.0, eta=0.5)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")   # the NumPy twin's
@pytest.mark.parametrize("backend", ["c", "numpy", "python"])
def test_a_step_that_would_leave_infinite_weights_raises_and_changes_nothing(backend):
    """Linear units, x = 1e100: h, E and dE/dw are finite (about 1e100, 1e200, 1e200), but
    w - eta dE/dw with eta = 1e200 overflows to inf. The step used to keep those weights
    without a word; now it raises, as fit does, and the weights are the ones before."""
    from refnn._validate import TrainingDivergedError
    net = BackpropNetwork([2, 2, 1], activation="linear", seed=0, backend=backend)
    before = net.get_weights()
    with pytest.raises(TrainingDivergedError, match="weights are unchanged"):
        net.step(np.array([1e100, 1e100]), 0.0, eta=1e200)
    for w, b in zip(net.get_weights(), before):
        np.testing.assert_array_equal(w, b)
    net.step(np.array([1.0, 1.0]), 0.0, eta=0.5)            # and it still trains
