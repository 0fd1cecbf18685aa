"""The optimizers' update rules on one array: one checked entry point (apply_rule) for every
rule of refnn/update_rules.py, and the per-array kernels of the lecture and Keras as thin
wrappers over it. The loops are src_c/_updates.pxd's, which the compiled step runs too."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._dispatch import _optimizers
from .._validate import as_array, choice
from ..update_rules import RULES, Rule
from ._arrays import _ready, _write_back, _writable_target, refuse_overlap


# w and the slot arrays (the optimizer's state: m, v, accumulator, ...) are updated in place; a
# non-contiguous one goes through a contiguous copy that is written back. w and grad must be
# finite (check_finite=False skips that O(n) scan, as in scipy.linalg, for a caller that has
# just checked them); the slots are state, not input: checked for type, dtype, shape and
# writability (refnn.optimizers checks restored state for finiteness). Returns w.

def _check_rules() -> None:
    """Each declared rule takes, in the compiled loops, the scalars and slots it declares."""
    for rule in RULES.values():
        compiled = _optimizers.rule_signature(rule.code)
        declared = (len(rule.scalars), rule.required, len(rule.slots) - rule.required)
        if compiled != declared or len(rule.slots) > _optimizers.SLOTS_MAX \
                or len(rule.scalars) > _optimizers.SCALARS_MAX:
            raise ImportError(f"update rule {rule.name!r} (code {rule.code}) declares "
                              f"(scalars, required slots, optional slots) {declared}, but the "
                              f"compiled rule takes {compiled}: rebuild, or fix the declaration")


_check_rules()


def _rule(rule: Rule | str) -> Rule:
    """A Rule, given as itself or by name."""
    if isinstance(rule, Rule):
        return rule
    return RULES[choice("rule", rule, RULES)]


def _update_arrays(w: NDArray[Any], grad: ArrayLike, check_finite: bool,
                   slots: dict[str, NDArray[Any] | None]
                   ) -> tuple[NDArray[Any], NDArray[Any], list[NDArray[Any] | None]]:
    """w (writable, float, finite), grad (w's dtype and shape, finite) and the slots {label:
    array or None} (writable, w's dtype and shape) as C-contiguous working arrays; no array
    updated in place may overlap another argument."""
    refuse_overlap({"w": w, **{n: s for n, s in slots.items() if s is not None}},
                   {"grad": grad})
    if not check_finite and _ready(w, w) and _ready(grad, w, writeable=False) and \
            all(s is None or _ready(s, w) for s in slots.values()):
        # already right: nothing to convert (_ready saw that grad is an ndarray)
        return w, cast("NDArray[Any]", grad), list(slots.values())
    work = _writable_target("w", w, None)
    work = as_array("w", work, ndim=w.ndim, allow_int=False, check_finite=check_finite)
    grad = as_array("grad", grad, dtype=work.dtype, allow_int=False, check_finite=check_finite)
    if grad.shape != work.shape:
        raise ValueError(f"grad must have the shape of w, {work.shape}, got {grad.shape}")
    works: list[NDArray[Any] | None] = []
    for name, s in slots.items():
        if s is not None:
            if not isinstance(s, np.ndarray):
                raise TypeError(f"{name} must be a NumPy array (it is updated in place), "
                                f"got {type(s).__name__}")
            if not s.flags.writeable:
                raise ValueError(f"{name} is read-only; it is updated in place")
            if s.dtype != work.dtype:
                raise TypeError(f"{name} must have dtype {work.dtype.name} like w, "
                                f"got {s.dtype.name}")
            if s.shape != work.shape:
                raise ValueError(f"{name} must have the shape of w, {work.shape}, got {s.shape}")
            s = np.ascontiguousarray(s)
        works.append(s)
    return work, grad, works


def _run(rule: Rule, w: NDArray[Any], grad: ArrayLike, slots: dict[str, NDArray[Any] | None],
         scalars: Sequence[float], check_finite: bool) -> bool:
    """The one call into the compiled rule: slots {label: array or None} in the rule's order.
    Returns whether every new value of w and its slots is finite."""
    scalars = rule.check_scalars(scalars)
    for (label, s), required in zip(slots.items(), range(len(slots))):
        if s is None and required < rule.required:
            raise ValueError(f"{label} is required by {rule.name}, got None")
    work, grad, works = _update_arrays(w, grad, check_finite, slots)
    flat = [None if s is None else s.reshape(-1) for s in works]
    flat += [None] * (_optimizers.SLOTS_MAX - len(flat))
    finite = _optimizers.apply_rule(rule.code, work.reshape(-1), grad.reshape(-1), *flat,
                                    np.array(scalars, dtype=np.float64))
    _write_back([w, *slots.values()], [work, *works])
    return finite


def _apply(rule: Rule, w: NDArray[Any], grad: ArrayLike, slots: dict[str, NDArray[Any] | None],
           scalars: Sequence[float], check_finite: bool) -> NDArray[Any]:
    """_run, returning w."""
    _run(rule, w, grad, slots, scalars, check_finite)
    return w


Slots = Sequence["NDArray[Any] | None"]


@overload
def apply_rule(rule: Rule | str, w: NDArray[Any], grad: ArrayLike, slots: Slots,
               scalars: Sequence[float], check_finite: bool = True,
               return_finite: Literal[False] = False) -> NDArray[Any]: ...
@overload
def apply_rule(rule: Rule | str, w: NDArray[Any], grad: ArrayLike, slots: Slots,
               scalars: Sequence[float], check_finite: bool = True, *,
               return_finite: Literal[True]) -> bool: ...
@overload
def apply_rule(rule: Rule | str, w: NDArray[Any], grad: ArrayLike, slots: Slots,
               scalars: Sequence[float], check_finite: bool = True,
               return_finite: bool = False) -> NDArray[Any] | bool: ...


def apply_rule(rule: Rule | str, w: NDArray[Any], grad: ArrayLike, slots: Slots,
               scalars: Sequence[float], check_finite: bool = True,
               return_finite: bool = False) -> NDArray[Any] | bool:
    """w and its slots updated in place by `rule` (a Rule of refnn/update_rules.py, or its
    name), the loop the compiled training step runs too. slots: the rule's slot arrays in its
    order (Rule.slots; None for an optional one that is off); scalars: its numbers in its order
    (Rule.scalars), each checked for its kind. Returns w; or (return_finite) whether every new
    value of w and of its slots is finite (an update that overflowed is left as it is)."""
    rule = _rule(rule)
    if not isinstance(slots, (list, tuple)) or not rule.required <= len(slots) <= len(rule.slots):
        raise ValueError(f"slots must hold {rule.required} to {len(rule.slots)} arrays for "
                         f"{rule.name} ({', '.join(rule.slots)}), got {slots!r}")
    finite = _run(rule, w, grad, dict(zip(rule.slots, slots)), scalars, check_finite)
    return finite if return_finite else w


# The per-array kernels of the lecture and of Keras's rules (thin wrappers: their argument names
# are the formulas' symbols).
_SGD, _ADAGRAD, _RMSPROP, _ADAM = (RULES[n] for n in ("sgd", "adagrad", "rmsprop", "adam"))


def sgd_update(w: NDArray[Any], grad: ArrayLike, eta: float) -> NDArray[Any]:
    """w <- w - eta * grad   (in place; returns w)"""
    return _apply(_SGD, w, grad, {"m": None}, (eta, 0.0, 0), True)


def sgd_momentum_update(w: NDArray[Any], grad: ArrayLike, m: NDArray[Any], eta: float,
                        momentum: float, nesterov: bool = False, check_finite: bool = True
                        ) -> NDArray[Any]:
    """m <- momentum m - eta grad;  w <- w + m   (nesterov: w <- w + momentum m - eta grad)"""
    if not isinstance(nesterov, (bool, np.bool_)):
        raise TypeError(f"nesterov must be True or False, got {type(nesterov).__name__}")
    if m is None:
        raise TypeError("m must be a NumPy array (the momentum slot), got None")
    return _apply(_SGD, w, grad, {"m": m}, (eta, momentum, int(nesterov)), check_finite)


def adagrad_update(w: NDArray[Any], grad: ArrayLike, accumulator: NDArray[Any], eta: float,
                   adagrad_epsilon: float, check_finite: bool = True) -> NDArray[Any]:
    """a <- a + grad^2;  w <- w - eta grad / sqrt(a + adagrad_epsilon)   (a the accumulator)"""
    return _apply(_ADAGRAD, w, grad, {"accumulator": accumulator}, (eta, adagrad_epsilon),
                  check_finite)


def rmsprop_update(w: NDArray[Any], grad: ArrayLike, velocity: NDArray[Any], eta: float,
                   rho: float, rmsprop_epsilon: float, average_grad: NDArray[Any] | None = None,
                   m: NDArray[Any] | None = None, momentum: float = 0.0,
                   check_finite: bool = True) -> NDArray[Any]:
    """v <- rho v + (1 - rho) grad^2;  (centered) a <- rho a + (1 - rho) grad
    step = eta grad / sqrt(v - a^2 + rmsprop_epsilon)   (average_grad None: no a^2)
    m <- momentum m + step;  w <- w - m                  (m None: w <- w - step)
    (v the velocity, a the average_grad)"""
    scalars = _RMSPROP.check_scalars((eta, rho, momentum, rmsprop_epsilon))
    if m is None and scalars[2] > 0:
        raise ValueError(f"momentum {momentum} needs the momentum slot m, got m=None")
    return _apply(_RMSPROP, w, grad, {"velocity": velocity, "m": m, "average_grad": average_grad},
                  scalars, check_finite)


def adam_update(w: NDArray[Any], grad: ArrayLike, m: NDArray[Any], v: NDArray[Any],
                alpha: float, beta_1: float, beta_2: float, adam_epsilon: float,
                v_hat: NDArray[Any] | None = None, check_finite: bool = True) -> NDArray[Any]:
    """m <- m + (grad - m)(1 - beta_1);  v <- v + (grad^2 - v)(1 - beta_2)
    (v_hat given) v_hat <- max(v_hat, v)
    w <- w - alpha m / (sqrt(v) + adam_epsilon)   (v_hat given: sqrt(v_hat));
    alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t), computed once per step by the caller"""
    return _apply(_ADAM, w, grad, {"m": m, "v": v, "v_hat": v_hat},
                  (alpha, beta_1, beta_2, adam_epsilon), check_finite)
