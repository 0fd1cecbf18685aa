"""Data: the IDX reader against files written here byte by byte with struct (an independent
writer), bad and damaged files, the MNIST/Fashion-MNIST folder search, the real Fashion-MNIST
when installed, the toy 2-D sets, CSV files written by hand with their numbers worked out, and
the helpers of refnn.utils (one-hot, splits)."""
import gzip
import math
import os
import pathlib
import re
import struct
import zlib

import numpy as np
import pytest

from refnn import datasets, utils
from refnn.datasets import IDXFormatError, load_idx
from refnn.utils import holdout_last, split, to_categorical

# ---------------------------------------------------------------------------
# an IDX writer of our own: the format spelled out with struct, no NumPy byte order involved
# ---------------------------------------------------------------------------

# dtype name -> (IDX type byte, struct format letter)
IDX_TYPES = {
    "uint8": (0x08, "B"),
    "int8": (0x09, "b"),
    "int16": (0x0B, "h"),
    "int32": (0x0C, "i"),
    "float32": (0x0D, "f"),
    "float64": (0x0E, "d"),
}


def idx_bytes(values, shape, type_name, ndim=None):
    """Magic (0, 0, type, ndim), sizes as big-endian uint32, values big-endian."""
    code, letter = IDX_TYPES[type_name]
    ndim = len(shape) if ndim is None else ndim
    header = struct.pack(">BBBB", 0, 0, code, ndim) + struct.pack(f">{len(shape)}I", *shape)
    return header + struct.pack(f">{len(values)}{letter}", *values)


def write(path, payload, compress=False):
    path.write_bytes(gzip.compress(payload) if compress else payload)
    return path


def sample_values(type_name, size, rng):
    """Python numbers covering the type's range, ends included when there is room."""
    if type_name.startswith("float"):
        # multiples of 1/8 are exact in float32 and float64
        values = (rng.integers(-4000, 4000, size) / 8).tolist()
    else:
        info = np.iinfo(type_name)
        values = rng.integers(info.min, info.max, size, endpoint=True).tolist()
        values[:2] = [info.min, info.max][:size]
    return values[:size]


SHAPES = [(7,), (3, 4), (2, 3, 5), (2, 1, 3, 2), (0, 4)]


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("type_name", list(IDX_TYPES))
def test_load_idx_reads_back_what_was_written(tmp_path, type_name, shape, compress):
    rng = np.random.default_rng(zlib.crc32(f"{type_name}{shape}".encode()))
    values = sample_values(type_name, math.prod(shape), rng)
    path = write(tmp_path / ("data.idx" + (".gz" if compress else "")),
                 idx_bytes(values, shape, type_name), compress)
    arr = load_idx(path)
    assert arr.dtype == np.dtype(type_name) and arr.dtype.isnative
    assert arr.shape == shape
    assert arr.flags.c_contiguous and arr.flags.writeable
    np.testing.assert_array_equal(arr, np.array(values, dtype=type_name).reshape(shape))


def test_load_idx_is_big_endian(tmp_path):
    # written out by hand: int16, 1 dimension of size 3, values 0x0102, 0xFFFE, 0x7FFF
    raw = bytes([0, 0, 0x0B, 1, 0, 0, 0, 3, 0x01, 0x02, 0xFF, 0xFE, 0x7F, 0xFF])
    arr = load_idx(write(tmp_path / "be.idx", raw))
    np.testing.assert_array_equal(arr, [258, -2, 32767])
    # int32 0x01020304 and float64 1.5 = 0x3FF8000000000000
    arr = load_idx(write(tmp_path / "i4.idx", bytes([0, 0, 0x0C, 1, 0, 0, 0, 1, 1, 2, 3, 4])))
    assert arr.tolist() == [16909060]
    arr = load_idx(write(tmp_path / "f8.idx",
                         bytes([0, 0, 0x0E, 1, 0, 0, 0, 1, 0x3F, 0xF8, 0, 0, 0, 0, 0, 0])))
    assert arr.tolist() == [1.5]


@pytest.mark.parametrize("type_name", ["float32", "float64"])
def test_load_idx_keeps_special_floats(tmp_path, type_name):
    values = [0.0, -0.0, math.inf, -math.inf, math.nan, 1e-40, -3.25]
    arr = load_idx(write(tmp_path / "f.idx", idx_bytes(values, (7,), type_name)))
    expected = np.array(values, dtype=type_name)
    np.testing.assert_array_equal(arr, expected)                # NaN == NaN here
    assert np.signbit(arr[1]) and not np.signbit(arr[0])


def test_load_idx_recognises_gzip_by_content_not_name(tmp_path):
    payload = idx_bytes([1, 2, 3, 4], (2, 2), "uint8")
    plain_named_gz = write(tmp_path / "plain.gz", payload)
    gzip_named_plain = write(tmp_path / "packed.idx", payload, compress=True)
    for path in (plain_named_gz, gzip_named_plain, str(gzip_named_plain)):
        np.testing.assert_array_equal(load_idx(path), [[1, 2], [3, 4]])


TRUNCATED_GZ = "truncated-gzip"
BAD_FILES = {
    # name: (file content, words the error must contain)
    "empty": (b"", "truncated IDX header"),
    "3 bytes": (b"\x00\x00\x08", "truncated IDX header"),
    "bad magic": (b"\x01\x02\x08\x01" + struct.pack(">I", 1) + b"\x05", "bad IDX magic"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(16), "bad IDX magic"),
    "pickle": (b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.", "bad IDX magic"),
    "unknown type": (b"\x00\x00\x0A\x01" + struct.pack(">I", 1) + b"\x05", "element type 0x0A"),
    "zero dims": (b"\x00\x00\x08\x00" + b"\x05", "0 dimensions"),
    "too many dims": (b"\x00\x00\x08\x28" + struct.pack(">40I", *[1] * 40) + b"\x05",
                      "40 dimensions"),
    "short sizes": (b"\x00\x00\x08\x02" + struct.pack(">I", 3), "truncated IDX header"),
    "short data": (idx_bytes([1, 2, 3, 4, 5], (5,), "int16")[:-1], "truncated IDX data"),
    "extra data": (idx_bytes([1, 2, 3, 4, 5], (5,), "uint8") + b"\x00", "size mismatch"),
    "header larger than data": (struct.pack(">BBBB2I", 0, 0, 0x08, 2, 2, 4) + bytes(6),
                                "truncated IDX data"),
    "huge shape": (b"\x00\x00\x0E\x03" + struct.pack(">3I", 2**32 - 1, 2**32 - 1, 2**32 - 1)
                   + bytes(64), "truncated IDX data|more than this file can hold"),
}


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("case", list(BAD_FILES))
def test_load_idx_rejects_bad_files_naming_them(tmp_path, case, compress):
    content, words = BAD_FILES[case]
    path = write(tmp_path / f"bad-{case.replace(' ', '_')}.idx", content, compress)
    with pytest.raises(IDXFormatError, match=words) as info:
        load_idx(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("damage", ["cut end", "cut half", "flipped byte", "bad crc", "garbage"])
def test_load_idx_rejects_damaged_gzip(tmp_path, damage):
    data = np.random.default_rng(1).integers(0, 256, 1000).tolist()
    gz = gzip.compress(idx_bytes(data, (10, 100), "uint8"))
    damaged = {"cut end": gz[:-10],
               "cut half": gz[:len(gz) // 2],
               "flipped byte": gz[:30] + bytes([gz[30] ^ 0xFF]) + gz[31:],
               "bad crc": gz[:-8] + bytes([gz[-8] ^ 1]) + gz[-7:],
               "garbage": gz + b"not gzip"}[damage]
    path = write(tmp_path / "damaged.gz", damaged)
    with pytest.raises(IDXFormatError) as info:
        load_idx(path)
    assert str(path) in str(info.value)
    if damage != "flipped byte":        # a flip can also surface as a short IDX body
        assert "gzip" in str(info.value)


def test_load_idx_missing_file_and_bad_path(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.idx"):
        load_idx(tmp_path / "nothing.idx")
    with pytest.raises(TypeError, match="path must be a file name"):
        load_idx(42)


# ---------------------------------------------------------------------------
# MNIST / Fashion-MNIST folders (small fake IDX files with the real names)
# ---------------------------------------------------------------------------

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
         "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def make_mnist_folder(folder, seed=0, n_train=12, n_test=5, side=4, gz=(True, False, False, True),
                      labels_override=None):
    """Four small IDX files under the real names; returns ((x, y), (x, y)) as written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x_train = rng.integers(0, 256, (n_train, side, side), dtype=np.uint8)
    y_train = rng.integers(0, 10, n_train, dtype=np.uint8) if labels_override is None \
        else np.asarray(labels_override, dtype=np.uint8)
    x_test = rng.integers(0, 256, (n_test, side, side), dtype=np.uint8)
    y_test = rng.integers(0, 10, n_test, dtype=np.uint8)
    for name, arr, packed in zip(NAMES, (x_train, y_train, x_test, y_test), gz):
        payload = idx_bytes(arr.ravel().tolist(), arr.shape, "uint8")
        write(folder / (name + (".gz" if packed else "")), payload, packed)
    return (x_train, y_train), (x_test, y_test)


@pytest.fixture
def no_system_data(tmp_path, monkeypatch):
    """No REFNN_DATA and a Debian data folder that does not exist."""
    monkeypatch.delenv("REFNN_DATA", raising=False)
    monkeypatch.setattr(datasets.idx, "DEBIAN_DATA_DIR", str(tmp_path / "no-such-root"))


def assert_same(result, expected):
    (x_train, y_train), (x_test, y_test) = result
    (ex_train, ey_train), (ex_test, ey_test) = expected
    for got, want in ((x_train, ex_train), (y_train, ey_train), (x_test, ex_test),
                      (y_test, ey_test)):
        assert got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_fashion_mnist_from_path(tmp_path, no_system_data):
    expected = make_mnist_folder(tmp_path / "fm")
    raw = datasets.fashion_mnist(path=tmp_path / "fm")        # as Keras's load_data(): uint8
    assert_same(raw, expected)
    (x_train, y_train), (x_test, y_test) = raw
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8 and x_train.shape == (12, 4, 4)

    (x_train, y_train), (x_test, y_test) = datasets.fashion_mnist(path=str(tmp_path / "fm"),
                                                                  normalize=True)
    assert x_train.dtype == np.float32 and x_test.dtype == np.float32
    np.testing.assert_allclose(x_train, expected[0][0] / 255.0, rtol=1e-7)
    np.testing.assert_array_equal(y_test, expected[1][1])
    assert 0.0 <= x_train.min() and x_train.max() <= 1.0

    (x_train, _), (x_test, _) = datasets.fashion_mnist(path=tmp_path / "fm", dtype="float64",
                                                       flatten=True, normalize=True)
    assert x_train.dtype == np.float64 and x_train.shape == (12, 16) and x_test.shape == (5, 16)
    np.testing.assert_array_equal(x_train, expected[0][0].reshape(12, 16) / 255.0)


def test_fashion_mnist_path_may_hold_a_fashion_mnist_subfolder(tmp_path, no_system_data):
    expected = make_mnist_folder(tmp_path / "root" / "fashion-mnist", seed=3)
    assert_same(datasets.fashion_mnist(path=tmp_path / "root", normalize=False), expected)


def test_fashion_mnist_from_refnn_data(tmp_path, monkeypatch, no_system_data):
    expected = make_mnist_folder(tmp_path / "data" / "fashion-mnist", seed=4, gz=(False,) * 4)
    monkeypatch.setenv("REFNN_DATA", str(tmp_path / "data"))
    assert_same(datasets.fashion_mnist(normalize=False), expected)


def test_search_order_path_then_refnn_data_then_debian(tmp_path, monkeypatch):
    from_path = make_mnist_folder(tmp_path / "mine", seed=5)
    from_env = make_mnist_folder(tmp_path / "env" / "fashion-mnist", seed=6)
    from_debian = make_mnist_folder(tmp_path / "debian" / "fashion-mnist", seed=7)
    monkeypatch.setattr(datasets.idx, "DEBIAN_DATA_DIR", str(tmp_path / "debian"))
    monkeypatch.delenv("REFNN_DATA", raising=False)
    assert_same(datasets.fashion_mnist(normalize=False), from_debian)
    monkeypatch.setenv("REFNN_DATA", str(tmp_path / "env"))
    assert_same(datasets.fashion_mnist(normalize=False), from_env)
    assert_same(datasets.fashion_mnist(path=tmp_path / "mine", normalize=False), from_path)
    # a REFNN_DATA without the data falls through to the Debian folder
    monkeypatch.setenv("REFNN_DATA", str(tmp_path / "empty"))
    assert_same(datasets.fashion_mnist(normalize=False), from_debian)


def test_a_named_path_does_not_fall_back(tmp_path, monkeypatch):
    make_mnist_folder(tmp_path / "debian" / "fashion-mnist")
    monkeypatch.setattr(datasets.idx, "DEBIAN_DATA_DIR", str(tmp_path / "debian"))
    (tmp_path / "typo").mkdir()
    with pytest.raises(FileNotFoundError, match="typo"):
        datasets.fashion_mnist(path=tmp_path / "typo")


def test_missing_fashion_mnist_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch,
                                                                      no_system_data):
    monkeypatch.setenv("REFNN_DATA", str(tmp_path / "mydata"))
    with pytest.raises(FileNotFoundError) as info:
        datasets.fashion_mnist()
    message = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in message
    assert "path=" in message
    assert os.path.join(str(tmp_path / "mydata"), "fashion-mnist") in message
    assert os.path.join(str(tmp_path / "no-such-root"), "fashion-mnist") in message
    assert "train-images-idx3-ubyte" in message


def test_an_incomplete_folder_names_the_missing_file(tmp_path, no_system_data):
    make_mnist_folder(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"missing t10k-labels-idx1-ubyte\[\.gz\]"):
        datasets.fashion_mnist(path=tmp_path / "fm")


def test_mnist_uses_its_own_folder_name(tmp_path, monkeypatch, no_system_data):
    make_mnist_folder(tmp_path / "data" / "fashion-mnist", seed=8)
    digits = make_mnist_folder(tmp_path / "data" / "mnist", seed=9)
    monkeypatch.setenv("REFNN_DATA", str(tmp_path / "data"))
    assert_same(datasets.mnist(normalize=False), digits)
    assert_same(datasets.mnist(path=tmp_path / "data" / "mnist", normalize=False), digits)
    (tmp_path / "data" / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as info:
        datasets.mnist()
    message = str(info.value)
    assert "path=" in message and os.path.join("data", "mnist") in message
    assert "dataset-fashion-mnist" not in message


def test_bad_data_files_are_named(tmp_path, no_system_data):
    make_mnist_folder(tmp_path / "labels", labels_override=[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1])
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte.*got 10 at index 10"):
        datasets.fashion_mnist(path=tmp_path / "labels")
    make_mnist_folder(tmp_path / "count", labels_override=[1, 2, 3])
    with pytest.raises(ValueError, match=r"holds 12 images but .*train-labels.* holds 3 labels"):
        datasets.fashion_mnist(path=tmp_path / "count")
    make_mnist_folder(tmp_path / "flat")
    write(tmp_path / "flat" / "t10k-images-idx3-ubyte",
          idx_bytes([0] * 10, (5, 2), "uint8"))
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: expected uint8 images"):
        datasets.fashion_mnist(path=tmp_path / "flat")
    make_mnist_folder(tmp_path / "cut")
    write(tmp_path / "cut" / "train-images-idx3-ubyte.gz",
          idx_bytes([0] * 10, (12, 4, 4), "uint8")[:-1], compress=True)
    with pytest.raises(IDXFormatError, match=r"train-images-idx3-ubyte.gz: truncated IDX data"):
        datasets.fashion_mnist(path=tmp_path / "cut")


@pytest.mark.parametrize("kwargs, error, words", [
    ({"dtype": "int32"}, TypeError, "dtype must be 'float32' or 'float64'"),
    ({"normalize": "yes"}, TypeError, "normalize must be True or False"),
    ({"flatten": 1}, TypeError, "flatten must be True or False"),
    ({"path": 3}, TypeError, "path must be a folder name"),
])
def test_fashion_mnist_bad_arguments(tmp_path, no_system_data, kwargs, error, words):
    make_mnist_folder(tmp_path / "fm")
    kwargs = {"path": tmp_path / "fm", **kwargs}
    with pytest.raises(error, match=words):
        datasets.fashion_mnist(**kwargs)


def test_fashion_mnist_class_names():
    assert len(datasets.FASHION_MNIST_CLASSES) == 10
    assert datasets.FASHION_MNIST_CLASSES[0] == "T-shirt/top"
    assert datasets.FASHION_MNIST_CLASSES[9] == "Ankle boot"


# ---------------------------------------------------------------------------
# the real Fashion-MNIST (Debian package dataset-fashion-mnist)
# ---------------------------------------------------------------------------

DEBIAN_FASHION = pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture(scope="module")
def real_fashion_mnist():
    """Loaded once, found by the default search (no path=, no REFNN_DATA)."""
    if not all((DEBIAN_FASHION / (name + ".gz")).is_file() for name in NAMES):
        pytest.skip(f"Fashion-MNIST is not installed in {DEBIAN_FASHION} "
                    "(apt-get install dataset-fashion-mnist)")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("REFNN_DATA", raising=False)
        return datasets.fashion_mnist(normalize=False)


def test_real_fashion_mnist(real_fashion_mnist):
    assert pathlib.Path(datasets.DEBIAN_DATA_DIR, "fashion-mnist") == DEBIAN_FASHION
    (x_train, y_train), (x_test, y_test) = real_fashion_mnist
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), [1000] * 10)
    assert x_train.min() == 0 and x_train.max() == 255
    assert x_test.min() == 0 and x_test.max() == 255
    # published statistics: mean pixel 0.2860 of full scale; first labels Ankle boot, ...
    assert abs(x_train.mean() / 255 - 0.2860) < 5e-4
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert y_test[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    # the test files read here with gzip and struct alone
    raw = gzip.decompress((DEBIAN_FASHION / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert struct.unpack(">4BI", raw[:8]) == (0, 0, 0x08, 1, 10000)
    assert list(raw[8:]) == y_test.tolist()
    raw = gzip.decompress((DEBIAN_FASHION / "t10k-images-idx3-ubyte.gz").read_bytes())
    assert struct.unpack(">4B3I", raw[:16]) == (0, 0, 0x08, 3, 10000, 28, 28)
    assert raw[16:] == x_test.tobytes()


# ---------------------------------------------------------------------------
# toy 2-D sets
# ---------------------------------------------------------------------------

TOYS = ["spirals", "circles", "xor", "blobs"]


def linear_accuracy(X, y):
    """Least-squares linear classifier on targets -1/+1, scored on the same data."""
    A = np.column_stack([X, np.ones(len(X))])
    w, *_ = np.linalg.lstsq(A, 2.0 * y - 1.0, rcond=None)
    return float(np.mean((A @ w > 0) == (y == 1)))


def nearest_neighbour_accuracy(X, y):
    """Leave-one-out 1-nearest-neighbour accuracy."""
    d2 = ((X[:, None, :] - X[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    return float(np.mean(y[np.argmin(d2, axis=1)] == y))


def test_toy_registry():
    assert set(datasets.TOY_DATASETS) == set(TOYS)
    for name in TOYS:
        assert datasets.TOY_DATASETS[name] is getattr(datasets, name)


@pytest.mark.parametrize("n", [1, 101, 400])
@pytest.mark.parametrize("name", TOYS)
def test_toy_shapes_and_balance(name, n):
    X, y = datasets.TOY_DATASETS[name](n_samples=n, noise=0.1)
    assert X.shape == (n, 2) and X.dtype == np.float64 and X.flags.c_contiguous
    assert y.shape == (n,) and y.dtype == np.int64
    assert np.isfinite(X).all()
    counts = np.bincount(y, minlength=2)
    assert len(counts) == 2 and counts.sum() == n and counts.max() - counts.min() <= 1


def test_blobs_with_more_classes():
    X, y = datasets.blobs(n_samples=302, n_classes=3)
    np.testing.assert_array_equal(np.bincount(y), [101, 101, 100])
    for c in range(3):
        angle = np.pi / 4 + 2 * np.pi * c / 3
        centre = 2 * np.sqrt(2) * np.array([np.cos(angle), np.sin(angle)])
        # mean of 100 draws of variance 0.5: standard error 0.07 per coordinate
        np.testing.assert_allclose(X[y == c].mean(axis=0), centre, atol=0.3)


@pytest.mark.parametrize("name", TOYS)
def test_toy_sets_are_deterministic_for_a_seed(name):
    make = datasets.TOY_DATASETS[name]
    X0, y0 = make(n_samples=200, noise=0.2, seed=3)
    X1, y1 = make(n_samples=200, noise=0.2, seed=3)
    np.testing.assert_array_equal(X0, X1)
    np.testing.assert_array_equal(y0, y1)
    X2, y2 = make(n_samples=200, noise=0.2, seed=4)
    assert not np.array_equal(X0, X2)
    Xd, yd = make(n_samples=200, noise=0.2)
    np.testing.assert_array_equal(Xd, make(n_samples=200, noise=0.2, seed=0)[0])
    assert make(n_samples=10, seed=None)[0].shape == (10, 2)
    # the rows come shuffled, not sorted by class
    assert 0 < np.count_nonzero(np.diff(y0)) and not np.array_equal(y0, np.sort(y0))


@pytest.mark.parametrize("name", ["spirals", "circles", "xor"])
def test_curved_sets_defeat_a_linear_classifier(name):
    X, y = datasets.TOY_DATASETS[name](n_samples=500, noise=0.0)
    assert linear_accuracy(X, y) < 0.75
    # ... yet the classes are separable locally: the data is not noise
    assert nearest_neighbour_accuracy(X, y) > 0.95


def test_blobs_are_linearly_separable_at_low_noise():
    X, y = datasets.blobs(n_samples=500, noise=0.0)
    assert linear_accuracy(X, y) > 0.95


def test_spirals_geometry():
    X, y = datasets.spirals(n_samples=400, noise=0.0)
    one, zero = X[y == 1], X[y == 0]
    # class 0 is class 1 turned by pi: the point reflection through the origin
    distance = np.sqrt(((zero[:, None, :] + one[None, :, :]) ** 2).sum(-1))
    assert distance.min(axis=0).max() < 1e-12 and distance.min(axis=1).max() < 1e-12
    r = np.hypot(one[:, 0], one[:, 1])
    np.testing.assert_allclose(np.sort(r), 5.0 * np.arange(200) / 200, atol=1e-12)
    # 1.75 turns: along a ray the two spirals alternate, so radius alone does not separate them
    assert linear_accuracy(np.column_stack([np.hypot(*X.T), np.zeros(400)]), y) < 0.75


def test_circles_and_xor_geometry():
    X, y = datasets.circles(n_samples=400, noise=0.0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 1].max() <= 2.5 and r[y == 0].min() >= 3.5 and r[y == 0].max() <= 5.0
    X, y = datasets.xor(n_samples=400, noise=0.0)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] > 0).astype(int))
    assert np.abs(X).min() >= 0.3 and np.abs(X).max() <= 5.3
    # noise moves points across the boundaries, labels stay those of the generating class
    X, y = datasets.circles(n_samples=400, noise=0.5)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r[y == 1].max() > 2.5 and r[y == 0].min() < 3.5
    X, y = datasets.xor(n_samples=400, noise=0.5)
    assert np.mean(y == (X[:, 0] * X[:, 1] > 0)) < 0.95


@pytest.mark.parametrize("name", TOYS)
@pytest.mark.parametrize("kwargs, error, words", [
    ({"n_samples": 0}, ValueError, "n_samples must be > 0"),
    ({"n_samples": 2.5}, TypeError, "n_samples must be an integer"),
    ({"n_samples": True}, TypeError, "n_samples must be an integer"),
    ({"noise": -0.1}, ValueError, "noise must be a finite number >= 0"),
    ({"noise": float("nan")}, ValueError, "noise must be a finite number"),
    ({"noise": "low"}, TypeError, "noise must be a number"),
    ({"seed": -1}, ValueError, "seed must be >= 0"),
    ({"seed": 1.5}, TypeError, "seed must be an integer"),
])
def test_toy_bad_arguments(name, kwargs, error, words):
    with pytest.raises(error, match=words):
        datasets.TOY_DATASETS[name](**kwargs)


def test_blobs_bad_n_classes():
    with pytest.raises(ValueError, match="n_classes must be > 0"):
        datasets.blobs(n_classes=0)


# ---------------------------------------------------------------------------
# CSV files: hand-written files whose numbers are worked out here
# ---------------------------------------------------------------------------

PETS = """id,height,colour,species
1,1.5,red,cat
2,2.0,blue,dog
3,2.5,red,cat
4,3.0,green,bird
"""


def write_text(path, text, encoding="utf-8"):
    path.write_text(text, encoding=encoding)
    return path


def test_load_csv_encodes_text_features_and_a_text_target(tmp_path):
    table = datasets.load_csv(write_text(tmp_path / "pets.csv", PETS), target="species",
                              drop=["id"])
    # colour one-hot in sorted order: blue, green, red
    np.testing.assert_array_equal(table.X, [[1.5, 0, 0, 1],
                                            [2.0, 1, 0, 0],
                                            [2.5, 0, 0, 1],
                                            [3.0, 0, 1, 0]])
    assert table.X.dtype == np.float64
    # classes in sorted order: bird 0, cat 1, dog 2
    np.testing.assert_array_equal(table.y, [1, 2, 1, 0])
    assert table.y.dtype == np.int64
    assert table.task == "classification"
    assert table.class_names == ["bird", "cat", "dog"]
    assert table.feature_names == ["height", "colour=blue", "colour=green", "colour=red"]
    assert table.target == "species"
    assert table.one_hot == [("colour", ["blue", "green", "red"])]


def test_load_csv_reads_semicolons_a_bom_blank_lines_and_padded_cells(tmp_path):
    path = write_text(tmp_path / "semi.csv", "a ; b ; y\n\n 1 ; 10 ; 0 \n2;20;1\n\n3;30;0\n",
                      encoding="utf-8-sig")
    table = datasets.load_csv(path)                      # target: the last column
    np.testing.assert_array_equal(table.X, [[1, 10], [2, 20], [3, 30]])
    np.testing.assert_array_equal(table.y, [0, 1, 0])
    assert table.feature_names == ["a", "b"] and table.target == "y"
    assert table.class_names == ["0", "1"] and table.one_hot == []


@pytest.mark.parametrize("target", [0, "0", -3, "-3", np.int64(0), "a"])
def test_load_csv_target_by_index_or_name(tmp_path, target):
    path = write_text(tmp_path / "t.csv", "a,b,c\n5,1,2\n6,3,4\n")
    table = datasets.load_csv(path, target=target)
    assert table.target == "a"
    np.testing.assert_array_equal(table.X, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(table.y, [0, 1])      # 5 -> class 0, 6 -> class 1


def test_load_csv_a_column_named_like_an_index_is_taken_by_name(tmp_path):
    path = write_text(tmp_path / "t.csv", "x,0,z\n1,7,3\n2,8,4\n")
    assert datasets.load_csv(path, target="0").target == "0"


def test_load_csv_task_auto_and_forced(tmp_path):
    path = write_text(tmp_path / "n.csv", "x,y\n1,3\n2,1\n3,2\n4,3\n")
    auto = datasets.load_csv(path)                       # 3 distinct whole numbers: classes
    assert auto.task == "classification" and auto.class_names == ["1", "2", "3"]
    np.testing.assert_array_equal(auto.y, [2, 0, 1, 2])
    many = datasets.load_csv(path, max_classes=2)        # more than 2 values: a regression
    assert many.task == "regression" and many.class_names is None
    np.testing.assert_array_equal(many.y, [3.0, 1.0, 2.0, 3.0])
    assert many.y.dtype == np.float64
    forced = datasets.load_csv(path, task="regression")
    np.testing.assert_array_equal(forced.y, [3.0, 1.0, 2.0, 3.0])
    real = datasets.load_csv(write_text(tmp_path / "r.csv", "x,y\n1,0.5\n2,1.5\n"))
    assert real.task == "regression"                     # not whole numbers
    np.testing.assert_array_equal(real.y, [0.5, 1.5])
    classes = datasets.load_csv(tmp_path / "r.csv", task="classification")
    assert classes.class_names == ["0.5", "1.5"]
    np.testing.assert_array_equal(classes.y, [0, 1])


# file contents, keyword arguments, exception, message (a regular expression; FILE is the path)
BAD_CSV = {
    "header only": ("a,b\n", {}, ValueError,
                    r"FILE: expected a header row and data rows, got 1 rows"),
    "empty": ("", {}, ValueError, r"FILE: expected a header row and data rows, got 0 rows"),
    "ragged": ("a,b,y\n1,2,0\n3,4\n", {}, ValueError,
               r"FILE, line 3: 2 fields, but the header has 3"),
    "unknown target": ("a,y\n1,0\n2,1\n", {"target": "w"}, ValueError,
                       r"FILE has no column 'w'; its columns: a, y"),
    "target out of range": ("a,y\n1,0\n2,1\n", {"target": 2}, ValueError,
                            r"target=2 is out of range: FILE has 2 columns \(0 to 1\)"),
    "unknown drop": ("a,b,y\n1,2,0\n3,4,1\n", {"drop": ["c"]}, ValueError,
                     r"drop=\['c'\]: FILE has no such column; its columns: a, b, y"),
    "drop the target": ("a,b,y\n1,2,0\n3,4,1\n", {"drop": ["y"]}, ValueError,
                        r"drop=\['y'\] is the target column of FILE"),
    "no feature": ("y\n0\n1\n", {}, ValueError,
                   r"FILE has no feature columns besides the target 'y'"),
    "word among numbers": ("a,b,y\n1,2,0\n3,oops,1\n", {}, ValueError,
                           r"FILE, line 3, column 'b': expected a number, got 'oops' \(the "
                           r"column holds numbers elsewhere; fix the value, or leave the "
                           r"column out with drop=\['b'\]\)"),
    "one class": ("a,y\n1,5\n2,5\n", {}, ValueError,
                  r"FILE: the target 'y' has a single value 5.0; there is nothing to learn"),
    "text regression target": ("a,y\n1,0.5\n2,big\n", {"task": "regression"}, ValueError,
                               r"FILE, line 3: the regression target 'y' must be a number, "
                               r"got 'big'"),
}


@pytest.mark.parametrize("case", list(BAD_CSV))
def test_load_csv_rejects_bad_files_naming_file_line_and_column(tmp_path, case):
    text, kwargs, error, message = BAD_CSV[case]
    path = write_text(tmp_path / "bad.csv", text)
    with pytest.raises(error) as info:
        datasets.load_csv(path, **kwargs)
    assert re.fullmatch(message.replace("FILE", re.escape(str(path))), str(info.value)), \
        str(info.value)


def test_load_csv_missing_file_and_folder(tmp_path):
    missing = tmp_path / "nothing.csv"
    with pytest.raises(FileNotFoundError) as info:
        datasets.load_csv(missing)
    assert str(info.value) == f"path={str(missing)!r}: no such file"
    with pytest.raises(IsADirectoryError) as info:
        datasets.load_csv(tmp_path)
    assert str(info.value) == f"path={str(tmp_path)!r} is a folder; give a CSV file"


def test_load_csv_argument_names_spell_the_command_line_flags(tmp_path):
    flags = {"path": "--csv {}", "target": "--target {}", "drop": "--drop {}"}
    path = write_text(tmp_path / "bad.csv", "a,b,y\n1,2,0\n3,oops,1\n")
    expected = [
        ({"path": str(tmp_path / "no.csv")}, f"--csv {tmp_path / 'no.csv'}: no such file"),
        ({"path": str(tmp_path)}, f"--csv {tmp_path} is a folder; give a CSV file"),
        ({"target": "9"}, f"--target 9 is out of range: {path} has 3 columns (0 to 2)"),
        ({"drop": ["c"]}, f"--drop c: {path} has no such column; its columns: a, b, y"),
        ({"drop": ["y"]}, f"--drop y is the target column of {path}"),
        ({}, f"{path}, line 3, column 'b': expected a number, got 'oops' (the column holds "
             f"numbers elsewhere; fix the value, or leave the column out with --drop b)"),
    ]
    for kwargs, message in expected:
        kwargs = {"path": str(path), **kwargs}
        with pytest.raises((ValueError, OSError)) as info:
            datasets.load_csv(**kwargs, argument_names=flags)
        assert str(info.value) == message


@pytest.mark.parametrize("kwargs, error, words", [
    ({"path": 3}, TypeError, r"path must be a file name \(str or os.PathLike\), got int 3"),
    ({"target": 1.5}, TypeError, r"target must be a column name \(str\), a 0-based column "
                                 r"index \(int\) or None, got float 1.5"),
    ({"target": True}, TypeError, r"target must be a column name"),
    ({"drop": "id"}, TypeError, r"drop must be a list of column names such as \['id'\], "
                                r"got str 'id'"),
    ({"drop": 3}, TypeError, r"drop must be a list of column names, got int 3"),
    ({"drop": [3]}, TypeError, r"drop must hold column names \(str\), got int 3"),
    ({"task": "both"}, ValueError, r"unknown task 'both'; valid: auto, classification, "
                                   r"regression"),
    ({"max_classes": 0}, ValueError, r"max_classes must be > 0, got 0"),
    ({"max_classes": 2.0}, TypeError, r"max_classes must be an integer"),
    ({"argument_names": {"file": "--csv {}"}}, TypeError, r"argument_names must be a dict"),
])
def test_load_csv_bad_arguments(tmp_path, kwargs, error, words):
    kwargs = {"path": write_text(tmp_path / "pets.csv", PETS), **kwargs}
    with pytest.raises(error, match=words):
        datasets.load_csv(**kwargs)


def test_datasets_public_names():
    assert {"load_csv", "CSVData", "CSV_MAX_CLASSES"} <= set(datasets.__all__)
    assert all(hasattr(datasets, name) for name in datasets.__all__)


# ---------------------------------------------------------------------------
# refnn.utils: to_categorical, split, holdout_last
# ---------------------------------------------------------------------------

def test_to_categorical_values():
    Y = to_categorical([0, 2, 1, 2])
    assert Y.dtype == np.float64                      # as Keras 3 for NumPy input
    np.testing.assert_array_equal(Y, [[1, 0, 0],
                                      [0, 0, 1],
                                      [0, 1, 0],
                                      [0, 0, 1]])
    # (n, 1) column, more classes than seen, another dtype
    Y = to_categorical(np.array([[3], [0]], dtype=np.uint8), num_classes=5, dtype="float32")
    assert Y.dtype == np.float32
    np.testing.assert_array_equal(Y, [[0, 0, 0, 1, 0], [1, 0, 0, 0, 0]])
    np.testing.assert_array_equal(to_categorical(np.array([1.0, 0.0]), dtype="int32"),
                                  [[0, 1], [1, 0]])
    np.testing.assert_array_equal(to_categorical([True, False]), [[0, 1], [1, 0]])
    assert to_categorical(np.zeros(0, dtype=int), num_classes=4).shape == (0, 4)
    # inverse: argmax gives the labels back
    y = np.random.default_rng(0).integers(0, 10, 1000)
    np.testing.assert_array_equal(to_categorical(y).argmax(axis=1), y)
    assert to_categorical(y).sum() == 1000


@pytest.mark.parametrize("y, kwargs, error, words", [
    ([0, -1, 2], {}, ValueError, r"y must hold class indices >= 0, got -1 at index 1"),
    ([0, 1.5], {}, ValueError, r"y must hold integer class indices, got 1.5 at index 1"),
    ([0, float("nan")], {}, ValueError, r"y must hold integer class indices, got nan"),
    ([0, 3, 1], {"num_classes": 3}, ValueError, r"class indices 0 to 2 .*got 3 at index 1"),
    (["a", "b"], {}, TypeError, "y must hold integer class indices"),
    ("012", {}, TypeError, "y must be an array of class indices"),
    ([[0, 1], [1, 0]], {}, ValueError, r"shape \(n,\) or \(n, 1\), got shape \(2, 2\)"),
    (np.zeros((2, 1, 1)), {}, ValueError, r"got shape \(2, 1, 1\)"),
    (5, {}, ValueError, r"got shape \(\)"),
    ([], {}, ValueError, "y is empty, so num_classes cannot be inferred"),
    ([0, 1], {"num_classes": 0}, ValueError, "num_classes must be > 0"),
    ([0, 1], {"num_classes": 2.0}, TypeError, "num_classes must be an integer"),
    ([0, 1], {"dtype": "str"}, TypeError, "dtype must be a real numeric dtype"),
    ([0, 1], {"dtype": "nonsense"}, TypeError, "dtype must be a NumPy dtype"),
])
def test_to_categorical_errors(y, kwargs, error, words):
    with pytest.raises(error, match=words):
        to_categorical(y, **kwargs)


@pytest.mark.parametrize("n, fraction, n_b", [(10, 0.2, 2), (7, 0.3, 3), (3, 0.5, 2),
                                             (1000, 0.1, 100), (9, 0.01, 1)])
def test_holdout_last_takes_the_last_fraction_as_keras(n, fraction, n_b):
    X = np.arange(2 * n).reshape(n, 2)
    y = np.arange(n)
    (X_a, y_a), (X_b, y_b) = holdout_last(X, y, fraction)
    # Keras: split_at = floor(n * (1 - validation_split))
    assert len(y_b) == n_b == n - math.floor(n * (1 - fraction))
    np.testing.assert_array_equal(y_b, np.arange(n - n_b, n))
    np.testing.assert_array_equal(X_b, X[n - n_b:])
    np.testing.assert_array_equal(X_a, X[:n - n_b])
    np.testing.assert_array_equal(y_a, np.arange(n - n_b))


def test_split_shuffles_reproducibly_and_keeps_pairs():
    n = 50
    X = np.arange(3 * n).reshape(n, 3).astype(np.uint8)
    y = np.arange(n)
    (X_a, y_a), (X_b, y_b) = split(X, y, 0.2, seed=1)
    assert len(y_a) == 40 and len(y_b) == 10 and X_a.dtype == np.uint8
    np.testing.assert_array_equal(np.sort(np.concatenate([y_a, y_b])), y)      # a partition
    np.testing.assert_array_equal(X_a, X[y_a])                                 # rows stay paired
    np.testing.assert_array_equal(X_b, X[y_b])
    assert not np.array_equal(y_b, np.arange(40, 50))                          # shuffled
    again = split(X, y, 0.2, seed=1)
    np.testing.assert_array_equal(again[1][1], y_b)
    other = split(X, y, 0.2, seed=2)
    assert not np.array_equal(other[1][1], y_b)
    # no shuffle: exactly holdout_last
    (_, y_a), (_, y_b) = split(X, y, 0.2, shuffle=False)
    np.testing.assert_array_equal(y_b, holdout_last(X, y, 0.2)[1][1])
    np.testing.assert_array_equal(y_a, np.arange(40))


@pytest.mark.parametrize("fn", [holdout_last, split])
@pytest.mark.parametrize("X, y, fraction, error, words", [
    (np.zeros((10, 2)), np.zeros(10), 0.0, ValueError, "strictly between 0 and 1"),
    (np.zeros((10, 2)), np.zeros(10), 1.0, ValueError, "strictly between 0 and 1"),
    (np.zeros((10, 2)), np.zeros(10), float("nan"), ValueError, "strictly between 0 and 1"),
    (np.zeros((10, 2)), np.zeros(10), True, TypeError, "fraction must be a number"),
    (np.zeros((10, 2)), np.zeros(10), "0.2", TypeError, "fraction must be a number"),
    (np.zeros((10, 2)), np.zeros(9), 0.2, ValueError, "same number of samples, got 10 and 9"),
    (np.zeros((1, 2)), np.zeros(1), 0.2, ValueError, "X holds 1 samples, too few"),
    (np.zeros((5, 2)), np.zeros(5), 0.99, ValueError, "X holds 5 samples, too few"),
    (np.float64(3.0), np.zeros(1), 0.2, ValueError, "X must have a first"),
])
def test_split_errors(fn, X, y, fraction, error, words):
    with pytest.raises(error, match=words):
        fn(X, y, fraction)


def test_split_bad_seed_and_shuffle():
    X, y = np.zeros((10, 2)), np.zeros(10)
    with pytest.raises(ValueError, match="seed must be >= 0"):
        split(X, y, 0.2, seed=-1)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        split(X, y, 0.2, shuffle="yes")


def test_utils_public_names():
    assert set(utils.__all__) == {"to_categorical", "split", "holdout_last"}
