"""Names and argument checks shared by both twins (plain Python: no NumPy here)."""

ACTIVATIONS = ("sigmoid", "tanh", "relu", "linear", "softmax", "step")


def _expect(what, received, expected):
    if received != expected:
        raise ValueError(f"{what}: expected {expected}, received {received}")


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        valid = ", ".join(repr(name) for name in ACTIVATIONS)
        raise ValueError(f"unknown activation {activation!r}; valid names are {valid}")


def _check_differentiable(activation):
    """the activation has an elementwise derivative written from g"""
    _check_activation(activation)
    if activation == "softmax":
        raise ValueError("softmax has no elementwise derivative: use the fused gradient of "
                         "softmax_crossentropy (epsilon = yhat - y)")
    if activation == "step":
        raise ValueError("step has zero derivative almost everywhere, so backpropagation "
                         "cannot train it: use sigmoid, tanh, relu or linear")
