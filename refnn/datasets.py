"""Data sets: the IDX (MNIST-format) file reader, MNIST and Fashion-MNIST from local files,
and the toy 2-D sets of TensorFlow Playground.

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

Toy sets: `spirals`, `circles`, `xor`, `blobs`, each `name(n_samples, noise, seed) -> (X, y)` with
X float64 (n, 2) and y int64 (n,) class indices, classes as balanced as n allows, rows in a
random order fixed by `seed`. `noise` follows the Playground's slider (0 to 0.5 there, 0 to 50 %).

CSV files: `load_csv(path, target=None, drop=(), task="auto")` reads a file with a header row
into a float64 feature matrix (columns of text one-hot encoded) and a target: class indices, or
real numbers for a regression. Nothing is split or scaled (refnn.utils.split does the split).
"""
import csv
import gzip
import math
import os
import zlib
from dataclasses import dataclass

import numpy as np

from ._validate import as_dtype, choice, flag, positive_int, positive_number

__all__ = ["load_idx", "IDXFormatError", "fashion_mnist", "mnist", "FASHION_MNIST_CLASSES",
           "spirals", "circles", "xor", "blobs", "TOY_DATASETS", "load_csv", "CSVData",
           "CSV_MAX_CLASSES"]

# ---------------------------------------------------------------------------
# IDX files
# ---------------------------------------------------------------------------

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


def _parse_idx(f, name):
    """Read one IDX stream; `name` is the file name used in error messages."""
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
    data = _read_up_to(f, nbytes)
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


def load_idx(path):
    """Read an IDX (MNIST-format) file, plain or gzipped, into a NumPy array.

    Returns a C-contiguous, writeable array in the machine's byte order with the file's shape
    and element type (uint8, int8, int16, int32, float32 or float64).
    Raises FileNotFoundError if the file does not exist and IDXFormatError (a ValueError)
    naming the file if it is not a complete, well-formed IDX file: bad magic number, unknown
    element type, no or too many dimensions, truncated header or data, data left over after
    the declared shape, a damaged gzip stream.
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file name (str or os.PathLike), "
                        f"got {type(path).__name__} {path!r}")
    name = os.fsdecode(path)
    with open(path, "rb") as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if not compressed:
            return _parse_idx(raw, name)
        try:
            with gzip.GzipFile(fileobj=raw, mode="rb") as f:
                return _parse_idx(f, name)
        except (EOFError, zlib.error, gzip.BadGzipFile) as e:
            raise IDXFormatError(f"{name}: damaged gzip stream: {e}") from None


# ---------------------------------------------------------------------------
# MNIST and Fashion-MNIST
# ---------------------------------------------------------------------------

FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DATA_ENV = "REFNN_DATA"
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


def fashion_mnist(path=None, normalize=True, dtype="float32", flatten=False):
    """Fashion-MNIST (Zalando): 70000 grey 28x28 images of 10 kinds of clothing.

    Returns ((x_train, y_train), (x_test, y_test)) like keras.datasets.fashion_mnist.load_data():
    x_train (60000, 28, 28), x_test (10000, 28, 28); y uint8 labels 0-9, names in
    FASHION_MNIST_CLASSES.
    normalize  True: x as `dtype` ('float32' or 'float64') in [0, 1] (pixel / 255);
               False: x as stored, uint8 0-255 (`dtype` is then unused)
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


def mnist(path=None, normalize=True, dtype="float32", flatten=False):
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


# ---------------------------------------------------------------------------
# toy 2-D sets (TensorFlow Playground)
# ---------------------------------------------------------------------------

def _toy_args(n_samples, noise, seed):
    n_samples = positive_int("n_samples", n_samples)
    noise = positive_number("noise", noise, allow_zero=True)
    if seed is not None:
        seed = positive_int("seed", seed, allow_zero=True)
    return n_samples, noise, np.random.default_rng(seed)


def _class_sizes(n_samples, n_classes):
    """n_samples split as evenly as possible: the first n % k classes get one more."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (c < extra) for c in range(n_classes)]


def _shuffled(rng, X, y):
    order = rng.permutation(len(y))
    return np.ascontiguousarray(X[order]), np.ascontiguousarray(y[order])


def spirals(n_samples=500, noise=0.0, seed=0):
    """Two interleaved spirals, 1.75 turns each, radius 0 to 5.

    Class 1 at angle t, class 0 at t + pi: for sample i of the n_c in a class,
        r = 5 i / n_c,   t = 1.75 * 2 pi i / n_c,   x = (r sin t, r cos t) + noise * U(-1, 1)^2
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    X, y = [], []
    for label, delta_t, n in zip((1, 0), (0.0, np.pi), _class_sizes(n_samples, 2)):
        i = np.arange(n)
        r = 5.0 * i / max(n, 1)
        t = 1.75 * 2 * np.pi * i / max(n, 1) + delta_t
        X.append(np.column_stack([r * np.sin(t), r * np.cos(t)])
                 + noise * rng.uniform(-1, 1, size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


def circles(n_samples=500, noise=0.0, seed=0):
    """A disc inside a ring: class 1 uniform in radius [0, 2.5], class 0 in radius [3.5, 5].

    Points are drawn at uniform radius and angle (as the Playground does), then each
    coordinate moves by 5 * noise * U(-1, 1).
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    radius = 5.0
    n_inner, n_ring = _class_sizes(n_samples, 2)
    X, y = [], []
    for label, n, (r_lo, r_hi) in ((1, n_inner, (0.0, 0.5 * radius)),
                                   (0, n_ring, (0.7 * radius, radius))):
        r = rng.uniform(r_lo, r_hi, size=n)
        angle = rng.uniform(0, 2 * np.pi, size=n)
        X.append(np.column_stack([r * np.sin(angle), r * np.cos(angle)])
                 + radius * noise * rng.uniform(-1, 1, size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


def xor(n_samples=500, noise=0.0, seed=0):
    """Exclusive or of the coordinates' signs: y = 1 where x1 * x2 > 0 (1st and 3rd quadrants).

    Each coordinate is U(0, 5) plus a 0.3 padding away from the axes, with a random sign
    (the second sign chosen to give the class); then it moves by 5 * noise * U(-1, 1).
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    padding = 0.3
    X, y = [], []
    for label, n in zip((1, 0), _class_sizes(n_samples, 2)):
        magnitude = rng.uniform(0, 5, size=(n, 2)) + padding
        sign1 = rng.choice([-1.0, 1.0], size=n)
        sign2 = sign1 if label == 1 else -sign1          # sign product +1 for class 1
        X.append(magnitude * np.column_stack([sign1, sign2])
                 + 5.0 * noise * rng.uniform(-1, 1, size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


def blobs(n_samples=500, noise=0.0, seed=0, n_classes=2):
    """`n_classes` Gaussian blobs centred on a circle of radius 2 sqrt(2).

    Class c is centred at angle pi/4 + 2 pi c / n_classes, so two classes sit at (2, 2) and
    (-2, -2) as in the Playground; the variance per coordinate is 0.5 + 7 * noise (0.5 at
    noise 0, 4 at noise 0.5, the Playground's scale).
    Returns X float64 (n_samples, 2), y int64 (n_samples,).
    """
    n_samples, noise, rng = _toy_args(n_samples, noise, seed)
    n_classes = positive_int("n_classes", n_classes)
    std = math.sqrt(0.5 + 7.0 * noise)
    X, y = [], []
    for label, n in enumerate(_class_sizes(n_samples, n_classes)):
        angle = np.pi / 4 + 2 * np.pi * label / n_classes
        centre = 2 * math.sqrt(2) * np.array([np.cos(angle), np.sin(angle)])
        X.append(centre + std * rng.standard_normal(size=(n, 2)))
        y.append(np.full(n, label, dtype=np.int64))
    return _shuffled(rng, np.concatenate(X), np.concatenate(y))


TOY_DATASETS = {"spirals": spirals, "circles": circles, "xor": xor, "blobs": blobs}


# ---------------------------------------------------------------------------
# CSV files
# ---------------------------------------------------------------------------

CSV_MAX_CLASSES = 20       # task="auto": a target with more distinct whole numbers is regressed
CSV_TASKS = ("auto", "classification", "regression")
# how errors show the arguments: a format string each, taking the value
_CSV_ARGUMENT_NAMES = {"path": "path={!r}", "target": "target={!r}", "drop": "drop=[{!r}]"}


@dataclass(eq=False)
class CSVData:
    """A CSV file as numbers, as `load_csv` returns it.

    X              float64 (n, d): the feature columns, each column of text replaced by its
                   one-hot columns (one 0/1 column per value, values in sorted order)
    y              (n,): int64 class indices 0..k-1 for a classification, float64 for a regression
    task           "classification" or "regression"
    feature_names  d names, one per column of X: the header's, "column=value" for one-hot columns
    target         the name of the target column
    class_names    k names, class_names[c] the target value of class c (numbers as %g text);
                   None for a regression
    one_hot        [(column, its values), ...] for each column of text encoded, in column order
    """
    X: np.ndarray
    y: np.ndarray
    task: str
    feature_names: list
    target: str
    class_names: list
    one_hot: list


def _number(text):
    """A cell as a finite float, or None (text, empty, nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _csv_args(path, target, drop, task, max_classes, argument_names):
    """The arguments of load_csv checked, or an error naming the argument."""
    if not isinstance(path, (str, os.PathLike)) or isinstance(os.fspath(path), bytes):
        raise TypeError(f"path must be a file name (str or os.PathLike), "
                        f"got {type(path).__name__} {path!r}")
    if target is not None:
        if isinstance(target, bool) or not isinstance(target, (str, int, np.integer)):
            raise TypeError(f"target must be a column name (str), a 0-based column index (int) "
                            f"or None, got {type(target).__name__} {target!r}")
        if not isinstance(target, str):
            target = int(target)
    if isinstance(drop, (str, bytes)):
        raise TypeError(f"drop must be a list of column names such as [{drop!r}], "
                        f"got {type(drop).__name__} {drop!r}")
    try:
        drop = list(drop)
    except TypeError:
        raise TypeError(f"drop must be a list of column names, "
                        f"got {type(drop).__name__} {drop!r}") from None
    for name in drop:
        if not isinstance(name, str):
            raise TypeError(f"drop must hold column names (str), "
                            f"got {type(name).__name__} {name!r}")
    task = choice("task", task, CSV_TASKS)
    max_classes = positive_int("max_classes", max_classes)
    names = dict(_CSV_ARGUMENT_NAMES)
    if argument_names is not None:
        if (not isinstance(argument_names, dict) or not set(argument_names) <= set(names)
                or not all(isinstance(v, str) for v in argument_names.values())):
            raise TypeError(f"argument_names must be a dict from 'path', 'target' or 'drop' to "
                            f"a format string such as '--csv {{}}', got {argument_names!r}")
        names.update(argument_names)
    return os.fspath(path), target, drop, task, max_classes, names


def _read_csv_rows(path, names):
    """(column names, rows of strings) of a CSV file with a header row."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{names['path'].format(path)} is a folder; give a CSV file")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{names['path'].format(path)}: no such file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        sample = f.read(65536)
        f.seek(0)
        try:
            dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        rows = [row for row in csv.reader(f, dialect) if any(cell.strip() for cell in row)]
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and data rows, got {len(rows)} rows")
    header = [name.strip() for name in rows[0]]
    for i, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {i}: {len(row)} fields, but the header has "
                             f"{len(header)}")
    return header, [[cell.strip() for cell in row] for row in rows[1:]]


def _target_column(header, target, path, names):
    """The target column's index: by name first, then as an integer (negative from the end)."""
    if target is None:
        return len(header) - 1
    if target in header:
        return header.index(target)
    try:
        index = int(target)
    except ValueError:
        raise ValueError(f"{path} has no column {target!r}; its columns: "
                         f"{', '.join(header)}") from None
    if not -len(header) <= index < len(header):
        raise ValueError(f"{names['target'].format(index)} is out of range: {path} has "
                         f"{len(header)} columns (0 to {len(header) - 1})")
    return index % len(header)


def _feature_matrix(path, header, rows, columns, names):
    """The feature columns as numbers: a numeric column as it is, a column of text only
    one-hot encoded (one 0/1 column per value, named column=value)."""
    blocks, feature_names, one_hot = [], [], []
    for c in columns:
        values = [_number(row[c]) for row in rows]
        if all(v is not None for v in values):
            blocks.append(np.array(values)[:, None])
            feature_names.append(header[c])
        elif all(v is None for v in values):
            levels = sorted(set(row[c] for row in rows))
            blocks.append(np.array([[row[c] == v for v in levels] for row in rows], dtype=float))
            feature_names += [f"{header[c]}={v}" for v in levels]
            one_hot.append((header[c], levels))
        else:
            i = next(i for i, v in enumerate(values) if v is None)
            raise ValueError(f"{path}, line {i + 2}, column {header[c]!r}: expected a number, "
                             f"got {rows[i][c]!r} (the column holds numbers elsewhere; fix the "
                             f"value, or leave the column out with "
                             f"{names['drop'].format(header[c])})")
    return np.hstack(blocks), feature_names, one_hot


def load_csv(path, target=None, drop=(), task="auto", max_classes=CSV_MAX_CLASSES, *,
             argument_names=None):
    """Read a CSV file with a header row into features X and a target y: a CSVData.

    path         the file. The delimiter (comma, semicolon or tab) is detected; a UTF-8
                 byte-order mark, blank lines and spaces around cells are ignored.
    target       the column to predict: its name, or its 0-based index (an int, or text such as
                 "-1" when no column has that name; negative counts from the end);
                 None: the last column
    drop         names of columns to leave out, e.g. ["id"]
    task         "classification": y[i] is the index of row i's target value among the sorted
                 distinct values; "regression": y is the target as numbers; "auto":
                 classification when the target holds text or at most `max_classes` distinct
                 whole numbers, else regression
    Every other column is a feature: a column of numbers as it is, a column of text one-hot
    encoded. Nothing is split or scaled: refnn.utils.split(X, y, ...) splits.
    argument_names  how errors show path, target and drop: a format string each, taking the
                 value; by default "path={!r}", "target={!r}", "drop=[{!r}]". A command line
                 passes its flags, e.g. {"path": "--csv {}", "drop": "--drop {}"}.

    Raises FileNotFoundError (no such file), IsADirectoryError (a folder), ValueError naming
    the file (and the line and column where there is one) when the contents do not fit: fewer
    than two rows, a row with the wrong number of fields, an unknown or out-of-range target, a
    dropped column that is missing or is the target, no feature column, a number column with
    text in it, a target with a single value, a regression target that is not a number;
    TypeError or ValueError for an argument of the wrong type or value.
    """
    path, target, drop, task, max_classes, names = _csv_args(path, target, drop, task,
                                                             max_classes, argument_names)
    header, rows = _read_csv_rows(path, names)
    t = _target_column(header, target, path, names)
    for name in drop:
        if name not in header:
            raise ValueError(f"{names['drop'].format(name)}: {path} has no such column; "
                             f"its columns: {', '.join(header)}")
        if header.index(name) == t:
            raise ValueError(f"{names['drop'].format(name)} is the target column")
    features = [c for c in range(len(header)) if c != t and header[c] not in drop]
    if not features:
        raise ValueError(f"{path} has no feature columns besides the target {header[t]!r}")
    X, feature_names, one_hot = _feature_matrix(path, header, rows, features, names)
    raw = [row[t] for row in rows]
    target_numbers = [_number(v) for v in raw]
    numeric = all(v is not None for v in target_numbers)
    if task == "auto":
        few_integers = numeric and all(v == round(v) for v in target_numbers) and \
            len(set(target_numbers)) <= max_classes
        task = "classification" if (not numeric or few_integers) else "regression"
    if task == "regression":
        if not numeric:
            i = next(i for i, v in enumerate(target_numbers) if v is None)
            raise ValueError(f"{path}, line {i + 2}: the regression target {header[t]!r} must "
                             f"be a number, got {raw[i]!r}")
        y = np.array(target_numbers)
        class_names = None
    else:
        keys = target_numbers if numeric else raw
        values = sorted(set(keys))
        if len(values) < 2:
            raise ValueError(f"the target {header[t]!r} has a single value {values[0]!r}; "
                             f"there is nothing to learn")
        index = {v: k for k, v in enumerate(values)}
        y = np.array([index[v] for v in keys], dtype=np.int64)
        class_names = [f"{v:g}" if numeric else v for v in values]
    return CSVData(X=X, y=y, task=task, feature_names=feature_names, target=header[t],
                   class_names=class_names, one_hot=one_hot)
