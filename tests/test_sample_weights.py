"""Sample and class weights as Keras 3 has them (refnn.weighting): the losses' sample_weight,
fit's sample_weight and class_weight, evaluate's sample_weight, compile's weighted_metrics, and
the gradient they give. Numbers marked "Keras" are copied from Keras 3's own tests
(keras/src/losses/losses_test.py, keras/src/metrics/*_test.py), which compare to 3 decimals
(keras/src/testing/test_case.py: assertAlmostEqual(decimal=3)); the others come from a NumPy
twin or finite differences written here."""
import numpy as np
import pytest

from refnn import losses as L

# keras/src/losses/losses_test.py's inputs
MSE_TRUE = np.array([[1, 9, 2], [-5, -2, 6]])
MSE_PRED = np.array([[4, 8, 12], [8, 1, 3]], dtype="float32")
BCE_TRUE = np.array([1, 0, 1, 0]).reshape([2, 2])
BCE_PRED = np.array([1, 1, 1, 0], dtype="float32").reshape([2, 2])
BCE_LOGITS_TRUE = np.array([[1, 0, 1], [0, 1, 1]])
BCE_LOGITS = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]])
CCE_TRUE = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
CCE_PRED = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]], dtype="float32")
CCE_LOGITS = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])
W3 = np.array([[1.2], [3.4], [5.6]])


@pytest.mark.parametrize("loss, y, yhat, sample_weight, expected", [
    # MeanSquaredErrorTest: test_scalar_weighted, test_sample_weighted, test_zero_weighted
    (L.MeanSquaredError(), MSE_TRUE, MSE_PRED, 2.3, 113.85),
    (L.MeanSquaredError(), MSE_TRUE, MSE_PRED, np.array([[1.2], [3.4]]), 767.8 / 6),
    (L.MeanSquaredError(), MSE_TRUE, MSE_PRED, 0, 0.0),
    # BinaryCrossentropyTest: test_scalar_weighted, test_sample_weighted (and with logits)
    (L.BinaryCrossentropy(), BCE_TRUE, BCE_PRED, 2.3, 9.1668),
    (L.BinaryCrossentropy(), BCE_TRUE, BCE_PRED, np.array([1.2, 3.4]).reshape((2, 1)), 4.7827),
    (L.BinaryCrossentropy(from_logits=True), BCE_LOGITS_TRUE, BCE_LOGITS, 2.3, 7.666),
    (L.BinaryCrossentropy(from_logits=True), BCE_LOGITS_TRUE, BCE_LOGITS, np.array([4, 3]),
     10.0),
    # CategoricalCrossentropyTest: test_scalar_weighted, test_sample_weighted (and logits)
    (L.CategoricalCrossentropy(), CCE_TRUE, CCE_PRED, 2.3, 0.7449),
    (L.CategoricalCrossentropy(), CCE_TRUE, CCE_PRED, W3, 1.0696),
    (L.CategoricalCrossentropy(from_logits=True), CCE_TRUE, CCE_LOGITS, 2.3, 0.1317),
    (L.CategoricalCrossentropy(from_logits=True), CCE_TRUE, CCE_LOGITS, W3, 0.31829),
    # SparseCategoricalCrossentropyTest: test_scalar_weighted, test_sample_weighted
    (L.SparseCategoricalCrossentropy(), [[0], [1], [2]], CCE_PRED, 2.3, 0.7449),
    (L.SparseCategoricalCrossentropy(), [[0], [1], [2]], CCE_PRED, W3, 1.0696),
    (L.SparseCategoricalCrossentropy(from_logits=True), [[0], [1], [2]], CCE_LOGITS, 2.3,
     0.1317),
    (L.SparseCategoricalCrossentropy(from_logits=True), [[0], [1], [2]], CCE_LOGITS, W3,
     0.31829),
])
def test_weighted_losses_give_keras_3s_numbers(loss, y, yhat, sample_weight, expected):
    np.testing.assert_almost_equal(loss(y, yhat, sample_weight=sample_weight), expected,
                                   decimal=3)


def _huber_twin(y, yhat, delta=1.0):
    """HuberLossTest.huber_loss of Keras's tests: the element-wise Huber loss."""
    a = np.abs(yhat - y)
    quadratic = np.minimum(a, delta)
    return 0.5 * quadratic ** 2 + delta * (a - quadratic)


@pytest.mark.parametrize("sample_weight, weights", [
    (2.3, 2.3),                                          # test_scalar_weighted
    (np.array([[1.2], [3.4]]), np.array([[1.2], [3.4]])),  # test_sample_weighted
    (0, 0.0),                                            # test_zero_weighted
])
def test_weighted_huber_as_keras_3s_test(sample_weight, weights):
    """HuberLossTest: sum(w * element losses) / 6, the number of elements (batch_size = 6)."""
    y = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    yhat = np.array([[0.9, 0.2, 0.2], [0.8, 0.4, 0.6]])
    expected = np.sum(_huber_twin(y, yhat) * weights) / 6
    assert L.Huber()(y, yhat, sample_weight=sample_weight) == pytest.approx(expected, rel=1e-12)


def test_the_weighted_loss_is_divided_by_n_not_by_the_sum_of_the_weights():
    """Keras's reduction "sum_over_batch_size": sum_i w_i l_i / n, as its Hinge test
    (weights [1, 0]: 0.55, half the first sample's 1.1)."""
    y, yhat = np.array([[0.0], [1.0], [1.0]]), np.array([[0.5], [0.25], [3.0]])
    l = L.MeanSquaredError().per_sample(y, yhat)                # [0.25, 0.5625, 4.0]
    w = np.array([2.0, 0.0, 0.5])
    assert L.MeanSquaredError()(y, yhat, sample_weight=w) == pytest.approx(
        (2.0 * 0.25 + 0.0 * 0.5625 + 0.5 * 4.0) / 3, rel=1e-15)
    assert l.tolist() == [0.25, 0.5625, 4.0]                    # per_sample stays unweighted
    # (n,) and (n, 1) weights are the same weights; all ones is no weight at all
    assert L.MeanSquaredError()(y, yhat, sample_weight=w[:, None]) == \
        L.MeanSquaredError()(y, yhat, sample_weight=w)
    assert L.MeanSquaredError()(y, yhat, sample_weight=np.ones(3)) == \
        L.MeanSquaredError()(y, yhat)


LOSS_CASES = [  # (loss, y, what the loss is called on)
    (L.MeanSquaredError(), [[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]], "probabilities"),
    (L.Huber(delta=0.7), [[0.0, 1.0], [2.0, -1.0], [0.5, 0.5]], "probabilities"),
    (L.BinaryCrossentropy(), [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], "probabilities"),
    (L.BinaryCrossentropy(label_smoothing=0.2), [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]],
     "probabilities"),
    (L.BinaryCrossentropy(from_logits=True), [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]], "logits"),
    (L.CategoricalCrossentropy(), [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], "probabilities"),
    (L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
     [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]], "logits"),
    (L.SparseCategoricalCrossentropy(), [1, 0, 1], "probabilities"),
    (L.SparseCategoricalCrossentropy(from_logits=True), [1, 0, 1], "logits"),
]


@pytest.mark.parametrize("loss, y, kind", LOSS_CASES, ids=lambda c: getattr(c, "name", None))
def test_the_weighted_gradient_is_the_derivative_of_the_weighted_loss(loss, y, kind):
    """gradient(y, yhat, w) against central differences of loss(y, yhat, w), float64."""
    yhat = np.array([[0.3, 0.6], [0.8, 0.15], [0.45, 0.55]])
    if kind == "logits":
        yhat = np.array([[0.4, -1.2], [2.0, 0.3], [-0.7, 0.9]])
    w = np.array([1.5, 0.0, 0.25])
    g = loss.gradient(y, yhat, sample_weight=w)
    step = 1e-6
    numeric = np.zeros_like(yhat)
    for idx in np.ndindex(yhat.shape):
        plus, minus = yhat.copy(), yhat.copy()
        plus[idx] += step
        minus[idx] -= step
        numeric[idx] = (loss(y, plus, sample_weight=w) - loss(y, minus, sample_weight=w)) \
            / (2 * step)
    np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-9)
    # row i of the gradient is w_i times the unweighted row
    np.testing.assert_allclose(g, w[:, None] * loss.gradient(y, yhat), rtol=1e-15, atol=0)


@pytest.mark.parametrize("loss, y", [
    (L.BinaryCrossentropy(), [[0.0, 1.0], [1.0, 1.0], [0.0, 0.0]]),
    (L.CategoricalCrossentropy(label_smoothing=0.1), [[0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]),
    (L.SparseCategoricalCrossentropy(), [1, 0, 1]),
], ids=lambda c: getattr(c, "name", None))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fused_error_term_is_scaled_by_each_samples_weight(loss, y, dtype):
    """epsilon_i <- w_i epsilon_i from the logits, in h's dtype; l_i stays unweighted."""
    h = np.array([[0.4, -1.2], [2.0, 0.3], [-0.7, 0.9]], dtype=dtype)
    w = np.array([1.5, 0.0, 0.25])
    l, epsilon = loss.fused_gradient(y, h, sample_weight=w)
    l0, epsilon0 = loss.fused_gradient(y, h)
    assert epsilon.dtype == dtype
    assert l.tolist() == l0.tolist()
    np.testing.assert_allclose(epsilon, w[:, None].astype(dtype) * epsilon0, rtol=0, atol=0)


@pytest.mark.parametrize("bad, error, match", [
    ([1.0, 2.0], ValueError, r"sample_weight must have one weight per sample, shape \(3,\) or "
                             r"\(3, 1\), or one number; got shape \(2,\)"),
    (np.ones((3, 2)), ValueError, r"got shape \(3, 2\)"),
    ([1.0, -0.5, 1.0], ValueError, "sample_weight must be >= 0, got -0.5 at index 1"),
    (-1.0, ValueError, "sample_weight must be a finite number >= 0, got -1.0"),
    ([1.0, np.nan, 1.0], ValueError, "sample_weight must be finite, got nan at index 1"),
    ("heavy", TypeError, "sample_weight must be a number, got str"),
    ([1.0, None, 2.0], TypeError, "sample_weight must be an array of numbers"),
])
def test_bad_sample_weights_are_refused_by_name(bad, error, match):
    loss = L.MeanSquaredError()
    y, yhat = np.zeros((3, 1)), np.ones((3, 1))
    for call in (loss, loss.gradient):
        with pytest.raises(error, match=match):
            call(y, yhat, sample_weight=bad)
