"""Every backward and epsilon kernel of refnn.kernels, and BackpropNetwork, against central
finite differences (refnn.gradcheck), in float64 only: in float32 the round-off of a finite
difference is as large as the errors it should find (refnn/gradcheck.py explains why).

Each check names a scalar L of some parameters and the gradient a kernel claims for it;
check_function perturbs every entry by +-step, recomputes L and compares. The losses are
written here: through the forward kernels (themselves checked against the twins in
test_kernels.py) or plain NumPy, never through the kernel whose gradient is being checked.
"""
import numpy as np
import pytest

from refnn import kernels
from refnn.gradcheck import check_function, gradcheck
from refnn.reference import pure
from refnn.textbook import BackpropNetwork

DIFFERENTIABLE = ("sigmoid", "tanh", "relu", "linear")
BACKENDS = ("c", "numpy", "python")
MAX_REL_ERROR = 1e-6                 # analytic vs central difference, float64
SAME = dict(rtol=1e-12, atol=1e-12)  # two float64 computations of the same quantity

SHAPES = pytest.mark.parametrize("shape", [(1, 1, 1), (1, 4, 3), (5, 1, 2), (4, 3, 1), (6, 5, 4)],
                                 ids=lambda s: "n{}-in{}-out{}".format(*s))


def assert_gradients_agree(report, n_entries):
    """every entry compared (none skipped at a kink) and within MAX_REL_ERROR"""
    assert report.n_checked == n_entries, str(report)
    assert report.n_kinks == 0, str(report)
    assert report.ok, str(report)
    assert report.max_rel_error < MAX_REL_ERROR, str(report)


def f_numpy(h, activation):
    """g = f(h), plain NumPy"""
    return {"sigmoid": lambda: 1 / (1 + np.exp(-h)), "tanh": lambda: np.tanh(h),
            "relu": lambda: np.maximum(h, 0.0), "linear": lambda: h}[activation]()


def away_from_zero(rng, shape, low=0.1, high=2.0):
    """values with |v| in [low, high] and random signs: no relu kink within any step"""
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


def test_a_wrong_gradient_fails():
    """the check below can fail: dense_backward fed 1.001 R is not the gradient for R"""
    rng = np.random.default_rng(0)
    g_prev, W, b, R = (rng.normal(size=s) for s in [(3, 2), (2, 4), 4, (3, 4)])

    def f(params):
        g_prev, W, b = params
        dW, db, dg_prev = kernels.dense_backward(g_prev, W, 1.001 * R)
        return np.sum(R * kernels.dense_forward(g_prev, W, b)), [dg_prev, dW, db]

    report = check_function(f, [g_prev, W, b])
    assert not report.ok
    assert len(report.failures) == report.n_checked == 6 + 8 + 4


# ---------------------------------------------------------------------------------------------
# Dense layer


@SHAPES
def test_dense_backward_is_the_gradient_of_dense_forward(shape):
    """L = sum(R * dense_forward(g_prev, W, b)):
    dL/dW, dL/db, dL/dg_prev = dense_backward(g_prev, W, R)"""
    n, n_in, n_out = shape
    rng = np.random.default_rng(sum(shape))
    g_prev, W = rng.normal(size=(n, n_in)), rng.normal(size=(n_in, n_out))
    b = rng.normal(size=n_out)
    R = rng.normal(size=(n, n_out))

    def f(params):
        g_prev, W, b = params
        dW, db, dg_prev = kernels.dense_backward(g_prev, W, R)
        return np.sum(R * kernels.dense_forward(g_prev, W, b)), [dg_prev, dW, db]

    report = check_function(f, [g_prev, W, b], names=["g_prev", "W", "b"])
    assert_gradients_agree(report, g_prev.size + W.size + b.size)


# ---------------------------------------------------------------------------------------------
# Activations


@SHAPES
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_activation_derivative_is_dg_dh(shape, activation):
    """L = sum(R * f(h)):  dL/dh = R * f'(h) with f'(h) = activation_derivative(f(h));
    relu away from 0"""
    n, _, k = shape
    rng = np.random.default_rng(10 + sum(shape))
    if activation == "relu":
        h = away_from_zero(rng, (n, k), high=3.0)
    else:
        h = rng.uniform(-3, 3, (n, k))
    R = rng.normal(size=(n, k))

    def f(params):
        (h,) = params
        g = kernels.activation_forward(h, activation)
        return np.sum(R * g), [R * kernels.activation_derivative(g, activation)]

    assert_gradients_agree(check_function(f, [h]), h.size)


@SHAPES
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_epsilon_backward_is_dL_dh1(shape, activation):
    """L = sum(R * (f(h1) @ W2)):  dL/dh1 = epsilon_backward(R, W2, f(h1), activation)"""
    n, n_in, n_out = shape
    rng = np.random.default_rng(20 + sum(shape))
    h1 = away_from_zero(rng, (n, n_in)) if activation == "relu" else rng.uniform(-2, 2, (n, n_in))
    W2, R = rng.normal(size=(n_in, n_out)), rng.normal(size=(n, n_out))

    def f(params):
        (h1,) = params
        g1 = kernels.activation_forward(h1, activation)
        return np.sum(R * (g1 @ W2)), [kernels.epsilon_backward(R, W2, g1, activation)]

    assert_gradients_agree(check_function(f, [h1]), h1.size)


# ---------------------------------------------------------------------------------------------
# Output layer


def softmax_numpy(h):
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@SHAPES
@pytest.mark.parametrize("target", ["one-hot", "distribution", "non-negative"])
def test_softmax_crossentropy_epsilon_is_dloss_dh(shape, target):
    """L = sum over samples of loss(h, y):  dL/dh = epsilon = softmax(h) sum(y) - y, also for
    rows of y that do not sum to 1 (and a row of zeros)"""
    n, _, k = shape
    rng = np.random.default_rng(30 + sum(shape))
    h = rng.uniform(-4, 4, (n, k))
    if target == "one-hot":
        y = np.eye(k)[rng.integers(0, k, n)]
    elif target == "distribution":
        y = rng.uniform(0, 1, (n, k))
        y /= y.sum(axis=1, keepdims=True)
    else:
        y = rng.uniform(0, 3, (n, k))
        y[-1] = 0.0
    _, epsilon = kernels.softmax_crossentropy(h, y)
    np.testing.assert_allclose(epsilon, softmax_numpy(h) * y.sum(axis=1, keepdims=True) - y, **SAME)

    def f(params):
        (h,) = params
        loss, epsilon = kernels.softmax_crossentropy(h, y)
        return np.sum(loss), [epsilon]

    assert_gradients_agree(check_function(f, [h]), h.size)


@SHAPES
@pytest.mark.parametrize("target", ["binary", "in [0, 1]"])
def test_sigmoid_binary_crossentropy_epsilon_is_dloss_dh(shape, target):
    """L = sum over samples of loss(h, y):  dL/dh = epsilon = sigmoid(h) - y"""
    n, _, k = shape
    rng = np.random.default_rng(40 + sum(shape))
    h = rng.uniform(-6, 6, (n, k))
    if target == "binary":
        y = rng.integers(0, 2, (n, k)).astype(float)
    else:
        y = rng.uniform(0, 1, (n, k))

    def f(params):
        (h,) = params
        loss, epsilon = kernels.sigmoid_binary_crossentropy(h, y)
        return np.sum(loss), [epsilon]

    assert_gradients_agree(check_function(f, [h]), h.size)


@SHAPES
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_squared_error_output_epsilon_is_dE_dh(shape, activation):
    """E = sum over samples of 1/2 sum_k (f(h_k) - y_k)^2:  dE/dh = epsilon of
    squared_error_output(f(h), y); relu away from the kink"""
    n, _, k = shape
    rng = np.random.default_rng(50 + sum(shape))
    h = away_from_zero(rng, (n, k)) if activation == "relu" else rng.uniform(-2, 2, (n, k))
    y = rng.uniform(-1, 1, (n, k))

    def f(params):
        (h,) = params
        E, epsilon = kernels.squared_error_output(kernels.activation_forward(h, activation), y,
                                                  activation)
        return np.sum(E), [epsilon]

    assert_gradients_agree(check_function(f, [h]), h.size)


# ---------------------------------------------------------------------------------------------
# sgd_per_sample: the textbook algorithm


def random_weights(rng, sizes, scale=1.0):
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights += [rng.uniform(-scale, scale, (n_in, n_out)), rng.uniform(-scale, scale, n_out)]
    return weights


def squared_error_numpy(weights, x, y, activation):
    """E = 1/2 sum_k (yhat_k - y_k)^2 for one sample, and the weighted sums h of every layer"""
    g, hs = x, []
    for W, b in zip(weights[0::2], weights[1::2]):
        hs.append(g @ W + b)
        g = f_numpy(hs[-1], activation)
    return 0.5 * np.sum((g - y) ** 2), hs


NETWORKS = pytest.mark.parametrize("sizes", [[1, 1], [3, 2], [3, 4, 2], [4, 3, 3, 2]],
                                   ids=lambda s: "-".join(map(str, s)))


@NETWORKS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_sgd_per_sample_on_one_sample_steps_down_the_finite_difference_gradient(sizes, activation):
    """new weights = old - eta dE/dw:  (old - new) / eta is the gradient of E at old"""
    rng = np.random.default_rng(len(sizes) + sizes[0])
    weights = random_weights(rng, sizes)
    x = rng.uniform(-1, 1, (1, sizes[0]))
    x[0, ::2] = 0.0                     # zero inputs: the kernel skips them, their rows get 0
    y = rng.uniform(0, 1, (1, sizes[-1]))
    eta = 0.5

    def f(params):
        new, E = kernels.sgd_per_sample([p.copy() for p in params], x, y, eta, activation)
        E_numpy, _ = squared_error_numpy(params, x[0], y[0], activation)
        np.testing.assert_allclose(E[0], E_numpy, **SAME)
        return E_numpy, [(p - w) / eta for p, w in zip(params, new)]

    def kinks(params):                  # which relu inputs h are > 0
        return [h > 0 for h in squared_error_numpy(params, x[0], y[0], activation)[1]]

    report = check_function(f, weights, kink_signature=kinks if activation == "relu" else None)
    assert_gradients_agree(report, sum(w.size for w in weights))


@NETWORKS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sgd_per_sample_equals_looping_step(sizes, activation, backend):
    """kernels.sgd_per_sample over a few samples = BackpropNetwork.step on each, in order"""
    rng = np.random.default_rng(100 + len(sizes))
    net = BackpropNetwork(sizes, activation, seed=len(sizes), backend=backend, dtype="float64")
    X = rng.uniform(-1, 1, (5, sizes[0]))
    X[rng.random(X.shape) < 0.4] = 0.0
    Y = rng.uniform(0, 1, (5, sizes[-1]))
    weights = net.get_weights()
    E = [net.step(x, y, eta=0.3).E for x, y in zip(X, Y)]
    new, E_kernel = kernels.sgd_per_sample(weights, X, Y, 0.3, activation)
    np.testing.assert_allclose(E_kernel, E, **SAME)
    for w_kernel, w_step in zip(new, net.get_weights()):
        np.testing.assert_allclose(w_kernel, w_step, **SAME)


# ---------------------------------------------------------------------------------------------
# BackpropNetwork


def network_and_data(sizes, activation, backend, seed, n=4):
    rng = np.random.default_rng(seed)
    net = BackpropNetwork(sizes, activation, seed=seed, backend=backend, dtype="float64")
    X = rng.uniform(-1, 1, (n, sizes[0]))
    Y = rng.uniform(0, 1, (n, sizes[-1]))
    return net, X, Y


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
@pytest.mark.parametrize("backend", BACKENDS)
def test_backprop_network_passes_gradcheck(activation, backend):
    net, X, Y = network_and_data([3, 5, 4, 2], activation, backend, seed=7)
    before = net.get_weights()
    report = gradcheck(net, X, Y)
    assert_gradients_agree(report, sum(w.size for w in before))
    assert report.converted_from is None
    for w, w0 in zip(net.get_weights(), before):
        np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_pre_activation_at_zero_is_listed_as_a_kink_and_stays_ok(backend):
    """sample 0 puts hidden unit 0 exactly at h = 0.5 * 1 + 0.25 * 2 - 1 = 0: a step on W1[0, 0],
    W1[1, 0] or b1[0] crosses the kink, the report lists those three and the rest agrees"""
    net = BackpropNetwork([2, 3, 1], "relu", backend=backend, dtype="float64")
    W1 = np.array([[0.5, -0.3, 0.8],
                   [0.25, 0.6, -0.4]])
    b1 = np.array([-1.0, 0.1, 0.2])
    W2 = np.array([[0.7], [0.9], [-0.5]])
    b2 = np.array([0.3])
    net.set_weights([W1, b1, W2, b2])
    X = np.array([[1.0, 2.0], [0.3, -0.7], [-0.5, 0.9]])
    Y = np.array([[0.2], [0.9], [0.4]])
    h1 = X @ W1 + b1
    assert h1[0, 0] == 0.0
    others = np.delete(h1.ravel(), 0)
    assert (np.abs(others) > 1e-3).all() and (np.abs(np.maximum(h1, 0) @ W2 + b2) > 1e-3).all()

    report = gradcheck(net, X, Y)
    kinks = {(entry.name, entry.index) for entry in report.kinks}
    assert kinks == {("W1", (0, 0)), ("W1", (1, 0)), ("b1", (0,))}, str(report)
    assert all(entry.crossed == "+step" for entry in report.kinks)
    assert report.n_kinks == 3 and report.n_checked == 6 + 3 + 3 + 1 - 3
    assert report.ok and report.max_rel_error < MAX_REL_ERROR, str(report)
    assert "kink" in str(report)
    # what makes it a kink: at h = 0 the two one-sided slopes differ, so the central
    # difference is their average while backprop uses relu'(0) = 0
    b1_entry = next(entry for entry in report.kinks if entry.name == "b1")
    assert b1_entry.analytic == 0.0 and abs(b1_entry.numeric) > 1e-3


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
@pytest.mark.parametrize("backend", BACKENDS)
def test_batched_gradient_is_the_mean_of_per_sample_gradients(activation, backend):
    net, X, Y = network_and_data([3, 4, 2], activation, backend, seed=11, n=6)
    loss, grads = net.loss_and_gradients(X, Y)
    per_sample = [net.loss_and_gradients(X[i:i + 1], Y[i:i + 1]) for i in range(len(X))]
    np.testing.assert_allclose(loss, np.mean([E for E, _ in per_sample]), **SAME)
    for t, grad in enumerate(grads):
        np.testing.assert_allclose(grad, np.mean([g[t] for _, g in per_sample], axis=0), **SAME)
    # and the per-sample gradients are those of the textbook step on that sample (a copy of
    # the network, so that every step starts from the same weights)
    for i, (_, g) in enumerate(per_sample):
        copy = BackpropNetwork(net.sizes, activation, backend="python", dtype="float64")
        copy.set_weights(net.get_weights())
        trace = copy.step(X[i], Y[i], eta=0.1)
        for mine, textbook in zip(g, trace.grads):
            np.testing.assert_allclose(mine, textbook, **SAME)


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_backends_give_the_same_gradients(activation):
    nets = [network_and_data([3, 4, 2], activation, backend, seed=13, n=5) for backend in BACKENDS]
    (loss_c, grads_c), *others = [net.loss_and_gradients(X, Y) for net, X, Y in nets]
    for loss, grads in others:
        np.testing.assert_allclose(loss, loss_c, **SAME)
        for a, b in zip(grads, grads_c):
            np.testing.assert_allclose(a, b, **SAME)


def test_pure_sgd_per_sample_is_the_oracle_of_one_step():
    """the pure twin's one-sample step agrees with the finite-difference gradient as well"""
    rng = np.random.default_rng(3)
    weights = random_weights(rng, [2, 3, 2])
    x, y = rng.uniform(-1, 1, (1, 2)), rng.uniform(0, 1, (1, 2))

    def f(params):
        new, E = pure.sgd_per_sample(params, x, y, 1.0, "sigmoid")
        return E[0], [p - np.asarray(w) for p, w in zip(params, new)]

    assert_gradients_agree(check_function(f, weights), sum(w.size for w in weights))
