"""The optimizers' update rules, declared once: the kernels, the optimizers and the twins read
this table.

A rule is what the compiled loops (src_c/_updates.pxd) run on one parameter array: its code
there, its slots (the optimizer's per-weight state, Keras's names, in the kernel's order, the
required ones first) and its scalars (name and kind, in the kernel's order). refnn.kernels
applies a rule to an array (apply_rule) and fuses it into the compiled training step
(DenseTrainer.set_update) from this declaration, and checks at import that the compiled loops
take as many scalars and slots as declared here; refnn.optimizers maps Keras's
hyper-parameters onto a rule (which optional slots are on, their initial values, the scalars
of each step).

Adding an optimizer: its loop in src_c/_updates.pxd (code, loop, one line in rule_signature,
one branch in update), its row here, its class in refnn/optimizers (hyper-parameters and the
step's scalars). Its NumPy twin goes to refnn/reference/optimizers.py.

This module imports nothing compiled, so the twins and the docs can read it without a build.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._validate import positive_number, rate


def fraction(name: str, value: float) -> float:
    """A decay factor in [0, 1): momentum, rho, beta_1, beta_2 (the check of a dropout rate)."""
    return rate(name, value)


def _flag(name: str, value: float) -> float:
    if value not in (0, 1) or isinstance(value, str):
        raise ValueError(f"{name} must be 0 or 1 (a flag), got {value!r}")
    return float(value)


# what each kind of scalar may be; each check returns the value as a float or raises, naming it
KINDS = {
    "positive": lambda name, v: positive_number(name, v),                     # finite, > 0
    "nonnegative": lambda name, v: positive_number(name, v, allow_zero=True),  # finite, >= 0
    "fraction": fraction,                                                      # in [0, 1)
    "flag": _flag,                                                             # 0 or 1
}

# the same ranges as predicates on a float (NaN fails every comparison, so it is never in range)
IN_RANGE = {
    "positive": lambda v: 0 < v < math.inf,
    "nonnegative": lambda v: 0 <= v < math.inf,
    "fraction": lambda v: 0 <= v < 1,
    "flag": lambda v: v == 0 or v == 1,
}


@dataclass(frozen=True)
class Rule:
    """One update rule: w and its slots updated in place from the gradient g."""

    name: str            # the rule's name (its optimizer's registry name)
    code: int            # its code in src_c/_updates.pxd
    formula: str         # what it computes
    slots: tuple         # slot names in the kernel's order (Keras's names and order)
    required: int        # the first `required` slots are always there; the rest are options
    scalars: tuple       # (name, kind) per scalar, in the kernel's order; kinds: KINDS

    def check_scalars(self, values: Sequence[float]) -> tuple[float, ...]:
        """values (one per scalar, in order) as a tuple of floats; an error names the scalar.

        The compiled step calls this once per batch: a tuple of floats that are all in range
        (what an optimizer's fused_scalars() gives) passes in one comparison per scalar;
        anything else goes through the named checks of KINDS."""
        if type(values) is tuple and len(values) == len(self.scalars) and all(
                type(v) is float and IN_RANGE[kind](v)
                for (_, kind), v in zip(self.scalars, values)):
            return values
        if not isinstance(values, (list, tuple)) or len(values) != len(self.scalars):
            names = ", ".join(name for name, _ in self.scalars)
            raise ValueError(f"scalars must be {len(self.scalars)} finite numbers for "
                             f"{self.name} ({names}), got {values!r}")
        return tuple(KINDS[kind](name, v) for (name, kind), v in zip(self.scalars, values))


TABLE = (
    Rule("sgd", 0, "m <- momentum m - eta g;  w <- w + m  (nesterov: w <- w + momentum m - "
         "eta g; no slot: w <- w - eta g)",
         ("momentum",), 0,
         (("eta", "positive"), ("momentum", "fraction"), ("nesterov", "flag"))),
    Rule("adagrad", 1, "a <- a + g^2;  w <- w - eta g / sqrt(a + adagrad_epsilon)",
         ("accumulator",), 1,
         (("eta", "positive"), ("adagrad_epsilon", "positive"))),
    Rule("rmsprop", 2, "v <- rho v + (1 - rho) g^2;  (centered) a <- rho a + (1 - rho) g;  "
         "step = eta g / sqrt(v - a^2 + rmsprop_epsilon);  m <- momentum m + step;  w <- w - m",
         ("velocity", "momentum", "average_gradient"), 1,
         (("eta", "positive"), ("rho", "fraction"), ("momentum", "fraction"),
          ("rmsprop_epsilon", "positive"))),
    Rule("adam", 3, "m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2);  "
         "(amsgrad) v_hat <- max(v_hat, v);  w <- w - alpha m / (sqrt(v or v_hat) + adam_epsilon)",
         ("momentum", "velocity", "velocity_hat"), 2,
         (("alpha", "positive"), ("beta_1", "fraction"), ("beta_2", "fraction"),
          ("adam_epsilon", "positive"))),
    Rule("nadam", 4, "m <- m + (g - m)(1 - beta_1);  v <- v + (g^2 - v)(1 - beta_2);  "
         "w <- w - eta (m_coefficient m + g_coefficient g) / (sqrt(v / v_correction) + "
         "nadam_epsilon)",
         ("momentum", "velocity"), 2,
         (("eta", "positive"), ("beta_1", "fraction"), ("beta_2", "fraction"),
          ("nadam_epsilon", "positive"), ("m_coefficient", "nonnegative"),
          ("g_coefficient", "positive"), ("v_correction", "positive"))),
    Rule("adamax", 5, "m <- m + (g - m)(1 - beta_1);  u <- max(beta_2 u, |g|);  "
         "w <- w - alpha m / (u + adamax_epsilon)",
         ("momentum", "norm"), 2,
         (("alpha", "positive"), ("beta_1", "fraction"), ("beta_2", "fraction"),
          ("adamax_epsilon", "positive"))),
)

RULES = {rule.name: rule for rule in TABLE}
