"""A built Sequential as an ONNX graph (opset 17), for inference.

Each layer becomes the ONNX nodes of its inference-time formula:
    Flatten                  Flatten(axis=1)                     (n, d1, d2, ...) -> (n, d1 d2 ...)
    Dense                    h = MatMul(g_prev, W) + b,  g = f(h)
    Dense(batch_norm=True)   h = MatMul(g_prev, W) + b, then batch normalisation, then f
    BatchNormalization       (x - moving_mean) * inv_std * gamma + beta,
                             inv_std = 1 / sqrt(moving_variance + epsilon) computed here, in the
                             model's dtype, as refnn's forward pass computes it
    Activation               f
    Dropout                  identity ("inverted"), or x * (1 - rate) ("scale_at_inference")
    Residual                 g_prev + F(g_prev)
with f: linear Identity, relu Relu, sigmoid Sigmoid, tanh Tanh, softmax Softmax(axis=-1).
The weights are stored as initializers in the model's dtype (float32 or float64).
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import numpy as np

from ..layers import Activation, BatchNormalization, Dense, Dropout, Flatten, Residual

if TYPE_CHECKING:
    from ..model import Sequential

OPSET = 17
IR_VERSION = 8          # read by onnxruntime >= 1.10
ONNX_OPS = {"linear": "Identity", "relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh",
            "softmax": "Softmax"}


class _Graph:
    """The nodes and initializers under construction; names are made unique by a counter."""

    def __init__(self, helper, numpy_helper, dtype):
        self.helper, self.numpy_helper, self.dtype = helper, numpy_helper, dtype
        self.nodes, self.initializers, self.count = [], [], 0

    def name(self, stem):
        self.count += 1
        return f"{stem}_{self.count}"

    def constant(self, stem, value):
        name = self.name(stem)
        array = np.asarray(value, dtype=self.dtype)
        self.initializers.append(self.numpy_helper.from_array(array, name=name))
        return name

    def node(self, op, inputs, stem, **attributes):
        out = self.name(stem)
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attributes))
        return out


def _activation(graph, x, name):
    if name not in ONNX_OPS:
        raise ValueError(f"export: activation {name!r} has no ONNX operator here; exportable: "
                         f"{', '.join(ONNX_OPS)}")
    if name == "softmax":
        return graph.node("Softmax", [x], "softmax", axis=-1)
    return graph.node(ONNX_OPS[name], [x], name)


def _batch_norm(graph, x, layer):
    inv_std = (1 / np.sqrt(layer.moving_variance + layer.bn_epsilon)).astype(layer.dtype)
    x = graph.node("Sub", [x, graph.constant("moving_mean", layer.moving_mean)], "centred")
    x = graph.node("Mul", [x, graph.constant("inv_std", inv_std)], "xhat")
    if layer.scale:
        x = graph.node("Mul", [x, graph.constant("gamma", layer.gamma)], "scaled")
    if layer.center:
        x = graph.node("Add", [x, graph.constant("beta", layer.beta)], "shifted")
    return x


def _layer(graph, x, layer):
    """The nodes of one layer on input x; returns the name of its output."""
    if isinstance(layer, Flatten):
        return graph.node("Flatten", [x], "flatten", axis=1)
    if isinstance(layer, Dense):
        h = graph.node("MatMul", [x, graph.constant("kernel", layer.W)], "matmul")
        if layer.use_bias:
            h = graph.node("Add", [h, graph.constant("bias", layer.b)], "h")
        if layer.batch_norm is not None:
            h = _batch_norm(graph, h, layer.batch_norm)
        return _activation(graph, h, layer.activation)
    if isinstance(layer, Activation):
        return _activation(graph, x, layer.activation)
    if isinstance(layer, Dropout):
        if layer.mode == "scale_at_inference":
            return graph.node("Mul", [x, graph.constant("keep", 1 - layer.rate)], "dropout")
        return graph.node("Identity", [x], "dropout")
    if isinstance(layer, BatchNormalization):
        return _batch_norm(graph, x, layer)
    if isinstance(layer, Residual):
        out = x
        for inner in layer.layers:
            out = _layer(graph, out, inner)
        return graph.node("Add", [x, out], "residual")
    raise ValueError(f"export: layer {type(layer).__name__} has no ONNX form here")


def to_onnx(model: Sequential) -> Any:
    """The ONNX ModelProto of a built Sequential (input "input", output "output")."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError as e:
        raise ImportError("export(format='onnx') needs the onnx package: "
                          "pip install 'onnx>=1.16'") from e
    if not model.built:
        raise ValueError("export: the model is not built; give the first layer input_shape=... "
                         "or call build() or fit() first")
    dtype = np.dtype(model.dtype)
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    graph = _Graph(helper, numpy_helper, dtype)
    x = "input"
    for layer in model.layers:
        x = _layer(graph, x, layer)
    graph.nodes.append(helper.make_node("Identity", [x], ["output"], name="output"))
    inputs = [helper.make_tensor_value_info("input", elem, ["n", *model.input_shape])]
    outputs = [helper.make_tensor_value_info("output", elem, ["n", *model.output_shape])]
    proto = helper.make_model(
        helper.make_graph(graph.nodes, model.name or "refnn", inputs, outputs,
                          graph.initializers),
        opset_imports=[helper.make_opsetid("", OPSET)], producer_name="refnn")
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto)
    return proto


def export_onnx(model: Sequential, path: str | os.PathLike[str]) -> Any:
    """Write the model's ONNX graph to `path`; returns the ModelProto."""
    proto = to_onnx(model)
    with open(path, "wb") as f:
        f.write(proto.SerializeToString())
    return proto
