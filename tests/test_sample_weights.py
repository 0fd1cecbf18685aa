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


# --------------------------------------------------------------------------- metrics
from refnn import metrics as M  # noqa: E402


@pytest.mark.parametrize("metric, y, yhat, sample_weight, expected", [
    # keras/src/metrics/accuracy_metrics_test.py: BinaryAccuracyTest.test_weighted
    (M.BinaryAccuracy(), [[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.5),
    # CategoricalAccuracyTest.test_weighted
    (M.CategoricalAccuracy(), [[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
     [0.7, 0.3], 0.3),
    # SparseCategoricalAccuracyTest.test_weighted
    (M.SparseCategoricalAccuracy(), [[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]],
     [0.7, 0.3], 0.3),
])
def test_weighted_metrics_give_keras_3s_numbers(metric, y, yhat, sample_weight, expected):
    metric.update(y, yhat, sample_weight=sample_weight)
    assert metric.result() == pytest.approx(expected, abs=1e-3)
    assert metric(y, yhat, sample_weight=sample_weight) == pytest.approx(expected, abs=1e-3)


def test_a_weighted_metric_in_batches_is_the_weighted_mean_over_all_samples():
    """sum_i w_i m_i / sum_i w_i (Keras's Mean), the same in batches as at once; 0 while
    every weight is 0 (Keras's divide_no_nan)."""
    rng = np.random.default_rng(0)
    y, yhat, w = rng.normal(size=(9, 2)), rng.normal(size=(9, 2)), rng.uniform(0, 2, size=9)
    m = M.MeanSquaredError()
    for start in range(0, 9, 4):
        m.update(y[start:start + 4], yhat[start:start + 4], sample_weight=w[start:start + 4])
    per_sample = np.mean((yhat - y) ** 2, axis=1)
    assert m.result() == pytest.approx(np.sum(w * per_sample) / np.sum(w), rel=1e-14)
    assert M.MeanSquaredError()(y, yhat, sample_weight=np.zeros(9)) == 0.0
    with pytest.raises(ValueError, match=r"sample_weight must have one weight per sample, "
                                         r"shape \(9,\) or \(9, 1\); got shape \(8,\)"):
        m.update(y, yhat, sample_weight=w[:8])


# --------------------------------------------------------------------------- fit and evaluate
import refnn  # noqa: E402
from refnn import weighting  # noqa: E402
from refnn.callbacks import Callback  # noqa: E402
from refnn.layers import Dense  # noqa: E402
from refnn.optimizers import SGD  # noqa: E402


def classifier(seed=0, loss="sparse_categorical_crossentropy", k=3, out="softmax",
               dtype="float64", metrics=("acc",), weighted_metrics=None, fast=True):
    model = refnn.Sequential([Dense(6, activation="tanh", input_shape=(4,)),
                              Dense(k, activation=out)], seed=seed, dtype=dtype)
    model.use_fast_path = fast
    model.compile(loss, optimizer=SGD(learning_rate=0.2, momentum=0.5),
                  metrics=list(metrics), weighted_metrics=weighted_metrics)
    return model


def problem(n=30, k=3, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    labels = np.argmax(x[:, :k] + 0.5 * rng.normal(size=(n, k)), axis=1)
    w = rng.uniform(0.0, 3.0, size=n)
    w[[2, n - 1]] = 0.0
    return x, labels, w


def test_class_weight_follows_keras_3s_class_weight_to_sample_weights():
    """data_adapter_utils.class_weight_to_sample_weights: the class of a sample is its integer
    label, the argmax of a one-hot row, round(y) for one output; a class not in the dict
    weighs 1."""
    sparse = refnn.losses.SparseCategoricalCrossentropy()
    cce, bce = refnn.losses.CategoricalCrossentropy(), refnn.losses.BinaryCrossentropy()
    cw = {0: 0.5, 2: 4.0}
    y = np.array([0.0, 1.0, 2.0, 2.0])
    assert weighting.class_weights(cw, y, sparse, 3).tolist() == [0.5, 1.0, 4.0, 4.0]
    assert weighting.class_weights(cw, np.eye(3)[[2, 0, 1]], cce, 3).tolist() == [4.0, 0.5, 1.0]
    y01 = np.array([[0.2], [0.9], [0.5], [1.0]])          # np.round: 0.5 -> 0, as Keras's
    assert weighting.class_weights({1: 3.0}, y01, bce, 1).tolist() == [1.0, 3.0, 1.0, 3.0]


def test_class_weight_is_the_sample_weight_of_each_samples_class():
    """fit(class_weight=cw) trains as fit(sample_weight=cw[y]); with both, their product."""
    x, labels, w = problem()
    cw = {0: 0.5, 1: 2.0, 2: 1.5}
    by_class = np.array([cw[c] for c in labels])
    a, b, c, d = classifier(), classifier(), classifier(), classifier()
    ha = a.fit(x, labels, batch_size=8, epochs=2, verbose=0, class_weight=cw)
    hb = b.fit(x, labels, batch_size=8, epochs=2, verbose=0, sample_weight=by_class)
    c.fit(x, labels, batch_size=8, epochs=2, verbose=0, class_weight=cw, sample_weight=w)
    d.fit(x, labels, batch_size=8, epochs=2, verbose=0, sample_weight=w * by_class)
    assert ha.history == hb.history
    for pair in ((a, b), (c, d)):
        for wa, wb in zip(pair[0].get_weights(), pair[1].get_weights()):
            np.testing.assert_array_equal(wa, wb)
    # one-hot targets: the class is the argmax
    e = classifier(loss="categorical_crossentropy")
    e.fit(x, np.eye(3)[labels], batch_size=8, epochs=2, verbose=0, class_weight=cw)
    for we, wa in zip(e.get_weights(), a.get_weights()):
        np.testing.assert_allclose(we, wa, rtol=1e-12, atol=1e-15)


def test_the_weights_go_with_their_samples_through_the_shuffling():
    """Oracle: the same epoch stepped by hand, batch by batch in fit's shuffled order, with
    loss_and_gradients(x[idx], y[idx], sample_weight=w[idx]) and plain SGD."""
    x, labels, w = problem()
    model = classifier(metrics=())
    model.compile("sparse_categorical_crossentropy", optimizer=SGD(learning_rate=0.3))
    oracle = classifier(metrics=())
    order_rng = np.random.default_rng()
    order_rng.bit_generator.state = model._shuffle_rng.bit_generator.state
    history = model.fit(x, labels, batch_size=7, epochs=2, verbose=0, sample_weight=w)
    losses = []
    for _ in range(2):
        order = order_rng.permutation(30)
        total = 0.0
        for start in range(0, 30, 7):
            idx = order[start:start + 7]
            loss, grads = oracle.loss_and_gradients(x[idx], labels[idx], sample_weight=w[idx])
            oracle.set_weights([p - 0.3 * g for p, g in zip(oracle.get_weights(), grads)])
            total += loss * len(idx)
        losses.append(total / 30)
    for a, b in zip(model.get_weights(), oracle.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)
    assert history.history["loss"] == pytest.approx(losses, rel=1e-12)


def _weighted_loss(model, x, labels, w):
    """The NumPy oracle of Keras's weighted loss: 1/n sum_i w_i l_i of the model's outputs."""
    p = model.predict(x)[np.arange(len(labels)), labels]
    return float(np.mean(w * -np.log(p)))


def test_evaluate_and_fit_report_the_weighted_loss_and_weighted_metrics_only_if_asked():
    x, labels, w = problem()
    y = np.eye(3)[labels]
    model = classifier(loss="categorical_crossentropy", metrics=("acc",),
                       weighted_metrics=["acc", "mse"])
    assert model._metric_keys == ["acc", "weighted_acc", "mse"]     # Keras 3's naming
    hit = (np.argmax(model.predict(x), axis=1) == labels).astype(float)
    mse = np.mean((model.predict(x) - y) ** 2, axis=1)
    scores = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    assert scores == pytest.approx({
        "loss": _weighted_loss(model, x, labels, w),         # divided by n, not by sum(w)
        "acc": hit.mean(),                                     # metrics=: unweighted
        "weighted_acc": np.sum(w * hit) / np.sum(w),           # weighted_metrics=: weighted
        "mse": np.sum(w * mse) / np.sum(w)}, rel=1e-12)
    plain = model.evaluate(x, y, return_dict=True, verbose=0)
    assert plain["weighted_acc"] == plain["acc"] == hit.mean()   # no weights: unweighted
    # fit reports the weighted loss of the weights before each step: one batch of every sample
    before = model.evaluate(x, y, sample_weight=w, return_dict=True, verbose=0)
    history = model.fit(x, y, batch_size=30, epochs=1, verbose=0, sample_weight=w)
    assert history.history["loss"][0] == pytest.approx(before["loss"], rel=1e-12)
    assert history.history["weighted_acc"][0] == pytest.approx(before["weighted_acc"], rel=1e-12)
    assert history.history["acc"][0] == pytest.approx(before["acc"], rel=1e-12)


def test_validation_keeps_its_sample_weights_but_not_the_class_weights():
    """Keras 3 (trainer.fit): validation_split splits (x, y, sample_weight) at
    floor(n (1 - split)); the validation data is evaluated with its sample weights, and
    class_weight weighs the training batches only. validation_data may be (x, y, w)."""
    x, labels, w = problem()
    seen = []

    class Val(Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((logs["val_loss"], logs["val_weighted_acc"]))

    model = classifier(weighted_metrics=["acc"])
    model.fit(x, labels, batch_size=8, epochs=1, verbose=0, sample_weight=w,
              class_weight={0: 9.0}, validation_split=0.2, callbacks=[Val()])
    expected = model.evaluate(x[24:], labels[24:], sample_weight=w[24:], verbose=0)
    assert seen[0] == pytest.approx((expected[0], expected[2]), rel=1e-12)
    oracle = classifier(weighted_metrics=["acc"])              # trained on the first 24 alone
    oracle.fit(x[:24], labels[:24], batch_size=8, epochs=1, verbose=0, sample_weight=w[:24],
               class_weight={0: 9.0})
    for a, b in zip(model.get_weights(), oracle.get_weights()):
        np.testing.assert_array_equal(a, b)
    model.fit(x[:24], labels[:24], batch_size=8, epochs=1, verbose=0,
              validation_data=(x[24:], labels[24:], w[24:]), callbacks=[Val()])
    expected = model.evaluate(x[24:], labels[24:], sample_weight=w[24:], verbose=0)
    assert seen[1] == pytest.approx((expected[0], expected[2]), rel=1e-12)


def test_weighted_metrics_survive_save_and_load(tmp_path):
    model = classifier(weighted_metrics=["acc"])
    model.save(tmp_path / "m.npz")
    loaded = refnn.load_model(tmp_path / "m.npz")
    assert loaded._weighted_metric_names == ["acc"]
    assert loaded._metric_keys == ["acc", "weighted_acc"]


def _state(model):
    return ([w.copy() for w in model.get_weights()],
            [np.array(s, copy=True) for s in model.optimizer.get_state()]
            if model.optimizer.built else None)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(sample_weight=np.ones(29)), ValueError,
     r"sample_weight must have one weight per sample, shape \(30,\) or \(30, 1\); "
     r"got shape \(29,\)"),
    (dict(sample_weight=2.0), ValueError, r"sample_weight must be a 1-D array or a 2-D array"),
    (dict(sample_weight=np.r_[-1.0, np.ones(29)]), ValueError,
     "sample_weight must be >= 0, got -1 at index 0"),
    (dict(sample_weight=np.r_[np.ones(29), np.inf]), ValueError,
     "sample_weight must be finite, got inf at index 29"),
    (dict(class_weight=[1.0, 2.0, 3.0]), TypeError,
     r"class_weight must be a dict \{class index: weight\}"),
    (dict(class_weight={3: 1.0}), ValueError,
     "class_weight has the key 3, but the classes of an output of 3 units with "
     "sparse_categorical_crossentropy are 0 to 2"),
    (dict(class_weight={"cat": 1.0}), TypeError,
     "class_weight keys must be class indices \\(integers\\), got str 'cat'"),
    (dict(class_weight={True: 1.0}), TypeError, "class_weight keys must be class indices"),
    (dict(class_weight={1: -2.0}), ValueError,
     r"class_weight\[1\] must be a finite number >= 0, got -2.0"),
    (dict(class_weight={1: float("nan")}), ValueError, r"class_weight\[1\] must be a finite"),
    (dict(validation_data=(np.ones((3, 4)), [0, 1, 2], [1.0, 1.0])), ValueError,
     r"sample_weight_val must have one weight per sample, shape \(3,\)"),
    (dict(validation_data=(np.ones((3, 4)), [0, 1, 2], [1.0, 1.0, 1.0], None)), ValueError,
     r"validation_data must be a tuple \(x_val, y_val\) or \(x_val, y_val, "
     r"sample_weight_val\), got a tuple of 4 items"),
])
@pytest.mark.parametrize("fast", [True, False], ids=["compiled", "layers"])
def test_bad_weights_are_refused_by_name_and_change_nothing(kwargs, error, match, fast):
    x, labels, _ = problem()
    model = classifier(fast=fast)
    model.fit(x, labels, batch_size=8, epochs=1, verbose=0)      # optimizer state to keep
    before, rng = _state(model), model._shuffle_rng.bit_generator.state
    with pytest.raises(error, match=match):
        model.fit(x, labels, batch_size=8, epochs=1, verbose=0, **kwargs)
    after = _state(model)
    for a, b in zip(before[0] + before[1], after[0] + after[1]):
        assert a.tobytes() == b.tobytes()
    assert model._shuffle_rng.bit_generator.state == rng


def test_evaluate_refuses_bad_sample_weights_by_name():
    x, labels, _ = problem()
    model = classifier()
    with pytest.raises(ValueError, match=r"sample_weight must be >= 0, got -3 at index 1"):
        model.evaluate(x[:3], labels[:3], sample_weight=[1.0, -3.0, 1.0], verbose=0)
    with pytest.raises(ValueError, match=r"sample_weight must have one weight per sample"):
        model.evaluate(x[:3], labels[:3], sample_weight=[[1.0, 2.0]] * 3, verbose=0)


# --------------------------------------------------------------------------- gradcheck
def test_gradcheck_with_sample_weights_checks_the_weighted_loss_and_refuses_what_cannot():
    """gradcheck(..., sample_weight=w) differentiates 1/n sum_i w_i l_i; a model whose
    loss_and_gradients takes no weights is refused, and bad weights are refused by name."""
    x, labels, w = problem(n=10)
    model = classifier()
    report = refnn.gradcheck(model, x, labels, sample_weight=w, max_entries_per_tensor=None)
    assert report.ok, str(report)
    # only the weighted samples count: zero weights are the samples left out
    keep = w > 0
    kept = refnn.gradcheck(model, x[keep], labels[keep], sample_weight=w[keep])
    assert report.loss == pytest.approx(kept.loss * keep.sum() / 10, rel=1e-12)
    with pytest.raises(ValueError, match="sample_weight must be >= 0, got -1 at index 0"):
        refnn.gradcheck(model, x, labels, sample_weight=np.r_[-1.0, w[1:]])
    net = refnn.textbook.BackpropNetwork([4, 3, 3], seed=0)
    with pytest.raises(TypeError, match="BackpropNetwork.loss_and_gradients takes no "
                                        "sample_weight"):
        refnn.gradcheck(net, x, np.eye(3)[labels], sample_weight=w)
