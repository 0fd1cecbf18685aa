"""The compiled training step (kernels.DenseTrainer, used by fit for plain Dense stacks) gives
the numbers of the checked layer-by-layer path: speed changes no result."""
import numpy as np
import pytest

import refnn
from refnn import Sequential
from refnn.layers import Dense, Dropout, Flatten
from refnn.utils import to_categorical

CASES = [
    # hidden activations, output activation, loss, targets
    (["sigmoid"], "softmax", "categorical_crossentropy", "onehot"),
    (["relu", "tanh"], "softmax", "sparse_categorical_crossentropy", "sparse"),
    (["tanh"], "sigmoid", "binary_crossentropy", "binary"),
    (["relu"], "linear", "mse", "real"),
    (["sigmoid", "relu"], "sigmoid", "mse", "binary"),
    ([], "softmax", "categorical_crossentropy", "onehot"),
]
OPTIMIZERS = [lambda: refnn.optimizers.Adam(learning_rate=0.01),
              lambda: refnn.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
              lambda: refnn.optimizers.RMSprop(learning_rate=0.01, centered=True),
              lambda: refnn.optimizers.Adagrad(learning_rate=0.1)]


def data(kind, n=70, d=(3, 4), k=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + d)
    x[rng.random(x.shape) < 0.3] = 0.0
    labels = rng.integers(0, k, n)
    y = {"onehot": to_categorical(labels, k), "sparse": labels,
         "binary": (rng.random((n, k)) < 0.5).astype(float), "real": rng.normal(size=(n, k))}[kind]
    return x, y


def build(hidden, out, loss, optimizer, dtype, fast):
    layers = [Flatten(input_shape=(3, 4))] + [Dense(6, activation=a) for a in hidden]
    model = Sequential(layers + [Dense(3, activation=out)], seed=7, dtype=dtype)
    model.compile(loss=loss, optimizer=optimizer(), metrics=["acc"] if "entropy" in loss else ["mse"])
    model.use_fast_path = fast
    return model


@pytest.mark.parametrize("hidden,out,loss,targets", CASES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=["adam", "nesterov", "rmsprop", "adagrad"])
def test_fast_fit_equals_layer_by_layer_fit_float64(hidden, out, loss, targets, optimizer):
    x, y = data(targets)
    fast = build(hidden, out, loss, optimizer, "float64", True)
    slow = build(hidden, out, loss, optimizer, "float64", False)
    assert fast._fast_plan() is not None and slow._fast_plan() is None
    h_fast = fast.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    h_slow = slow.fit(x, y, batch_size=16, epochs=3, verbose=0).history
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    for key in h_slow:
        np.testing.assert_allclose(h_fast[key], h_slow[key], rtol=1e-12, atol=1e-14)
    assert fast.optimizer.iterations == slow.optimizer.iterations == 15


@pytest.mark.parametrize("hidden,out,loss,targets", CASES[:3])
def test_fast_fit_equals_layer_by_layer_fit_float32(hidden, out, loss, targets):
    x, y = data(targets)
    fast = build(hidden, out, loss, OPTIMIZERS[0], "float32", True)
    slow = build(hidden, out, loss, OPTIMIZERS[0], "float32", False)
    fast.fit(x, y, batch_size=16, epochs=3, verbose=0)
    slow.fit(x, y, batch_size=16, epochs=3, verbose=0)
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_layers_outside_the_fast_path_take_the_checked_path():
    for layers in ([Dense(4, activation="relu", input_shape=(12,)), Dropout(0.5), Dense(3)],
                   [Dense(4, activation="relu", input_shape=(12,), batch_norm=True), Dense(3)],
                   [Dense(4, activation="relu", input_shape=(12,), use_bias=False), Dense(3)]):
        m = Sequential(layers)
        m.compile(loss="mse", optimizer="sgd")
        assert m._fast_plan() is None
    m = Sequential([Dense(3, activation="softmax", input_shape=(12,))])
    m.compile(loss="huber", optimizer="sgd")
    assert m._fast_plan() is None                          # huber is not fused
    m.compile(loss="mse", optimizer="lbfgs")
    assert m._fast_plan() is None                          # full batch


def test_trainer_refuses_bad_orders():
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(4, 3)), np.zeros(3)]
    X, Y = rng.normal(size=(10, 4)), np.eye(3)[rng.integers(0, 3, 10)]
    trainer = refnn.kernels.DenseTrainer(W, X, Y, ["softmax"], "softmax_crossentropy", 5)
    for order, match in ((np.array([0, 10]), "outside"), (np.array([-1]), "outside"),
                         (np.arange(6), "1 to 5"), (np.array([0.0, 1.0]), "intp"),
                         (np.arange(8)[::2], "contiguous")):
        with pytest.raises(ValueError, match=match):
            trainer.step(order)


def test_both_blas_libraries_give_the_same_numbers():
    """NumPy's OpenBLAS (the default where found) and scipy's cython_blas agree."""
    x, y = data("onehot")
    results = {}
    try:
        for which in ("scipy", refnn.kernels._numpy_openblas() and "numpy"):
            if not which:
                continue
            assert refnn.kernels.use_blas(which) == which
            m = build(["relu"], "softmax", "categorical_crossentropy", OPTIMIZERS[0], "float64", True)
            m.fit(x, y, batch_size=16, epochs=2, verbose=0)
            results[which] = m.get_weights()
    finally:
        refnn.kernels.use_blas("auto")
    if len(results) < 2:
        pytest.skip("NumPy's OpenBLAS is not available in this NumPy build")
    for a, b in zip(results["scipy"], results["numpy"]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


def test_unknown_blas_is_refused():
    with pytest.raises(ValueError, match="valid: auto, numpy, scipy"):
        refnn.kernels.use_blas("mkl")


def test_fit_allocates_little_beyond_its_inputs():
    """fit on 60,000 MNIST-shaped float32 samples: the data is not copied, only batches are."""
    import tracemalloc
    from refnn import benchmarking
    w, X, Y = benchmarking.workload("W1")
    peak = benchmarking.fit_peak_mib(w, X[:60000], Y[:60000])
    assert peak < 64, f"fit allocated {peak:.1f} MiB beyond its inputs"
    assert not tracemalloc.is_tracing()


def test_a_bad_row_found_late_puts_everything_back():
    """The compiled step checks x row by row in the first epoch: a NaN in the last batches is
    found after some updates, and fit then restores weights, optimizer and shuffling."""
    x, y = data("onehot", n=200)
    bad = x.copy()
    bad[-3, 1, 2] = np.nan
    a = build(["relu"], "softmax", "categorical_crossentropy", OPTIMIZERS[0], "float32", True)
    b = build(["relu"], "softmax", "categorical_crossentropy", OPTIMIZERS[0], "float32", True)
    a.fit(x, y, batch_size=16, epochs=1, verbose=0)
    b.fit(x, y, batch_size=16, epochs=1, verbose=0)
    weights, state = a.get_weights(), a.optimizer.get_state()
    with pytest.raises(ValueError, match=r"^x must be finite, but sample 197 holds NaN"):
        a.fit(bad, y, batch_size=16, epochs=2, verbose=0, shuffle=False)
    assert all(np.array_equal(u, v) for u, v in zip(weights, a.get_weights()))
    assert all(np.array_equal(u, v) for u, v in zip(state, a.optimizer.get_state()))
    a.fit(x, y, batch_size=16, epochs=1, verbose=0)          # continues as if nothing happened
    b.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))
