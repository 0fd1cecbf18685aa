"""The compiled training step (kernels.DenseTrainer, used by fit for plain Dense stacks) gives
the numbers of the checked layer-by-layer path: speed changes no result."""
import numpy as np
import pytest

import refnn
from refnn._validate import TrainingDivergedError
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
              lambda: refnn.optimizers.Adagrad(learning_rate=0.1),
              lambda: refnn.optimizers.Nadam(learning_rate=0.01),
              lambda: refnn.optimizers.Adamax(learning_rate=0.01)]


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
    model.compile(loss=loss, optimizer=optimizer(),
                  metrics=["acc"] if "entropy" in loss else ["mse"])
    model.use_fast_path = fast
    return model


@pytest.mark.parametrize("hidden,out,loss,targets", CASES)
@pytest.mark.parametrize("optimizer", OPTIMIZERS,
                         ids=["adam", "nesterov", "rmsprop", "adagrad", "nadam", "adamax"])
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
            m = build(["relu"], "softmax", "categorical_crossentropy", OPTIMIZERS[0],
                      "float64", True)
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


def page_offset(a, of):
    """how many bytes after the cache line of `of`'s first element a's first element lies,
    within a 4 KiB page"""
    return (a.ctypes.data - (of.ctypes.data - of.ctypes.data % 64)) % 4096


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("past_a_line", [0, 16, 40])
def test_staggered_arrays_start_a_line_where_asked_in_the_page(dtype, past_a_line):
    """Whatever the alignment of `like` (NumPy's large arrays start 16 bytes past a line),
    the array starts a cache line, k * STAGGER bytes after like's line within a page."""
    from refnn.kernels import staggered_like
    from refnn.kernels._arrays import STAGGER
    buffer = np.empty(784 * 128 * 8 + 128, np.uint8)
    start = (past_a_line - buffer.ctypes.data) % 64
    like = buffer[start:start + 784 * 128 * np.dtype(dtype).itemsize].view(dtype)
    like = like.reshape(784, 128)                 # a whole number of pages (98 or 196)
    assert like.ctypes.data % 64 == past_a_line
    for k in range(5):
        a = staggered_like(like, k, value=k + 0.5)
        assert a.shape == like.shape and a.dtype == like.dtype and a.flags.c_contiguous
        assert a.flags.aligned and a.flags.writeable
        assert a.ctypes.data % 64 == 0
        assert page_offset(a, like) == k * STAGGER
        assert np.all(a == k + 0.5)
    small = np.ones(128, dtype)                   # less than a page: it starts a line only
    assert staggered_like(small, 3, value=0.0).ctypes.data % 64 == 0


@pytest.mark.parametrize("shape", [(784, 128), (128,), (3, 5), (0, 4), ()])
def test_aligned_arrays_start_a_line_and_hold_what_was_given(shape):
    from refnn.kernels import aligned_copy, aligned_empty
    for dtype in (np.float32, np.float64):
        a = aligned_empty(shape, dtype)
        assert a.shape == shape and a.dtype == dtype and a.flags.c_contiguous
        assert a.ctypes.data % 64 == 0 or a.size == 0
        values = np.random.default_rng(0).standard_normal(shape)
        b = aligned_copy(values, dtype)
        assert b.ctypes.data % 64 == 0 or b.size == 0
        assert np.array_equal(b, values.astype(dtype))        # the same rounding as astype


def test_a_dense_models_weights_and_the_steps_arrays_start_a_cache_line():
    """The fused update streams w, g and the slots with 32- and 64-byte vectors: measured on
    W3, 164-171 ms an epoch with them 16 or 48 bytes past a line (where NumPy puts large
    arrays), 43-62 ms on a line (kernels._arrays)."""
    model = refnn.Sequential([refnn.layers.Dense(256, activation="relu"),
                              refnn.layers.Dense(10, activation="softmax")], seed=0)
    model.build((784,))
    model.compile(loss="categorical_crossentropy", optimizer=refnn.optimizers.Adam(0.001))
    assert all(w.ctypes.data % 64 == 0 for w in model.layers[0].weights + model.layers[1].weights)
    X = np.zeros((64, 784), np.float32)
    Y = np.zeros((64, 10), np.float32)
    trainer = refnn.kernels.DenseTrainer(model.layers[0].weights + model.layers[1].weights, X, Y,
                                         ["relu", "softmax"], "softmax_crossentropy", 32)
    model.optimizer.build(model.layers[0].weights + model.layers[1].weights)
    arrays = (trainer.grads + trainer.work + [trainer.Xb, trainer.Yb, trainer.h_last, trainer.yhat]
              + [a for slot in model.optimizer.slots.values() for a in slot])
    assert all(a.ctypes.data % 64 == 0 for a in arrays)


@pytest.mark.parametrize("make, slots", [
    (lambda: refnn.optimizers.Adam(0.001), ["momentum", "velocity"]),
    (lambda: refnn.optimizers.RMSprop(0.001, momentum=0.9, centered=True),
     ["velocity", "momentum", "average_gradient"]),
    (lambda: refnn.optimizers.SGD(0.01, momentum=0.9), ["momentum"])])
def test_a_weight_its_gradient_and_its_slots_start_apart_in_the_page(make, slots):
    """The fused update reads w, its gradient and its slots in one loop. 784 x 128 floats are
    98 pages, and arrays of one size allocated one after another start 16 bytes apart within
    their pages (measured: offsets 3824, 3808 for W and its gradient, 272, 288 for Adam's
    slots): each load would wait on the store to its neighbour (4K aliasing). The trainer and
    the optimizer place them 768 bytes apart instead (kernels.staggered_like)."""
    from refnn.kernels._arrays import STAGGER
    X = np.zeros((400, 784), np.float32)
    Y = np.zeros((400, 10), np.float32)
    weights = [np.zeros((784, 128), np.float32), np.zeros(128, np.float32),
               np.zeros((128, 10), np.float32), np.zeros(10, np.float32)]
    trainer = refnn.kernels.DenseTrainer(weights, X, Y, ["sigmoid", "softmax"],
                                         "softmax_crossentropy", 200)
    optimizer = make()
    optimizer.build(weights)
    W = weights[0]
    assert list(optimizer.slots) == slots
    offsets = [page_offset(trainer.grads[0], W)] + [page_offset(optimizer.slots[name][0], W)
                                                    for name in slots]
    assert offsets == [k * STAGGER for k in range(1, len(slots) + 2)]
    assert all(np.all(optimizer.slots[name][0] == 0) for name in slots)


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


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_the_gather_finds_any_non_finite_value_at_any_column(dtype, value):
    """The first epoch's gather copies and checks each row in one pass: a NaN or +-inf at
    any column (the vectorised body and the scalar tail of the loop) is found, naming the
    sample, and nothing is computed; finite extremes pass."""
    rng = np.random.default_rng(1)
    d = 37                                            # not a multiple of any vector width
    W = [rng.normal(size=(d, 3)).astype(dtype), np.zeros(3, dtype)]
    Y = np.eye(3, dtype=dtype)[rng.integers(0, 3, 12)]
    X = rng.normal(size=(12, d)).astype(dtype)
    X[4, 0] = np.finfo(dtype).max
    X[5, 1] = -np.finfo(dtype).max
    X[6, 2] = np.finfo(dtype).tiny / 4                  # subnormal
    trainer = refnn.kernels.DenseTrainer(W, X, Y, ["softmax"], "softmax_crossentropy", 12)
    order = np.arange(12, dtype=np.intp)[::-1].copy()
    trainer.step(order, check_finite=True)          # finite: no error
    for column in range(d):
        bad = X.copy()
        bad[7, column] = value
        trainer = refnn.kernels.DenseTrainer(W, bad, Y, ["softmax"], "softmax_crossentropy", 12)
        trainer.grads[0][...] = 0
        with pytest.raises(ValueError, match="sample 7 holds"):
            trainer.step(order, check_finite=True)
        assert not trainer.grads[0].any()           # nothing computed
        trainer.step(order, check_finite=False)     # unchecked: the caller's promise


@pytest.mark.parametrize("hidden", [[], ["sigmoid"], ["relu", "tanh"]])
def test_step_phases_tile_the_step(hidden):
    """phase_seconds() splits the steps' time into its phases: each clocked phase has run
    (a network without hidden layers has no activations to time; the optimizer update runs
    once one is fused), together they fit inside the wall-clock time of the calls, and
    reset_phases() starts again from zero."""
    import time
    rng = np.random.default_rng(0)
    sizes = [12] + [6] * len(hidden) + [3]
    W = [a for n_in, n_out in zip(sizes[:-1], sizes[1:])
         for a in (rng.normal(size=(n_in, n_out)), np.zeros(n_out))]
    X = rng.normal(size=(40, 12))
    Y = np.eye(3)[rng.integers(0, 3, 40)]
    trainer = refnn.kernels.DenseTrainer(W, X, Y, hidden + ["softmax"], "softmax_crossentropy", 8)
    assert tuple(trainer.phase_seconds()) == trainer.PHASES
    assert set(trainer.phase_seconds().values()) == {0.0}
    start = time.perf_counter()
    for s in range(0, 40, 8):
        trainer.step(np.arange(s, s + 8, dtype=np.intp))
    wall = time.perf_counter() - start
    phases = trainer.phase_seconds()
    for name, seconds in phases.items():
        if (name == "activations" and not hidden) or name == "optimizer update":
            assert seconds == 0.0
        else:
            assert seconds > 0.0, name
    assert sum(phases.values()) <= wall
    optimizer = refnn.optimizers.SGD(learning_rate=0.1)
    optimizer.build(W)
    trainer.set_update(*optimizer.fused_rule())
    trainer.step(np.arange(8, dtype=np.intp), scalars=optimizer.fused_scalars())
    assert trainer.phase_seconds()["optimizer update"] > 0.0
    trainer.reset_phases()
    assert set(trainer.phase_seconds().values()) == {0.0}


FUSABLE = {
    "sgd": lambda: refnn.optimizers.SGD(learning_rate=0.1),
    "momentum": lambda: refnn.optimizers.SGD(learning_rate=0.1, momentum=0.9),
    "nesterov": lambda: refnn.optimizers.SGD(learning_rate=0.1, momentum=0.9, nesterov=True),
    "adagrad": lambda: refnn.optimizers.Adagrad(learning_rate=0.1),
    "rmsprop": lambda: refnn.optimizers.RMSprop(learning_rate=0.01),
    "rmsprop-centered-momentum": lambda: refnn.optimizers.RMSprop(
        learning_rate=0.01, momentum=0.5, centered=True),
    "adam": lambda: refnn.optimizers.Adam(learning_rate=0.01),
    "amsgrad": lambda: refnn.optimizers.Adam(learning_rate=0.01, amsgrad=True),
    "nadam": lambda: refnn.optimizers.Nadam(learning_rate=0.01),
    "adamax": lambda: refnn.optimizers.Adamax(learning_rate=0.01),
}


def _trainer_pair(make_optimizer, dtype, hidden=("sigmoid", "relu")):
    """Two trainers on copies of one network and data, each with its own fresh optimizer."""
    rng = np.random.default_rng(3)
    sizes = [9, 7, 5, 4][:len(hidden) + 1] + [4]
    W = [a.astype(dtype) for n_in, n_out in zip(sizes[:-1], sizes[1:])
         for a in (rng.normal(size=(n_in, n_out)), rng.normal(size=n_out) * 0.1)]
    X = rng.normal(size=(30, 9)).astype(dtype)
    Y = np.eye(4, dtype=dtype)[rng.integers(0, 4, 30)]
    pair = []
    for _ in range(2):
        weights = [w.copy() for w in W]
        trainer = refnn.kernels.DenseTrainer(weights, X, Y, list(hidden) + ["softmax"],
                                             "softmax_crossentropy", 8)
        optimizer = make_optimizer()
        optimizer.build(weights)
        pair.append((weights, trainer, optimizer))
    return pair


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(FUSABLE))
def test_the_fused_update_equals_the_optimizer_bit_for_bit(name, dtype):
    """The optimizer's rule run inside the step, layer by layer, right after each layer's
    backward pass, gives the weights and slots the optimizer's own apply gives after the step:
    the same loops (src_c/_updates.pxd) on the same numbers."""
    (w_a, fused, opt_a), (w_b, plain, opt_b) = _trainer_pair(FUSABLE[name], dtype)
    fused.set_update(*opt_a.fused_rule())
    for start in (0, 8, 16, 24, 0, 8):
        order = np.arange(start, min(start + 8, 30), dtype=np.intp)
        losses_a, _ = fused.step(order, scalars=opt_a.fused_scalars())
        assert fused.updated
        opt_a.iterations += 1
        losses_b, _ = plain.step(order)
        opt_b.apply(w_b, plain.grads)
        np.testing.assert_array_equal(losses_a, losses_b)
        assert fused.mean_loss == pytest.approx(np.mean(losses_b, dtype=np.float64), rel=1e-15)
        for a, b in zip(w_a, w_b):
            np.testing.assert_array_equal(a, b)
    for a, b in zip(opt_a.get_state(), opt_b.get_state()):
        np.testing.assert_array_equal(a, b)
    start = _trainer_pair(FUSABLE[name], dtype)[0][0]
    assert not all(np.array_equal(a, b) for a, b in zip(w_a, start))


def test_a_non_finite_loss_updates_nothing():
    """A batch whose loss is not finite leaves weights and slots as they were (fit then stops
    before that update), and says so."""
    (weights, trainer, optimizer), _ = _trainer_pair(FUSABLE["adam"], np.float64, hidden=())
    trainer.set_update(*optimizer.fused_rule())
    weights[0][0, 0] = 1e308                       # h = 5e308 overflows: the loss is inf
    trainer.X[:, 0] = 5
    before = [w.copy() for w in weights] + optimizer.get_state()
    with np.errstate(all="ignore"):
        losses, _ = trainer.step(np.arange(8, dtype=np.intp), scalars=optimizer.fused_scalars())
    assert not np.isfinite(losses).all() and not trainer.updated
    for a, b in zip(before, weights + optimizer.get_state()):
        np.testing.assert_array_equal(a, b)


def test_the_fused_update_refuses_what_does_not_fit():
    (weights, trainer, optimizer), _ = _trainer_pair(FUSABLE["adam"], np.float64)
    order = np.arange(8, dtype=np.intp)
    with pytest.raises(ValueError, match="no update was set"):
        trainer.step(order, scalars=(0.1, 0.9, 0.999, 1e-7))
    rule, slots = optimizer.fused_rule()
    with pytest.raises(ValueError, match="unknown rule 'lbfgs'"):
        trainer.set_update("lbfgs", slots)
    with pytest.raises(ValueError, match="one tuple per weight"):
        trainer.set_update(rule, slots[:-1])
    with pytest.raises(ValueError, match=r"slots\[0\]\[1\] is required"):
        trainer.set_update(rule, [(slots[0][0], None, None)] + slots[1:])
    with pytest.raises(ValueError, match=r"slots\[1\]\[0\] must be a writable C-contiguous"):
        trainer.set_update(rule, [slots[0], (slots[1][0].astype(np.float32),) + slots[1][1:]]
                           + slots[2:])
    trainer.set_update(rule, slots)
    for bad in [(0.1, 0.9, 0.999), (0.1, 0.9, 0.999, float("nan")), (0.1, 0.9, 0.999, "x"),
                (0.1, 0.9, 0.999, float("inf"))]:
        with pytest.raises(ValueError, match="scalars must be .*finite numbers"):
            trainer.step(order, scalars=bad)
    assert not trainer.updated


class _RestoreOptimizerEachEpoch(refnn.callbacks.Callback):
    """Puts the optimizer's state of the first epoch's end back at every later epoch's end."""

    def on_epoch_end(self, epoch, logs=None):
        if epoch == 0:
            self.state = self.model.optimizer.get_state()
        else:
            self.model.optimizer.set_state(self.state)


def test_a_state_restored_during_fit_reaches_the_fused_update():
    """set_state overwrites the slots in place, so the compiled step, which holds them, goes on
    from the restored state: fit equals the layer-by-layer fit with the same callback."""
    x, y = data("onehot")
    fast = build(["sigmoid"], "softmax", "categorical_crossentropy", OPTIMIZERS[0], "float64",
                 True)
    slow = build(["sigmoid"], "softmax", "categorical_crossentropy", OPTIMIZERS[0], "float64",
                 False)
    slots = fast.optimizer.slots if fast.optimizer.built else None
    for model in (fast, slow):
        model.fit(x, y, batch_size=16, epochs=4, verbose=0,
                  callbacks=[_RestoreOptimizerEachEpoch()])
    for a, b in zip(fast.get_weights() + fast.optimizer.get_state(),
                    slow.get_weights() + slow.optimizer.get_state()):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    if slots is not None:
        assert all(u is v for name in slots
                   for u, v in zip(slots[name], fast.optimizer.slots[name]))


def test_a_diverging_fit_stops_at_the_same_batch_on_both_paths():
    """A learning rate far too large: the loss overflows, and fit raises before that batch's
    update on the compiled path just as on the layer-by-layer one (same batch, weights and
    step count), with every weight still finite."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 3)) * 1e3, rng.normal(size=(64, 2)) * 1e3
    models, messages = [], []
    for fast in (True, False):
        model = Sequential([Dense(4, activation="linear", input_shape=(3,)), Dense(2)], seed=0,
                           dtype="float64")
        model.compile(loss="mse", optimizer=refnn.optimizers.SGD(learning_rate=10.0))
        model.use_fast_path = fast
        with pytest.raises(TrainingDivergedError) as info:
            model.fit(x, y, batch_size=8, epochs=5, verbose=0)
        models.append(model)
        messages.append(str(info.value).split(":")[0])
    fast, slow = models
    assert fast._fast_plan() is not None
    assert messages[0] == messages[1] and messages[0].startswith("training diverged in epoch 1")
    assert fast.optimizer.iterations == slow.optimizer.iterations < 8
    for a, b in zip(fast.get_weights(), slow.get_weights()):
        assert np.isfinite(a).all()
        np.testing.assert_allclose(a, b, rtol=1e-12)
