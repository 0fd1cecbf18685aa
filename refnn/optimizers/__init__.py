"""Optimizers: SGD (momentum, Nesterov), Adagrad, RMSprop, Adam (AMSGrad), Nadam, Adamax, and
full-batch L-BFGS.

Names, defaults and update rules are Keras 3's, so a model trained here follows the same
trajectory as in Keras. The lecture's rule is plain SGD, w' = w - eta dE/dw; the others change
the step per parameter from running averages of past gradients (the optimizer's "slots").

Each stochastic optimizer declares its update rule once (refnn/update_rules.py: code, slots,
scalars); the base class (refnn/optimizers/base.py) derives building, state, apply and the
compiled step's fused rule from it. A class here says only which rule, which optional slots its
options use, and the step's scalars from its hyper-parameters (computed once per step, e.g.
Adam's bias corrections).

Notation: w a parameter array, g = dE/dw its gradient, eta the learning rate
(Keras's learning_rate), t = iterations + 1 the number of the step being taken.
"""
from __future__ import annotations

import math
from typing import Any

from .._validate import choice, flag, positive_number
from ..update_rules import RULES, fraction
from .base import FullBatchOptimizer, Optimizer
from .lbfgs import LBFGS
from .schedules import LearningRateSchedule


class SGD(Optimizer):
    """v <- momentum * v - eta * grad;  w <- w + v     (momentum = 0: w <- w - eta * grad)

    Keras 3's SGD. With momentum, its slot (the variable "momentum": m in Keras's code, the
    velocity v of the line above in Keras's docs) follows
        m <- momentum * m - eta * g,    w <- w + m,
    and with nesterov=True the step looks ahead along the new m:
        w <- w + momentum * m - eta * g.

    The lecture writes momentum as  v_t = gamma v_{t-1} + eta dE/dw,  w' = w - v_t,  with its v
    pointing uphill. It is the same update: put v = -m. Then -m_t = gamma (-m_{t-1}) + eta g,
    i.e. m_t = gamma m_{t-1} - eta g, and w' = w - v_t = w + m_t. Both start from zero, so they
    move the weights through the same points; only the stored slot has the opposite sign
    (get_state holds Keras's m). gamma is `momentum`, eta is `learning_rate`.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.01
        momentum       gamma in [0, 1), default 0.0 (plain SGD, no slot)
        nesterov       Nesterov momentum, default False
    """

    name = "sgd"
    rule = RULES["sgd"]

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None) -> None:
        super().__init__(weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.learning_rate = learning_rate
        self.momentum = fraction("momentum", momentum)
        self.nesterov = flag("nesterov", nesterov)

    def _slot_initials(self) -> dict[str, float]:
        return {"momentum": 0.0} if self.momentum > 0 else {}

    def _scalars(self) -> dict[str, float]:
        return {"eta": self.learning_rate, "momentum": self.momentum,
                "nesterov": int(self.nesterov and self.momentum > 0)}


class Adagrad(Optimizer):
    """a <- a + g^2;   w <- w - eta * g / sqrt(a + adagrad_epsilon)

    Keras 3's Adagrad (Duchi et al., 2011): each parameter's step shrinks with the sum of its
    squared gradients. The accumulator a starts at initial_accumulator_value; the stability
    constant (the keyword `epsilon`) sits inside the square root, as in Keras.

    Args (Keras's names and defaults):
        learning_rate              eta > 0, default 0.001
        initial_accumulator_value  >= 0, default 0.1
        epsilon                    > 0, default 1e-7 (adagrad_epsilon in the formulas)
    """

    name = "adagrad"
    rule = RULES["adagrad"]
    _nonnegative = ("accumulator",)

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None) -> None:
        super().__init__(weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.learning_rate = learning_rate
        self.initial_accumulator_value = positive_number(
            "initial_accumulator_value", initial_accumulator_value, allow_zero=True)
        self.epsilon = positive_number("epsilon", epsilon)

    def _slot_initials(self) -> dict[str, float]:
        return {"accumulator": self.initial_accumulator_value}

    def _scalars(self) -> dict[str, float]:
        return {"eta": self.learning_rate, "adagrad_epsilon": self.epsilon}


class RMSprop(Optimizer):
    """v <- rho v + (1 - rho) g^2;   w <- w - eta * g / sqrt(v + rmsprop_epsilon)

    Keras 3's RMSprop (Hinton, 2012): divide the step by the root of a running mean square.
    centered=True also keeps the running mean a of g and divides by
    sqrt(v - a^2 + rmsprop_epsilon), an estimate of the gradient's standard deviation.
    momentum > 0 accumulates the steps:  m <- momentum m + eta g / sqrt(...),  w <- w - m.
    The stability constant (the keyword `epsilon`) sits inside the square root, as in Keras.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.001
        rho            decay of the running averages, in [0, 1), default 0.9
        momentum       in [0, 1), default 0.0 (no momentum slot)
        epsilon        > 0, default 1e-7 (rmsprop_epsilon in the formulas)
        centered       default False
    """

    name = "rmsprop"
    rule = RULES["rmsprop"]
    _nonnegative = ("velocity",)

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None) -> None:
        super().__init__(weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.learning_rate = learning_rate
        self.rho = fraction("rho", rho)
        self.momentum = fraction("momentum", momentum)
        self.epsilon = positive_number("epsilon", epsilon)
        self.centered = flag("centered", centered)

    def _slot_initials(self) -> dict[str, float]:
        initials = {"velocity": 0.0}
        if self.momentum > 0:
            initials["momentum"] = 0.0
        if self.centered:
            initials["average_gradient"] = 0.0
        return initials

    def _scalars(self) -> dict[str, float]:
        return {"eta": self.learning_rate, "rho": self.rho, "momentum": self.momentum,
                "rmsprop_epsilon": self.epsilon}


class Adam(Optimizer):
    """m <- beta_1 m + (1 - beta_1) g;  v <- beta_2 v + (1 - beta_2) g^2;
    w <- w - alpha m / (sqrt(v) + adam_epsilon),   alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t)

    Keras 3's Adam (Kingma and Ba, 2014) in the paper's efficient form (end of its Section 2):
    alpha carries both bias corrections, so adam_epsilon (the keyword `epsilon`) is the paper's
    "epsilon hat", added to sqrt(v) outside the root. This equals the textbook form
        w <- w - eta m_hat / (sqrt(v_hat) + adam_epsilon / sqrt(1 - beta_2^t)),
        m_hat = m / (1 - beta_1^t),  v_hat = v / (1 - beta_2^t).
    amsgrad=True (Reddi et al., 2018) divides by the running maximum of v instead of v.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.001
        beta_1         decay of the first moment, in [0, 1), default 0.9
        beta_2         decay of the second moment, in [0, 1), default 0.999
        epsilon        > 0, default 1e-7 (adam_epsilon in the formulas)
        amsgrad        default False
    """

    name = "adam"
    rule = RULES["adam"]
    _nonnegative = ("velocity", "velocity_hat")

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False,
                 weight_decay: float | None = None, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None) -> None:
        super().__init__(weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.learning_rate = learning_rate
        self.beta_1 = fraction("beta_1", beta_1)
        self.beta_2 = fraction("beta_2", beta_2)
        self.epsilon = positive_number("epsilon", epsilon)
        self.amsgrad = flag("amsgrad", amsgrad)

    def _slot_initials(self) -> dict[str, float]:
        initials = {"momentum": 0.0, "velocity": 0.0}
        if self.amsgrad:
            initials["velocity_hat"] = 0.0
        return initials

    def _scalars(self) -> dict[str, float]:
        t = self.iterations + 1
        # alpha = eta sqrt(1 - beta_2^t) / (1 - beta_1^t): both bias corrections
        alpha = self.learning_rate * math.sqrt(1 - self.beta_2 ** t) / (1 - self.beta_1 ** t)
        return {"alpha": alpha, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "adam_epsilon": self.epsilon}


class Nadam(Optimizer):
    """m <- beta_1 m + (1 - beta_1) g;  v <- beta_2 v + (1 - beta_2) g^2;
    w <- w - eta m_hat / (sqrt(v_hat) + nadam_epsilon),
    m_hat = u_{t+1} m / (1 - prod_{i<=t+1} u_i) + (1 - u_t) g / (1 - prod_{i<=t} u_i),
    v_hat = v / (1 - beta_2^t),   u_t = beta_1 (1 - 0.5 * 0.96^t)

    Keras 3's Nadam (Dozat, 2016): Adam whose first moment looks one step ahead, as Nesterov
    momentum does, with the momentum schedule u_t. The products of the u_i (Keras's variable
    _u_product) follow from t, so the state is iterations and the slots alone.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.001
        beta_1         decay of the first moment, in [0, 1), default 0.9
        beta_2         decay of the second moment, in [0, 1), default 0.999
        epsilon        > 0, default 1e-7 (nadam_epsilon in the formulas)
    """

    name = "nadam"
    rule = RULES["nadam"]
    _nonnegative = ("velocity",)

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None) -> None:
        super().__init__(weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.learning_rate = learning_rate
        self.beta_1 = fraction("beta_1", beta_1)
        self.beta_2 = fraction("beta_2", beta_2)
        self.epsilon = positive_number("epsilon", epsilon)
        self._product = (0, 1.0)         # (t, prod_{i<=t} u_i), extended step by step

    def _u(self, t):
        """u_t = beta_1 (1 - 0.5 * 0.96^t): the momentum schedule"""
        return self.beta_1 * (1 - 0.5 * 0.96 ** t)

    def _u_product(self, t):
        """prod_{i<=t} u_i"""
        start, product = self._product
        if start > t:
            start, product = 0, 1.0
        for i in range(start + 1, t + 1):
            product *= self._u(i)
        self._product = (t, product)
        return product

    def _scalars(self) -> dict[str, float]:
        t = self.iterations + 1
        product_t = self._u_product(t)
        product_next = product_t * self._u(t + 1)
        return {"eta": self.learning_rate, "beta_1": self.beta_1, "beta_2": self.beta_2,
                "nadam_epsilon": self.epsilon,
                "m_coefficient": self._u(t + 1) / (1 - product_next),    # u_{t+1} / (1 - prod)
                "g_coefficient": (1 - self._u(t)) / (1 - product_t),     # (1 - u_t) / (1 - prod)
                "v_correction": 1 - self.beta_2 ** t}                     # 1 - beta_2^t


class Adamax(Optimizer):
    """m <- beta_1 m + (1 - beta_1) g;  u <- max(beta_2 u, |g|);
    w <- w - alpha m / (u + adamax_epsilon),   alpha = eta / (1 - beta_1^t)

    Keras 3's Adamax (Kingma and Ba, 2014, Section 7.1): Adam with the infinity norm u of the
    past gradients in place of the root mean square.

    Args (Keras's names and defaults):
        learning_rate  eta > 0, default 0.001
        beta_1         decay of the first moment, in [0, 1), default 0.9
        beta_2         decay of the infinity norm, in [0, 1), default 0.999
        epsilon        > 0, default 1e-7 (adamax_epsilon in the formulas)
    """

    name = "adamax"
    rule = RULES["adamax"]
    _nonnegative = ("norm",)

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None) -> None:
        super().__init__(weight_decay, clipnorm, clipvalue, global_clipnorm)
        self.learning_rate = learning_rate
        self.beta_1 = fraction("beta_1", beta_1)
        self.beta_2 = fraction("beta_2", beta_2)
        self.epsilon = positive_number("epsilon", epsilon)

    def _scalars(self) -> dict[str, float]:
        t = self.iterations + 1
        return {"alpha": self.learning_rate / (1 - self.beta_1 ** t),   # eta / (1 - beta_1^t)
                "beta_1": self.beta_1, "beta_2": self.beta_2, "adamax_epsilon": self.epsilon}


# ---------------------------------------------------------------- lookup
class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), Keras 3's AdamW: before each
    update w <- w - w weight_decay eta; weight_decay default 0.004."""

    name = "adamw"

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001,
                 weight_decay: float | None = 0.004, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, amsgrad: bool = False, clipnorm: float | None = None,
                 clipvalue: float | None = None, global_clipnorm: float | None = None) -> None:
        super().__init__(learning_rate, beta_1, beta_2, epsilon, amsgrad, weight_decay,
                         clipnorm, clipvalue, global_clipnorm)


#: the optimizer classes by name, as optimizers.get and compile(optimizer=...) accept them
OPTIMIZERS: dict[str, type[Optimizer] | type[FullBatchOptimizer]] = {
    cls.name: cls for cls in (SGD, Adagrad, RMSprop, Adam, AdamW, Nadam, Adamax, LBFGS)}
_CLASS_NAMES = {cls.__name__: cls.name for cls in OPTIMIZERS.values()}

__all__ = ["Optimizer", "FullBatchOptimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Nadam",
           "Adamax", "LBFGS", "OPTIMIZERS", "get", "deserialize"]


def deserialize(config: dict[str, Any]) -> Optimizer | FullBatchOptimizer:
    """The optimizer get_config() described: config["name"] picks the class."""
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict, got {type(config).__name__}")
    if "name" not in config:
        raise ValueError(f"config must name the optimizer (key 'name'; valid: "
                         f"{', '.join(sorted(OPTIMIZERS))}), got keys {sorted(config)}")
    name = _CLASS_NAMES.get(config["name"], config["name"])
    cls = OPTIMIZERS[choice("optimizer", name, OPTIMIZERS)]
    return cls.from_config({**config, "name": cls.name})


def get(identifier: str | dict[str, Any] | Optimizer | FullBatchOptimizer
        ) -> Optimizer | FullBatchOptimizer:
    """An optimizer from a name ("sgd", "adagrad", "rmsprop", "adam", "nadam", "adamax",
    "lbfgs", or the class
    name as in Keras, e.g. "Adam"), a config dict, or an optimizer (returned as it is)."""
    if isinstance(identifier, (Optimizer, FullBatchOptimizer)):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        name = _CLASS_NAMES.get(identifier, identifier)
        return OPTIMIZERS[choice("optimizer", name, OPTIMIZERS)]()
    raise TypeError(f"optimizer must be a name ({', '.join(sorted(OPTIMIZERS))}), a config "
                    f"dict or an Optimizer, got {type(identifier).__name__} {identifier!r}")
