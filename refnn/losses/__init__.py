"""Loss functions, as Keras 3 defines them.

Each loss is a value per sample, then the mean over the n samples (Keras's reduction
"sum_over_batch_size"). With r = yhat - y and k outputs per sample:

    mean_squared_error / mse          l_i = 1/k sum_k r_k^2
    huber (delta = 1.0)               l_i = 1/k sum_k { r^2 / 2              if |r| <= delta
                                                      { delta |r| - delta^2/2 otherwise
    binary_crossentropy               l_i = 1/k sum_k -y_k log p_k - (1 - y_k) log(1 - p_k)
    categorical_crossentropy          l_i = -sum_k y_k log p_k
    sparse_categorical_crossentropy   the same with y the class index (one-hot inside)

                                      L = 1/n sum_i w_i l_i

with sample weights w_i (loss(y, yhat, sample_weight=w); 1 without them), divided by n, not by
sum_i w_i, as Keras's "sum_over_batch_size" (refnn.weighting).

From probabilities the cross-entropies clip as Keras does, with Keras's epsilon 1e-7 and the
bounds formed in the predictions' dtype (in float32 1 - 1e-7 is 1 - 1.19e-7):
binary p = clip(yhat, 1e-7, 1 - 1e-7); categorical first normalises each row,
p = clip(yhat / sum_k yhat_k, 1e-7, 1 - 1e-7). The clipped loss is flat where the clip is
active, so its gradient is zero there.

Fused with the output activation, the cross-entropies are computed from the logits h of the
output layer by the C kernels (refnn.kernels), exactly, with no clipping:

    softmax + categorical CE   epsilon = dL/dh = w (yhat - y) / n
    sigmoid + binary CE        epsilon = dL/dh = w (yhat - y) / (n k)   (Keras averages over k)

Each class declares these pairs itself: `fused_activation` (the output activation whose logits
give epsilon directly) and `compiled_step` (the loss kind of the compiled training step,
kernels.DenseTrainer); `compiled_kind(activation)` reads both, for fit.

From probabilities every loss computes in float64; gradients come back in the dtype of yhat
(the fused ones in the dtype of h, computed by the kernel in that dtype).
"""

from __future__ import annotations

from typing import Any

from .base import EPSILON, Huber, Loss, MeanSquaredError
from .crossentropy import (BinaryCrossentropy, CategoricalCrossentropy,
                           SparseCategoricalCrossentropy)

# Keras's function forms and the look-up by name (refnn/loss_functions.py; see __getattr__)
FUNCTION_FORMS = ("binary_crossentropy", "categorical_crossentropy", "deserialize", "get",
                  "huber", "mean_squared_error", "sparse_categorical_crossentropy")
__all__ = ["Loss", "MeanSquaredError", "Huber", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", *FUNCTION_FORMS,
           "EPSILON"]

for _cls in (Loss, MeanSquaredError, Huber, BinaryCrossentropy, CategoricalCrossentropy,
             SparseCategoricalCrossentropy):
    _cls.__module__ = __name__           # the public path, in reprs and pickles
del _cls

# Keras's function forms and the look-up by name are in their own module, which imports the
# classes from here: refnn.losses.<name> reaches them on first use (PEP 562), so that either
# module can be imported first


def __getattr__(name: str) -> Any:
    if name in FUNCTION_FORMS:
        from .. import loss_functions
        return getattr(loss_functions, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
