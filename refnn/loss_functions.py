"""Keras's function forms of the losses: per-sample values (n,), as keras.losses.<name>(y_true,
y_pred) returns them. refnn.losses re-exports them."""
from .losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanSquaredError,
                     SparseCategoricalCrossentropy)


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error, (n,) (keras.losses.mean_squared_error)."""
    return MeanSquaredError().per_sample(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss, (n,) (keras.losses.huber)."""
    return Huber(delta).per_sample(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample binary cross-entropy, (n,) (keras.losses.binary_crossentropy)."""
    return BinaryCrossentropy(from_logits, label_smoothing).per_sample(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0):
    """Per-sample categorical cross-entropy, (n,) (keras.losses.categorical_crossentropy)."""
    return CategoricalCrossentropy(from_logits, label_smoothing).per_sample(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False):
    """Per-sample categorical cross-entropy with class indices y_true, (n,)
    (keras.losses.sparse_categorical_crossentropy)."""
    return SparseCategoricalCrossentropy(from_logits).per_sample(y_true, y_pred)
