"""The reference twins on their own: hand-worked values, pure == vectorized, numerical safety,
finite differences, and the errors they raise.

The compiled kernels are compared against these twins elsewhere; here the twins are checked
against arithmetic done by hand, against each other, and against central differences.
"""
import ast
import inspect
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from refnn import activations
from refnn.reference import _names, pure, vectorized

TWINS = pytest.mark.parametrize("twin", [pure, vectorized], ids=["pure", "vectorized"])
ELEMENTWISE = ("sigmoid", "tanh", "relu", "linear", "step")
DIFFERENTIABLE = ("sigmoid", "tanh", "relu", "linear")

TWIN_TOL = dict(rtol=1e-12, atol=1e-12)     # pure vs vectorized, float64
FD_TOL = dict(rtol=1e-6, atol=1e-7)         # analytic vs central differences, float64
STEP = 1e-6                                 # finite-difference step
FAST = settings(max_examples=25, deadline=None, database=None)


def arr(a):
    return np.asarray(a, dtype=np.float64)


def is_python_floats(a):
    """a float, or a list (of lists) of floats: what the pure twin must return"""
    if isinstance(a, list):
        return all(is_python_floats(v) for v in a)
    return type(a) is float


def assert_twins_agree(from_pure, from_vectorized):
    assert is_python_floats(from_pure)
    assert isinstance(from_vectorized, np.ndarray)
    assert arr(from_pure).shape == from_vectorized.shape
    np.testing.assert_allclose(arr(from_pure), from_vectorized, **TWIN_TOL)


def numerical_gradient(fun, x):
    """central differences (fun(x + step e_i) - fun(x - step e_i)) / (2 step) of a scalar fun"""
    x = arr(x).copy()
    grad = np.empty_like(x)
    for i in np.ndindex(x.shape):
        x_i = x[i]
        x[i] = x_i + STEP
        up = fun(x)
        x[i] = x_i - STEP
        down = fun(x)
        x[i] = x_i
        grad[i] = (up - down) / (2 * STEP)
    return grad


def away_from_zero(rng, shape, low=0.1, high=3.0):
    """random values with |v| in [low, high]: no relu kink inside a finite-difference step"""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(low, high, size=shape)


def random_weights(rng, sizes, scale=1.0):
    """[W1, b1, W2, b2, ...] for layer sizes [n_0, n_1, ..., n_L]"""
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        weights += [scale * rng.normal(size=(n_in, n_out)), scale * rng.normal(size=n_out)]
    return weights


def targets(rng, activation, shape):
    """targets in the range of the activation"""
    if activation == "sigmoid":
        return rng.uniform(0, 1, size=shape)
    if activation == "tanh":
        return rng.uniform(-1, 1, size=shape)
    if activation == "relu":
        return rng.uniform(0, 2, size=shape)
    return rng.normal(size=shape)


# ---------------------------------------------------------------------------------------------
# Hand-worked values


@TWINS
def test_dense_forward_by_hand(twin):
    g_prev = [[1.0, 2.0]]
    W = [[0.5, -1.0],
         [0.25, 2.0]]
    b = [0.1, -0.2]
    # h_1 = 1 * 0.5 + 2 * 0.25 + 0.1 = 1.1
    # h_2 = 1 * (-1) + 2 * 2 - 0.2 = 2.8
    np.testing.assert_allclose(arr(twin.dense_forward(g_prev, W, b)), [[1.1, 2.8]], rtol=1e-15)


@TWINS
def test_dense_backward_by_hand(twin):
    g_prev = [[1.0, 2.0],
              [3.0, 4.0]]
    W = [[0.5],
         [0.25]]
    epsilon = [[1.0],
               [-1.0]]
    dW, db, dg_prev = twin.dense_backward(g_prev, W, epsilon)
    # dW_i = sum_s g_si epsilon_s: [1 - 3, 2 - 4]
    np.testing.assert_array_equal(arr(dW), [[-2.0], [-2.0]])
    # db = 1 + (-1)
    np.testing.assert_array_equal(arr(db), [0.0])
    # dg_prev_s = epsilon_s W.T: sample 1 [0.5, 0.25], sample 2 [-0.5, -0.25]
    np.testing.assert_array_equal(arr(dg_prev), [[0.5, 0.25], [-0.5, -0.25]])


@TWINS
def test_epsilon_backward_by_hand(twin):
    # one hidden layer of two sigmoid units with g = [0.5, 0.75] below one output unit
    epsilon = [[-0.125]]
    W = [[0.5], [-1.0]]
    g_prev = [[0.5, 0.75]]
    # epsilon_1 = (-0.125 * 0.5) * 0.5 * (1 - 0.5) = -0.015625
    # epsilon_2 = (-0.125 * -1) * 0.75 * 0.25    =  0.0234375
    expected = [[-0.015625, 0.0234375]]
    np.testing.assert_array_equal(arr(twin.epsilon_backward(epsilon, W, g_prev, "sigmoid")),
                                  expected)


@TWINS
def test_activations_by_hand(twin):
    ln3 = math.log(3.0)
    # sigmoid(0) = 1/2; sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4; sigmoid(-ln 3) = 1/3 / (1 + 1/3) = 1/4
    np.testing.assert_allclose(arr(twin.activation_forward([[0.0, ln3, -ln3]], "sigmoid")),
                               [[0.5, 0.75, 0.25]], rtol=1e-15)
    # tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 0.6
    np.testing.assert_allclose(arr(twin.activation_forward([[0.0, math.log(2.0)]], "tanh")),
                               [[0.0, 0.6]], rtol=1e-15)
    h = [[-1.5, 0.0, 2.0]]
    np.testing.assert_array_equal(arr(twin.activation_forward(h, "relu")), [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(arr(twin.activation_forward(h, "linear")), h)
    # the threshold unit fires at h >= 0
    np.testing.assert_array_equal(arr(twin.activation_forward(h, "step")), [[0.0, 1.0, 1.0]])


@TWINS
def test_softmax_by_hand(twin):
    # softmax([0, ln 2]) = [1, 2] / (1 + 2);  softmax([0, ln 2, ln 3]) = [1, 2, 3] / 6
    h = [[0.0, math.log(2.0), 0.0],
         [0.0, math.log(2.0), math.log(3.0)]]
    g = twin.activation_forward([h[0][:2]], "softmax")
    np.testing.assert_allclose(arr(g), [[1 / 3, 2 / 3]], rtol=1e-15)
    g = twin.activation_forward([h[1]], "softmax")
    np.testing.assert_allclose(arr(g), [[1 / 6, 2 / 6, 3 / 6]], rtol=1e-15)
    # each row on its own: [1, 2, 1] / 4 and [1, 2, 3] / 6
    np.testing.assert_allclose(arr(twin.activation_forward(h, "softmax")),
                               [[0.25, 0.5, 0.25], [1 / 6, 2 / 6, 3 / 6]], rtol=1e-15)


@TWINS
def test_activation_derivative_by_hand(twin):
    # sigmoid: g (1 - g) = 0.5 * 0.5 and 0.75 * 0.25
    np.testing.assert_array_equal(arr(twin.activation_derivative([[0.5, 0.75]], "sigmoid")),
                                  [[0.25, 0.1875]])
    # tanh: 1 - g^2 = 1 - 0.36
    np.testing.assert_allclose(arr(twin.activation_derivative([[0.6, 0.0]], "tanh")),
                               [[0.64, 1.0]], rtol=1e-15)
    # relu: [g > 0]; h <= 0 gives g = 0 and derivative 0
    np.testing.assert_array_equal(arr(twin.activation_derivative([[0.0, 2.0]], "relu")),
                                  [[0.0, 1.0]])
    np.testing.assert_array_equal(arr(twin.activation_derivative([[-3.0, 2.0]], "linear")),
                                  [[1.0, 1.0]])


@TWINS
def test_softmax_crossentropy_by_hand(twin):
    h = [[0.0, math.log(2.0)]] * 3              # softmax(h) = [1/3, 2/3]
    y = [[0.0, 1.0],
         [1.0, 0.0],
         [1.0, 1.0]]                            # not a distribution: counts twice
    loss, epsilon = twin.softmax_crossentropy(h, y)
    # -log(2/3) = ln(3/2);  -log(1/3) = ln 3;  ln 3 + ln(3/2) = ln(9/2)
    np.testing.assert_allclose(arr(loss), [math.log(1.5), math.log(3.0), math.log(4.5)],
                               rtol=1e-14)
    # yhat sum(y) - y: [1/3, 2/3 - 1], [1/3 - 1, 2/3], [2/3 - 1, 4/3 - 1]
    np.testing.assert_allclose(arr(epsilon), [[1 / 3, -1 / 3], [-2 / 3, 2 / 3], [-1 / 3, 1 / 3]],
                               rtol=1e-14)


@TWINS
def test_sigmoid_binary_crossentropy_by_hand(twin):
    ln3 = math.log(3.0)
    h = [[0.0, ln3],
         [-ln3, ln3]]
    y = [[1.0, 0.0],
         [1.0, 1.0]]
    loss, epsilon = twin.sigmoid_binary_crossentropy(h, y)
    # row 1: -log sigmoid(0) = ln 2;  -log(1 - sigmoid(ln 3)) = -log(1/4) = ln 4;  sum ln 8
    # row 2: -log sigmoid(-ln 3) = -log(1/4) = ln 4;  -log sigmoid(ln 3) = ln(4/3);  sum ln(16/3)
    np.testing.assert_allclose(arr(loss), [math.log(8.0), math.log(16 / 3)], rtol=1e-14)
    # sigmoid(h) - y: [1/2 - 1, 3/4 - 0], [1/4 - 1, 3/4 - 1]
    np.testing.assert_allclose(arr(epsilon), [[-0.5, 0.75], [-0.75, -0.25]], rtol=1e-14)


@TWINS
def test_squared_error_output_by_hand(twin):
    # the slide's sigmoid output: yhat = 0.75, y = 1
    E, epsilon = twin.squared_error_output([[0.75]], [[1.0]], "sigmoid")
    # E = 1/2 (0.75 - 1)^2 = 0.03125;  epsilon = (0.75 - 1) * 0.75 * 0.25 = -0.046875
    np.testing.assert_array_equal(arr(E), [0.03125])
    np.testing.assert_array_equal(arr(epsilon), [[-0.046875]])
    # linear output: E = 1/2 (2^2 + 2^2) = 4;  epsilon = g - y
    E, epsilon = twin.squared_error_output([[3.0, -1.0]], [[1.0, 1.0]], "linear")
    np.testing.assert_array_equal(arr(E), [4.0])
    np.testing.assert_array_equal(arr(epsilon), [[2.0, -2.0]])


# A 2-2-1 sigmoid network chosen so that every weighted sum of the sample is 0 (g = 1/2):
WORKED_WEIGHTS = [[[0.5, -1.0],
                   [0.25, 0.0]],      # W1
                  [-1.0, 1.0],        # b1
                  [[0.5],
                   [-1.0]],           # W2
                  [0.25]]             # b2
WORKED_X, WORKED_Y, WORKED_ETA = [[1.0, 2.0]], [[1.0]], 0.5
# forward:  h1 = [1*0.5 + 2*0.25 - 1, 1*(-1) + 2*0 + 1] = [0, 0]       g1 = [0.5, 0.5]
#           h2 = 0.5*0.5 + 0.5*(-1) + 0.25 = 0                        yhat = 0.5
#           E = 1/2 (0.5 - 1)^2 = 0.125
# output:   epsilon2 = (0.5 - 1) * 0.5 * (1 - 0.5) = -0.125
# hidden:   epsilon1 = epsilon2 * W2 (old) * g1 (1 - g1)
#                    = -0.125 * [0.5, -1] * 0.25 = [-0.015625, 0.03125]
# update:   W2' = W2 - eta g1 epsilon2 = [0.5, -1] - 0.5 * 0.5 * (-0.125) = [0.53125, -0.96875]
#           b2' = 0.25 - 0.5 * (-0.125) = 0.3125
#           W1' = W1 - eta outer(x, epsilon1)
#               = W1 - 0.5 * [[-0.015625, 0.03125], [-0.03125, 0.0625]]
#               = [[0.5078125, -1.015625], [0.265625, -0.03125]]
#           b1' = b1 - 0.5 * epsilon1 = [-0.9921875, 0.984375]
WORKED_NEW_WEIGHTS = [[[0.5078125, -1.015625], [0.265625, -0.03125]],
                      [-0.9921875, 0.984375],
                      [[0.53125], [-0.96875]],
                      [0.3125]]


@TWINS
def test_sgd_per_sample_worked_step(twin):
    new_weights, E = twin.sgd_per_sample(WORKED_WEIGHTS, WORKED_X, WORKED_Y, WORKED_ETA,
                                         "sigmoid")
    np.testing.assert_array_equal(arr(E), [0.125])          # all numbers above: binary fractions
    assert len(new_weights) == 4
    for new, expected in zip(new_weights, WORKED_NEW_WEIGHTS):
        np.testing.assert_array_equal(arr(new), expected)


@TWINS
def test_sgd_per_sample_goes_in_order(twin):
    """two samples == one call per sample, the second starting from the first's weights"""
    rng = np.random.default_rng(1)
    weights = random_weights(rng, [3, 4, 2])
    X, Y = rng.normal(size=(2, 3)), rng.uniform(size=(2, 2))
    both, E = twin.sgd_per_sample(weights, X, Y, 0.3, "sigmoid")
    after_first, E_first = twin.sgd_per_sample(weights, X[:1], Y[:1], 0.3, "sigmoid")
    after_second, E_second = twin.sgd_per_sample(after_first, X[1:], Y[1:], 0.3, "sigmoid")
    np.testing.assert_allclose(arr(E), [E_first[0], E_second[0]], **TWIN_TOL)
    for w_both, w_sequential in zip(both, after_second):
        np.testing.assert_allclose(arr(w_both), arr(w_sequential), **TWIN_TOL)
    # and the first sample's error falls after its own step
    _, E_again = twin.sgd_per_sample(after_first, X[:1], Y[:1], 0.3, "sigmoid")
    assert E_again[0] < E_first[0]


@TWINS
def test_sgd_update_by_hand(twin):
    # w' = w - eta grad: [1 - 0.1 * 0.5, 2 - 0.1 * (-1)]
    np.testing.assert_allclose(arr(twin.sgd_update([1.0, 2.0], [0.5, -1.0], 0.1)), [0.95, 2.1],
                               rtol=1e-15)
    np.testing.assert_allclose(
        arr(twin.sgd_update([[1.0, 2.0], [3.0, 4.0]], [[1.0, 0.0], [-2.0, 4.0]], 0.25)),
        [[0.75, 2.0], [3.5, 3.0]], rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# pure == vectorized, float64


shapes = dict(n=st.integers(1, 4), n_in=st.integers(1, 4), n_out=st.integers(1, 4),
              seed=st.integers(0, 2**32 - 1))


@FAST
@given(**shapes)
@example(n=1, n_in=1, n_out=1, seed=0)
def test_twins_agree_dense(n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    g_prev, W = rng.normal(size=(n, n_in)), rng.normal(size=(n_in, n_out))
    b, epsilon = rng.normal(size=n_out), rng.normal(size=(n, n_out))
    assert_twins_agree(pure.dense_forward(g_prev, W, b), vectorized.dense_forward(g_prev, W, b))
    for p, v in zip(pure.dense_backward(g_prev, W, epsilon),
                    vectorized.dense_backward(g_prev, W, epsilon)):
        assert_twins_agree(p, v)


@pytest.mark.parametrize("activation", pure.ACTIVATIONS)
@FAST
@given(**shapes)
@example(n=1, n_in=1, n_out=1, seed=0)
def test_twins_agree_activations(activation, n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    h = 3 * rng.normal(size=(n, n_out))
    assert_twins_agree(pure.activation_forward(h, activation),
                       vectorized.activation_forward(h, activation))
    # a lone vector: elementwise, or one softmax over it
    assert_twins_agree(pure.activation_forward(h[0], activation),
                       vectorized.activation_forward(h[0], activation))
    if activation in DIFFERENTIABLE:
        g = vectorized.activation_forward(h, activation)
        assert_twins_agree(pure.activation_derivative(g, activation),
                           vectorized.activation_derivative(g, activation))
        assert_twins_agree(pure.activation_derivative(g[0], activation),
                           vectorized.activation_derivative(g[0], activation))
        epsilon, W = rng.normal(size=(n, n_in)), rng.normal(size=(n_out, n_in))
        assert_twins_agree(pure.epsilon_backward(epsilon, W, g, activation),
                           vectorized.epsilon_backward(epsilon, W, g, activation))
        y = targets(rng, activation, (n, n_out))
        for p, v in zip(pure.squared_error_output(g, y, activation),
                        vectorized.squared_error_output(g, y, activation)):
            assert_twins_agree(p, v)


@FAST
@given(**shapes)
@example(n=1, n_in=1, n_out=1, seed=0)
def test_twins_agree_losses(n, n_in, n_out, seed):
    rng = np.random.default_rng(seed)
    h = 5 * rng.normal(size=(n, n_out))
    y_one_hot = np.eye(n_out)[rng.integers(0, n_out, size=n)]
    y_counts = rng.uniform(0, 2, size=(n, n_out))   # any non-negative rows
    for y in (y_one_hot, y_counts):
        for p, v in zip(pure.softmax_crossentropy(h, y), vectorized.softmax_crossentropy(h, y)):
            assert_twins_agree(p, v)
    y = rng.uniform(size=(n, n_out))
    for p, v in zip(pure.sigmoid_binary_crossentropy(h, y),
                    vectorized.sigmoid_binary_crossentropy(h, y)):
        assert_twins_agree(p, v)


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
@FAST
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), n=st.integers(1, 4),
       seed=st.integers(0, 2**32 - 1))
@example(sizes=[1, 1], n=1, seed=0)
def test_twins_agree_sgd_per_sample(activation, sizes, n, seed):
    rng = np.random.default_rng(seed)
    weights = random_weights(rng, sizes, scale=0.5)
    X = rng.normal(size=(n, sizes[0]))
    Y = targets(rng, activation, (n, sizes[-1]))
    new_pure, E_pure = pure.sgd_per_sample(weights, X, Y, 0.1, activation)
    new_vectorized, E_vectorized = vectorized.sgd_per_sample(weights, X, Y, 0.1, activation)
    assert_twins_agree(E_pure, E_vectorized)
    assert len(new_pure) == len(new_vectorized) == len(weights)
    for p, v, w in zip(new_pure, new_vectorized, weights):
        assert_twins_agree(p, v)
        assert v.shape == w.shape


@FAST
@given(n=st.integers(1, 4), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1),
       eta=st.floats(-2, 2))
def test_twins_agree_sgd_update(n, k, seed, eta):
    rng = np.random.default_rng(seed)
    w, grad = rng.normal(size=(n, k)), rng.normal(size=(n, k))
    assert_twins_agree(pure.sgd_update(w, grad, eta), vectorized.sgd_update(w, grad, eta))
    assert_twins_agree(pure.sgd_update(w[0], grad[0], eta),
                       vectorized.sgd_update(w[0], grad[0], eta))


def test_pure_takes_lists_and_arrays_alike():
    rng = np.random.default_rng(2)
    weights = random_weights(rng, [2, 3, 1])
    X, Y = rng.normal(size=(3, 2)), rng.uniform(size=(3, 1))
    from_arrays = pure.sgd_per_sample(weights, X, Y, 0.5, "tanh")
    from_lists = pure.sgd_per_sample([w.tolist() for w in weights], X.tolist(), Y.tolist(),
                                     0.5, "tanh")
    assert from_arrays == from_lists
    assert is_python_floats(from_arrays[1]) and all(is_python_floats(w) for w in from_arrays[0])
    h = rng.normal(size=(2, 3))
    assert pure.softmax_crossentropy(h, np.abs(h)) == pure.softmax_crossentropy(
        h.tolist(), np.abs(h).tolist())


# ---------------------------------------------------------------------------------------------
# float32 stays float32, and no argument is modified


def test_vectorized_keeps_float32():
    rng = np.random.default_rng(3)
    f32 = np.float32
    g_prev, W, b = (rng.normal(size=(3, 2)).astype(f32), rng.normal(size=(2, 4)).astype(f32),
                    rng.normal(size=4).astype(f32))
    h = vectorized.dense_forward(g_prev, W, b)
    y = rng.uniform(size=(3, 4)).astype(f32)
    outputs = [h, *vectorized.dense_backward(g_prev, W, h),
               vectorized.epsilon_backward(h, W, g_prev, "tanh"),
               *vectorized.softmax_crossentropy(h, y),
               *vectorized.sigmoid_binary_crossentropy(h, y),
               *vectorized.squared_error_output(y, y, "sigmoid"),
               vectorized.sgd_update(W, W, 0.5),
               vectorized.sgd_update(W, W, np.float64(0.5))]
    outputs += [vectorized.activation_forward(h, name) for name in ELEMENTWISE + ("softmax",)]
    outputs += [vectorized.activation_derivative(y, name) for name in DIFFERENTIABLE]
    new_weights, E = vectorized.sgd_per_sample([W, b], g_prev, y, np.float64(0.1), "sigmoid")
    outputs += [*new_weights, E]
    assert [o.dtype for o in outputs] == [np.dtype(f32)] * len(outputs)
    # and float32 agrees with float64 to float32 precision
    h64 = vectorized.dense_forward(g_prev.astype(np.float64), W.astype(np.float64), b)
    np.testing.assert_allclose(h, h64, rtol=1e-5, atol=1e-6)


@TWINS
def test_arguments_are_not_modified(twin):
    rng = np.random.default_rng(4)
    weights = random_weights(rng, [2, 3, 2])
    X, Y = rng.normal(size=(4, 2)), rng.uniform(size=(4, 2))
    frozen = [a.copy() for a in (*weights, X, Y)]
    for a in (*weights, X, Y):
        a.setflags(write=False)                 # an in-place write would raise
    new_weights, _ = twin.sgd_per_sample(weights, X, Y, 0.5, "sigmoid")
    new_w = twin.sgd_update(weights[0], weights[0], 0.5)
    twin.squared_error_output(Y, Y, "sigmoid")
    twin.activation_forward(X, "linear")
    for a, before in zip((*weights, X, Y), frozen):
        np.testing.assert_array_equal(a, before)
    assert not np.allclose(arr(new_weights[0]), weights[0])
    np.testing.assert_allclose(arr(new_w), 0.5 * weights[0], **TWIN_TOL)
    if twin is vectorized:
        g = vectorized.activation_forward(X, "linear")
        g += 1.0                                # a new array, not a view of X
        np.testing.assert_array_equal(X, frozen[-2])


def test_pure_never_imports_numpy_and_vectorized_only_numpy():
    def imported(module):
        names = set()
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.Import):
                names |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                names.add("." * node.level + (node.module or ""))
        return names

    # ._names holds the argument checks, in plain Python, and reads the activation names from
    # refnn.activations, the one table (plain Python too)
    assert imported(pure) == {"math", "._names"}
    assert imported(vectorized) == {"numpy", "._names"}
    assert imported(_names) == {"..activations"}
    assert imported(activations) == {"dataclasses"}
    assert _names.ACTIVATIONS == activations.NAMES == pure.ACTIVATIONS == vectorized.ACTIVATIONS


# ---------------------------------------------------------------------------------------------
# Numerical safety: huge finite logits


BIG = [700.0, 1e4, 1e300]


@TWINS
@pytest.mark.parametrize("big", BIG)
def test_sigmoid_saturates_without_overflow(twin, big):
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = arr(twin.activation_forward([[big, -big, 0.0]], "sigmoid"))
    assert np.all((g >= 0) & (g <= 1))
    assert g[0, 0] == 1.0 and g[0, 2] == 0.5
    assert g[0, 1] == pytest.approx(math.exp(-big), rel=1e-12, abs=0)   # 0.0 below e^-745


@TWINS
@pytest.mark.parametrize("big", BIG)
def test_softmax_rows_sum_to_one(twin, big):
    h = [[big, -big, 0.0],
         [big, big, -big],
         [-big, -big, -big]]
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = arr(twin.activation_forward(h, "softmax"))
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(g, [[1, 0, 0], [0.5, 0.5, 0], [1 / 3, 1 / 3, 1 / 3]],
                               rtol=1e-15, atol=1e-300)


@TWINS
@pytest.mark.parametrize("big", BIG)
def test_losses_stay_finite_for_huge_logits(twin, big):
    h = [[big, -big]] * 2
    y = [[1.0, 0.0],                            # the confident right answer: loss ~ 0
         [0.0, 1.0]]                            # the confident wrong answer: loss ~ 2 big
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        ce, ce_epsilon = map(arr, twin.softmax_crossentropy(h, y))
        bce, bce_epsilon = map(arr, twin.sigmoid_binary_crossentropy(h, y))
    for value in (ce, ce_epsilon, bce, bce_epsilon):
        assert np.all(np.isfinite(value))
    # CE: log(1 + e^-2big) ~ 0, and 2 big + log(1 + e^-2big)
    np.testing.assert_allclose(ce, [0.0, 2 * big], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(ce_epsilon, [[0.0, 0.0], [1.0, -1.0]], atol=1e-300)
    # BCE: 2 log(1 + e^-big) ~ 0, and big + big
    np.testing.assert_allclose(bce, [2 * math.log1p(math.exp(-big)), 2 * big], rtol=1e-12,
                               atol=0)
    np.testing.assert_allclose(bce_epsilon, [[0.0, 0.0], [1.0, -1.0]], atol=1e-300)


@TWINS
def test_small_losses_keep_their_digits(twin):
    # a confident right answer: loss = log(1 + e^-40) = e^-40 to double precision, not 0
    bce = twin.sigmoid_binary_crossentropy([[40.0, -40.0]], [[1.0, 0.0]])[0]
    ce = twin.softmax_crossentropy([[40.0, 0.0]], [[1.0, 0.0]])[0]
    assert bce[0] == pytest.approx(2 * math.exp(-40.0), rel=1e-12)
    assert ce[0] == pytest.approx(math.exp(-40.0), rel=1e-12)


def test_vectorized_float32_huge_logits():
    h = np.array([[1e4, -1e4, 88.0, -104.0]], dtype=np.float32)   # e^88, e^104 overflow float32
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        g = vectorized.activation_forward(h, "sigmoid")
        softmax = vectorized.activation_forward(h, "softmax")
        loss, epsilon = vectorized.softmax_crossentropy(h, np.array([[0, 1, 0, 0]], np.float32))
        bce, _ = vectorized.sigmoid_binary_crossentropy(h, np.ones_like(h))
    assert np.all((g >= 0) & (g <= 1)) and g[0, 0] == 1 and g[0, 1] == 0
    np.testing.assert_allclose(softmax.sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(loss, [2e4], rtol=1e-6)
    assert np.all(np.isfinite(epsilon)) and np.isfinite(bce).all()


# ---------------------------------------------------------------------------------------------
# Finite differences (float64, central, step 1e-6)


@TWINS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_activation_derivative_matches_finite_differences(twin, activation):
    h = away_from_zero(np.random.default_rng(5), (3, 4))

    def f(h):
        return arr(twin.activation_forward(h, activation))

    expected = (f(h + STEP) - f(h - STEP)) / (2 * STEP)       # d/dh f(h), elementwise
    g = twin.activation_forward(h, activation)
    np.testing.assert_allclose(arr(twin.activation_derivative(g, activation)), expected,
                               **FD_TOL)


@TWINS
@pytest.mark.parametrize("target", ["one-hot", "non-negative"])
def test_softmax_crossentropy_epsilon_is_the_gradient(twin, target):
    rng = np.random.default_rng(6)
    h = 2 * rng.normal(size=(3, 4))
    y = np.eye(4)[[0, 3, 1]] if target == "one-hot" else rng.uniform(0, 2, size=(3, 4))
    _, epsilon = twin.softmax_crossentropy(h, y)
    expected = numerical_gradient(lambda h: sum(twin.softmax_crossentropy(h, y)[0]), h)
    np.testing.assert_allclose(arr(epsilon), expected, **FD_TOL)


@TWINS
def test_sigmoid_binary_crossentropy_epsilon_is_the_gradient(twin):
    rng = np.random.default_rng(7)
    h, y = 2 * rng.normal(size=(3, 4)), rng.uniform(size=(3, 4))
    _, epsilon = twin.sigmoid_binary_crossentropy(h, y)
    expected = numerical_gradient(lambda h: sum(twin.sigmoid_binary_crossentropy(h, y)[0]), h)
    np.testing.assert_allclose(arr(epsilon), expected, **FD_TOL)


@TWINS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_squared_error_output_epsilon_is_the_gradient(twin, activation):
    rng = np.random.default_rng(8)
    h = away_from_zero(rng, (3, 2))
    y = targets(rng, activation, (3, 2))

    def E(h):                                   # sum over samples of 1/2 sum_k (f(h_k) - y_k)^2
        g = twin.activation_forward(h, activation)
        return sum(twin.squared_error_output(g, y, activation)[0])

    _, epsilon = twin.squared_error_output(twin.activation_forward(h, activation), y, activation)
    np.testing.assert_allclose(arr(epsilon), numerical_gradient(E, h), **FD_TOL)


@TWINS
def test_dense_backward_is_the_gradient(twin):
    rng = np.random.default_rng(9)
    g_prev, W, b = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    R = rng.normal(size=(3, 2))

    def loss(g_prev, W, b):                     # sum(h * R): dloss/dh = R
        return float(np.sum(arr(twin.dense_forward(g_prev, W, b)) * R))

    dW, db, dg_prev = twin.dense_backward(g_prev, W, R)
    np.testing.assert_allclose(arr(dW), numerical_gradient(lambda W: loss(g_prev, W, b), W),
                               **FD_TOL)
    np.testing.assert_allclose(arr(db), numerical_gradient(lambda b: loss(g_prev, W, b), b),
                               **FD_TOL)
    np.testing.assert_allclose(arr(dg_prev),
                               numerical_gradient(lambda g: loss(g, W, b), g_prev), **FD_TOL)


@TWINS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_epsilon_backward_is_the_gradient(twin, activation):
    rng = np.random.default_rng(10)
    h_prev = away_from_zero(rng, (3, 4))        # the layer below: g_prev = f(h_prev)
    W, b, R = rng.normal(size=(4, 2)), rng.normal(size=2), rng.normal(size=(3, 2))

    def loss(h_prev):                           # sum(h * R) with h = f(h_prev) @ W + b
        g_prev = twin.activation_forward(h_prev, activation)
        return float(np.sum(arr(twin.dense_forward(g_prev, W, b)) * R))

    g_prev = twin.activation_forward(h_prev, activation)
    np.testing.assert_allclose(arr(twin.epsilon_backward(R, W, g_prev, activation)),
                               numerical_gradient(loss, h_prev), **FD_TOL)


def forward_E(weights, x, y, activation):
    """E = 1/2 sum_k (yhat_k - y_k)^2 of one sample, in plain NumPy (independent of the twins)"""
    f = {"sigmoid": lambda h: 1 / (1 + np.exp(-h)), "tanh": np.tanh,
         "relu": lambda h: np.maximum(h, 0), "linear": lambda h: h}[activation]
    g = np.asarray(x, dtype=np.float64)
    for W, b in zip(weights[0::2], weights[1::2]):
        g = f(g @ W + b)
    return 0.5 * np.sum((g - y) ** 2)


@TWINS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
@pytest.mark.parametrize("sizes", [[3, 4, 2], [2, 3, 3, 1]], ids=["3-4-2", "2-3-3-1"])
def test_sgd_per_sample_steps_down_the_gradient(twin, activation, sizes):
    rng = np.random.default_rng(11)
    weights = random_weights(rng, sizes)
    x, y = rng.normal(size=sizes[0]), targets(rng, activation, sizes[-1])
    eta = 0.3
    new_weights, E = twin.sgd_per_sample(weights, [x], [y], eta, activation)
    assert E[0] == pytest.approx(forward_E(weights, x, y, activation), rel=1e-12)
    for l, w in enumerate(weights):
        def E_of(w_l, l=l):
            return forward_E(weights[:l] + [w_l] + weights[l + 1:], x, y, activation)

        np.testing.assert_allclose(arr(new_weights[l]), w - eta * numerical_gradient(E_of, w),
                                   **FD_TOL)


@TWINS
@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_mean_of_per_sample_gradients_is_the_batch_gradient(twin, activation):
    rng = np.random.default_rng(12)
    weights = random_weights(rng, [3, 4, 2])
    X, Y = rng.normal(size=(5, 3)), targets(rng, activation, (5, 2))

    def mean_loss_and_gradients(X, Y):
        """mean over samples of E, and its gradient: epsilon of the output divided by n"""
        W1, b1, W2, b2 = weights
        g1 = twin.activation_forward(twin.dense_forward(X, W1, b1), activation)
        g2 = twin.activation_forward(twin.dense_forward(g1, W2, b2), activation)
        E, epsilon2 = twin.squared_error_output(g2, Y, activation)
        epsilon2 = arr(epsilon2) / len(X)       # d(mean E)/dh2
        dW2, db2, _ = twin.dense_backward(g1, W2, epsilon2)
        epsilon1 = twin.epsilon_backward(epsilon2, W2, g1, activation)
        dW1, db1, _ = twin.dense_backward(X, W1, epsilon1)
        return float(np.mean(E)), [arr(d) for d in (dW1, db1, dW2, db2)]

    batch_loss, batch_grads = mean_loss_and_gradients(X, Y)
    per_sample = [mean_loss_and_gradients(X[s:s + 1], Y[s:s + 1]) for s in range(len(X))]
    assert batch_loss == pytest.approx(np.mean([E for E, _ in per_sample]), rel=1e-12)
    for l, batch_grad in enumerate(batch_grads):
        mean_grad = np.mean([grads[l] for _, grads in per_sample], axis=0)
        np.testing.assert_allclose(batch_grad, mean_grad, **TWIN_TOL)

        # and both are the gradient of the mean loss
        def mean_E(w_l, l=l):
            ws = weights[:l] + [w_l] + weights[l + 1:]
            return np.mean([forward_E(ws, x, y, activation) for x, y in zip(X, Y)])

        np.testing.assert_allclose(batch_grad, numerical_gradient(mean_E, weights[l]), **FD_TOL)


# ---------------------------------------------------------------------------------------------
# Errors


@TWINS
@pytest.mark.parametrize("activation", ["softmax", "step"])
def test_no_elementwise_derivative_for_softmax_and_step(twin, activation):
    g, W = [[0.2, 0.8]], [[1.0, 0.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match=activation):
        twin.activation_derivative(g, activation)
    with pytest.raises(ValueError, match=activation):
        twin.squared_error_output(g, [[0.0, 1.0]], activation)
    with pytest.raises(ValueError, match=activation):
        twin.epsilon_backward(g, W, g, activation)
    with pytest.raises(ValueError, match=activation):
        twin.sgd_per_sample([W, [0.0, 0.0]], g, g, 0.1, activation)


@TWINS
@pytest.mark.parametrize("call", [
    lambda twin, name: twin.activation_forward([[0.0]], name),
    lambda twin, name: twin.activation_derivative([[0.5]], name),
    lambda twin, name: twin.epsilon_backward([[1.0]], [[1.0]], [[0.5]], name),
    lambda twin, name: twin.squared_error_output([[0.5]], [[1.0]], name),
    lambda twin, name: twin.sgd_per_sample([[[1.0]], [0.0]], [[1.0]], [[1.0]], 0.1, name),
], ids=["activation_forward", "activation_derivative", "epsilon_backward",
        "squared_error_output", "sgd_per_sample"])
def test_unknown_activation_lists_the_valid_names(twin, call):
    with pytest.raises(ValueError) as info:
        call(twin, "sigmod")
    message = str(info.value)
    assert "sigmod" in message
    assert all(repr(name) in message for name in twin.ACTIVATIONS)


@TWINS
def test_activations_tuple(twin):
    assert twin.ACTIVATIONS == ("sigmoid", "tanh", "relu", "linear", "softmax", "step")


@TWINS
def test_shape_mismatches_raise(twin):
    W = [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError):
        twin.dense_forward([[1.0, 2.0, 3.0]], W, [0.0, 0.0])       # 3 features, W expects 2
    with pytest.raises(ValueError):
        twin.dense_forward([[1.0, 2.0]], W, [0.0])                 # b too short
    with pytest.raises(ValueError):
        twin.dense_backward([[1.0, 2.0]], W, [[1.0, 2.0], [3.0, 4.0]])   # 2 epsilons, 1 sample
    with pytest.raises(ValueError):
        twin.softmax_crossentropy([[1.0, 2.0]], [[1.0]])           # y would broadcast
    with pytest.raises(ValueError):
        twin.sigmoid_binary_crossentropy([[1.0, 2.0]], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError):
        twin.sgd_update([1.0, 2.0], [1.0], 0.1)
    with pytest.raises(ValueError):
        twin.sgd_per_sample([W, [0.0, 0.0], [[1.0]], [0.0]], [[1.0, 2.0]], [[1.0]], 0.1,
                            "sigmoid")                             # W2 has 1 row, layer 1 gives 2
    with pytest.raises(ValueError):
        twin.sgd_per_sample([W], [[1.0, 2.0]], [[1.0, 1.0]], 0.1, "sigmoid")   # no b1
