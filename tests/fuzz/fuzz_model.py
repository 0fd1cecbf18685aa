"""Fuzzing the model API: random calls of fit, evaluate, predict, loss_and_gradients and
set_weights with random shapes, dtypes, values (NaN, infinity, 1e300), layouts and arguments,
on models of each training path (a compiled Dense stack; dropout and batch normalisation on
the layer-by-layer path; Flatten). A refused call raises ValueError or TypeError with
a message and leaves the weights, the optimizer's state and the generators as they were (a fit
that diverged keeps the state after its last good batch); after any call every weight is
finite. Run in a child process by tests/test_fuzz.py."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import refnn
from refnn import TrainingDivergedError
from refnn.layers import BatchNormalization, Dense, Dropout, Flatten

from _settings import fuzz

MODELS = {
    "compiled": lambda dt: [Dense(4, activation="tanh", input_shape=(3,)),
                            Dense(2, activation="softmax")],
    "layers": lambda dt: [Dense(4, activation="relu", input_shape=(3,)), Dropout(0.2),
                          BatchNormalization(), Dense(2, activation="softmax")],
    "flatten": lambda dt: [Flatten(input_shape=(3, 1)), Dense(2, activation="sigmoid")],
}
LOSSES = {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}
SPECIAL = [np.nan, np.inf, -np.inf, 1e300, -1e300, 3e38, 1e-310]


def make(kind, dtype, optimizer):
    model = refnn.Sequential(MODELS[kind](dtype), seed=0, dtype=dtype)
    last = model.layers[-1].activation
    model.compile(loss=LOSSES[last], optimizer=optimizer, metrics=["accuracy"])
    return model


def state(model):
    return ([w.copy() for w in model.get_weights()] + model.optimizer.get_state(),
            repr(model._shuffle_rng.bit_generator.state),
            repr(model._dropout_rng.bit_generator.state))


def same(a, b):
    return (len(a[0]) == len(b[0]) and a[1:] == b[1:]
            and all(x.shape == y.shape and x.tobytes() == y.tobytes()
                    for x, y in zip(a[0], b[0])))


@st.composite
def array(draw, shape):
    if draw(st.integers(0, 5)) == 0:
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
    n = int(np.prod(shape))
    a = np.array(draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n)),
                 np.float64).reshape(shape)
    if n and draw(st.integers(0, 6)) == 0:
        a.flat[draw(st.integers(0, n - 1))] = draw(st.sampled_from(SPECIAL))
    kind = draw(st.sampled_from(["float32", "float64", "float64", "int64", "bool", "object",
                                 "list", "F", "strided"]))
    with np.errstate(all="ignore"):
        if kind == "list":
            return a.tolist()
        if kind == "F":
            return np.asfortranarray(a)
        if kind == "strided" and a.ndim:
            wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],))
            wide[..., ::2] = a
            return wide[..., ::2]
        return a.astype(kind if kind != "strided" else "float64")


KWARGS = st.fixed_dictionaries({}, optional={
    "batch_size": st.sampled_from([1, 3, 0, -1, 2.5, None, "4", 10**12]),
    "epochs": st.sampled_from([1, 2, 0, -1, 1.5, None]),
    "verbose": st.sampled_from([0, 0, 2, 5, "auto", True]),
    "validation_split": st.sampled_from([0.0, 0.25, 0.99, 1.0, -0.1, np.nan]),
    "shuffle": st.sampled_from([True, False, 1, "yes"]),
})


@fuzz(250)
@given(kind=st.sampled_from(list(MODELS)), dtype=st.sampled_from(["float32", "float64"]),
       optimizer=st.sampled_from(["sgd", "adam", "rmsprop", "nadam"]),
       calls=st.lists(st.tuples(st.sampled_from(["fit", "fit", "evaluate", "predict",
                                                 "loss_and_gradients", "set_weights"]),
                                st.integers(1, 6), KWARGS, st.data()), min_size=1, max_size=4))
def test_random_calls_change_nothing_when_refused(kind, dtype, optimizer, calls):
    model = make(kind, dtype, optimizer)
    in_shape = (3,) if kind != "flatten" else (3, 1)
    for method, n, kwargs, data in calls:
        x = data.draw(array((n,) + in_shape))
        y = data.draw(array((n, model.output_shape[-1])))
        before = state(model)
        try:
            if method == "fit":
                model.fit(x, y, **kwargs)
            elif method == "evaluate":
                model.evaluate(x, y, verbose=0)
            elif method == "predict":
                model.predict(x)
            elif method == "loss_and_gradients":
                model.loss_and_gradients(x, y)
            else:
                weights = model.get_weights()
                i = data.draw(st.integers(0, len(weights) - 1))
                weights[i] = data.draw(array(weights[i].shape))
                model.set_weights(weights)
        except (ValueError, TypeError) as e:
            assert str(e), f"{method}: {type(e).__name__} without a message"
            if not isinstance(e, TrainingDivergedError):
                assert same(before, state(model)), f"{method} refused ({e}) and changed state"
        for w in model.get_weights():
            assert np.isfinite(w).all(), f"{method} left a weight that is not finite"
