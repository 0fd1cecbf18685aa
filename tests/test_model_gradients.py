"""Sequential.loss_and_gradients against central finite differences (refnn.gradcheck), for
every layer x activation x loss combination, in float64.

Each test builds a small model (a few units, a handful of samples), asks gradcheck to move
every weight by +-step and compare the change of the loss with the gradient backpropagation
returns. A check passes when report.ok and the worst relative error stays below
MAX_REL_ERROR. Two computations of the same quantity (fused and unfused output gradients,
the batch gradient and the mean of the per-sample ones) must agree to SAME.

Training mode (the default of loss_and_gradients) is what gradcheck sees: batch
normalisation uses the batch statistics and dropout one fixed mask drawn from the model's
seed. Inference mode is checked through InferenceMode, a wrapper that calls
loss_and_gradients(X, Y, training=False).
"""
import numpy as np
import pytest

from refnn import Sequential, gradcheck
from refnn.layers import Activation, BatchNormalization, Dense, Dropout, Flatten, Residual
from refnn.losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanSquaredError,
                          SparseCategoricalCrossentropy)

ACTIVATIONS = ("sigmoid", "tanh", "relu", "softmax", "linear")
LOSSES = {"mean_squared_error": MeanSquaredError, "huber": Huber,
          "binary_crossentropy": BinaryCrossentropy,
          "categorical_crossentropy": CategoricalCrossentropy,
          "sparse_categorical_crossentropy": SparseCategoricalCrossentropy}
MAX_REL_ERROR = 1e-6                 # analytic vs central difference, float64
# The central difference of a loss L of about 1 carries a round-off of about u |L| / step
# = 1e-10 (u = 1.1e-16, step = 1e-6): a relative error above 1e-6 for a gradient entry
# below 1e-4, and any relative error for an entry that is exactly 0 (the bias before a batch
# normalisation). An entry with |a| + |n| below TINY is held to the absolute error
# TINY * MAX_REL_ERROR = 1e-9 instead; larger entries to the relative error MAX_REL_ERROR.
TINY = 1e-3
SAME = dict(rtol=1e-12, atol=1e-12)  # two float64 computations of the same quantity

N_SAMPLES, N_IN, N_HIDDEN, N_OUT = 6, 3, 4, 3


# ---------------------------------------------------------------------------------------------
# helpers


def targets(loss, n, k, rng):
    """targets that suit the loss: real values (mse, huber), values in [0, 1] with some exact
    0 and 1 (binary CE), one-hot rows (categorical CE), class indices (sparse CE)"""
    if loss in ("mean_squared_error", "huber"):
        return rng.normal(0.0, 1.5, (n, k))
    if loss == "binary_crossentropy":
        y = rng.uniform(0.0, 1.0, (n, k))
        y[: n // 2] = np.round(y[: n // 2])
        return y
    classes = np.arange(n) % k
    if loss == "sparse_categorical_crossentropy":
        return classes
    return np.eye(k)[classes]


def unfused(loss):
    """the same loss with fused() False: the gradient runs through dL/dyhat and the output
    activation's derivative instead of epsilon = yhat - y from the logits"""
    cls = type(loss)
    subclass = type("Unfused" + cls.__name__, (cls,), {"fused": lambda self, activation: False})
    copy = subclass.__new__(subclass)
    copy.__dict__.update(loss.__dict__)
    return copy


def compiled(layers, loss, seed=0, dtype="float64"):
    model = Sequential(layers, seed=seed, dtype=dtype)
    model.compile(loss=loss, optimizer="sgd")
    return model


def jitter(model, rng, scale=0.2):
    """move biases and batch-normalisation scale/shift off their initial 0 and 1, so that the
    check runs at a generic point; the moving statistics stay as they are"""
    moved = []
    for name, w in zip(model.weight_names(), model.get_weights()):
        if name.endswith(("bias", "beta", "gamma")):
            w = w + rng.uniform(-scale, scale, w.shape)
        moved.append(w)
    model.set_weights(moved)
    return model


def trainable_mask(model):
    return [m for layer in model.layers for m in layer.trainable_mask()]


def assert_passes(report, n_entries):
    """every entry compared (none skipped at a kink) and within MAX_REL_ERROR"""
    assert report.ok, str(report)
    assert report.max_rel_error < MAX_REL_ERROR, str(report)
    assert report.n_kinks == 0, str(report)
    assert report.n_checked == n_entries, str(report)


def assert_same_loss_and_gradients(a, b):
    (loss_a, grads_a), (loss_b, grads_b) = a, b
    np.testing.assert_allclose(loss_a, loss_b, **SAME)
    assert len(grads_a) == len(grads_b)
    for ga, gb in zip(grads_a, grads_b):
        np.testing.assert_allclose(ga, gb, **SAME)


def n_entries(model):
    return sum(w.size for w in model.get_weights())


class InferenceMode:
    """loss_and_gradients(X, Y, training=False) of a model, over its trainable weights.

    In inference mode batch normalisation divides by its moving statistics, which are
    constants of the loss (not trained, their gradient entries are zeros): they are left
    out of get_weights, so that gradcheck moves only what the gradient is taken of."""

    def __init__(self, model):
        self.model = model
        self.mask = trainable_mask(model)

    def weight_names(self):
        return [n for n, m in zip(self.model.weight_names(), self.mask) if m]

    def get_weights(self):
        return [w for w, m in zip(self.model.get_weights(), self.mask) if m]

    def set_weights(self, weights):
        given = iter(weights)
        self.model.set_weights([next(given) if m else w
                                for w, m in zip(self.model.get_weights(), self.mask)])

    def loss_and_gradients(self, X, Y):
        loss, grads = self.model.loss_and_gradients(X, Y, training=False)
        return loss, [g for g, m in zip(grads, self.mask) if m]


class WrongGradient:
    """a model whose kernel gradients are 0.1 % too large"""

    def __init__(self, model):
        self.model = model
        self.get_weights, self.set_weights = model.get_weights, model.set_weights

    def loss_and_gradients(self, X, Y):
        loss, grads = self.model.loss_and_gradients(X, Y)
        return loss, [g * 1.001 if g.ndim == 2 else g for g in grads]


# ---------------------------------------------------------------------------------------------
# the check can fail


def test_a_model_with_a_wrong_gradient_fails():
    rng = np.random.default_rng(0)
    model = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                      Dense(N_OUT, activation="softmax")], "categorical_crossentropy")
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets("categorical_crossentropy", N_SAMPLES,
                                                        N_OUT, rng)
    assert gradcheck(model, X, Y, tiny=TINY).ok
    report = gradcheck(WrongGradient(model), X, Y, tiny=TINY)
    assert not report.ok
    assert report.max_rel_error > 1e-4
    assert {entry.name for entry in report.failures} == {"param0", "param2"}   # the kernels


# ---------------------------------------------------------------------------------------------
# Dense: every activation as hidden and as output layer, with every loss that takes its output


def dense_cases():
    """(hidden, output, loss): mse and huber take any output; binary CE an output in (0, 1)
    (sigmoid fused, softmax unfused); the categorical CEs a row of positive values, which
    they normalise (softmax fused, sigmoid unfused)"""
    outputs = {"mean_squared_error": ACTIVATIONS, "huber": ACTIVATIONS,
               "binary_crossentropy": ("sigmoid", "softmax"),
               "categorical_crossentropy": ("softmax", "sigmoid"),
               "sparse_categorical_crossentropy": ("softmax", "sigmoid")}
    return [(hidden, output, loss) for loss in LOSSES for output in outputs[loss]
            for hidden in ACTIVATIONS]


@pytest.mark.parametrize("hidden, output, loss", dense_cases(),
                         ids=["-".join(case) for case in dense_cases()])
def test_dense_passes_gradcheck(hidden, output, loss):
    rng = np.random.default_rng(sum(map(len, (hidden, output, loss))))
    model = compiled([Dense(N_HIDDEN, activation=hidden, input_shape=(N_IN,)),
                      Dense(N_OUT, activation=output)], loss, seed=3)
    jitter(model, rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets(loss, N_SAMPLES, N_OUT, rng)
    before = model.get_weights()
    report = gradcheck(model, X, Y, tiny=TINY)
    assert_passes(report, N_IN * N_HIDDEN + N_HIDDEN + N_HIDDEN * N_OUT + N_OUT)
    assert report.converted_from is None
    for w, w0 in zip(model.get_weights(), before):          # restored exactly
        np.testing.assert_array_equal(w, w0)


@pytest.mark.parametrize("loss", ["mean_squared_error", "huber", "binary_crossentropy"])
def test_single_output_unit_passes_gradcheck(loss):
    """k = 1 with targets of shape (n,)"""
    rng = np.random.default_rng(4)
    model = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                      Dense(1, activation="sigmoid")], loss)
    jitter(model, rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets(loss, N_SAMPLES, 1, rng)[:, 0]
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


def test_huber_with_a_smaller_delta_passes_gradcheck():
    rng = np.random.default_rng(5)
    model = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                      Dense(N_OUT)], Huber(delta=0.3))
    jitter(model, rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), rng.normal(size=(N_SAMPLES, N_OUT))
    r = np.abs(model.predict(X) - Y)
    assert (r < 0.3).any() and (r > 0.3).any()      # both branches of the loss are used
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


# ---------------------------------------------------------------------------------------------
# fused output gradients (softmax + CE, softmax + sparse CE, sigmoid + BCE) == unfused ones

FUSED = [("softmax", "categorical_crossentropy"), ("softmax", "sparse_categorical_crossentropy"),
         ("sigmoid", "binary_crossentropy")]


@pytest.mark.parametrize("output, loss", FUSED, ids=["-".join(case) for case in FUSED])
def test_fused_and_unfused_output_gradients_agree(output, loss):
    """the same function computed three ways: Dense(act) fused, Dense(linear) + Activation(act)
    fused through the Activation layer, and Dense(act) with the fusion switched off"""
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets(loss, N_SAMPLES, N_OUT, rng)
    fused_loss, plain_loss = LOSSES[loss](), unfused(LOSSES[loss]())
    assert fused_loss.fused(output) and not plain_loss.fused(output)

    fused_dense = jitter(compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                                   Dense(N_OUT, activation=output)], fused_loss), rng)
    weights = fused_dense.get_weights()
    fused_activation = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                                 Dense(N_OUT), Activation(output)], LOSSES[loss]())
    unfused_dense = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                              Dense(N_OUT, activation=output)], plain_loss)
    unfused_activation = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                                   Dense(N_OUT), Activation(output)], unfused(LOSSES[loss]()))
    others = [fused_activation, unfused_dense, unfused_activation]
    for model in others:
        model.set_weights(weights)

    reference = fused_dense.loss_and_gradients(X, Y)
    # the loss from probabilities, written here with NumPy
    g1 = np.tanh(X @ weights[0] + weights[1])
    h2 = g1 @ weights[2] + weights[3]
    if output == "softmax":
        p = np.exp(h2 - h2.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        expected = -np.mean(np.log(p[np.arange(N_SAMPLES), np.arange(N_SAMPLES) % N_OUT]))
    else:
        p = 1 / (1 + np.exp(-h2))
        expected = -np.mean(Y * np.log(p) + (1 - Y) * np.log(1 - p))
    np.testing.assert_allclose(reference[0], expected, **SAME)

    for model in others:
        assert_same_loss_and_gradients(model.loss_and_gradients(X, Y), reference)
    for model in [fused_dense] + others:
        assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


# ---------------------------------------------------------------------------------------------
# Flatten, Activation layers


def test_flatten_passes_gradcheck():
    rng = np.random.default_rng(7)
    model = jitter(compiled([Flatten(input_shape=(3, 2)), Dense(N_HIDDEN, activation="tanh"),
                             Dense(N_OUT, activation="softmax")], "categorical_crossentropy"), rng)
    X = rng.normal(size=(N_SAMPLES, 3, 2))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    assert model.get_weights()[0].shape == (6, N_HIDDEN)
    assert_passes(gradcheck(model, X, Y, tiny=TINY),
                  6 * N_HIDDEN + N_HIDDEN + N_HIDDEN * N_OUT + N_OUT)
    # the same function as a Dense model fed the flattened samples
    flat = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(6,)),
                     Dense(N_OUT, activation="softmax")], "categorical_crossentropy")
    flat.set_weights(model.get_weights())
    assert_same_loss_and_gradients(model.loss_and_gradients(X, Y),
                                   flat.loss_and_gradients(X.reshape(N_SAMPLES, 6), Y))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_layers_pass_gradcheck(activation):
    """Activation as a hidden layer and as the output layer (unfused under mse)"""
    rng = np.random.default_rng(8)
    model = jitter(compiled([Dense(N_HIDDEN, input_shape=(N_IN,)), Activation(activation),
                             Dense(N_OUT), Activation(activation)], "mse"), rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), rng.uniform(size=(N_SAMPLES, N_OUT))
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))
    # the same function as Dense layers with the activation inside
    dense = compiled([Dense(N_HIDDEN, activation=activation, input_shape=(N_IN,)),
                      Dense(N_OUT, activation=activation)], "mse")
    dense.set_weights(model.get_weights())
    assert_same_loss_and_gradients(model.loss_and_gradients(X, Y), dense.loss_and_gradients(X, Y))


# ---------------------------------------------------------------------------------------------
# Dropout: one fixed mask in loss_and_gradients


def dropout_model(mode, seed=1, loss="categorical_crossentropy"):
    return compiled([Dense(5, activation="tanh", input_shape=(N_IN,)), Dropout(0.3, mode=mode),
                     Dense(N_OUT, activation="softmax")], loss, seed=seed)


def without_dropout(model, mode):
    """the inference-mode function of dropout_model written without the Dropout layer:
    inverted dropout is the identity; the textbook's scales the next layer's kernel by 1 - rate"""
    plain = compiled([Dense(5, activation="tanh", input_shape=(N_IN,)),
                      Dense(N_OUT, activation="softmax")], "categorical_crossentropy")
    W1, b1, W2, b2 = model.get_weights()
    plain.set_weights([W1, b1, W2 * (0.7 if mode == "scale_at_inference" else 1.0), b2])
    return plain


@pytest.mark.parametrize("mode", Dropout.MODES)
def test_dropout_mask_is_fixed_and_gradcheck_passes(mode):
    rng = np.random.default_rng(9)
    model = jitter(dropout_model(mode), rng)
    X = rng.normal(size=(N_SAMPLES, N_IN))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)

    first, second = model.loss_and_gradients(X, Y), model.loss_and_gradients(X, Y)
    assert first[0] == second[0]
    for a, b in zip(first[1], second[1]):
        np.testing.assert_array_equal(a, b)
    # the mask drops something: the training loss is not the inference loss
    assert abs(first[0] - model.loss_and_gradients(X, Y, training=False)[0]) > 1e-6

    report = gradcheck(model, X, Y, tiny=TINY)
    assert_passes(report, n_entries(model))
    np.testing.assert_allclose(report.loss, first[0], **SAME)


@pytest.mark.parametrize("mode", Dropout.MODES)
def test_dropout_mask_comes_from_the_model_seed(mode):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(N_SAMPLES, N_IN))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    a, same_seed, other_seed = (dropout_model(mode, seed) for seed in (1, 1, 2))
    for model in (same_seed, other_seed):
        model.set_weights(a.get_weights())
    assert a.loss_and_gradients(X, Y)[0] == same_seed.loss_and_gradients(X, Y)[0]
    assert a.loss_and_gradients(X, Y)[0] != other_seed.loss_and_gradients(X, Y)[0]


def test_dropout_mask_is_fixed_without_a_seed():
    """seed=None: still one mask for every call of loss_and_gradients, so that gradcheck
    sees one function"""
    rng = np.random.default_rng(11)
    model = Sequential([Dense(5, activation="tanh", input_shape=(N_IN,)), Dropout(0.3),
                        Dense(N_OUT, activation="softmax")], dtype="float64")
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    X = rng.normal(size=(N_SAMPLES, N_IN))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    losses = {model.loss_and_gradients(X, Y)[0] for _ in range(3)}
    assert len(losses) == 1
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


@pytest.mark.parametrize("mode", Dropout.MODES)
def test_dropout_in_inference_mode_passes_gradcheck(mode):
    rng = np.random.default_rng(12)
    model = jitter(dropout_model(mode), rng)
    X = rng.normal(size=(N_SAMPLES, N_IN))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    inference = InferenceMode(model)
    report = gradcheck(inference, X, Y, tiny=TINY)
    assert_passes(report, n_entries(model))
    # no mask: the function of the network without the Dropout layer (whose next kernel is
    # keep W2 for the textbook's mode, so dL/dW2 = keep dL/d(keep W2))
    keep = 0.7 if mode == "scale_at_inference" else 1.0
    loss, (dW1, db1, dW2, db2) = without_dropout(model, mode).loss_and_gradients(X, Y)
    expected = loss, [dW1, db1, keep * dW2, db2]
    assert_same_loss_and_gradients(inference.loss_and_gradients(X, Y), expected)


# ---------------------------------------------------------------------------------------------
# batch normalisation: training mode (batch statistics) and inference mode (moving ones)


def bn_models():
    """BatchNormalization as its own layer (between Dense and its activation, and before the
    output), and Dense(..., batch_norm=True) as hidden and as output layer"""
    return {
        "layer": lambda: [Dense(N_HIDDEN, input_shape=(N_IN,)), BatchNormalization(),
                          Activation("tanh"), Dense(N_OUT, activation="softmax")],
        "layer-before-output": lambda: [Dense(N_HIDDEN, activation="sigmoid", input_shape=(N_IN,)),
                                        BatchNormalization(), Dense(N_OUT, activation="softmax")],
        "dense-hidden": lambda: [Dense(N_HIDDEN, activation="tanh", batch_norm=True,
                                       input_shape=(N_IN,)),
                                 Dense(N_OUT, activation="softmax")],
        "dense-hidden-relu": lambda: [Dense(N_HIDDEN, activation="relu", batch_norm=True,
                                            input_shape=(N_IN,)),
                                      Dense(N_OUT, activation="softmax")],
        "dense-output": lambda: [Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                                 Dense(N_OUT, activation="softmax", batch_norm=True)],
        "dense-no-bias": lambda: [Dense(N_HIDDEN, activation="tanh", batch_norm=True,
                                        use_bias=False, input_shape=(N_IN,)),
                                  Dense(N_OUT, activation="softmax")],
    }


def moving_statistics(model, rng):
    """moving mean and variance away from their initial 0 and 1"""
    values = []
    for name, w in zip(model.weight_names(), model.get_weights()):
        if name.endswith("moving_mean"):
            w = rng.normal(0.0, 0.5, w.shape)
        elif name.endswith("moving_variance"):
            w = rng.uniform(0.5, 2.0, w.shape)
        values.append(w)
    model.set_weights(values)


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "mean_squared_error"])
@pytest.mark.parametrize("kind", list(bn_models()))
def test_batch_normalization_in_training_mode_passes_gradcheck(kind, loss):
    rng = np.random.default_rng(13)
    model = jitter(compiled(bn_models()[kind](), loss), rng)
    moving_statistics(model, rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets(loss, N_SAMPLES, N_OUT, rng)
    before = model.get_weights()
    loss_value, grads = model.loss_and_gradients(X, Y)
    for w, w0 in zip(model.get_weights(), before):     # the moving statistics stay as they are
        np.testing.assert_array_equal(w, w0)
    for name, g in zip(model.weight_names(), grads):
        if "moving" in name:
            np.testing.assert_array_equal(g, 0.0)
    # the batch statistics are in use: not the inference loss
    assert abs(loss_value - model.loss_and_gradients(X, Y, training=False)[0]) > 1e-6
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


@pytest.mark.parametrize("kind", list(bn_models()))
def test_batch_normalization_in_inference_mode_passes_gradcheck(kind):
    rng = np.random.default_rng(14)
    model = jitter(compiled(bn_models()[kind](), "categorical_crossentropy"), rng)
    moving_statistics(model, rng)
    X = rng.normal(size=(N_SAMPLES, N_IN))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    inference = InferenceMode(model)
    assert len(inference.get_weights()) == len(model.get_weights()) - 2
    report = gradcheck(inference, X, Y, tiny=TINY)
    assert_passes(report, sum(w.size for w in inference.get_weights()))
    _, grads = model.loss_and_gradients(X, Y, training=False)
    for name, g in zip(model.weight_names(), grads):
        if "moving" in name:
            np.testing.assert_array_equal(g, 0.0)


def test_batch_normalization_in_inference_mode_uses_the_moving_statistics():
    """y = gamma (x - moving_mean) / sqrt(moving_variance + 1e-3) + beta, written with NumPy"""
    rng = np.random.default_rng(15)
    model = jitter(compiled([Dense(N_HIDDEN, input_shape=(N_IN,)), BatchNormalization(),
                             Activation("tanh"), Dense(N_OUT)], "mse"), rng)
    moving_statistics(model, rng)
    W1, b1, gamma, beta, mean, var, W2, b2 = model.get_weights()
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), rng.normal(size=(N_SAMPLES, N_OUT))
    g = np.tanh(gamma * (X @ W1 + b1 - mean) / np.sqrt(var + 1e-3) + beta)
    expected = np.mean((g @ W2 + b2 - Y) ** 2)
    np.testing.assert_allclose(model.loss_and_gradients(X, Y, training=False)[0], expected, **SAME)


# ---------------------------------------------------------------------------------------------
# Residual blocks, use_bias=False


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "mean_squared_error"])
def test_residual_block_passes_gradcheck(loss):
    rng = np.random.default_rng(16)
    k = N_HIDDEN
    model = jitter(compiled([Dense(k, activation="tanh", input_shape=(N_IN,)),
                             Residual([Dense(k, activation="tanh"), Dense(k)]),
                             Dense(N_OUT, activation="softmax")], loss), rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets(loss, N_SAMPLES, N_OUT, rng)
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


def test_residual_block_as_output_and_with_batch_norm_passes_gradcheck():
    rng = np.random.default_rng(17)
    k = N_HIDDEN
    model = jitter(compiled([Dense(k, activation="tanh", input_shape=(N_IN,)),
                             Residual([Dense(k, activation="sigmoid", batch_norm=True), Dense(k)]),
                             Residual([Dense(k, activation="tanh"), Dense(k)])], "huber"), rng)
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), rng.normal(0.0, 1.5, (N_SAMPLES, k))
    assert_passes(gradcheck(model, X, Y, tiny=TINY), n_entries(model))


def test_residual_skip_connection_adds_the_input():
    """Residual([F]) computes h + F(h): with F's weights zero the block is the identity and
    the model is the one without it"""
    rng = np.random.default_rng(18)
    k = N_HIDDEN
    model = compiled([Dense(k, activation="tanh", input_shape=(N_IN,)),
                      Residual([Dense(k, activation="tanh"), Dense(k)]),
                      Dense(N_OUT, activation="softmax")], "categorical_crossentropy")
    plain = compiled([Dense(k, activation="tanh", input_shape=(N_IN,)),
                      Dense(N_OUT, activation="softmax")], "categorical_crossentropy")
    W1, b1, Wa, ba, Wb, bb, W2, b2 = jitter(model, rng).get_weights()
    model.set_weights([W1, b1, Wa, ba, np.zeros_like(Wb), np.zeros_like(bb), W2, b2])
    plain.set_weights([W1, b1, W2, b2])
    X = rng.normal(size=(N_SAMPLES, N_IN))
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    loss, grads = model.loss_and_gradients(X, Y)
    plain_loss, plain_grads = plain.loss_and_gradients(X, Y)
    np.testing.assert_allclose(loss, plain_loss, **SAME)
    for g, p in zip(grads[:2] + grads[-2:], plain_grads):
        np.testing.assert_allclose(g, p, **SAME)


def test_dense_without_bias_passes_gradcheck():
    rng = np.random.default_rng(19)
    model = compiled([Dense(N_HIDDEN, activation="tanh", use_bias=False, input_shape=(N_IN,)),
                      Dense(N_OUT, activation="sigmoid", use_bias=False)], "binary_crossentropy")
    assert model.weight_names() == ["dense_0/kernel", "dense_1/kernel"]
    X, Y = rng.normal(size=(N_SAMPLES, N_IN)), targets("binary_crossentropy", N_SAMPLES, N_OUT, rng)
    assert_passes(gradcheck(model, X, Y, tiny=TINY), N_IN * N_HIDDEN + N_HIDDEN * N_OUT)
    # the function of a model with zero biases
    with_bias = compiled([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)),
                          Dense(N_OUT, activation="sigmoid")], "binary_crossentropy")
    W1, W2 = model.get_weights()
    with_bias.set_weights([W1, np.zeros(N_HIDDEN), W2, np.zeros(N_OUT)])
    loss, grads = model.loss_and_gradients(X, Y)
    loss_b, grads_b = with_bias.loss_and_gradients(X, Y)
    np.testing.assert_allclose(loss, loss_b, **SAME)
    np.testing.assert_allclose(grads[0], grads_b[0], **SAME)
    np.testing.assert_allclose(grads[1], grads_b[2], **SAME)


# ---------------------------------------------------------------------------------------------
# kinks: relu at h = 0, Huber at |r| = delta


@pytest.mark.parametrize("where", ["dense", "activation-layer"])
def test_relu_at_zero_is_reported_as_a_kink_and_stays_ok(where):
    """sample 0 is all zeros and the first biases are 0, so every hidden h of sample 0 is
    exactly 0: a step of +step on a first-layer bias crosses relu's kink"""
    rng = np.random.default_rng(20)
    first = ([Dense(N_HIDDEN, activation="relu", input_shape=(N_IN,))] if where == "dense" else
             [Dense(N_HIDDEN, input_shape=(N_IN,)), Activation("relu")])
    model = compiled(first + [Dense(2)], "mse")
    X = rng.normal(size=(N_SAMPLES, N_IN))
    X[0] = 0.0
    Y = rng.normal(size=(N_SAMPLES, 2))
    W1, b1 = model.get_weights()[:2]
    np.testing.assert_array_equal(b1, 0.0)
    h1 = X @ W1 + b1
    assert (h1[0] == 0.0).all() and (np.abs(h1[1:]) > 1e-3).all()

    report = gradcheck(model, X, Y, tiny=TINY)
    kinks = {(entry.name, entry.index) for entry in report.kinks}
    bias = model.weight_names()[1]
    assert kinks == {(bias, (j,)) for j in range(N_HIDDEN)}, str(report)
    assert all(entry.crossed == "+step" for entry in report.kinks)
    assert report.n_checked == n_entries(model) - N_HIDDEN
    assert report.ok and report.max_rel_error < MAX_REL_ERROR, str(report)


def test_huber_at_its_kink_is_reported_and_stays_ok():
    """output 0 of sample 0 is exactly 1 = delta away from its target (dyadic numbers, so
    the forward pass is exact): a +step on what feeds it crosses the kink |r| = delta"""
    model = compiled([Dense(2, input_shape=(2,))], "huber")
    W = np.array([[0.5, -0.75], [0.25, 0.5]])
    b = np.array([0.125, -0.25])
    model.set_weights([W, b])
    X = np.array([[1.0, 2.0], [0.5, -1.0], [-1.5, 0.25], [2.0, 1.0]])
    Y = np.array([[0.125, 0.3], [2.0, -0.7], [-0.4, 3.0], [0.2, 0.9]])
    r = model.predict(X) - Y
    assert r[0, 0] == 1.0
    others = np.delete(np.abs(r).ravel(), 0)
    assert (np.abs(others - 1.0) > 1e-3).all() and (others > 1.0).any() and (others < 1.0).any()

    report = gradcheck(model, X, Y, tiny=TINY)
    kinks = {(entry.name, entry.index) for entry in report.kinks}
    kernel, bias = model.weight_names()
    assert kinks == {(kernel, (0, 0)), (kernel, (1, 0)), (bias, (0,))}, str(report)
    assert all(entry.crossed == "+step" for entry in report.kinks)
    assert report.n_checked == 6 - 3
    assert report.ok and report.max_rel_error < MAX_REL_ERROR, str(report)


# ---------------------------------------------------------------------------------------------
# the batch gradient is the mean of the per-sample gradients


def per_sample_models():
    return {
        "dense-softmax-cce": ([Dense(N_HIDDEN, activation="sigmoid", input_shape=(N_IN,)),
                               Dense(N_OUT, activation="softmax")], "categorical_crossentropy"),
        "flatten-residual-sparse": ([Flatten(input_shape=(N_IN, 1)),
                                     Dense(N_HIDDEN, activation="tanh"),
                                     Residual([Dense(N_HIDDEN, activation="tanh"),
                                               Dense(N_HIDDEN)]),
                                     Dense(N_OUT, activation="softmax")],
                                    "sparse_categorical_crossentropy"),
        "relu-sigmoid-bce": ([Dense(N_HIDDEN, activation="relu", input_shape=(N_IN,)),
                              Dense(N_OUT, activation="sigmoid")], "binary_crossentropy"),
        "activation-linear-mse": ([Dense(N_HIDDEN, input_shape=(N_IN,)), Activation("tanh"),
                                   Dense(N_OUT)], "mean_squared_error"),
        "huber": ([Dense(N_HIDDEN, activation="tanh", input_shape=(N_IN,)), Dense(N_OUT)],
                  "huber"),
    }


@pytest.mark.parametrize("kind", list(per_sample_models()))
def test_batch_gradient_is_the_mean_of_per_sample_gradients(kind):
    rng = np.random.default_rng(21)
    layers, loss = per_sample_models()[kind]
    model = jitter(compiled(layers, loss), rng)
    X = rng.normal(size=(N_SAMPLES, N_IN) if kind[:7] != "flatten" else (N_SAMPLES, N_IN, 1))
    Y = targets(loss, N_SAMPLES, N_OUT, rng)
    batch_loss, batch_grads = model.loss_and_gradients(X, Y)
    singles = [model.loss_and_gradients(X[i:i + 1], Y[i:i + 1]) for i in range(N_SAMPLES)]
    np.testing.assert_allclose(batch_loss, np.mean([loss for loss, _ in singles]), **SAME)
    for t, grad in enumerate(batch_grads):
        np.testing.assert_allclose(grad, np.mean([g[t] for _, g in singles], axis=0), **SAME)


# ---------------------------------------------------------------------------------------------
# a float32 model is checked through a float64 copy


def test_float32_model_is_checked_as_a_float64_copy():
    rng = np.random.default_rng(22)
    model = compiled([Dense(N_HIDDEN, activation="tanh", batch_norm=True, input_shape=(N_IN,)),
                      Dropout(0.3), Residual([Dense(N_HIDDEN, activation="tanh"), Dense(N_HIDDEN)]),
                      Dense(N_OUT, activation="softmax")],
                     "categorical_crossentropy", seed=2, dtype="float32")
    jitter(model, rng)
    moving_statistics(model, rng)
    X = rng.normal(size=(N_SAMPLES, N_IN)).astype(np.float32)
    Y = targets("categorical_crossentropy", N_SAMPLES, N_OUT, rng)
    before = model.get_weights()
    report = gradcheck(model, X, Y, tiny=TINY)
    assert report.converted_from == "float32"
    assert_passes(report, n_entries(model))
    assert model.dtype == np.float32
    for w, w0 in zip(model.get_weights(), before):
        assert w.dtype == np.float32
        np.testing.assert_array_equal(w, w0)
    # the copy computes the model's function (same weights, same dropout mask)
    copy = model.astype("float64")
    np.testing.assert_allclose(report.loss, copy.loss_and_gradients(X, Y)[0], **SAME)
    np.testing.assert_allclose(report.loss, model.loss_and_gradients(X, Y)[0], rtol=1e-5)
