"""Optional pictures (matplotlib is an extra: pip install -e '.[plot]').

Everything that draws imports matplotlib through `pyplot()`, so that refnn itself runs
without it and `--plot` says how to get it."""


class MissingMatplotlibError(ImportError):
    """matplotlib is not installed."""


def pyplot():
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
