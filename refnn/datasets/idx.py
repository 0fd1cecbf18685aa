"""IDX files (the MNIST format) and the MNIST / Fashion-MNIST loaders built on them.

IDX format (big-endian throughout):
    byte 0-1   0x00 0x00
    byte 2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
               0x0D float32, 0x0E float64
    byte 3     number of dimensions d
    then d dimension sizes as uint32, then prod(sizes) elements, row-major.
`load_idx` reads plain or gzipped files (recognised by their content, not their name), checks
every field against the file and raises IDXFormatError (a ValueError) naming the file. It only
reads bytes: nothing in a file is ever executed or unpickled.

Nothing is downloaded. `fashion_mnist()` and `mnist()` look for the four files in, in order:
    1. the folder `path=` (or its sub-folder `fashion-mnist` / `mnist`), when given;
       then nowhere else
    2. $REFNN_DATA/fashion-mnist (or $REFNN_DATA/mnist), when the environment variable is set
    3. /usr/share/datasets/fashion-mnist (or .../mnist), where the Debian package
       dataset-fashion-mnist installs Fashion-MNIST (`apt-get install dataset-fashion-mnist`)
and, when they are not found, raise FileNotFoundError saying where they looked and how to get them.
"""
from __future__ import annotations

import gzip
import math
import os
import stat
import zlib
from typing import Any

import numpy as np
from numpy.typing import DTypeLike, NDArray

from .._validate import as_dtype, flag

__all__ = ["load_idx", "IDXFormatError", "fashion_mnist", "mnist", "FASHION_MNIST_CLASSES",
           "MNIST_FILES", "DATA_ENV", "DEBIAN_DATA_DIR"]

# type byte -> big-endian element dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
MAX_IDX_DIMS = 32          # NumPy's portable limit on the number of dimensions
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 24           # read data in 16 MiB pieces, so a lying header cannot allocate first
GZIP_EXPANSION = 64        # a gzipped file may hold up to 64 times its size, plus 64 MiB
GZIP_ALLOWANCE = 64 << 20  # (MNIST's images: 4.8 times; a file of zeros: about 1,000 times)


_FILE_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFIFO: "a FIFO", stat.S_IFCHR: "a device",
               stat.S_IFBLK: "a device", stat.S_IFSOCK: "a socket"}


class IDXFormatError(ValueError):
    """A file is not a well-formed IDX file (bad magic, truncated, wrong size, ...)."""


def _read_up_to(f, n):
    """At most n bytes from f; fewer only at the end of the file."""
    pieces, remaining = [], n
    while remaining > 0:
        piece = f.read(min(remaining, _CHUNK))
        if not piece:
            break
        pieces.append(piece)
        remaining -= len(piece)
    return b"".join(pieces)


def _parse_idx(f, name, max_bytes, size=None):
    """Read one IDX stream; `name` is the file name used in error messages; at most max_bytes
    of data (what the header declares is checked against it before anything is read), and for
    a plain file of `size` bytes no more than it holds."""
    magic = f.read(4)
    if len(magic) < 4:
        raise IDXFormatError(f"{name}: truncated IDX header: expected 4 magic bytes, "
                             f"the file has {len(magic)}")
    if magic[0] != 0 or magic[1] != 0:
        raise IDXFormatError(f"{name}: bad IDX magic number 0x{magic.hex()}: the first two bytes "
                             f"must be 0x00 0x00 (is this an IDX file?)")
    code, ndim = magic[2], magic[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X} {dt.name}" for c, dt in IDX_DTYPES.items())
        raise IDXFormatError(f"{name}: unknown IDX element type 0x{code:02X}; valid: {valid}")
    if not 1 <= ndim <= MAX_IDX_DIMS:
        raise IDXFormatError(f"{name}: IDX header declares {ndim} dimensions, expected "
                             f"1 to {MAX_IDX_DIMS}")
    raw_shape = f.read(4 * ndim)
    if len(raw_shape) < 4 * ndim:
        raise IDXFormatError(f"{name}: truncated IDX header: {ndim} dimensions need "
                             f"{4 * ndim} bytes of sizes, the file has {len(raw_shape)}")
    shape = tuple(int(s) for s in np.frombuffer(raw_shape, dtype=">u4"))
    dtype = IDX_DTYPES[code]
    nbytes = math.prod(shape) * dtype.itemsize            # Python int: no overflow
    if nbytes > max_bytes:
        raise IDXFormatError(f"{name}: the header declares {nbytes:,} bytes of data (shape "
                             f"{shape} of {dtype.name}), more than this file can hold "
                             f"({max_bytes:,} bytes; load_idx's max_bytes allows more)")
    data = _read_up_to(f, nbytes) if size is None else _read_up_to(f, min(nbytes, size - f.tell()))
    if len(data) < nbytes:
        raise IDXFormatError(f"{name}: truncated IDX data: shape {shape} of {dtype.name} needs "
                             f"{nbytes} bytes after the header, the file has {len(data)}")
    if f.read(1):
        raise IDXFormatError(f"{name}: size mismatch: the file holds more than the {nbytes} "
                             f"bytes of data that the header's shape {shape} of {dtype.name} "
                             f"declares")
    # big-endian as stored -> the machine's own byte order, in a new writeable array
    return np.frombuffer(data, dtype=dtype).astype(dtype.newbyteorder("="), copy=True) \
        .reshape(shape)


def load_idx(path: str | os.PathLike[str], max_bytes: int | None = None) -> NDArray[Any]:
    """Read an IDX (MNIST-format) file, plain or gzipped, into a NumPy array.

    Returns a C-contiguous, writeable array in the machine's byte order with the file's shape
    and element type (uint8, int8, int16, int32, float32 or float64).
    Raises FileNotFoundError if the file does not exist and IDXFormatError (a ValueError)
    naming the file if it is not a regular file or not a complete, well-formed IDX file: bad
    magic number, unknown element type, no or too many dimensions, truncated header or data,
    data left over after the declared shape, a damaged gzip stream.

    The data may be at most `max_bytes` bytes; by default, any size for a plain file (it is
    read in pieces, so never more than it holds), and for a gzipped file GZIP_EXPANSION times
    its size plus GZIP_ALLOWANCE (64 times plus 64 MiB; MNIST's images expand 4.8 times): a
    small file that declares a huge shape is refused before anything is allocated. Pass
    max_bytes for a file that expands more.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike), "
                        f"got {type(path).__name__} {path!r}")
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, int)
                                  or max_bytes < 0):
        raise TypeError(f"max_bytes must be None or an integer >= 0, got {max_bytes!r}")
    name = os.fsdecode(path)
    kind = stat.S_IFMT(os.stat(path).st_mode)        # FileNotFoundError as documented
    if kind != stat.S_IFREG:                         # a FIFO would block, /dev/zero never end
        raise IDXFormatError(f"{name}: not a regular file ({_FILE_KINDS.get(kind, 'special')})")
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:                  # read in pieces: never more than the file holds
            return _parse_idx(raw, name, math.inf if max_bytes is None else max_bytes, size)
        budget = GZIP_EXPANSION * size + GZIP_ALLOWANCE if max_bytes is None else max_bytes
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _parse_idx(f, name, budget)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise IDXFormatError(f"{name}: damaged gzip stream: {e}") from None



# ---------------------------------------------------------------------------
# MNIST and Fashion-MNIST
# ---------------------------------------------------------------------------

# ((x_train, y_train), (x_test, y_test)), as Keras's load_data()
TrainTest = tuple[tuple[NDArray[Any], NDArray[Any]], tuple[NDArray[Any], NDArray[Any]]]
#: Fashion-MNIST's class names, by label 0-9
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
#: the four IDX files of MNIST and Fashion-MNIST (optionally .gz)
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
#: the environment variable naming a folder to look for the data sets in
DATA_ENV = "REFNN_DATA"
#: where Debian's dataset packages install the data sets
DEBIAN_DATA_DIR = "/usr/share/datasets"    # dataset-fashion-mnist installs into fashion-mnist/
_N_CLASSES = 10


def _find_file(folder, stem):
    """folder/stem or folder/stem.gz (the plain file first), or None."""
    for fname in (stem, stem + ".gz"):
        candidate = os.path.join(folder, fname)
        if os.path.isfile(candidate):
            return candidate
    return None


def _candidate_folders(subdir, path):
    if path is not None:
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a folder name (str or os.PathLike) or None, "
                            f"got {type(path).__name__} {path!r}")
        folder = os.path.expanduser(os.fspath(path))
        return [folder, os.path.join(folder, subdir)]
    folders = []
    root = os.environ.get(DATA_ENV)
    if root:
        folders.append(os.path.join(os.path.expanduser(root), subdir))
    folders.append(os.path.join(DEBIAN_DATA_DIR, subdir))
    return folders


def _locate(subdir, path, how_to_get):
    """The four file paths from the first folder that holds all of them."""
    looked = []
    for folder in _candidate_folders(subdir, path):
        if not os.path.isdir(folder):
            looked.append(f"  {folder} (no such folder)")
            continue
        files = [_find_file(folder, stem) for stem in MNIST_FILES]
        if all(files):
            return files
        missing = ", ".join(stem + "[.gz]" for stem, f in zip(MNIST_FILES, files) if f is None)
        looked.append(f"  {folder} (missing {missing})")
    raise FileNotFoundError(f"{subdir} data not found. Looked in:\n" + "\n".join(looked)
                            + f"\nThe folder must hold {', '.join(MNIST_FILES)} "
                              f"(each plain or .gz). {how_to_get}")



def _load_split(images_file, labels_file):
    x = load_idx(images_file)
    y = load_idx(labels_file)
    if x.dtype != np.uint8 or x.ndim != 3:
        raise ValueError(f"{images_file}: expected uint8 images of shape (n, rows, cols), "
                         f"got {x.dtype.name} of shape {x.shape}")
    if y.dtype != np.uint8 or y.ndim != 1:
        raise ValueError(f"{labels_file}: expected uint8 labels of shape (n,), "
                         f"got {y.dtype.name} of shape {y.shape}")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{images_file} holds {x.shape[0]} images but {labels_file} holds "
                         f"{y.shape[0]} labels")
    if y.size and y.max() >= _N_CLASSES:
        i = int(np.argmax(y >= _N_CLASSES))
        raise ValueError(f"{labels_file}: labels must be 0 to {_N_CLASSES - 1}, "
                         f"got {y[i]} at index {i}")
    return x, y


def _load_mnist_format(subdir, path, normalize, dtype, flatten, how_to_get):
    normalize = flag("normalize", normalize)
    flatten = flag("flatten", flatten)
    dtype = as_dtype("dtype", dtype)
    train_x, train_y, test_x, test_y = _locate(subdir, path, how_to_get)
    splits = []
    for images_file, labels_file in ((train_x, train_y), (test_x, test_y)):
        x, y = _load_split(images_file, labels_file)
        if flatten:
            x = x.reshape(x.shape[0], -1)
        if normalize:
            x = x.astype(dtype)
            x /= 255                    # pixel 0..255 -> [0, 1]
        splits.append((x, y))
    return tuple(splits)


def fashion_mnist(path: str | os.PathLike[str] | None = None, normalize: bool = False,
                  dtype: DTypeLike = "float32", flatten: bool = False) -> TrainTest:
    """Fashion-MNIST (Zalando): 70000 grey 28x28 images of 10 kinds of clothing.

    Returns ((x_train, y_train), (x_test, y_test)) as keras.datasets.fashion_mnist.load_data()
    does: x_train (60000, 28, 28), x_test (10000, 28, 28), uint8 pixels 0-255 (scale them,
    e.g. x / 255.0, as with Keras); y uint8 labels 0-9, names in FASHION_MNIST_CLASSES.
    normalize  True: x as `dtype` ('float32' or 'float64') in [0, 1] (pixel / 255) instead;
               False (default, as Keras): x as stored, uint8 0-255 (`dtype` is then unused)
    flatten    True: x of shape (n, 784) instead of (n, 28, 28)
    path       a folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte,
               t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each plain or .gz), or holding
               them in a sub-folder fashion-mnist. Without it: $REFNN_DATA/fashion-mnist,
               then /usr/share/datasets/fashion-mnist (`apt-get install dataset-fashion-mnist`).
    Raises FileNotFoundError naming the folders searched when the files are not there.
    """
    return _load_mnist_format(
        "fashion-mnist", path, normalize, dtype, flatten,
        "Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu; it goes to "
        f"{os.path.join(DEBIAN_DATA_DIR, 'fashion-mnist')}), or pass path= a folder holding "
        f"the four files, or set {DATA_ENV} to a folder with a fashion-mnist sub-folder.")


def mnist(path: str | os.PathLike[str] | None = None, normalize: bool = False,
          dtype: DTypeLike = "float32", flatten: bool = False) -> TrainTest:
    """MNIST: 70000 grey 28x28 images of handwritten digits 0-9.

    Same arguments and result as `fashion_mnist` (keras.datasets.mnist.load_data()); the
    folders searched without `path=` are $REFNN_DATA/mnist, then /usr/share/datasets/mnist.
    Raises FileNotFoundError naming the folders searched when the files are not there.
    """
    return _load_mnist_format(
        "mnist", path, normalize, dtype, flatten,
        "No Debian package ships MNIST in this layout: get the four IDX files of the MNIST "
        "database and pass path= the folder holding them (or set "
        f"{DATA_ENV} to a folder with a mnist sub-folder).")
