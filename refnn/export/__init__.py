"""Export a trained model to other formats: ONNX (`model.export(path, format="onnx")`)."""
from ._onnx import OPSET, export_onnx, to_onnx

#: the formats export() writes
FORMATS = ("onnx",)


def export(model, path, format="onnx"):
    """Write `model` to `path` in `format` (only "onnx" so far); returns the exported object."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    return export_onnx(model, path)


__all__ = ["export", "export_onnx", "to_onnx", "OPSET", "FORMATS"]
