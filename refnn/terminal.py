"""A 2-D classifier's decision boundary drawn with characters (NumPy only, no plotting library).

The plane is cut into a grid of `width` x `height` character cells. A cell stands for the
point at its centre and shows the class the classifier predicts there, as a region character
(REGIONS: '.' for class 0, ':' for class 1, ...); where the regions meet is the decision
boundary. A cell holding training points shows their class instead, as a point character
(POINTS: 'o' for class 0, 'x' for class 1, ...; the majority class when several fall in one
cell), so a point drawn inside the other class's region is one the classifier gets wrong.
With color=True the regions are pale backgrounds and the points bold, in the orange and blue
of TensorFlow Playground (ANSI 256-colour escapes).

Row 0 of the drawing is the top of the plane (largest x2); column 0 its left (smallest x1).
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["decision_grid", "render", "plane_bounds", "use_color", "REGIONS", "POINTS"]

#: the characters of the predicted regions, one per class
REGIONS = ".:-=~^"
#: the characters of the data points, one per class
POINTS = "ox*#@%"
# ANSI 256-colour indices per class: (pale region background, point foreground)
_COLORS = ((223, 166), (153, 25), (194, 28), (225, 127), (230, 136), (252, 236))

# classify maps points (n, 2) to class indices (n,); bounds are (x1_min, x1_max, x2_min, x2_max)
Classifier = Callable[[NDArray[np.float64]], ArrayLike]
Bounds = tuple[float, float, float, float]


def use_color(stream: object, choice: str = "auto") -> bool:
    """Whether to colour: "always", "never", or "auto" (a terminal, and NO_COLOR unset)."""
    if choice == "always":
        return True
    if choice == "never":
        return False
    return bool(getattr(stream, "isatty", lambda: False)()) and not os.environ.get("NO_COLOR") \
        and os.environ.get("TERM") != "dumb"


def plane_bounds(X: NDArray[Any], margin: float = 0.05) -> tuple[float, float, float, float]:
    """(x1_min, x1_max, x2_min, x2_max) around the points, widened by `margin` of the span."""
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def decision_grid(classify: Classifier, bounds: Bounds, width: int,
                  height: int) -> NDArray[np.int64]:
    """The predicted class at the centre of every cell: int array (height, width).

    classify  maps points (n, 2) to class indices (n,)
    bounds    (x1_min, x1_max, x2_min, x2_max) of the plane drawn
    Cell (r, c) is centred at x1 = x1_min + (c + 1/2) dx, x2 = x2_max - (r + 1/2) dy.
    """
    x1_min, x1_max, x2_min, x2_max = bounds
    dx, dy = (x1_max - x1_min) / width, (x2_max - x2_min) / height
    x1 = x1_min + (np.arange(width) + 0.5) * dx
    x2 = x2_max - (np.arange(height) + 0.5) * dy
    grid = np.stack(np.meshgrid(x1, x2), axis=-1).reshape(-1, 2)
    labels = np.asarray(classify(grid)).reshape(-1)
    if labels.shape[0] != grid.shape[0]:
        raise ValueError(f"classify returned {labels.shape[0]} labels for {grid.shape[0]} points")
    return labels.astype(np.int64).reshape(height, width)


def _cells(X, bounds, width, height):
    """Row and column of the cell holding each point."""
    x1_min, x1_max, x2_min, x2_max = bounds
    col = np.floor((X[:, 0] - x1_min) / (x1_max - x1_min) * width).astype(np.int64)
    row = np.floor((x2_max - X[:, 1]) / (x2_max - x2_min) * height).astype(np.int64)
    return np.clip(row, 0, height - 1), np.clip(col, 0, width - 1)


def _point_grid(X, y, bounds, width, height, n_classes):
    """For every cell: the majority class of the points in it, or -1 for none."""
    row, col = _cells(X, bounds, width, height)
    counts = np.zeros((height, width, n_classes), dtype=np.int64)
    np.add.at(counts, (row, col, y), 1)
    return np.where(counts.sum(axis=-1) > 0, counts.argmax(axis=-1), -1)


def render(classify: Classifier, X: NDArray[Any], y: ArrayLike, width: int = 64,
           height: int = 32, color: bool = False, bounds: Bounds | None = None,
           legend: bool = True) -> str:
    """The decision regions of `classify` with the points (X, y) on them, as one string.

    classify  maps points (n, 2) to class indices (n,), e.g. lambda P: model.predict(P) > 0.5
    X, y      the points (n, 2) and their class indices (n,)
    bounds    the plane to draw, (x1_min, x1_max, x2_min, x2_max); default: the points' box
              and 5 % around it
    Terminal cells are about twice as tall as wide: width = 2 height draws a square plane
    about square.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y).reshape(-1).astype(np.int64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] != y.shape[0] or X.shape[0] == 0:
        raise ValueError(f"X must be (n, 2) points with n class indices in y, got X of shape "
                         f"{X.shape} and y of shape {y.shape}")
    if width < 2 or height < 2:
        raise ValueError(f"the drawing needs at least 2 x 2 cells, got {width} x {height}")
    if bounds is None:
        bounds = plane_bounds(X)
    regions = decision_grid(classify, bounds, width, height)
    n_classes = int(max(y.max(), regions.max())) + 1
    if n_classes > len(REGIONS) or y.min() < 0 or regions.min() < 0:
        raise ValueError(f"classes must be 0 to {len(REGIONS) - 1} for the drawing")
    points = _point_grid(X, y, bounds, width, height, n_classes)

    rows = []
    for r in range(height):
        line, style = [], None
        for c in range(width):
            k, p = regions[r, c], points[r, c]
            char = POINTS[p] if p >= 0 else REGIONS[k]
            if color:                        # an escape only where the style changes
                new = (f"\x1b[0;1;38;5;{_COLORS[p][1]};48;5;{_COLORS[k][0]}m" if p >= 0
                       else f"\x1b[0;38;5;244;48;5;{_COLORS[k][0]}m")
                if new != style:
                    char, style = new + char, new
            line.append(char)
        rows.append("|" + "".join(line) + ("\x1b[0m" if color else "") + "|")
    border = "+" + "-" * width + "+"
    out = [border] + rows + [border]
    if legend:
        x1_min, x1_max, x2_min, x2_max = bounds
        out.append(f"x1 from {x1_min:.3g} (left) to {x1_max:.3g} (right), "
                   f"x2 from {x2_min:.3g} (bottom) to {x2_max:.3g} (top)")
        out.append("   ".join(f"{POINTS[k]} class {k}" for k in range(n_classes)) + "   (points)")
        out.append("   ".join(f"{REGIONS[k]} class {k}" for k in range(n_classes))
                   + "   (predicted regions)")
    return "\n".join(out)
