"""Single units: the McCulloch-Pitts threshold unit, Rosenblatt's perceptron and the
sigmoid unit (logistic regression), each checked against an independent oracle
(truth tables, hand-worked updates, the perceptron convergence bound, a plain NumPy
gradient-descent loop, scipy.optimize), plus bad input for every public method."""
import doctest
import itertools
import re
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

from refnn import units
from refnn.units import (ConvergenceWarning, NotFittedError, Perceptron, SigmoidUnit,
                         ThresholdUnit)

BOOL_INPUTS = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
AND = [0, 0, 0, 1]
OR = [0, 1, 1, 1]
XOR = [0, 1, 1, 0]


def test_docstring_examples_run():
    result = doctest.testmod(units, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


# ---------------------------------------------------------------------------
# ThresholdUnit
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("weights, threshold, inputs, truth_table", [
    ((1, 1), 1.5, BOOL_INPUTS, AND),
    ((1, 1), 0.5, BOOL_INPUTS, OR),
    ((-1,), -0.5, [[0], [1]], [1, 0]),          # NOT
], ids=["AND", "OR", "NOT"])
def test_threshold_unit_logic_gates(weights, threshold, inputs, truth_table):
    unit = ThresholdUnit(weights, threshold=threshold)
    g = unit.predict(inputs)
    assert g.dtype == np.int64
    np.testing.assert_array_equal(g, truth_table)
    # one sample at a time gives the same table, as Python ints
    singles = [unit.predict(x) for x in np.asarray(inputs)]
    assert all(type(s) is int for s in singles)
    assert singles == list(truth_table)


def test_threshold_unit_weighted_sum():
    unit = ThresholdUnit([1, 1], threshold=1.5)
    # h = x1 + x2 - 1.5
    np.testing.assert_array_equal(unit.weighted_sum(BOOL_INPUTS), [-1.5, -0.5, -0.5, 0.5])
    assert unit.weighted_sum([2, -3]) == -2.5
    assert unit.weights.dtype == np.float64 and unit.threshold == 1.5


def test_threshold_unit_fires_at_the_threshold():
    # g = 1 if sum w x >= theta: equality fires
    unit = ThresholdUnit([2, 1], threshold=3)
    np.testing.assert_array_equal(unit.predict([[1, 1], [1, 0.999], [0, 3]]), [1, 0, 1])
    assert unit.weighted_sum([1, 1]) == 0.0


def test_no_threshold_unit_computes_xor():
    # Every unit on a grid of (w1, w2, theta) is evaluated on the four inputs. The grid is
    # rich enough to realise all 14 linearly separable Boolean functions of two inputs
    # (AND, OR, NAND, NOR, x1, not x2, constants, ...), yet neither XOR nor XNOR appears.
    grid = np.linspace(-2, 2, 17)
    realised = set()
    for w1, w2, theta in itertools.product(grid, grid, grid):
        realised.add(tuple(ThresholdUnit([w1, w2], threshold=theta).predict(BOOL_INPUTS)))
    assert tuple(XOR) not in realised
    assert (1, 0, 0, 1) not in realised                       # XNOR
    assert tuple(AND) in realised and tuple(OR) in realised
    assert len(realised) == 14                                # all 16 functions but XOR, XNOR


def test_threshold_unit_repr():
    assert repr(ThresholdUnit([1, 1], 1.5)) == "ThresholdUnit(weights=[1.0, 1.0], threshold=1.5)"


# ---------------------------------------------------------------------------
# Perceptron
# ---------------------------------------------------------------------------

def test_perceptron_hand_worked_epochs():
    # eta = 0.5, w = (0, 0), b = 0; labels -1 -> class 0, +1 -> class 1; step(0) = 1.
    X = [[1, 2], [-1, 0], [2, -1]]
    y = [1, -1, -1]                                           # t = (1, 0, 0)
    # epoch 1
    #   x=(1,2),  t=1: h = 0                    -> 1, right
    #   x=(-1,0), t=0: h = 0                    -> 1, mistake: w += 0.5*(0-1)*(-1,0) = (0.5, 0)
    #                                                          b += 0.5*(0-1)          = -0.5
    #   x=(2,-1), t=0: h = 1 + 0 - 0.5 = 0.5    -> 1, mistake: w += -0.5*(2,-1) = (-0.5, 0.5)
    #                                                          b = -1.0
    # epoch 2
    #   x=(1,2),  t=1: h = -0.5 + 1 - 1 = -0.5  -> 0, mistake: w += 0.5*(1,2) = (0, 1.5)
    #                                                          b = -0.5
    #   x=(-1,0), t=0: h = 0 + 0 - 0.5 = -0.5   -> 0, right
    #   x=(2,-1), t=0: h = 0 - 1.5 - 0.5 = -2   -> 0, right
    # epoch 3: h = 2.5, -0.5, -2 -> 1, 0, 0: no mistake, converged
    with pytest.warns(ConvergenceWarning, match="2 of 3 samples"):
        first = Perceptron(eta=0.5, max_epochs=1).fit(X, y)
    np.testing.assert_array_equal(first.coef_, [-0.5, 0.5])
    assert first.intercept_ == -1.0 and first.errors_ == [2] and not first.converged_

    p = Perceptron(eta=0.5).fit(X, y)
    np.testing.assert_array_equal(p.coef_, [0.0, 1.5])
    assert p.intercept_ == -0.5
    assert p.errors_ == [2, 1, 0] and p.n_epochs_ == 3 and p.converged_
    np.testing.assert_array_equal(p.classes_, [-1, 1])
    np.testing.assert_array_equal(p.predict(X), y)
    np.testing.assert_array_equal(p.weighted_sum(X), [2.5, -0.5, -2.0])


def test_perceptron_hand_worked_and():
    # eta = 1, zero start. epoch 1:
    #   (0,0) t=0: h = 0 -> 1, mistake: w += -(0,0) = (0,0), b = -1
    #   (0,1) t=0: h = -1 -> 0;  (1,0) t=0: h = -1 -> 0
    #   (1,1) t=1: h = -1 -> 0, mistake: w += (1,1) = (1,1), b = 0
    # epochs 2..6 make 3, 3, 2, 1, 0 mistakes and end at w = (2, 1), b = -3:
    # h = 2 x1 + x2 - 3 >= 0 only for (1, 1).
    p = Perceptron().fit(BOOL_INPUTS, AND)
    assert p.errors_ == [2, 3, 3, 2, 1, 0] and p.converged_ and p.n_epochs_ == 6
    np.testing.assert_array_equal(p.coef_, [2.0, 1.0])
    assert p.intercept_ == -3.0


@pytest.mark.parametrize("truth_table", [AND, OR, [1, 1, 1, 0], [1, 0, 0, 0]],
                         ids=["AND", "OR", "NAND", "NOR"])
@pytest.mark.parametrize("seed, shuffle", [(None, False), (3, False), (3, True)])
def test_perceptron_learns_separable_gates(truth_table, seed, shuffle):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        p = Perceptron(seed=seed, shuffle=shuffle).fit(BOOL_INPUTS, truth_table)
    assert p.converged_ and p.errors_[-1] == 0 and all(e > 0 for e in p.errors_[:-1])
    np.testing.assert_array_equal(p.predict(BOOL_INPUTS), truth_table)
    assert p.score(BOOL_INPUTS, truth_table) == 1.0


def _separable_set(n=200, margin=0.1, seed=0):
    """Points in [-1, 1]^2 at distance >= margin from the line w* . x + b* = 0."""
    rng = np.random.default_rng(seed)
    w_star, b_star = np.array([1.0, -2.0]), 0.3
    X = rng.uniform(-1, 1, size=(4 * n, 2))
    distance = (X @ w_star + b_star) / np.linalg.norm(w_star)
    keep = np.abs(distance) >= margin
    X, distance = X[keep][:n], distance[keep][:n]
    return X, (distance > 0).astype(int), w_star, b_star


def test_perceptron_separable_random_set_within_convergence_bound():
    X, y, w_star, b_star = _separable_set()
    p = Perceptron(max_epochs=1000).fit(X, y)
    assert p.converged_ and p.n_epochs_ == len(p.errors_) and p.errors_[-1] == 0
    # the learned hyperplane separates the set (checked without predict)
    h = X @ p.coef_ + p.intercept_
    np.testing.assert_array_equal(h >= 0, y == 1)
    # Novikoff's bound on the total number of mistakes from zero weights, in the space
    # of augmented inputs (x, 1): mistakes <= (R / gamma)^2, u = (w*, b*) / |(w*, b*)|
    X1 = np.hstack([X, np.ones((len(X), 1))])
    u = np.r_[w_star, b_star] / np.linalg.norm(np.r_[w_star, b_star])
    gamma = np.min((2 * y - 1) * (X1 @ u))
    R = np.max(np.linalg.norm(X1, axis=1))
    assert gamma > 0
    assert 0 < sum(p.errors_) <= (R / gamma) ** 2


def test_perceptron_xor_does_not_converge():
    with pytest.warns(ConvergenceWarning, match="may not be linearly separable") as record:
        p = Perceptron(max_epochs=50).fit(BOOL_INPUTS, XOR)
    assert not p.converged_
    assert p.n_epochs_ == 50 and len(p.errors_) == 50
    assert min(p.errors_) > 0
    message = str(record[0].message)
    assert f"{p.errors_[-1]} of 4 samples" in message and "50 epochs" in message
    assert p.score(BOOL_INPUTS, XOR) < 1.0


def test_perceptron_fit_returns_self_even_without_convergence():
    p = Perceptron(max_epochs=3)
    with pytest.warns(ConvergenceWarning):
        assert p.fit(BOOL_INPUTS, XOR) is p
    p = Perceptron()
    assert p.fit(BOOL_INPUTS, AND) is p


@pytest.mark.parametrize("labels", [
    np.array([False, False, False, True]),
    np.array([-1, -1, -1, 1]),
    np.array([3.5, 3.5, 3.5, 7.0]),
    np.array([0, 0, 0, 1], dtype=np.uint8),
], ids=["bool", "pm1", "float", "uint8"])
def test_perceptron_returns_original_labels(labels):
    p = Perceptron().fit(BOOL_INPUTS, labels)
    np.testing.assert_array_equal(p.classes_, np.unique(labels))
    predicted = p.predict(BOOL_INPUTS)
    assert predicted.dtype == labels.dtype
    np.testing.assert_array_equal(predicted, labels)
    # the smaller label is class 0: same weights as with 0/1 labels
    reference = Perceptron().fit(BOOL_INPUTS, AND)
    np.testing.assert_array_equal(p.coef_, reference.coef_)
    assert p.intercept_ == reference.intercept_


@pytest.mark.parametrize("labels, count", [([1, 1, 1, 1], 1), ([0, 1, 2, 1], 3)])
def test_perceptron_needs_exactly_two_labels(labels, count):
    with pytest.raises(ValueError, match=f"exactly two distinct label values, got {count}"):
        Perceptron().fit(BOOL_INPUTS, labels)


def test_perceptron_seed_is_reproducible():
    X, y, _, _ = _separable_set(n=60, seed=1)
    a = Perceptron(seed=7, shuffle=True, max_epochs=1000).fit(X, y)
    b = Perceptron(seed=7, shuffle=True, max_epochs=1000).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    assert a.intercept_ == b.intercept_ and a.errors_ == b.errors_ and a.converged_


# ---------------------------------------------------------------------------
# SigmoidUnit
# ---------------------------------------------------------------------------

def _overlapping_set(n=40, seed=42):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    y = (X @ [1.5, -1.0] + 0.3 + rng.normal(size=n) > 0).astype(int)
    return X, y


def _numpy_gradient_descent(X, y, w, b, eta, epochs):
    """Oracle: the same full-batch gradient descent on the mean BCE, in plain NumPy."""
    n = len(y)
    losses = []
    for _ in range(epochs):
        h = X @ w + b
        yhat = 1.0 / (1.0 + np.exp(-h))
        losses.append(np.mean(-y * np.log(yhat) - (1 - y) * np.log(1 - yhat)))
        delta = (yhat - y) / n
        w = w - eta * (X.T @ delta)
        b = b - eta * delta.sum()
    return w, b, losses


def _initial_weights(seed, d):
    """The documented start: w ~ U(-0.05, 0.05) from default_rng(seed), b = 0."""
    return np.random.default_rng(seed).uniform(-0.05, 0.05, size=d), 0.0


def test_sigmoid_unit_matches_numpy_gradient_descent():
    X, y = _overlapping_set()
    unit = SigmoidUnit(eta=0.3, epochs=200, seed=5).fit(X, y)
    w0, b0 = _initial_weights(5, 2)
    w, b, losses = _numpy_gradient_descent(X, y, w0, b0, 0.3, 200)
    assert unit.coef_.dtype == np.float64 and unit.coef_.shape == (2,)
    assert isinstance(unit.intercept_, float)
    np.testing.assert_allclose(unit.coef_, w, rtol=0, atol=1e-10)
    assert abs(unit.intercept_ - b) < 1e-10
    np.testing.assert_allclose(unit.loss_, losses, rtol=1e-12, atol=0)
    assert unit.n_features_in_ == 2 and len(unit.loss_) == 200


def test_sigmoid_unit_float32_follows_float64():
    X, y = _overlapping_set()
    unit = SigmoidUnit(eta=0.3, epochs=200, seed=5, dtype="float32").fit(X, y)
    w0, b0 = _initial_weights(5, 2)
    w, b, losses = _numpy_gradient_descent(X, y, w0, b0, 0.3, 200)
    assert unit.coef_.dtype == np.float32
    np.testing.assert_allclose(unit.coef_, w, rtol=0, atol=1e-4)
    assert abs(unit.intercept_ - b) < 1e-4
    np.testing.assert_allclose(unit.loss_, losses, rtol=1e-4)
    assert unit.predict_proba(X).dtype == np.float32


def test_sigmoid_unit_reaches_the_logistic_regression_optimum():
    # Oracle: minimise the same mean BCE with BFGS; gradient descent must end there.
    X, y = _overlapping_set()

    def mean_bce(p):
        h = X @ p[:2] + p[2]
        return np.mean(np.logaddexp(0, h) - h * y)

    def gradient(p):
        h = X @ p[:2] + p[2]
        delta = (1 / (1 + np.exp(-h)) - y) / len(y)
        return np.r_[X.T @ delta, delta.sum()]

    optimum = minimize(mean_bce, np.zeros(3), jac=gradient, method="BFGS",
                       options={"gtol": 1e-10}).x
    unit = SigmoidUnit(eta=2.0, epochs=1000).fit(X, y)
    np.testing.assert_allclose(np.r_[unit.coef_, unit.intercept_], optimum, atol=1e-7)
    assert abs(unit.loss_[-1] - mean_bce(optimum)) < 1e-10


def test_sigmoid_unit_loss_history_and_outputs():
    X, y = _overlapping_set()
    unit = SigmoidUnit(eta=0.5, epochs=300).fit(X, y)
    loss = np.array(unit.loss_)
    assert np.all(np.diff(loss) < 0)                          # full-batch GD, small eta
    assert loss[0] - loss[-1] > 0.2
    w0, b0 = _initial_weights(0, 2)
    h0 = X @ w0 + b0
    assert loss[0] == pytest.approx(np.mean(np.logaddexp(0, h0) - h0 * y), abs=1e-15)

    proba = unit.predict_proba(X)
    h = X @ unit.coef_ + unit.intercept_
    assert proba.shape == (40,) and np.all((proba > 0) & (proba < 1))
    np.testing.assert_allclose(proba, 1 / (1 + np.exp(-h)), rtol=1e-14)
    np.testing.assert_allclose(unit.weighted_sum(X), h, rtol=1e-14)
    predicted = unit.predict(X)
    assert predicted.dtype == np.int64
    np.testing.assert_array_equal(predicted, (h >= 0).astype(int))
    assert unit.score(X, y) == np.mean(predicted == y)
    assert 0.7 < unit.score(X, y) < 1.0
    # far from the boundary: no overflow, no NaN, the tiny side stays positive
    far = unit.predict_proba(np.array([[50.0, -50.0], [-50.0, 50.0]]))
    assert far[0] == 1.0 and 0 < far[1] < 1e-20


def test_sigmoid_unit_input_layouts_give_the_same_weights():
    X, y = _overlapping_set()
    reference = SigmoidUnit(epochs=50).fit(X, y)
    X_before, y_before = X.copy(), y.copy()
    X_f = np.asfortranarray(X)
    X_ro = X.copy()
    X_ro.flags.writeable = False
    for X_in, y_in in [(X_f, y), (X_ro, y), (X, y.reshape(-1, 1)), (X, y.astype(bool)),
                       (X.tolist(), y.tolist()), (X[::1, :], y.astype(np.float32))]:
        unit = SigmoidUnit(epochs=50).fit(X_in, y_in)
        np.testing.assert_array_equal(unit.coef_, reference.coef_)
        assert unit.intercept_ == reference.intercept_
    np.testing.assert_array_equal(X, X_before)                # inputs are not modified
    np.testing.assert_array_equal(y, y_before)


def test_sigmoid_unit_same_seed_same_weights_and_diverging_fit_raises():
    X, y = _overlapping_set()
    a = SigmoidUnit(epochs=20, seed=3).fit(X, y)
    b = SigmoidUnit(epochs=20, seed=3).fit(X, y)
    np.testing.assert_array_equal(a.coef_, b.coef_)
    coef, intercept = a.coef_.copy(), a.intercept_
    a.eta = 1e308                                             # overflows to inf weights
    with pytest.raises(FloatingPointError, match="diverged in epoch 1: the weights overflowed"):
        a.fit(X * 1e10, y)
    np.testing.assert_array_equal(a.coef_, coef)
    assert a.intercept_ == intercept


# ---------------------------------------------------------------------------
# accepted input dtypes
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, bool, np.int32, np.int64, np.float16, np.float32])
def test_integer_and_bool_inputs_are_converted(dtype):
    X = BOOL_INPUTS.astype(dtype)
    y = np.array(AND).astype(dtype)
    np.testing.assert_array_equal(ThresholdUnit(np.array([1, 1], dtype=dtype), 1.5).predict(X), AND)

    p = Perceptron().fit(X, y)
    np.testing.assert_array_equal(p.coef_, [2.0, 1.0])
    assert p.coef_.dtype == np.float64
    np.testing.assert_array_equal(p.predict(X), y)

    unit = SigmoidUnit(eta=1.0, epochs=100).fit(X, y)
    reference = SigmoidUnit(eta=1.0, epochs=100).fit(BOOL_INPUTS.astype(float), AND)
    np.testing.assert_array_equal(unit.coef_, reference.coef_)
    np.testing.assert_array_equal(unit.predict(X), AND)
    assert unit.score(X, y) == 1.0


# ---------------------------------------------------------------------------
# bad input: every public method, each kind
# ---------------------------------------------------------------------------

def _fitted():
    return {
        "ThresholdUnit": ThresholdUnit([1, 1], 1.5),
        "Perceptron": Perceptron().fit(BOOL_INPUTS, AND),
        "SigmoidUnit": SigmoidUnit(epochs=10).fit(BOOL_INPUTS, AND),
    }


X_METHODS = [("ThresholdUnit", "predict"), ("ThresholdUnit", "weighted_sum"),
             ("Perceptron", "predict"), ("Perceptron", "weighted_sum"),
             ("Perceptron", "score"), ("Perceptron", "fit"),
             ("SigmoidUnit", "predict"), ("SigmoidUnit", "predict_proba"),
             ("SigmoidUnit", "weighted_sum"), ("SigmoidUnit", "score"), ("SigmoidUnit", "fit")]

# (id, X, exception, message pattern); each pattern names X and what was received
BAD_X = [
    ("3-D", np.zeros((4, 2, 1)), ValueError, r"X must be .*shape \(4, 2, 1\)"),
    ("0-D", np.float64(1.0), ValueError, r"X must be .*shape \(\)"),
    ("object", np.array([[0, None]] * 4, dtype=object), TypeError,
     r"X must hold real numbers .*got dtype object"),
    ("complex", np.ones((4, 2)) * 1j, TypeError, r"X must hold real numbers .*complex128"),
    ("string", [["a", "b"]] * 4, TypeError, r"X must hold real numbers .*<U1 \(strings\)"),
    ("nan", [[0, 0], [0, np.nan], [1, 0], [1, 1]], ValueError,
     r"X must contain only finite values, got 1 NaN .*index \(1, 1\): nan"),
    ("inf", [[0, 0], [0, 1], [-np.inf, 0], [1, np.inf]], ValueError,
     r"X must contain only finite values, got 2 NaN or infinite"),
    ("empty", np.zeros((0, 2)), ValueError, r"X must not be empty, got an array of shape \(0, 2\)"),
    ("ragged", [[0, 0], [1]], ValueError, r"X could not be converted to an array"),
    ("features", np.zeros((4, 3)), ValueError, r"X has 3 features, but .* 2"),
]


BAD_X_CASES = [(owner, method) + case for owner, method in X_METHODS for case in BAD_X
               if not (case[0] == "features" and method == "fit")]   # fit learns d


@pytest.mark.parametrize("owner, method, case, X, exception, pattern", BAD_X_CASES,
                         ids=[f"{o}.{m}-{c}" for o, m, c, *_ in BAD_X_CASES])
def test_bad_X(owner, method, case, X, exception, pattern):
    unit = _fitted()[owner]
    call = getattr(unit, method)
    with pytest.raises(exception, match=pattern):
        if method in ("fit", "score"):
            call(X, AND)
        else:
            call(X)


@pytest.mark.parametrize("owner, method", [m for m in X_METHODS if m[0] != "ThresholdUnit"],
                         ids=[".".join(m) for m in X_METHODS if m[0] != "ThresholdUnit"])
def test_one_sample_must_be_a_row(owner, method):
    unit = _fitted()[owner]
    with pytest.raises(ValueError, match=r"X must be a 2-D array .*got a 1-D array of shape "
                                         r"\(2,\); pass one sample as X.reshape\(1, -1\)"):
        getattr(unit, method)(*(([1, 1], [1]) if method in ("fit", "score") else ([1, 1],)))


def test_threshold_unit_one_feature_hint():
    with pytest.raises(ValueError, match=r"X has 2 features, but the unit has 1 weight.*"
                                         r"pass shape \(n_samples, 1\)"):
        ThresholdUnit([-1], -0.5).predict([0, 1])


XY_METHODS = [("Perceptron", "fit"), ("Perceptron", "score"),
              ("SigmoidUnit", "fit"), ("SigmoidUnit", "score")]

BAD_Y = [
    ("short", [0, 0, 1], ValueError,
     r"y must have one label per sample of X: expected 4 labels, got 3"),
    ("long", [0, 0, 1, 1, 0], ValueError, r"y must have one label .*expected 4 labels, got 5"),
    ("2-D", np.zeros((4, 2)), ValueError, r"y must have shape \(n_samples,\) or \(n_samples, 1\), "
                                          r"got an array of shape \(4, 2\)"),
    ("object", np.array([0, 0, 0, None], dtype=object), TypeError, r"y must hold real numbers"),
    ("complex", np.array([0, 0, 0, 1j]), TypeError, r"y must hold real numbers .*complex"),
    ("string", ["no", "no", "no", "yes"], TypeError, r"y must hold real numbers .*strings"),
    ("nan", [0, 0, np.nan, 1], ValueError, r"y must contain only finite values"),
]


@pytest.mark.parametrize("owner, method", XY_METHODS, ids=[".".join(m) for m in XY_METHODS])
@pytest.mark.parametrize("case, y, exception, pattern", BAD_Y, ids=[c[0] for c in BAD_Y])
def test_bad_y(owner, method, case, y, exception, pattern):
    unit = _fitted()[owner]
    with pytest.raises(exception, match=pattern):
        getattr(unit, method)(BOOL_INPUTS, y)


@pytest.mark.parametrize("method", ["fit", "score"])
@pytest.mark.parametrize("y", [[0, 0, 0, 2], [0, -1, 0, 1], [0, 0.5, 0, 1]])
def test_sigmoid_unit_targets_must_be_0_or_1(method, y):
    unit = _fitted()["SigmoidUnit"]
    with pytest.raises(ValueError, match=r"y must contain only the labels 0 and 1, got \["):
        getattr(unit, method)(BOOL_INPUTS, y)


@pytest.mark.parametrize("cls, method", [
    (Perceptron, "predict"), (Perceptron, "weighted_sum"), (Perceptron, "score"),
    (SigmoidUnit, "predict"), (SigmoidUnit, "weighted_sum"), (SigmoidUnit, "score"),
    (SigmoidUnit, "predict_proba")])
def test_unfitted_unit_refuses_to_predict(cls, method):
    unit = cls()
    args = (BOOL_INPUTS, AND) if method == "score" else (BOOL_INPUTS,)
    with pytest.raises(NotFittedError, match=f"this {cls.__name__} is not fitted yet"):
        getattr(unit, method)(*args)
    assert issubclass(NotFittedError, ValueError)


FAILING_FITS = [
    ("nan X", [[0, 0], [0, np.nan], [1, 0], [1, 1]], AND),
    ("string X", [["a", "b"]] * 4, AND),
    ("short y", BOOL_INPUTS, [0, 0, 1]),
    ("complex y", BOOL_INPUTS, np.array([0, 0, 0, 1j])),
    ("empty", np.zeros((0, 2)), []),
    ("one label", BOOL_INPUTS, [1, 1, 1, 1]),
    ("3-D X", np.zeros((4, 2, 1)), AND),
]


@pytest.mark.parametrize("owner", ["Perceptron", "SigmoidUnit"])
@pytest.mark.parametrize("case, X, y", FAILING_FITS, ids=[c[0] for c in FAILING_FITS])
def test_failed_fit_leaves_the_fitted_weights_unchanged(owner, case, X, y):
    unit = _fitted()[owner]
    before = {k: np.copy(v) for k, v in vars(unit).items() if k.endswith("_")}
    if case == "one label" and owner == "SigmoidUnit":
        X = [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]]          # a mismatch fails it instead
    with pytest.raises((ValueError, TypeError)):
        unit.fit(X, y)
    after = {k: v for k, v in vars(unit).items() if k.endswith("_")}
    assert after.keys() == before.keys()
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)


@pytest.mark.parametrize("make, exception, pattern", [
    (lambda: Perceptron(eta=0), ValueError, r"eta must be a finite number > 0, got 0"),
    (lambda: Perceptron(eta=float("nan")), ValueError, r"eta must be .*got nan"),
    (lambda: Perceptron(eta="1"), TypeError, r"eta must be a number, got str '1'"),
    (lambda: Perceptron(max_epochs=0), ValueError, r"max_epochs must be an integer >= 1, got 0"),
    (lambda: Perceptron(max_epochs=2.5), TypeError, r"max_epochs must be an integer, got float"),
    (lambda: Perceptron(n_inputs=True), TypeError, r"n_inputs must be an integer, got bool"),
    (lambda: Perceptron(seed=-1), ValueError, r"seed must be None or an integer >= 0, got -1"),
    (lambda: Perceptron(shuffle="yes"), TypeError, r"shuffle must be True or False, got 'yes'"),
    (lambda: SigmoidUnit(eta=-0.1), ValueError, r"eta must be a finite number > 0, got -0.1"),
    (lambda: SigmoidUnit(epochs=0), ValueError, r"epochs must be an integer >= 1, got 0"),
    (lambda: SigmoidUnit(seed=1.5), TypeError, r"seed must be .*got float 1.5"),
    (lambda: SigmoidUnit(dtype="float16"), TypeError,
     r"dtype must be 'float32' or 'float64', got 'float16'"),
    (lambda: SigmoidUnit(dtype="int32"), TypeError, r"dtype must be .*got 'int32'"),
    (lambda: SigmoidUnit(dtype="no such type"), TypeError, r"dtype must be .*got 'no such type'"),
    (lambda: SigmoidUnit(dtype=None), TypeError, r"dtype must be .*got None"),
    (lambda: ThresholdUnit([1, 1], threshold=float("inf")), ValueError,
     r"threshold must be a finite number, got inf"),
    (lambda: ThresholdUnit([1, 1], threshold="1"), TypeError,
     r"threshold must be a number, got str"),
    (lambda: ThresholdUnit([[1, 1]]), ValueError,
     r"weights must be a 1-D array .*got an array of shape \(1, 2\)"),
    (lambda: ThresholdUnit([]), ValueError, r"weights must not be empty"),
    (lambda: ThresholdUnit([1, np.nan]), ValueError, r"weights must contain only finite values"),
    (lambda: ThresholdUnit([1j, 1]), TypeError, r"weights must hold real numbers .*complex"),
])
def test_bad_constructor_arguments(make, exception, pattern):
    with pytest.raises(exception, match=pattern):
        make()


def test_perceptron_n_inputs_is_checked_at_fit():
    with pytest.raises(ValueError, match=re.escape("X has 2 features, but Perceptron(n_inputs=3) "
                                                   "expects 3 features")):
        Perceptron(n_inputs=3).fit(BOOL_INPUTS, AND)
    assert Perceptron(n_inputs=2).fit(BOOL_INPUTS, AND).converged_


def test_float32_overflow_is_reported():
    unit = SigmoidUnit(dtype="float32", epochs=5)
    with pytest.raises(ValueError, match=r"X has values too large for float32"):
        unit.fit([[0, 1e300], [1, 0]], [0, 1])
