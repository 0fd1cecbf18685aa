"""Fuzzing the command line: random command lines of demo, train, gradcheck, trace and the
XOR run, their flags given odd values (0, -1, huge, nan, inf, text, empty, a folder, a FIFO).
Each run ends with exit status 0 or 1, or with 2 and one line on stderr, never a traceback;
no run may take long (epochs are kept small, and what would need more memory than there is
must be refused first). Run in a child process by tests/test_fuzz.py."""
import contextlib
import io
import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from refnn import cli

from _settings import fuzz

FOLDER = tempfile.mkdtemp(prefix="refnn-fuzz-cli-")
FIFO = os.path.join(FOLDER, "pipe.csv")
os.mkfifo(FIFO)
CSV = os.path.join(FOLDER, "ok.csv")
with open(CSV, "w") as f:
    f.write("a,b,y\n" + "".join(f"{i % 7},{i % 3},{i % 2}\n" for i in range(40)))
DIRECTORY_NPZ = os.path.join(FOLDER, "folder.npz")
os.mkdir(DIRECTORY_NPZ)

ODD = ["0", "-1", "1", "2", "3", "1000000000", "1e9", "nan", "inf", "-inf", "x", "", "0.5",
       "1e308", "-0"]
SIZES = ["", "4", "4,4", "0", "-3", "100000000", "1000000000000", "4,x", "none", "2,2,2,2,2"]
FLAGS = {
    "--layers": st.sampled_from(SIZES),
    "--samples": st.sampled_from(["40", "0", "-5", "1000000000", "1e9", "x", "3"]),
    "--noise": st.sampled_from(ODD),
    "--lr": st.sampled_from(ODD + ["1e30"]),
    "--batch-size": st.sampled_from(ODD),
    "--epochs": st.sampled_from(["1", "2", "0", "-1", "x", "nan"]),
    "--dropout": st.sampled_from(["0", "0.5", "1", "-0.1", "nan", "x"]),
    "--seed": st.sampled_from(["0", "1", "-1", "x", "99999999999999999999"]),
    "--activation": st.sampled_from(["relu", "tanh", "softmax", "x"]),
    "--optimizer": st.sampled_from(["sgd", "adam", "lbfgs", "x"]),
    "--loss": st.sampled_from(["auto", "mse", "huber", "binary_crossentropy", "x"]),
    "--test-fraction": st.sampled_from(["0.2", "0", "1", "0.99", "x"]),
    "--limit": st.sampled_from(["5", "0", "1", "x"]),
    "--csv": st.sampled_from([CSV, FIFO, "/dev/zero", FOLDER, os.path.join(FOLDER, "no.csv")]),
    "--save": st.sampled_from([DIRECTORY_NPZ, os.path.join(FOLDER, "m.npz"), "m.txt",
                               os.path.join(FOLDER, "no", "m.npz")]),
}
DEMO_ONLY = {"--width": st.sampled_from(ODD), "--height": st.sampled_from(ODD),
             "--every": st.sampled_from(ODD)}
TRACE = {"--sizes": st.sampled_from(SIZES + ["2,3,1", "2000,2000"]),
         "--max-entries": st.sampled_from(ODD)}


@st.composite
def command_line(draw):
    command = draw(st.sampled_from(["demo", "train", "gradcheck", "trace", None]))
    if command == "trace":
        table = TRACE
    elif command is None:
        return ["--epochs", draw(st.sampled_from(["1", "0", "-1", "x", "100"])),
                "--eta", draw(st.sampled_from(ODD)), "--seed", draw(st.sampled_from(ODD))]
    else:
        table = {**FLAGS, **(DEMO_ONLY if command == "demo" else {})}
        if command == "demo":
            table = {k: v for k, v in table.items() if k not in ("--csv", "--save", "--limit")}
    names = draw(st.lists(st.sampled_from(sorted(table)), max_size=5, unique=True))
    argv = [command]
    if command in ("train", "gradcheck") and "--csv" not in names:
        argv.append(draw(st.sampled_from(["spirals", "xor", "circles", "blobs"])))
    for name in names:
        argv += [name, draw(table[name])]
    if command in ("demo", "train") and "--epochs" not in names:
        argv += ["--epochs", "2"]
    if command in ("demo", "train", "gradcheck") and "--samples" not in names:
        argv += ["--samples", "40"]
    return argv


@fuzz(150)
@given(argv=command_line())
def test_a_command_line_ends_in_a_result_or_one_line(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = cli.main(argv)
        except SystemExit as e:                     # argparse's own one-line errors
            status = e.code
    text = err.getvalue()
    assert "Traceback" not in text, f"{argv}: {text}"
    assert status in (0, 1, 2), f"{argv}: exit status {status}: {text}"
    if status == 2:
        lines = [line for line in text.strip().splitlines() if line.strip()]
        assert len(lines) == 1, f"{argv}: {text}"
