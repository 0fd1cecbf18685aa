"""The command line's findings of the hardening issue: each refused up front on one line with
exit status 2 (never a traceback, an out-of-memory kill, or a refusal after training), and the
CSV reader's errors naming the file and the right line."""
import os
import tracemalloc

import numpy as np
import pytest

from refnn import cli, datasets
from refnn.cli import budget

GIB = 2**30


@pytest.fixture()
def machine_of_24_gib(monkeypatch):
    """The memory check against the machine these findings were measured on: 24 GiB."""
    monkeypatch.setattr(budget, "available_bytes", lambda: 24 * GIB)


def main_error(argv, capsys, *fragments):
    assert cli.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def usage_error(argv, capsys, *fragments):
    """An error argparse reports (SystemExit 2, one line)."""
    with pytest.raises(SystemExit) as info:
        cli.main([str(a) for a in argv])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


@pytest.mark.parametrize("argv, fragments", [
    # spirals: 2 inputs, 10^8 hidden units, 1 output: 4 x 10^8 weights; a batch of 32 holds
    # 3 x 32 x 10^8 numbers: the process was killed for lack of memory
    (["train", "spirals", "--layers", "100000000", "--epochs", "1"],
     ["--layers 100000000: training a network of 400,000,001 weights on batches of ",
      "more than the 25.8 GB available"]),
    (["gradcheck", "--layers", "100000000"], ["--layers 100000000: "]),
    (["demo", "--layers", "100000000"], ["--layers 100000000: "]),
    (["train", "spirals", "--samples", "1000000000"],
     ["--samples 1000000000: generating 1,000,000,000 points needs about 200.0 GB"]),
    (["demo", "--samples", "1000000000"], ["--samples 1000000000: "]),
])
def test_what_needs_more_memory_than_there_is_is_refused_before_it_is_asked_for(
        argv, fragments, capsys, machine_of_24_gib):
    main_error(argv, capsys, *fragments)


def test_the_training_estimate_counts_weights_slots_and_a_batch():
    """5 copies of the weights (weights, gradients, 3 slots), 2 float64 copies of the largest
    matrix, 3 numbers per unit of a batch; float32."""
    sizes, batch = [784, 128, 10], 200
    weights = 785 * 128 + 129 * 10
    expected = 5 * 4 * weights + 2 * 8 * 784 * 128 + 3 * 4 * batch * 138
    seen = []
    budget.require, original = (lambda n, what: seen.append(n)), budget.require
    try:
        budget.training(sizes, batch, "float32", "--layers 128")
    finally:
        budget.require = original
    assert seen == [expected]


@pytest.mark.parametrize("width", [1, 100000])
def test_drawing_sizes_are_checked_with_the_flags_not_after_training(width, capsys):
    usage_error(["demo", "--width", width], capsys, "--width must be from 2 to 1000",
                f"got {width}")


def test_save_to_a_folder_is_refused_before_training(tmp_path, capsys):
    folder = tmp_path / "model.npz"
    folder.mkdir()
    main_error(["train", "spirals", "--epochs", "1", "--save", folder], capsys,
               f"--save {folder}: that is a folder")


def test_a_learning_rate_that_makes_training_diverge_says_so(capsys):
    """--lr 1e30 used to blame x."""
    err = main_error(["train", "spirals", "--lr", "1e30", "--epochs", "3"], capsys,
                     "training diverged in epoch 1, batch ")
    assert "x must" not in err


# --------------------------------------------------------------------------- CSV files
def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


@pytest.mark.parametrize("text, line", [
    ("a,b,y\n1,2,0\n\n\n1,x,1\n", 5),                         # after blank lines
    ('a,b,y\n"one\nline two",2,0\n1,x,1\n', 4),               # after a cell with a line break
    ("a,b,y\n1,2,0\n1,2\n", 3),                               # a short row
])
def test_csv_errors_name_the_line_the_row_is_on(tmp_path, text, line):
    path = write(tmp_path / "t.csv", text)
    with pytest.raises(ValueError, match=f"t.csv, line {line}[:,]"):
        datasets.load_csv(path, drop=["a"] if "one" in text else ())


def test_a_latin_1_csv_is_refused_naming_the_file_and_the_line(tmp_path):
    path = write(tmp_path / "latin.csv", "city,t\nZurich,1\nZürich,2\nBern,3\n", "latin-1")
    with pytest.raises(ValueError, match=r"latin\.csv: line 3 is not UTF-8 text \(byte 0xfc"):
        datasets.load_csv(path)


def test_a_cell_over_the_csv_field_limit_is_a_one_line_error(tmp_path, capsys):
    path = write(tmp_path / "wide.csv", "a,y\n" + "1" * 200_000 + ",0\n2,1\n")
    with pytest.raises(ValueError, match=r"wide\.csv, line 2: field larger than field limit"):
        datasets.load_csv(path)
    main_error(["train", "--csv", path], capsys, "wide.csv, line 2: field larger")


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_a_csv_that_is_not_a_regular_file_is_refused_as_such(special, tmp_path):
    if special == "fifo":
        special = tmp_path / "pipe.csv"
        os.mkfifo(special)
    elif not os.path.exists(special):
        pytest.skip(f"{special} does not exist here")
    with pytest.raises(ValueError, match="not a regular file"):
        datasets.load_csv(special)


def test_csv_values_near_the_largest_float_are_standardised(tmp_path, capsys):
    """Values near 1e308 overflowed the column sums: "x_val must be finite, got nan"."""
    rng = np.random.default_rng(0)
    rows = "\n".join(f"{a:.6e},{b:.6e},{int(a > 0)}"
                     for a, b in rng.uniform(-1, 1, size=(60, 2)) * 1.7e308)
    path = write(tmp_path / "huge.csv", "a,b,y\n" + rows + "\n")
    assert cli.main(["train", "--csv", str(path), "--epochs", "2", "--layers", "4"]) == 0, \
        capsys.readouterr().err
    from refnn.preprocessing import standardise
    x = np.array([[1e308, 1.0], [-1e308, 3.0], [5e307, 5.0]])
    xa, _, mean, std = standardise(x, x[:1])
    assert np.isfinite(xa).all() and np.isfinite(mean).all() and np.isfinite(std).all()
    # the second column is ordinary: exactly what (x - mean) / std gives
    col = x[:, 1]
    np.testing.assert_array_equal(xa[:, 1], (col - col.mean()) / col.std())


def test_a_one_megabyte_csv_costs_memory_in_proportion(tmp_path):
    """1 MB of small numbers: the rows as text and as numbers, under 64 MiB at the peak."""
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 10, size=(25_000, 20))
    text = "\n".join(",".join(map(str, r)) for r in rows)
    path = write(tmp_path / "big.csv", ",".join(f"c{i}" for i in range(20)) + "\n" + text)
    assert 0.9e6 < path.stat().st_size < 1.1e6
    tracemalloc.start()
    try:
        data = datasets.load_csv(path, task="classification")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert data.X.shape == (25_000, 19)
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB"
