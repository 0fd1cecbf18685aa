"""Fuzzing refnn.kernels: random shapes (consistent or not), dtypes, layouts (C, Fortran,
strided, misaligned, read-only), arguments that share memory, and special values (NaN,
infinity, huge, subnormal, -0). Every call either raises ValueError or TypeError with a message
and leaves its arrays as they were, or returns what the NumPy twin (refnn.reference.vectorized)
computes from the same numbers. Run in a child process by tests/test_fuzz.py, so that a crash
is a failed test."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from refnn import kernels
from refnn.reference import vectorized as twin

from _settings import fuzz

DTYPES = [np.float64, np.float32, np.float64, np.float32, np.float16, np.int64, np.bool_,
          np.complex128, object]
LAYOUTS = ["C", "C", "F", "strided", "misaligned", "readonly"]
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 3e38, 5e-324, 1e-40, -0.0]
ACTIVATIONS = ["sigmoid", "tanh", "relu", "linear", "softmax", "step", "nope"]
TOL = {np.dtype(np.float32): 2e-4, np.dtype(np.float64): 1e-9}


@st.composite
def values(draw, shape):
    """Numbers in [-4, 4], now and then a special value among them."""
    n = int(np.prod(shape))
    out = np.array(draw(st.lists(st.floats(-4, 4, allow_subnormal=False), min_size=n,
                                 max_size=n)), dtype=np.float64).reshape(shape)
    if n and draw(st.integers(0, 9)) == 0:
        out.flat[draw(st.integers(0, n - 1))] = draw(st.sampled_from(SPECIAL))
    return out


def laid_out(a, dtype, layout):
    """a's values as `dtype`, stored in `layout`."""
    with np.errstate(all="ignore"):
        a = a.astype(dtype) if dtype is not object else a.astype(object)
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided" and a.ndim:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    if layout == "misaligned" and a.dtype.itemsize > 1 and a.dtype != object:
        raw = bytearray(a.nbytes + a.dtype.itemsize)
        out = np.frombuffer(raw, a.dtype, a.size, offset=1).reshape(a.shape)
        out[...] = a
        return out
    if layout == "readonly":
        a = a.copy()
        a.flags.writeable = False
    return np.array(a, copy=True) if layout == "C" else a


@st.composite
def argument(draw, shape):
    """An array meant to have `shape` (one time in eight another shape), drawn dtype, layout
    and values."""
    if draw(st.integers(0, 7)) == 0:
        shape = tuple(draw(st.lists(st.integers(0, 4), min_size=0, max_size=3)))
    dtype = draw(st.sampled_from(DTYPES))
    return laid_out(draw(values(shape)), dtype, draw(st.sampled_from(LAYOUTS)))


def snapshot(arrays):
    return [np.array(a, copy=True) for a in arrays if isinstance(a, np.ndarray)]


def _same(a, b):
    if a.dtype == object:
        return a.shape == b.shape and all(x == y or (x != x and y != y)
                                          for x, y in zip(a.flat, b.flat))
    return a.shape == b.shape and a.tobytes() == b.tobytes()       # NaN payloads included


def unchanged(before, arrays):
    return all(_same(a, b) for a, b in zip(before, snapshot(arrays)))


def ordinary(arrays):
    """Inputs a twin computes from: float32/64, finite, of moderate size."""
    return all(isinstance(a, np.ndarray) and a.dtype in (np.float32, np.float64)
               and np.isfinite(a).all() and (np.abs(a) < 1e3).all() for a in arrays)


def call_and_compare(name, arrays, extra=()):
    """The kernel and its twin on the same arguments: an error with a message and nothing
    changed, or the twin's numbers."""
    before = snapshot(arrays)
    try:
        result = getattr(kernels, name)(*arrays, *extra)
    except (ValueError, TypeError) as e:
        assert str(e), f"{name}: {type(e).__name__} without a message"
        assert unchanged(before, arrays), f"{name} refused ({e}) but changed an argument"
        return
    if not ordinary(before):
        return                                             # returned: no crash is the property
    dtype = np.result_type(*[a.dtype for a in before])
    with np.errstate(all="ignore"):
        expected = getattr(twin, name)(*[b.astype(np.float64) for b in before], *extra)
    got = result if isinstance(result, tuple) else (result,)
    want = expected if isinstance(expected, tuple) else (expected,)
    for g, w in zip(got, want):
        g, w = np.asarray(g, np.float64), np.asarray(w, np.float64)
        scale = 1.0 + max(float(np.abs(b).max(initial=0)) for b in before) ** 2 * 16
        np.testing.assert_allclose(g, w, rtol=TOL[np.dtype(dtype)] * 10,
                                   atol=TOL[np.dtype(dtype)] * scale, err_msg=name)


SIZES = st.integers(1, 5)


@fuzz(300)
@given(n=SIZES, n_in=SIZES, n_out=SIZES, data=st.data(), alias=st.booleans())
def test_dense_kernels(n, n_in, n_out, data, alias):
    g_prev = data.draw(argument((n, n_in)))
    W = g_prev if alias and n == n_in else data.draw(argument((n_in, n_out)))
    b = data.draw(argument((n_out,)))
    epsilon = data.draw(argument((n, n_out)))
    call_and_compare("dense_forward", [g_prev, W, b])
    call_and_compare("dense_backward", [g_prev, W, epsilon])
    activation = data.draw(st.sampled_from(ACTIVATIONS))
    call_and_compare("epsilon_backward", [epsilon, W, g_prev], (activation,))


@fuzz(300)
@given(n=SIZES, k=SIZES, data=st.data())
def test_activation_and_loss_kernels(n, k, data):
    h, y = data.draw(argument((n, k))), data.draw(argument((n, k)))
    activation = data.draw(st.sampled_from(ACTIVATIONS))
    call_and_compare("activation_forward", [h], (activation,))
    call_and_compare("activation_derivative", [h], (activation,))
    call_and_compare("softmax_crossentropy", [h, y])
    call_and_compare("sigmoid_binary_crossentropy", [h, y])
    call_and_compare("squared_error_output", [h, y], (activation,))


@fuzz(300)
@given(shape=st.lists(st.integers(1, 5), min_size=0, max_size=3).map(tuple), data=st.data(),
       eta=st.sampled_from([0.1, 1.0, 0.0, -1.0, np.nan, np.inf, 1e300, "0.1", None]),
       overlap=st.sampled_from([None, "same", "shifted"]))
def test_sgd_update_with_aliasing(shape, data, eta, overlap):
    """In place: w and grad sharing memory is refused (NumPy's w - eta grad would read the
    old values), everything else as the twin."""
    w = data.draw(argument(shape))
    grad = data.draw(argument(shape))
    if overlap and isinstance(w, np.ndarray) and w.size > 1 and w.flags.writeable:
        flat = w.reshape(-1) if w.flags.c_contiguous else None
        if flat is not None:
            grad = flat if overlap == "same" else flat[1:]
            w = flat if overlap == "same" else flat[:-1]
    before = snapshot([w, grad])
    try:
        out = kernels.sgd_update(w, grad, eta)
    except (ValueError, TypeError) as e:
        assert str(e) and unchanged(before, [w, grad]), e
        return
    assert out is w
    assert overlap is None or not np.shares_memory(w, grad), "aliasing was accepted"
    if ordinary(before) and isinstance(eta, float) and np.isfinite(eta) and abs(eta) < 10:
        want = twin.sgd_update(before[0].astype(np.float64), before[1].astype(np.float64), eta)
        np.testing.assert_allclose(w, want, rtol=1e-4, atol=1e-3)


@fuzz(150)
@given(sizes=st.lists(st.integers(1, 4), min_size=2, max_size=4), n=st.integers(1, 5),
       data=st.data(), activation=st.sampled_from(ACTIVATIONS))
def test_sgd_per_sample(sizes, n, data, activation):
    weights = []
    for a, b in zip(sizes, sizes[1:]):
        weights += [data.draw(argument((a, b))), data.draw(argument((b,)))]
    if data.draw(st.integers(0, 5)) == 0:                     # the same array twice
        weights[-1] = weights[-3] if len(weights) > 2 else weights[-1]
    X, Y = data.draw(argument((n, sizes[0]))), data.draw(argument((n, sizes[-1])))
    arrays = weights + [X, Y]
    before = snapshot(arrays)
    try:
        kernels.sgd_per_sample(weights, X, Y, 0.1, activation)
    except (ValueError, TypeError) as e:
        assert str(e) and unchanged(before, arrays), e
