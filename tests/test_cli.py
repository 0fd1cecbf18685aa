"""python -m refnn: each subcommand run as a user runs it (a subprocess, small settings), its exit
status and what it prints; wrong command lines end in one line and exit status 2; pictures are
valid PNGs of the size asked for; the terminal drawing of a decision boundary."""
import csv
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from refnn import benchmarking, cli, datasets, experiments, load_model, terminal
from png_files import PNG_SIGNATURE, png_size

REPO = Path(__file__).resolve().parents[1]


def run(*args, python_code=None, env=None, timeout=120):
    """python -m refnn ARGS (or python -c CODE ARGS) in a fresh interpreter, with `env` added
    to the environment; the CompletedProcess."""
    env = dict(os.environ, **(env or {}))
    env["PYTHONPATH"] = os.pathsep.join([str(REPO)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("OPENBLAS_NUM_THREADS", "1")
    env.pop("REFNN_TRACEBACK", None)
    command = [sys.executable, "-c", python_code] if python_code else [sys.executable, "-m",
                                                                        "refnn"]
    return subprocess.run(command + [str(a) for a in args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def main_error(argv, capsys, *fragments):
    """cli.main(argv) in this process: exit status 2 and one line on stderr naming fragments."""
    assert cli.main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("refnn: error: ")
    for fragment in fragments:
        assert fragment in err, err


def accuracies(stdout):
    m = re.search(r"accuracy: ([0-9.]+) on the \d+ training points, ([0-9.]+) on the \d+ test",
                  stdout)
    assert m, stdout
    return float(m.group(1)), float(m.group(2))


def drawing(stdout):
    """The rows of the terminal drawing (between the borders)."""
    return [line[1:-1] for line in stdout.splitlines() if line.startswith("|")]


# --------------------------------------------------------------------------- no subcommand
def test_without_a_subcommand_xor_is_learned_traced_and_checked():
    result = run()
    assert result.returncode == 0, result.stderr
    assert "XOR learned" in result.stdout
    assert "epsilon2 =" in result.stdout
    assert "all 9 gradients agree" in result.stdout


def test_xor_flags_before_a_subcommand_are_refused(capsys):
    main_error(["--seed", "3", "demo"], capsys, "--seed", "after the subcommand")


# --------------------------------------------------------------------------- help and errors
@pytest.mark.parametrize("command", [None, "demo", "train", "gradcheck", "trace", "bench",
                                     "experiment"])
def test_every_subcommand_has_help_with_examples(command, capsys):
    argv = ([command] if command else []) + ["--help"]
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    assert f"python -m refnn {command or 'demo'}" in out


@pytest.mark.parametrize("argv, fragment", [
    (["demo", "--no-such-flag"], "unrecognized argument --no-such-flag"),
    (["demo", "--epoch", "3"], "did you mean --epochs?"),
    (["demo", "spirals", "extra"], "unrecognized arguments: extra"),
    (["demo", "moons"], "invalid choice: 'moons'"),
    (["demo", "--layers", "32,x"], "--layers"),
    (["train", "--epochs", "0"], "--epochs"),
    (["train", "--optimizer", "adadelta"], "invalid choice: 'adadelta'"),
    (["gradcheck", "--dropout", "1.5"], "--dropout"),
    (["trace", "--eta", "-1"], "--eta"),
    (["bench", "--threads", "0"], "--threads"),
    (["experiment", "--seed", "x"], "--seed"),
    (["frobnicate"], "invalid choice: 'frobnicate'"),
])
def test_a_wrong_command_line_is_one_line_and_exit_status_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert fragment in err and "--help" in err


def test_a_wrong_flag_in_a_real_run_has_no_traceback():
    result = run("train", "--layer", "128")
    assert_one_line_error(result, "python -m refnn train: error:", "--layer",
                          "did you mean --layers?")


# --------------------------------------------------------------------------- demo
def test_demo_learns_the_two_spirals_and_draws_the_boundary():
    result = run("demo")
    assert result.returncode == 0, result.stderr
    train_acc, test_acc = accuracies(result.stdout)
    assert train_acc >= 0.95 and test_acc >= 0.95
    assert re.search(r"epoch +1/300 ", result.stdout) and "epoch 300/300" in result.stdout
    rows = drawing(result.stdout)
    assert len(rows) == 32 and all(len(r) == 64 for r in rows)
    text = "".join(rows)
    assert set(text) <= set(".:ox")
    for char in ".:ox":                     # both regions and both classes' points show
        assert text.count(char) > 20
    assert "\x1b[" not in result.stdout     # no colour when not on a terminal


@pytest.mark.parametrize("dataset", ["circles", "xor", "blobs"])
def test_demo_on_the_other_2d_sets(dataset, capsys):
    assert cli.main(["demo", dataset, "--epochs", "60", "--width", "30", "--height", "12"]) == 0
    out = capsys.readouterr().out
    train_acc, test_acc = accuracies(out)
    assert train_acc >= 0.9 and test_acc >= 0.85
    assert "epoch  1/60 " in out and "epoch 60/60 " in out
    rows = drawing(out)
    assert len(rows) == 12 and all(len(r) == 30 for r in rows)


def test_demo_plot_is_a_png_of_the_figure_size(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "spirals.png"
    result = run("demo", "--epochs", "5", "--plot", out, "--dpi", 50)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert png_size(out) == (round(cli.FIGSIZE[0] * 50), round(cli.FIGSIZE[1] * 50))


def test_plot_without_matplotlib_says_how_to_install_it_before_training(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None; from refnn.cli import main; "
            "sys.exit(main(sys.argv[1:]))")
    out = tmp_path / "x.png"
    result = run("demo", "--plot", out, python_code=code)
    assert_one_line_error(result, "pip install -e '.[plot]'")
    assert result.stdout == ""              # refused before any training
    assert not out.exists()


def test_plot_into_a_missing_folder_is_refused(tmp_path, capsys):
    main_error(["demo", "--plot", tmp_path / "no" / "such.png"], capsys, "does not exist")


# --------------------------------------------------------------------------- train
def test_train_a_2d_set_saves_a_model_that_loads(tmp_path):
    path = tmp_path / "spirals.npz"
    result = run("train", "spirals", "--epochs", "40", "--verbose", "2", "--save", path)
    assert result.returncode == 0, result.stderr
    assert "Epoch 40/40" in result.stdout
    assert re.search(r"test: +loss [0-9.]+, acc [0-9.]+", result.stdout)
    model = load_model(path)
    assert model.count_params() == 2 * 32 + 32 + 32 * 32 + 32 + 32 + 1
    side = tmp_path / "spirals.preprocessing.json"
    assert side.exists() and '"mean"' in side.read_text()


def write_csv(path, n=240, seed=0):
    """Three numeric features, a text column, a class label (text) and a price (real)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    colour = rng.choice(["red", "green"], size=n)
    label = np.where(X[:, 0] + X[:, 1] > 0, "big", np.where(X[:, 2] > 0, "mid", "small"))
    price = 100 + 3 * X[:, 0] - 2 * X[:, 1] + (colour == "red") + 0.05 * rng.normal(size=n)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["a", "b", "c", "colour", "label", "price"])
        for i in range(n):
            w.writerow([f"{X[i, 0]:.5f}", f"{X[i, 1]:.5f}", f"{X[i, 2]:.5f}", colour[i],
                        label[i], f"{price[i]:.4f}"])
    return path


def test_train_on_a_csv_file_classifies_a_text_target(tmp_path):
    path = write_csv(tmp_path / "data.csv")
    result = run("train", "--csv", path, "--target", "label", "--drop", "price",
                 "--epochs", "40", "--verbose", "0")
    assert result.returncode == 0, result.stderr
    assert "3 classes" in result.stdout and "one-hot encoded: colour (2 values)" in result.stdout
    acc = float(re.search(r"test: +loss [0-9.]+, acc ([0-9.]+)", result.stdout).group(1))
    assert acc >= 0.8


def test_train_on_a_csv_file_regresses_a_real_target_with_a_plot(tmp_path):
    pytest.importorskip("matplotlib")
    path = write_csv(tmp_path / "data.csv")
    png = tmp_path / "curves.png"
    result = run("train", "--csv", path, "--target", "5", "--epochs", "40", "--verbose", "0",
                 "--plot", png)
    assert result.returncode == 0, result.stderr
    assert "regression" in result.stdout
    mae = float(re.search(r"mean absolute error ([0-9.e+-]+)", result.stdout).group(1))
    assert mae < 1.0                        # the price's standard deviation is about 3.6
    assert png_size(png) == (round(cli.FIGSIZE[0] * cli.DEFAULT_DPI),
                             round(cli.FIGSIZE[1] * cli.DEFAULT_DPI))


@pytest.mark.parametrize("args, fragments", [
    (["--target", "weight"], ["no column 'weight'", "a, b, c, colour, label, price"]),
    (["--target", "9"], ["out of range", "6 columns"]),
    (["--target", "price", "--loss", "binary_crossentropy"], ["regression target"]),
])
def test_csv_mistakes_are_one_line_errors(tmp_path, capsys, args, fragments):
    path = write_csv(tmp_path / "data.csv", n=30)
    main_error(["train", "--csv", path, "--epochs", "1", *args], capsys, *fragments)


def test_a_missing_csv_file_is_a_one_line_error(tmp_path, capsys):
    main_error(["train", "--csv", tmp_path / "nothing.csv"], capsys, "no such file")


def test_a_csv_column_of_numbers_with_a_word_in_it_names_the_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,y\n1,2,0\n3,oops,1\n5,6,0\n7,8,1\n")
    main_error(["train", "--csv", path], capsys, "line 3", "column 'b'", "'oops'", "--drop b")


def test_missing_fashion_mnist_says_how_to_get_it(tmp_path):
    result = run("train", "fashion-mnist", "--data", tmp_path)
    assert_one_line_error(result, "apt-get install dataset-fashion-mnist", "--data DIR")


def _fashion_mnist_present():
    try:
        datasets.idx._locate("fashion-mnist", None, "")
    except FileNotFoundError:
        return False
    return True


@pytest.mark.skipif(not _fashion_mnist_present(),
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_train_on_a_fashion_mnist_subset():
    result = run("train", "fashion-mnist", "--limit", "2000", "--epochs", "1", "--verbose", "2")
    assert result.returncode == 0, result.stderr
    assert "2000 training and 10000 test samples, 784 inputs, 10 classes" in result.stdout
    acc = float(re.search(r"test: +loss [0-9.]+, acc ([0-9.]+)", result.stdout).group(1))
    assert acc >= 0.6


# --------------------------------------------------------------------------- gradcheck
def test_gradcheck_prints_a_row_per_tensor_and_passes():
    result = run("gradcheck", "--layers", "4,3", "--activation", "tanh", "--samples", "8")
    assert result.returncode == 0, result.stderr
    rows = [line for line in result.stdout.splitlines() if line.startswith("dense_")]
    assert [r.split()[0] for r in rows] == ["dense_0/kernel", "dense_0/bias", "dense_1/kernel",
                                            "dense_1/bias", "dense_2/kernel", "dense_2/bias"]
    for row in rows:                        # the worst relative error is the first n.ne-nn
        worst = float(re.search(r"\d\.\de[-+]\d\d", row).group())
        assert worst < 1e-6 and row.split()[-1] == "yes"
    assert "all 31 gradients agree" in result.stdout     # 2*4+4 + 4*3+3 + 3*1+1 entries


def test_gradcheck_exits_1_when_a_gradient_fails_the_tolerance():
    result = run("gradcheck", "--layers", "3", "--samples", "4", "--tolerance", "1e-15")
    assert result.returncode == 1, result.stderr
    assert "NOT OK" in result.stdout


# --------------------------------------------------------------------------- trace
def test_trace_prints_the_step_beside_finite_differences():
    result = run("trace", "--sizes", "2,3,1", "--x", "1,0", "--y", "1", "--eta", "0.1")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for quantity in ("h1 =", "g2 =", "epsilon1 =", "epsilon2 =", "dE/dW2 =", "W1' =", "b2' ="):
        assert quantity in out
    entries = [line.split() for line in out.splitlines() if line.strip().startswith("dE/d")
               and "= epsilon" in line]
    assert len(entries) == 2 * 3 + 3 + 3 * 1 + 1      # every weight and bias
    for e in entries:
        backprop, numeric = float(e[-3]), float(e[-2])
        assert backprop == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert "all entries agree" in out


def test_trace_refuses_an_input_of_the_wrong_size(capsys):
    main_error(["trace", "--sizes", "2,2,1", "--x", "1,2,3"], capsys, "--x has 3 values",
               "2 inputs")


def test_trace_takes_negative_values(capsys):
    assert cli.main(["trace", "--x", "-1,-0.5", "--y", "0.25"]) == 0
    out = capsys.readouterr().out
    assert "x = g0 = [-1.000000 -0.500000]" in out and "y      = [0.250000]" in out


def test_trace_of_a_large_network_is_refused_at_once_naming_max_entries():
    result = run("trace", "--sizes", "2000,2000", timeout=30)
    assert_one_line_error(result, "--sizes 2000,2000 has 4,002,000 weights", "--max-entries N")
    assert result.stdout == ""


def test_trace_with_max_entries_checks_that_many_entries_per_tensor():
    result = run("trace", "--sizes", "60,50,5", "--max-entries", "4", "--seed", "1")
    assert result.returncode == 0, result.stderr
    entries = [line.split() for line in result.stdout.splitlines()
               if line.strip().startswith("dE/d") and "= epsilon" in line]
    assert len(entries) == 4 * 4                       # W1, b1, W2, b2: four entries each
    for tensor in ("W1[", "b1[", "W2[", "b2["):
        assert sum(e[0].startswith("dE/d" + tensor) for e in entries) == 4
    for e in entries:
        backprop, numeric = float(e[-3]), float(e[-2])
        assert backprop == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert "all entries agree" in result.stdout


def test_trace_entries_are_the_central_differences_of_E():
    # the oracle: E(w +- s) of the one sample written out in NumPy, for the 2-2-1 default
    from refnn.textbook import BackpropNetwork
    result = run("trace", "--x", "0.5,-1", "--y", "0.2")
    assert result.returncode == 0, result.stderr
    weights = BackpropNetwork([2, 2, 1], seed=0).get_weights()
    x, y, s = np.array([0.5, -1.0]), np.array([0.2]), 1e-6

    def E(ws):
        g = x
        for W, b in zip(ws[::2], ws[1::2]):
            g = 1 / (1 + np.exp(-(g @ W + b)))
        return 0.5 * np.sum((g - y) ** 2)

    lines = [line for line in result.stdout.splitlines() if line.strip().startswith("dE/dW2[1,0]")]
    moved = [[w.copy() for w in weights] for _ in range(2)]
    moved[0][2][1, 0] += s
    moved[1][2][1, 0] -= s
    assert float(lines[0].split()[-2]) == pytest.approx((E(moved[0]) - E(moved[1])) / (2 * s),
                                                        rel=1e-7)


@pytest.mark.parametrize("argv, name, check, value", [
    (["train", "--epochs", "0"], "--epochs", "positive_int", 0),
    (["demo", "--lr", "-1"], "--lr", "positive_number", -1.0),
    (["gradcheck", "--dropout", "1.5"], "--dropout", "rate", 1.5),
    (["demo", "--test-fraction", "1"], "--test-fraction", "fraction", 1.0),
    (["demo", "--layers", "32,0"], "--layers", "sizes", [32, 0]),
    (["trace", "--x", "1,inf"], "--x", "finite_numbers", [1.0, float("inf")]),
])
def test_a_flag_is_refused_with_the_words_of_its_api_check(argv, name, check, value, capsys):
    from refnn import _validate
    with pytest.raises(ValueError) as api_error:
        getattr(_validate, check)(name, value)
    with pytest.raises(SystemExit):
        cli.main(argv)
    err = capsys.readouterr().err
    assert f"error: {api_error.value} (see" in err, err


def test_an_api_argument_and_its_flag_say_the_same():
    from refnn.textbook import BackpropNetwork
    net = BackpropNetwork([2, 1])
    with pytest.raises(ValueError) as api_error:
        net.fit(np.zeros((1, 2)), np.zeros((1, 1)), epochs=0)
    with pytest.raises(SystemExit):
        cli.main(["--epochs", "0"])
    assert str(api_error.value) == "epochs must be > 0, got 0"
    assert run("--epochs", "0").stderr.split("error: ")[1].startswith("--" + str(api_error.value))


# --------------------------------------------------------------------------- bench
def test_bench_quick():
    # the peers are hidden (importing PyTorch alone takes seconds): refnn against its NumPy
    # twin; each setting is measured in a fresh interpreter, which inherits the hiding
    hide = "import sys; sys.modules['torch'] = None; sys.modules['sklearn'] = None\n"
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "sitecustomize.py").write_text(hide)
        env = {"PYTHONPATH": folder}                      # run() puts the tree first
        result = run("bench", "--quick", "--workload", "W2", "--threads", "1,2", env=env)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^W2: .*\(\d+ samples, 1 thread\)", result.stdout, re.M)
    assert re.search(r"^W2: .*\(\d+ samples, 2 threads\)", result.stdout, re.M)
    assert re.search(r"^  refnn +[0-9,]+ samples/s", result.stdout, re.M)
    assert re.search(r"^  numpy +[0-9,]+ samples/s +refnn is +[0-9.]+x", result.stdout, re.M)
    assert "pytorch" in result.stdout and "not installed" in result.stdout
    scaling = re.search(r"^  W2: threads=1 ([0-9,]+) \(1\.00x\), threads=2 ([0-9,]+) "
                        r"\(([0-9.]+)x\)$", result.stdout, re.M)
    assert scaling, result.stdout
    one, two = (float(scaling.group(i).replace(",", "")) for i in (1, 2))
    assert float(scaling.group(3)) == pytest.approx(two / one, abs=0.006)


@pytest.mark.parametrize("text,error", [
    ("0", "threads must be whole numbers >= 1 or 'default'"),
    ("1,x", "threads must be whole numbers >= 1 or 'default'"),
    ("1,1", "threads lists a setting twice")])
def test_bench_refuses_bad_thread_settings(capsys, text, error):
    with pytest.raises(SystemExit) as stop:
        cli.main(["bench", "--threads", text])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"error: --{error}" in err, err


def test_bench_refuses_an_unknown_workload(capsys):
    main_error(["bench", "--workload", "W9"], capsys, "unknown workload 'W9'", "W1")


def test_bench_threads_default_to_the_environment_else_one(monkeypatch):
    for v in benchmarking.THREAD_VARIABLES:
        monkeypatch.delenv(v, raising=False)
    assert cli.bench.bench_threads(None) == [1] and cli.bench.bench_threads([3]) == [3]
    monkeypatch.setenv(benchmarking.THREAD_VARIABLES[0], "4")
    assert cli.bench.bench_threads(None) == [4] and cli.bench.bench_threads([1, 2]) == [1, 2]


# --------------------------------------------------------------------------- experiment
def test_experiment_lists_the_experiments_that_import():
    result = run("experiment")
    assert result.returncode == 0, result.stderr
    available = [name for name, _ in cli.available_experiments()]
    if not available:
        assert "no experiments are available yet" in result.stdout
    for name in experiments.NAMES:
        assert (re.search(rf"^  {name}\b", result.stdout, re.M) is not None) == (name in available)


def test_an_unknown_experiment_is_a_one_line_error(capsys):
    main_error(["experiment", "phlogiston"], capsys, "unknown experiment 'phlogiston'",
               "vanishing_gradients")


def test_an_experiment_runs_prints_its_result_and_plots(monkeypatch, tmp_path, capsys):
    # the experiments themselves are tested with their modules; here a stand-in shows what
    # the command does with one: run(name, quick, seed), print str(result), plot(result, path)
    calls = []
    result = experiments.ExperimentResult(
        name="depth", claim="Deeper plain networks train worse.", columns=["depth", "loss"],
        rows=[[2, 0.1], [20, 0.6]], conclusion="The 20-layer network ends at a higher loss.")

    def run_stub(name, quick=True, seed=0):
        calls.append(("run", name, quick, seed))
        return result

    def plot_stub(res, path):
        calls.append(("plot", res.name, path))
        Path(path).write_bytes(PNG_SIGNATURE)

    monkeypatch.setattr(experiments, "module", lambda name: object())
    monkeypatch.setattr(experiments, "run", run_stub)
    monkeypatch.setattr(experiments, "plot", plot_stub)
    png = tmp_path / "depth.png"
    args = ["experiment", "depth", "--quick", "--seed", "3"]
    if _matplotlib_present():
        args += ["--plot", str(png)]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert str(result) in out
    assert calls[0] == ("run", "depth", True, 3)
    if _matplotlib_present():
        assert calls[1] == ("plot", "depth", str(png)) and f"wrote {png}" in out


def _matplotlib_present():
    try:
        import matplotlib                   # noqa: F401
    except ImportError:
        return False
    return True


# --------------------------------------------------------------------------- the drawing
def test_the_drawing_shows_regions_boundary_and_points():
    X = np.array([[-0.9, 0.9], [0.9, -0.9]])
    y = np.array([0, 1])
    text = terminal.render(lambda P: (P[:, 0] > 0).astype(int), X, y, width=8, height=4,
                           bounds=(-1.0, 1.0, -1.0, 1.0), legend=False)
    assert text.splitlines() == [
        "+--------+",
        "|o...::::|",     # (-0.9, 0.9): top left; x1 < 0 is class 0's region
        "|....::::|",
        "|....::::|",
        "|....:::x|",     # (0.9, -0.9): bottom right
        "+--------+",
    ]


def test_the_drawing_shows_a_misclassified_point_in_the_other_region():
    X = np.array([[0.5, 0.0]])
    text = terminal.render(lambda P: np.zeros(len(P), int), X, np.array([1]), width=4,
                           height=2, bounds=(-1.0, 1.0, -1.0, 1.0), legend=False)
    assert text.splitlines()[1:3] == ["|....|", "|...x|"]


def test_the_decision_grid_samples_cell_centres_top_row_first():
    seen = []

    def classify(P):
        seen.append(P.copy())
        return np.arange(len(P)) % 3
    grid = terminal.decision_grid(classify, (0.0, 4.0, 0.0, 2.0), width=4, height=2)
    assert grid.shape == (2, 4)
    P = seen[0].reshape(2, 4, 2)
    assert P[0, 0].tolist() == [0.5, 1.5] and P[1, 3].tolist() == [3.5, 0.5]


def test_the_drawing_is_coloured_only_when_asked():
    X, y = np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1])
    classify = lambda P: (P.sum(axis=1) > 1).astype(int)          # noqa: E731
    plain = terminal.render(classify, X, y, width=10, height=5)
    coloured = terminal.render(classify, X, y, width=10, height=5, color=True)
    assert "\x1b[" not in plain and "\x1b[" in coloured
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured) == plain


def test_use_color_follows_the_terminal_and_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    with open(os.devnull, "w") as devnull:
        assert terminal.use_color(Tty()) and not terminal.use_color(devnull)
    monkeypatch.setenv("NO_COLOR", "1")
    assert not terminal.use_color(Tty()) and terminal.use_color(Tty(), "always")
