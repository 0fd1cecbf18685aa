"""refnn's own threads: the compiled step cut into pieces by the sizes alone, so fit gives
bit-identical weights for any number of threads; one setting (refnn.set_num_threads,
refnn.num_threads, REFNN_NUM_THREADS) with a default that respects the limits the process was
given; the BLAS's own thread setting as the user left it after every step."""
import os
import subprocess
import sys
import time

import numpy as np
import pytest

import refnn
from refnn import Sequential
from refnn.kernels import DenseTrainer
from refnn.kernels import _dispatch
from refnn.kernels import blas as kblas
from refnn.kernels import threads as kthreads
from refnn.layers import Dense
from refnn.utils import to_categorical

PAIRS = [("softmax", "categorical_crossentropy", "onehot"),
         ("softmax", "sparse_categorical_crossentropy", "sparse"),
         ("sigmoid", "binary_crossentropy", "binary"),
         ("linear", "mse", "real"),
         ("tanh", "mse", "real")]
OPTIMIZERS = {
    "sgd": lambda: refnn.optimizers.SGD(learning_rate=0.05),
    "momentum": lambda: refnn.optimizers.SGD(learning_rate=0.05, momentum=0.9, nesterov=True),
    "adagrad": lambda: refnn.optimizers.Adagrad(learning_rate=0.05),
    "rmsprop": lambda: refnn.optimizers.RMSprop(learning_rate=0.005, centered=True,
                                                momentum=0.5),
    "adam": lambda: refnn.optimizers.Adam(learning_rate=0.005, amsgrad=True),
    "nadam": lambda: refnn.optimizers.Nadam(learning_rate=0.005),
    "adamax": lambda: refnn.optimizers.Adamax(learning_rate=0.005),
    # clipping by a norm takes two regions (every piece's gradient, then the updates)
    "adam-clipnorm": lambda: refnn.optimizers.Adam(learning_rate=0.005, clipnorm=0.05),
    "sgd-global-clipnorm": lambda: refnn.optimizers.SGD(learning_rate=0.05, momentum=0.9,
                                                        global_clipnorm=0.1),
    "adamw-clipvalue": lambda: refnn.optimizers.AdamW(learning_rate=0.005, clipvalue=0.01)}


@pytest.fixture
def small_pieces():
    """Cut every step into many pieces (4 rows; 256 weights), so that even these small
    networks give the threads work to share; the default cut is put back after."""
    train = _dispatch._train
    train.set_piece_sizes(4, 4, 16, 256, 16)
    yield
    train.set_piece_sizes()


def data(kind, n=150, d=30, k=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    labels = rng.integers(0, k, n)
    y = {"onehot": to_categorical(labels, k), "sparse": labels,
         "binary": (rng.random((n, k)) < 0.5).astype(float), "real": rng.normal(size=(n, k))}
    return x, y[kind]


def trained_weights(threads, out, loss, targets, optimizer, dtype, fast=True):
    x, y = data(targets)
    model = Sequential([Dense(40, activation="relu", input_shape=(30,)),
                        Dense(24, activation="tanh"), Dense(4, activation=out)],
                       seed=3, dtype=dtype)
    model.compile(loss=loss, optimizer=OPTIMIZERS[optimizer]())
    model.use_fast_path = fast
    with refnn.num_threads(threads):
        model.fit(x, y, batch_size=64, epochs=3, verbose=0)      # batches of 64, 64 and 22
    return model.get_weights()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("out,loss,targets", PAIRS, ids=[p[1] + "-" + p[0] for p in PAIRS])
@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_fit_gives_the_same_bits_on_any_number_of_threads(small_pieces, out, loss, targets,
                                                           optimizer, dtype):
    one = trained_weights(1, out, loss, targets, optimizer, dtype)
    for threads in (2, 3, 4):
        other = trained_weights(threads, out, loss, targets, optimizer, dtype)
        for a, b in zip(one, other):
            assert a.tobytes() == b.tobytes(), f"{threads} threads differ from 1"


@pytest.mark.parametrize("out,loss,targets", PAIRS[:4], ids=[p[1] for p in PAIRS[:4]])
def test_threaded_fit_equals_the_layer_by_layer_path(small_pieces, out, loss, targets):
    threaded = trained_weights(4, out, loss, targets, "adam", "float64")
    checked = trained_weights(1, out, loss, targets, "adam", "float64", fast=False)
    for a, b in zip(threaded, checked):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


def test_the_cut_depends_on_the_sizes_alone(small_pieces):
    x, y = data("onehot")
    W = [np.ones((30, 40)), np.zeros(40), np.ones((40, 4)), np.zeros(4)]
    trainer = DenseTrainer(W, x, y, ["relu", "softmax"], "softmax_crossentropy", 64)
    # 64 rows in pieces of at least 4, at most 16: 16 pieces; 22 rows: 5 pieces. W1 (1200
    # weights, 30 rows): 4 pieces of 7 or 8 rows; W2 (160 weights): 1 piece; and 2 biases.
    assert trainer.pieces(64) == (16, 7)
    assert trainer.pieces(22) == (5, 7)
    order = np.arange(64, dtype=np.intp)
    trainer.threads = 1
    trainer.reset_phases()
    for _ in range(200):
        trainer.step(order)
    assert len(trainer.worker_seconds()) == 1    # one thread: the caller did every piece
    # Three: the helpers take pieces too, once the operating system runs them. A step this
    # small can end before a woken helper gets a core (on a busy machine, or one with a single
    # core for this process), so step until a helper has taken a piece, for at most 60 s.
    trainer.threads = 3
    trainer.reset_phases()
    deadline = time.monotonic() + 60.0
    while len(trainer.worker_seconds()) < 2 and time.monotonic() < deadline:
        for _ in range(50):
            trainer.step(order)
    assert 2 <= len(trainer.worker_seconds()) <= 3


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def run_probe(choice, limit, step_seconds):
    """Run threads()/record() until the probe under way ends, each step taking
    step_seconds[count]; the counts the steps ran on."""
    counts = []
    while True:
        count = choice.threads(limit)
        counts.append(count)
        choice.record(step_seconds[count])
        if not choice.plan:
            return counts


def test_the_default_keeps_the_count_its_probe_timed_faster():
    clock = FakeClock()
    choice = kthreads.ThreadChoice(clock)
    assert [choice.threads(2) for _ in range(5)] == [2] * 5       # no probe in the warm-up
    clock.now = choice.WARMUP
    one_faster = {1: 0.5e-3, 2: 1.0e-3}
    counts = run_probe(choice, 2, one_faster)
    # two rounds of (one untimed, BLOCK timed) steps on the current count, then on half of it
    block = 1 + choice.BLOCK
    assert counts == ([2] * block + [1] * block) * choice.ROUNDS
    assert choice.threads(2) == 1 and choice.current == 1
    clock.now += choice.PERIOD / 2
    assert choice.threads(2) == 1 and not choice.plan               # the choice stands
    clock.now += choice.PERIOD                                      # the next probe: 1 and 2
    counts = run_probe(choice, 2, {1: 1.0e-3, 2: 0.6e-3})
    assert counts == ([1] * block + [2] * block) * choice.ROUNDS
    assert choice.threads(2) == 2
    assert choice.threads(1) == 1 and choice.threads(3) == 3       # a new default: start over


def test_the_probe_tries_half_and_twice_the_count_by_turns():
    clock = FakeClock()
    choice = kthreads.ThreadChoice(clock)
    choice.threads(8)
    seconds = {8: 3.0, 4: 2.0, 2: 1.0, 1: 4.0}          # 2 threads the fastest
    tried = []
    for _ in range(5):
        clock.now += choice.WARMUP + choice.PERIOD
        tried.append(sorted(set(run_probe(choice, 8, seconds))))
    # 8 -> 4 (down), 4 vs 8 (up), 4 -> 2 (down), 2 vs 4 (up), 2 vs 1 (down): 2 stays
    assert tried == [[4, 8], [4, 8], [2, 4], [2, 4], [1, 2]]
    assert choice.current == 2


def test_the_default_times_full_batches_and_a_set_count_is_kept():
    x, y = data("onehot")
    W = [np.full((30, 40), 0.01), np.zeros(40), np.full((40, 4), 0.01), np.zeros(4)]
    trainer = DenseTrainer(W, x, y, ["relu", "softmax"], "softmax_crossentropy", 64)
    clock = FakeClock()
    trainer.thread_choice = kthreads.ThreadChoice(clock)
    with refnn.num_threads(None):
        trainer.step(np.arange(64, dtype=np.intp))
        limit = kthreads.default_num_threads()
        assert trainer.step_threads == limit
        clock.now = 1.0
        trainer.step(np.arange(64, dtype=np.intp))   # starts a probe (with more than 1 core)
        planned = len(trainer.thread_choice.plan)
        trainer.step(np.arange(22, dtype=np.intp))   # a short batch is not timed
        assert len(trainer.thread_choice.plan) == planned
    with refnn.num_threads(3):
        for _ in range(3):
            trainer.step(np.arange(64, dtype=np.intp))
            assert trainer.step_threads == 3
    assert len(trainer.thread_choice.plan) == planned


def test_a_default_that_changes_its_count_from_step_to_step_gives_the_same_bits(
        small_pieces, monkeypatch):
    monkeypatch.setattr(kthreads.ThreadChoice, "WARMUP", 0.0)
    monkeypatch.setattr(kthreads.ThreadChoice, "PERIOD", 0.0)
    monkeypatch.setattr(kthreads.ThreadChoice, "BLOCK", 1)
    monkeypatch.setattr(kthreads, "default_num_threads", lambda: 4)
    counts = []
    original = kthreads.ThreadChoice.threads

    def threads(self, limit):
        counts.append(original(self, limit))
        return counts[-1]
    monkeypatch.setattr(kthreads.ThreadChoice, "threads", threads)
    one = trained_weights(1, "softmax", "categorical_crossentropy", "onehot", "adam", "float32")
    tuned = trained_weights(None, "softmax", "categorical_crossentropy", "onehot", "adam",
                            "float32")
    assert len(set(counts)) >= 2, counts                 # the count did change
    for a, b in zip(one, tuned):
        assert a.tobytes() == b.tobytes()


def test_set_num_threads_and_the_context_manager():
    default = refnn.get_num_threads()
    assert default == refnn.kernels.threads.default_num_threads()
    with refnn.num_threads(3):
        assert refnn.get_num_threads() == 3
        with refnn.num_threads(None):
            assert refnn.get_num_threads() == default
        assert refnn.get_num_threads() == 3
    assert refnn.get_num_threads() == default
    refnn.set_num_threads(2)
    try:
        assert refnn.get_num_threads() == 2
    finally:
        refnn.set_num_threads(None)
    assert refnn.get_num_threads() == default


@pytest.mark.parametrize("bad,error", [(0, ValueError), (65, ValueError), (2.0, TypeError),
                                       (True, TypeError), ("2", TypeError)])
def test_bad_thread_counts_are_refused_and_change_nothing(bad, error):
    before = refnn.get_num_threads()
    with pytest.raises(error, match="^n must be"):
        refnn.set_num_threads(bad)
    with pytest.raises(error, match="^n must be"):
        with refnn.num_threads(bad):
            pass
    assert refnn.get_num_threads() == before


def _in_child(code, **env):
    full = {k: v for k, v in os.environ.items()
            if k not in ("REFNN_NUM_THREADS",) + refnn.kernels.threads.LIMIT_VARIABLES}
    result = subprocess.run([sys.executable, "-c", code], env={**full, **env},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip(), result.stderr


def test_the_environment_sets_and_limits_the_default():
    cores = refnn.kernels.threads.available_cores()
    code = "import refnn; print(refnn.get_num_threads())"
    assert _in_child(code)[0] == str(min(cores, 64))
    assert _in_child(code, REFNN_NUM_THREADS="3")[0] == "3"
    # joblib's worker processes are started with these set: refnn keeps within them
    assert _in_child(code, OMP_NUM_THREADS="1")[0] == "1"
    assert _in_child(code, OPENBLAS_NUM_THREADS="1")[0] == "1"
    out, err = _in_child(code, REFNN_NUM_THREADS="lots")
    assert out == str(min(cores, 64)) and "REFNN_NUM_THREADS='lots'" in err


def test_the_environment_limit_is_the_smallest_whole_number_set(monkeypatch):
    limit = refnn.kernels.threads._environment_limit
    for name in refnn.kernels.threads.LIMIT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert limit() is None
    monkeypatch.setenv("OMP_NUM_THREADS", "")                # set but empty: no limit
    monkeypatch.setenv("MKL_NUM_THREADS", "lots")            # not a number: ignored
    assert limit() is None
    monkeypatch.setenv("MKL_NUM_THREADS", "0")               # not a thread count: ignored
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", " 3 ")        # as int() reads it
    assert limit() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert limit() == 2


def test_a_threadpoolctl_limit_lowers_the_default():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="threadpoolctl is not installed")
    if kblas.user_blas_threads() == 0:
        pytest.skip("this BLAS is not an OpenBLAS refnn can steer")
    with threadpoolctl.threadpool_limits(1):
        assert refnn.get_num_threads() == 1


def test_fit_leaves_the_blas_thread_setting_as_the_user_had_it():
    if kblas.user_blas_threads() == 0:
        pytest.skip("this BLAS is not an OpenBLAS refnn can steer")
    set_threads, get_threads = _blas_setting()
    before = get_threads()
    seen = []

    class Watch(refnn.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(get_threads())

    x, y = data("onehot")
    model = Sequential([Dense(8, activation="relu", input_shape=(30,)),
                        Dense(4, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    try:
        for user in (3, 1):
            set_threads(user)
            with refnn.num_threads(2):
                model.fit(x, y, batch_size=32, epochs=1, verbose=0, callbacks=[Watch()])
            assert get_threads() == user                     # after the fit: the user's again
            assert set(seen) == {user}                       # between steps too
            seen.clear()
    finally:
        set_threads(before)


def _blas_setting():
    """The active OpenBLAS's own openblas_set_num_threads and openblas_get_num_threads."""
    import ctypes
    set_address, get_address = kblas._thread_setting(kblas.BLAS)
    return (ctypes.CFUNCTYPE(None, ctypes.c_int)(set_address),
            ctypes.CFUNCTYPE(ctypes.c_int)(get_address))


def test_every_kernel_module_keeps_one_record_of_the_blas_setting():
    # the count of refnn calls inside the BLAS is one count for the process: a layer kernel
    # running while a training step runs must not put the user's setting back under it
    assert _dispatch._dense.blas_limit_address() == _dispatch._train.blas_limit_address()


def test_predict_leaves_the_blas_thread_setting_as_the_user_had_it():
    if kblas.user_blas_threads() == 0:
        pytest.skip("this BLAS is not an OpenBLAS refnn can steer")
    set_threads, get_threads = _blas_setting()
    before = get_threads()
    x, _ = data("onehot")
    model = Sequential([Dense(8, activation="relu", input_shape=(30,)),
                        Dense(4, activation="softmax")], seed=0)
    try:
        for user in (3, 1):
            set_threads(user)
            expected = model.predict(x, verbose=0)
            assert get_threads() == user
            set_threads(1)
            np.testing.assert_array_equal(model.predict(x, verbose=0), expected)
    finally:
        set_threads(before)


def test_fit_on_four_threads_allocates_no_more_than_on_one():
    # refnn's threads work in the step's shared buffers (each piece its own rows or weights):
    # no buffer per thread. tracemalloc counts NumPy's allocations; W1's shapes, 2,000 samples
    import tracemalloc
    rng = np.random.default_rng(0)
    x = rng.random((2000, 784), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 2000)]
    peaks = {}
    for threads in (1, 4):
        model = Sequential([Dense(128, activation="sigmoid", input_shape=(784,)),
                            Dense(10, activation="softmax")], seed=0)
        model.compile(loss="categorical_crossentropy", optimizer="adam")
        with refnn.num_threads(threads):
            model.fit(x[:200], y[:200], batch_size=200, epochs=1, verbose=0)   # warm up
            tracemalloc.start()
            try:
                model.fit(x, y, batch_size=200, epochs=2, verbose=0)
                peaks[threads] = tracemalloc.get_traced_memory()[1] / 2 ** 20
            finally:
                tracemalloc.stop()
    assert peaks[4] <= 64, peaks
    assert peaks[4] <= peaks[1] + 0.5, peaks


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH") or not os.path.isdir("/proc/self/task"),
                    reason="SCHED_BATCH and /proc/self/task are Linux's")
def test_refnns_helper_threads_run_under_sched_batch_and_the_callers_thread_does_not():
    # a helper woken for a region must not pre-empt the thread that woke it (src_c/pool.h); the
    # operating system's own report of each thread's policy is the oracle
    rng = np.random.default_rng(0)
    x = rng.random((400, 30), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 400)]
    model = Sequential([Dense(64, activation="relu", input_shape=(30,)),
                        Dense(3, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    with refnn.num_threads(4):
        model.fit(x, y, batch_size=200, epochs=1, verbose=0)     # starts 3 helpers at least
    policies = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            policies[int(tid)] = os.sched_getscheduler(int(tid))
        except OSError:                  # a thread that ended meanwhile
            continue
    assert sum(p == os.SCHED_BATCH for p in policies.values()) >= 3, policies
    assert policies[os.getpid()] == os.SCHED_OTHER, policies


# --- predict and evaluate: the compiled forward pass of a Dense stack, on refnn's threads

STACKS = [["relu", "tanh", "softmax"], ["sigmoid", "sigmoid"], ["linear", "relu", "linear"],
          ["tanh", "relu", "sigmoid"]]


def stack_model(acts, dtype, fast=True, flatten=False):
    layers = [Dense(48, activation=a) for a in acts[:-1]] + [Dense(5, activation=acts[-1])]
    if flatten:
        layers.insert(0, refnn.layers.Flatten())
    model = Sequential(layers, seed=7, dtype=dtype)
    model.build((6, 5) if flatten else (30,))
    model.use_fast_path = fast
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("acts", STACKS, ids="-".join)
def test_predict_gives_the_same_bits_on_any_number_of_threads(acts, dtype):
    # 1,000 rows: 3 pieces of 256 rows and 1 of 232, shared by the threads
    x = np.random.default_rng(1).normal(size=(1000, 30))
    model = stack_model(acts, dtype)
    outputs = []
    for threads in (1, 2, 3, 4):
        with refnn.num_threads(threads):
            outputs.append(model.predict(x, verbose=0))
    for out in outputs[1:]:
        np.testing.assert_array_equal(out, outputs[0])
    # and the layer-by-layer forward pass (the layer kernels, batch by batch) to rounding
    model.use_fast_path = False
    layered = model.predict(x, batch_size=200, verbose=0)
    np.testing.assert_allclose(outputs[0], layered, rtol=1e-12 if dtype == "float64" else 2e-5,
                               atol=1e-12 if dtype == "float64" else 1e-6)


def test_predict_and_evaluate_take_the_compiled_pass_only_for_a_dense_stack(monkeypatch):
    calls = []
    real = refnn.kernels.dense_stack_forward
    monkeypatch.setattr(refnn.kernels, "dense_stack_forward",
                        lambda *a, **k: calls.append(a[1].shape) or real(*a, **k))
    x, y = data("onehot")
    model = stack_model(["relu", "softmax"], "float64")
    model.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    model.predict(x, batch_size=16, verbose=0)
    model.evaluate(x, y[:, :4].repeat(2, axis=1)[:, :5], batch_size=16, verbose=0)
    assert calls == [(150, 30), (150, 30)]      # each over every sample, in one call
    # with callbacks: batch by batch, as the callbacks see them
    calls.clear()
    model.predict(x, batch_size=64, verbose=0, callbacks=[refnn.callbacks.Callback()])
    assert calls == [(64, 30), (64, 30), (22, 30)]
    # not a Dense stack (batch normalisation): layer by layer
    calls.clear()
    bn = Sequential([Dense(8, activation="relu", batch_norm=True), Dense(5)], seed=0)
    bn.build((30,))
    bn.predict(x, verbose=0)
    assert calls == []


@pytest.mark.parametrize("flatten", [False, True])
def test_evaluate_over_the_compiled_pass_equals_the_layer_path(flatten):
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 6, 5) if flatten else (300, 30))
    y = to_categorical(rng.integers(0, 5, 300), 5)
    w = rng.random(300)
    model = stack_model(["relu", "tanh", "softmax"], "float64", flatten=flatten)
    model.compile(loss="categorical_crossentropy", metrics=["accuracy", "mse"])
    fast = model.evaluate(x, y, batch_size=64, sample_weight=w, verbose=0)
    with_callbacks = model.evaluate(x, y, batch_size=64, sample_weight=w, verbose=0,
                                    callbacks=[refnn.callbacks.Callback()])
    model.use_fast_path = False
    layered = model.evaluate(x, y, batch_size=64, sample_weight=w, verbose=0)
    np.testing.assert_allclose(fast, layered, rtol=1e-12)
    np.testing.assert_allclose(with_callbacks, layered, rtol=1e-12)


@pytest.mark.parametrize("fast", [True, False])
def test_an_overflow_in_the_forward_pass_names_x_on_both_paths(fast):
    # float32 inputs of 1e38 with W_1 all 1 overflow h_1 = x W_1 + b_1 (30e38 > 3.4e38);
    # the output would still be finite (sigmoid(inf) = 1), but both paths refuse it
    model = stack_model(["sigmoid", "softmax"], "float32", fast=fast)
    weights = model.get_weights()
    weights[0][...] = 1
    model.set_weights(weights)
    x = np.full((10, 30), 1e38, dtype=np.float32)
    with pytest.raises(ValueError, match="x drove the network out of floating-point range"):
        model.predict(x, verbose=0)


def test_the_compiled_forward_checks_its_arguments():
    model = stack_model(["relu", "softmax"], "float64")
    weights = model.get_weights()
    x = np.zeros((4, 30))
    with pytest.raises(ValueError, match="softmax"):
        refnn.kernels.dense_stack_forward(weights, x, ["softmax", "softmax"])
    with pytest.raises(ValueError, match="features"):
        refnn.kernels.dense_stack_forward(weights, np.zeros((4, 29)), ["relu", "softmax"])
    with pytest.raises(ValueError, match="one activation per layer"):
        refnn.kernels.dense_stack_forward(weights, x, ["relu"])
    with pytest.raises(ValueError, match="X must not be empty"):
        refnn.kernels.dense_stack_forward(weights, np.zeros((0, 30)), ["relu", "softmax"])
    with pytest.raises(TypeError, match="float64"):
        refnn.kernels.dense_stack_forward(weights, x.astype(np.float32), ["relu", "softmax"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("acts", STACKS, ids="-".join)
def test_the_compiled_forward_equals_its_numpy_twin(acts, dtype):
    # the oracle: refnn.reference.vectorized's dense_forward and activation_forward, layer
    # after layer, in float64
    from refnn.reference import vectorized
    model = stack_model(acts, dtype)
    weights = model.get_weights()
    x = np.random.default_rng(3).normal(size=(300, 30)).astype(dtype)
    h, yhat = refnn.kernels.dense_stack_forward(weights, x, acts, threads=2)
    g = x.astype(np.float64)
    for l, act in enumerate(acts):
        h_twin = vectorized.dense_forward(g, weights[2 * l].astype(np.float64),
                                          weights[2 * l + 1].astype(np.float64))
        g = vectorized.activation_forward(h_twin, act)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == "float64" else dict(rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(h, h_twin, **tol)
    np.testing.assert_allclose(yhat, g, **tol)


def test_the_cores_round_trip_is_at_most_the_time_it_took_and_a_busy_core_ends_it():
    """core_round_trip: the mean of `rounds` round trips cannot exceed the call's own time per
    round; with no second core, or a partner that cannot run, it says so (None, -1) within its
    budget instead of spinning on."""
    from refnn.kernels import threads
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("one core: nothing to measure between")
    rounds = 20000
    start = time.perf_counter()
    ns = threads.core_round_trip(rounds, budget=5.0)
    took = time.perf_counter() - start
    assert ns is not None and 0 < ns <= took * 1e9 / rounds
    cpu = min(os.sched_getaffinity(0))                  # both threads on one core: each round
    start = time.perf_counter()                         # waits for the other's time slice
    assert _dispatch._train.round_trip_ns(cpu, cpu, 10**6, 0.05) == -1
    assert time.perf_counter() - start < 1.0
    assert _dispatch._train.round_trip_ns(cpu, 10**6, 10, 0.05) == -1    # no such core
    code = ("import os; os.sched_setaffinity(0, {%d}); from refnn.kernels import threads; "
            "print(threads.core_round_trip())" % cpu)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "None"


@pytest.mark.parametrize("kwargs,error,words", [
    ({"rounds": 0}, ValueError, "rounds must be from 1 to"),
    ({"rounds": 2.5}, TypeError, "rounds must be an integer"),
    ({"budget": 0}, ValueError, "budget must be a finite number > 0"),
    ({"budget": float("nan")}, ValueError, "budget must be a finite number > 0"),
    ({"budget": 11}, ValueError, "budget must be at most 10 seconds")])
def test_the_round_trip_refuses_bad_arguments(kwargs, error, words):
    from refnn.kernels import threads
    with pytest.raises(error, match=words):
        threads.core_round_trip(**kwargs)
