"""Saving and loading a Sequential model: one .npz file holding the weights, the optimizer's
state and the kernel masks as arrays, and a JSON entry for everything else (architecture,
compile state, random generators). No pickle: loading runs no code, and the JSON names only
refnn's own classes.

    save_model(model, path)      what Sequential.save(path) does: atomically, so that a failed
                                 or killed save leaves the previous file at path as it was
    load_model(path)             the model back, compiled, so that training continues where
                                 it stopped (refnn.load_model)
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
import warnings
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, BinaryIO

import numpy as np

from . import _validate
from . import layers as layers_module
from . import losses as losses_module
from . import optimizers as optimizers_module

if TYPE_CHECKING:
    from .model import Sequential

__all__ = ["save_model", "load_model", "ModelFileNotFoundError", "FORMAT_VERSION"]

#: the version of the file format save_model writes (format_version in its json)
FORMAT_VERSION = 1

# What load_model reads before it refuses a file, checked from the zip directory before any
# member is decompressed: members named as save_model names them, stored or deflated, whose
# declared sizes add up to at most MAX_EXPANSION times the file's size plus 1 MiB (save_model
# stores its arrays uncompressed, so its own files expand by a factor of about 1); and a JSON
# configuration nested at most MAX_JSON_DEPTH deep.
MAX_EXPANSION = 16
MAX_JSON_DEPTH = 64
_MEMBER = re.compile(r"(config_json|(weight|optimizer|kernel_mask)_\d{1,6})\.npy")


def save_model(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Architecture, weights, compile state and optimizer state in one .npz (no pickle)."""
    model._require_built("save")
    config = {"format": "refnn", "version": FORMAT_VERSION, "model": model.get_config()}
    arrays: dict[str, Any] = {f"weight_{i}": w for i, w in enumerate(model.weights)}
    if model.compiled:
        optimizer_state = model.optimizer.get_state()
        config["compile"] = {"loss": model.loss.get_config(),
                             "optimizer": model.optimizer.get_config(),
                             "metrics": list(model._metric_names),
                             "weighted_metrics": list(model._weighted_metric_names),
                             # what the optimizer state belongs to (the layers' configs
                             # hold trainable as it is now, applied by load's compile)
                             "trainable_mask": [bool(m) for m in model._trainable_mask],
                             "n_optimizer_state": len(optimizer_state)}
        for i, s in enumerate(optimizer_state):
            arrays[f"optimizer_{i}"] = np.asarray(s)
    rng_state = {"shuffle": model._shuffle_rng.bit_generator.state,
                 "dropout": model._dropout_rng.bit_generator.state}
    config["rng"] = json.loads(json.dumps(rng_state, default=int))
    masks = {i: mask for i, leaf in enumerate(model.leaf_layers())
             if (mask := getattr(leaf, "kernel_mask", None)) is not None}
    for i, mask in masks.items():
        arrays[f"kernel_mask_{i}"] = mask
    config["kernel_masks"] = sorted(masks)
    arrays["config_json"] = np.array(json.dumps(config))
    write_atomically(path, lambda f: np.savez(f, **arrays))


def save_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """The weights alone (get_weights() order) in an .npz ending .weights.npz, written
    atomically as save() writes (Keras 3: save_weights to a file ending .weights.h5)."""
    model._require_built("save_weights")
    if not os.fspath(path).endswith(".weights.npz"):
        raise ValueError(f"path must end in .weights.npz, got {os.fspath(path)!r}")
    arrays: dict[str, Any] = {f"weight_{i}": w for i, w in enumerate(model.weights)}
    write_atomically(path, lambda f: np.savez(f, **arrays))


def load_weights(model: Sequential, path: str | os.PathLike[str]) -> None:
    """Weights saved by save_weights (or save) put into the model: every array checked first,
    so a file that does not fit changes nothing; ValueError naming the file otherwise."""
    model._require_built("load_weights")
    if not os.path.isfile(path):
        raise ModelFileNotFoundError(f"no weights file at {path}")
    try:
        _check_members(path)
        with np.load(path, allow_pickle=False) as data:
            n = len(model.weights)
            if not all(f"weight_{i}" in data.files for i in range(n)) \
                    or f"weight_{n}" in data.files:
                raise ValueError(f"it does not hold exactly the model's {n} weight arrays")
            weights = [data[f"weight_{i}"] for i in range(n)]
        model.set_weights(weights)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, TypeError) as e:
        raise ValueError(f"{path}: cannot load these weights: {e}") from None


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


NEW_FILE_MODE = 0o666 & ~_umask()       # what open(path, "wb") would give a new file


def write_atomically(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """write(f) into a temporary file in path's folder, flushed to disk, then renamed over
    path. A failure at any moment (a full disk, an exception in write, the process killed)
    leaves at path the previous file or nothing, never part of the new one; the temporary
    file is removed on every failure that lets this code run."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o7777
    except OSError:
        mode = NEW_FILE_MODE
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".partial",
                                     dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    with contextlib.suppress(OSError):          # the rename itself reaches the disk
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


class ModelFileNotFoundError(FileNotFoundError, ValueError):
    """No model file at the path (a ValueError too, as Keras raises for a missing file)."""


def load_model(path: str | os.PathLike[str]) -> Sequential:
    """A model saved by Sequential.save: architecture, weights, loss, metrics, optimizer and its
    state, so that training continues where it stopped. The file is read with
    allow_pickle=False and its JSON names only refnn's own classes: loading runs no code."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a file path (str or os.PathLike), got "
                        f"{type(path).__name__}")
    if not os.path.isfile(path):
        raise ModelFileNotFoundError(f"no model file at {path}" +
                                     (" (it is a directory)" if os.path.isdir(path) else ""))
    try:
        _check_members(path)
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("not an .npz archive")
        with data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, NotImplementedError,
            RuntimeError, OverflowError, MemoryError) as e:
        raise ValueError(f"{path} is not a refnn model file: {e}") from None
    if "config_json" not in arrays:
        raise ValueError(f"{path} is not a refnn model file (no config_json entry)")
    try:
        text = str(arrays["config_json"])
        _check_json_depth(text)
        config = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise ValueError(f"{path}: its configuration is not valid JSON: {e}") from None
    if not isinstance(config, dict) or config.get("format") != "refnn":
        raise ValueError(f"{path} is not a refnn model file")
    if config.get("version") != FORMAT_VERSION:
        raise ValueError(f"{path} has format version {config.get('version')}, this refnn reads "
                         f"{FORMAT_VERSION}")
    try:
        return _model_from_config(config, arrays, path)
    except (KeyError, TypeError, AttributeError, ValueError, MemoryError, OverflowError,
            RecursionError) as e:
        if isinstance(e, ValueError) and str(e).startswith(str(path)):
            raise
        raise ValueError(f"{path}: malformed refnn model file ({type(e).__name__}: {e})") from None


def _check_members(path):
    """The zip directory against the budget above, before anything is decompressed."""
    budget = MAX_EXPANSION * os.path.getsize(path) + 2**20
    with zipfile.ZipFile(path) as archive:
        declared = 0
        for info in archive.infolist():
            if not _MEMBER.fullmatch(info.filename):
                raise ValueError(f"unexpected member {info.filename!r}")
            if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise ValueError(f"member {info.filename!r} uses compression method "
                                 f"{info.compress_type}; refnn reads stored or deflated ones")
            if info.flag_bits & 0x1:
                raise ValueError(f"member {info.filename!r} is encrypted")
            declared += info.file_size
        if declared > budget:
            raise ValueError(f"its members declare {declared:,} bytes, more than "
                             f"{MAX_EXPANSION} times the file's size plus 1 MiB ({budget:,})")


def _check_json_depth(text):
    """Refuse JSON nested deeper than MAX_JSON_DEPTH before json.loads recurses into it."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"nested more than {MAX_JSON_DEPTH} deep")
        elif ch in "]}":
            depth -= 1


def _model_from_config(config, arrays, path):
    from .model import Sequential  # the model imports this module
    mc = config["model"]
    layers = [layers_module.deserialize(s) for s in mc["layers"]]
    _check_declared_sizes(layers, mc.get("input_shape"), arrays, path)
    model = Sequential(layers, seed=mc["seed"], dtype=mc["dtype"], name=mc["name"],
                       trainable=mc.get("trainable", True))
    if not model.built and mc.get("input_shape") is not None:
        model.build(mc["input_shape"])
    n_weights = len(model._weights)
    if not all(f"weight_{i}" in arrays for i in range(n_weights)):
        _missing(path, "weights")
    model.set_weights([arrays[f"weight_{i}"] for i in range(n_weights)])
    leaves = model.leaf_layers()
    for i in config.get("kernel_masks", []):
        if not (isinstance(i, int) and 0 <= i < len(leaves)
                and hasattr(leaves[i], "set_kernel_mask") and f"kernel_mask_{i}" in arrays):
            raise ValueError(f"{path}: kernel mask {i!r} does not belong to a Dense layer")
        leaves[i].set_kernel_mask(arrays[f"kernel_mask_{i}"])
    if "compile" in config:
        cc = config["compile"]
        model.compile(losses_module.deserialize(cc["loss"]),
                      optimizers_module.deserialize(cc["optimizer"]), cc["metrics"],
                      cc.get("weighted_metrics"))
        n_state = int(cc.get("n_optimizer_state", 0))
        saved_mask = cc.get("trainable_mask")
        if n_state and saved_mask is not None and list(saved_mask) != model._trainable_mask:
            # trainable was changed after compile() and before save(): compiled with the new
            # setting, the optimizer has other slots; it starts afresh (as Keras 3 does)
            warnings.warn(f"{path}: the trainable attribute of some layers changed after "
                          f"compile() and before save(); the model is compiled with the new "
                          f"setting and its optimizer state is not restored", UserWarning,
                          stacklevel=3)
            n_state = 0
        if n_state:
            if not all(f"optimizer_{i}" in arrays for i in range(n_state)):
                _missing(path, "optimizer state")
            model.optimizer.set_state([arrays[f"optimizer_{i}"] for i in range(n_state)])
    if "rng" in config:
        try:
            model._shuffle_rng.bit_generator.state = config["rng"]["shuffle"]
            model._dropout_rng.bit_generator.state = config["rng"]["dropout"]
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{path}: bad random-generator state: {e}") from None
    return model


def _check_declared_sizes(layers, input_shape, arrays, path):
    """The layers' weights, counted from their configuration without building them, against
    the weights the file holds: a few bytes of JSON must not make the build allocate what no
    array in the file fills (an 8000 x 8000 layer declared in a 9.5 KB file). The budget is
    _check_members's, for 8-byte numbers."""
    if input_shape is None and layers:
        input_shape = layers[0].input_shape
    if input_shape is None:
        return                                     # built on first use, from real data
    shape = _validate.sample_shape("input_shape", input_shape, batch_axis=True)
    declared = layers_module.count_params_for(layers, shape)
    held = sum(a.size for name, a in arrays.items() if name.startswith("weight_"))
    # refused here when the build would cost more than the file may expand to (see
    # _check_members); smaller mismatches reach set_weights, whose message names the shapes
    if declared > held and 8 * declared > MAX_EXPANSION * os.path.getsize(path) + 2**20:
        shown = f"{declared:,}" if declared < 10**15 else f"over 10^{len(str(declared)) - 1}"
        raise ValueError(f"{path}: its layers declare {shown} weights but it holds {held:,}")


def _missing(path, what):
    raise ValueError(f"{path} is incomplete: its {what} are missing")
