"""load_model on crafted files: the documented ValueError naming the file, and never more
than 64 MiB allocated before the refusal (tracemalloc measures NumPy's allocations too).

Each file is built here by hand with zipfile, starting from a real saved model."""
import io
import json
import tracemalloc
import zipfile

import numpy as np
import pytest

import refnn
from refnn.layers import Dense

LIMIT = 64 * 2**20


@pytest.fixture()
def saved(tmp_path):
    """{member: bytes} of a real model file."""
    m = refnn.Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")], seed=0)
    m.compile("categorical_crossentropy", optimizer="adam")
    path = tmp_path / "real.npz"
    m.save(path)
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def write(path, members, compression=zipfile.ZIP_STORED):
    with zipfile.ZipFile(path, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def refused_within_budget(path, match):
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            refnn.load_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert str(path) in str(info.value)
    assert path.stat().st_size <= 2**20
    assert peak < LIMIT, f"{peak / 2**20:.0f} MiB allocated before refusing"


def test_a_deflated_member_declaring_512_mib_is_refused_before_it_is_read(saved, tmp_path):
    """A 0.5 MB zip holding 512 MB of zeros, deflated: it cost 512 MB before refusal."""
    bomb = np.zeros(2**27, np.float32)                     # 512 MiB
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, bomb)
    path = write(tmp_path / "bomb.npz", {**saved, "weight_0.npy": buffer.getvalue()},
                 zipfile.ZIP_DEFLATED)
    refused_within_budget(path, r"members declare [\d,]+ bytes, more than 16 times")


def test_an_unused_member_is_refused(saved, tmp_path):
    path = write(tmp_path / "extra.npz", {**saved, "payload.npy": b"x" * 100})
    refused_within_budget(path, "unexpected member 'payload.npy'")


def test_json_nested_deeper_than_the_cap_is_refused_without_recursion(saved, tmp_path):
    """A configuration nested 100,000 deep raised RecursionError from json.loads."""
    deep = "[" * 100_000 + "]" * 100_000
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(deep))
    path = write(tmp_path / "deep.npz", {**saved, "config_json.npy": buffer.getvalue()})
    refused_within_budget(path, "not valid JSON: nested more than 64 deep")


def test_an_unknown_compression_method_is_the_documented_error(saved, tmp_path):
    """Method 99 (AES) raised NotImplementedError from zipfile."""
    path = write(tmp_path / "method.npz", saved)
    raw = bytearray(path.read_bytes())
    # the compression method is at offset 8 of each local header and 10 of each central one
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            raw[start + offset:start + offset + 2] = (99).to_bytes(2, "little")
            start += 4
    path.write_bytes(bytes(raw))
    refused_within_budget(path, "compression method 99")


def test_out_of_range_numbers_in_the_configuration_are_the_documented_error(saved, tmp_path):
    """units 10**400 raised OverflowError."""
    config = json.loads(str(np.load(io.BytesIO(saved["config_json.npy"]))))
    config["model"]["layers"][0]["config"]["units"] = 10**400
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(config)))
    path = write(tmp_path / "huge.npz", {**saved, "config_json.npy": buffer.getvalue()})
    refused_within_budget(path, r"its layers declare over 10\^400 weights but it holds 23")


def test_layer_sizes_the_arrays_do_not_fill_are_refused_before_the_build(saved, tmp_path):
    """An 8000 x 8000 layer declared in a 9.5 KB file: the build allocated 732 MB before
    set_weights refused the small arrays."""
    config = json.loads(str(np.load(io.BytesIO(saved["config_json.npy"]))))
    config["model"]["input_shape"] = [8000]
    for layer in config["model"]["layers"]:
        layer["config"]["input_shape"] = None
        if "units" in layer["config"]:
            layer["config"]["units"] = 8000
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.array(json.dumps(config)))
    path = write(tmp_path / "wide.npz", {**saved, "config_json.npy": buffer.getvalue()})
    refused_within_budget(path, r"its layers declare 128,016,000 weights but it holds 23\b")


@pytest.mark.parametrize("make", [
    lambda: refnn.Sequential([Dense(5, input_shape=(4,), batch_norm=True),
                              refnn.layers.Residual([Dense(5, use_bias=False)]),
                              refnn.layers.Dropout(0.1), Dense(2)], seed=0),
    lambda: refnn.Sequential([refnn.layers.Flatten(input_shape=(2, 3)),
                              refnn.layers.BatchNormalization(), Dense(3)], seed=0),
])
def test_count_params_for_equals_count_params_after_the_build(make):
    """The count load_model checks a file with is the one the build gives."""
    model = make()
    assert refnn.layers.count_params_for(model.layers, model.input_shape) == \
        model.count_params() > 0
