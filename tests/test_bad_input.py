"""Bad input at every public entry point: a clear error, nothing lost, no crash.

The rule (DESIGN.md, Boundaries): Python validates shape, ndim, dtype, finiteness and
contiguity, and the error names the argument, what was expected and what was received;
C never sees unchecked data; a failed call leaves the weights as they were; no input
crashes the process. Integer and boolean data (uint8 images, 0/1 labels) is converted to
float where users pass data; the raw kernels take float32/float64 only.

Tables, each row one call that must fail with one exception type and one message:
  - the kernels of refnn.kernels that the textbook network runs on (dense, activations,
    output errors, sgd_update, sgd_per_sample) x each array argument x each kind of bad
    input, then shape mismatches, learning rates and activation names;
  - BackpropNetwork: the constructor, and every method x bad data, each followed by a
    check that get_weights() did not change;
  - gradcheck(model, X, Y) with bad data and bad settings;
  - a seeded fuzz that runs in a subprocess, so that a segfault fails one test instead
    of ending the test run.

Messages are matched from their start: every error names its argument first.
"""
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import refnn
from refnn import kernels
from refnn.gradcheck import gradcheck
from refnn._validate import TrainingDivergedError
from refnn.textbook import BackpropNetwork

FLOATS = (np.float32, np.float64)


def other_float(dtype):
    return np.dtype(np.float32 if np.dtype(dtype) == np.float64 else np.float64)


def as_tuple(result):
    return result if isinstance(result, tuple) else (result,)


def assert_unchanged(before, after):
    """Bit-identical: same dtype, shape and bytes (np.array_equal alone ignores the dtype)."""
    assert len(before) == len(after)
    for b, a in zip(before, after):
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a, b)
        assert a.tobytes() == b.tobytes()


# =======================================================================================
# refnn.kernels: the entry points, their valid arguments, and what each argument is
# =======================================================================================

N, N_IN, N_OUT = 4, 2, 3        # samples, inputs, units: g_prev (4, 2), W (2, 3), b (3,)


def valid_kwargs(entry, dtype=np.float64, seed=0):
    """Arguments with which `entry` succeeds; arrays of `dtype`, C-contiguous."""
    rng = np.random.default_rng(seed)

    def a(*shape):                                   # any real values
        return rng.uniform(-1, 1, shape).astype(dtype)

    def p(*shape):                                   # in (0, 1): outputs g, targets y
        return rng.uniform(0.05, 0.95, shape).astype(dtype)

    return {
        "dense_forward": lambda: dict(g_prev=a(N, N_IN), W=a(N_IN, N_OUT), b=a(N_OUT)),
        "dense_backward": lambda: dict(g_prev=p(N, N_IN), W=a(N_IN, N_OUT),
                                       epsilon=a(N, N_OUT)),
        "activation_forward": lambda: dict(h=a(N, N_OUT), activation="tanh"),
        "activation_derivative": lambda: dict(g=p(N, N_OUT), activation="sigmoid"),
        "epsilon_backward": lambda: dict(epsilon=a(N, N_OUT), W=a(N_IN, N_OUT),
                                         g_prev=p(N, N_IN), activation="sigmoid"),
        "softmax_crossentropy": lambda: dict(h=a(N, N_OUT), y=p(N, N_OUT)),
        "sigmoid_binary_crossentropy": lambda: dict(h=a(N, N_OUT), y=p(N, N_OUT)),
        "squared_error_output": lambda: dict(g=p(N, N_OUT), y=p(N, N_OUT),
                                             activation="sigmoid"),
        "sgd_update": lambda: dict(w=a(N_IN, N_OUT), grad=a(N_IN, N_OUT), eta=0.1),
        "sgd_per_sample": lambda: dict(weights=[a(N_IN, N_OUT), a(N_OUT), a(N_OUT, 1), a(1)],
                                       X=p(N, N_IN), Y=p(N, 1), eta=0.1,
                                       activation="sigmoid"),
    }[entry]()


ENTRIES = ["dense_forward", "dense_backward", "activation_forward", "activation_derivative",
           "epsilon_backward", "softmax_crossentropy", "sigmoid_binary_crossentropy",
           "squared_error_output", "sgd_update", "sgd_per_sample"]


class Arg:
    """One array argument of an entry point.

    ndim   the number of dimensions it must have (None: any, the shape of another decides)
    role   "array": anything array-like, converted and checked;
           "inplace": updated in place, so it must already be a NumPy array (sgd_update's w);
           "weight": one array of sgd_per_sample's weights list (also updated in place)
    label  regex of the argument's name as the messages begin with it
    first  it fixes the dtype of the call (the others must match it)
    """

    def __init__(self, key, ndim, role="array", label=None, first=False):
        self.key, self.ndim, self.role, self.first = key, ndim, role, first
        self.label = label or re.escape(key)

    def get(self, kwargs):
        if self.key.startswith("weights["):
            return kwargs["weights"][int(self.key[8:-1])]
        return kwargs[self.key]

    def set(self, kwargs, value):
        if self.key.startswith("weights["):
            kwargs["weights"] = list(kwargs["weights"])
            kwargs["weights"][int(self.key[8:-1])] = value
        else:
            kwargs[self.key] = value


ARGS = {
    "dense_forward": [Arg("W", 2, first=True), Arg("g_prev", 2), Arg("b", 1)],
    "dense_backward": [Arg("W", 2, first=True), Arg("g_prev", 2), Arg("epsilon", 2)],
    "activation_forward": [Arg("h", 2, first=True)],
    "activation_derivative": [Arg("g", 2, first=True)],
    "epsilon_backward": [Arg("W", 2, first=True), Arg("epsilon", 2), Arg("g_prev", 2)],
    "softmax_crossentropy": [Arg("h", 2, first=True), Arg("y", 2)],
    "sigmoid_binary_crossentropy": [Arg("h", 2, first=True), Arg("y", 2)],
    "squared_error_output": [Arg("g", 2, first=True), Arg("y", 2)],
    "sgd_update": [Arg("w", None, role="inplace", first=True), Arg("grad", None)],
    "sgd_per_sample": [
        Arg("weights[0]", 2, "weight", r"weights(\[0\]|: W1)", first=True),
        Arg("weights[1]", 1, "weight", r"weights(\[1\]|: b1)"),
        Arg("weights[2]", 2, "weight", r"weights(\[2\]|: W2)"),
        Arg("weights[3]", 1, "weight", r"weights(\[3\]|: b2)"),
        Arg("X", 2), Arg("Y", 2)],
}
assert sorted(ARGS) == sorted(ENTRIES)


def test_the_table_covers_these_entry_points():
    """A renamed or removed entry point fails here, not silently in the table."""
    for entry in ENTRIES:
        f = getattr(kernels, entry, None)
        assert callable(f) and f.__module__.startswith(kernels.__name__), entry


def call(entry, kwargs):
    return getattr(kernels, entry)(**kwargs)


def ndarrays(kwargs):
    """The NumPy arrays among the arguments (weights items included), in order."""
    out = []
    for value in kwargs.values():
        items = value if isinstance(value, list) else [value]
        out += [v for v in items if isinstance(v, np.ndarray)]
    return out


# ---------------------------------------------------------------------------------------
# Kinds of bad input: kind(valid array, Arg, dtype) -> (bad value, exception, regex) or None
# ---------------------------------------------------------------------------------------

def _name(arg):
    return rf"^{arg.label}(?!\w)"


def _not_an_array(arg, bad, got_type, exc_array, regex_array):
    """A value that is not a NumPy array: in-place arguments must be NumPy arrays."""
    if arg.role in ("inplace", "weight"):
        return bad, TypeError, rf"{_name(arg)}.*NumPy array.*\b{got_type}"
    return bad, exc_array, regex_array


def kind_more_dims(v, arg, dtype):
    if arg.ndim is None:
        return None                                  # grad's shape is w's: see MISMATCHES
    bad = v[None]
    return bad, ValueError, rf"{_name(arg)}.*\b{arg.ndim}-D\b.*{re.escape(str(bad.shape))}"


def kind_fewer_dims(v, arg, dtype):
    if arg.ndim is None:
        return None
    bad = v.reshape(-1) if v.ndim == 2 else v[:1].reshape(())
    return bad, ValueError, rf"{_name(arg)}.*\b{arg.ndim}-D\b.*{re.escape(str(bad.shape))}"


def _dtype_kind(target, word):
    def kind(v, arg, dtype):
        with np.errstate(all="ignore"):
            bad = target(v)
        return bad, TypeError, rf"{_name(arg)}.*{word}"
    return kind


kind_object = _dtype_kind(lambda v: v.astype(object), r"\bobject")
kind_complex = _dtype_kind(lambda v: v.astype(np.complex128), r"\bcomplex")
kind_strings = _dtype_kind(lambda v: v.astype(str), r"\bstr")
kind_int64 = _dtype_kind(lambda v: np.rint(v * 3).astype(np.int64), r"float.*\bint64\b")
kind_uint8 = _dtype_kind(lambda v: (v > 0).astype(np.uint8), r"float.*\buint8\b")
kind_bool = _dtype_kind(lambda v: v > 0, r"float.*\bbool\b")
kind_float16 = _dtype_kind(lambda v: v.astype(np.float16), r"\bfloat16\b")


def kind_mixed_float(v, arg, dtype):
    """float32 among float64 arrays, or float64 among float32 ones."""
    if arg.first:
        return None                                  # the first array sets the dtype
    other = other_float(dtype)
    return (v.astype(other), TypeError,
            rf"{_name(arg)}.*\b{np.dtype(dtype).name}\b.*\b{other.name}\b")


def _special(value, text):
    def kind(v, arg, dtype):
        bad = v.copy()
        bad.flat[-1] = value
        return bad, ValueError, rf"{_name(arg)}.*finite.*(?<![\w-]){re.escape(text)}(?!\w)"
    return kind


kind_nan = _special(np.nan, "nan")
kind_pos_inf = _special(np.inf, "inf")
kind_neg_inf = _special(-np.inf, "-inf")


def kind_empty(v, arg, dtype):
    """No samples (zero rows): refused, or reported as 0 entries/rows against the others."""
    bad = np.empty((0,) + v.shape[1:], v.dtype)
    return (bad, ValueError,
            rf"{_name(arg)}.*(empty|\b0 (entries|rows|columns|features|samples)\b)")


def kind_empty_list(v, arg, dtype):
    return _not_an_array(arg, [], "list", ValueError, rf"{_name(arg)}.*(empty|\(0,\))")


def kind_ragged(v, arg, dtype):
    return _not_an_array(arg, [[0.1, 0.2], [0.3]], "list", ValueError,
                         rf"{_name(arg)}.*(rectangular|ragged|inhomogeneous)")


def kind_none(v, arg, dtype):
    """None says None: not 'dtype object (ragged or mixed entries?)'."""
    return _not_an_array(arg, None, "None", TypeError, rf"{_name(arg)}.*\bNone")


def kind_scalar(v, arg, dtype):
    if arg.ndim is None:       # grad: shape () against w (2, 3), or float64 against float32
        return _not_an_array(arg, 0.5, "float", (ValueError, TypeError),
                             rf"{_name(arg)}.*(shape.*\(\)|dtype float32\b.*\bfloat64)")
    return _not_an_array(arg, 0.5, "float", ValueError,
                         rf"{_name(arg)}.*\b{arg.ndim}-D\b.*\b0-D\b")


def kind_string(v, arg, dtype):
    return _not_an_array(arg, "0.5", "str", TypeError, rf"{_name(arg)}.*\bstr\b")


KINDS = {
    "more_dims": kind_more_dims, "fewer_dims": kind_fewer_dims,
    "object": kind_object, "complex": kind_complex, "strings": kind_strings,
    "int64": kind_int64, "uint8": kind_uint8, "bool": kind_bool, "float16": kind_float16,
    "mixed_float": kind_mixed_float,
    "nan": kind_nan, "+inf": kind_pos_inf, "-inf": kind_neg_inf,
    "empty": kind_empty, "empty_list": kind_empty_list, "ragged_list": kind_ragged,
    "None": kind_none, "scalar": kind_scalar, "a_string": kind_string,
}

KERNEL_CASES = [
    pytest.param(entry, arg.key, kind, dtype, id=f"{entry}-{arg.key}-{kind}-{np.dtype(dtype).name}")
    for entry in ENTRIES for arg in ARGS[entry] for kind in KINDS for dtype in FLOATS
    if KINDS[kind](arg.get(valid_kwargs(entry, dtype)), arg, dtype) is not None]


def _arg(entry, key):
    return next(a for a in ARGS[entry] if a.key == key)


@pytest.mark.parametrize("entry", ENTRIES)
@pytest.mark.parametrize("dtype", FLOATS)
def test_valid_arguments_pass(entry, dtype):
    """The table's starting point: each bad case below changes one argument of this call."""
    result = call(entry, valid_kwargs(entry, dtype))
    if entry == "sgd_per_sample":
        result = (result[1],) + tuple(result[0])
    for r in as_tuple(result):
        assert r.dtype == dtype and np.isfinite(r).all()


@pytest.mark.parametrize("entry, key, kind, dtype", KERNEL_CASES)
def test_kernel_refuses_bad_array(entry, key, kind, dtype):
    kwargs = valid_kwargs(entry, dtype)
    arg = _arg(entry, key)
    bad, exc, regex = KINDS[kind](arg.get(kwargs), arg, dtype)
    arg.set(kwargs, bad)
    good = [a for a in ndarrays(kwargs) if a is not bad]
    before = [a.copy() for a in good]
    with pytest.raises(exc, match=regex):
        call(entry, kwargs)
    assert_unchanged(before, good)          # no argument written, in-place weights included


# ---------------------------------------------------------------------------------------
# Mismatched sizes and sample counts: the message names both arrays and both numbers
# ---------------------------------------------------------------------------------------

def _mismatches():
    rng = np.random.default_rng(1)

    def a(*shape):
        return rng.uniform(-1, 1, shape)

    rows = [
        # dense: g_prev (4, 2) @ W (2, 3) + b (3,)
        ("dense_forward", {"g_prev": a(N, 3)}, ValueError,
         r"^g_prev has 3 features\b.*\bW has 2 rows"),
        ("dense_forward", {"W": a(3, N_OUT)}, ValueError,
         r"^g_prev has 2 features\b.*\bW has 3 rows"),
        ("dense_forward", {"b": a(2)}, ValueError,
         r"^b has 2 entries\b.*\bW has 3 (columns|units)"),
        ("dense_forward", {"b": a(4)}, ValueError,
         r"^b has 4 entries\b.*\bW has 3 (columns|units)"),
        ("dense_backward", {"g_prev": a(N, 3)}, ValueError,
         r"^g_prev has 3 features\b.*\bW has 2 rows"),
        ("dense_backward", {"epsilon": a(N, 4)}, ValueError,
         r"^epsilon has 4 columns\b.*\bW has 3 (columns|units)"),
        ("dense_backward", {"epsilon": a(N + 1, N_OUT)}, ValueError,
         r"^g_prev and epsilon must have the same number of samples, got 4 and 5"),
        ("epsilon_backward", {"epsilon": a(N, 4)}, ValueError,
         r"^epsilon has 4 columns\b.*\bW has 3 (columns|units)"),
        ("epsilon_backward", {"g_prev": a(N, 3)}, ValueError,
         r"^g_prev has 3 (columns|features)\b.*\bW has 2 rows"),
        ("epsilon_backward", {"g_prev": a(N + 1, N_IN)}, ValueError,
         r"^epsilon and g_prev must have the same number of samples, got 4 and 5"),
        # in place: w (2, 3) and its gradient
        ("sgd_update", {"grad": a(N_OUT, N_IN)}, ValueError,
         r"^grad must have the shape of w, \(2, 3\), got \(3, 2\)"),
        ("sgd_update", {"grad": a(N_IN * N_OUT)}, ValueError,
         r"^grad must have the shape of w, \(2, 3\), got \(6,\)"),
        ("sgd_update", {"grad": a(1, N_IN, N_OUT)}, ValueError,
         r"^grad must have the shape of w, \(2, 3\), got \(1, 2, 3\)"),
        # the textbook network: weights [W1 (2, 3), b1 (3,), W2 (3, 1), b2 (1,)], X (4, 2), Y (4, 1)
        ("sgd_per_sample", {"X": a(N, 3)}, ValueError, r"^X has 3 features\b.*\bW1 has 2 rows"),
        ("sgd_per_sample", {"Y": a(N, 2)}, ValueError,
         r"^Y has 2 columns\b.*output layer has 1 units?\b"),
        ("sgd_per_sample", {"Y": a(N + 1, 1)}, ValueError,
         r"^X and Y must have the same number of samples, got 4 and 5"),
        ("sgd_per_sample", {"weights": [a(2, 3), a(3), a(4, 1), a(1)]}, ValueError,
         r"^weights: W2 has 4 rows but layer 1 has 3 units"),
        ("sgd_per_sample", {"weights": [a(2, 3), a(2), a(3, 1), a(1)]}, ValueError,
         r"^weights: b1 has 2 entries but W1 has 3 columns"),
        ("sgd_per_sample", {"weights": [a(2, 3), a(3), a(3, 1), a(2)]}, ValueError,
         r"^weights: b2 has 2 entries but W2 has 1 columns"),
        ("sgd_per_sample", {"weights": [a(2, 3), a(3), a(3, 1)]}, ValueError,
         r"^weights must hold pairs \[W1, b1, W2, b2, \.\.\.\], got 3 arrays"),
        ("sgd_per_sample", {"weights": []}, ValueError,
         r"^weights must hold pairs \[W1, b1, W2, b2, \.\.\.\], got 0 arrays"),
        ("sgd_per_sample", {"weights": None}, TypeError, r"^weights must be a list\b.*\bNoneType"),
        ("sgd_per_sample", {"weights": a(2, 3)}, TypeError,
         r"^weights must be a list\b.*\bndarray"),
        ("sgd_per_sample", {"weights": {"W1": a(2, 3), "b1": a(3)}}, TypeError,
         r"^weights must be a list\b.*\bdict"),
    ]
    for entry in ("softmax_crossentropy", "sigmoid_binary_crossentropy", "squared_error_output"):
        first = ARGS[entry][0].key
        rows += [
            (entry, {"y": a(N, 4)}, ValueError,
             rf"^y must have the shape of {first}, \(4, 3\), got \(4, 4\)"),
            (entry, {"y": a(N + 1, N_OUT)}, ValueError,
             rf"^y must have the shape of {first}, \(4, 3\), got \(5, 3\)"),
            (entry, {"y": a(N_OUT, N)}, ValueError,
             rf"^y must have the shape of {first}, \(4, 3\), got \(3, 4\)"),
        ]
    return rows


MISMATCHES = _mismatches()


@pytest.mark.parametrize("entry, override, exc, regex", MISMATCHES,
                         ids=[f"{e}-{'-'.join(o)}-{i}"
                              for i, (e, o, _, _) in enumerate(MISMATCHES)])
def test_kernel_refuses_mismatched_sizes(entry, override, exc, regex):
    kwargs = valid_kwargs(entry)
    kwargs.update(override)
    good = ndarrays(kwargs)
    before = [a.copy() for a in good]
    with pytest.raises(exc, match=regex):
        call(entry, kwargs)
    assert_unchanged(before, good)


# ---------------------------------------------------------------------------------------
# Learning rates and activation names
# ---------------------------------------------------------------------------------------

BAD_ETA = [(0, ValueError, r"> 0.*\bgot 0\.0$"),
           (0.0, ValueError, r"> 0.*\bgot 0\.0$"),
           (-0.1, ValueError, r"> 0.*\bgot -0\.1$"),
           (float("nan"), ValueError, r"finite.*\bgot nan$"),
           (float("inf"), ValueError, r"finite.*\bgot inf$"),
           (float("-inf"), ValueError, r"finite.*\bgot -inf$"),
           (np.float32("nan"), ValueError, r"finite.*\bgot nan$"),
           ("0.1", TypeError, r"number.*\bstr\b"),
           (True, TypeError, r"number.*\bbool\b"),
           (np.True_, TypeError, r"number.*\bbool\b"),
           (None, TypeError, r"number.*\bNoneType\b"),
           (1j, TypeError, r"number.*\bcomplex\b"),
           ([0.1], TypeError, r"number.*\blist\b")]


@pytest.mark.parametrize("entry", ["sgd_update", "sgd_per_sample"])
@pytest.mark.parametrize("eta, exc, regex", BAD_ETA, ids=[repr(e) for e, _, _ in BAD_ETA])
def test_in_place_kernels_refuse_bad_eta(entry, eta, exc, regex):
    kwargs = valid_kwargs(entry)
    kwargs["eta"] = eta
    good = ndarrays(kwargs)
    before = [a.copy() for a in good]
    with pytest.raises(exc, match=r"^eta\b.*" + regex):
        call(entry, kwargs)
    assert_unchanged(before, good)


WITH_ACTIVATION = {"activation_forward": kernels.ACTIVATIONS,
                   "activation_derivative": kernels.DIFFERENTIABLE,
                   "epsilon_backward": kernels.DIFFERENTIABLE,
                   "squared_error_output": kernels.DIFFERENTIABLE,
                   "sgd_per_sample": kernels.DIFFERENTIABLE}


def _lists_valid(message, valid):
    listed = message.split("valid:")[-1]
    return "valid:" in message and all(re.search(rf"\b{v}\b", listed) for v in valid)


@pytest.mark.parametrize("entry", sorted(WITH_ACTIVATION))
@pytest.mark.parametrize("activation", ["Sigmoid", "gelu", "", "relu ", None, 1, ["relu"]])
def test_unknown_activation_lists_the_valid_names(entry, activation):
    kwargs = valid_kwargs(entry)
    kwargs["activation"] = activation
    good = ndarrays(kwargs)
    before = [a.copy() for a in good]
    unknown = rf"^unknown activation {re.escape(repr(activation))}"
    with pytest.raises(ValueError, match=unknown) as e:
        call(entry, kwargs)
    assert _lists_valid(str(e.value), WITH_ACTIVATION[entry]), str(e.value)
    assert_unchanged(before, good)


@pytest.mark.parametrize("entry", sorted(set(WITH_ACTIVATION) - {"activation_forward"}))
@pytest.mark.parametrize("activation", ["softmax", "step"])
def test_activation_without_elementwise_derivative_is_refused(entry, activation):
    kwargs = valid_kwargs(entry)
    kwargs["activation"] = activation
    with pytest.raises(ValueError, match=rf"^activation '{activation}' is not allowed here") as e:
        call(entry, kwargs)
    assert _lists_valid(str(e.value), kernels.DIFFERENTIABLE), str(e.value)


# ---------------------------------------------------------------------------------------
# In place: read-only weights refused; a failed call writes nothing, even through a copy
# ---------------------------------------------------------------------------------------

def test_sgd_update_refuses_read_only_w():
    kwargs = valid_kwargs("sgd_update")
    kwargs["w"].setflags(write=False)
    before = kwargs["w"].copy()
    with pytest.raises(ValueError, match=r"^w is read-only"):
        call("sgd_update", kwargs)
    assert_unchanged([before], [kwargs["w"]])


@pytest.mark.parametrize("index", range(4))
def test_sgd_per_sample_refuses_read_only_weights(index):
    kwargs = valid_kwargs("sgd_per_sample")
    kwargs["weights"][index].setflags(write=False)
    before = [w.copy() for w in kwargs["weights"]]
    with pytest.raises(ValueError, match=rf"^weights\[{index}\] is read-only"):
        call("sgd_per_sample", kwargs)
    assert_unchanged(before, kwargs["weights"])


def _strided(a):
    """A non-contiguous, writeable view holding the values of a."""
    big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    view = big[..., ::2]
    view[...] = a
    assert a.shape[-1] == 1 or not view.flags.c_contiguous
    return view


LATE_FAILURES = {     # each passes the checks of the weights and fails afterwards
    "X nan": lambda kw: kw["X"].__setitem__((1, 1), np.nan),
    "Y shape": lambda kw: kw.update(Y=kw["Y"][:, [0, 0]].copy()),
    "X int": lambda kw: kw.update(X=(kw["X"] > 0.5).astype(np.int64)),
    "b2 inf": lambda kw: kw["weights"][3].__setitem__(0, np.inf),
    "W2 read-only": lambda kw: kw["weights"][2].setflags(write=False),
    "eta": lambda kw: kw.update(eta=-1.0),
    "activation": lambda kw: kw.update(activation="softmax"),
}


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
@pytest.mark.parametrize("failure", sorted(LATE_FAILURES))
def test_sgd_per_sample_failure_writes_no_weight(failure, layout):
    """Non-contiguous weights are worked on as copies and written back: not after a failure."""
    kwargs = valid_kwargs("sgd_per_sample")
    ws = kwargs["weights"]
    if layout == "F":
        ws[0] = np.asfortranarray(ws[0])
    elif layout == "strided":
        ws[0], ws[1] = _strided(ws[0]), _strided(ws[1])
    LATE_FAILURES[failure](kwargs)
    before = [w.copy() for w in ws]
    with pytest.raises((ValueError, TypeError)):
        call("sgd_per_sample", kwargs)
    assert_unchanged(before, kwargs["weights"])


@pytest.mark.parametrize("layout", ["C", "strided"])
@pytest.mark.parametrize("grad", ["nan", "float32", "shape", "object"])
def test_sgd_update_failure_writes_no_weight(grad, layout):
    kwargs = valid_kwargs("sgd_update")
    if layout == "strided":
        kwargs["w"] = _strided(kwargs["w"])
    g = kwargs["grad"]
    kwargs["grad"] = {"nan": np.where(g > 0, np.nan, g), "float32": g.astype(np.float32),
                      "shape": g.T.copy(), "object": g.astype(object)}[grad]
    before = kwargs["w"].copy()
    with pytest.raises((ValueError, TypeError), match=r"^grad\b"):
        call("sgd_update", kwargs)
    assert_unchanged([before], [kwargs["w"]])


def test_sgd_update_refuses_w_that_is_not_an_array():
    with pytest.raises(TypeError,
                       match=r"^w must be a NumPy array \(it is updated in place\), got list"):
        kernels.sgd_update([0.5, 0.5], np.ones(2), 0.1)


# ---------------------------------------------------------------------------------------
# Not bad input: layout, read-only inputs and byte order are the kernels' business
# ---------------------------------------------------------------------------------------

def _relayout(a, layout):
    if layout == "F":
        return np.asfortranarray(a)
    if layout == "strided":
        return _strided(a)
    if layout == "read-only":
        a = a.copy()
        a.setflags(write=False)
        return a
    if layout == "big-endian":
        return a.astype(a.dtype.newbyteorder(">"))
    raise AssertionError(layout)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e not in ("sgd_update", "sgd_per_sample")])
@pytest.mark.parametrize("layout", ["F", "strided", "read-only"])
def test_layout_of_inputs_does_not_change_the_result(entry, layout):
    kwargs = valid_kwargs(entry)
    want = call(entry, kwargs)
    for arg in ARGS[entry]:
        arg.set(kwargs, _relayout(arg.get(kwargs), layout))
    for got, expected in zip(as_tuple(call(entry, kwargs)), as_tuple(want)):
        assert got.dtype == expected.dtype and got.flags.c_contiguous
        np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("layout", ["F", "strided"])
def test_in_place_kernels_write_back_to_non_contiguous_weights(layout):
    kw = valid_kwargs("sgd_update")
    want = kw["w"] - 0.1 * kw["grad"]
    w = _relayout(kw["w"], layout)
    assert kernels.sgd_update(w, kw["grad"], 0.1) is w
    np.testing.assert_allclose(w, want, rtol=1e-15)

    kw = valid_kwargs("sgd_per_sample")
    want, E_want = kernels.sgd_per_sample([a.copy() for a in kw["weights"]], kw["X"], kw["Y"],
                                          0.1, "sigmoid")
    ws = [_relayout(a, layout) for a in kw["weights"]]
    got, E = kernels.sgd_per_sample(ws, kw["X"], kw["Y"], 0.1, "sigmoid")
    assert all(g is a for g, a in zip(got, ws))
    np.testing.assert_array_equal(E, E_want)
    for a, expected in zip(ws, want):
        np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e not in ("sgd_update", "sgd_per_sample")])
def test_byte_swapped_float64_is_computed_or_named_as_such(entry):
    """A big-endian float64 array (read from a file, say) is float64: compute with it, or
    refuse it saying so; never 'must be float32 or float64, got float64'."""
    kwargs = valid_kwargs(entry)
    want = call(entry, kwargs)
    arg = ARGS[entry][0]
    arg.set(kwargs, _relayout(arg.get(kwargs), "big-endian"))
    try:
        got = call(entry, kwargs)
    except TypeError as e:
        assert re.search(r"byte order|endian|>f8", str(e)), str(e)
    else:
        for g, expected in zip(as_tuple(got), as_tuple(want)):
            np.testing.assert_array_equal(g, expected)


# =======================================================================================
# BackpropNetwork
# =======================================================================================

SIZES = [2, 3, 2]
BACKENDS = ["c", "numpy", "python"]


def net_data(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0, 1, (N, SIZES[0])), rng.uniform(0, 1, (N, SIZES[-1]))


DIFFERENTIABLE = r"valid: linear, relu, sigmoid, tanh$"
CONSTRUCTOR = [
    (dict(sizes=[2]), ValueError, r"^sizes must be a list of at least two layer sizes\b.*\[2\]"),
    (dict(sizes=[]), ValueError, r"^sizes must be a list of at least two layer sizes\b.*\[\]"),
    (dict(sizes=5), (TypeError, ValueError), r"^sizes must be a list\b.*\b5\b"),
    (dict(sizes="231"), (TypeError, ValueError), r"^sizes must be a list\b.*'231'"),
    (dict(sizes=None), (TypeError, ValueError), r"^sizes must be a list\b.*\bNone\b"),
    (dict(sizes=[2, 0, 1]), ValueError, r"^sizes\[1\] must be > 0, got 0$"),
    (dict(sizes=[-2, 3, 1]), ValueError, r"^sizes\[0\] must be > 0, got -2$"),
    (dict(sizes=[2, 2.5, 1]), TypeError, r"^sizes\[1\] must be an integer, got float 2\.5$"),
    (dict(sizes=[2, True, 1]), TypeError, r"^sizes\[1\] must be an integer, got bool True$"),
    (dict(sizes=[2, "3", 1]), TypeError, r"^sizes\[1\] must be an integer, got str '3'$"),
    (dict(sizes=[2, 3, None]), TypeError, r"^sizes\[2\] must be an integer, got NoneType None$"),
    (dict(activation="softmax"), ValueError, rf"^unknown activation 'softmax'; {DIFFERENTIABLE}"),
    (dict(activation="step"), ValueError, rf"^unknown activation 'step'; {DIFFERENTIABLE}"),
    (dict(activation="Sigmoid"), ValueError, rf"^unknown activation 'Sigmoid'; {DIFFERENTIABLE}"),
    (dict(activation=None), ValueError, rf"^unknown activation None; {DIFFERENTIABLE}"),
    (dict(backend="cuda"), ValueError, r"^unknown backend 'cuda'; valid: c, numpy, python$"),
    (dict(backend="C"), ValueError, r"^unknown backend 'C'; valid: c, numpy, python$"),
    (dict(backend=None), ValueError, r"^unknown backend None; valid: c, numpy, python$"),
    (dict(dtype="float16"), TypeError, r"^dtype must be 'float32' or 'float64', got 'float16'$"),
    (dict(dtype="int32"), TypeError, r"^dtype must be 'float32' or 'float64', got 'int32'$"),
    (dict(dtype=np.complex128), TypeError,
     r"^dtype must be 'float32' or 'float64', got 'complex128'$"),
    (dict(dtype="banana"), TypeError, r"^dtype must be 'float32' or 'float64', got 'banana'$"),
    (dict(init_scale=0), ValueError, r"^init_scale must be a finite number > 0, got 0\.0$"),
    (dict(init_scale=-0.1), ValueError, r"^init_scale must be a finite number > 0, got -0\.1$"),
    (dict(init_scale=float("nan")), ValueError,
     r"^init_scale must be a finite number > 0, got nan$"),
    (dict(init_scale=float("inf")), ValueError,
     r"^init_scale must be a finite number > 0, got inf$"),
    (dict(init_scale="0.1"), TypeError, r"^init_scale must be a number, got str '0\.1'$"),
    (dict(init_scale=True), TypeError, r"^init_scale must be a number, got bool True$"),
    (dict(backend="python", dtype="float32"), ValueError,
     r"^backend 'python'.*\bfloat64\b.*dtype='float64'"),
    (dict(seed="x"), TypeError, r"^seed\b.*'x'"),
    (dict(seed=-1), ValueError, r"^seed\b.*-1"),
    (dict(seed=1.5), TypeError, r"^seed\b.*1\.5"),
]


@pytest.mark.parametrize("kwargs, exc, regex", CONSTRUCTOR,
                         ids=[f"{k}={v!r}" for kw, _, _ in CONSTRUCTOR
                              for k, v in list(kw.items())[-1:]])
def test_constructor_refuses_bad_arguments(kwargs, exc, regex):
    kwargs = {"sizes": SIZES, **kwargs}
    sizes = kwargs.pop("sizes")
    with pytest.raises(exc, match=regex):
        BackpropNetwork(sizes, **kwargs)


def _bad_data(v, name):
    """Kinds of bad X or Y for the network: {kind: (bad value, exception, regex)}."""
    with_nan, with_inf, with_neg_inf = v.copy(), v.copy(), v.copy()
    with_nan.flat[-1], with_inf.flat[-1], with_neg_inf.flat[-1] = np.nan, np.inf, -np.inf
    n = rf"^{name}\b\s*"
    return {
        "3-D": (v.reshape((1,) * (3 - v.ndim) + v.shape), ValueError,
                n + r"must be .*1-D.*2-D.*\bgot 3-D\b"),
        "scalar": (0.5, ValueError, n + r"must be .*1-D.*2-D.*\bgot 0-D\b"),
        "nan": (with_nan, ValueError, n + r"must be finite, got nan\b"),
        "+inf": (with_inf, ValueError, n + r"must be finite, got inf\b"),
        "-inf": (with_neg_inf, ValueError, n + r"must be finite, got -inf\b"),
        "empty": (np.empty((0, 2)), ValueError, n + r"must not be empty\b"),
        "strings": (v.astype(str), TypeError, n + r"must be an array of numbers\b.*\bstr"),
        "a_string": ("0.5", TypeError, n + r".*\bstr\b"),
        "complex": (v.astype(complex), TypeError, n + r"must be real-valued\b.*\bcomplex"),
        "object": (v.astype(object), TypeError, n + r".*\bobject\b"),
        "None": (None, TypeError, n + r".*\bNone\b"),
        "ragged": ([[0.1, 0.2], [0.3]], ValueError, n + r"must be a rectangular array\b"),
    }


VALID = object()          # in a case: this argument keeps its valid value


def _method_cases():
    """(method, which argument, kind, X, Y, exception, regex); X or Y VALID: the valid one."""
    X, Y = net_data()
    cases = []
    for method in ("fit", "evaluate", "loss_and_gradients", "step", "predict"):
        one = method == "step"
        x, y = (X[0], Y[0]) if one else (X, Y)
        xn, yn = ("[xX]", "[yY]") if one else ("X", "Y")
        n = 1 if one else N
        for kind, (bad, exc, regex) in _bad_data(x, xn).items():
            cases.append((method, "X", kind, bad, VALID, exc, regex))
        cases.append((method, "X", "features", np.ones(x.shape[:-1] + (3,)), VALID, ValueError,
                      rf"^{xn} has 3 features, expected 2\b"))
        if method == "predict":
            continue
        for kind, (bad, exc, regex) in _bad_data(y, yn).items():
            if one and kind == "scalar":      # a number is the target of a one-output network
                regex = r"^y has 1 entries, expected 2\b"
            cases.append((method, "Y", kind, VALID, bad, exc, regex))
        cases += [
            (method, "Y", "outputs", VALID, np.ones(y.shape[:-1] + (3,)), ValueError,
             rf"^{yn} has 3 (columns|entries|outputs|values), expected 2\b"),
            (method, "Y", "samples", VALID, np.ones((n + 1, 2)), ValueError,
             r"^y has 4 entries, expected 2\b" if one else
             rf"^X and Y must have the same number of samples, got {n} and {n + 1}$"),
        ]
    cases.append(("step", "X", "two samples", X[:2], Y[:2], ValueError,
                  r"^step takes one sample; x has 2\b"))
    return cases


METHOD_CASES = _method_cases()


def _call_method(net, method, X, Y):
    X0, Y0 = net_data()
    if method == "step":
        X0, Y0 = X0[0], Y0[0]
    X, Y = X0 if X is VALID else X, Y0 if Y is VALID else Y
    if method == "predict":
        return net.predict(X)
    if method == "step":
        return net.step(X, Y, eta=0.1)
    if method == "fit":
        return net.fit(X, Y, eta=0.1, epochs=2)
    return getattr(net, method)(X, Y)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method, which, kind, X, Y, exc, regex", METHOD_CASES,
                         ids=[f"{m}-{w}-{k}" for m, w, k, *_ in METHOD_CASES])
def test_network_method_refuses_bad_data_and_keeps_its_weights(backend, method, which, kind,
                                                               X, Y, exc, regex):
    net = BackpropNetwork(SIZES, seed=0, backend=backend)
    net.fit(*net_data(1), eta=0.1)                  # weights that are not the initial ones
    before, history = net.get_weights(), list(net.history_)
    with pytest.raises(exc, match=regex):
        _call_method(net, method, X, Y)
    assert_unchanged(before, net.get_weights())
    assert net.history_ == history


def _bad_weights():
    rng = np.random.default_rng(2)
    ws = [rng.uniform(-1, 1, s) for s in [(2, 3), (3,), (3, 2), (2,)]]

    def replace(i, value):
        out = list(ws)
        out[i] = value
        return out

    nan = ws[2].copy()
    nan[1, 1] = np.nan
    inf = ws[3].copy()
    inf[0] = np.inf
    return [
        ("not a list", ws[0], (TypeError, ValueError),
         r"^weights must be a list of 4 arrays\b.*\bndarray"),
        ("None", None, (TypeError, ValueError),
         r"^weights must be a list of 4 arrays\b.*\bNoneType"),
        ("too few", ws[:2], ValueError,
         r"^weights must be a list of 4 arrays \['W1', 'b1', 'W2', 'b2'\], got 2$"),
        ("too many", ws + [ws[0]], ValueError, r"^weights must be a list of 4 arrays\b.*\bgot 5$"),
        ("W1 shape", replace(0, np.ones((3, 3))), ValueError,
         r"^W1 must have shape \(2, 3\), got \(3, 3\)$"),
        ("W2 transposed", replace(2, ws[2].T), ValueError,
         r"^W2 must have shape \(3, 2\), got \(2, 3\)$"),
        ("b1 2-D", replace(1, ws[1][None]), ValueError, r"^b1 must be a 1-D array, got 2-D\b"),
        ("W1 1-D", replace(0, ws[0].ravel()), ValueError, r"^W1 must be a 2-D array, got 1-D\b"),
        ("W2 nan", replace(2, nan), ValueError, r"^W2 must be finite, got nan at index \(1, 1\)$"),
        ("b2 inf", replace(3, inf), ValueError, r"^b2 must be finite, got inf at index 0$"),
        ("W1 empty", replace(0, np.empty((0, 3))), ValueError, r"^W1 must not be empty\b"),
        ("W1 strings", replace(0, ws[0].astype(str)), TypeError,
         r"^W1 must be an array of numbers\b.*\bstr"),
        ("W1 complex", replace(0, ws[0].astype(complex)), TypeError,
         r"^W1 must be real-valued\b.*\bcomplex"),
        ("b1 object", replace(1, ws[1].astype(object)), TypeError, r"^b1\b.*\bobject\b"),
        ("b1 None", replace(1, None), TypeError, r"^b1\b.*\bNone\b"),
        ("W1 ragged", replace(0, [[0.1, 0.2, 0.3], [0.4]]), ValueError,
         r"^W1 must be a rectangular array\b"),
    ]


BAD_WEIGHTS = _bad_weights()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind, weights, exc, regex", BAD_WEIGHTS, ids=[k for k, *_ in BAD_WEIGHTS])
def test_set_weights_refuses_bad_weights_and_keeps_the_old_ones(backend, kind, weights, exc, regex):
    net = BackpropNetwork(SIZES, seed=0, backend=backend)
    before = net.get_weights()
    with pytest.raises(exc, match=regex):
        net.set_weights(weights)
    assert_unchanged(before, net.get_weights())


TRAINING_SETTINGS = [
    ("fit", dict(eta=0), ValueError, r"^eta must be a finite number > 0, got 0\.0$"),
    ("fit", dict(eta=float("nan")), ValueError, r"^eta must be a finite number > 0, got nan$"),
    ("fit", dict(eta=float("inf")), ValueError, r"^eta must be a finite number > 0, got inf$"),
    ("fit", dict(eta="0.1"), TypeError, r"^eta must be a number, got str '0\.1'$"),
    ("fit", dict(eta=True), TypeError, r"^eta must be a number, got bool True$"),
    ("fit", dict(epochs=0), ValueError, r"^epochs must be > 0, got 0$"),
    ("fit", dict(epochs=-1), ValueError, r"^epochs must be > 0, got -1$"),
    ("fit", dict(epochs=1.5), TypeError, r"^epochs must be an integer, got float 1\.5$"),
    ("fit", dict(epochs=True), TypeError, r"^epochs must be an integer, got bool True$"),
    ("fit", dict(epochs=None), TypeError, r"^epochs must be an integer, got NoneType None$"),
    ("fit", dict(shuffle=True, seed="x"), TypeError, r"^seed\b.*'x'"),
    ("fit", dict(shuffle=True, seed=-1), ValueError, r"^seed\b.*-1"),
    ("fit", dict(shuffle=True, seed=0.5), TypeError, r"^seed\b.*0\.5"),
    ("step", dict(eta=-0.5), ValueError, r"^eta must be a finite number > 0, got -0\.5$"),
    ("step", dict(eta=float("-inf")), ValueError, r"^eta must be a finite number > 0, got -inf$"),
    ("step", dict(eta=None), TypeError, r"^eta must be a number, got NoneType None$"),
    ("step", dict(eta=[0.1]), TypeError, r"^eta must be a number, got list \[0\.1\]$"),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method, settings, exc, regex", TRAINING_SETTINGS,
                         ids=[f"{m}-{s}" for m, s, _, _ in TRAINING_SETTINGS])
def test_training_settings_are_checked_and_weights_kept(backend, method, settings, exc, regex):
    net = BackpropNetwork(SIZES, seed=0, backend=backend)
    X, Y = net_data()
    before = net.get_weights()
    with pytest.raises(exc, match=regex):
        if method == "fit":
            net.fit(X, Y, **{"eta": 0.1, **settings})
        else:
            net.step(X[0], Y[0], **settings)
    assert_unchanged(before, net.get_weights())
    assert net.history_ == []


@pytest.mark.parametrize("method", ["predict", "fit", "evaluate", "set_weights"])
def test_float32_network_names_values_too_large_for_float32(method):
    """1e300 is finite: the error says it does not fit float32, not that it 'must be finite'."""
    net = BackpropNetwork(SIZES, seed=0, dtype="float32")
    X, Y = net_data()
    X[1, 0] = 1e300
    before = net.get_weights()
    if method == "set_weights":
        ws = [w.astype(np.float64) for w in before]
        ws[0][0, 0] = -1e300
        name, call_ = "W1", lambda: net.set_weights(ws)
    elif method == "predict":
        name, call_ = "X", lambda: net.predict(X)
    else:
        name, call_ = "X", lambda: getattr(net, method)(X, Y)
    with pytest.raises(ValueError, match=rf"^{name}\b.*\bfloat32\b"):
        call_()
    assert_unchanged(before, net.get_weights())


@pytest.mark.parametrize("backend", ["numpy", "python"])
@pytest.mark.parametrize("method", ["evaluate", "loss_and_gradients", "step", "fit"])
def test_backends_agree_on_finite_extreme_data(method, backend):
    """y = 1e200 is finite: (yhat - y)^2 overflows to inf in C and NumPy. Every backend gives
    the same numbers (here E = inf), none raises OverflowError; step and fit report the
    divergence the same way in every backend and leave the weights as they were."""
    def run(backend):
        net = BackpropNetwork([1, 1], activation="linear", seed=0, backend=backend)
        X, Y = np.array([[1.0]]), np.array([[1e200]])
        with np.errstate(all="ignore"):
            if method in ("step", "fit"):
                before = net.get_weights()
                with pytest.raises(TrainingDivergedError, match="diverged in epoch 1|would "
                                   "make the weights or E non-finite"):
                    if method == "step":
                        net.step(X[0], Y[0], eta=0.1)
                    else:
                        net.fit(X, Y, eta=0.1)
                out = np.array([np.inf])
                assert all(np.array_equal(a, b) for a, b in zip(before, net.get_weights()))
            elif method == "evaluate":
                out = net.evaluate(X, Y)
            else:
                out = net.loss_and_gradients(X, Y)[0]
        return out, net.get_weights()

    want, want_weights = run("c")
    assert np.isinf(want).all()
    got, got_weights = run(backend)
    np.testing.assert_array_equal(got, want)
    for g, w in zip(got_weights, want_weights):
        np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------------------------
# Integer and boolean data is converted: the same result as the float version
# ---------------------------------------------------------------------------------------

DATA_DTYPES = [np.uint8, np.int8, np.int64, np.bool_, np.float16]
NET_CONFIGS = [("c", "float64"), ("c", "float32"), ("numpy", "float32"), ("python", "float64")]


def _int_data(dtype, seed=3):
    rng = np.random.default_rng(seed)
    top = 2 if dtype == np.bool_ else 4
    X = rng.integers(0, top, (6, SIZES[0])).astype(dtype)
    Y = rng.integers(0, 2, (6, SIZES[-1])).astype(dtype)
    return X, Y


@pytest.mark.parametrize("backend, net_dtype", NET_CONFIGS)
@pytest.mark.parametrize("dtype", DATA_DTYPES, ids=lambda d: np.dtype(d).name)
def test_integer_and_boolean_data_give_the_float_result(backend, net_dtype, dtype):
    X, Y = _int_data(dtype)
    Xf, Yf = X.astype(np.float64), Y.astype(np.float64)
    a = BackpropNetwork(SIZES, seed=0, backend=backend, dtype=net_dtype)
    b = BackpropNetwork(SIZES, seed=0, backend=backend, dtype=net_dtype)
    np.testing.assert_array_equal(a.predict(X), b.predict(Xf))
    assert a.evaluate(X, Y) == b.evaluate(Xf, Yf)
    loss_a, grads_a = a.loss_and_gradients(X, Y)
    loss_b, grads_b = b.loss_and_gradients(Xf, Yf)
    assert loss_a == loss_b
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_array_equal(ga, gb)
    trace_a, trace_b = a.step(X[0], Y[0], eta=0.3), b.step(Xf[0], Yf[0], eta=0.3)
    assert trace_a.E == trace_b.E
    assert a.fit(X, Y, eta=0.3, epochs=2) == b.fit(Xf, Yf, eta=0.3, epochs=2)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        assert wa.dtype == net_dtype
        np.testing.assert_array_equal(wa, wb)


def test_integer_weights_are_converted_by_set_weights():
    net = BackpropNetwork(SIZES, seed=0)
    ws = [np.ones(w.shape, np.int64) for w in net.get_weights()]
    net.set_weights(ws)
    for w in net.get_weights():
        assert w.dtype == np.float64 and np.array_equal(w, np.ones(w.shape))


# =======================================================================================
# gradcheck(model, X, Y)
# =======================================================================================

def _gradcheck_cases():
    X, Y = net_data()
    Y = Y[:, :1]
    rows = []
    for name, v in (("X", X), ("Y", Y)):
        def spoil(value, v=v):
            bad = v.copy()
            bad.flat[-1] = value
            return bad
        n = rf"^{name}\b"
        rows += [
            (name, "3-D", v.reshape(v.shape + (1,)), ValueError, n + r".*1-D.*2-D.*\bgot 3-D\b"),
            (name, "scalar", 0.5, ValueError, n + r".*(scalar|0-D)"),
            (name, "nan", spoil(np.nan), ValueError, n + r".*\b(NaN|nan)\b"),
            (name, "+inf", spoil(np.inf), ValueError, n + r".*\binf\b"),
            (name, "-inf", spoil(-np.inf), ValueError, n + r".*\binf\b"),
            (name, "empty", np.empty((0, v.shape[1])), ValueError, n + r".*\bempty\b"),
            (name, "strings", v.astype(str), TypeError,
             n + r" must be an array of numbers\b.*\bstr"),
            (name, "a_string", "0.5", TypeError, n + r".*(<U|str)"),
            (name, "complex", v.astype(complex), TypeError, n + r".*\breal\b.*\bcomplex"),
            (name, "object", v.astype(object), TypeError, n + r".*\bobject\b"),
            (name, "None", None, TypeError, n + r".*\bNone\b"),
            (name, "ragged", [[0.1, 0.2], [0.3]], ValueError,
             n + r".*(rectangular|ragged|inhomogeneous)"),
        ]
    rows += [
        ("X", "features", np.ones((N, 3)), ValueError, r"^X has 3 features, expected 2\b"),
        ("Y", "outputs", np.ones((N, 3)), ValueError, r"^Y has 3 columns, expected 1\b"),
        ("Y", "samples", np.ones((N + 1, 1)), ValueError,
         rf"^X and Y must have the same number of samples\b.*\b{N}\b.*\b{N + 1}\b"),
    ]
    return rows


GRADCHECK_CASES = _gradcheck_cases()


@pytest.mark.parametrize("which, kind, bad, exc, regex", GRADCHECK_CASES,
                         ids=[f"{w}-{k}" for w, k, *_ in GRADCHECK_CASES])
def test_gradcheck_refuses_bad_data_and_restores_the_weights(which, kind, bad, exc, regex):
    net = BackpropNetwork([2, 3, 1], seed=0)
    X, Y = net_data()
    Y = Y[:, :1]
    before = net.get_weights()
    with pytest.raises(exc, match=regex):
        gradcheck(net, bad if which == "X" else X, bad if which == "Y" else Y)
    assert_unchanged(before, net.get_weights())


GRADCHECK_SETTINGS = [
    (name, value, exc, regex)
    for name in ("step", "tolerance", "tiny")
    for value, exc, regex in [
        (0, ValueError, r"must be a positive finite number; received 0\.0$"),
        (-1e-6, ValueError, r"must be a positive finite number; received -1e-06$"),
        (float("nan"), ValueError, r"must be a positive finite number; received nan$"),
        (float("inf"), ValueError, r"must be a positive finite number; received inf$"),
        ("1e-6", TypeError, r"must be a positive real number; received str '1e-6'$"),
        (True, TypeError, r"must be a positive real number; received bool True$"),
        (None, TypeError, r"must be a positive real number; received NoneType None$"),
        (1j, TypeError, r"must be a positive real number; received complex 1j$"),
    ]
] + [
    ("step", 1e-300, ValueError, r"1e-300 is below the float64 resolution at W1\[0, 0\]"),
    ("max_entries_per_tensor", 0, ValueError, r"must be at least 1; received 0$"),
    ("max_entries_per_tensor", 1.5, TypeError,
     r"must be a positive integer or None; received float 1\.5$"),
    ("max_entries_per_tensor", True, TypeError,
     r"must be a positive integer or None; received bool True$"),
]


@pytest.mark.parametrize("name, value, exc, regex", GRADCHECK_SETTINGS,
                         ids=[f"{n}={v!r}" for n, v, _, _ in GRADCHECK_SETTINGS])
def test_gradcheck_refuses_bad_settings(name, value, exc, regex):
    net = BackpropNetwork([2, 3, 1], seed=0)
    X, Y = net_data()
    before = net.get_weights()
    with pytest.raises(exc, match=rf"^{name} " + regex):
        gradcheck(net, X, Y[:, :1], **{name: value})
    assert_unchanged(before, net.get_weights())


def test_gradcheck_refuses_a_model_without_the_methods():
    with pytest.raises(TypeError,
                       match=r"^model must have a method get_weights\(\); received a list"):
        gradcheck([np.ones((2, 1))], np.ones((3, 2)), np.ones((3, 1)))


@pytest.mark.parametrize("dtype", [np.uint8, np.bool_, np.int64], ids=lambda d: np.dtype(d).name)
def test_gradcheck_takes_integer_data_like_float_data(dtype):
    X, Y = _int_data(dtype)
    net = BackpropNetwork([2, 3, 2], seed=0)
    got = gradcheck(net, X, Y)
    want = gradcheck(net, X.astype(np.float64), Y.astype(np.float64))
    assert got.ok and got.max_rel_error == want.max_rel_error


# =======================================================================================
# No input crashes the process: a seeded fuzz in a subprocess
# =======================================================================================

FUZZ = r'''
"""Random calls of every kernel entry point and of BackpropNetwork's methods. Most calls are
valid but extreme (huge, subnormal, signed-zero values; Fortran-ordered, strided, reversed,
read-only arrays; size-1 dimensions), so that the compiled code runs on them; the others
spoil one argument or all of them. Only ValueError and TypeError may escape a call, and a
failed call must leave every numeric array it was given, and the network's weights,
bit-identical. Each call is printed before it runs: the last line names a call that crashed.
"""
import faulthandler
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

from refnn import kernels as K
from refnn.textbook import BackpropNetwork

faulthandler.enable()
warnings.simplefilter("ignore")          # overflow of finite but huge values is no error

seed, n_calls = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(seed)
FLOATS = [np.float64, np.float32]
EXTREME = {np.float64: [1e308, -1e308, 5e-324, -0.0, 0.0, 1e-300, 709.0, -745.0, 1e30],
           np.float32: [3.4e38, -3.4e38, 1e-45, -0.0, 0.0, 88.0, -103.0, 1e30]}
OTHER_DTYPES = [np.float16, np.int64, np.int8, np.uint8, np.bool_, np.complex128, object,
                "U4", ">f8", ">f4", np.longdouble]
SPECIAL = [np.nan, np.inf, -np.inf]
NOT_ARRAYS = [None, 1.5, 0, True, "abc", b"ab", [], [[]], [[1.0, 2.0], [3.0]], [[1.0], ["a"]],
              {"a": 1}, (1.0, 2.0), 1j, object()]
ETAS = [1e-300, 1e300, 0, -1.0, np.nan, np.inf, "0.1", True, None, np.float32(0.5)]
NAMES = ["Sigmoid", "", None, 3]


def size(allow_zero):
    return int(rng.choice([0, 1, 1, 2, 3, 3, 5] if allow_zero else [1, 1, 2, 3, 3, 5]))


def good(shape, dtype, writeable=False):
    a = rng.normal(size=shape) * 10.0 ** rng.integers(-3, 4)
    if a.size and rng.random() < 0.4:
        idx = rng.integers(a.size, size=rng.integers(1, 4))
        a.flat[idx] = rng.choice(EXTREME[dtype], size=len(idx))
    a = np.asarray(a).astype(dtype)
    r = rng.random()
    if r < 0.15:
        a = np.asfortranarray(a)
    elif r < 0.3 and a.ndim:
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., ::2] = a
        a = big[..., ::2]
    elif r < 0.4 and a.ndim:
        a = a[::-1]
    if not writeable and rng.random() < 0.1:
        a.setflags(write=False)
    return a


def bad(shape, dtype):
    r = rng.random()
    if r < 0.25:
        return NOT_ARRAYS[rng.integers(len(NOT_ARRAYS))]
    if r < 0.45:
        shape = tuple(int(s) for s in rng.choice([0, 1, 2, 3, 5], size=rng.integers(0, 4)))
        return good(shape, FLOATS[rng.integers(2)])
    a = good(shape, dtype, writeable=True)
    if r < 0.7 and a.size:
        a = a.copy()
        a.flat[rng.integers(a.size)] = SPECIAL[rng.integers(3)]
        return a
    if r < 0.8:
        a = a.copy()
        a.setflags(write=False)
        return a
    with np.errstate(all="ignore"):
        return a.astype(OTHER_DTYPES[rng.integers(len(OTHER_DTYPES))])


class Args:
    """Makes the arguments of one call: all good, one bad, or each bad by chance."""

    def __init__(self):
        r = rng.random()
        self.mode = "good" if r < 0.55 else ("one" if r < 0.9 else "chaos")
        self.count, self.bad_at = 0, int(rng.integers(6))

    def __call__(self, shape, dtype, writeable=False):
        self.count += 1
        spoil = ((self.mode == "one" and self.count - 1 == self.bad_at)
                 or (self.mode == "chaos" and rng.random() < 0.5))
        return bad(shape, dtype) if spoil else good(shape, dtype, writeable)

    def eta(self):
        return ETAS[rng.integers(len(ETAS))] if self.mode != "good" and rng.random() < 0.3 \
            else float(rng.choice([0.1, 1.0, 1e-3, 50.0]))

    def activation(self, valid=K.DIFFERENTIABLE):
        if self.mode != "good" and rng.random() < 0.3:
            return (NAMES + list(K.ACTIVATIONS))[rng.integers(len(NAMES) + len(K.ACTIVATIONS))]
        return valid[rng.integers(len(valid))]

    def weights(self, sizes, dtype):
        ws = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            ws += [self((n_in, n_out), dtype, True), self((n_out,), dtype, True)]
        r = rng.random()
        if self.mode != "good" and r < 0.1 and ws:
            ws.pop()
        elif self.mode != "good" and r < 0.15:
            ws = ws[0]
        elif r < 0.2:
            ws = tuple(ws)
        return ws


def describe(v):
    if isinstance(v, np.ndarray):
        return (f"array(shape={v.shape}, dtype={v.dtype.str}, C={v.flags.c_contiguous}, "
                f"writeable={v.flags.writeable})")
    if isinstance(v, (list, tuple)) and any(isinstance(x, np.ndarray) for x in v):
        return "[" + ", ".join(describe(x) for x in v) + "]"
    return repr(v)[:60]


def numeric_arrays(values):
    out = []
    for v in values:
        for x in (v if isinstance(v, (list, tuple)) else [v]):
            if isinstance(x, np.ndarray) and x.dtype.kind in "biufc":
                out.append(x)
    return out


passed = failed = 0
problems = {}                            # (what, where) -> the first call that showed it


def run(label, f, *args, net=None):
    global passed, failed
    call = label + "(" + ", ".join(describe(a) for a in args) + ")"
    print(call, flush=True)
    arrays = numeric_arrays(args)
    before = [a.copy() for a in arrays]
    net_before = net.get_weights() if net is not None else None
    try:
        f(*args)
        passed += 1
    except (ValueError, TypeError):
        failed += 1
        if any(a.tobytes() != b.tobytes() for a, b in zip(arrays, before)):
            problems.setdefault((f"a failed {label} changed an array it was given", ""), call)
        if net is not None and any(a.tobytes() != b.tobytes()
                                   for a, b in zip(net.get_weights(), net_before)):
            problems.setdefault((f"a failed {label} changed the network's weights", ""), call)
    except Exception as e:
        frame = traceback.extract_tb(e.__traceback__)[-1]
        problems.setdefault((f"{type(e).__name__}: {e}"[:200],
                             f"{Path(frame.filename).name}:{frame.lineno}"), call)


for i in range(n_calls):
    new = Args()
    dt = FLOATS[rng.integers(2)]
    z = new.mode != "good"
    n, n_in, n_out = size(z), size(z), size(z)
    which = i % 11
    if which == 0:
        run("dense_forward", K.dense_forward, new((n, n_in), dt), new((n_in, n_out), dt),
            new((n_out,), dt))
    elif which == 1:
        run("dense_backward", K.dense_backward, new((n, n_in), dt), new((n_in, n_out), dt),
            new((n, n_out), dt))
    elif which == 2:
        run("activation_forward", K.activation_forward, new((n, n_out), dt),
            new.activation(K.ACTIVATIONS))
    elif which == 3:
        run("activation_derivative", K.activation_derivative, new((n, n_out), dt),
            new.activation())
    elif which == 4:
        run("epsilon_backward", K.epsilon_backward, new((n, n_out), dt),
            new((n_in, n_out), dt), new((n, n_in), dt), new.activation())
    elif which == 5:
        run("softmax_crossentropy", K.softmax_crossentropy, new((n, n_out), dt),
            new((n, n_out), dt))
    elif which == 6:
        run("sigmoid_binary_crossentropy", K.sigmoid_binary_crossentropy,
            new((n, n_out), dt), new((n, n_out), dt))
    elif which == 7:
        run("squared_error_output", K.squared_error_output, new((n, n_out), dt),
            new((n, n_out), dt), new.activation())
    elif which == 8:
        shape = tuple(size(z) for _ in range(rng.integers(0, 4)))
        run("sgd_update", K.sgd_update, new(shape, dt, True), new(shape, dt), new.eta())
    elif which == 9:
        sizes = [size(z) for _ in range(rng.integers(2, 5))]
        run("sgd_per_sample", K.sgd_per_sample, new.weights(sizes, dt),
            new((n, sizes[0]), dt), new((n, sizes[-1]), dt), new.eta(), new.activation())
    else:
        sizes = [size(False) for _ in range(rng.integers(2, 4))]
        backend = ["c", "numpy", "python"][rng.integers(3)]
        activation = K.DIFFERENTIABLE[rng.integers(len(K.DIFFERENTIABLE))]
        net = BackpropNetwork(sizes, activation=activation, seed=i, backend=backend,
                              dtype="float64" if backend == "python" else dt)
        X = new((n, sizes[0]) if rng.random() < 0.8 else (sizes[0],), dt)
        Y = new((n, sizes[-1]) if rng.random() < 0.8 else (sizes[-1],), dt)
        method = ["predict", "fit", "step", "evaluate", "loss_and_gradients",
                  "set_weights"][rng.integers(6)]
        if method == "predict":
            run("net.predict", net.predict, X, net=net)
        elif method == "fit":
            run("net.fit", lambda X, Y, eta: net.fit(X, Y, eta=eta), X, Y, new.eta(), net=net)
        elif method == "step":
            x = X[:1] if isinstance(X, np.ndarray) and X.ndim == 2 else X
            y = Y[:1] if isinstance(Y, np.ndarray) and Y.ndim == 2 else Y
            run("net.step", net.step, x, y, new.eta(), net=net)
        elif method == "set_weights":
            run("net.set_weights", net.set_weights, new.weights(sizes, dt), net=net)
        else:
            run("net." + method, getattr(net, method), X, Y, net=net)
for (what, where), call in problems.items():
    print(f"{what} (at {where})\n    first seen in {call}", file=sys.stderr)
print(f"done {n_calls}: {passed} passed, {failed} refused, {len(problems)} problems", flush=True)
sys.exit(1 if problems else 0)
'''


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fuzz_no_input_crashes_the_process(seed):
    """Hundreds of random calls in a child process: it must exit 0. A signal (segfault,
    abort), an exception other than ValueError/TypeError, or a failed call that changed an
    array fails this test with the last call printed."""
    n_calls = 700
    root = str(Path(refnn.__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", FUZZ, str(seed), str(n_calls)], cwd=root,
                          env=env, capture_output=True, text=True, timeout=120)
    ending = (f"was killed by signal {-proc.returncode}" if proc.returncode < 0
              else f"exited with {proc.returncode}")
    tail = "\n".join(proc.stdout.splitlines()[-3:]) + "\n" + proc.stderr[-3000:]
    assert proc.returncode == 0, f"the fuzz child {ending}; last call and error:\n{tail}"
    last = proc.stdout.splitlines()[-1]
    assert last.startswith(f"done {n_calls}: "), last
    passed = int(last.split(": ")[1].split()[0])
    assert passed > n_calls // 3, last       # a fuzz that only meets refusals tests nothing
