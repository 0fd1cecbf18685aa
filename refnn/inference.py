"""Sequential's inference: evaluate and predict in batches, in inference mode, with the
callbacks' on_test_* and on_predict_* hooks; and the summary table."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import regularizers
from ._validate import NonFiniteError, flag, positive_int
from .callbacks import callback_list
from .layers import Context
from .training import verbosity
from .weighting import sample_weights, weighted_sum

if TYPE_CHECKING:
    from .callbacks import Callback
    from .layers import Layer
    from .model import Sequential


def evaluate_prepared(model: Sequential, x: NDArray[Any], y: NDArray[Any], batch_size: int,
                      callbacks: Sequence[Callback] = (),
                      w: NDArray[Any] | None = None) -> list[float]:
    """[loss, metric, ...] over checked (x, y), calling the callbacks' on_test_* hooks; with
    checked sample weights w (n,), the loss 1/n sum_i w_i l_i and the weighted metrics'
    sum_i w_i m_i / sum_i w_i (refnn.weighting)."""
    metrics = model._new_metrics()
    ctx = Context(training=False)
    loss_sum, names = 0.0, ["loss"] + model._metric_keys
    # softmax + CE, sigmoid + BCE: the loss from the logits, exactly as fit computes it
    # (docs/keras.md: Keras computes both from the clipped probabilities)
    last = model.layers[-1]
    fused = last.output_activation is not None and model.loss.fused(last.output_activation)
    penalty = regularizers.penalty(model)       # the regularizers', part of the loss (Keras)
    for cb in callbacks:
        cb.on_test_begin()
    for batch, start in enumerate(range(0, x.shape[0], batch_size)):
        for cb in callbacks:
            cb.on_test_batch_begin(batch)
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        wb = None if w is None else w[start:start + batch_size]
        yhat = model._forward(xb, ctx)
        per_sample = (model.loss.fused_gradient(yb, last.h)[0] if fused
                      else model.loss.per_sample(yb, yhat))
        loss_sum += weighted_sum(per_sample, wb)
        for m in metrics:
            m.update(yb, yhat, checked=True, sample_weight=wb if m.weighted else None)
        if callbacks:
            seen = min(start + batch_size, x.shape[0])
            logs = dict(zip(names, [loss_sum / seen + penalty] + [m.result() for m in metrics]))
            for cb in callbacks:
                cb.on_test_batch_end(batch, logs)
    values = [loss_sum / x.shape[0] + penalty] + [m.result() for m in metrics]
    for cb in callbacks:
        cb.on_test_end(dict(zip(names, values)))
    return values


def evaluate(model: Sequential, x: ArrayLike, y: ArrayLike, batch_size: int, verbose: int | str,
             return_dict: bool, callbacks: Callback | Sequence[Callback] | None,
             sample_weight: ArrayLike | None = None) -> float | list[float] | dict[str, float]:
    """Sequential.evaluate."""
    model._require_compiled("evaluate")
    batch_size = positive_int("batch_size", batch_size)
    verbose = verbosity(verbose)
    return_dict = flag("return_dict", return_dict)
    callbacks = callback_list(callbacks, model)
    x, y = model._prepare_xy(x, y)
    w = sample_weights(sample_weight, x.shape[0], scalar=False)
    with overflow_names("x"):
        values = evaluate_prepared(model, x, y, batch_size, callbacks, w)
    names = ["loss"] + model._metric_keys
    if verbose:
        print(" - ".join(f"{k}: {v:.4f}" for k, v in zip(names, values)))
    if return_dict:
        return dict(zip(names, values))
    return values if model._metric_keys else values[0]


def predict(model: Sequential, x: ArrayLike, batch_size: int, verbose: int | str,
            callbacks: Callback | Sequence[Callback] | None) -> NDArray[Any]:
    """Sequential.predict."""
    batch_size = positive_int("batch_size", batch_size)
    verbosity(verbose)
    callbacks = callback_list(callbacks, model)
    x = model._prepare_x(x)
    ctx = Context(training=False)
    out: list[NDArray[Any]] = []
    for cb in callbacks:
        cb.on_predict_begin()
    with overflow_names("x"):
        for batch, s in enumerate(range(0, x.shape[0], batch_size)):
            for cb in callbacks:
                cb.on_predict_batch_begin(batch)
            out.append(np.array(model._forward(x[s:s + batch_size], ctx)))
            for cb in callbacks:
                cb.on_predict_batch_end(batch, {"outputs": out[-1]})
    for cb in callbacks:
        cb.on_predict_end()
    return np.concatenate(out, axis=0)


def summary_text(model: Sequential) -> str:
    """Keras's summary table: one row per layer, then the parameter counts (a frozen layer's
    count as non-trainable)."""
    rows = [("Layer (type)", "Output Shape", "Param #")]
    for i, layer in enumerate(model.layers):
        assert layer.output_shape is not None           # summary needs a built model
        rows.append((f"{layer_label(i, layer)} ({type(layer).__name__})",
                     str((None,) + tuple(layer.output_shape)), f"{layer.count_params():,}"))
    widths = [max(len(r[c]) for r in rows) + 2 for c in range(3)]
    line = "-" * sum(widths)
    text = [f'Model: "{model.name}"', line,
            "".join(c.ljust(w) for c, w in zip(rows[0], widths)), "=" * sum(widths)]
    text += ["".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows[1:]]
    trainable = sum(w.size for w in model.trainable_weights)
    total = model.count_params()
    text += ["=" * sum(widths), f"Total params: {total:,}",
             f"Trainable params: {trainable:,}", f"Non-trainable params: {total - trainable:,}",
             line]
    return "\n".join(text)


def layer_label(i: int, layer: Layer) -> str:
    """The layer's name, or its class and position (dense_1), as summary() shows it."""
    return layer.name or f"{type(layer).__name__.lower()}_{i}"


@contextlib.contextmanager
def overflow_names(name: str) -> Iterator[None]:
    """Inside the network an overflow shows as a non-finite intermediate array; the user
    passed finite data, so say which argument drove the network out of range."""
    try:
        yield
    except NonFiniteError as error:
        raise ValueError(f"{name} drove the network out of floating-point range ({error}); "
                         f"scale the inputs or use dtype='float64'") from None
