"""Sphinx configuration: the API reference from the docstrings, the markdown pages beside it.

refnn's docstrings are written to be read as plain text (help(), an editor's tooltip): the
formula on the first line, the lecture's symbols with underscores (w_ij, h_k), |x| for norms,
tables aligned by spaces. reStructuredText would read those as references, substitutions and
block quotes, so a docstring is shown here as written, in a literal block, unless it is written
for napoleon (an "Args:", "Returns:", ... section, Google or NumPy style): then it is rendered.

Build with `sphinx-build -W -b html docs docs/_build/html` (warnings are errors); the docs extra
(`pip install -e '.[docs]'`) installs what it needs.
"""
import inspect
import pathlib
import pkgutil
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))           # the tree's refnn, its compiled modules built in place

import refnn  # noqa: E402
# refnn.callbacks_keras and refnn.loss_functions import through these two, which come first
import refnn.callbacks  # noqa: E402,F401
import refnn.losses  # noqa: E402,F401

project = "refnn"
author = "the refnn authors"
copyright = "the refnn authors, MIT License"
release = version = refnn.__version__

extensions = ["sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx.ext.mathjax", "myst_parser"]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build"]

myst_heading_anchors = 3                # the pages' [text](#heading) links
myst_enable_extensions = ["dollarmath"]

autodoc_default_options = {"members": True, "undoc-members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"         # the hints stay in the signature; the prose explains them
autodoc_typehints_format = "short"
# type aliases by their names, not unfolded into the unions they stand for: NumPy's, and refnn's
# own (defined beside their use, e.g. refnn.datasets.toy.Points)
autodoc_type_aliases = {name: f"numpy.typing.{name}"
                        for name in ("ArrayLike", "DTypeLike", "NDArray")}
autodoc_type_aliases.update({name: name for name in ("Points", "TrainTest", "Split", "Steps",
                                                     "Objective", "Classifier", "Bounds")})
autodoc_preserve_defaults = True        # defaults as written (DEFAULT_SEED, not 0)
napoleon_google_docstring = True
napoleon_numpy_docstring = True

html_theme = "alabaster"
html_title = f"refnn {release}"

# a napoleon section heading: "Args:" (Google style) or "Parameters" over a line of dashes (NumPy)
_SECTION = re.compile(r"^\s*(Args|Arguments|Parameters|Returns|Yields|Raises|Attributes|Examples?"
                      r"|Notes|See Also|Warns|Warnings)(:\s*$|\s*\n\s*-{3,}\s*$)", re.MULTILINE)


def docstring_as_written(app, what, name, obj, options, lines):
    """A plain-text docstring becomes a literal block; one written for napoleon is left to it.
    A constant shows its own comment, never the docstring of its type (tuple's, int's)."""
    type_doc = getattr(type(obj), "__doc__", None)
    if what in ("data", "attribute") and isinstance(type_doc, str) and \
            "\n".join(lines).strip() == inspect.cleandoc(type_doc).strip():
        lines[:] = []
    if not lines or _SECTION.search("\n".join(lines)):
        return
    lines[:] = ["::", ""] + [f"    {line}" if line.strip() else "" for line in lines] + [""]


def skip_scikit_learn_members(app, what, name, obj, skip, options):
    """The methods scikit-learn adds to every estimator (set_fit_request, ...) are documented by
    scikit-learn, not here."""
    if getattr(obj, "__module__", "") and obj.__module__.startswith("sklearn."):
        return True
    return None


def alias_names(app, what, name, obj, options, signature, return_annotation):
    """An alias inside a generic (Sequence[ArrayLike]) by its name, as outside one."""
    def named(text):
        return text and re.sub(r"TypeAliasForwardRef\('([\w.]+)'\)", r"\1", text)
    return named(signature), named(return_annotation)


def public_modules():
    """refnn's public modules: no part of the dotted name starts with _, and not the command
    line (docs/tour.md documents its commands)."""
    return {"refnn"} | {m.name for m in pkgutil.walk_packages(refnn.__path__, "refnn.")
                        if not any(p.startswith("_") for p in m.name.split(".")[1:])
                        and not m.name.startswith("refnn.cli")}


def add_unlisted_modules(app, docname, source):
    """api/more: an automodule for each public module that no page of docs/api lists."""
    if docname != "api/more":
        return
    listed = set()
    for page in (ROOT / "docs" / "api").glob("*.rst"):
        listed |= set(re.findall(r"^\.\. automodule:: (\S+)", page.read_text(), re.MULTILINE))
    missing = sorted(public_modules() - listed)
    source[0] += "".join(f"\n.. automodule:: {name}\n" for name in missing) or \
        "\nEvery public module is on one of the pages above.\n"


def setup(app):
    app.connect("source-read", add_unlisted_modules)
    app.connect("autodoc-process-signature", alias_names)
    app.connect("autodoc-process-docstring", docstring_as_written, priority=100)   # before napoleon
    app.connect("autodoc-skip-member", skip_scikit_learn_members)
