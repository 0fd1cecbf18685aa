"""A model's data checked and converted before any computation: x (a sample axis first, the
model's dtype, finite unless told otherwise, the per-sample shape it was built for; building
it on first sight) and y (the loss's targets for the model's outputs). fit, evaluate, predict
and the gradients take their data through here."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike, NDArray

from ._validate import as_array, check_same_samples

if TYPE_CHECKING:
    from .model import Sequential


def samples(model: Sequential, x: ArrayLike, name: str, check_finite: bool) -> NDArray[Any]:
    """x checked and converted to the model's dtype, with a sample axis first."""
    x = as_array(name, x, dtype=model.dtype, ndim=None, check_finite=check_finite)
    if x.ndim < 2:
        raise ValueError(f"{name} must have a sample axis first, shape (n_samples, ...), "
                         f"got shape {x.shape}")
    return x


def prepare_x(model: Sequential, x: ArrayLike, name: str = "x", check_finite: bool = True
              ) -> NDArray[Any]:
    """x checked and converted; the model built for its per-sample shape if it was not."""
    x = samples(model, x, name, check_finite)
    if not model.built:
        model.build(x.shape[1:])                  # builds the optimizer too, if compiled
    if tuple(x.shape[1:]) != tuple(model.input_shape):
        raise ValueError(f"{name} has per-sample shape {tuple(x.shape[1:])}, but the model "
                         f"expects {tuple(model.input_shape)}")
    return x


def prepare_xy(model: Sequential, x: ArrayLike, y: ArrayLike, xname: str = "x",
               yname: str = "y", check_finite: bool = True) -> tuple[NDArray[Any], NDArray[Any]]:
    """x and y checked and converted; check_finite=False leaves x's values unchecked (the
    fast path checks each row as it gathers the first epoch's batches)."""
    if not model.built:
        state = model._init_rng.bit_generator.state
        try:                                 # build for x's per-sample shape first
            model.build(samples(model, x, xname, check_finite=False).shape[1:])
            return prepare_xy(model, x, y, xname, yname, check_finite)
        except Exception:
            if model.built:
                model._unbuild(state)
            raise
    x = prepare_x(model, x, xname, check_finite)
    try:
        y = model.loss.targets(y, (x.shape[0],) + tuple(model.output_shape), model.dtype)
    except (ValueError, TypeError) as e:
        msg = str(e)
        if yname != "y":
            msg = (msg.replace("y ", f"{yname} ", 1) if msg.startswith("y ")
                   else f"{yname}: {msg}")
        raise type(e)(msg) from None
    check_same_samples(**{xname: x, yname: y})
    return x, y
