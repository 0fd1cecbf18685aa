"""refnn.plotting.save_plot: the image file it writes (size read from the PNG header with
struct, colours read back pixel by pixel), its argument checks (no matplotlib needed), and the
error that says how to install matplotlib."""
import sys

import numpy as np
import pytest

from refnn import plotting
from refnn.callbacks import History
from refnn.plotting import FIGSIZE, PLAYGROUND_COLORS, MissingMatplotlibError, save_plot
from png_files import png_size

HISTORY = {"loss": [0.9, 0.5, 0.3], "acc": [0.5, 0.7, 0.9],
           "val_loss": [1.0, 0.6, 0.4], "val_acc": [0.4, 0.6, 0.8]}


def needs_matplotlib():
    pytest.importorskip("matplotlib", reason="matplotlib is an optional extra "
                                             "(pip install -e '.[plot]')")


def rgb_pixels(path):
    """The set of (r, g, b) colours, 0-255, in the image."""
    import matplotlib.image
    image = matplotlib.image.imread(path)
    rgb = np.round(image[..., :3] * 255).astype(np.int64)
    return set(map(tuple, rgb.reshape(-1, 3).tolist()))


def hex_rgb(color):
    return tuple(int(color[i:i + 2], 16) for i in (1, 3, 5))


def two_classes(n=40, seed=0):
    """Points in the plane, class 1 where x1 > 0; a boundary tuple for save_plot."""
    rng = np.random.default_rng(seed)
    Xa, Xb = rng.uniform(-1, 1, (n, 2)), rng.uniform(-1, 1, (n // 4, 2))
    classify = lambda P: (P[:, 0] > 0).astype(np.int64)              # noqa: E731
    probability = lambda P: 1 / (1 + np.exp(-10 * P[:, 0]))          # noqa: E731
    return classify, probability, (Xa, classify(Xa)), (Xb, classify(Xb))


@pytest.mark.parametrize("dpi", [30, 50])
def test_curves_only_png_has_the_figure_size(tmp_path, dpi):
    needs_matplotlib()
    path = tmp_path / "curves.png"
    save_plot(path, HISTORY, "curves", dpi=dpi)
    assert png_size(path) == (round(FIGSIZE[0] * dpi), round(FIGSIZE[1] * dpi))
    # no boundary panel: none of the class colours is painted
    colours = rgb_pixels(path)
    assert hex_rgb(PLAYGROUND_COLORS[0]) not in colours
    assert hex_rgb(PLAYGROUND_COLORS[1]) not in colours


@pytest.mark.parametrize("binary", [True, False], ids=["probability", "classes"])
def test_boundary_panel_paints_the_class_colours(tmp_path, binary):
    needs_matplotlib()
    classify, probability, train, test = two_classes()
    history = History()
    history.history = dict(HISTORY)                      # the object fit returns works too
    path = tmp_path / "boundary.png"
    save_plot(path, history, "boundary", dpi=40,
              boundary=(classify, probability if binary else None, train, test))
    assert png_size(path) == (round(FIGSIZE[0] * 40), round(FIGSIZE[1] * 40))
    colours = rgb_pixels(path)
    # the points are filled with the Playground's orange (class 0) and blue (class 1)
    assert hex_rgb(PLAYGROUND_COLORS[0]) in colours
    assert hex_rgb(PLAYGROUND_COLORS[1]) in colours


def test_three_classes_and_an_svg(tmp_path):
    needs_matplotlib()
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, (60, 2))
    classify = lambda P: np.digitize(P[:, 0], [-1 / 3, 1 / 3])       # noqa: E731
    path = tmp_path / "three.svg"
    save_plot(path, {"loss": [1.0, 0.5], "mae": [0.3, 0.2]}, "three", metric_name="mae",
              boundary=(classify, lambda P: None, (X[:45], classify(X[:45])),
                        (X[45:], classify(X[45:]))))
    text = path.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    # 12 x 4 inches at 72 points per inch
    assert f'width="{FIGSIZE[0] * 72:g}pt"' in text and f'height="{FIGSIZE[1] * 72:g}pt"' in text
    for color in PLAYGROUND_COLORS[:3]:
        assert color in text


@pytest.mark.parametrize("kwargs, error, words", [
    ({"path": 3}, TypeError, r"path must be a file name \(str or os.PathLike\), got int 3"),
    ({"history": {"acc": [0.5]}}, ValueError, r"history must be the History that fit returns"),
    ({"history": {"loss": []}}, ValueError, r"history must be .* at least one epoch"),
    ({"title": None}, TypeError, r"title must be a str, got NoneType None"),
    ({"dpi": 0}, ValueError, r"dpi must be > 0, got 0"),
    ({"dpi": 72.5}, TypeError, r"dpi must be an integer"),
    ({"metric_name": 1}, TypeError, r"metric_name must be a str"),
    ({"boundary": (None, None)}, TypeError, r"boundary must be \(classify, probability, "),
    ({"boundary": (None, None, None, None)}, TypeError,
     r"boundary must start with two functions"),
    ({"boundary": (len, None, np.zeros((3, 2)), (np.zeros((2, 2)), np.zeros(2)))}, TypeError,
     r"boundary's train points must be a pair \(X, y\)"),
    ({"boundary": (len, None, (np.zeros((3, 3)), np.zeros(3)), (np.zeros((2, 2)), np.zeros(2)))},
     ValueError, r"boundary's train points must be X \(n, 2\) .* got X of shape \(3, 3\)"),
    ({"boundary": (len, None, (np.zeros((3, 2)), np.zeros(3)), (np.zeros((2, 2)), [0, 9]))},
     ValueError, r"boundary's test classes y must be 0 to 5"),
])
def test_bad_arguments_name_the_argument(tmp_path, kwargs, error, words):
    kwargs = {"path": tmp_path / "x.png", "history": HISTORY, "title": "t", **kwargs}
    with pytest.raises(error, match=words):
        save_plot(**kwargs)
    assert not (tmp_path / "x.png").exists()


def test_without_matplotlib_the_error_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib now fails
    with pytest.raises(MissingMatplotlibError, match=r"pip install -e '\.\[plot\]'"):
        save_plot(tmp_path / "x.png", HISTORY, "t")
    assert not (tmp_path / "x.png").exists()
    assert issubclass(MissingMatplotlibError, ImportError)


def test_plotting_public_names():
    assert {"pyplot", "save_plot", "MissingMatplotlibError", "FIGSIZE", "DEFAULT_DPI",
            "PLAYGROUND_COLORS"} <= set(plotting.__all__)
    assert all(hasattr(plotting, name) for name in plotting.__all__)
