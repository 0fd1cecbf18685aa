"""Regression tests of the kernel boundary's hardening: overlapping arrays refused where a
kernel updates in place, misaligned buffers copied before C sees them, a trainer not
reconfigured while it steps.

Oracles: NumPy's own arithmetic on copies (what the update means), refnn.reference.vectorized
(the NumPy twin) for the kernels."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import refnn
from refnn import kernels as K
from refnn.reference import vectorized as V


def misaligned(shape, dtype, fill):
    """An array of `shape` whose data starts one byte past an aligned address."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape))
    buffer = bytearray(n * dtype.itemsize + 1)
    a = np.frombuffer(buffer, dtype, n, offset=1).reshape(shape)
    a[...] = fill
    assert not a.flags.aligned
    return a


# ---- aliasing: in-place kernels refuse overlapping arrays (they gave order-dependent results)

def test_an_update_whose_grad_overlaps_w_is_refused_and_changes_nothing():
    a = np.arange(10.0)
    with pytest.raises(ValueError, match="w and grad share memory; w is updated in place"):
        K.sgd_update(a[1:], a[:-1], 1.0)       # gave [0, 1, 1, 2, 2, 3, ...], NumPy: all ones
    np.testing.assert_array_equal(a, np.arange(10.0))
    w, g = np.arange(9.0) + 1, np.arange(9.0)
    K.sgd_update(w, g.copy(), 1.0)             # the same update on copies: NumPy's answer
    np.testing.assert_array_equal(w, np.ones(9))


def test_a_slot_that_is_w_itself_is_refused():
    w = np.ones(4)
    with pytest.raises(ValueError, match="w and m share memory"):
        K.sgd_momentum_update(w, np.ones(4), w, 0.1, 0.9)
    with pytest.raises(ValueError, match="m and v share memory"):
        m = np.zeros(4)
        K.adam_update(np.ones(4), np.ones(4), m, m, 0.1, 0.9, 0.999, 1e-7)
    np.testing.assert_array_equal(w, np.ones(4))


def test_the_per_sample_kernel_refuses_repeated_weights_and_data_that_is_a_weight():
    rng = np.random.default_rng(0)
    W, b = rng.normal(size=(2, 2)), np.zeros(2)
    X, Y = rng.normal(size=(2, 2)), rng.uniform(size=(2, 2))
    with pytest.raises(ValueError, match=r"weights\[0\] and weights\[2\] share memory"):
        K.sgd_per_sample([W, b, W, b], X, Y, 0.1, "sigmoid")
    W2 = rng.normal(size=(2, 2))
    with pytest.raises(ValueError, match=r"weights\[0\] and X share memory"):
        K.sgd_per_sample([W, b, W2, b.copy()], W, Y, 0.1, "sigmoid")
    # read-only arguments may alias each other: X used as Y is fine
    K.sgd_per_sample([W, b, W2, b.copy()], X, X, 0.1, "sigmoid")


def test_a_trainer_refuses_data_that_is_a_weight_and_slots_that_overlap():
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(4, 4)), np.zeros(4)]
    Y = np.eye(4)[rng.integers(0, 4, 4)]
    with pytest.raises(ValueError, match=r"weights\[0\] and X share memory"):
        K.DenseTrainer(W, W[0], Y, ["softmax"], "softmax_crossentropy", 2)
    X = rng.normal(size=(4, 4))
    trainer = K.DenseTrainer(W, X, Y, ["softmax"], "softmax_crossentropy", 2)
    m = [np.zeros_like(w) for w in W]
    with pytest.raises(ValueError, match=r"weights\[0\] and slots\[0\]\[0\] share memory"):
        trainer.set_update("sgd", [(W[0],), (m[1],)])
    with pytest.raises(ValueError, match=r"slots\[0\]\[0\] and slots\[0\]\[1\] share memory"):
        trainer.set_update("adam", [(m[0], m[0]), (m[1], np.zeros(4))])


# ---- alignment: a buffer at an odd offset is copied before C reads it (UBSan: misaligned load)

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "softmax", "relu"])
def test_misaligned_inputs_give_the_twins_results(dtype, activation):
    h = misaligned((8, 8), dtype, np.linspace(-3, 3, 64).reshape(8, 8))
    want = V.activation_forward(np.array(h), activation)
    np.testing.assert_allclose(K.activation_forward(h, activation), want,
                               rtol=1e-5 if dtype == "float32" else 1e-12)


def test_a_misaligned_array_updated_in_place_is_updated_through_an_aligned_copy():
    w = misaligned((16,), np.float64, 1.0)
    K.sgd_update(w, np.full(16, 2.0), 0.25)
    np.testing.assert_array_equal(w, np.full(16, 0.5))    # 1 - 0.25 * 2
    with pytest.raises(ValueError, match="aligned"):
        K.DenseTrainer([misaligned((2, 2), np.float64, 0.5), np.zeros(2)], np.ones((3, 2)),
                       np.eye(2)[[0, 1, 0]], ["softmax"], "softmax_crossentropy", 3)


# ---- set_update while another thread is inside step()

def test_set_update_is_refused_while_a_step_runs():
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(4, 3)), np.zeros(3)]
    X, Y = rng.normal(size=(10, 4)), np.eye(3)[rng.integers(0, 3, 10)]
    trainer = K.DenseTrainer(W, X, Y, ["softmax"], "softmax_crossentropy", 5)
    with trainer._stepping:                    # what step() holds while the C step runs
        with pytest.raises(RuntimeError, match="a step\\(\\) of this trainer is running"):
            trainer.set_update("sgd", [(None,), (None,)])
    trainer.set_update("sgd", [(None,), (None,)])          # between steps: fine
    assert trainer.rule == "sgd"


HAMMER = textwrap.dedent("""
    import threading
    import numpy as np
    from refnn import kernels as K
    rng = np.random.default_rng(0)
    W = [rng.normal(size=(256, 256)), np.zeros(256), rng.normal(size=(256, 10)), np.zeros(10)]
    X, Y = rng.normal(size=(2000, 256)), np.eye(10)[rng.integers(0, 10, 2000)]
    trainer = K.DenseTrainer(W, X, Y, ["tanh", "softmax"], "softmax_crossentropy", 500)
    slots = [(np.zeros_like(w), np.zeros_like(w)) for w in W]
    trainer.set_update("adam", slots)
    stop, refused, done = threading.Event(), [0], [0]
    def reconfigure():
        while not stop.is_set():
            try:
                trainer.set_update("adam", [(np.zeros_like(w), np.zeros_like(w)) for w in W])
                done[0] += 1
            except RuntimeError:
                refused[0] += 1
    t = threading.Thread(target=reconfigure)
    t.start()
    order = np.arange(500, dtype=np.intp)
    for _ in range(300):
        trainer.step(order, scalars=(0.001, 0.9, 0.999, 1e-7))
    stop.set()
    t.join()
    assert all(np.isfinite(w).all() for w in W)
    print(refused[0], done[0])
""")


def test_hammering_set_update_during_steps_never_crashes():
    """Before the lock, set_update freed the slot table a running step read: a segfault or
    "malloc(): unaligned tcache chunk detected". In a child process, so a crash is a failure."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(refnn.__file__)),
               OPENBLAS_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", HAMMER], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    refused, done = map(int, out.stdout.split())
    assert refused > 0 and done > 0          # both paths were taken
