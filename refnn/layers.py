"""Layers of the Keras-style API: Flatten, Dense, Activation, Dropout, BatchNormalization, Residual.

Each layer follows Keras's shape: `__init__` validates and stores the configuration, `build`
makes the weights for an input shape, `forward` computes and remembers what `backward` needs,
`backward` takes dE/dg (the gradient of the loss with respect to the layer's output) and
returns dE/dg_prev, leaving the gradients of the layer's weights in `self.grads`.

Freezing (Keras's `layer.trainable = False`) changes which weights the optimizer updates, not
the derivatives: a frozen layer still passes dE/dg_prev back to the layers before it, and its
weights move from `trainable_weights` to `non_trainable_weights` without changing their place
in `weights`. A frozen batch normalisation runs in inference mode, as in Keras 3.

Notation: g_prev the layer's input, h weighted sum, g = f(h) output, epsilon = dE/dh.
All arrays are batch-major, C-contiguous, in the model's dtype; matrix products and
activations run in the compiled kernels through refnn.kernels.
"""
import math

import numpy as np

from . import kernels
from ._validate import choice, flag, positive_int, positive_number

ACTIVATIONS = ("sigmoid", "tanh", "relu", "softmax", "linear")


def _activation_name(activation):
    """None means linear, as in Keras."""
    return "linear" if activation is None else choice("activation", activation, ACTIVATIONS)



class Context:
    """What a forward pass needs to know: training or inference, the dropout generator,
    whether batch normalisation may update its moving statistics, and which layers are frozen.

    frozen: the set of layers a model froze at its last compile() (a model's changes of
    `trainable` take effect there, as in Keras), or None: each layer's own `trainable`."""

    def __init__(self, training=False, rng=None, update_state=False, frozen=None):
        self.training = training
        self.rng = rng
        self.update_state = update_state
        self.frozen = frozen

    def is_frozen(self, layer):
        return (not layer.trainable) if self.frozen is None else layer in self.frozen


# --------------------------------------------------------------------------- initialisers
def _truncated_normal(rng, shape, stddev):
    """Normal(0, stddev) redrawn beyond two standard deviations (Keras's truncated normal)."""
    x = rng.standard_normal(shape)
    bad = np.abs(x) > 2
    while bad.any():
        x[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(x) > 2
    return x * stddev


def _variance_scaling(scale, mode, distribution):
    def init(rng, shape):
        fan_in, fan_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
        n = {"fan_in": fan_in, "fan_avg": (fan_in + fan_out) / 2}[mode]
        if distribution == "uniform":
            limit = math.sqrt(3 * scale / n)
            return rng.uniform(-limit, limit, shape)
        # the standard deviation of N(0, 1) truncated at +-2 is 0.8796...: divide it out
        return _truncated_normal(rng, shape, math.sqrt(scale / n) / 0.87962566103423978)
    return init


INITIALIZERS = {
    "glorot_uniform": _variance_scaling(1.0, "fan_avg", "uniform"),   # U(+-sqrt(6/(in+out)))
    "glorot_normal": _variance_scaling(1.0, "fan_avg", "normal"),
    "he_uniform": _variance_scaling(2.0, "fan_in", "uniform"),        # U(+-sqrt(6/in))
    "he_normal": _variance_scaling(2.0, "fan_in", "normal"),
    "lecun_uniform": _variance_scaling(1.0, "fan_in", "uniform"),
    "lecun_normal": _variance_scaling(1.0, "fan_in", "normal"),
    "random_normal": lambda rng, shape: rng.normal(0.0, 0.05, shape),
    "random_uniform": lambda rng, shape: rng.uniform(-0.05, 0.05, shape),
    "zeros": lambda rng, shape: np.zeros(shape),
    "ones": lambda rng, shape: np.ones(shape),
}


# --------------------------------------------------------------------------- base
class Layer:
    """A layer: build(input_shape) -> output_shape, forward, backward, weights and grads."""

    def __init__(self, name=None, input_shape=None, trainable=True):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string, got {type(name).__name__}")
        self.name = name
        self._trainable = flag("trainable", trainable)
        if input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            if not isinstance(input_shape, (tuple, list)) or not input_shape:
                raise ValueError(f"input_shape must be a tuple of positive ints such as (28, 28) "
                                 f"(without the batch axis), got {input_shape!r}")
            input_shape = tuple(positive_int("input_shape entry", d) for d in input_shape)
        self.input_shape = input_shape
        self.output_shape = None
        self.built = False
        self.dtype = None
        self.grads = []

    # ------------------------------------------------------------------ trainable
    @property
    def trainable(self):
        """Whether the optimizer trains this layer's weights (Keras's layer.trainable, default
        True).

        A frozen layer (trainable = False) keeps its weights through fit: they move to
        non_trainable_weights (self.weights keeps its order), the optimizer has no slots for
        them, gradients still flow through the layer to the layers before it, and a batch
        normalisation runs in inference mode. Setting it sets it on every layer inside (a Dense
        layer's batch normalisation, a Residual block's layers), as in Keras. A compiled model
        takes the change at its next compile(), as in Keras."""
        return self._trainable

    @trainable.setter
    def trainable(self, value):
        value = flag("trainable", value)
        self._trainable = value
        for layer in self._sublayers():
            layer.trainable = value

    def _sublayers(self):
        """The layers inside this one (their trainable follows this layer's)."""
        return []

    # ------------------------------------------------------------------ weights
    # A layer's weights are its parameters (what backward computes gradients of: W, b, gamma,
    # beta; self.grads holds them in this order), then its state (batch normalisation's moving
    # statistics: set by forward, a constant of the loss, never trained).
    def _parameters(self):
        return []

    def _state(self):
        return []

    @property
    def weights(self):
        """All weights, in get_weights() order: parameters, then state (frozen or not)."""
        return self._parameters() + self._state()

    def trainable_mask(self):
        """For each entry of self.weights: is it trained by the optimizer? A parameter is, when
        its layer is trainable; the state never is."""
        return [self.trainable] * len(self._parameters()) + [False] * len(self._state())

    # Keras's order per layer: trainable first, then non-trainable (for a plain layer, frozen
    # or not, that is self.weights)
    @property
    def trainable_weights(self):
        return [w for w, m in zip(self.weights, self.trainable_mask()) if m]

    @property
    def non_trainable_weights(self):
        return [w for w, m in zip(self.weights, self.trainable_mask()) if not m]

    def weight_names(self):
        return []

    def aligned_grads(self):
        """dL/dw for each entry of self.weights: the parameters' gradients (of a frozen layer's
        too: freezing changes what the optimizer updates, not the derivative), then zeros for
        the state, a constant of the loss."""
        return list(self.grads) + [np.zeros_like(w) for w in self._state()]

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    def build(self, input_shape, dtype, rng):
        self.dtype = np.dtype(dtype)
        self.output_shape = self.compute_output_shape(tuple(input_shape))
        self.built = True
        return self.output_shape

    def compute_output_shape(self, input_shape):
        return input_shape

    def forward(self, g_prev, ctx):
        raise NotImplementedError

    def backward(self, dE_dg):
        raise NotImplementedError

    # the output activation, when the layer ends with one applied to its own weighted sum h
    output_activation = None

    def get_config(self):
        config = {"name": self.name, "trainable": self.trainable}
        if self.input_shape is not None:
            config["input_shape"] = list(self.input_shape)
        return config

    def set_weight_values(self, values):
        """Assign this layer's weights (already checked and cast by the model), in place."""
        for w, v in zip(self.weights, values):
            w[...] = v

    def __repr__(self):
        return f"{type(self).__name__}({self.name!r})"


def _activation_backward(activation, g, dE_dg):
    """epsilon = dE/dh from dE/dg through g = f(h):
    elementwise f: epsilon = dE/dg * f'(h), f' written from g;
    softmax: epsilon_k = g_k (dE/dg_k - sum_j dE/dg_j g_j)  (the softmax Jacobian applied to dE/dg)."""
    if activation == "linear":
        return dE_dg
    if activation == "softmax":
        return g * (dE_dg - np.sum(dE_dg * g, axis=1, keepdims=True))
    return dE_dg * kernels.activation_derivative(g, activation)


# --------------------------------------------------------------------------- layers
class Flatten(Layer):
    """(n, d1, d2, ...) -> (n, d1 * d2 * ...)"""

    def compute_output_shape(self, input_shape):
        return (int(np.prod(input_shape)),)

    def forward(self, g_prev, ctx):
        self._shape = g_prev.shape
        return g_prev.reshape(g_prev.shape[0], -1)

    def backward(self, dE_dg):
        self.grads = []
        return dE_dg.reshape(self._shape)


class Dense(Layer):
    """Fully connected layer.

    forward:   h = g_prev @ W + b,   g = f(h)
    backward:  epsilon = dE/dg * f'(h)      (f' written from g: sigmoid g(1-g), tanh 1-g², relu [h>0])
               dW = g_prev.T @ epsilon,  db = sum(epsilon),  dE/dg_prev = epsilon @ W.T

    With batch_norm=True the weighted sum is normalised before the activation (the lecture's
    second placement): h = BN(g_prev @ W + b), g = f(h).

    Shape: input (n, fan_in), output (n, units); kernel W (fan_in, units), bias b (units,).
    """

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", batch_norm=False, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int("units", units)
        self.activation = _activation_name(activation)
        if not isinstance(use_bias, bool):
            raise TypeError(f"use_bias must be True or False, got {use_bias!r}")
        self.use_bias = use_bias
        self.kernel_initializer = choice("kernel_initializer", kernel_initializer, INITIALIZERS)
        self.bias_initializer = choice("bias_initializer", bias_initializer, INITIALIZERS)
        if not isinstance(batch_norm, bool):
            raise TypeError(f"batch_norm must be True or False, got {batch_norm!r}")
        self.batch_norm = BatchNormalization(trainable=self.trainable) if batch_norm else None
        self.W = self.b = None
        self.kernel_mask = None

    @property
    def output_activation(self):
        return self.activation

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(f"Dense expects inputs of shape (n, features), got per-sample shape "
                             f"{input_shape}; put a Flatten layer before it")
        return (self.units,)

    def build(self, input_shape, dtype, rng):
        super().build(input_shape, dtype, rng)
        fan_in = input_shape[0]
        self.W = np.ascontiguousarray(INITIALIZERS[self.kernel_initializer](rng, (fan_in, self.units)),
                                      dtype=self.dtype)
        self.b = np.ascontiguousarray(INITIALIZERS[self.bias_initializer](rng, (self.units,)),
                                      dtype=self.dtype)
        if not self.use_bias:
            self.b[:] = 0                     # a constant zero bias: h = g_prev @ W
        if self.batch_norm is not None:
            self.batch_norm.build((self.units,), dtype, rng)
        return self.output_shape

    def _sublayers(self):
        return [self.batch_norm] if self.batch_norm is not None else []

    def _own_parameters(self):
        return [self.W, self.b] if self.use_bias else [self.W]

    def _parameters(self):
        return self._own_parameters() + (self.batch_norm._parameters() if self.batch_norm else [])

    def _state(self):
        return self.batch_norm._state() if self.batch_norm else []

    def trainable_mask(self):
        """W, b trained when this layer is trainable; the batch normalisation's entries when
        it is trainable too (set dense.trainable and both follow)."""
        inner = self.batch_norm.trainable_mask() if self.batch_norm else []
        return ([self.trainable] * len(self._own_parameters())
                + [m and self.trainable for m in inner])

    def weight_names(self):
        own = ["kernel", "bias"] if self.use_bias else ["kernel"]
        return own + (self.batch_norm.weight_names() if self.batch_norm else [])

    def forward(self, g_prev, ctx):
        self.g_prev = g_prev                                         # (n, fan_in)
        h = kernels.dense_forward(g_prev, self.W, self.b)            # h = g_prev W + b
        if self.batch_norm is not None:
            h = self.batch_norm.forward(h, ctx)
        self.h = h                                                   # (n, units)
        self.g = kernels.activation_forward(h, self.activation)      # g = f(h)
        return self.g

    def backward(self, dE_dg):
        return self.backward_from_h(_activation_backward(self.activation, self.g, dE_dg))

    def backward_from_h(self, epsilon):
        """From epsilon = dE/dh (given directly by a fused loss): the weight gradients and dE/dg_prev."""
        bn_grads = []
        if self.batch_norm is not None:
            epsilon = self.batch_norm.backward(epsilon)
            bn_grads = self.batch_norm.grads
        dW, db, dg_prev = kernels.dense_backward(self.g_prev, self.W, epsilon)
        if self.kernel_mask is not None:
            dW *= self.kernel_mask        # a pruned weight gets no gradient: it stays 0
        self.grads = ([dW, db] if self.use_bias else [dW]) + bn_grads
        return dg_prev

    def set_kernel_mask(self, mask):
        """Prune: W_ij = 0 and kept at 0 through training wherever mask_ij is False.

        The mask zeroes the kernel now and every kernel gradient after; a weight that is 0
        with gradient 0 stays exactly 0 under SGD, momentum, Adagrad, RMSprop and Adam (their
        updates are multiples of the gradient and of slot values that stay 0). mask=None
        removes the mask (the pruned weights stay 0 until trained)."""
        if not self.built:
            raise ValueError("set_kernel_mask: the layer has no kernel yet; build the model first")
        if mask is None:
            self.kernel_mask = None
            return
        mask = np.asarray(mask)
        if mask.shape != self.W.shape:
            raise ValueError(f"mask must have the kernel's shape {self.W.shape}, got {mask.shape}")
        if mask.dtype.kind not in "biuf" or not np.isin(mask, (0, 1)).all():
            raise ValueError("mask must hold only 0/1 or False/True")
        self.kernel_mask = mask.astype(self.dtype)
        self.W *= self.kernel_mask

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias, "kernel_initializer": self.kernel_initializer,
                "bias_initializer": self.bias_initializer,
                "batch_norm": self.batch_norm is not None}

    def __repr__(self):
        return f"Dense({self.units}, activation={self.activation!r})"


class Activation(Layer):
    """g = f(h) on its own: sigmoid, tanh, relu, softmax (over the last axis), linear."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = _activation_name(activation)

    @property
    def output_activation(self):
        return self.activation

    def forward(self, g_prev, ctx):
        self.h = g_prev.reshape(-1, g_prev.shape[-1])
        self.g = kernels.activation_forward(self.h, self.activation)
        return self.g.reshape(g_prev.shape)

    def backward(self, dE_dg):
        shape = dE_dg.shape
        return self.backward_from_h(
            _activation_backward(self.activation, self.g, dE_dg.reshape(self.g.shape))).reshape(shape)

    def backward_from_h(self, epsilon):
        self.grads = []
        return epsilon

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


class Dropout(Layer):
    """Drops each input with probability `rate` while training.

    mode="inverted" (Keras, default): training g = g_prev * mask / (1 - rate); inference g = g_prev.
    mode="scale_at_inference" (the textbook's): training g = g_prev * mask; inference
    g = g_prev * (1 - rate), i.e. the next layer's weights scaled by the keep ratio.
    Both give the same expected output; the mask is drawn from the model's seeded generator.
    """

    MODES = ("inverted", "scale_at_inference")

    def __init__(self, rate, mode="inverted", **kwargs):
        super().__init__(**kwargs)
        rate = positive_number("rate", rate, allow_zero=True)
        if rate >= 1:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = rate
        self.mode = choice("mode", mode, self.MODES)

    def forward(self, g_prev, ctx):
        keep = 1 - self.rate
        if not ctx.training or self.rate == 0:
            self.mask = None
            return g_prev * keep if self.mode == "scale_at_inference" else g_prev
        self.mask = (ctx.rng.random(g_prev.shape) >= self.rate).astype(g_prev.dtype)
        if self.mode == "inverted":
            self.mask /= keep
        return g_prev * self.mask

    def backward(self, dE_dg):
        self.grads = []
        if self.mask is None:
            return dE_dg * (1 - self.rate) if self.mode == "scale_at_inference" else dE_dg
        return dE_dg * self.mask

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "mode": self.mode}


class BatchNormalization(Layer):
    """Normalises each feature over the batch, then scales and shifts.

    training:  mu = mean(x),  var = mean((x - mu)^2),  xhat = (x - mu) / sqrt(var + epsilon_bn),
               y = gamma xhat + beta;  moving_mean <- momentum moving_mean + (1 - momentum) mu
               (and moving_variance likewise with var)
    inference: y = gamma (x - moving_mean) / sqrt(moving_variance + epsilon_bn) + beta
    backward (training):  dgamma = sum(dy xhat),  dbeta = sum(dy),
               dx = gamma / (n sqrt(var + epsilon_bn)) (n dy - sum(dy) - xhat sum(dy xhat))
    Keras defaults: momentum 0.99, epsilon 1e-3 (the Keras keyword `epsilon`; here `bn_epsilon`
    inside, since epsilon names the error term).
    trainable=False (frozen) runs in inference mode also in fit, as in Keras 3: gamma and beta
    stay, the moving statistics normalise and are not updated.
    """

    def __init__(self, momentum=0.99, epsilon=1e-3, center=True, scale=True, **kwargs):
        super().__init__(**kwargs)
        self.momentum = positive_number("momentum", momentum, allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.bn_epsilon = positive_number("epsilon", epsilon)
        for arg, v in (("center", center), ("scale", scale)):
            if not isinstance(v, bool):
                raise TypeError(f"{arg} must be True or False, got {v!r}")
        self.center, self.scale = center, scale

    def build(self, input_shape, dtype, rng):
        super().build(input_shape, dtype, rng)
        d = input_shape[-1]
        self.gamma = np.ones(d, self.dtype)
        self.beta = np.zeros(d, self.dtype)
        self.moving_mean = np.zeros(d, self.dtype)
        self.moving_variance = np.ones(d, self.dtype)
        return self.output_shape

    def _parameters(self):
        return ([self.gamma] if self.scale else []) + ([self.beta] if self.center else [])

    def _state(self):
        return [self.moving_mean, self.moving_variance]

    def weight_names(self):
        return ((["gamma"] if self.scale else []) + (["beta"] if self.center else [])
                + ["moving_mean", "moving_variance"])

    def forward(self, x, ctx):
        shape = x.shape
        x = x.reshape(-1, shape[-1])
        # a frozen layer runs in inference mode also while training (Keras 3): the moving
        # statistics normalise, and nothing updates them
        batch_statistics = ctx.training and not ctx.is_frozen(self)
        if batch_statistics:
            mu = x.mean(axis=0)
            var = x.var(axis=0)
            if ctx.update_state:
                m = self.momentum
                self.moving_mean[...] = m * self.moving_mean + (1 - m) * mu
                self.moving_variance[...] = m * self.moving_variance + (1 - m) * var
        else:
            mu, var = self.moving_mean, self.moving_variance
        self.training = batch_statistics            # what backward differentiates through
        self.inv_std = (1 / np.sqrt(var + self.bn_epsilon)).astype(x.dtype)
        self.xhat = (x - mu) * self.inv_std
        return np.ascontiguousarray(self.gamma * self.xhat + self.beta).reshape(shape)

    def backward(self, dy):
        shape = dy.shape
        dy = dy.reshape(-1, shape[-1])
        dgamma = np.sum(dy * self.xhat, axis=0)
        dbeta = np.sum(dy, axis=0)
        self.grads = ([dgamma] if self.scale else []) + ([dbeta] if self.center else [])
        if not self.training:                       # the statistics are constants
            return np.ascontiguousarray(dy * (self.gamma * self.inv_std)).reshape(shape)
        n = dy.shape[0]
        dx = (self.gamma * self.inv_std / n) * (n * dy - dbeta - self.xhat * dgamma)
        return np.ascontiguousarray(dx).reshape(shape)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "epsilon": self.bn_epsilon,
                "center": self.center, "scale": self.scale}


class Residual(Layer):
    """A skip connection around a block of layers:  h' = h + F(h).

    backward:  dE/dh = dE/dh' + dE/dh' through F   (the identity path carries the gradient
    unchanged, which is why deep residual networks keep learning).
    The block must give back the shape it receives.
    """

    def __init__(self, layers, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layers, Layer):
            layers = [layers]
        if not isinstance(layers, (list, tuple)) or not layers or \
                not all(isinstance(l, Layer) for l in layers):
            got = (type(layers).__name__ if not isinstance(layers, (list, tuple)) else
                   "an empty list" if not layers else
                   "a list holding " + ", ".join(sorted({type(l).__name__ for l in layers})))
            raise TypeError(f"Residual takes a layer or a non-empty list of layers, got {got}")
        self.layers = list(layers)
        if not self.trainable:                 # as the setter: a frozen block freezes its layers
            for layer in self.layers:
                layer.trainable = False

    def _sublayers(self):
        return self.layers

    def build(self, input_shape, dtype, rng):
        super().build(input_shape, dtype, rng)
        shape = tuple(input_shape)
        for layer in self.layers:
            shape = layer.build(shape, dtype, rng)
        if tuple(shape) != tuple(input_shape):
            raise ValueError(f"a Residual block must keep the shape: it receives {tuple(input_shape)} "
                             f"but its layers give {tuple(shape)}")
        return self.output_shape

    @property
    def weights(self):
        return [w for l in self.layers for w in l.weights]

    def weight_names(self):
        return [f"{i}/{n}" for i, l in enumerate(self.layers) for n in l.weight_names()]

    def forward(self, g_prev, ctx):
        out = g_prev
        for layer in self.layers:
            out = layer.forward(out, ctx)
        return g_prev + out                                       # h' = h + F(h)

    def backward(self, dE_dg):
        d = dE_dg
        for layer in reversed(self.layers):
            d = layer.backward(d)
        self.grads = [gr for l in self.layers for gr in l.aligned_grads()]
        return dE_dg + d

    def aligned_grads(self):
        return list(self.grads)

    def trainable_mask(self):
        return [m and self.trainable for l in self.layers for m in l.trainable_mask()]

    def get_config(self):
        return {**super().get_config(), "layers": [serialize(l) for l in self.layers]}

    def set_weight_values(self, values):
        i = 0
        for layer in self.layers:
            k = len(layer.weights)
            layer.set_weight_values(values[i:i + k])
            i += k


LAYER_CLASSES = {cls.__name__: cls for cls in
                 (Flatten, Dense, Activation, Dropout, BatchNormalization, Residual)}


def serialize(layer):
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def deserialize(spec):
    """A layer from {"class_name": ..., "config": {...}}; only refnn's own layer classes."""
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise ValueError(f"a layer spec must be a dict with class_name and config, got {spec!r}")
    cls = LAYER_CLASSES.get(spec["class_name"])
    if cls is None:
        raise ValueError(f"unknown layer class {spec['class_name']!r}; "
                         f"valid: {', '.join(sorted(LAYER_CLASSES))}")
    config = dict(spec["config"])
    if not isinstance(config, dict):
        raise ValueError("a layer config must be a dict")
    if "input_shape" in config and config["input_shape"] is not None:
        config["input_shape"] = tuple(config["input_shape"])
    if cls is Residual:
        config["layers"] = [deserialize(s) for s in config["layers"]]
    return cls(**config)
