"""Whether the compiled kernels were built from the sources beside them (standard library only:
setup.py loads this file by its path at build time).

An in-place build writes STAMP, the digest of src_c/ it compiled. On import, in a source tree,
refnn.kernels compares it with the digest of src_c/ as it is now: extensions built from other
sources (a checkout or an edit since the last build, or a build that failed) would run code
the tree no longer holds, so the import stops and says what to run. An installed package has
no src_c/ beside it and is not checked.
"""
import hashlib
import json
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
SOURCES = PACKAGE.parent / "src_c"
STAMP = PACKAGE / "_build_stamp.json"
PATTERNS = ("*.pyx", "*.pxd", "*.pxi", "*.h")


def digest(folder=SOURCES):
    """SHA-256 over the names and contents of the sources setup.py compiles."""
    h = hashlib.sha256()
    for path in sorted(p for pattern in PATTERNS for p in Path(folder).glob(pattern)):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def write_stamp(stamp=STAMP, folder=SOURCES):
    stamp.write_text(json.dumps({"sources": digest(folder)}) + "\n")


def staleness(stamp=STAMP, folder=SOURCES):
    """None when the extensions match the sources (or there is no source tree), else why not."""
    if not (Path(folder) / "_train.pyx").is_file():
        return None                                   # an installed package
    try:
        built = json.loads(stamp.read_text())["sources"]
    except (OSError, ValueError, KeyError, TypeError):
        if not any(Path(stamp).parent.glob("_train.*.so")) and \
                not any(Path(stamp).parent.glob("_train.*.pyd")):
            return None                  # nothing built: the import says they are missing
        return "no record of the sources they were built from"
    if built != digest(folder):
        return "src_c/ changed since they were built"
    return None
