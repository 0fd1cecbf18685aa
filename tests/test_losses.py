"""Tests of refnn.losses against Keras's published formulas, written out independently here
in plain Python (loops over floats, math.log), against hand-worked numbers, and against
central finite differences (float64 only, through refnn.gradcheck.check_function)."""
import json
import math

import numpy as np
import pytest

from refnn import losses
from refnn.gradcheck import check_function
from refnn.losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, Loss,
                          MeanSquaredError, SparseCategoricalCrossentropy)

TOL = {np.float32: 1e-6, np.float64: 1e-12}
KERAS_EPSILON = 1e-7
ALL_LOSSES = [MeanSquaredError(), Huber(), Huber(delta=0.3), BinaryCrossentropy(),
              CategoricalCrossentropy(), SparseCategoricalCrossentropy()]
LOSS_IDS = ["mse", "huber", "huber0.3", "bce", "cce", "scce"]


# ---------------------------------------------------------------------------------------
# The oracle: Keras 3's formulas, one float at a time
# ---------------------------------------------------------------------------------------

def oracle_per_sample(loss, y, yhat):
    """keras.losses.<name>(y_true, y_pred) per sample, from the formulas in Keras's docs; the
    clip's bounds formed in yhat's dtype, as Keras's ops.clip(output, epsilon, 1 - epsilon)."""
    top = float(np.float32(1) - np.float32(1e-7)) if np.asarray(yhat).dtype == np.float32 \
        else 1 - 1e-7
    low = float(np.float32(1e-7)) if np.asarray(yhat).dtype == np.float32 else 1e-7

    def _clip(p):
        return min(max(p, low), top)

    yhat = np.asarray(yhat, dtype=np.float64).tolist()
    if isinstance(loss, SparseCategoricalCrossentropy):      # one-hot of the class index
        k = len(yhat[0])
        y = [[1.0 if j == int(c) else 0.0 for j in range(k)] for c in np.ravel(y)]
    else:
        y = np.asarray(y, dtype=np.float64).reshape(len(yhat), -1).tolist()
    out = []
    for t, p in zip(y, yhat):
        k = len(p)
        if isinstance(loss, MeanSquaredError):
            out.append(sum((pj - tj) ** 2 for tj, pj in zip(t, p)) / k)
        elif isinstance(loss, Huber):
            d = loss.delta
            terms = [0.5 * (pj - tj) ** 2 if abs(pj - tj) <= d else d * abs(pj - tj) - 0.5 * d * d
                     for tj, pj in zip(t, p)]
            out.append(sum(terms) / k)
        elif isinstance(loss, BinaryCrossentropy):
            out.append(sum(-tj * math.log(_clip(pj)) - (1 - tj) * math.log(1 - _clip(pj))
                           for tj, pj in zip(t, p)) / k)
        else:                                   # categorical: normalise the row, clip, -sum y log p
            s = sum(p)
            out.append(-sum(tj * math.log(_clip(pj / s)) for tj, pj in zip(t, p)))
    return np.array(out)


def random_case(loss, n=5, k=3, seed=0, dtype=np.float64):
    """(y, yhat) fitting the loss: probabilities for the cross-entropies."""
    rng = np.random.default_rng(seed)
    if isinstance(loss, SparseCategoricalCrossentropy):
        y = rng.integers(0, k, size=n).astype(dtype)
    elif isinstance(loss, CategoricalCrossentropy):
        y = np.eye(k, dtype=dtype)[rng.integers(0, k, size=n)]
    elif isinstance(loss, BinaryCrossentropy):
        y = rng.integers(0, 2, size=(n, k)).astype(dtype)
        y[0, 0] = 0.3                                       # a soft label
    else:
        y = rng.normal(size=(n, k)).astype(dtype)
    if isinstance(loss, (BinaryCrossentropy, CategoricalCrossentropy)):
        yhat = rng.uniform(0.05, 0.95, size=(n, k)).astype(dtype)
        if not isinstance(loss, BinaryCrossentropy):
            yhat /= yhat.sum(axis=1, keepdims=True)
    else:
        yhat = (y + rng.normal(scale=1.0, size=(n, k))).astype(dtype)
    return y, yhat


def softmax(h):
    e = np.exp(h - h.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(h):
    return 1 / (1 + np.exp(-h))


# ---------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------

def test_hand_worked_values_from_keras_docs():
    y = [[0, 1], [0, 0]]
    yhat = [[0.6, 0.4], [0.4, 0.6]]
    # mse: r = [0.6, -0.6], [0.4, 0.6] -> (0.36 + 0.36)/2 = 0.36, (0.16 + 0.36)/2 = 0.26
    np.testing.assert_allclose(losses.mean_squared_error(y, yhat), [0.36, 0.26], rtol=1e-14)
    # huber (delta 1, all |r| <= 1): 0.5 r^2 = 0.18, 0.18 | 0.08, 0.18 -> 0.18, 0.13; mean 0.155
    np.testing.assert_allclose(losses.huber(y, yhat), [0.18, 0.13], rtol=1e-14)
    assert Huber()(y, yhat) == pytest.approx(0.155, rel=1e-14)
    # huber, delta 0.5: |r| = 0.6 > 0.5 -> 0.5*0.6 - 0.5*0.25 = 0.175; |r| = 0.4 -> 0.08
    np.testing.assert_allclose(losses.huber(y, yhat, delta=0.5), [0.175, (0.08 + 0.175) / 2],
                               rtol=1e-14)
    # bce: sample 1: -log 0.4 twice -> 0.916291; sample 2: (-log 0.6 - log 0.4)/2 = 0.713558
    np.testing.assert_allclose(losses.binary_crossentropy(y, yhat),
                               [-math.log(0.4), -(math.log(0.6) + math.log(0.4)) / 2], rtol=1e-14)
    np.testing.assert_allclose(losses.binary_crossentropy(y, yhat), [0.916291, 0.713558],
                               atol=1e-6)
    # cce: -log 0.95 = 0.051293, -log 0.1 = 2.302585 (the 0 in row 1 is clipped, times y = 0)
    y3, yhat3 = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
    np.testing.assert_allclose(losses.categorical_crossentropy(y3, yhat3), [0.051293, 2.302585],
                               atol=1e-6)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([1, 2], yhat3),
                               losses.categorical_crossentropy(y3, yhat3), rtol=1e-15)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy([[1], [2]], yhat3),
                               [0.051293, 2.302585], atol=1e-6)


def test_clipping_values():
    # a certain wrong prediction costs -log(1e-7) = 7 ln 10 = 16.118096 per output, not inf
    assert losses.binary_crossentropy([[1.0]], [[0.0]])[0] == pytest.approx(7 * math.log(10))
    assert losses.binary_crossentropy([[0.0]], [[1.0]])[0] == pytest.approx(7 * math.log(10))
    assert losses.categorical_crossentropy([[0, 1, 0]], [[1.0, 0, 0]])[0] == pytest.approx(
        7 * math.log(10))
    # outside [0, 1] the clip holds it at the bound: yhat = -3 costs what yhat = 1e-7 costs
    assert losses.binary_crossentropy([[1.0]], [[-3.0]])[0] == pytest.approx(7 * math.log(10))
    # a certain right prediction costs -log(1 - 1e-7) = 1.0000000500e-7, not 0
    assert losses.binary_crossentropy([[1.0]], [[1.0]])[0] == pytest.approx(1.00000005e-7)


def test_categorical_normalises_rows_like_keras():
    # Keras divides yhat by its row sum before clipping: [2, 6] -> [0.25, 0.75]
    assert losses.categorical_crossentropy([[0, 1]], [[2.0, 6.0]])[0] == pytest.approx(
        -math.log(0.75), rel=1e-14)
    with pytest.raises(ValueError, match=r"^yhat .*row 1 sums to 0"):
        CategoricalCrossentropy()([[0, 1], [1, 0]], [[0.5, 0.5], [0.0, 0.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_values_against_keras_formulas(loss, dtype):
    y, yhat = random_case(loss, n=7, k=4, seed=1, dtype=dtype)
    if isinstance(loss, BinaryCrossentropy):
        yhat[1, :3] = [0.0, 1.0, 1.5]               # clipped entries are part of the formula
    if isinstance(loss, Huber):
        yhat[2, 1] = y[2, 1] + loss.delta          # on the kink, both branches agree
    expected = oracle_per_sample(loss, y, yhat)
    got = loss.per_sample(y, yhat)
    assert got.shape == (7,) and got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)
    # __call__ is the mean over samples, as a Python float
    value = loss(y, yhat)
    assert type(value) is float
    assert value == pytest.approx(expected.mean(), rel=1e-12)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_module_functions_equal_per_sample(loss):
    y, yhat = random_case(loss, seed=2)
    fn = getattr(losses, loss.name)
    args = (loss.delta,) if isinstance(loss, Huber) else ()
    np.testing.assert_array_equal(fn(y, yhat, *args), loss.per_sample(y, yhat))


def test_per_sample_accepts_n_when_k_is_1_and_lists():
    y = [1, 0, 1]
    yhat = [[0.9], [0.2], [0.4]]
    np.testing.assert_allclose(BinaryCrossentropy().per_sample(y, yhat),
                               [-math.log(0.9), -math.log(0.8), -math.log(0.4)], rtol=1e-14)
    np.testing.assert_allclose(MeanSquaredError().per_sample(y, yhat),
                               [0.01, 0.04, 0.36], rtol=1e-12)


# ---------------------------------------------------------------------------------------
# Gradients: dL/dyhat of the mean loss, and the fused dL/dh, against finite differences
# ---------------------------------------------------------------------------------------

def _check_gradient(loss, y, yhat, **kwargs):
    def f(params):
        return loss(y, params[0]), [loss.gradient(y, params[0])]
    return check_function(f, [yhat], names=["yhat"], **kwargs)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_gradient_matches_finite_differences(loss):
    y, yhat = random_case(loss, n=6, k=3, seed=3)
    if isinstance(loss, CategoricalCrossentropy):
        yhat *= np.array([[1.0], [2.0], [0.5], [1.0], [3.0], [1.0]])   # rows not summing to 1
    report = _check_gradient(loss, y, yhat)
    assert report.ok, str(report)
    assert report.max_rel_error < 1e-7
    assert report.n_checked == yhat.size


def test_gradient_closed_forms():
    rng = np.random.default_rng(4)
    y, yhat = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    r = yhat - y
    np.testing.assert_allclose(MeanSquaredError().gradient(y, yhat), 2 * r / 12, rtol=1e-15)
    huber_d = np.where(np.abs(r) <= 1.0, r, np.sign(r))
    np.testing.assert_allclose(Huber().gradient(y, yhat), huber_d / 12, rtol=1e-15)
    # bce from probabilities: (p - y) / (p (1 - p)) / (k n)
    p = np.array([[0.2, 0.7]])
    t = np.array([[1.0, 0.0]])
    np.testing.assert_allclose(BinaryCrossentropy().gradient(t, p),
                               [[(0.2 - 1) / (0.2 * 0.8) / 2, 0.7 / (0.7 * 0.3) / 2]], rtol=1e-14)


def test_gradient_is_zero_where_the_clip_is_active():
    y = np.array([[1.0, 0.0, 1.0, 0.0]])
    yhat = np.array([[0.0, 1.0, 1.5, -0.5]])          # every entry clipped
    g = BinaryCrossentropy().gradient(y, yhat)
    np.testing.assert_array_equal(g, np.zeros((1, 4)))
    # far from the bounds 1e-7 and 1 - 1e-7 the loss is flat: the central difference is 0 too
    # (0 and 1 themselves lie within a step of 1e-6 of a bound, so they are not compared)
    report = _check_gradient(BinaryCrossentropy(), y, yhat + [[-0.5, 0.5, 0.0, 0.0]])
    assert report.ok and report.max_rel_error == 0.0
    # categorical: q = [0, 0.25, 0.75] -> q_0 clipped; y_0 = 0 so the gradient stays that of
    # -log q_1 through the normalisation: (-1/q_1 + 1) / S on column 1, 1/S elsewhere
    g = CategoricalCrossentropy().gradient([[0, 1, 0]], [[0.0, 1.0, 3.0]])
    np.testing.assert_allclose(g, [[1 / 4, (-4 + 1) / 4, 1 / 4]], rtol=1e-14)


def test_huber_kink_shows_in_kink_signature():
    loss = Huber(delta=1.0)
    y = np.array([[0.25, 0.0, 1.0], [0.5, -1.0, 0.0]])
    yhat = np.array([[1.25, 0.3, 3.0], [0.1, 0.5, -2.0]])   # r[0, 0] = 1.0 = delta exactly
    [mask] = loss.kink_signature(y, yhat)
    np.testing.assert_array_equal(mask, [[True, True, False], [True, False, False]])
    # the second derivative jumps at the kink: a step of 1e-4 across it errs by step/4,
    # r = (step/4) / (2 delta) = 1.25e-5, while the pieces on either side are exact
    without = _check_gradient(loss, y, yhat, step=1e-4)
    assert not without.ok
    assert [e.index for e in without.failures] == [(0, 0)]
    assert without.failures[0].rel_error == pytest.approx(1.25e-5, rel=1e-3)
    with_kinks = _check_gradient(loss, y, yhat, step=1e-4,
                                 kink_signature=lambda p: loss.kink_signature(y, p[0]))
    assert with_kinks.ok and with_kinks.max_rel_error < 1e-9
    assert [e.index for e in with_kinks.kinks] == [(0, 0)]
    assert with_kinks.kinks[0].crossed == "+step"


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_kink_signature_only_for_huber(loss):
    y, yhat = random_case(loss, seed=5)
    signature = loss.kink_signature(y, yhat)
    if isinstance(loss, Huber):
        assert len(signature) == 1
        np.testing.assert_array_equal(signature[0], np.abs(yhat - y) <= loss.delta)
    else:
        assert signature == []


FUSED = [(CategoricalCrossentropy(), "softmax", softmax),
         (SparseCategoricalCrossentropy(), "softmax", softmax),
         (BinaryCrossentropy(), "sigmoid", sigmoid)]
FUSED_IDS = ["cce", "scce", "bce"]


@pytest.mark.parametrize("loss, activation, f", FUSED, ids=FUSED_IDS)
def test_fused_gradient_matches_finite_differences(loss, activation, f):
    y, _ = random_case(loss, n=5, k=4, seed=6)
    h = np.random.default_rng(7).normal(scale=2.0, size=(5, 4))

    def fun(params):
        per_sample, epsilon = loss.fused_gradient(y, params[0])
        return per_sample.mean(), [epsilon]
    report = check_function(fun, [h], names=["h"])
    assert report.ok, str(report)
    assert report.max_rel_error < 1e-7


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("loss, activation, f", FUSED, ids=FUSED_IDS)
def test_fused_equals_unfused_away_from_clipping(loss, activation, f, dtype):
    n, k = 6, 3
    y, _ = random_case(loss, n=n, k=k, seed=8, dtype=dtype)
    h = np.random.default_rng(9).normal(scale=2.0, size=(n, k)).astype(dtype)
    yhat = f(h.astype(np.float64))                    # all probabilities far from 1e-7
    assert yhat.min() > 1e-4 and yhat.max() < 1 - 1e-4
    per_sample, epsilon = loss.fused_gradient(y, h)
    assert per_sample.shape == (n,) and per_sample.dtype == np.float64
    assert epsilon.shape == (n, k) and epsilon.dtype == dtype
    # float32 logits: the kernel works in float32, so a small loss is only good to an
    # absolute few units of 1e-7
    np.testing.assert_allclose(per_sample, loss.per_sample(y, yhat), rtol=TOL[dtype],
                               atol=4 * TOL[dtype])
    # epsilon = dL/dh = J^T dL/dyhat: softmax J^T g = yhat (g - sum g yhat); sigmoid g yhat (1-yhat)
    g = loss.gradient(y, yhat)
    chained = (yhat * (g - np.sum(g * yhat, axis=1, keepdims=True)) if activation == "softmax"
               else g * yhat * (1 - yhat))
    np.testing.assert_allclose(epsilon, chained, rtol=10 * TOL[dtype], atol=TOL[dtype] / n)
    # and the closed forms: (yhat - y) / n, or / (n k) for bce
    Y = np.eye(k)[y.astype(int)] if loss.sparse else y
    scale = n * k if activation == "sigmoid" else n
    np.testing.assert_allclose(epsilon, (yhat - Y) / scale, rtol=10 * TOL[dtype],
                               atol=TOL[dtype] / scale)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_logits_stay_finite(dtype):
    h = np.array([[1e30, -1e30, 0.0], [-1e30, 1e30, 5.0], [1e3, -1e3, 1e3]], dtype=dtype)
    y = np.array([[0, 1, 0], [0, 1, 0], [1, 0, 0]], dtype=dtype)
    # log 2 = logsumexp(1e3, -1e3, 1e3) - 1e3 must come out without cancellation against the
    # 1e3 (the float32 spacing there is 6e-5)
    atol = {np.float32: 1e-6, np.float64: 1e-12}[dtype]
    per_sample, epsilon = CategoricalCrossentropy().fused_gradient(y, h)
    assert np.isfinite(per_sample).all() and np.isfinite(epsilon).all()
    # row 0: loss = logsumexp(h) - h_1 = 1e30 + 1e30; row 1: the right class wins by 1e30;
    # row 2: two logits tie at the top -> log 2
    np.testing.assert_allclose(per_sample, [2e30, 0.0, math.log(2)], rtol=1e-6, atol=atol)
    np.testing.assert_allclose(epsilon * 3, [[1, -1, 0], [0, 0, 0], [-0.5, 0, 0.5]], atol=1e-7)
    per_sample, epsilon = SparseCategoricalCrossentropy().fused_gradient([1, 1, 0], h)
    np.testing.assert_allclose(per_sample, [2e30, 0.0, math.log(2)], rtol=1e-6, atol=atol)
    per_sample, epsilon = BinaryCrossentropy().fused_gradient(y, h)
    assert np.isfinite(per_sample).all() and np.isfinite(epsilon).all()
    # row 0: h = 1e30, y = 0 costs 1e30; h = -1e30, y = 1 costs 1e30; h = 0 costs log 2
    assert per_sample[0] == pytest.approx((2e30 + math.log(2)) / 3, rel=1e-6)
    # from probabilities the clip keeps exact 0 and 1 finite too
    yhat = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.0]])      # saturated probabilities
    t = np.array([[0, 1, 0], [1, 0, 0]])
    for loss in (CategoricalCrossentropy(), BinaryCrossentropy()):
        assert np.isfinite(loss.per_sample(t, yhat)).all()
        assert np.isfinite(loss.gradient(t, yhat)).all()


def test_fused_table():
    assert CategoricalCrossentropy().fused("softmax")
    assert SparseCategoricalCrossentropy().fused("softmax")
    assert BinaryCrossentropy().fused("sigmoid")
    assert not BinaryCrossentropy().fused("softmax")
    assert not CategoricalCrossentropy().fused("sigmoid")
    for loss in (MeanSquaredError(), Huber()):
        assert not any(loss.fused(a) for a in ("softmax", "sigmoid", "linear", "relu", None))
        with pytest.raises(ValueError, match="has no fused gradient"):
            loss.fused_gradient([[0.0]], [[0.0]])


def test_each_loss_declares_its_compiled_step():
    """The pairs the compiled training step trains, written out by hand: the fused ones with
    their own activation only, squared error after any elementwise differentiable one."""
    expected = {
        CategoricalCrossentropy: {"softmax": "softmax_crossentropy"},
        SparseCategoricalCrossentropy: {"softmax": "softmax_crossentropy"},
        BinaryCrossentropy: {"sigmoid": "sigmoid_binary_crossentropy"},
        MeanSquaredError: {a: "mean_squared_error" for a in ("sigmoid", "tanh", "relu", "linear")},
        Huber: {},
    }
    for cls, pairs in expected.items():
        for activation in ("sigmoid", "tanh", "relu", "linear", "softmax", "step", None):
            assert cls().compiled_kind(activation) == pairs.get(activation), (cls, activation)


def test_a_loss_subclass_made_elsewhere_does_not_inherit_the_compiled_step():
    """Its formula may differ from its parent's: the layer-by-layer step trains it."""
    class Scaled(MeanSquaredError):
        def _per_sample(self, y, yhat):
            return 2 * super()._per_sample(y, yhat)

    assert MeanSquaredError().compiled_kind("linear") == "mean_squared_error"
    assert Scaled().compiled_kind("linear") is None


def test_gradient_keeps_the_dtype_of_yhat():
    y = np.array([[0, 1]], dtype=np.float32)
    for loss in ALL_LOSSES[:5]:
        yhat = np.array([[0.3, 0.7]], dtype=np.float32)
        assert loss.gradient(y, yhat).dtype == np.float32
        assert loss.gradient(y, yhat.astype(np.float64)).dtype == np.float64


# ---------------------------------------------------------------------------------------
# targets(): the user's y checked and converted
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("y", [[2, 0, 1], [[2], [0], [1]], np.array([2.0, 0.0, 1.0]),
                               np.array([2, 0, 1], dtype=np.uint8)],
                         ids=["list_n", "list_n1", "float_n", "uint8_n"])
def test_sparse_targets_become_n_indices(y, dtype):
    out = SparseCategoricalCrossentropy().targets(y, (3, 4), dtype)
    assert out.shape == (3,) and out.dtype == dtype and out.flags.c_contiguous
    np.testing.assert_array_equal(out, [2, 0, 1])


@pytest.mark.parametrize("y, message", [
    ([0, 4, 1], r"^y must hold class indices in \[0, 4\) .* got 4 at index 1"),
    ([0, -1, 1], r"^y must hold class indices in \[0, 4\) .* got -1 at index 1"),
    ([0, 1.5, 1], r"^y must hold integer class indices .* got 1.5 at index 1"),
    (np.eye(4)[[0, 1, 2]], r"^y must hold class indices with shape \(3,\) or \(3, 1\).*"
                           r"one-hot targets\? use categorical_crossentropy"),
    (np.zeros((3, 2)), r"^y must hold class indices with shape \(3,\) or \(3, 1\)"),
    ([0, 1], r"^y has 2 samples but the model output has 3"),
    ([0, np.nan, 1], r"^y must be finite, got nan at index 1"),
    ([0, np.inf, 1], r"^y must be finite, got inf at index 1"),
    (np.zeros((3, 1, 1)), r"^y must be a 1-D array or a 2-D array"),
], ids=["too_large", "negative", "non_integer", "one_hot", "wrong_k", "wrong_n", "nan", "inf",
        "3d"])
def test_sparse_targets_errors(y, message):
    with pytest.raises(ValueError, match=message):
        SparseCategoricalCrossentropy().targets(y, (3, 4), np.float64)


@pytest.mark.parametrize("loss", ALL_LOSSES[:5], ids=LOSS_IDS[:5])
def test_dense_targets(loss):
    # Fortran order and ints in, C-contiguous float32 out
    y = np.asfortranarray(np.array([[0, 1, 0], [1, 0, 0]], dtype=np.int64))
    out = loss.targets(y, (2, 3), "float32")
    assert out.dtype == np.float32 and out.flags.c_contiguous and out.shape == (2, 3)
    np.testing.assert_array_equal(out, y)
    out = loss.targets(np.array([[True, False, False]] * 2), (2, 3), np.float64)
    assert out.dtype == np.float64 and out[0, 0] == 1.0
    # (n,) accepted when k == 1 ...
    out = loss.targets([1, 0, 1], (3, 1), np.float64)
    assert out.shape == (3, 1) and out[:, 0].tolist() == [1, 0, 1]
    # ... and only then
    with pytest.raises(ValueError, match=r"^y must have the shape of the model output, \(3, 2\)"):
        loss.targets([1, 0, 1], (3, 2), np.float64)
    with pytest.raises(ValueError, match=r"^y must have the shape .* got \(2, 2\)"):
        loss.targets(np.zeros((2, 2)), (2, 3), np.float64)
    with pytest.raises(ValueError, match=r"^y has 3 samples but the model output has 2"):
        loss.targets(np.zeros((3, 3)), (2, 3), np.float64)
    for bad in (np.nan, np.inf, -np.inf):
        y = np.zeros((2, 3))
        y[1, 2] = bad
        with pytest.raises(ValueError, match=r"^y must be finite, got .* at index \(1, 2\)"):
            loss.targets(y, (2, 3), np.float64)
    with pytest.raises(TypeError, match=r"^y must be an array of numbers"):
        loss.targets([["a", "b", "c"]], (1, 3), np.float64)
    with pytest.raises(TypeError, match=r"^dtype must be 'float32' or 'float64'"):
        loss.targets([[0, 1, 0]], (1, 3), "int32")


def test_class_index_hint_for_categorical():
    with pytest.raises(ValueError, match=r"^y .*class indices\? use sparse_categorical"):
        CategoricalCrossentropy().targets([0, 2, 1], (3, 3), np.float64)


@pytest.mark.parametrize("loss", [BinaryCrossentropy(), CategoricalCrossentropy()],
                         ids=["bce", "cce"])
@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_crossentropy_targets_lie_in_unit_interval(loss, bad):
    y = np.array([[0.0, 1.0], [0.5, bad]])
    with pytest.raises(ValueError, match=rf"^y must lie in \[0, 1\] for {loss.name}, "
                                         rf"got {bad} at index \(1, 1\)"):
        loss.targets(y, (2, 2), np.float64)
    # regression targets may take any finite value
    assert MeanSquaredError().targets(y, (2, 2), np.float64)[1, 1] == bad


def test_targets_that_overflow_float32():
    with pytest.raises(ValueError, match=r"^y does not fit in float32"):
        MeanSquaredError().targets([[1e300]], (1, 1), np.float32)


def test_per_sample_checks_its_arguments():
    with pytest.raises(ValueError, match=r"^yhat must be a 2-D array"):
        MeanSquaredError().per_sample([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"^yhat must be finite"):
        MeanSquaredError().per_sample([[1.0]], [[np.nan]])
    with pytest.raises(ValueError, match=r"^y must hold class indices in \[0, 2\)"):
        SparseCategoricalCrossentropy().gradient([2], [[0.5, 0.5]])
    with pytest.raises(TypeError, match=r"^h must be float32 or float64"):
        CategoricalCrossentropy().fused_gradient([[0, 1]], np.array([[1, 2]]))


# ---------------------------------------------------------------------------------------
# get(), configs
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("identifier, cls", [
    ("mean_squared_error", MeanSquaredError), ("mse", MeanSquaredError),
    ("MSE", MeanSquaredError), ("MeanSquaredError", MeanSquaredError),
    ("huber", Huber), ("Huber", Huber),
    ("binary_crossentropy", BinaryCrossentropy), ("bce", BinaryCrossentropy),
    ("BCE", BinaryCrossentropy), ("BinaryCrossentropy", BinaryCrossentropy),
    ("categorical_crossentropy", CategoricalCrossentropy),
    ("CategoricalCrossentropy", CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
    ("SparseCategoricalCrossentropy", SparseCategoricalCrossentropy),
    (Huber, Huber),
])
def test_get_by_name(identifier, cls):
    loss = losses.get(identifier)
    assert type(loss) is cls
    assert loss.name == {MeanSquaredError: "mean_squared_error", Huber: "huber",
                         BinaryCrossentropy: "binary_crossentropy",
                         CategoricalCrossentropy: "categorical_crossentropy",
                         SparseCategoricalCrossentropy: "sparse_categorical_crossentropy"}[cls]


def test_get_passes_instances_and_configs():
    loss = Huber(delta=0.25)
    assert losses.get(loss) is loss
    assert losses.get({"name": "huber", "delta": 2.0}) == Huber(2.0)
    assert Huber().delta == 1.0


def test_get_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError, match=r"^unknown loss 'hinge'; valid: .*"
                                         r"binary_crossentropy.*huber.*mean_squared_error.*mse"):
        losses.get("hinge")
    with pytest.raises(TypeError, match=r"^loss must be a name, a Loss or a config dict, got int"):
        losses.get(3)
    with pytest.raises(TypeError, match=r"^loss must be"):
        losses.get(None)


@pytest.mark.parametrize("loss", ALL_LOSSES, ids=LOSS_IDS)
def test_config_round_trip(loss):
    config = loss.get_config()
    assert json.loads(json.dumps(config)) == config
    assert config["name"] == loss.name
    for restored in (type(loss).from_config(config), Loss.from_config(config),
                     losses.deserialize(config), losses.get(config)):
        assert type(restored) is type(loss) and restored.get_config() == config
        assert restored == loss
    y, yhat = random_case(loss, seed=10)
    assert losses.deserialize(config)(y, yhat) == loss(y, yhat)


def test_huber_config_and_delta_checks():
    assert Huber(0.5).get_config() == {"name": "huber", "delta": 0.5}
    assert Huber(0.5) != Huber(1.0)
    with pytest.raises(ValueError, match=r"^delta must be a finite number > 0, got 0.0"):
        Huber(0)
    with pytest.raises(ValueError, match=r"^delta must be a finite number > 0, got -1.0"):
        Huber(-1)
    with pytest.raises(TypeError, match=r"^delta must be a number"):
        Huber("1")


def test_config_errors():
    with pytest.raises(ValueError, match=r"config describes the loss 'mean_squared_error', "
                                         r"not 'huber'"):
        Huber.from_config({"name": "mean_squared_error"})
    with pytest.raises(ValueError, match=r"unknown keys \['alpha'\]; allowed besides 'name': "
                                         r"delta"):
        losses.deserialize({"name": "huber", "alpha": 1})
    with pytest.raises(ValueError, match=r"must have a 'name' key"):
        losses.deserialize({"delta": 1.0})
    with pytest.raises(ValueError, match=r"^unknown loss 'nope'; valid:"):
        losses.deserialize({"name": "nope"})
    with pytest.raises(TypeError, match=r"^config must be a dict"):
        losses.deserialize("huber")
