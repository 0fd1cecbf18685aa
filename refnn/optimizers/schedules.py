"""Learning-rate schedules, Keras 3's (keras/src/optimizers/schedules/): a schedule is
accepted wherever a learning rate is, and gives the rate of each step from the number of steps
taken before it (the optimizer's iterations: 0 for the first step), so the compiled step runs
them as it runs a constant rate (the rule's scalars are formed in Python before each step).

    ExponentialDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)
        eta = eta_0 decay_rate^(step / decay_steps)          (staircase: floor the exponent)
    InverseTimeDecay(initial_learning_rate, decay_steps, decay_rate, staircase=False)
        eta = eta_0 / (1 + decay_rate step / decay_steps)     (staircase: floor the quotient)
    PiecewiseConstantDecay(boundaries, values)
        values[0] while step <= boundaries[0], values[i] while step <= boundaries[i], ...,
        values[-1] after boundaries[-1]
    PolynomialDecay(initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                    cycle=False)
        eta = (eta_0 - eta_end) (1 - s / d)^power + eta_end, s = min(step, d)
        (cycle: d = decay_steps * ceil(step / decay_steps), at least decay_steps)
    CosineDecay(initial_learning_rate, decay_steps, alpha=0.0, warmup_target=None,
                warmup_steps=0)
        after a linear warm-up from eta_0 to warmup_target over warmup_steps (if any):
        eta = eta_top ((1 - alpha) (1 + cos(pi s / decay_steps)) / 2 + alpha),
        s = min(step - warmup_steps, decay_steps)
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .._validate import flag, positive_int, positive_number

if TYPE_CHECKING:
    from typing_extensions import Self


class LearningRateSchedule:
    """schedule(step) -> the learning rate of the step after `step` steps; get_config()."""

    _keys: tuple[str, ...]          # the constructor's arguments, as get_config() names them

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self._keys}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Self:
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class ExponentialDecay(LearningRateSchedule):
    _keys = ("initial_learning_rate", "decay_steps", "decay_rate", "staircase")

    def __init__(self, initial_learning_rate: float, decay_steps: int, decay_rate: float,
                 staircase: bool = False) -> None:
        self.initial_learning_rate = positive_number("initial_learning_rate",
                                                     initial_learning_rate)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.decay_rate = positive_number("decay_rate", decay_rate)
        self.staircase = flag("staircase", staircase)

    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate * self.decay_rate ** p


class InverseTimeDecay(ExponentialDecay):
    def __call__(self, step: int) -> float:
        p = step / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)


class PiecewiseConstantDecay(LearningRateSchedule):
    _keys = ("boundaries", "values")

    def __init__(self, boundaries: Sequence[int], values: Sequence[float]) -> None:
        boundaries, values = list(boundaries), list(values)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"values must hold one more entry than boundaries, got "
                             f"{len(values)} values for {len(boundaries)} boundaries")
        self.boundaries = [positive_int(f"boundaries[{i}]", b, allow_zero=True)
                           for i, b in enumerate(boundaries)]
        if self.boundaries != sorted(self.boundaries):
            raise ValueError(f"boundaries must increase, got {self.boundaries}")
        self.values = [positive_number(f"values[{i}]", v) for i, v in enumerate(values)]

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]


class PolynomialDecay(LearningRateSchedule):
    _keys = ("initial_learning_rate", "decay_steps", "end_learning_rate", "power", "cycle")

    def __init__(self, initial_learning_rate: float, decay_steps: int,
                 end_learning_rate: float = 0.0001, power: float = 1.0,
                 cycle: bool = False) -> None:
        self.initial_learning_rate = positive_number("initial_learning_rate",
                                                     initial_learning_rate)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.end_learning_rate = positive_number("end_learning_rate", end_learning_rate,
                                                 allow_zero=True)
        self.power = positive_number("power", power)
        self.cycle = flag("cycle", cycle)

    def __call__(self, step: int) -> float:
        d = self.decay_steps
        if self.cycle:
            d = d * max(1, math.ceil(step / d))
        else:
            step = min(step, d)
        return ((self.initial_learning_rate - self.end_learning_rate)
                * (1 - step / d) ** self.power + self.end_learning_rate)


class CosineDecay(LearningRateSchedule):
    _keys = ("initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps")

    def __init__(self, initial_learning_rate: float, decay_steps: int, alpha: float = 0.0,
                 warmup_target: float | None = None, warmup_steps: int = 0) -> None:
        self.initial_learning_rate = positive_number("initial_learning_rate",
                                                     initial_learning_rate, allow_zero=True)
        self.decay_steps = positive_int("decay_steps", decay_steps)
        self.alpha = positive_number("alpha", alpha, allow_zero=True)
        self.warmup_target = (None if warmup_target is None
                              else positive_number("warmup_target", warmup_target))
        self.warmup_steps = positive_int("warmup_steps", warmup_steps, allow_zero=True)

    def __call__(self, step: int) -> float:
        top = self.initial_learning_rate
        if self.warmup_target is not None:
            if step < self.warmup_steps:
                return top + (self.warmup_target - top) * step / self.warmup_steps
            top, step = self.warmup_target, step - self.warmup_steps
        s = min(step, self.decay_steps)
        cosine = 0.5 * (1 + math.cos(math.pi * s / self.decay_steps))
        return top * ((1 - self.alpha) * cosine + self.alpha)


SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay,
                                           PiecewiseConstantDecay, PolynomialDecay,
                                           CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """Keras's form: {"class_name": ..., "config": {...}}."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any]) -> LearningRateSchedule:
    if not isinstance(config, dict) or config.get("class_name") not in SCHEDULES:
        raise ValueError(f"a learning-rate schedule config must be {{'class_name': one of "
                         f"{', '.join(SCHEDULES)}, 'config': {{...}}}}, got {config!r}")
    return SCHEDULES[config["class_name"]].from_config(dict(config.get("config", {})))
