"""Sequential's inference: evaluate and predict in batches, in inference mode, with the
callbacks' on_test_* and on_predict_* hooks; and the summary table.

A stack of Dense layers runs its forward pass compiled, on refnn's threads
(kernels.dense_stack_forward; the same numbers for any thread count); without callbacks,
over all the samples in one call. Other models run layer by layer."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import activations, kernels, model_data, regularizers
from ._validate import NonFiniteError, flag, positive_int
from .callbacks import callback_list
from .layers import Context
from .training import plain_dense_layers, verbosity
from .weighting import sample_weights, weighted_sum

if TYPE_CHECKING:
    from .callbacks import Callback
    from .layers import Layer
    from .model import Sequential


Stack = tuple[list[NDArray[Any]], list[str]]       # a Dense stack's weights and activations


def dense_stack(model: Sequential) -> Stack | None:
    """(weights, activations) when inference can take the compiled forward pass: Dense layers
    only (after an optional Flatten), with biases and without batch normalisation, each
    activation one the kernels compute (softmax at the output only); else None."""
    if not model.use_fast_path or not model.built:
        return None
    dense = plain_dense_layers(model)
    if dense is None:
        return None
    acts = [l.activation for l in dense]
    if not all(isinstance(a, str) and a in activations.NAMES for a in acts) \
            or "softmax" in acts[:-1]:
        return None
    return [w for l in dense for w in (l.W, l.b)], acts


def forward(model: Sequential, x: NDArray[Any], ctx: Context,
            stack: Stack | None = None) -> tuple[NDArray[Any], NDArray[Any] | None]:
    """(yhat, h_L) for checked x in inference mode: compiled for a Dense stack (stack =
    dense_stack(model)), else layer by layer (then h_L is the last layer's h, or None)."""
    if stack is not None and x.shape[0]:
        h, yhat = kernels.dense_stack_forward(stack[0], x.reshape(x.shape[0], -1), stack[1])
        return yhat, h
    yhat = model._forward(x, ctx)
    return yhat, getattr(model.layers[-1], "h", None)


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
    stack = dense_stack(model)
    whole = None
    if stack is not None and not callbacks:     # every sample in one compiled call
        whole = forward(model, x, ctx, stack)
    for cb in callbacks:
        cb.on_test_begin()
    for batch, start in enumerate(range(0, x.shape[0], batch_size)):
        for cb in callbacks:
            cb.on_test_batch_begin(batch)
        xb, yb = x[start:start + batch_size], y[start:start + batch_size]
        wb = None if w is None else w[start:start + batch_size]
        if whole is not None:
            yhat, h = whole[0][start:start + batch_size], whole[1]
            h = None if h is None else h[start:start + batch_size]
        else:
            yhat, h = forward(model, xb, ctx, stack)
        per_sample = (model.loss.fused_gradient(yb, h)[0] if fused and h is not None
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
    x, y = model_data.prepare_xy(model, x, y)
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
    x = model_data.prepare_x(model, x)
    ctx = Context(training=False)
    stack = dense_stack(model)
    if stack is not None and not callbacks:     # every sample in one compiled call
        with overflow_names("x"):
            return forward(model, x, ctx, stack)[0]
    out: list[NDArray[Any]] = []
    for cb in callbacks:
        cb.on_predict_begin()
    with overflow_names("x"):
        for batch, s in enumerate(range(0, x.shape[0], batch_size)):
            for cb in callbacks:
                cb.on_predict_batch_begin(batch)
            out.append(np.array(forward(model, x[s:s + batch_size], ctx, stack)[0]))
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
