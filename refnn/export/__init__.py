"""Export a trained model to other formats: ONNX (`model.export(path, format="onnx")`)."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ._onnx import OPSET, export_onnx, to_onnx

if TYPE_CHECKING:
    from ..model import Sequential

#: the formats export() writes
FORMATS = ("onnx",)


def export(model: Sequential, path: str | os.PathLike[str], format: str = "onnx") -> Any:
    """Write `model` to `path` in `format` (only "onnx" so far); returns the exported object."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    return export_onnx(model, path)


__all__ = ["export", "export_onnx", "to_onnx", "OPSET", "FORMATS"]
