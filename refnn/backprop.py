"""Sequential's backward pass, layer by layer, and what gradcheck reads from it: the loss and
its gradients, and where the loss has kinks.

    L = 1/n sum_i w_i l_i + penalties          (w_i = 1 without sample weights)

The output layer's error term comes from the loss: epsilon = dL/dh straight from the logits h
where the loss fuses with the output activation (softmax + CE, sigmoid + BCE, and a linear
output with from_logits), else dL/dyhat through the activation's derivative; each sample's row
is scaled by its weight w_i (refnn.weighting). Then every layer, from the output side inwards,
turns the error term it receives into its gradients and the error term of the layer below.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import model_data, regularizers
from .inference import overflow_names
from .layers import Context, leaves
from .weighting import sample_weights

if TYPE_CHECKING:
    from .model import Sequential


def backward(model: Sequential, y: NDArray[Any], yhat: NDArray[Any], w: NDArray[Any] | None = None
             ) -> tuple[NDArray[np.float64], list[NDArray[Any]]]:
    """(l_i (n,), the gradients of L in get_weights() order) after model._forward: y checked
    targets, yhat the outputs, w None or (n,) weights."""
    last = model.layers[-1]
    if last.output_activation is not None and model.loss.fused(last.output_activation):
        # softmax + CE, sigmoid + BCE: epsilon = dL/dh straight from the logits h
        per_sample, epsilon = model.loss.fused_gradient(y, last.h, w)
        d = last.backward_from_h(np.ascontiguousarray(epsilon, dtype=model.dtype))
    else:
        per_sample = model.loss.per_sample(y, yhat)
        d = last.backward(np.ascontiguousarray(model.loss.gradient(y, yhat, w),
                                               dtype=model.dtype))
    for layer in reversed(model.layers[:-1]):
        d = layer.backward(d)
    grads = [g for layer in model.layers for g in layer.aligned_grads()]
    return per_sample, grads


def _context(model: Sequential, training: bool = True) -> Context:
    """Training mode without touching the model's state: batch norm's moving statistics stay,
    dropout draws the same mask on every call (from the model's seed)."""
    return Context(training=training, rng=np.random.default_rng(model._fixed_seed),
                   update_state=False, frozen=model._frozen)


def loss_and_gradients(model: Sequential, X: ArrayLike, Y: ArrayLike, training: bool = True,
                       sample_weight: ArrayLike | None = None) -> tuple[float, list[NDArray[Any]]]:
    """Sequential.loss_and_gradients: (L, its gradients as arrays in get_weights() order)."""
    model._require_compiled("loss_and_gradients")
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {training!r}")
    X, Y = model_data.prepare_xy(model, X, Y, "X", "Y")
    w = sample_weights(sample_weight, X.shape[0], scalar=False)
    with overflow_names("X"):
        yhat = model._forward(X, _context(model, bool(training)))
        per_sample, grads = backward(model, Y, yhat, w)
    loss = regularizers.total_loss(model, per_sample, w)
    return loss, [np.array(g) for g in grads]


def kink_signature(model: Sequential, X: ArrayLike, Y: ArrayLike) -> list[NDArray[Any]]:
    """Sequential.kink_signature: relu's [h > 0] in every layer, then the loss's own kinks."""
    X, Y = model_data.prepare_xy(model, X, Y, "X", "Y")
    ctx = _context(model)
    signature = []
    g = X
    for layer in model.layers:
        g = layer.forward(g, ctx)
        for sub in leaves(layer):
            if getattr(sub, "activation", None) == "relu" and hasattr(sub, "h"):
                signature.append(np.asarray(sub.h) > 0)
    kinks = getattr(model.loss, "kink_signature", None)
    if kinks is not None:
        signature += list(kinks(Y, g))
    return signature
