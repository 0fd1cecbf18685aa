"""Fuzzing the file readers with crafted bytes: load_model on mutations of a real model file
(bytes flipped, cut, inserted; members replaced), load_idx on random headers and data, plain
and gzipped, load_csv on random text. Each returns what the file holds or raises the
documented error naming the file, and allocates at most 64 MiB doing so (tracemalloc counts
NumPy's allocations too). Run in a child process by tests/test_fuzz.py."""
import gzip
import io
import os
import struct
import tempfile
import tracemalloc
import zipfile

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import refnn
from refnn import datasets
from refnn.layers import Dense

from _settings import fuzz

LIMIT = 64 * 2**20
FOLDER = tempfile.mkdtemp(prefix="refnn-fuzz-")


def _real_model_file():
    model = refnn.Sequential([Dense(3, input_shape=(4,), batch_norm=True),
                              Dense(2, activation="softmax")], seed=0)
    model.compile("categorical_crossentropy", optimizer="adam")
    x = np.random.default_rng(0).normal(size=(8, 4))
    model.fit(x, np.eye(2)[np.arange(8) % 2], epochs=1, verbose=0)
    path = os.path.join(FOLDER, "real.npz")
    model.save(path)
    with open(path, "rb") as f:
        return f.read()


REAL = _real_model_file()


def within_budget(read, path, errors):
    """read(path) returns, or raises one of `errors` naming the file, under LIMIT bytes."""
    tracemalloc.start()
    try:
        try:
            read(path)
        except errors as e:
            assert os.fspath(path) in str(e) or os.path.basename(path) in str(e), \
                f"the error does not name the file: {type(e).__name__}: {e}"
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < LIMIT, f"{peak / 2**20:.0f} MiB allocated"


def written(name, data):
    path = os.path.join(FOLDER, name)
    with open(path, "wb") as f:
        f.write(data)
    return path


MUTATION = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, len(REAL) - 1), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, len(REAL) - 1), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, len(REAL) - 1), st.integers(0, 255)),
    st.tuples(st.just("big"), st.integers(0, len(REAL) - 4), st.just(0)))


@fuzz(300)
@given(mutations=st.lists(MUTATION, min_size=1, max_size=6))
def test_load_model_on_mutated_files(mutations):
    data = bytearray(REAL)
    for how, at, value in mutations:
        at = min(at, len(data) - 1) if data else 0
        if how == "flip" and data:
            data[at] ^= value
        elif how == "cut":
            del data[at:]
        elif how == "insert":
            data[at:at] = bytes([value])
        elif how == "big" and len(data) >= at + 4:
            data[at:at + 4] = b"\xff\xff\xff\x7f"              # a huge size or count
    within_budget(refnn.load_model, written("mutated.npz", bytes(data)), ValueError)


@fuzz(150)
@given(member=st.sampled_from(["config_json.npy", "weight_0.npy", "optimizer_1.npy"]),
       payload=st.binary(max_size=300), shape=st.lists(st.integers(0, 2**31), max_size=3),
       dtype=st.sampled_from(["<f4", "<f8", "|u1", "<i8", "|O", "<U5", "|b1"]))
def test_load_model_with_a_member_replaced(member, payload, shape, dtype):
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": dtype, "fortran_order": False,
                                                  "shape": tuple(shape)})
    with zipfile.ZipFile(io.BytesIO(REAL)) as z:
        members = {n: z.read(n) for n in z.namelist()}
    members[member] = np.lib.format.MAGIC_PREFIX + b"\x01\x00" + header.getvalue() + payload
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    within_budget(refnn.load_model, written("member.npz", buffer.getvalue()), ValueError)


@fuzz(300)
@given(code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E, 0x0A, 0xFF]),
       dims=st.lists(st.integers(0, 2**32 - 1) | st.integers(0, 6), min_size=0, max_size=5),
       ndim=st.one_of(st.none(), st.integers(0, 255)), data=st.binary(max_size=400),
       compress=st.booleans())
def test_load_idx_on_random_headers(code, dims, ndim, data, compress):
    raw = (struct.pack(">BBBB", 0, 0, code, len(dims) if ndim is None else ndim)
           + struct.pack(f">{len(dims)}I", *dims) + data)
    within_budget(datasets.load_idx, written("random.idx", gzip.compress(raw) if compress
                                             else raw), ValueError)


CSV_TEXT = st.lists(st.sampled_from(list('ab1.-e+9,;\t\n\r" ü\x00') + ["nan", "1e308"]),
                   max_size=120).map("".join)


@fuzz(300)
@given(text=CSV_TEXT, encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
       target=st.sampled_from([None, 0, -1, "a", "b", 7]))
def test_load_csv_on_random_text(text, encoding, target):
    path = written("random.csv", text.encode(encoding, errors="replace"))

    def read(p):
        data = datasets.load_csv(p, target=target)
        assert np.isfinite(data.X).all() and data.X.shape[0] == data.y.shape[0]

    within_budget(read, path, ValueError)
