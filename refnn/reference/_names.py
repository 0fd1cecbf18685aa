"""Names and argument checks shared by both twins (plain Python: no NumPy here).

The activation names come from refnn.activations, the one table of activations (pure Python,
so the twins still import nothing compiled)."""
from ..activations import ACTIVATIONS as _TABLE
from ..activations import NAMES as ACTIVATIONS   # every activation the kernels know

# why an activation has no elementwise derivative written from g (the table's derivative None)
_NOT_DIFFERENTIABLE = {
    "softmax": "softmax has no elementwise derivative: use the fused gradient of "
               "softmax_crossentropy (epsilon = yhat - y)",
    "step": "step has zero derivative almost everywhere, so backpropagation cannot train it: "
            "use sigmoid, tanh, relu or linear",
}


def _expect(what, received, expected):
    if received != expected:
        raise ValueError(f"{what}: expected {expected}, received {received}")


def _check_activation(activation):
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        valid = ", ".join(repr(name) for name in ACTIVATIONS)
        raise ValueError(f"unknown activation {activation!r}; valid names are {valid}")


def _check_differentiable(activation):
    """the activation has an elementwise derivative written from g"""
    _check_activation(activation)
    if not _TABLE[activation].differentiable:
        raise ValueError(_NOT_DIFFERENTIABLE.get(
            activation, f"{activation} has no elementwise derivative written from g"))
