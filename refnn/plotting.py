"""Optional pictures (matplotlib is an extra: pip install -e '.[plot]').

Everything that draws imports matplotlib through `pyplot()`, so that refnn itself runs
without it and `--plot` says how to get it.

save_plot(path, history, title)   training curves, with a 2-D decision boundary in front when
                                  given; the image is FIGSIZE inches times dpi pixels
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Any

import numpy as np

from ._validate import positive_int
from .terminal import plane_bounds

__all__ = ["pyplot", "save_plot", "MissingMatplotlibError", "FIGSIZE", "DEFAULT_DPI",
           "PLAYGROUND_COLORS"]

#: the figure's size in inches; the PNG is FIGSIZE * dpi pixels
FIGSIZE = (12.0, 4.0)
#: the PNG's dots per inch
DEFAULT_DPI = 100
#: the class colours: class 0 orange, class 1 blue (TensorFlow Playground), then
#: matplotlib's next colours
PLAYGROUND_COLORS = ("#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


class MissingMatplotlibError(ImportError):
    """matplotlib is not installed."""


def pyplot() -> ModuleType:
    """matplotlib.pyplot with a file-only backend (no window, works without a screen)."""
    try:
        import matplotlib
    except ImportError:
        raise MissingMatplotlibError(
            "plots need matplotlib, an optional extra: pip install -e '.[plot]' "
            "(or pip install matplotlib)") from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def _save_plot_args(path, history, title, dpi, boundary, metric_name):
    """The arguments of save_plot checked: (the logs dict, boundary with arrays), or an error
    naming the argument."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike), "
                        f"got {type(path).__name__} {path!r}")
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or h.get("loss") is None or len(h["loss"]) == 0:
        raise ValueError(f"history must be the History that fit returns (or its .history "
                         f"dict) with a 'loss' list of at least one epoch, got {history!r}")
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__} {title!r}")
    positive_int("dpi", dpi)
    if not isinstance(metric_name, str):
        raise TypeError(f"metric_name must be a str such as 'acc', "
                        f"got {type(metric_name).__name__} {metric_name!r}")
    if boundary is not None:
        if not (isinstance(boundary, (tuple, list)) and len(boundary) == 4):
            raise TypeError(f"boundary must be (classify, probability, (X_train, y_train), "
                            f"(X_test, y_test)), got {type(boundary).__name__} {boundary!r}")
        classify, probability, train, test = boundary
        if not callable(classify) or not (probability is None or callable(probability)):
            raise TypeError(f"boundary must start with two functions of the points, classify "
                            f"and probability (or None), got {classify!r} and {probability!r}")
        pairs = []
        for name, points in (("train", train), ("test", test)):
            try:
                X, y = points
            except (TypeError, ValueError):
                raise TypeError(f"boundary's {name} points must be a pair (X, y), "
                                f"got {points!r}") from None
            X, y = np.asarray(X), np.asarray(y)
            if X.ndim != 2 or X.shape[1] != 2 or y.shape != (X.shape[0],) or X.shape[0] == 0:
                raise ValueError(f"boundary's {name} points must be X (n, 2) with n class "
                                 f"indices y (n,), n >= 1, got X of shape {X.shape} and y of "
                                 f"shape {y.shape}")
            k = len(PLAYGROUND_COLORS)
            if y.dtype.kind not in "biuf" or y.min() < 0 or y.max() > k - 1:
                raise ValueError(f"boundary's {name} classes y must be 0 to {k - 1}, got "
                                 f"{y.dtype.name} values {np.unique(y)[:8]}")
            pairs.append((X, y))
        boundary = (classify, probability, *pairs)
    return h, boundary


def save_plot(path: str | os.PathLike[str], history: Any, title: str, dpi: int = DEFAULT_DPI,
              boundary: tuple[Any, ...] | None = None, metric_name: str = "acc") -> None:
    """Training curves (loss, and the metric), with the decision boundary in front for 2-D data.

    path         the image file; matplotlib picks the format from its ending (.png, .svg, .pdf)
    history      the History that Sequential.fit returns, or its .history dict: the curves
                 `loss` and `metric_name`, each beside its val_ twin (drawn as "test") when there
    title        the figure's title
    dpi          pixels per inch: a PNG is FIGSIZE[0] * dpi by FIGSIZE[1] * dpi pixels
    boundary     None, or (classify, probability, (X_train, y_train), (X_test, y_test)) for a
                 2-D classifier, in the plane's own coordinates: classify maps points (m, 2) to
                 class indices (m,); probability maps them to P(class 1) (m,) for a binary
                 model, or is None (or returns None) to shade the predicted classes instead.
                 Drawn as a first panel: the regions, the 0.5 contour of a binary model, the
                 training points and the test points (outlined).
    metric_name  the metric's key in history ("acc", "mae", ...)
    Raises MissingMatplotlibError (an ImportError) when matplotlib is not installed.
    """
    h, boundary = _save_plot_args(path, history, title, dpi, boundary, metric_name)
    plt = pyplot()
    from matplotlib.colors import LinearSegmentedColormap, ListedColormap
    from matplotlib.ticker import MaxNLocator
    n_panels = 3 if boundary is not None else 2
    fig, axes = plt.subplots(1, n_panels, figsize=FIGSIZE)
    fig.suptitle(title)
    epochs = np.arange(1, len(h["loss"]) + 1)
    panel = 0
    if boundary is not None:
        classify, probability, (Xa, ya), (Xb, yb) = boundary
        ax = axes[0]
        allX = np.concatenate([Xa, Xb])
        x1_min, x1_max, x2_min, x2_max = plane_bounds(allX)
        g1, g2 = np.meshgrid(np.linspace(x1_min, x1_max, 200), np.linspace(x2_min, x2_max, 200))
        grid = np.column_stack([g1.ravel(), g2.ravel()])
        k = int(max(ya.max(), yb.max())) + 1
        colors = PLAYGROUND_COLORS[:max(k, 2)]
        p1 = probability(grid) if probability is not None else None
        if p1 is not None:
            cmap = LinearSegmentedColormap.from_list("playground", [colors[0], "#ffffff",
                                                                    colors[1]])
            ax.contourf(g1, g2, p1.reshape(g1.shape), levels=np.linspace(0, 1, 11), cmap=cmap,
                        alpha=0.7)
            ax.contour(g1, g2, p1.reshape(g1.shape), levels=[0.5], colors="k", linewidths=1)
        else:
            labels = classify(grid).reshape(g1.shape)
            ax.contourf(g1, g2, labels, levels=np.arange(-0.5, k), cmap=ListedColormap(colors),
                        alpha=0.35)
        for c in range(k):
            ax.scatter(Xa[ya == c, 0], Xa[ya == c, 1], s=12, color=colors[c],
                       edgecolors="white", linewidths=0.5, label=f"class {c}")
            ax.scatter(Xb[yb == c, 0], Xb[yb == c, 1], s=14, color=colors[c],
                       edgecolors="black", linewidths=0.8)
        ax.set_xlim(x1_min, x1_max)
        ax.set_ylim(x2_min, x2_max)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_title("decision boundary (test points outlined)")
        ax.legend(loc="upper right", fontsize="small")
        panel = 1
    titles = {"acc": "accuracy", "mae": "mean absolute error (standardised target)"}
    for ax, key, label in ((axes[panel], "loss", "loss"),
                           (axes[panel + 1], metric_name, titles.get(metric_name, metric_name))):
        if key in h:
            ax.plot(epochs, h[key], label="training")
        if f"val_{key}" in h:
            ax.plot(epochs, h[f"val_{key}"], label="test")
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
