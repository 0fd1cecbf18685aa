"""Tests of refnn.gradcheck against small NumPy models written out here.

Every model below computes its loss and its gradients by hand, so the check is tested
against an independent oracle: right gradients must pass, gradients made wrong on purpose
must fail at the entry that was changed, and steps across relu/Huber kinks must be seen.
"""

import json

import numpy as np
import pytest

from refnn.gradcheck import GradcheckReport, check_function, gradcheck


# ---------------------------------------------------------------------------------------
# Small models: get_weights / set_weights / loss_and_gradients, written in NumPy
# ---------------------------------------------------------------------------------------

class LinearMSE:
    """y_hat = X @ W + b;  L = mean over samples and outputs of (y_hat - y)^2  (Keras mse)."""

    dtype = "float64"

    def __init__(self, n_in, n_out, seed=0):
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(n_in, n_out))   # (n_in, n_out)
        self.b = rng.normal(size=n_out)           # (n_out,)

    def get_weights(self):
        return [self.W.copy(), self.b.copy()]

    def set_weights(self, weights):
        self.W, self.b = (np.array(w, dtype=np.float64) for w in weights)

    def weight_names(self):
        return ["W", "b"]

    def loss_and_gradients(self, X, Y):
        n, k = Y.shape
        residual = X @ self.W + self.b - Y                # (n, n_out)
        loss = np.mean(residual ** 2)
        epsilon = 2 * residual / (n * k)                  # dL/dy_hat
        return loss, [X.T @ epsilon, epsilon.sum(axis=0)]


class TanhNet:
    """h1 = X W1 + b1, g1 = tanh(h1), y_hat = g1 W2 + b2;  L = mean_i 1/2 sum_k (y_hat - y)^2.

    `wrong` maps a tensor position to a function that spoils its gradient.
    """

    def __init__(self, n_in=3, n_hidden=4, n_out=2, seed=0, wrong=None):
        rng = np.random.default_rng(seed)
        self.weights = [rng.normal(size=(n_in, n_hidden)), rng.normal(size=n_hidden),
                        rng.normal(size=(n_hidden, n_out)), rng.normal(size=n_out)]
        self.wrong = wrong or {}
        self.calls = 0

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]

    def weight_names(self):
        return ["W1", "b1", "W2", "b2"]

    def loss_and_gradients(self, X, Y):
        self.calls += 1
        W1, b1, W2, b2 = self.weights
        g1 = np.tanh(X @ W1 + b1)                         # (n, n_hidden)
        y_hat = g1 @ W2 + b2                              # (n, n_out)
        loss = 0.5 * np.sum((y_hat - Y) ** 2) / len(X)
        epsilon2 = (y_hat - Y) / len(X)                   # output error term
        epsilon1 = (epsilon2 @ W2.T) * (1 - g1 ** 2)      # tanh' written from g
        grads = [X.T @ epsilon1, epsilon1.sum(axis=0), g1.T @ epsilon2, epsilon2.sum(axis=0)]
        for t, spoil in self.wrong.items():
            grads[t] = spoil(grads[t].copy())
        return loss, grads


class ReluNetNoKinks:
    """h1 = X W1 + b1, g1 = max(h1, 0), y_hat = g1 W2 + b2;  L = mean_i 1/2 sum (y_hat - y)^2.

    relu'(0) = 0, as in Keras and PyTorch.
    """

    def __init__(self, W1, b1, W2, b2):
        self.weights = [np.array(w, dtype=np.float64) for w in (W1, b1, W2, b2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]

    def weight_names(self):
        return ["W1", "b1", "W2", "b2"]

    def loss_and_gradients(self, X, Y):
        W1, b1, W2, b2 = self.weights
        h1 = X @ W1 + b1
        g1 = np.maximum(h1, 0.0)
        y_hat = g1 @ W2 + b2
        loss = 0.5 * np.sum((y_hat - Y) ** 2) / len(X)
        epsilon2 = (y_hat - Y) / len(X)
        epsilon1 = (epsilon2 @ W2.T) * (h1 > 0)
        return loss, [X.T @ epsilon1, epsilon1.sum(axis=0), g1.T @ epsilon2,
                      epsilon2.sum(axis=0)]


class ReluNet(ReluNetNoKinks):
    def kink_signature(self, X, Y):
        W1, b1, _, _ = self.weights
        return [X @ W1 + b1 > 0]


class HuberNoKinks:
    """y_hat = X W + b;  L = mean over samples and outputs of huber(y_hat - y, delta)."""

    def __init__(self, W, b, delta=1.0):
        self.weights = [np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)]
        self.delta = delta

    def get_weights(self):
        return [w.copy() for w in self.weights]

    def set_weights(self, weights):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]

    def weight_names(self):
        return ["W", "b"]

    def residual(self, X, Y):
        W, b = self.weights
        return X @ W + b - Y

    def loss_and_gradients(self, X, Y):
        r = self.residual(X, Y)
        d = self.delta
        inside = np.abs(r) <= d
        loss = np.mean(np.where(inside, 0.5 * r ** 2, d * (np.abs(r) - 0.5 * d)))
        epsilon = np.where(inside, r, d * np.sign(r)) / r.size
        return loss, [X.T @ epsilon, epsilon.sum(axis=0)]


class Huber(HuberNoKinks):
    def kink_signature(self, X, Y):
        return [np.abs(self.residual(X, Y)) <= self.delta]


class Float32Net:
    """A linear mse model that really computes in its dtype (float32 by default)."""

    def __init__(self, dtype="float32", seed=0):
        self.dtype = np.dtype(dtype)
        rng = np.random.default_rng(seed)
        self.W = rng.normal(size=(3, 2)).astype(self.dtype)
        self.b = rng.normal(size=2).astype(self.dtype)

    def get_weights(self):
        return [self.W.copy(), self.b.copy()]

    def set_weights(self, weights):
        self.W, self.b = (np.array(w, dtype=self.dtype) for w in weights)

    def loss_and_gradients(self, X, Y):
        X, Y = X.astype(self.dtype), Y.astype(self.dtype)
        residual = X @ self.W + self.b - Y
        epsilon = 2 * residual / residual.size
        return float(np.mean(residual ** 2)), [X.T @ epsilon, epsilon.sum(axis=0)]


class Float32NetWithAstype(Float32Net):
    def astype(self, dtype):
        copy = Float32Net(dtype)
        copy.set_weights(self.get_weights())
        return copy


def data(n=5, n_in=3, n_out=2, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, n_in)), rng.normal(size=(n, n_out))


def bits(weights):
    return [np.asarray(w).tobytes() for w in weights]


# ---------------------------------------------------------------------------------------
# Right gradients pass; wrong ones fail where they are wrong
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("model", [LinearMSE(3, 2), TanhNet()], ids=["linear-mse", "tanh"])
def test_correct_gradients_pass_with_tiny_error(model):
    X, Y = data()
    report = gradcheck(model, X, Y)
    assert isinstance(report, GradcheckReport)
    assert report.ok
    # at step 1e-6 round-off (about 1e-16 |L| / step) still shows in the relative error of
    # the small tanh-net entries; step 1e-5 balances it against the O(step^2) truncation
    assert gradcheck(model, X, Y, step=1e-5).max_rel_error < 1e-7
    sizes = [w.size for w in model.get_weights()]
    assert [row.n_checked for row in report.rows] == sizes
    assert [row.n_kinks for row in report.rows] == [0] * len(sizes)
    assert report.failures == [] and report.kinks == []
    # the reported loss and analytic values are the model's own
    loss, grads = model.loss_and_gradients(X, Y)
    assert report.loss == loss
    for row, g in zip(report.rows, grads):
        assert row.shape == g.shape
        assert row.analytic == g[row.index]
        assert abs(row.numeric - g[row.index]) <= 1e-6 * abs(g[row.index])


def test_numeric_values_match_an_independent_finite_difference():
    X, Y = data()
    model = LinearMSE(3, 2)
    report = gradcheck(model, X, Y, step=1e-5)
    # mse is quadratic in the weights, so the central difference is exact up to round-off;
    # redo it here by hand for the reported worst entry of W
    row = report.rows[0]
    W, b = model.get_weights()
    Wp, Wm = W.copy(), W.copy()
    Wp[row.index] += 1e-5
    Wm[row.index] -= 1e-5
    mse = lambda W_: np.mean((X @ W_ + b - Y) ** 2)  # noqa: E731
    by_hand = (mse(Wp) - mse(Wm)) / (Wp[row.index] - Wm[row.index])
    assert row.numeric == pytest.approx(by_hand, rel=1e-12)


def test_gradient_twice_too_large_fails_in_that_tensor():
    X, Y = data()
    model = TanhNet(wrong={2: lambda g: 2 * g})          # dL/dW2 doubled
    report = gradcheck(model, X, Y)
    assert not report.ok
    by_name = {row.name: row for row in report.rows}
    assert [name for name, row in by_name.items() if not row.ok] == ["W2"]
    # a = 2 n  gives  r = |2n - n| / (|2n| + |n|) = 1/3 at every entry
    assert by_name["W2"].max_rel_error == pytest.approx(1 / 3, rel=1e-6)
    assert by_name["W2"].n_failed == by_name["W2"].n_checked == 8
    assert report.max_rel_error == by_name["W2"].max_rel_error
    assert {entry.name for entry in report.failures} == {"W2"}
    text = str(report)
    assert "NOT OK" in text and "W2: 8 of 8 entries fail" in text


def test_one_wrong_entry_is_named_with_its_index():
    X, Y = data()

    def spoil(g):
        g[1, 2] += 0.1
        return g

    report = gradcheck(TanhNet(wrong={0: spoil}), X, Y)
    w1 = report.rows[0]
    assert (w1.name, w1.ok, w1.index, w1.n_failed) == ("W1", False, (1, 2), 1)
    assert all(row.ok for row in report.rows[1:])
    _, grads = TanhNet().loss_and_gradients(X, Y)
    assert w1.analytic == pytest.approx(grads[0][1, 2] + 0.1, rel=1e-12)
    assert w1.numeric == pytest.approx(grads[0][1, 2], rel=1e-7)
    assert [(e.name, e.index) for e in report.failures] == [("W1", (1, 2))]
    assert "W1: 1 of 12 entries fail; worst at (1, 2)" in str(report)


# ---------------------------------------------------------------------------------------
# Kinks
# ---------------------------------------------------------------------------------------

X_RELU = np.array([[1.0, 2.0], [1.0, -1.0]])
Y_RELU = np.array([[0.3], [-0.2]])


def relu_weights(b1_0):
    """Sample 0 meets hidden unit 0 at h = 1*0.5 + 2*(-0.25) + b1_0 = b1_0; the other three
    h are 0.375 or more away from 0, and nothing else in the net bends."""
    W1 = np.array([[0.5, 0.75], [-0.25, 0.5]])
    b1 = np.array([b1_0, 0.125])
    W2 = np.array([[1.5], [-0.5]])
    b2 = np.array([0.25])
    return W1, b1, W2, b2


@pytest.mark.parametrize("b1_0, crossed", [(0.0, "+step"), (3e-7, "-step")],
                         ids=["h-exactly-0", "h-within-step"])
def test_relu_kink_is_reported_not_failed(b1_0, crossed):
    weights = relu_weights(b1_0)
    assert (X_RELU @ weights[0] + weights[1])[0, 0] == b1_0

    with_kinks = gradcheck(ReluNet(*weights), X_RELU, Y_RELU)
    assert with_kinks.ok
    # h[0, 0] depends on W1[0, 0], W1[1, 0] and b1[0]: exactly these straddle the kink
    assert [(e.name, e.index) for e in with_kinks.kinks] == [
        ("W1", (0, 0)), ("W1", (1, 0)), ("b1", (0,))]
    assert {e.crossed for e in with_kinks.kinks} == {crossed}
    assert [row.n_kinks for row in with_kinks.rows] == [2, 1, 0, 0]
    assert [row.n_checked for row in with_kinks.rows] == [2, 1, 2, 1]
    assert with_kinks.max_rel_error < 1e-7
    text = str(with_kinks)
    assert "3 entries skipped at kinks" in text and "W1 (0, 0)" in text

    without = gradcheck(ReluNetNoKinks(*weights), X_RELU, Y_RELU)
    assert not without.ok and without.kinks == []
    assert [row.ok for row in without.rows] == [False, False, True, True]
    assert without.rows[0].index[1] == 0 and without.rows[1].index == (0,)
    assert without.max_rel_error > 0.1                    # an O(1) disagreement


def test_huber_kink_is_reported_not_failed():
    # residual of sample 0, output 0: 1*0.5 + 0.25 - (-0.25) = 1.0 = delta exactly
    X = np.array([[1.0], [2.0], [-0.5]])
    Y = np.array([[-0.25, 0.0], [0.5, 4.0], [2.0, -1.0]])
    W, b = np.array([[0.5, 1.5]]), np.array([0.25, -0.125])
    r = X @ W + b - Y
    assert r[0, 0] == 1.0 and np.min(np.abs(np.abs(r.ravel()[1:]) - 1.0)) >= 0.125

    # a large step makes the O(step) error at the kink plain; away from kinks Huber is
    # piecewise quadratic, so the central difference there is exact up to round-off
    with_kinks = gradcheck(Huber(W, b), X, Y, step=1e-4)
    assert with_kinks.ok and with_kinks.max_rel_error < 1e-9
    assert [(e.name, e.index) for e in with_kinks.kinks] == [("W", (0, 0)), ("b", (0,))]
    assert [row.n_kinks for row in with_kinks.rows] == [1, 1]

    without = gradcheck(HuberNoKinks(W, b), X, Y, step=1e-4)
    assert not without.ok
    assert [(e.name, e.index) for e in without.failures] == [("W", (0, 0)), ("b", (0,))]


# ---------------------------------------------------------------------------------------
# Weights are restored exactly; float64 only
# ---------------------------------------------------------------------------------------

def test_weights_restored_bit_for_bit():
    X, Y = data()
    model = TanhNet(seed=3)
    model.set_weights([w * np.pi / 7 for w in model.get_weights()])  # no round values
    before = bits(model.get_weights())
    gradcheck(model, X, Y)
    assert bits(model.get_weights()) == before


class Fails(TanhNet):
    def loss_and_gradients(self, X, Y):
        if self.calls == 6:                           # mid-check, with one weight moved
            raise RuntimeError("model failed")
        return super().loss_and_gradients(X, Y)


def test_weights_restored_when_the_model_raises():
    X, Y = data()
    model = Fails(seed=4)
    before = bits(model.get_weights())
    with pytest.raises(RuntimeError, match="model failed"):
        gradcheck(model, X, Y)
    assert model.calls == 6
    assert bits(model.get_weights()) == before


def test_float32_model_with_astype_is_checked_in_float64():
    X, Y = data(n_in=3)
    model = Float32NetWithAstype()
    before = bits(model.get_weights())
    report = gradcheck(model, X, Y)
    assert report.ok and report.max_rel_error < 1e-7
    assert report.converted_from == "float32"
    assert "float64 copy of the float32 model" in str(report)
    assert bits(model.get_weights()) == before
    assert model.W.dtype == np.float32
    # the check really needs the copy: float32 arithmetic itself cannot pass
    float32_report = check_function(
        lambda p: (model.set_weights(p), model.loss_and_gradients(X, Y))[1],
        model.get_weights())
    assert not float32_report.ok


def test_float32_model_without_astype_is_refused():
    X, Y = data(n_in=3)
    with pytest.raises(ValueError, match=r'float32.*dtype="float64"'):
        gradcheck(Float32Net(), X, Y)


def test_float64_model_is_checked_itself():
    X, Y = data(n_in=3)
    report = gradcheck(Float32Net("float64"), X, Y)
    assert report.ok and report.converted_from is None


# ---------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("X, Y, error, match", [
    (np.array([[np.nan, 1.0, 2.0]]), np.zeros((1, 2)), ValueError, "X must be finite, got nan"),
    (np.zeros((1, 3)), np.array([[np.inf, 0.0]]), ValueError, "Y must be finite, got inf"),
    (np.zeros((0, 3)), np.zeros((0, 2)), ValueError, "X is empty"),
    (np.zeros((2, 3)), np.zeros((3, 2)), ValueError, "X with 2 and Y with 3"),
    (np.array([["a", "b", "c"]]), np.zeros((1, 2)), TypeError, "X must be an array of numbers"),
    (np.zeros((1, 3)), np.array([[1j, 0]]), TypeError, "Y must be real-valued"),
    (np.float64(1.0), np.zeros((1, 2)), ValueError, "X must have a sample axis"),
])
def test_bad_data_raises(X, Y, error, match):
    with pytest.raises(error, match=match):
        gradcheck(LinearMSE(3, 2), X, Y)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"step": 0.0}, ValueError, "step must be a positive"),
    ({"step": -1e-6}, ValueError, "step must be a positive"),
    ({"step": np.nan}, ValueError, "step must be a positive"),
    ({"step": "1e-6"}, TypeError, "step must be a positive real"),
    ({"tolerance": 0}, ValueError, "tolerance must be a positive"),
    ({"tolerance": -1.0}, ValueError, "tolerance must be a positive"),
    ({"tiny": 0.0}, ValueError, "tiny must be a positive"),
    ({"max_entries_per_tensor": 0}, ValueError, "max_entries_per_tensor must be at least 1"),
    ({"max_entries_per_tensor": 2.5}, TypeError, "max_entries_per_tensor must be"),
    ({"names": ["a"]}, ValueError, "expected 2, received 1"),
])
def test_bad_settings_raise(kwargs, error, match):
    X, Y = data()
    with pytest.raises(error, match=match):
        gradcheck(LinearMSE(3, 2), X, Y, **kwargs)


def test_object_without_the_protocol_is_refused():
    X, Y = data()
    with pytest.raises(TypeError, match="loss_and_gradients"):
        gradcheck(object.__new__(type("NoLoss", (), {"get_weights": lambda s: [],
                                                    "set_weights": lambda s, w: None})),
                  X, Y)


# ---------------------------------------------------------------------------------------
# Sampling, names, the table, plain data
# ---------------------------------------------------------------------------------------

def test_max_entries_per_tensor_checks_the_stated_number():
    X, Y = data()
    model = TanhNet()                                    # sizes 12, 4, 8, 2
    report = gradcheck(model, X, Y, max_entries_per_tensor=5)
    assert [row.n_checked for row in report.rows] == [5, 4, 5, 2]
    assert model.calls == 1 + 2 * (5 + 4 + 5 + 2)        # one call at w, two per entry
    again = gradcheck(TanhNet(), X, Y, max_entries_per_tensor=5)
    assert again.to_dict() == report.to_dict()           # the same seed, the same subset


def test_entries_list_every_perturbed_entry_with_its_central_difference():
    X, Y = data()
    model = LinearMSE(3, 2)
    step = 1e-6
    report = gradcheck(model, X, Y, step=step, max_entries_per_tensor=4)
    assert all(e.crossed is None for e in report.entries)      # a linear model: no kinks
    assert len(report.entries) == report.n_checked == 4 + 2      # W has 6 entries, b has 2
    weights = model.get_weights()
    _, grads = model.loss_and_gradients(X, Y)
    for entry in report.entries:                       # the oracle: the difference by hand
        t = ["W", "b"].index(entry.name)
        moved = [[w.copy() for w in weights] for _ in range(2)]
        moved[0][t][entry.index] += step
        moved[1][t][entry.index] -= step
        losses = []
        for ws in moved:
            model.set_weights(ws)
            losses.append(model.loss_and_gradients(X, Y)[0])
        model.set_weights(weights)
        assert entry.analytic == grads[t][entry.index]
        assert entry.numeric == pytest.approx((losses[0] - losses[1]) / (2 * step), rel=1e-6)
        assert entry.rel_error <= report.rows[t].max_rel_error

@pytest.mark.parametrize("seed", range(5))
def test_sampled_check_always_includes_the_largest_gradient(seed):
    X, Y = data()
    _, grads = TanhNet().loss_and_gradients(X, Y)
    largest = np.unravel_index(np.argmax(np.abs(grads[0])), grads[0].shape)

    def spoil(g):
        g[largest] *= 1.5
        return g

    report = gradcheck(TanhNet(wrong={0: spoil}), X, Y, max_entries_per_tensor=2, seed=seed)
    assert not report.rows[0].ok
    assert report.rows[0].index == tuple(int(i) for i in largest)


def test_names_from_model_argument_or_default():
    X, Y = data(n_in=3)
    assert [r.name for r in gradcheck(LinearMSE(3, 2), X, Y).rows] == ["W", "b"]
    named = gradcheck(LinearMSE(3, 2), X, Y, names=["dense/kernel", "dense/bias"])
    assert [r.name for r in named.rows] == ["dense/kernel", "dense/bias"]
    assert [r.name for r in gradcheck(Float32Net("float64"), X, Y).rows] == [
        "param0", "param1"]


def test_table_lists_tensors_and_verdicts():
    X, Y = data()
    text = str(gradcheck(TanhNet(), X, Y))
    lines = text.splitlines()
    assert lines[0] == ("gradient check: central differences, step 1e-06, tolerance 1e-06, "
                        "float64")
    assert lines[1].split() == ["tensor", "shape", "checked", "worst", "rel.err", "at",
                                "analytic", "numeric", "kinks", "ok"]
    shape_col, ok_col = lines[1].index("shape"), lines[1].rindex("ok")
    for line, name, shape in zip(lines[2:6], ["W1", "b1", "W2", "b2"],
                                 ["(3, 4)", "(4,)", "(4, 2)", "(2,)"]):
        # fixed width: each column starts where its header starts
        assert line.startswith(name + " ")
        assert line[shape_col:].startswith(shape + " ")
        assert line[ok_col:] == "yes"
    assert lines[-1].startswith("all 26 gradients agree (max relative error ")


def test_to_dict_is_plain_json_ready_data():
    X, Y = data()
    report = gradcheck(TanhNet(wrong={3: lambda g: -g}), X, Y)
    d = report.to_dict()
    assert json.loads(json.dumps(d))["ok"] is False
    assert d["max_rel_error"] == report.max_rel_error
    assert [row["name"] for row in d["rows"]] == ["W1", "b1", "W2", "b2"]
    assert d["rows"][3]["ok"] is False and d["rows"][3]["max_rel_error"] == pytest.approx(1.0)
    assert d["failures"][0]["name"] == "b2" and d["step"] == 1e-6


# ---------------------------------------------------------------------------------------
# check_function on kernels
# ---------------------------------------------------------------------------------------

def quadratic(A):
    """f(w) = 1/2 w^T A w, gradient A w (for symmetric A)."""
    def f(params):
        (w,) = params
        return 0.5 * w @ A @ w, [A @ w]
    return f


def test_check_function_on_a_quadratic():
    rng = np.random.default_rng(0)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + np.eye(4)                               # symmetric
    w = rng.normal(size=4)
    w_before = w.copy()
    report = check_function(quadratic(A), [w], names=["w"])
    assert report.ok and report.max_rel_error < 1e-7
    assert report.loss == pytest.approx(0.5 * w @ A @ w)
    row = report.rows[0]
    assert (row.name, row.shape, row.n_checked) == ("w", (4,), 4)
    assert row.analytic == pytest.approx((A @ w)[row.index], rel=1e-15)
    assert np.array_equal(w, w_before)                    # only copies are perturbed


def test_check_function_catches_a_wrong_gradient_of_a_nonsymmetric_quadratic():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(4, 4))                           # d/dw 1/2 w^T A w = (A + A^T) w / 2
    w = rng.normal(size=4)
    assert not check_function(quadratic(A), [w]).ok
    right = lambda p: (0.5 * p[0] @ A @ p[0], [0.5 * (A + A.T) @ p[0]])  # noqa: E731
    assert check_function(right, [w]).ok


def test_check_function_with_a_kink_signature():
    # f = sum max(w, 0) with the convention max'(0) = 0; w[1] sits on the kink
    w = np.array([0.5, 0.0, -0.7, 2.0])

    def f(params):
        return np.maximum(params[0], 0).sum(), [(params[0] > 0).astype(float)]

    report = check_function(f, [w], kink_signature=lambda p: [p[0] > 0])
    assert report.ok and report.rows[0].n_kinks == 1 and report.rows[0].n_checked == 3
    assert report.kinks[0].index == (1,)
    assert report.kinks[0].numeric == pytest.approx(0.5)  # the average of slopes 0 and 1
    assert not check_function(f, [w]).ok


def test_check_function_reports_nan_gradients_as_failures():
    report = check_function(lambda p: (np.sum(p[0] ** 2), [np.array([np.nan, 2.0])]),
                            [np.array([1.0, 1.0])])
    assert not report.ok and report.rows[0].index == (0,)
    assert report.max_rel_error == np.inf


@pytest.mark.parametrize("f, params, error, match", [
    (lambda p: (0.0, [p[0]]), [np.array([np.nan])], ValueError, r"params\[0\] contains NaN"),
    (lambda p: (0.0, [p[0]]), [], ValueError, "params is empty"),
    (lambda p: (0.0, [p[0]]), np.zeros(3), TypeError, "params must be a list"),
    (lambda p: (0.0, [p[0], p[0]]), [np.zeros(2)], ValueError, "list of 1 arrays"),
    (lambda p: (0.0, [np.zeros(3)]), [np.zeros(2)], ValueError, "gradient 0 has shape"),
    (lambda p: (np.nan, [p[0]]), [np.zeros(2)], ValueError, "finite loss"),
    (lambda p: 0.0, [np.zeros(2)], TypeError, r"return \(loss, grads\)"),
    ("not callable", [np.zeros(2)], TypeError, "f must be callable"),
    (lambda p: (0.0, [p[0]]), [np.array([1e12])], ValueError, "below the float64 resolution"),
])
def test_check_function_bad_input(f, params, error, match):
    with pytest.raises(error, match=match):
        check_function(f, params)


def _quadratic(params):
    """L = sum(c * w**2) / 2 with c rising from 1 to 2 in C order: dL/dw = c * w, exactly."""
    (w,) = params
    c = (1 + np.arange(w.size, dtype=np.float64) / w.size).reshape(w.shape)
    return float(np.sum(c * w * w) / 2), [c * w]


def test_a_big_tensor_is_sampled_by_default_and_checked_whole_on_request(capsys):
    from refnn.gradcheck import DEFAULT_MAX_ENTRIES, PROGRESS_AFTER
    w = np.linspace(-1, 1, 3000).reshape(60, 50)
    sampled = check_function(_quadratic, [w])
    assert sampled.rows[0].n_checked == DEFAULT_MAX_ENTRIES == 100
    # the largest gradient (c * w at the last entry, about 2 * 1) is always among them
    assert (59, 49) in [e.index for e in sampled.entries]
    assert sampled.ok
    again = check_function(_quadratic, [w])
    assert [e.index for e in again.entries] == [e.index for e in sampled.entries]   # seed 0
    other = check_function(_quadratic, [w], seed=1)
    assert [e.index for e in other.entries] != [e.index for e in sampled.entries]
    assert capsys.readouterr().err == ""              # 100 entries: no progress lines
    whole = check_function(_quadratic, [w], max_entries_per_tensor=None)
    assert whole.rows[0].n_checked == 3000 > PROGRESS_AFTER
    err = capsys.readouterr().err
    assert "gradcheck: tensor 1/1 param0 (60, 50): 3,000 of 3,000 entries" in err
    check_function(_quadratic, [w], max_entries_per_tensor=None, progress=False)
    assert capsys.readouterr().err == ""
    with pytest.raises(TypeError, match="progress must be True, False or 'auto'"):
        check_function(_quadratic, [w], progress="yes")
