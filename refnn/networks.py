"""A network for a prepared data set (refnn.preprocessing): hidden Dense layers, then the output
layer that the task and the loss ask for, and an optimizer by name.

    output_layer(data, loss="auto")   units, activation, loss, metrics, target transform
    build_model(data, layers, ...)    a Sequential of Dense layers: (model, loss, metrics, targets)
    make_optimizer(name, learning_rate=None)

The output layer follows the loss, pairs whose output error is the lecture's epsilon_k:
    regression                        1 linear unit, mse or huber, metric mae
    two classes, binary_crossentropy  1 sigmoid unit,  epsilon_k = yhat_k - y_k
    classes, (sparse_)categorical_crossentropy   k softmax units,  epsilon_k = yhat_k - y_k
    classes, mse or huber             k sigmoid units on one-hot targets (the lecture's squared
                                      error on sigmoid units)
`loss="auto"` picks binary_crossentropy for two classes, sparse_categorical_crossentropy for
more, mse for a regression.
"""
from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from . import activations
from ._validate import as_dtype, choice, flag, positive_int, rate, sizes
from .layers import Dense, Dropout
from .model import Sequential
from .optimizers import OPTIMIZERS
from .utils import to_categorical

if TYPE_CHECKING:
    from .layers import Layer
    from .optimizers import FullBatchOptimizer, Optimizer
    from .preprocessing import PreparedData

__all__ = ["output_layer", "build_model", "make_optimizer", "OutputLayer", "Network", "LOSSES"]

#: the loss names build_model accepts ("auto": picked from the prepared data's task)
LOSSES = ("auto", "sparse_categorical_crossentropy", "categorical_crossentropy",
          "binary_crossentropy", "mse", "huber")

OutputLayer = namedtuple("OutputLayer", "units activation loss metrics targets")
OutputLayer.__doc__ = """The output layer for a task: `units` Dense units with `activation`, the
loss name, the metrics, and `targets`, a function making the data's y what the loss expects
(class indices as they are, or one-hot)."""

Network = namedtuple("Network", "model loss metrics targets")
Network.__doc__ = """build_model's result: the Sequential, the loss name and metrics to compile it
with, and the function making the data's y what the loss expects."""


def _same(y: Any) -> Any:
    return y


def output_layer(data: PreparedData, loss: str = "auto") -> OutputLayer:
    """The OutputLayer for data (a refnn.preprocessing.PreparedData) and loss (see the module
    docstring). Raises ValueError naming the loss when it does not fit the task."""
    loss = choice("loss", loss, LOSSES)
    k = data.n_classes
    if data.task == "regression":
        if loss == "auto":
            loss = "mse"
        if loss not in ("mse", "huber"):
            raise ValueError(f"loss {loss!r} is for classes; a regression target takes 'mse' "
                             f"or 'huber'")
        return OutputLayer(1, "linear", loss, ["mae"], _same)
    if loss == "auto":
        loss = "binary_crossentropy" if k == 2 else "sparse_categorical_crossentropy"
    if loss == "binary_crossentropy":
        if k != 2:
            raise ValueError(f"loss 'binary_crossentropy' needs two classes; {data.name} has "
                             f"{k} (use 'sparse_categorical_crossentropy')")
        return OutputLayer(1, "sigmoid", loss, ["acc"], _same)
    if loss == "sparse_categorical_crossentropy":
        return OutputLayer(k, "softmax", loss, ["acc"], _same)
    # categorical cross-entropy on one-hot targets; mse/huber on one-hot targets with sigmoid
    # outputs (the lecture's squared error on sigmoid units)
    activation = "softmax" if loss == "categorical_crossentropy" else "sigmoid"
    return OutputLayer(k, activation, loss, ["acc"], lambda y: to_categorical(y, k, "float32"))


def build_model(data: PreparedData, layers: Sequence[int] = (32,), activation: str = "relu",
                loss: str = "auto", dropout: float = 0.0, batchnorm: bool = False, seed: int = 0,
                dtype: str = "float32") -> Network:
    """A Sequential for data (a refnn.preprocessing.PreparedData): one Dense layer of each
    size in `layers` with `activation` (each batch-normalised before its activation when
    batchnorm, and followed by Dropout(dropout) when dropout > 0), then the output layer the
    loss asks for (output_layer). Weights drawn with `seed`, computed in `dtype`.

    Returns a Network (model, loss, metrics, targets): compile the model with loss and
    metrics, and fit it on targets(data.y_train).
    """
    layers = sizes("layers", layers)
    activation = choice("activation", activation, activations.HIDDEN)
    dropout = rate("dropout", dropout)
    batchnorm = flag("batchnorm", batchnorm)
    seed = positive_int("seed", seed, allow_zero=True)
    dtype_name = as_dtype("dtype", dtype).name
    out = output_layer(data, loss)
    input_shape = tuple(data.x_train.shape[1:])
    stack: list[Layer] = []
    for i, n in enumerate(layers):
        kwargs: dict[str, Any] = {"input_shape": input_shape} if i == 0 else {}
        stack.append(Dense(n, activation=activation, batch_norm=batchnorm, **kwargs))
        if dropout > 0:
            stack.append(Dropout(dropout))
    kwargs = {} if layers else {"input_shape": input_shape}
    stack.append(Dense(out.units, activation=out.activation, **kwargs))
    model = Sequential(stack, seed=seed, dtype=dtype_name)
    return Network(model, out.loss, out.metrics, out.targets)


def make_optimizer(name: str,
                   learning_rate: float | None = None) -> Optimizer | FullBatchOptimizer:
    """The optimizer called `name` (refnn.optimizers.OPTIMIZERS), with learning_rate eta or,
    when None, its Keras default. lbfgs is full batch with its own line search: it takes no
    learning rate."""
    name = choice("optimizer", name, OPTIMIZERS)
    cls: Callable[..., Optimizer | FullBatchOptimizer] = OPTIMIZERS[name]   # a constructor
    if learning_rate is None:
        return cls()
    if name == "lbfgs":
        raise ValueError("learning_rate does not apply to 'lbfgs' (full batch, its own line "
                         "search); leave it out")
    return cls(learning_rate=learning_rate)
