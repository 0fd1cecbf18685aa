"""CSV files: a header row, columns of numbers or of text, read into features and a target.

`load_csv(path, target=None, drop=(), task="auto")` reads a file with a header row into a
float64 feature matrix (columns of text one-hot encoded) and a target: class indices, or real
numbers for a regression. Nothing is split or scaled here (refnn.utils.split splits,
refnn.preprocessing.prepare_csv splits and standardises).
"""
from __future__ import annotations

import csv
import math
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._validate import choice, positive_int

__all__ = ["load_csv", "CSVData", "CSV_MAX_CLASSES", "CSV_TASKS"]

#: task="auto": a target with more distinct whole numbers is regressed
CSV_MAX_CLASSES = 20       # task="auto": a target with more distinct whole numbers is regressed
#: the tasks load_csv accepts
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
    X: NDArray[np.float64]
    y: NDArray[Any]
    task: str
    feature_names: list[str]
    target: str
    class_names: list[str] | None
    one_hot: list[tuple[str, list[str]]]


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
    """(column names, rows of strings, the line each row starts on) of a CSV file with a
    header row. Only a regular file is opened (a FIFO would block, a device never end); every
    failure to read it is a ValueError naming the file and the line."""
    if os.path.isdir(path):
        raise IsADirectoryError(f"{names['path'].format(path)} is a folder; give a CSV file")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise FileNotFoundError(f"{names['path'].format(path)}: no such file") from None
    if not stat.S_ISREG(mode):
        raise ValueError(f"{names['path'].format(path)}: not a regular file (a FIFO, a device "
                         f"or a socket); give a CSV file")
    rows, lines = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        try:
            sample = f.read(65536)
            f.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            reader = csv.reader(f, dialect)
            end = 0                                  # the line the previous row ended on
            for row in reader:
                if any(cell.strip() for cell in row):            # blank lines are skipped
                    rows.append(row)
                    lines.append(end + 1)        # a row may span lines (breaks in its cells)
                end = reader.line_num
        except UnicodeDecodeError:
            raise ValueError(f"{path}: {_not_utf8(path)}; save it as UTF-8") from None
        except csv.Error as e:
            raise ValueError(f"{path}, line {reader.line_num}: {e}") from None
    if len(rows) < 2:
        raise ValueError(f"{path}: expected a header row and data rows, got {len(rows)} rows")
    header = [name.strip() for name in rows[0]]
    for row, line in zip(rows[1:], lines[1:]):
        if len(row) != len(header):
            raise ValueError(f"{path}, line {line}: {len(row)} fields, but the header has "
                             f"{len(header)}")
    return header, [[cell.strip() for cell in row] for row in rows[1:]], lines[1:]


def _not_utf8(path):
    """Where a file stops being UTF-8: the line and the byte."""
    with open(path, "rb") as f:
        raw = f.read()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        return (f"line {line} is not UTF-8 text (byte 0x{raw[e.start]:02x}; Latin-1 or "
                f"Windows-1252 perhaps)")
    return "it is not UTF-8 text"


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


def _feature_matrix(path, header, rows, lines, columns, names):
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
            raise ValueError(f"{path}, line {lines[i]}, column {header[c]!r}: expected a number, "
                             f"got {rows[i][c]!r} (the column holds numbers elsewhere; fix the "
                             f"value, or leave the column out with "
                             f"{names['drop'].format(header[c])})")
    return np.hstack(blocks), feature_names, one_hot


def load_csv(path: str | os.PathLike[str], target: str | int | None = None,
             drop: Sequence[str | int] = (), task: str = "auto",
             max_classes: int = CSV_MAX_CLASSES, *,
             argument_names: dict[str, str] | None = None) -> CSVData:
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
    header, rows, lines = _read_csv_rows(path, names)
    t = _target_column(header, target, path, names)
    for name in drop:
        if name not in header:
            raise ValueError(f"{names['drop'].format(name)}: {path} has no such column; "
                             f"its columns: {', '.join(header)}")
        if header.index(name) == t:
            raise ValueError(f"{names['drop'].format(name)} is the target column of {path}")
    features = [c for c in range(len(header)) if c != t and header[c] not in drop]
    if not features:
        raise ValueError(f"{path} has no feature columns besides the target {header[t]!r}")
    X, feature_names, one_hot = _feature_matrix(path, header, rows, lines, features, names)
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
            raise ValueError(f"{path}, line {lines[i]}: the regression target {header[t]!r} must "
                             f"be a number, got {raw[i]!r}")
        y = np.array(target_numbers)
        class_names = None
    else:
        keys = target_numbers if numeric else raw
        values = sorted(set(keys))
        if len(values) < 2:
            raise ValueError(f"{path}: the target {header[t]!r} has a single value "
                             f"{values[0]!r}; there is nothing to learn")
        index = {v: k for k, v in enumerate(values)}
        y = np.array([index[v] for v in keys], dtype=np.int64)
        class_names = [f"{v:g}" if numeric else v for v in values]
    return CSVData(X=X, y=y, task=task, feature_names=feature_names, target=header[t],
                   class_names=class_names, one_hot=one_hot)
