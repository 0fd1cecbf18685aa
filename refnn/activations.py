"""The activations, declared once: kernels, layers, twins, command line and docs read this table.

Each activation g = f(h) is named as in Keras, has the code the compiled kernels switch on
(the enum of src_c/_core.pxd; a test holds the two together), its formula, and its derivative
written from the output g where it has one that is elementwise (the lecture's form: the
backward pass multiplies epsilon by f'(h) without keeping h).

Adding an activation: a row here, its loop in src_c/_core.pxd (`activate`, and
`multiply_derivative` if it has a derivative), its twins in refnn/reference (pure.py,
vectorized.py). Everything else (validation, layer options, command-line choices, the compiled
training step's eligibility) follows from the row.

This module imports nothing compiled, so the twins can read it in a tree without a build.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class Activation:
    """One activation function: g = f(h)."""

    name: str                  # the public name (Keras's)
    code: int                  # the compiled kernels' code (src_c/_core.pxd)
    formula: str               # g = f(h)
    derivative: str | None     # f'(h) from g, elementwise; None: none elementwise (softmax, step)
    layer: bool = True         # offered by Dense and Activation layers (step is the textbook's)

    @property
    def elementwise(self) -> bool:
        """g_j depends on h_j alone (every activation but softmax, a row operation)."""
        return self.name != "softmax"

    @property
    def differentiable(self) -> bool:
        """f'(h) is elementwise and written from g: it may sit in a hidden layer of a trained
        network, where epsilon = (epsilon_next W^T) f'(h)."""
        return self.derivative is not None


TABLE = (
    Activation("sigmoid", 1, "g = 1 / (1 + e^-h)", "g (1 - g)"),
    Activation("tanh", 2, "g = tanh h", "1 - g^2"),
    Activation("relu", 3, "g = max(h, 0)", "[g > 0]  (= [h > 0])"),
    Activation("linear", 0, "g = h", "1"),
    Activation("softmax", 4, "g_k = e^(h_k - max h) / sum_j e^(h_j - max h)", None),
    Activation("step", 5, "g = [h >= 0]  (McCulloch-Pitts: fire when h >= 0)", None, layer=False),
)

ACTIVATIONS = {a.name: a for a in TABLE}
NAMES = tuple(ACTIVATIONS)                                       # every activation the kernels know
CODES = {a.name: a.code for a in TABLE}
LAYER_NAMES = tuple(a.name for a in TABLE if a.layer)            # Dense(activation=...) accepts
DIFFERENTIABLE = tuple(a.name for a in TABLE if a.differentiable)  # f'(h) from g, elementwise
HIDDEN = DIFFERENTIABLE                                          # a hidden layer of a trained net


def get(name: str) -> Activation:
    """The Activation called `name`; a clear error naming the valid ones otherwise."""
    if isinstance(name, str) and name in ACTIVATIONS:
        return ACTIVATIONS[name]
    raise ValueError(f"activation must be one of {', '.join(repr(n) for n in NAMES)}, "
                     f"got {name!r}")
