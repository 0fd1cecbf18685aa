"""Each compiled kernel (refnn.kernels) equals its pure-Python twin (refnn.reference.pure) and its
NumPy twin (refnn.reference.vectorized).

The grid is dtype x memory order x read-only. float64 results are held to both twins at 1e-12;
float32 results to the twins run in float64 on the same float32-rounded inputs, at the float32
entry of TOL. Inputs come C-ordered, Fortran-ordered, as every other column of an array twice
as wide (the gaps hold NaN, so a kernel that read one would return NaN), and read-only. The
boundary copies them to C order and must never write to them. The in-place kernels (sgd_update,
sgd_per_sample) must write back into a Fortran-ordered or non-contiguous parameter array,
leave the gaps between its entries alone, and refuse a read-only one.

Absolute tolerances are TOL times `scale`, the size of the terms that were summed: a sum of
terms as large as S carries a rounding error of about n u S, however small the sum itself is.
"""
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from refnn import kernels
from refnn.reference import pure, vectorized

DTYPES = (np.float32, np.float64)
LAYOUTS = ("C", "F", "strided")
ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax", "step")
DIFFERENTIABLE = ("sigmoid", "tanh", "relu", "linear")

# kernel vs twins, relative and (times scale) absolute: float64 against the twins in float64,
# float32 against the twins in float64 on the same float32 inputs
TOL = {np.float32: 1e-5, np.float64: 1e-12}
# sgd_per_sample over up to 2000 samples: the kernel against the NumPy twin run in its own dtype
# (the two round in a different order, and the differences carry from sample to sample) ...
SGD_TOL = {np.float32: 2e-5, np.float64: 1e-12}
# ... and float32 against the float64 twins (float32 rounding accumulates over the samples)
SGD_TOL_FLOAT32_VS_FLOAT64 = 1e-4

FAST = settings(max_examples=30, deadline=None, database=None)


def _grid():
    for dtype in DTYPES:
        for layout in LAYOUTS:
            for readonly in (False, True):
                yield pytest.param(dtype, layout, readonly, id=f"{np.dtype(dtype).name}-{layout}-"
                                   f"{'readonly' if readonly else 'writeable'}")


GRID = pytest.mark.parametrize("dtype, layout, readonly", list(_grid()))
# (n samples, n_in, n_out): one sample, one input feature, one unit, and an ordinary case
SHAPES = pytest.mark.parametrize("shape", [(1, 1, 1), (1, 5, 3), (6, 1, 4), (5, 4, 1), (13, 7, 6)],
                                 ids=lambda s: "n{}-in{}-out{}".format(*s))


# ---------------------------------------------------------------------------------------------
# Helpers


def exact(a, dtype):
    """a rounded to dtype and held as float64: the values both the kernel and the twins see"""
    return np.asarray(a, np.float64).astype(dtype).astype(np.float64)


def laid_out(a, layout, readonly=False):
    """A new array with the values and dtype of `a`, stored C-ordered ("C"), Fortran-ordered
    ("F") or as every other column of an array twice as wide whose gaps hold NaN ("strided")."""
    a = np.asarray(a)
    if a.ndim == 0:                                 # one number: every layout is the same
        out = a.copy()
    elif layout == "C":
        out = np.array(a, order="C")
    elif layout == "F":
        out = np.array(a, order="F")
    elif layout == "strided":
        wide = np.full(a.shape[:-1] + (2 * a.shape[-1],), np.nan, a.dtype)
        wide[..., ::2] = a
        out = wide[..., ::2]
    else:
        raise ValueError(layout)
    out.flags.writeable = not readonly
    return out


def as_float64_tuple(result):
    """a twin's or a kernel's result (an array, a list, or a tuple of them) as float64 arrays"""
    if isinstance(result, tuple):
        return tuple(np.asarray(r, np.float64) for r in result)
    return (np.asarray(result, np.float64),)


def call_unmodified(name, args, extra=()):
    """kernels.<name>(*args, *extra) as a tuple of outputs; asserts that no argument changed,
    nor the NaN gaps around a strided one"""
    before = [(a.copy(), None if a.base is None else a.base.copy()) for a in args]
    result = getattr(kernels, name)(*args, *extra)
    for a, (values, base) in zip(args, before):
        np.testing.assert_array_equal(a, values)
        if base is not None:
            np.testing.assert_array_equal(a.base, base)     # NaN == NaN here
    return result if isinstance(result, tuple) else (result,)


def check_against_twins(name, inputs, extra, dtype, layout, readonly, shapes, scale=1.0):
    """Call kernels.<name> on `inputs` (float64 arrays exact in dtype) cast to dtype and laid
    out as asked; compare every output with both twins run in float64 on the same values.
    `shapes` are the expected output shapes."""
    args = [laid_out(a.astype(dtype), layout, readonly) for a in inputs]
    got = call_unmodified(name, args, extra)
    from_pure = as_float64_tuple(getattr(pure, name)(*inputs, *extra))
    from_numpy = as_float64_tuple(getattr(vectorized, name)(*inputs, *extra))
    assert len(got) == len(from_pure) == len(from_numpy) == len(shapes)
    tol = TOL[dtype]
    for out, p, v, shape in zip(got, from_pure, from_numpy, shapes):
        assert isinstance(out, np.ndarray)
        assert out.dtype == dtype
        assert out.shape == p.shape == v.shape == shape
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, p, rtol=tol, atol=tol * scale)
        np.testing.assert_allclose(out, v, rtol=tol, atol=tol * scale)
    return got


def dense_scale(g_prev, W, b):
    """the largest sum of |terms| of any h_j = b_j + sum_i g_i w_ij"""
    return max(1.0, float((np.abs(g_prev) @ np.abs(W) + np.abs(b)).max()))


def backward_scale(g_prev, W, epsilon):
    """the largest sum of |terms| in g_prev.T @ epsilon, sum(epsilon), epsilon @ W.T"""
    return max(1.0, float((np.abs(g_prev).T @ np.abs(epsilon)).max()),
               float(np.abs(epsilon).sum(axis=0).max()),
               float((np.abs(epsilon) @ np.abs(W).T).max()))


def activation_output(h, activation):
    """g = f(h) by plain NumPy (outputs for the derivative kernels to start from)"""
    return {"sigmoid": lambda: 1 / (1 + np.exp(-h)), "tanh": lambda: np.tanh(h),
            "relu": lambda: np.maximum(h, 0.0), "linear": lambda: h.copy()}[activation]()


def targets(rng, activation, shape):
    """targets the activation can reach: (0, 1) for sigmoid, [0, 1) for relu, (-1, 1) else"""
    if activation in ("sigmoid", "relu"):
        return rng.uniform(0, 1, shape)
    return rng.uniform(-1, 1, shape)


def test_layouts_are_what_they_say():
    a = np.arange(12.0).reshape(3, 4)
    c, f, s = (laid_out(a, layout) for layout in LAYOUTS)
    assert c.flags.c_contiguous and not c.flags.f_contiguous
    assert f.flags.f_contiguous and not f.flags.c_contiguous
    assert not s.flags.c_contiguous and not s.flags.f_contiguous
    assert np.isnan(s.base[:, 1::2]).all()
    for x in (c, f, s):
        np.testing.assert_array_equal(x, a)
        assert x.flags.writeable
    r = laid_out(a, "strided", readonly=True)
    assert not r.flags.writeable
    np.testing.assert_array_equal(laid_out(np.arange(5.0), "strided"), np.arange(5.0))
    assert not laid_out(np.arange(5.0), "strided").flags.c_contiguous


# ---------------------------------------------------------------------------------------------
# Dense layer


@GRID
@SHAPES
def test_dense_forward(dtype, layout, readonly, shape):
    n, n_in, n_out = shape
    rng = np.random.default_rng(sum(shape))
    g_prev = exact(rng.uniform(-2, 2, (n, n_in)), dtype)
    W = exact(rng.uniform(-2, 2, (n_in, n_out)), dtype)
    b = exact(rng.uniform(-2, 2, n_out), dtype)
    check_against_twins("dense_forward", [g_prev, W, b], (), dtype, layout, readonly,
                        shapes=[(n, n_out)], scale=dense_scale(g_prev, W, b))


@GRID
@SHAPES
def test_dense_backward(dtype, layout, readonly, shape):
    n, n_in, n_out = shape
    rng = np.random.default_rng(100 + sum(shape))
    g_prev = exact(rng.uniform(-2, 2, (n, n_in)), dtype)
    W = exact(rng.uniform(-2, 2, (n_in, n_out)), dtype)
    epsilon = exact(rng.uniform(-2, 2, (n, n_out)), dtype)
    check_against_twins("dense_backward", [g_prev, W, epsilon], (), dtype, layout, readonly,
                        shapes=[(n_in, n_out), (n_out,), (n, n_in)],
                        scale=backward_scale(g_prev, W, epsilon))


@GRID
@SHAPES
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_epsilon_backward(dtype, layout, readonly, shape, activation):
    n, n_in, n_out = shape
    rng = np.random.default_rng(200 + sum(shape))
    epsilon = exact(rng.uniform(-2, 2, (n, n_out)), dtype)
    W = exact(rng.uniform(-2, 2, (n_in, n_out)), dtype)
    g_prev = exact(activation_output(rng.uniform(-2, 2, (n, n_in)), activation), dtype)
    if activation == "relu":
        assert n * n_in == 1 or (g_prev == 0).any()
    scale = max(1.0, float((np.abs(epsilon) @ np.abs(W).T).max()))
    check_against_twins("epsilon_backward", [epsilon, W, g_prev], (activation,), dtype, layout,
                        readonly, shapes=[(n, n_in)], scale=scale)


# ---------------------------------------------------------------------------------------------
# Activations


@GRID
@SHAPES
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_forward(dtype, layout, readonly, shape, activation):
    n, _, k = shape
    rng = np.random.default_rng(300 + sum(shape))
    h = rng.uniform(-6, 6, (n, k))
    h[rng.random(h.shape) < 0.2] = 0.0              # step and relu decide at exactly 0
    h = exact(h, dtype)
    (g,) = check_against_twins("activation_forward", [h], (activation,), dtype, layout, readonly,
                               shapes=[(n, k)], scale=6.0 if activation == "linear" else 1.0)
    if activation == "softmax":
        np.testing.assert_allclose(g.sum(axis=1), 1.0, rtol=0, atol=TOL[dtype])


@GRID
@SHAPES
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_activation_derivative(dtype, layout, readonly, shape, activation):
    n, _, k = shape
    rng = np.random.default_rng(400 + sum(shape))
    g = exact(activation_output(rng.uniform(-4, 4, (n, k)), activation), dtype)
    check_against_twins("activation_derivative", [g], (activation,), dtype, layout, readonly,
                        shapes=[(n, k)])


# ---------------------------------------------------------------------------------------------
# Output layer


@GRID
@SHAPES
@pytest.mark.parametrize("target", ["one-hot", "non-negative"])
def test_softmax_crossentropy(dtype, layout, readonly, shape, target):
    n, _, k = shape
    rng = np.random.default_rng(500 + sum(shape))
    h = exact(rng.uniform(-8, 8, (n, k)), dtype)
    if target == "one-hot":
        y = np.eye(k)[rng.integers(0, k, n)]
    else:                                           # rows that need not sum to 1
        y = exact(rng.uniform(0, 2, (n, k)), dtype)
    scale = max(1.0, float(y.sum(axis=1).max()))   # epsilon: softmax(h) sum(y) - y
    loss, epsilon = check_against_twins("softmax_crossentropy", [h, y], (), dtype, layout,
                                        readonly, shapes=[(n,), (n, k)], scale=scale)
    assert (loss >= 0).all()
    if target == "one-hot":
        assert (np.abs(epsilon) <= 1).all()


@GRID
@SHAPES
def test_sigmoid_binary_crossentropy(dtype, layout, readonly, shape):
    n, _, k = shape
    rng = np.random.default_rng(600 + sum(shape))
    h = exact(rng.uniform(-8, 8, (n, k)), dtype)
    y = exact(rng.uniform(0, 1, (n, k)), dtype)
    y[rng.random(y.shape) < 0.3] = 1.0
    scale = max(1.0, float(np.abs(h).sum(axis=1).max()))
    loss, epsilon = check_against_twins("sigmoid_binary_crossentropy", [h, y], (), dtype, layout,
                                        readonly, shapes=[(n,), (n, k)], scale=scale)
    assert (loss >= 0).all() and (np.abs(epsilon) <= 1).all()


@GRID
@SHAPES
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_squared_error_output(dtype, layout, readonly, shape, activation):
    n, _, k = shape
    rng = np.random.default_rng(700 + sum(shape))
    g = exact(activation_output(rng.uniform(-3, 3, (n, k)), activation), dtype)
    y = exact(targets(rng, activation, (n, k)), dtype)
    scale = max(1.0, float(((g - y) ** 2).sum(axis=1).max()), float(np.abs(g - y).max()))
    check_against_twins("squared_error_output", [g, y], (activation,), dtype, layout, readonly,
                        shapes=[(n,), (n, k)], scale=scale)


# ---------------------------------------------------------------------------------------------
# Numerically extreme but finite logits

BIG = {np.float32: (80.0, 1e4), np.float64: (700.0, 1e4)}
EXTREME = pytest.mark.parametrize("dtype, big", [
    pytest.param(d, big, id=f"{np.dtype(d).name}-{big:g}") for d in DTYPES for big in BIG[d]])


def extreme_logits(dtype, big):
    """rows of huge logits of both signs, mixed with tiny ones (the smallest normal and
    subnormal numbers of dtype) and with 0; three columns"""
    tiny, sub = float(np.finfo(dtype).tiny), float(np.finfo(dtype).smallest_subnormal)
    rows = [[big, -big, 0.0], [-big, big, -big], [big, big, big], [-big, -big, -big],
            [big, tiny, -big], [-big, sub, tiny], [tiny, -tiny, sub], [big, big - 1, big - 30],
            [-big, -big + 1, -big + 30], [big, -sub, -big]]
    return exact(rows, dtype)


def one_hot_rows(h):
    """every row of h three times, with each of the three one-hot targets"""
    k = h.shape[1]
    return np.repeat(h, k, axis=0), np.tile(np.eye(k), (h.shape[0], 1))


@EXTREME
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_forward_extreme_logits(dtype, big, activation):
    h = extreme_logits(dtype, big)
    (g,) = check_against_twins("activation_forward", [h], (activation,), dtype, "C", False,
                               shapes=[h.shape], scale=big if activation == "linear" else 1.0)
    if activation in ("sigmoid", "softmax", "step"):
        assert ((g >= 0) & (g <= 1)).all()
    if activation == "tanh":
        assert (np.abs(g) <= 1).all()
    if activation == "softmax":
        np.testing.assert_allclose(g.sum(axis=1), 1.0, rtol=0, atol=4 * np.finfo(dtype).eps)


@EXTREME
def test_softmax_crossentropy_extreme_logits(dtype, big):
    h, y = one_hot_rows(extreme_logits(dtype, big))
    loss, epsilon = check_against_twins("softmax_crossentropy", [h, y], (), dtype, "C", False,
                                        shapes=[(len(h),), h.shape])
    assert (loss >= 0).all()
    assert (np.abs(epsilon) <= 1).all()
    # epsilon = yhat - y for a one-hot target: its row sums to 0
    np.testing.assert_allclose(epsilon.sum(axis=1), 0.0, rtol=0, atol=4 * np.finfo(dtype).eps)
    # the target at -big with another logit at +big costs 2 big exactly
    np.testing.assert_allclose(loss[(h[:, 0] == big) & (h[:, 1] == -big) & (y[:, 1] == 1)],
                               2 * big, rtol=TOL[dtype])


@EXTREME
def test_sigmoid_binary_crossentropy_extreme_logits(dtype, big):
    h = extreme_logits(dtype, big)
    for y in (np.zeros_like(h), np.ones_like(h), np.full_like(h, 0.5), one_hot_rows(h)[1][:len(h)]):
        loss, epsilon = check_against_twins("sigmoid_binary_crossentropy", [h, y], (), dtype, "C",
                                            False, shapes=[(len(h),), h.shape], scale=1.0)
        assert (loss >= 0).all()
        assert (np.abs(epsilon) <= 1).all()


def test_sigmoid_binary_crossentropy_small_loss_keeps_its_digits():
    # h = 40, y = 1: loss = log(1 + e^-40) = 4.25e-18, not 0
    loss, _ = kernels.sigmoid_binary_crossentropy(np.array([[40.0]]), np.array([[1.0]]))
    np.testing.assert_allclose(loss, [math.log1p(math.exp(-40.0))], rtol=1e-12, atol=0)


def test_softmax_crossentropy_small_loss_at_large_logits_equals_the_twins():
    """a confident right answer among large logits: loss = log(1 + e^-20) = 2.06e-9 keeps its
    digits (formed as log sum e^(h - max) - (h_k - max), not as logsumexp(h) - h_k, where
    rounding logsumexp(h) to the spacing of 30 costs 3e-7 of it)"""
    h, y = np.array([[30.0, 10.0]]), np.array([[1.0, 0.0]])
    loss, _ = kernels.softmax_crossentropy(h, y)
    twin_loss, _ = vectorized.softmax_crossentropy(h, y)
    np.testing.assert_allclose(loss, pure.softmax_crossentropy(h, y)[0], rtol=1e-12, atol=0)
    np.testing.assert_allclose(loss, twin_loss, rtol=1e-12, atol=0)


# ---------------------------------------------------------------------------------------------
# sgd_update: w <- w - eta grad, in place


@GRID
@pytest.mark.parametrize("shape", [(1,), (7,), (1, 1), (4, 3)], ids=str)
def test_sgd_update_in_place(dtype, layout, readonly, shape):
    """w (writeable, in the layout) is updated in place; grad may be read-only"""
    rng = np.random.default_rng(len(shape) + shape[0])
    w0 = exact(rng.uniform(-2, 2, shape), dtype)
    grad0 = exact(rng.uniform(-2, 2, shape), dtype)
    eta = 0.3
    w = laid_out(w0.astype(dtype), layout)
    grad = laid_out(grad0.astype(dtype), layout, readonly)
    returned = kernels.sgd_update(w, grad, eta)
    assert returned is w
    assert w.dtype == dtype and w.shape == shape
    np.testing.assert_array_equal(grad, grad0)
    if layout == "strided":
        assert np.isnan(w.base[..., 1::2]).all()    # the gaps were not written
    tol = TOL[dtype]
    for twin in (pure, vectorized):
        want = np.asarray(twin.sgd_update(w0, grad0, eta), np.float64)
        np.testing.assert_allclose(w, want, rtol=tol, atol=tol * 2)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_sgd_update_refuses_read_only_w(dtype, layout):
    w = laid_out(np.arange(6.0).reshape(2, 3).astype(dtype), layout, readonly=True)
    before = w.copy()
    with pytest.raises(ValueError, match="read-only"):
        kernels.sgd_update(w, np.ones((2, 3), dtype), 0.1)
    np.testing.assert_array_equal(w, before)


# ---------------------------------------------------------------------------------------------
# sgd_per_sample: the textbook algorithm over a data set, in place

NETWORKS = pytest.mark.parametrize("sizes", [[1, 1], [5, 2], [2, 1, 3], [9, 6, 3], [11, 8, 5, 2]],
                                   ids=lambda s: "-".join(map(str, s)))


def network(rng, sizes, activation):
    """[W1, b1, W2, b2, ...]; relu hidden biases pushed below 0 so that hidden units are often
    exactly 0"""
    weights = []
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        weights.append(rng.uniform(-1, 1, (n_in, n_out)) / math.sqrt(n_in))
        b = rng.uniform(-0.5, 0.5, n_out)
        if activation == "relu" and l < len(sizes) - 2:
            b -= 0.4
        weights.append(b)
    return weights


def data_set(rng, n, sizes, activation):
    """X with about half its entries exactly 0 (some of them -0.0, and one sample 0 everywhere);
    Y in the range of the activation"""
    X = rng.uniform(-1, 1, (n, sizes[0]))
    X[rng.random(X.shape) < 0.5] = 0.0
    X[(X == 0) & (rng.random(X.shape) < 0.5)] = -0.0   # skipped as well: -0.0 == 0
    X[min(2, n - 1)] = 0.0
    return X, targets(rng, activation, (n, sizes[-1]))


def hidden_outputs(weights, X, activation):
    """g_1 .. g_{L-1} for every sample, by plain NumPy"""
    g, hidden = X, []
    for W, b in zip(weights[0:-2:2], weights[1:-2:2]):
        g = activation_output(g @ W + b, activation)
        hidden.append(g)
    return hidden


def run_sgd_per_sample(weights, X, Y, eta, activation, dtype, layout, readonly):
    """kernels.sgd_per_sample on copies laid out as asked (weights always writeable); checks
    the in-place contract and returns (the updated weight arrays, E)"""
    ws = [laid_out(w.astype(dtype), layout) for w in weights]
    Xk = laid_out(X.astype(dtype), layout, readonly)
    Yk = laid_out(Y.astype(dtype), layout, readonly)
    returned, E = kernels.sgd_per_sample(ws, Xk, Yk, eta, activation)
    assert len(returned) == len(ws) and all(r is w for r, w in zip(returned, ws))
    for w, w0 in zip(ws, weights):
        assert w.dtype == dtype and w.shape == w0.shape
        if layout == "strided":
            assert np.isnan(w.base[..., 1::2]).all()
    np.testing.assert_array_equal(Xk, X)
    np.testing.assert_array_equal(Yk, Y)
    assert isinstance(E, np.ndarray) and E.dtype == dtype and E.shape == (X.shape[0],)
    return ws, E


def compare_sgd_per_sample(ws, E, weights, X, Y, eta, activation, dtype):
    """the kernel's result against the twins: float64 both at 1e-12; float32 against the NumPy
    twin in float32 at SGD_TOL and against both float64 twins at SGD_TOL_FLOAT32_VS_FLOAT64"""
    float64_twins = [pure.sgd_per_sample(weights, X, Y, eta, activation),
                     vectorized.sgd_per_sample(weights, X, Y, eta, activation)]
    if dtype == np.float64:
        checks = [(result, SGD_TOL[np.float64]) for result in float64_twins]
    else:
        in_float32 = vectorized.sgd_per_sample([w.astype(np.float32) for w in weights],
                                               X.astype(np.float32), Y.astype(np.float32),
                                               eta, activation)
        assert in_float32[1].dtype == np.float32
        checks = [(in_float32, SGD_TOL[np.float32])]
        checks += [(result, SGD_TOL_FLOAT32_VS_FLOAT64) for result in float64_twins]
    for (twin_weights, twin_E), tol in checks:
        assert len(twin_weights) == len(ws)
        np.testing.assert_allclose(E, np.asarray(twin_E, np.float64), rtol=tol, atol=tol)
        for w, t in zip(ws, twin_weights):
            np.testing.assert_allclose(w, np.asarray(t, np.float64), rtol=tol, atol=tol)


@GRID
@NETWORKS
@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_sgd_per_sample(dtype, layout, readonly, sizes, activation):
    rng = np.random.default_rng(len(sizes) * 10 + sizes[0])
    weights = [exact(w, dtype) for w in network(rng, sizes, activation)]
    X, Y = (exact(a, dtype) for a in data_set(rng, 40, sizes, activation))
    assert (X == 0).mean() > 0.4
    if activation == "relu" and len(sizes) > 2:
        assert np.mean([(g == 0).mean() for g in hidden_outputs(weights, X, activation)]) > 0.25
    ws, E = run_sgd_per_sample(weights, X, Y, 0.2, activation, dtype, layout, readonly)
    assert not all(np.array_equal(w, w0) for w, w0 in zip(ws, weights))   # it did train
    compare_sgd_per_sample(ws, E, weights, X, Y, 0.2, activation, dtype)


@pytest.mark.parametrize("activation", DIFFERENTIABLE)
def test_sgd_per_sample_float32_over_many_samples(activation):
    """2000 samples through a 16-12-8-4 network: the float32 kernel stays within the stated
    tolerances of the NumPy twin in float32 and of the twin in float64"""
    rng = np.random.default_rng(5)
    sizes = [16, 12, 8, 4]
    weights = [exact(w, np.float32) for w in network(rng, sizes, activation)]
    X, Y = (exact(a, np.float32) for a in data_set(rng, 2000, sizes, activation))
    ws, E = run_sgd_per_sample(weights, X, Y, 0.05, activation, np.float32, "C", False)
    w32, E32 = vectorized.sgd_per_sample([w.astype(np.float32) for w in weights],
                                         X.astype(np.float32), Y.astype(np.float32), 0.05,
                                         activation)
    w64, E64 = vectorized.sgd_per_sample(weights, X, Y, 0.05, activation)
    for (twin_weights, twin_E), tol in [((w32, E32), SGD_TOL[np.float32]),
                                        ((w64, E64), SGD_TOL_FLOAT32_VS_FLOAT64)]:
        np.testing.assert_allclose(E, twin_E, rtol=tol, atol=tol)
        for w, t in zip(ws, twin_weights):
            np.testing.assert_allclose(w, t, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("position", range(4), ids=["W1", "b1", "W2", "b2"])
def test_sgd_per_sample_refuses_a_read_only_parameter_and_changes_nothing(dtype, position):
    rng = np.random.default_rng(position)
    weights = [w.astype(dtype) for w in network(rng, [3, 4, 2], "tanh")]
    X, Y = (a.astype(dtype) for a in data_set(rng, 5, [3, 4, 2], "tanh"))
    weights[position] = laid_out(weights[position], "strided", readonly=True)
    before = [w.copy() for w in weights]
    with pytest.raises(ValueError, match="read-only"):
        kernels.sgd_per_sample(weights, X, Y, 0.5, "tanh")
    for w, w0 in zip(weights, before):
        np.testing.assert_array_equal(w, w0)


# ---------------------------------------------------------------------------------------------
# Random shapes and values (hypothesis): dtype, layout and read-only drawn as well

VALUES = st.floats(-4, 4, width=32, allow_subnormal=False)       # exact in float32 and float64
SIZES = st.integers(1, 6)
SETUPS = st.tuples(st.sampled_from(DTYPES), st.sampled_from(LAYOUTS), st.booleans())


def arrays(shape, elements=VALUES):
    return hnp.arrays(np.float64, shape, elements=elements)


@FAST
@given(setup=SETUPS, n=SIZES, n_in=SIZES, n_out=SIZES, data=st.data())
def test_dense_kernels_random(setup, n, n_in, n_out, data):
    dtype, layout, readonly = setup
    g_prev, W = data.draw(arrays((n, n_in))), data.draw(arrays((n_in, n_out)))
    b, epsilon = data.draw(arrays(n_out)), data.draw(arrays((n, n_out)))
    check_against_twins("dense_forward", [g_prev, W, b], (), dtype, layout, readonly,
                        shapes=[(n, n_out)], scale=dense_scale(g_prev, W, b))
    check_against_twins("dense_backward", [g_prev, W, epsilon], (), dtype, layout, readonly,
                        shapes=[(n_in, n_out), (n_out,), (n, n_in)],
                        scale=backward_scale(g_prev, W, epsilon))
    activation = data.draw(st.sampled_from(DIFFERENTIABLE))
    g_prev = exact(activation_output(g_prev, activation), dtype)
    scale = max(1.0, float((np.abs(epsilon) @ np.abs(W).T).max()))
    check_against_twins("epsilon_backward", [epsilon, W, g_prev], (activation,), dtype, layout,
                        readonly, shapes=[(n, n_in)], scale=scale)


@FAST
@given(setup=SETUPS, n=SIZES, k=SIZES, data=st.data())
def test_activation_kernels_random(setup, n, k, data):
    dtype, layout, readonly = setup
    h = data.draw(arrays((n, k)))
    for activation in ACTIVATIONS:
        (g,) = check_against_twins("activation_forward", [h], (activation,), dtype, layout,
                                   readonly, shapes=[(n, k)], scale=4.0)
        if activation in DIFFERENTIABLE:
            check_against_twins("activation_derivative", [exact(g, dtype)], (activation,), dtype,
                                layout, readonly, shapes=[(n, k)])


@FAST
@given(setup=SETUPS, n=SIZES, k=SIZES, data=st.data())
def test_loss_kernels_random(setup, n, k, data):
    dtype, layout, readonly = setup
    h = data.draw(arrays((n, k), st.floats(-1e4, 1e4, width=32, allow_subnormal=False)))
    big = max(1.0, float(np.abs(h).max()))
    one_hot = np.eye(k)[data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))]
    non_negative = data.draw(arrays((n, k), st.floats(0, 3, width=32)))
    in_0_1 = data.draw(arrays((n, k), st.floats(0, 1, width=32)))
    for y in (one_hot, non_negative):
        scale = max(1.0, float(y.sum(axis=1).max()))
        _, epsilon = check_against_twins("softmax_crossentropy", [h, y], (), dtype, layout,
                                         readonly, shapes=[(n,), (n, k)], scale=scale)
        if y is one_hot:
            assert (np.abs(epsilon) <= 1).all()
    for y in (one_hot, in_0_1):
        check_against_twins("sigmoid_binary_crossentropy", [h, y], (), dtype, layout, readonly,
                            shapes=[(n,), (n, k)], scale=big * k)
    activation = data.draw(st.sampled_from(DIFFERENTIABLE))
    g = exact(activation_output(data.draw(arrays((n, k))), activation), dtype)
    y = data.draw(arrays((n, k)))
    scale = max(1.0, float(((g - y) ** 2).sum(axis=1).max()))
    check_against_twins("squared_error_output", [g, y], (activation,), dtype, layout, readonly,
                        shapes=[(n,), (n, k)], scale=scale)


@FAST
@given(setup=SETUPS, shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5),
       data=st.data(), eta=st.floats(1e-3, 2))
def test_sgd_update_random(setup, shape, data, eta):
    """w of any shape (the pure twin takes vectors and matrices only)"""
    dtype, layout, readonly = setup
    w0, grad0 = data.draw(arrays(shape)), data.draw(arrays(shape))
    w = laid_out(w0.astype(dtype), layout)
    grad = laid_out(grad0.astype(dtype), layout, readonly)
    assert kernels.sgd_update(w, grad, eta) is w
    assert w.shape == shape and w.dtype == dtype
    np.testing.assert_array_equal(grad, grad0)
    tol = TOL[dtype]
    for twin in (pure, vectorized) if len(shape) in (1, 2) else (vectorized,):
        want = np.asarray(twin.sgd_update(w0, grad0, eta), np.float64)
        np.testing.assert_allclose(w, want, rtol=tol, atol=tol * (4 + 4 * eta))


@FAST
@given(setup=SETUPS, sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
       n=st.integers(1, 8), activation=st.sampled_from(DIFFERENTIABLE),
       seed=st.integers(0, 2**32 - 1))
@example(setup=(np.float64, "strided", True), sizes=[1, 1], n=1, activation="relu", seed=0)
def test_sgd_per_sample_random(setup, sizes, n, activation, seed):
    dtype, layout, readonly = setup
    rng = np.random.default_rng(seed)
    weights = [exact(w, dtype) for w in network(rng, sizes, activation)]
    X, Y = (exact(a, dtype) for a in data_set(rng, n, sizes, activation))
    ws, E = run_sgd_per_sample(weights, X, Y, 0.1, activation, dtype, layout, readonly)
    compare_sgd_per_sample(ws, E, weights, X, Y, 0.1, activation, dtype)
