"""The optimizers' base classes.

Optimizer: a stochastic optimizer runs its declared update rule (refnn/update_rules.py: the
rule's code, its slots by name in order, its scalars by name in order) on every weight array
through the one checked kernel entry point (kernels.apply_rule), and hands the same rule and
slots to the compiled training step (fused_rule, fused_scalars). A subclass says only which
rule, which of its optional slots its options use with their initial values, and the step's
scalars from its hyper-parameters.

FullBatchOptimizer: minimises a function of the packed parameters (L-BFGS); no slots, no
apply.

Notation: w a parameter array, g = dE/dw its gradient, eta the learning rate
(Keras's learning_rate), t = iterations + 1 the number of the step being taken.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import kernels
from .._validate import FLOAT_DTYPES, TrainingDivergedError, as_array, positive_number
from . import schedules

if TYPE_CHECKING:
    from typing_extensions import Self

    from ..update_rules import Rule

# fun(x) -> (loss, dloss/dx) over the packed parameters: what a full-batch optimizer minimises
Objective = Callable[[NDArray[np.float64]], tuple[float, NDArray[np.float64]]]
# (shape, dtype) of each weight array an optimizer was built for
Specs = list[tuple[tuple[int, ...], np.dtype[Any]]]

def _check_weight_list(weights: object, name: str = "weights") -> Specs:
    """[(shape, dtype)] of a list of float32/float64 parameter arrays."""
    if not isinstance(weights, (list, tuple)):
        raise TypeError(f"{name} must be a list of NumPy arrays, got {type(weights).__name__}")
    specs: Specs = []
    for i, w in enumerate(weights):
        if not isinstance(w, np.ndarray):
            raise TypeError(f"{name}[{i}] must be a NumPy array (it is updated in place), "
                            f"got {type(w).__name__}")
        if w.dtype not in FLOAT_DTYPES:
            raise TypeError(f"{name}[{i}] must be float32 or float64, got {w.dtype.name}")
        specs.append((tuple(w.shape), w.dtype))
    return specs


def _describe(specs: Specs) -> str:
    return "[" + ", ".join(f"{dt.name}{list(shape)}" for shape, dt in specs) + "]"


class _Configurable:
    """name, iterations, and the constructor's arguments as a JSON-able config."""

    name: str = "optimizer"      # the registry name: get(name), config["name"]
    stochastic: bool = True      # False for full-batch optimizers
    iterations: int              # the number of steps taken

    @classmethod
    def _config_keys(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_config(self) -> dict[str, Any]:
        """The constructor's arguments (plus "name"), JSON-able (a schedule in Keras's form)."""
        config = {"name": self.name, **{k: getattr(self, k) for k in self._config_keys()}}
        rate = getattr(self, "_learning_rate", None)
        if isinstance(rate, schedules.LearningRateSchedule):
            config["learning_rate"] = schedules.serialize(rate)
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        """The optimizer get_config() described (a fresh one: no slots, iterations 0)."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        config = dict(config)
        name = config.pop("name", cls.name)
        if name != cls.name:
            raise ValueError(f"config describes optimizer {name!r}, not {cls.name!r}")
        valid = cls._config_keys()
        unknown = sorted(set(config) - set(valid))
        if unknown:
            raise ValueError(f"unknown {cls.__name__} config keys {unknown}; "
                             f"valid: {', '.join(valid)}")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"

    @staticmethod
    def _check_iterations(value: ArrayLike) -> int:
        a = np.asarray(value)
        if a.size != 1 or a.dtype.kind not in "iuf":
            raise ValueError(f"state[0] must be the iteration count (one integer), got {value!r}")
        n = a.reshape(()).item()
        if not float(n).is_integer() or n < 0:
            raise ValueError(f"state[0] must be an integer >= 0 (the iteration count), got {n!r}")
        return int(n)


class Optimizer(_Configurable):
    """Base class of the stochastic optimizers: iterations, slots, state and config, and the
    update: the rule declared by `rule` (refnn/update_rules.py).

    build(weights)         make the slots: one array per weight and slot name, in the weight's
                           dtype (a no-op once built for weights of the same shapes and dtypes)
    apply(weights, grads)  update every weights[i] in place from grads[i]; iterations += 1
    get_state()            [iterations, *slots] as arrays, for saving; set_state restores it
    get_config()           {"name": ..., hyper-parameters}: JSON-able; from_config inverts it
    fused_rule()           (rule name, slots per weight): what the compiled step runs
    fused_scalars()        the rule's scalars for the next step
    fused_options()        its clipping and weight decay for the next step (DenseTrainer.step)

    A subclass sets `rule` and defines _scalars() (and _slot_initials() when it has optional
    slots or initial values other than zero).
    """

    # the update rule: every subclass declares one (the base class, None, runs nothing)
    rule: Rule = None            # type: ignore[assignment]
    _nonnegative: tuple[str, ...] = ()   # slots of sums/averages of g^2 or |g|: never below 0
    _learning_rate: float | schedules.LearningRateSchedule      # set by the subclass

    def __init__(self, weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None) -> None:
        self.iterations = 0
        # slot name -> [one array per weight]   (Keras's slot names)
        self._slots: dict[str, list[NDArray[Any]]] = {}
        self._specs: Specs | None = None       # [(shape, dtype) per weight] once built
        # Keras 3's options of every optimizer (BaseOptimizer): at most one clipping
        self.weight_decay, self.clipnorm, self.clipvalue, self.global_clipnorm = (
            None if v is None else positive_number(name, v, allow_zero=name == "weight_decay")
            for name, v in (("weight_decay", weight_decay), ("clipnorm", clipnorm),
                            ("clipvalue", clipvalue), ("global_clipnorm", global_clipnorm)))
        if sum(v is not None for v in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise ValueError("only one of clipnorm, clipvalue and global_clipnorm can be set, "
                             "as in Keras")

    def _clip(self, grads: list[NDArray[Any]]) -> list[NDArray[Any]]:
        """Keras 3's clipping, before the update: clipvalue element-wise; clipnorm each array
        to norm <= clipnorm (g clipnorm / max(|g|, clipnorm)); global_clipnorm all arrays
        together to global norm <= global_clipnorm. Copies; the inputs stay as they are."""
        if self.clipvalue is not None:
            return [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            return [g * (self.clipnorm / max(float(np.linalg.norm(g)), self.clipnorm))
                    for g in grads]
        if self.global_clipnorm is not None:
            norm = float(np.sqrt(sum(np.sum(np.square(g, dtype=np.float64)) for g in grads)))
            scale = self.global_clipnorm / max(norm, self.global_clipnorm)
            return [g * g.dtype.type(scale) for g in grads]
        return grads

    def _decay(self, weights: Sequence[NDArray[Any]]) -> None:
        """Keras 3's decoupled weight decay, before the update: w <- w - w wd eta (every
        weight, in its dtype)."""
        if self.weight_decay:
            for w in weights:
                w -= w * w.dtype.type(self.weight_decay) * w.dtype.type(self.learning_rate)

    @property
    def learning_rate(self) -> float:
        """eta, the learning rate of the next step: a finite number > 0 (may be changed
        between steps), or a schedule's value for the steps taken so far (iterations)."""
        try:
            rate = self._learning_rate
        except AttributeError:
            raise AttributeError(f"{type(self).__name__} has no learning_rate") from None
        if isinstance(rate, schedules.LearningRateSchedule):
            return positive_number("the schedule's learning_rate", rate(self.iterations))
        return rate

    @learning_rate.setter
    def learning_rate(self, value: float | schedules.LearningRateSchedule) -> None:
        if isinstance(getattr(self, "_learning_rate", None), schedules.LearningRateSchedule):
            raise TypeError("this optimizer's learning rate is a schedule (refnn.optimizers."
                            "schedules): it is not settable, as in Keras")
        if isinstance(value, schedules.LearningRateSchedule):
            self._learning_rate = value
        else:
            self._learning_rate = positive_number("learning_rate", value)

    # -------------------------------------------------------------- the declaration
    def _slot_initials(self) -> dict[str, float]:
        """{slot name: initial value} of the slots these options use (default: the rule's
        required slots, from zero)."""
        return {name: 0.0 for name in self.rule.slots[:self.rule.required]}

    def _slot_specs(self) -> list[tuple[str, float]]:
        """[(slot name, initial value)] of the slots in use, in the rule's (Keras's) order."""
        initials = self._slot_initials()
        return [(name, initials[name]) for name in self.rule.slots if name in initials]

    def _scalars(self) -> dict[str, float]:
        """{scalar name: value} of the rule's scalars for the step t = iterations + 1."""
        raise NotImplementedError

    def fused_rule(self) -> tuple[str, list[tuple[NDArray[Any] | None, ...]]] | None:
        """(rule, slots) for the compiled step (kernels.DenseTrainer.set_update), which then runs
        the update itself, with fused_options(); None makes the step call apply() instead (a
        subclass whose update is not its declared rule alone says so by returning None)."""
        return self._rule_and_slots()

    def fused_options(self) -> dict[str, tuple[Any, Any]]:
        """{"clip": (kind, c), "decay": (wd, eta)} for DenseTrainer.step: what apply() does
        before the rule (_clip, _decay), for the next step; {} when neither is set."""
        options: dict[str, tuple[Any, Any]] = {}
        for kind, value in (("value", self.clipvalue), ("norm", self.clipnorm),
                            ("global_norm", self.global_clipnorm)):
            if value is not None:
                options["clip"] = (kind, value)
        if self.weight_decay:
            options["decay"] = (self.weight_decay, self.learning_rate)
        return options

    def _rule_and_slots(self) -> tuple[str, list[tuple[NDArray[Any] | None, ...]]]:
        """(rule, slots): the rule's name (refnn/update_rules.py) and, per weight, its slot
        arrays in the rule's order (None for an optional slot that is off): what
        kernels.apply_rule and the compiled step take. Needs build() first."""
        if self._specs is None:                         # not built
            raise ValueError(f"build this {type(self).__name__} first: build(weights)")
        return self.rule.name, [tuple(self._slots[name][i] if name in self._slots else None
                                      for name in self.rule.slots)
                                for i in range(len(self._specs))]

    def fused_scalars(self) -> tuple[float, ...]:
        """The rule's numbers for the next step (t = iterations + 1), in the rule's order."""
        values = self._scalars()
        return tuple(values[name] for name, _ in self.rule.scalars)

    # -------------------------------------------------------------- slots
    @property
    def built(self) -> bool:
        return self._specs is not None

    @property
    def slots(self) -> dict[str, list[NDArray[Any]]]:
        """{slot name: [one array per weight]}: the live state (read it, do not replace it)."""
        return {name: list(arrays) for name, arrays in self._slots.items()}

    def build(self, weights: Sequence[NDArray[Any]]) -> None:
        """Create the slots for these weights (zeros, or Keras's initial value) in their dtype."""
        specs = _check_weight_list(weights)
        if self._specs is not None:                     # built
            if specs != self._specs:
                raise ValueError(f"this {type(self).__name__} was built for weights "
                                 f"{_describe(self._specs)}, got {_describe(specs)}; "
                                 f"use a new optimizer for another model")
            return
        # each slot at its own place in the page, away from w and its gradient (see
        # kernels.staggered_like): the fused update reads them all in one loop
        self._slots = {name: [kernels.staggered_like(w, 2 + j, initial)
                              for w in weights]
                       for j, (name, initial) in enumerate(self._slot_specs())}
        self._specs = specs

    def _check_apply(self, weights: Sequence[NDArray[Any]],
                     grads: Sequence[ArrayLike]) -> list[NDArray[Any]]:
        """Everything apply() needs, checked before anything changes; returns the grads as
        C-contiguous arrays of their weight's dtype."""
        specs = _check_weight_list(weights)
        if not isinstance(grads, (list, tuple)):
            raise TypeError(f"grads must be a list of arrays, got {type(grads).__name__}")
        if len(grads) != len(weights):
            raise ValueError(f"grads has {len(grads)} arrays but weights has {len(weights)}")
        if self._specs is not None and specs != self._specs:         # built for others
            raise ValueError(f"this {type(self).__name__} was built for weights "
                             f"{_describe(self._specs)}, got {_describe(specs)}")
        checked: list[NDArray[Any]] = []
        for i, (w, g) in enumerate(zip(weights, grads)):
            if not w.flags.writeable:
                raise ValueError(f"weights[{i}] is read-only; it is updated in place")
            as_array(f"weights[{i}]", w, ndim=w.ndim, allow_int=False, contiguous=False)
            g = as_array(f"grads[{i}]", g, dtype=w.dtype, ndim=w.ndim, allow_int=False)
            if g.shape != w.shape:
                raise ValueError(f"grads[{i}] must have the shape of weights[{i}], {w.shape}, "
                                 f"got {g.shape}")
            checked.append(g)
        return checked

    def apply(self, weights: Sequence[NDArray[Any]], grads: Sequence[NDArray[Any]]) -> None:
        """w <- update(w, g) in place for every (weights[i], grads[i]); iterations += 1.

        Everything is checked first: a failed apply leaves the weights, the slots and
        iterations as they were. Each array then goes through kernels.apply_rule, the checked
        entry point of the compiled rules (told to skip the finiteness scan done here). An
        update that would leave a weight or a slot NaN or infinite (overflow: the learning rate
        is too large for these gradients) raises TrainingDivergedError, and everything is put
        back as it was."""
        before = [w.copy() for w in weights], self.get_state() if self.built else None
        bad = self._apply(weights, grads)
        if bad is not None:
            for w, saved in zip(weights, before[0]):
                w[...] = saved
            if before[1] is None:
                self._slots, self._specs = {}, None
            else:
                self.set_state(before[1])
            raise TrainingDivergedError(
                f"the update of weights[{bad}] by {type(self).__name__} would leave NaN or "
                f"infinity in it or its slots; nothing was changed (try a smaller learning "
                f"rate)")

    def _apply(self, weights: Sequence[NDArray[Any]], grads: Sequence[NDArray[Any]]) -> int | None:
        """apply() without putting anything back: returns None, or the index of the first
        array whose update left a value that is not finite (every array is updated all the
        same, and iterations counts the step)."""
        grads = self._clip(self._check_apply(weights, grads))
        self.build(weights)
        rule, slots = self._rule_and_slots()
        scalars = self.fused_scalars()
        self._decay(weights)
        bad = [i for i, (w, g, own) in enumerate(zip(weights, grads, slots))
               if not kernels.apply_rule(rule, w, g, own, scalars, check_finite=False,
                                         return_finite=True)]
        self.iterations += 1
        return bad[0] if bad else None

    # -------------------------------------------------------------- state
    def get_state(self) -> list[NDArray[Any]]:
        """[iterations (0-d int64), then the slots: slot name by slot name (Keras's order),
        one array per weight]. Copies: changing them does not change the optimizer."""
        state = [np.array(self.iterations, dtype=np.int64)]
        for name, _ in self._slot_specs():
            state.extend(a.copy() for a in self._slots.get(name, []))
        return state

    def set_state(self, state: Sequence[NDArray[Any]]) -> None:
        """Restore what get_state() returned. Checked first (count, shapes, dtypes, finiteness):
        a refused state changes nothing. A built optimizer's slots are overwritten in place (as
        Keras assigns its variables), so whatever holds them sees the restored state; an
        optimizer not built yet takes the weights' shapes and dtypes from the slots."""
        if not isinstance(state, (list, tuple)):
            raise TypeError(f"state must be a list of arrays, got {type(state).__name__}")
        if len(state) == 0:
            raise ValueError("state must start with the iteration count, got an empty list")
        iterations = self._check_iterations(state[0])
        names = [name for name, _ in self._slot_specs()]
        arrays = list(state[1:])
        if self._specs is not None:                     # built
            specs = self._specs
        elif not names:
            specs = []
        else:
            if len(arrays) % len(names):
                raise ValueError(f"state must hold the iteration count and {len(names)} slot "
                                 f"arrays per weight ({', '.join(names)}), got {len(state)} "
                                 f"arrays")
            specs = _check_weight_list(arrays[:len(arrays) // len(names)], "state slots")
        expected = len(names) * len(specs)
        if len(arrays) != expected:
            raise ValueError(f"state must hold 1 + {expected} arrays (the iteration count, then "
                             f"{', '.join(names) or 'no slots'} for {len(specs)} weights), "
                             f"got {len(state)}")
        slots: dict[str, list[NDArray[Any]]] = {}
        for k, name in enumerate(names):
            slots[name] = []
            for i, (shape, dtype) in enumerate(specs):
                label = f"state[{1 + k * len(specs) + i}] ({name} of weight {i})"
                a = arrays[k * len(specs) + i]
                if not isinstance(a, np.ndarray):
                    raise TypeError(f"{label} must be a NumPy array, got {type(a).__name__}")
                if a.dtype != dtype:
                    raise TypeError(f"{label} must be {dtype.name}, got {a.dtype.name}")
                if tuple(a.shape) != shape:
                    raise ValueError(f"{label} must have shape {shape}, got {a.shape}")
                a = as_array(label, a, dtype=dtype, ndim=len(shape), allow_int=False)
                if name in self._nonnegative and (a < 0).any():
                    raise ValueError(f"{label} must be >= 0 (an average of g^2), "
                                     f"got {a.min()}")
                slots[name].append(a.copy())
        if self.built:
            for name in names:                  # in place: a compiled training step holds them
                for live, new in zip(self._slots[name], slots[name]):
                    live[...] = new
        else:
            self._slots = slots
        self.iterations = iterations
        if not self.built and names:
            self._specs = specs


class FullBatchOptimizer(_Configurable):
    """Base class of the full-batch optimizers: minimize(fun, x0) over the packed parameters,
    with the loss and gradient of the whole data set; no slots, no per-step apply. The state
    is the iteration count alone."""

    stochastic = False

    def __init__(self) -> None:
        self.iterations = 0

    built = True                 # nothing to build: the model may call build() all the same
    slots: dict[str, list[NDArray[Any]]] = {}

    def build(self, weights: Sequence[NDArray[Any]]) -> None:
        """Nothing to make (no slots); kept so that a model treats every optimizer alike."""

    def minimize(self, fun: Objective, x0: ArrayLike) -> tuple[NDArray[np.float64], dict[str, Any]]:
        raise NotImplementedError

    def get_state(self) -> list[NDArray[Any]]:
        """[iterations (0-d int64)]."""
        return [np.array(self.iterations, dtype=np.int64)]

    def set_state(self, state: Sequence[NDArray[Any]]) -> None:
        """Restore what get_state() returned."""
        if not isinstance(state, (list, tuple)) or len(state) != 1:
            raise ValueError(f"state must be [iterations] for {type(self).__name__}, "
                             f"got {state!r}")
        self.iterations = self._check_iterations(state[0])
